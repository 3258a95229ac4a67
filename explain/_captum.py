"""Integrated Gradients and saliency through captum (the only module here that imports captum).

Integrated Gradients (Sundararajan et al., 2017): ``(x - x') * mean_alpha grad f_c(x' + alpha
(x - x'))``, with the completeness delta ``sum(attr) - (f_c(x) - f_c(x'))`` reported per input.
Saliency (Simonyan et al., 2014): ``|grad f_c(x)|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch

from explain.base import (
    Explainer,
    Explanation,
    ModelView,
    batches,
    check_inputs,
    frozen_eval,
    positive_int,
    register,
    to_tensor,
)
from models.errors import InvalidConfigError


def baseline_for(model: ModelView, X: np.ndarray, kind: str) -> np.ndarray:
    """The reference input: zeros (black image) or the background mean, broadcast to ``X``."""
    if kind == "zeros":
        return np.zeros_like(X, dtype=np.float32)
    if kind == "mean":
        mean = model.background.mean(axis=0, keepdims=True).astype(np.float32)
        return np.broadcast_to(mean, X.shape).copy()
    raise InvalidConfigError(f"baseline must be 'zeros' or 'mean', got {kind!r}")


@register
@dataclass(frozen=True, kw_only=True)
class IntegratedGradients(Explainer):
    """captum ``IntegratedGradients`` with Gauss-Legendre steps and per-input completeness delta.

    Attributes:
        n_steps: integration steps (the completeness delta shrinks as they grow).
        baseline: ``zeros`` (default for images) or ``mean`` (train mean; default for tabular
            when ``auto``).
        batch_size: inputs per call; captum evaluates ``batch_size * n_steps`` points at once.
    """

    name: ClassVar[str] = "integrated_gradients"
    requires: ClassVar[str] = "gradients"  # type: ignore[assignment]

    n_steps: int = 32
    baseline: Literal["auto", "zeros", "mean"] = "auto"
    batch_size: int = 16

    def __post_init__(self) -> None:
        positive_int("n_steps", self.n_steps, 2)
        positive_int("batch_size", self.batch_size)
        if self.baseline not in ("auto", "zeros", "mean"):
            raise InvalidConfigError(
                f"baseline must be 'auto', 'zeros' or 'mean', got {self.baseline!r}"
            )

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        from captum.attr import IntegratedGradients as CaptumIG  # noqa: PLC0415

        module = model.require_module(self.name)
        check_inputs(X, targets)
        kind = self.baseline if self.baseline != "auto" else (
            "zeros" if model.kind == "image" else "mean")
        base = baseline_for(model, X, kind)
        attrs, deltas = [], []
        with frozen_eval(module):
            ig = CaptumIG(module)
            for sl in batches(len(X), self.batch_size):
                a, d = ig.attribute(
                    to_tensor(X[sl], model.device),
                    baselines=to_tensor(base[sl], model.device),
                    target=torch.as_tensor(targets[sl], device=model.device),
                    n_steps=self.n_steps, method="gausslegendre",
                    return_convergence_delta=True,
                )
                attrs.append(a.detach().cpu().numpy())
                deltas.append(d.detach().cpu().numpy())
        return Explanation(self.name, np.concatenate(attrs).astype(np.float32),
                           np.asarray(targets),
                           {"completeness_delta": np.concatenate(deltas), "baseline": kind,
                            "baseline_inputs": base})


@register
@dataclass(frozen=True, kw_only=True)
class Saliency(Explainer):
    """captum ``Saliency``: absolute input gradient of the target logit."""

    name: ClassVar[str] = "saliency"
    requires: ClassVar[str] = "gradients"  # type: ignore[assignment]

    batch_size: int = 64

    def __post_init__(self) -> None:
        positive_int("batch_size", self.batch_size)

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
                a = sal.attribute(to_tensor(X[sl], model.device).requires_grad_(True),
                                  target=torch.as_tensor(targets[sl], device=model.device),
                                  abs=True)
                out.append(a.detach().cpu().numpy())
        return Explanation(self.name, np.concatenate(out).astype(np.float32), np.asarray(targets))
