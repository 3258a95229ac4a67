"""What every explanation method shares: the model view, the result, the registry.

A method is a frozen keyword-only dataclass (its configuration) with
``explain(model, X, targets, *, seed) -> Explanation``. Gradient methods need
``model.module`` (a differentiable ``torch.nn.Module`` returning logits); model-agnostic methods
only call ``model.predict_proba``. Every method returns attributions shaped like the input,
``(N, *input_shape)``: positive values support the target class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from rai_audit.models.errors import IncompatibleModelError, InvalidDataError
from rai_audit.models.options import validate_fields

Requirement = Literal["gradients", "conv", "predict"]


@dataclass
class ModelView:
    """The model as explanation methods see it.

    Attributes:
        predict_proba: ``(N, *input_shape)`` float32 -> ``(N, K)`` probabilities.
        module: the torch classifier (logits), or None for a non-differentiable model.
        background: ``(M, *input_shape)`` reference inputs from the train split (for SHAP,
            baselines, and "removing" features).
        kind: ``image`` or ``tabular``.
        device: where torch work runs.
        feature_names: flattened feature names (tabular), for tables and plots.
    """

    predict_proba: Callable[[np.ndarray], np.ndarray]
    module: nn.Module | None
    background: np.ndarray
    kind: Literal["image", "tabular"]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    feature_names: tuple[str, ...] = ()
    batch_size: int = 64

    def require_module(self, method: str) -> nn.Module:
        if self.module is None:
            raise IncompatibleModelError(
                f"{method} needs gradients, but this model is not a differentiable torch module; "
                "use the model-agnostic methods shap_permutation or lime instead"
            )
        return self.module


@dataclass(frozen=True)
class Explanation:
    """Attributions of one method for a batch of inputs.

    Attributes:
        method: registry name of the method.
        attributions: ``(N, *input_shape)`` float32.
        targets: ``(N,)`` the class each row is explained for.
        extras: per-method diagnostics, e.g. ``completeness_delta`` ``(N,)`` for IG,
            ``base_values`` ``(N,)`` for SHAP, ``score`` ``(N,)`` for LIME.
    """

    method: str
    attributions: np.ndarray
    targets: np.ndarray
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnostic:
    """A method's own check of its output (IG completeness, SHAP additivity, LIME fidelity).

    Attributes:
        name: short name (the audit reports it as ``<method>.<name>``).
        value: the measured value.
        higher_is_better: which way is good.
        description: what it measures, for the report.
    """

    name: str
    value: float
    higher_is_better: bool
    description: str


@dataclass(frozen=True, kw_only=True)
class Explainer:
    """Base of the explanation methods (a frozen keyword-only dataclass per method).

    A method declares what it is as class attributes, so the audit needs no list of names:

    Attributes:
        name: registry name.
        title: how reports and figures name it.
        requires: ``gradients`` (a differentiable torch module), ``conv`` (one with a
            convolutional layer) or ``predict`` (only ``predict_proba``).
        data_kinds: the input kinds it explains (``image``, ``tabular``).
        stochastic: its output depends on the seed (the audit then measures seed stability).
        signed: attributions take both signs (Grad-CAM's are non-negative).
        shap_space: where its attributions are additive SHAP values (``probability`` or
            ``logit``), else None; SHAP values feed the global importance and the beeswarm,
            probability-space ones first.
        overlay_rank: its column in the image overlay figure (None: not shown there).

    A method takes its own argument names; which audit option sets which is the audit's
    business (``audit.explainability.check.METHOD_SETTINGS``).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    requires: ClassVar[Requirement]
    data_kinds: ClassVar[tuple[str, ...]] = ("image", "tabular")
    stochastic: ClassVar[bool] = False
    signed: ClassVar[bool] = True
    shap_space: ClassVar[str | None] = None
    overlay_rank: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        validate_fields(self, f"explanation method {self.name!r}")

    @classmethod
    def configured(cls, *, n_features: int, **settings: Any) -> Explainer:
        """This method with ``settings`` (its own argument names) for inputs of ``n_features``
        features; a method whose cost depends on the width adjusts them here."""
        return cls(**settings)

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        raise NotImplementedError

    def diagnostics(
        self, exp: Explanation, model: ModelView, X: np.ndarray, targets: np.ndarray
    ) -> list[Diagnostic]:
        """The method's own checks of ``exp`` (none by default)."""
        return []

    def details(self, exp: Explanation) -> dict[str, Any]:
        """JSON facts about how ``exp`` was made (the layer Grad-CAM used, LIME's segments)."""
        return {}


def additivity(exp: Explanation, X: np.ndarray, space: str) -> Diagnostic:
    """SHAP's local accuracy (Lundberg & Lee, 2017): the values sum to f(x) - E[f(background)].
    Needs ``outputs`` and ``base_values`` in ``exp.extras``."""
    total = exp.attributions.reshape(len(X), -1).sum(axis=1)
    explained = exp.extras["outputs"] - exp.extras["base_values"]
    rel = float(np.abs(total - explained).mean() / max(np.abs(explained).mean(), 1e-12))
    return Diagnostic(
        "additivity_error",
        rel,
        False,
        f"mean |sum(SHAP values) - (f(x) - E[f(background)])| relative to the "
        f"mean |f(x) - E[f]| ({space} space)",
    )


EXPLAINERS: dict[str, type[Explainer]] = {}


def register(cls: type[Explainer]) -> type[Explainer]:
    EXPLAINERS[cls.name] = cls
    return cls


def check_inputs(X: np.ndarray, targets: np.ndarray, num_classes: int | None = None) -> None:
    if X.ndim < 2 or len(X) == 0:
        raise InvalidDataError(f"explain needs a non-empty batch (N, ...), got shape {X.shape}")
    if targets.shape != (len(X),):
        raise InvalidDataError(f"targets must be shaped (N,) = ({len(X)},), got {targets.shape}")
    if num_classes is not None and (targets.min() < 0 or targets.max() >= num_classes):
        raise InvalidDataError(f"targets must lie in 0..{num_classes - 1}")


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32, device=device)
