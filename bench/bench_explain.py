"""Explanation throughput: ours against captum and shap and against the bare limit.

Model: the demo's LeNet-5 trained on 8x8 digits (trained here with the default recipe).
- Grad-CAM on all 1,797 images, batch 64: bare = one forward and one backward pass to the input
  per batch (parameters frozen).
- Integrated Gradients (32 steps) on 256 images: bare = the same interpolation points, one
  forward and one backward pass to the inputs.
- Expected gradients (SHAP for networks) on 100 images, 200 samples, one class each: bare = a
  plain loop drawing the samples and doing one forward and one backward pass per chunk.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import shap
import torch
from captum.attr import GradientShap, LayerAttribution, LayerGradCam
from captum.attr import IntegratedGradients as CaptumIG

from bench.harness import Row, Variant
from rai_audit.explain import ExpectedGradients, GradCAM, IntegratedGradients, ModelView
from rai_audit.explain.gradcam import get_layer
from rai_audit.models.datasets import load_digits
from rai_audit.models.pipeline import train_and_save


def _model():
    tmp = Path(tempfile.mkdtemp(prefix="rai-bench-"))
    loaded, _ = train_and_save(arch="lenet5", dataset="digits", out=tmp / "m", progress=False)
    module = loaded.module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _grad_to_input(module, x, t):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(module(x).gather(1, t[:, None]).sum(), x)
    return g


def rows(quick: bool = False) -> list[Row]:
    module = _model()
    data = load_digits()
    X_all = np.concatenate([s.X for s in data.splits.values()])
    with torch.no_grad():
        t_all = module(torch.as_tensor(X_all)).argmax(1).numpy()
    view = ModelView(
        predict_proba=None, module=module, background=data.splits["train"].X[:200], kind="image"
    )
    xt, tt = torch.as_tensor(X_all), torch.as_tensor(t_all)
    bs = 64

    gc = GradCAM(batch_size=bs)
    layer = get_layer(module, "net.features.4")
    captum_gc = LayerGradCam(module, layer)

    def captum_gradcam():
        for s in range(0, len(xt), bs):
            a = captum_gc.attribute(xt[s : s + bs], target=tt[s : s + bs], relu_attributions=True)
            LayerAttribution.interpolate(a, (8, 8), "bilinear")

    def bare_fb():
        for s in range(0, len(xt), bs):
            _grad_to_input(module, xt[s : s + bs], tt[s : s + bs])

    gradcam_row = Row(
        title=f"Grad-CAM, LeNet-5 on {len(xt)} digits, batch {bs}",
        unit="image",
        per=len(xt),
        variants=[
            Variant("rai-audit GradCAM", lambda: gc.explain(view, X_all, t_all), "ours"),
            Variant("captum LayerGradCam + interpolate", captum_gradcam, "reference"),
            Variant("bare: forward + backward to input", bare_fb, "bare"),
        ],
    )

    n_ig, steps = 256, 32
    Xi, ti = X_all[:n_ig], t_all[:n_ig]
    ig = IntegratedGradients(n_steps=steps, baseline="zeros")
    cig = CaptumIG(module)

    def captum_ig():
        for s in range(0, n_ig, 16):
            cig.attribute(
                torch.as_tensor(Xi[s : s + 16]),
                target=torch.as_tensor(ti[s : s + 16]),
                n_steps=steps,
                method="gausslegendre",
            )

    alphas = torch.linspace(0.5 / steps, 1 - 0.5 / steps, steps)

    def bare_ig():
        for s in range(0, n_ig, 16):
            x = torch.as_tensor(Xi[s : s + 16])
            pts = (alphas.view(-1, 1, 1, 1, 1) * x.unsqueeze(0)).reshape(-1, *x.shape[1:])
            t = torch.as_tensor(ti[s : s + 16]).repeat(steps)
            _grad_to_input(module, pts, t)

    ig_row = Row(
        title=f"Integrated Gradients ({steps} steps), {n_ig} digits",
        unit="image",
        per=n_ig,
        variants=[
            Variant(
                "rai-audit IntegratedGradients (with completeness delta)",
                lambda: ig.explain(view, Xi, ti),
                "ours",
            ),
            Variant("captum IntegratedGradients", captum_ig, "reference"),
            Variant("bare: forward + backward at the same points", bare_ig, "bare"),
        ],
    )

    n_eg, samples = (40, 200) if quick else (100, 200)
    Xe, te = X_all[:n_eg], t_all[:n_eg]
    bg = view.background
    eg = ExpectedGradients(n_samples=samples, chunk=2048)
    gshap = GradientShap(module)
    bgt = torch.as_tensor(bg)

    def captum_all():
        gshap.attribute(
            torch.as_tensor(Xe),
            baselines=bgt,
            target=torch.as_tensor(te),
            n_samples=samples,
            stdevs=0.0,
        )

    def captum_chunked():
        per = max(1, 2048 // samples)
        for s in range(0, n_eg, per):
            gshap.attribute(
                torch.as_tensor(Xe[s : s + per]),
                baselines=bgt,
                target=torch.as_tensor(te[s : s + per]),
                n_samples=samples,
                stdevs=0.0,
            )

    def bare_eg():
        gen = torch.Generator().manual_seed(0)
        per = max(1, 2048 // samples)
        for s in range(0, n_eg, per):
            x = torch.as_tensor(Xe[s : s + per])
            b = len(x)
            ref = bgt[torch.randint(len(bgt), (b * samples,), generator=gen)]
            a = torch.rand(b * samples, 1, 1, 1, generator=gen)
            xr = x.repeat_interleave(samples, 0)
            g = _grad_to_input(
                module,
                ref + a * (xr - ref),
                torch.as_tensor(te[s : s + per]).repeat_interleave(samples),
            )
            (g * (xr - ref)).view(b, samples, *x.shape[1:]).mean(1)

    eg_row = Row(
        title=f"Expected gradients, {n_eg} digits x {samples} samples, one class",
        unit="image",
        per=n_eg,
        variants=[
            Variant(
                "rai-audit ExpectedGradients (chunk 2048)", lambda: eg.explain(view, Xe, te), "ours"
            ),
            Variant("captum GradientShap, all at once", captum_all, "reference"),
            Variant("captum GradientShap, chunked", captum_chunked, "reference"),
            Variant(
                "shap GradientExplainer (top class)",
                lambda: shap.GradientExplainer(module, bgt).shap_values(
                    torch.as_tensor(Xe), nsamples=samples, rseed=0, ranked_outputs=1
                ),
                "reference",
            ),
            Variant("bare expected-gradients loop", bare_eg, "bare"),
        ],
    )
    return [gradcam_row, ig_row, eg_row, sanity_row(module, X_all, t_all)]


def sanity_row(module: torch.nn.Module, X_all: np.ndarray, t_all: np.ndarray) -> Row:
    """The model-randomization test (saliency on 16 inputs, 3 randomized copies for the null,
    both per-layer curves): ours against the bare limit, which re-initializes the same
    3 + 2 * layers copies and takes one gradient per copy, with no statistics. No library
    implements the test with a null."""
    import copy  # noqa: PLC0415

    from rai_audit.explain.metrics import _reinit, model_randomization, parameterized_layers  # noqa: PLC0415

    X, t = torch.as_tensor(X_all[:16]), torch.as_tensor(t_all[:16])

    def saliency(m: torch.nn.Module) -> np.ndarray:
        return _grad_to_input(m, X, t).abs().numpy()

    layers = parameterized_layers(module)

    def bare() -> None:
        gen = torch.Generator().manual_seed(0)
        copies = [layers] * 3 + [[name] for name in layers] * 2
        for subset in copies:
            clone = copy.deepcopy(module)
            named = dict(clone.named_modules())
            for name in subset:
                _reinit(named[name], gen)
            _grad_to_input(clone, X, t)

    return Row(
        title=f"Model randomization with a null, saliency on 16 digits, {len(layers)} layers",
        unit="test",
        per=1,
        variants=[
            Variant(
                "rai-audit model_randomization",
                lambda: model_randomization(module, saliency, seed=0, randomizations=3),
                "ours",
            ),
            Variant("bare: the same re-initialized copies, one gradient each", bare, "bare"),
        ],
    )
