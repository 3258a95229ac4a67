"""Model adapters: one interface over PyTorch modules and scikit-learn classifiers.

Checks call ``predict_proba`` / ``logits`` on numpy arrays; gradient methods reach the underlying
``torch.nn.Module`` through ``TorchAdapter.module`` when ``differentiable`` is true.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rai_audit.models.device import describe_device, resolve_device
from rai_audit.models.errors import IncompatibleModelError
from rai_audit.models.training import predict_logits


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
    """A fitted scikit-learn classifier with ``predict_proba``.

    Its ``classes_`` are either ``0..K-1`` (the data set's class indices) or the data set's
    labels by value (``['bad', 'good']``, ``[1, 2, 3]``): :meth:`align` then reorders the
    probability columns into the data set's class order, and refuses labels that do not match.
    """

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
        self.classes = np.asarray(classes)
        self.by_index = np.array_equal(self.classes, np.arange(len(self.classes)))
        self.columns: np.ndarray | None = None  # data class order -> estimator column
        self.estimator = estimator
        self.name = name
        #: inputs -> the data frame the estimator was fit on (set by :meth:`bind_inputs`)
        self.decode: Callable[[np.ndarray], Any] | None = None

    def bind_inputs(self, encoder: Any, width: int) -> None:
        """Check that the inputs the data gives are the ones the estimator was fit on, and
        hand it a data frame with its own column names when it was fit on one.

        Args:
            encoder: the data's :class:`~models.tabular.TabularEncoder`, or None (no columns).
            width: the number of input features the data gives.

        Raises:
            IncompatibleModelError: on one line, naming what the model expects (its
                ``feature_names_in_`` or ``n_features_in_``) and what the data gives.
        """
        names = getattr(self.estimator, "feature_names_in_", None)
        n_in = getattr(self.estimator, "n_features_in_", None)
        mode = getattr(encoder, "mode", None)
        if names is not None and encoder is not None:
            expected = [str(n) for n in names]
            given = list(encoder.feature_names)
            if mode == "standardize":
                raise IncompatibleModelError(
                    f"the model was fit on the data frame columns {expected[:8]} (its "
                    "feature_names_in_) but encoding 'standardize' feeds it one-hot, standardized "
                    "numbers; audit it with encoding 'raw' (--encoding raw), which hands it those "
                    "columns as they are"
                )
            if set(expected) != set(given):
                raise IncompatibleModelError(
                    f"the model was fit on the columns {expected[:10]} (its feature_names_in_) "
                    f"but the data gives {given[:10]}; name the model's columns as the features "
                    "(data option features) or leave them out to use the model's own"
                )
            order = list(expected)

            def decode(X: np.ndarray) -> Any:
                return encoder.decode(X)[order]

            self.decode = decode
            return
        if n_in is not None and int(n_in) != width:
            how = f" under encoding {mode!r}" if mode else ""
            raise IncompatibleModelError(
                f"the model expects {int(n_in)} input features (its n_features_in_) but the "
                f"data gives {width}{how}; choose the model's columns (data option features, "
                "or leave the sensitive ones out with include_sensitive: false) or the encoding "
                "it was trained with (--encoding raw, none or standardize)"
            )

    def align(self, class_names: tuple[str, ...]) -> None:
        """Match ``classes_`` to the data set's classes: by index when they are ``0..K-1``,
        else by value (compared as text, ``1`` and ``'1'`` alike).

        Raises:
            IncompatibleModelError: labels that cannot be matched by value, on one line.
        """
        if self.by_index:
            self.columns = None
            return
        from rai_audit.models.datasets import label_text  # noqa: PLC0415

        text = [label_text(c) for c in self.classes]
        where = {c: i for i, c in enumerate(text)}
        if len(where) != len(text) or set(where) != set(class_names):
            raise IncompatibleModelError(
                f"the classifier's classes_ {text[:10]} do not match the data's labels "
                f"{list(class_names)[:10]} by value; fit it on this data's label column, or "
                "encode labels as 0..K-1 in the data's class order"
            )
        self.columns = np.array([where[c] for c in class_names])

    def logits(self, X: np.ndarray) -> np.ndarray:
        return np.log(np.clip(self.predict_proba(X), 1e-12, 1.0))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        flat = np.asarray(X).reshape(len(X), -1)
        inputs = flat if self.decode is None else self.decode(flat)
        proba = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
        if not self.by_index and self.columns is None:
            raise IncompatibleModelError(
                f"the classifier's classes_ {list(self.classes)[:10]} are labels, not 0..K-1: "
                "audit it through an AuditTarget, which matches them to the data's classes"
            )
        return proba if self.columns is None else proba[:, self.columns]

    @property
    def sha256(self) -> str:
        """sha256 of a canonical form of the fitted estimator (:func:`estimator_digest`): the
        same for the same fitted state in every call and every process, so the same ``.skops``
        file gets the same hash in every run."""
        return estimator_digest(self.estimator)


def estimator_digest(estimator: Any) -> str:
    """sha256 of a scikit-learn estimator's class, parameters and fitted state.

    Walks ``get_params(deep=False)`` and every fitted attribute (``name_``), nested estimators,
    containers, numpy arrays (dtype, shape and bytes) and Cython state such as a tree's
    ``__getstate__()``. Never hashes a serialized archive: skops names its entries by object
    id and stamps them with the time, so its bytes differ between calls for the same model."""
    h = hashlib.sha256()
    _canon(estimator, h, 0)
    return h.hexdigest()


def _canon(obj: Any, h: Any, depth: int) -> None:
    if depth > 60:
        raise IncompatibleModelError("the estimator nests too deep to fingerprint")
    tag = type(obj)
    h.update(f"<{tag.__module__}.{tag.__qualname__}>".encode())
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        h.update(repr(obj).encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype.str}{obj.shape}".encode())
        if obj.dtype.names:  # structured (a tree's nodes): field by field, padding is garbage
            for field in obj.dtype.names:
                _canon(obj[field], h, depth + 1)
        elif obj.dtype.hasobject:
            for item in obj.reshape(-1):
                _canon(item, h, depth + 1)
        else:
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, np.generic):
        h.update(repr(obj.item()).encode())
    elif isinstance(obj, (list, tuple)):
        h.update(str(len(obj)).encode())
        for item in obj:
            _canon(item, h, depth + 1)
    elif isinstance(obj, dict):
        for key in sorted(obj, key=repr):
            _canon(key, h, depth + 1)
            _canon(obj[key], h, depth + 1)
    elif hasattr(obj, "get_params") and not isinstance(obj, type):
        _canon(obj.get_params(deep=False), h, depth + 1)
        state = vars(obj) if hasattr(obj, "__dict__") else {}
        fitted = {k: v for k, v in state.items() if k.endswith("_") and not k.startswith("__")}
        _canon(fitted, h, depth + 1)
    elif isinstance(obj, type) or callable(obj):
        h.update(str(getattr(obj, "__qualname__", "")).encode())
    elif hasattr(obj, "__getstate__") and not hasattr(obj, "__dict__"):
        _canon(obj.__getstate__(), h, depth + 1)
    elif hasattr(obj, "__dict__"):
        _canon(vars(obj), h, depth + 1)
    else:
        h.update(repr(obj).encode())


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
