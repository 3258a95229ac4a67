"""Model adapters: one interface over PyTorch modules and scikit-learn classifiers.

Checks call ``predict_proba`` / ``logits`` on numpy arrays; gradient methods reach the underlying
``torch.nn.Module`` through ``TorchAdapter.module`` when ``differentiable`` is true.
"""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from models.device import describe_device, resolve_device
from models.errors import IncompatibleModelError
from models.training import predict_logits


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ModelAdapter(ABC):
    """A classifier seen through numpy: ``(N, ...)`` inputs to ``(N, num_classes)`` outputs."""

    name: str = "model"
    differentiable: bool = False

    @abstractmethod
    def logits(self, X: np.ndarray) -> np.ndarray:
        """Unnormalized scores ``(N, num_classes)`` (log-probabilities for non-torch models)."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, num_classes)``, rows summing to 1."""
        return _softmax(self.logits(X).astype(np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.logits(X).argmax(axis=1)

    @property
    @abstractmethod
    def sha256(self) -> str:
        """Hash of the model's parameters."""

    @property
    def parameters(self) -> int | None:
        return None

    @property
    def device(self) -> str:
        return "cpu"

    def state_fingerprint(self) -> str:
        """Hash of everything a check must leave unchanged (weights and mode flags)."""
        return self.sha256


class TorchAdapter(ModelAdapter):
    """A PyTorch classifier returning logits (or probabilities, see ``output``).

    Args:
        module: maps ``(N, *input_shape)`` float32 to ``(N, num_classes)``.
        device: where inference runs (``auto``: CUDA, else MPS, else CPU).
        batch_size: inference batch size (32-64 is fastest for small CNNs on CPU).
        output: ``logits`` (default) or ``probabilities`` if the model ends in a softmax.
    """

    differentiable = True

    def __init__(
        self,
        module: nn.Module,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 256,
        output: Literal["logits", "probabilities"] = "logits",
        name: str = "model",
    ) -> None:
        if not isinstance(module, nn.Module):
            raise IncompatibleModelError(
                f"TorchAdapter needs a torch.nn.Module, got {type(module).__name__}"
            )
        if output not in ("logits", "probabilities"):
            raise IncompatibleModelError(
                f"output must be 'logits' or 'probabilities', got {output!r}"
            )
        self.torch_device = resolve_device(device)
        self.module = module.to(self.torch_device)
        self.batch_size = batch_size
        self.output = output
        self.name = name

    def logits(self, X: np.ndarray) -> np.ndarray:
        out = predict_logits(self.module, X, batch_size=self.batch_size, device=self.torch_device)
        if self.output == "probabilities":
            return np.log(np.clip(out, 1e-12, 1.0))
        return out

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.module.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def state_fingerprint(self) -> str:
        flags = "".join("1" if m.training else "0" for m in self.module.modules())
        grads = "".join("1" if p.requires_grad else "0" for p in self.module.parameters())
        return f"{self.sha256}:{flags}:{grads}"

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def device(self) -> str:
        return describe_device(self.torch_device)


class SklearnAdapter(ModelAdapter):
    """A fitted scikit-learn classifier with ``predict_proba``; classes must be ``0..K-1``."""

    differentiable = False

    def __init__(self, estimator: Any, *, name: str = "model") -> None:
        if not hasattr(estimator, "predict_proba"):
            raise IncompatibleModelError(
                f"{type(estimator).__name__} has no predict_proba; use a probabilistic "
                "classifier or wrap it in sklearn.calibration.CalibratedClassifierCV"
            )
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise IncompatibleModelError(
                f"{type(estimator).__name__} is not fitted (no classes_); fit it first"
            )
        if not np.array_equal(np.asarray(classes), np.arange(len(classes))):
            raise IncompatibleModelError(
                f"the classifier's classes_ are {list(classes)}; encode labels as 0..K-1 "
                "(the data set's class order) before fitting"
            )
        self.estimator = estimator
        self.name = name

    def logits(self, X: np.ndarray) -> np.ndarray:
        return np.log(np.clip(self.predict_proba(X), 1e-12, 1.0))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        flat = np.asarray(X).reshape(len(X), -1)
        return np.asarray(self.estimator.predict_proba(flat), dtype=np.float64)

    @property
    def sha256(self) -> str:
        try:
            from skops.io import dumps  # noqa: PLC0415

            blob = dumps(self.estimator)
        except Exception:  # skops cannot serialize every estimator; fall back to params+repr
            buf = io.StringIO()
            buf.write(repr(self.estimator.get_params(deep=True)))
            for attr in sorted(vars(self.estimator)):
                if attr.endswith("_"):
                    buf.write(attr + repr(getattr(self.estimator, attr)))
            blob = buf.getvalue().encode()
        return hashlib.sha256(blob).hexdigest()


def as_adapter(model: Any, *, device: str = "auto", name: str = "model") -> ModelAdapter:
    """Wrap ``model`` (an adapter, a torch module or a scikit-learn classifier)."""
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, nn.Module):
        return TorchAdapter(model, device=device, name=name)
    if hasattr(model, "predict_proba"):
        return SklearnAdapter(model, name=name)
    raise IncompatibleModelError(
        f"cannot audit a {type(model).__name__}: expected a torch.nn.Module returning logits "
        "or a fitted scikit-learn classifier with predict_proba"
    )
