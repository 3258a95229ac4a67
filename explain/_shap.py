"""shap wrappers (the only module here that imports shap).

- :class:`ShapPermutation`: model-agnostic SHAP values (Lundberg and Lee, 2017) by antithetic
  permutation sampling (shap's ``PermutationExplainer``) over an independent masker of background
  rows. Works for any ``predict_proba``: scikit-learn and torch tabular models. Additivity is
  exact per row: ``base_value + sum(phi) = f_c(x)``.
- :func:`shap_gradient_reference`: shap's own ``GradientExplainer``, the reference the
  expected-gradients path is cross-checked and benchmarked against. shap 0.51 returns one array
  shaped ``(N, *shape, K)``; indexing ``[c]`` as older code did would take sample c (trap).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rai_audit.explain.base import (
    Diagnostic,
    Explainer,
    Explanation,
    ModelView,
    Requirement,
    additivity,
    check_inputs,
    register,
)
from rai_audit.models.device import module_device
from rai_audit.models.errors import IncompatibleModelError
from rai_audit.models.options import Int, option


@register
@dataclass(frozen=True, kw_only=True)
class ShapPermutation(Explainer):
    """Permutation SHAP values of the target-class probability (tabular inputs).

    Attributes:
        max_evals: model evaluations per row (at least ``2 * n_features + 1``; raised to that).
        n_background: background rows the masker integrates over.
    """

    name: ClassVar[str] = "shap_permutation"
    title: ClassVar[str] = "SHAP (permutation)"
    requires: ClassVar[Requirement] = "predict"
    data_kinds: ClassVar[tuple[str, ...]] = ("tabular",)
    stochastic: ClassVar[bool] = True
    shap_space: ClassVar[str | None] = "probability"

    max_evals: int = option(500, Int(3))
    n_background: int = option(50, Int(1))

    @classmethod
    def configured(cls, *, n_features: int, **settings: Any) -> Explainer:
        """``max_evals`` raised to the minimum ``2 * n_features + 1`` (0 asks for it), and at
        most 50 background rows (the masker's cost grows with them)."""
        max_evals = int(settings.get("max_evals", 0))
        n_background = int(settings.get("n_background", 50))
        return cls(max_evals=max(max_evals, 2 * n_features + 1), n_background=min(n_background, 50))

    def diagnostics(
        self, exp: Explanation, model: ModelView, X: np.ndarray, targets: np.ndarray
    ) -> list[Diagnostic]:
        return [additivity(exp, X, "probability")]

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        import shap  # noqa: PLC0415

        check_inputs(X, targets)
        if X.ndim != 2:
            raise IncompatibleModelError(
                f"{self.name} explains tabular rows (N, D), got inputs shaped {X.shape}; for "
                "images use gradcam, integrated_gradients, expected_gradients or lime"
            )
        rng = np.random.default_rng(seed)
        bg = model.background
        if len(bg) > self.n_background:
            bg = bg[rng.choice(len(bg), self.n_background, replace=False)]
        masker = shap.maskers.Independent(bg, max_samples=len(bg))
        explainer = shap.explainers.Permutation(
            lambda Z: model.predict_proba(np.asarray(Z, dtype=np.float32)),
            masker,
            seed=seed,
        )
        evals = max(self.max_evals, 2 * X.shape[1] + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = explainer(X, max_evals=evals, silent=True)
        values = np.asarray(sv.values)  # (N, D, K)
        base = np.asarray(sv.base_values)  # (N, K)
        rows = np.arange(len(X))
        attr = values[rows, :, targets].astype(np.float32)
        return Explanation(
            self.name,
            attr,
            np.asarray(targets),
            {"base_values": base[rows, targets], "outputs": model.predict_proba(X)[rows, targets]},
        )


def shap_gradient_reference(
    module: nn.Module,
    X: np.ndarray,
    background: np.ndarray,
    targets: np.ndarray,
    *,
    n_samples: int,
    seed: int,
) -> np.ndarray:
    """shap ``GradientExplainer`` attributions ``(N, *shape)`` for each row's target class."""
    import shap  # noqa: PLC0415

    dev = module_device(module)
    explainer = shap.GradientExplainer(module, torch.as_tensor(background, device=dev))
    values = explainer.shap_values(torch.as_tensor(X, device=dev), nsamples=n_samples, rseed=seed)
    values = np.asarray(values)  # (N, *shape, K) in shap 0.51
    return np.moveaxis(values, -1, 1)[np.arange(len(X)), targets]
