"""Attack throughput: our FGSM/PGD against ART's and the bare limit, in one process.

Model: LeNet-5 trained on 8x8 digits. All 1,797 images, batch 64, L-inf eps 8/255.
The bare limit does the same number of forward passes and backward passes to the input only
(parameters frozen), the sign step and the projection, and nothing else. torchattacks is
included when it imports (its 3.5.1 release pins an old requests, so it is not installed here).
"""

from __future__ import annotations

import numpy as np
import torch
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescentPyTorch

from bench.bench_explain import _model
from bench.harness import Row, Variant
from rai_audit.attacks._art import art_classifier
from rai_audit.attacks.pgd import PGDConfig, fgsm_config, pgd
from rai_audit.models.datasets import load_digits


def _bare(module, X, y, eps, steps, step, bs=64):
    out = []
    for s in range(0, len(X), bs):
        x0, yb = X[s : s + bs], y[s : s + bs]
        x = x0.clone()
        for _ in range(steps):
            x.requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(module(x), yb, reduction="sum")
            (g,) = torch.autograd.grad(loss, x)
            x = torch.min(torch.max(x.detach() + step * g.sign(), x0 - eps), x0 + eps).clamp(0, 1)
        out.append(x)
    return torch.cat(out)


def rows(quick: bool = False) -> list[Row]:
    module = _model()  # eval mode, parameters frozen
    data = load_digits()
    X = np.concatenate([s.X for s in data.splits.values()])
    y = np.concatenate([s.y for s in data.splits.values()])
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    eps, steps = 8 / 255, 10
    clf = art_classifier(module, X.shape[1:], 10, 0.0, 1.0)
    onehot = np.eye(10, dtype=np.float32)[y]
    art_pgd = ProjectedGradientDescentPyTorch(
        clf, norm=np.inf, eps=eps, eps_step=eps / 4, max_iter=steps, batch_size=64, verbose=False
    )
    art_fgsm = FastGradientMethod(clf, norm=np.inf, eps=eps, batch_size=64)
    cfg = PGDConfig(eps=eps, eps_step=eps / 4, max_iter=steps)
    pgd_variants = [
        Variant("rai-audit pgd", lambda: pgd(module, xt, yt, cfg), "ours"),
        Variant(
            "ART ProjectedGradientDescentPyTorch",
            lambda: art_pgd.generate(X, y=onehot),
            "reference",
        ),
        Variant(
            "bare loop (fwd + bwd to input)",
            lambda: _bare(module, xt, yt, eps, steps, eps / 4),
            "bare",
        ),
    ]
    fgsm_variants = [
        Variant(
            "rai-audit pgd (FGSM config)", lambda: pgd(module, xt, yt, fgsm_config(eps)), "ours"
        ),
        Variant("ART FastGradientMethod", lambda: art_fgsm.generate(X, y=onehot), "reference"),
        Variant(
            "bare loop (fwd + bwd to input)", lambda: _bare(module, xt, yt, eps, 1, eps), "bare"
        ),
    ]
    try:
        import torchattacks  # noqa: PLC0415

        ta = torchattacks.PGD(module, eps=eps, alpha=eps / 4, steps=steps, random_start=False)
        pgd_variants.insert(2, Variant("torchattacks PGD", lambda: ta(xt, yt), "reference"))
    except Exception:  # not installed here (see the module docstring)
        pass
    return [
        Row(
            title=f"PGD-{steps} L-inf 8/255, LeNet-5, {len(X)} digits",
            unit="image",
            per=len(X),
            variants=pgd_variants,
        ),
        Row(
            title=f"FGSM L-inf 8/255, LeNet-5, {len(X)} digits",
            unit="image",
            per=len(X),
            variants=fgsm_variants,
        ),
    ]
