"""Standard classifier architectures, built by name with the input shape and class count.

Every model built here is ``Sequential(normalize=Normalize(mean, std), net=<architecture>)``:
inputs are in pixel space ``[0, 1]`` (images) or in the encoder's standardized space (tabular),
and any normalization is a layer of the model, so attacks and their epsilons are stated in input
units. The layer names are stable (``net.features.3``) so explanation methods can target them.

Registry: ``ARCHITECTURES`` maps a name to a builder ``f(input_shape, num_classes, **kwargs)``.
``tv:<name>`` builds a torchvision classification model when torchvision is installed.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from rai_audit.models.errors import InvalidConfigError, MissingDependencyError


class Normalize(nn.Module):
    """Per-channel (or per-feature) ``(x - mean) / std`` as the model's first layer.

    Args:
        mean: one value per channel (images, shape ``(C,)``) or per feature (tabular).
        std: same length as ``mean``, all positive.
        channel_dim: 1 for ``(N, C, H, W)`` or ``(N, D)`` inputs.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], ndim: int) -> None:
        super().__init__()
        mean_t = torch.as_tensor(list(mean), dtype=torch.float32)
        std_t = torch.as_tensor(list(std), dtype=torch.float32)
        if mean_t.shape != std_t.shape or mean_t.ndim != 1:
            raise InvalidConfigError(
                f"normalization mean and std must be 1-D of equal length, got {list(mean)} "
                f"and {list(std)}"
            )
        if bool((std_t <= 0).any()):
            raise InvalidConfigError(f"normalization std must be positive, got {list(std)}")
        view = (1, -1) + (1,) * max(ndim - 1, 0)
        self.register_buffer("mean", mean_t.reshape(view))
        self.register_buffer("std", std_t.reshape(view))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _image_shape(arch: str, input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise InvalidConfigError(
            f"{arch} needs image inputs shaped (channels, height, width), got {shape}; "
            "use arch 'mlp' for tabular data"
        )
    if min(shape) < 1:
        raise InvalidConfigError(f"input shape must be positive, got {shape}")
    return shape


class MLP(nn.Module):
    """Fully connected network for tabular (or flattened) inputs.

    Args:
        in_features: number of input features D; inputs are ``(N, D)`` (or any shape, flattened).
        num_classes: number of output logits.
        hidden: sizes of the hidden layers.
        dropout: dropout probability after each hidden layer, in ``[0, 1)``.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(dropout) < 1.0:
            raise InvalidConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            h = _positive_int("hidden size", h)
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = h
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, sized to the input.

    For inputs of at least 28x28 it is the classic layout; for small inputs (8x8 digits) the
    convolutions are padded so that two pooling stages still fit.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int) -> None:
        super().__init__()
        c, h, w = _image_shape("lenet5", input_shape)
        pad1 = 2 if min(h, w) < 32 else 0
        after1 = (min(h, w) + 2 * pad1 - 4) // 2
        pad2 = 0 if after1 >= 10 else 2
        self.features = nn.Sequential(
            nn.Conv2d(c, 6, kernel_size=5, padding=pad1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5, padding=pad2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, c, h, w)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(nn.Module):
    """VGG-11 (Simonyan and Zisserman, 2015), narrowed for small images.

    Args:
        width: multiplier on VGG-11's channel counts (1.0 = 64..512; default 0.25 = 16..128).
        batch_norm: batch normalization after every convolution.
        hidden: width of the classifier's hidden layer.
        dropout: dropout in the classifier.

    Pooling stages that would shrink the feature map below 1x1 are skipped, so the network also
    works on 8x8 inputs.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        width: float = 0.25,
        batch_norm: bool = True,
        hidden: int = 256,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        c, h, w = _image_shape("vgg11", input_shape)
        if not float(width) > 0:
            raise InvalidConfigError(f"width must be positive, got {width!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise InvalidConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        channels, size = c, min(h, w)
        for item in _VGG11:
            if item == "M":
                if size >= 2:
                    layers.append(nn.MaxPool2d(2))
                    size //= 2
                continue
            out = max(4, round(int(item) * float(width)))
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU())
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, _positive_int("hidden", hidden)),
            nn.ReLU(),
            nn.Dropout(float(dropout)),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class BasicBlock(nn.Module):
    """The two-convolution residual block of ResNet-18."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 (He et al., 2016) with the CIFAR-style stem: a 3x3 convolution, no max pool.

    Args:
        width: channels of the first stage (64 in the paper; default 16 for CPU-sized audits).
            Stages use width, 2x, 4x and 8x.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 16) -> None:
        super().__init__()
        c, _, _ = _image_shape("resnet18", input_shape)
        width = _positive_int("width", width)
        self.stem = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        stages: list[nn.Module] = []
        in_ch = width
        for i, mult in enumerate((1, 2, 4, 8)):
            out = width * mult
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(in_ch, out, stride), BasicBlock(out, out, 1)))
            in_ch = out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def _build_mlp(input_shape: Sequence[int], num_classes: int, **kw: Any) -> nn.Module:
    in_features = 1
    for s in input_shape:
        in_features *= int(s)
    return MLP(in_features, num_classes, **kw)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "mlp": _build_mlp,
    "lenet5": LeNet5,
    "vgg11": VGG11,
    "resnet18": ResNet18,
}


def _torchvision_models() -> Any:
    """Import ``torchvision.models``; a broken install (common beside CPU torch) is reported."""
    try:
        import torchvision.models as tvm  # noqa: PLC0415
    except Exception as exc:  # a broken torchvision raises RuntimeError, not ImportError
        raise MissingDependencyError(
            "torchvision models need a working torchvision; install the 'vision' extra "
            f"(pip install 'rai-audit[vision]') with a matching torch build ({exc})"
        ) from exc
    return tvm


def available_architectures() -> list[str]:
    """Names accepted by :func:`build_model` (torchvision ones only if it imports)."""
    names = sorted(ARCHITECTURES)
    try:
        tvm = _torchvision_models()
        names += [f"tv:{n}" for n in tvm.list_models(module=tvm)]
    except MissingDependencyError:
        pass
    return names


def build_model(
    arch: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    **arch_kwargs: Any,
) -> nn.Sequential:
    """Build ``Sequential(normalize, net)`` for architecture ``arch``.

    Args:
        arch: a name in :data:`ARCHITECTURES`, or ``tv:<torchvision model name>``.
        input_shape: one input without the batch dimension, e.g. ``(1, 8, 8)`` or ``(104,)``.
        num_classes: number of output logits (>= 2).
        mean, std: normalization applied by the model's first layer; one value per channel
            (images) or feature (tabular). Default: identity.
        **arch_kwargs: the architecture's own options (``hidden``, ``dropout``, ``width``, ...).

    Returns:
        A module mapping ``(N, *input_shape)`` float32 inputs to ``(N, num_classes)`` logits.

    Raises:
        InvalidConfigError: unknown architecture, bad option or incompatible input shape.
        MissingDependencyError: a ``tv:`` model was asked for and torchvision is unusable.
    """
    shape = tuple(int(s) for s in input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidConfigError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if arch.startswith("tv:"):
        fetching = sorted(k for k in arch_kwargs if "weights" in k)
        if fetching:
            raise InvalidConfigError(
                f"option(s) {', '.join(fetching)} of {arch!r} would download pretrained weights; "
                "weights come only from the checkpoint's safetensors file"
            )
        tvm = _torchvision_models()
        name = arch[3:]
        if name not in tvm.list_models(module=tvm):
            raise InvalidConfigError(
                f"torchvision has no classification model {name!r}; see "
                "torchvision.models.list_models()"
            )
        net = tvm.get_model(name, weights=None, num_classes=num_classes, **arch_kwargs)
    else:
        builder = ARCHITECTURES.get(arch)
        if builder is None:
            raise InvalidConfigError(
                f"unknown architecture {arch!r}: expected one of {', '.join(sorted(ARCHITECTURES))}"
                " or tv:<torchvision model>"
            )
        params = inspect.signature(builder).parameters
        if arch != "mlp":
            unknown = sorted(set(arch_kwargs) - set(params) - {"input_shape", "num_classes"})
        else:
            unknown = sorted(set(arch_kwargs) - set(inspect.signature(MLP).parameters))
        if unknown:
            raise InvalidConfigError(
                f"architecture {arch!r} has no option(s) {', '.join(unknown)}; "
                f"see help(models.architectures.{builder.__name__})"
            )
        net = builder(shape, num_classes, **arch_kwargs)
    channels = shape[0] if len(shape) == 3 else (shape[0] if len(shape) == 1 else 1)
    mean = list(mean) if mean is not None else [0.0] * channels
    std = list(std) if std is not None else [1.0] * channels
    if len(mean) != channels:
        raise InvalidConfigError(
            f"normalization has {len(mean)} values but the input has {channels} "
            f"{'channels' if len(shape) == 3 else 'features'}"
        )
    return nn.Sequential(
        OrderedDict([("normalize", Normalize(mean, std, ndim=len(shape))), ("net", net)])
    )
