"""Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++ (Chattopadhay et al., 2018).

The class activation map of target class c at a convolutional layer with activations
``A`` ``(K, h, w)``: ``relu(sum_k w_k A_k)``, with ``w_k`` the spatial mean of
``d y_c / d A_k`` (Grad-CAM) or the alpha-weighted sum of its positive part (Grad-CAM++),
upsampled bilinearly to the input size.

The backward pass stops at the target layer and computes no weight gradients, so the cost is
one forward pass plus a partial backward pass per batch (captum's ``LayerGradCam`` does the same;
pytorch-grad-cam does a full backward). Hooks are removed in ``finally`` even when a batch raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rai_audit.explain.base import (
    Explainer,
    Explanation,
    ModelView,
    Requirement,
    batches,
    check_inputs,
    register,
    to_tensor,
)
from rai_audit.models.errors import IncompatibleModelError, InvalidConfigError
from rai_audit.models.options import Bool, Int, Text, option
from rai_audit.models.training import frozen_eval


def find_target_layer(module: nn.Module, example: torch.Tensor) -> str:
    """Name of the layer Grad-CAM should use: the last-executed module whose output is the
    feature map of the last convolution (same spatial size), e.g. the ReLU after LeNet's second
    convolution or ResNet's ``layer4``.

    Raises:
        IncompatibleModelError: the model has no ``nn.Conv2d``.
    """
    order: list[tuple[str, tuple[int, ...], bool]] = []
    handles = []
    for name, m in module.named_modules():
        if not name:
            continue

        def hook(mod: nn.Module, inp: Any, out: Any, name: str = name) -> None:
            if isinstance(out, torch.Tensor):
                order.append((name, tuple(out.shape), isinstance(mod, nn.Conv2d)))

        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad(), frozen_eval(module):
            module(example[:1])
    finally:
        for h in handles:
            h.remove()
    conv_positions = [i for i, (_, _, is_conv) in enumerate(order) if is_conv]
    if not conv_positions:
        raise IncompatibleModelError(
            "Grad-CAM needs a convolutional layer (nn.Conv2d) and this model has none; use "
            "integrated_gradients, saliency, expected_gradients, shap_permutation or lime"
        )
    last = conv_positions[-1]
    spatial = order[last][1][2:]
    chosen = order[last][0]
    for name, shape, _ in order[last + 1 :]:
        if len(shape) == 4 and shape[2:] == spatial:
            chosen = name
    return chosen


def get_layer(module: nn.Module, name: str) -> nn.Module:
    layers = dict(module.named_modules())
    if name not in layers or not name:
        convs = [n for n, m in layers.items() if isinstance(m, nn.Conv2d)]
        raise InvalidConfigError(
            f"the model has no layer {name!r}; convolutional layers are {convs[-5:]} "
            "(or leave target_layer empty to pick the last one)"
        )
    return layers[name]


def _cam_weights(acts: torch.Tensor, grads: torch.Tensor, plus: bool) -> torch.Tensor:
    if not plus:
        return grads.mean(dim=(2, 3), keepdim=True)
    g2 = grads.pow(2)
    g3 = grads.pow(3)
    denom = 2 * g2 + (acts.sum(dim=(2, 3), keepdim=True) * g3)
    alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
    return (alpha * F.relu(grads)).sum(dim=(2, 3), keepdim=True)


@dataclass(frozen=True, kw_only=True)
class GradCAM(Explainer):
    """Grad-CAM on ``target_layer`` (empty: found automatically).

    Attributes:
        target_layer: a module name from ``model.named_modules()``, or "" for automatic.
        batch_size: inputs per forward/backward pass.
        upsample: bilinear upsampling of the map to the input size (else the raw layer map
            repeated by nearest neighbour).
    """

    name: ClassVar[str] = "gradcam"
    title: ClassVar[str] = "Grad-CAM"
    requires: ClassVar[Requirement] = "conv"
    data_kinds: ClassVar[tuple[str, ...]] = ("image",)
    signed: ClassVar[bool] = False
    overlay_rank: ClassVar[int | None] = 0
    plus: ClassVar[bool] = False

    target_layer: str = option("", Text(what="layer name"))
    batch_size: int = option(64, Int(1))
    upsample: bool = option(True, Bool())

    def details(self, exp: Explanation) -> dict[str, Any]:
        return {"layer": exp.extras["layer"], "layer_shape": exp.extras["layer_shape"]}

    def layer_maps(
        self, module: nn.Module, X: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, str]:
        """Raw (not upsampled) maps ``(N, h, w)`` and the layer used."""
        name = self.target_layer or find_target_layer(module, X)
        layer = get_layer(module, name)
        store: dict[str, torch.Tensor] = {}

        def hook(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
            store["act"] = out

        handle = layer.register_forward_hook(hook)
        maps = []
        try:
            with frozen_eval(module), torch.enable_grad():
                for sl in batches(len(X), self.batch_size):
                    xb = X[sl].detach().requires_grad_(True)  # builds the graph; the backward
                    logits = module(xb)  # pass below still stops at the hooked layer
                    acts = store.pop("act")
                    if acts.ndim != 4:
                        raise IncompatibleModelError(
                            f"layer {name!r} outputs shape {tuple(acts.shape)}, not a "
                            "(N, C, H, W) feature map; choose a convolutional layer"
                        )
                    score = logits.gather(1, targets[sl, None]).sum()
                    (grads,) = torch.autograd.grad(score, acts)
                    w = _cam_weights(acts.detach(), grads, self.plus)
                    maps.append(F.relu((w * acts.detach()).sum(dim=1)))
        finally:
            handle.remove()
        return torch.cat(maps), name

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        module = model.require_module(self.name)
        check_inputs(X, targets)
        if X.ndim != 4:
            raise IncompatibleModelError(
                f"{self.name} explains images (N, C, H, W), got inputs shaped {X.shape}; "
                "use integrated_gradients or shap for tabular models"
            )
        xt = to_tensor(X, model.device)
        tt = torch.as_tensor(targets, dtype=torch.int64, device=model.device)
        maps, layer = self.layer_maps(module, xt, tt)
        mode = "bilinear" if self.upsample else "nearest"
        kw = {"align_corners": False} if self.upsample else {}
        up = F.interpolate(maps[:, None], size=X.shape[2:], mode=mode, **kw)
        attr = up.expand(-1, X.shape[1], -1, -1).cpu().numpy().astype(np.float32)
        return Explanation(
            self.name,
            attr,
            np.asarray(targets),
            {"layer": layer, "layer_shape": list(maps.shape[1:])},
        )


@register
@dataclass(frozen=True, kw_only=True)
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++: pixel-wise weighting of positive gradients (better for several objects)."""

    name: ClassVar[str] = "gradcam++"
    title: ClassVar[str] = "Grad-CAM++"
    overlay_rank: ClassVar[int | None] = None
    plus: ClassVar[bool] = True


register(GradCAM)
