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

from models.errors import IncompatibleModelError, InvalidDataError, require_int

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


@dataclass(frozen=True, kw_only=True)
class Explainer:
    """Base of the explanation methods (a frozen keyword-only dataclass per method)."""

    name: ClassVar[str]
    requires: ClassVar[Requirement]

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        raise NotImplementedError


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


def positive_int(name: str, value: Any, minimum: int = 1) -> None:
    require_int(name, value, minimum)


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32, device=device)
