"""Integrated Gradients and saliency (the only module here that imports captum).

Integrated Gradients (Sundararajan et al., 2017): ``(x - x') * integral_0^1 grad f_c(x' + alpha
(x - x')) d alpha``, by Gauss-Legendre quadrature, with the completeness delta
``sum(attr) - (f_c(x) - f_c(x'))`` reported per input. Our batched path is cross-checked against
captum's ``IntegratedGradients`` in the tests. Saliency (Simonyan et al., 2014):
``|grad f_c(x)|`` through captum's ``Saliency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from rai_audit.explain.base import (
    Diagnostic,
    Explainer,
    Explanation,
    ModelView,
    Requirement,
    batches,
    check_inputs,
    register,
    to_tensor,
)
from rai_audit.models.device import module_device
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.options import Choice, Int, option
from rai_audit.models.training import frozen_eval


def baseline_for(model: ModelView, X: np.ndarray, kind: str) -> np.ndarray:
    """The reference input: zeros (black image) or the background mean, broadcast to ``X``."""
    if kind == "zeros":
        return np.zeros_like(X, dtype=np.float32)
    if kind == "mean":
        mean = model.background.mean(axis=0, keepdims=True).astype(np.float32)
        return np.broadcast_to(mean, X.shape).copy()
    raise InvalidConfigError(f"baseline must be 'zeros' or 'mean', got {kind!r}")


def gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (captum's ``gausslegendre`` rule)."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    return (nodes + 1) / 2, weights / 2


def integrated_gradients(
    module: torch.nn.Module,
    X: torch.Tensor,
    baselines: torch.Tensor,
    targets: torch.Tensor,
    *,
    n_steps: int,
    chunk: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients with Gauss-Legendre quadrature, in batches of at most ``chunk`` points.

    Returns:
        attributions shaped like ``X`` and the completeness delta ``(N,)``
        ``sum(attr) - (f_c(x) - f_c(baseline))``.
    """
    alphas, weights = gauss_legendre(n_steps)
    dev = X.device
    a = torch.as_tensor(alphas, dtype=torch.float32, device=dev)
    w = torch.as_tensor(weights, dtype=torch.float32, device=dev)
    diff = X - baselines
    total = torch.zeros_like(X)
    rows = max(1, chunk // n_steps)
    for start in range(0, len(X), rows):
        sl = slice(start, start + rows)
        b = len(X[sl])
        pts = baselines[sl].unsqueeze(0) + a.view(-1, *([1] * X.ndim)) * diff[sl].unsqueeze(0)
        pts = pts.reshape(n_steps * b, *X.shape[1:]).requires_grad_(True)
        tgt = targets[sl].repeat(n_steps)[:, None]
        (g,) = torch.autograd.grad(module(pts).gather(1, tgt).sum(), pts)
        total[sl] = (g.view(n_steps, b, *X.shape[1:]) * w.view(-1, *([1] * X.ndim))).sum(0)
    attr = total * diff
    with torch.no_grad():
        fx = module(X).gather(1, targets[:, None]).squeeze(1)
        fb = module(baselines).gather(1, targets[:, None]).squeeze(1)
    delta = attr.reshape(len(X), -1).sum(1) - (fx - fb)
    return attr, delta


@register
@dataclass(frozen=True, kw_only=True)
class IntegratedGradients(Explainer):
    """Integrated Gradients with Gauss-Legendre steps and the per-input completeness delta.

    A batched path (all steps of a group of inputs in one forward and one backward pass, gradients
    to the inputs only); tests check it against captum's ``IntegratedGradients`` with the same
    rule on the same inputs.

    Attributes:
        n_steps: integration steps (the completeness delta shrinks as they grow).
        baseline: ``zeros`` (black image), ``mean`` (train mean), or ``auto``: zeros for
            images, mean for tabular rows.
        chunk: most interpolation points per pass (memory bound).
    """

    name: ClassVar[str] = "integrated_gradients"
    title: ClassVar[str] = "Integrated Gradients"
    requires: ClassVar[Requirement] = "gradients"
    overlay_rank: ClassVar[int | None] = 1

    n_steps: int = option(32, Int(2))
    baseline: Literal["auto", "zeros", "mean"] = option("auto", Choice(("auto", "zeros", "mean")))
    chunk: int = option(1024, Int(1))  # fastest on CPU for small CNNs (bench/README.md)

    def diagnostics(
        self, exp: Explanation, model: ModelView, X: np.ndarray, targets: np.ndarray
    ) -> list[Diagnostic]:
        """Completeness (Sundararajan et al., 2017): attributions sum to f(x) - f(baseline)."""
        module = model.module
        if module is None:
            return []
        with torch.no_grad():
            fx = module(torch.as_tensor(X, device=model.device))
            fb = module(torch.as_tensor(exp.extras["baseline_inputs"], device=model.device))
        idx = torch.as_tensor(targets, device=model.device)[:, None]
        diff = (fx.gather(1, idx) - fb.gather(1, idx)).squeeze(1).cpu().numpy()
        delta = np.abs(exp.extras["completeness_delta"])
        rel = float(delta.mean() / max(np.abs(diff).mean(), 1e-12))
        return [
            Diagnostic(
                "completeness_error",
                rel,
                False,
                "mean |sum(attributions) - (f(x) - f(baseline))| relative to the mean "
                f"|f(x) - f(baseline)| (Gauss-Legendre, {self.n_steps} steps)",
            )
        ]

    def details(self, exp: Explanation) -> dict[str, Any]:
        return {"baseline": exp.extras["baseline"]}

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        module = model.require_module(self.name)
        check_inputs(X, targets)
        kind = (
            self.baseline
            if self.baseline != "auto"
            else ("zeros" if model.kind == "image" else "mean")
        )
        base = baseline_for(model, X, kind)
        with frozen_eval(module), torch.enable_grad():
            attr, delta = integrated_gradients(
                module,
                to_tensor(X, model.device),
                to_tensor(base, model.device),
                torch.as_tensor(targets, dtype=torch.int64, device=model.device),
                n_steps=self.n_steps,
                chunk=self.chunk,
            )
        return Explanation(
            self.name,
            attr.detach().cpu().numpy().astype(np.float32),
            np.asarray(targets),
            {
                "completeness_delta": delta.detach().cpu().numpy(),
                "baseline": kind,
                "baseline_inputs": base,
            },
        )


def captum_integrated_gradients(
    module: torch.nn.Module,
    X: np.ndarray,
    baselines: np.ndarray,
    targets: np.ndarray,
    *,
    n_steps: int,
) -> np.ndarray:
    """captum's ``IntegratedGradients`` (Gauss-Legendre): the reference for tests and bench."""
    from captum.attr import IntegratedGradients as CaptumIG  # noqa: PLC0415

    with frozen_eval(module):
        return (
            CaptumIG(module)
            .attribute(
                torch.as_tensor(X, device=module_device(module)),
                baselines=torch.as_tensor(baselines, device=module_device(module)),
                target=torch.as_tensor(targets, device=module_device(module)),
                n_steps=n_steps,
                method="gausslegendre",
            )
            .detach()
            .numpy()
        )


@register
@dataclass(frozen=True, kw_only=True)
class Saliency(Explainer):
    """captum ``Saliency``: absolute input gradient of the target logit."""

    name: ClassVar[str] = "saliency"
    title: ClassVar[str] = "Saliency"
    requires: ClassVar[Requirement] = "gradients"

    batch_size: int = option(64, Int(1))

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        from captum.attr import Saliency as CaptumSaliency  # noqa: PLC0415

        module = model.require_module(self.name)
        check_inputs(X, targets)
        out = []
        with frozen_eval(module):
            sal = CaptumSaliency(module)
            for sl in batches(len(X), self.batch_size):
                a = sal.attribute(
                    to_tensor(X[sl], model.device).requires_grad_(True),
                    target=torch.as_tensor(targets[sl], device=model.device),
                    abs=True,
                )
                out.append(a.detach().cpu().numpy())
        return Explanation(self.name, np.concatenate(out).astype(np.float32), np.asarray(targets))
