"""``AuditTarget``: a model adapter bound to its data, input domain, classes and sensitive features.

Construction validates everything a check will rely on, and fails with a message that names the
problem and the fix: wrong shapes, labels out of range, NaN or infinite inputs, empty splits,
sensitive features of the wrong length, and a model whose output is not ``(N, num_classes)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rai_audit.audit.core.adapters import ModelAdapter, SklearnAdapter, as_adapter
from rai_audit.models.checkpoint import LoadedModel
from rai_audit.models.datasets import DataBundle, Split
from rai_audit.models.errors import IncompatibleModelError, InvalidDataError
from rai_audit.models.tabular import TabularEncoder

_MISSING = ("", "nan", "none", "null", "na", "n/a", "<na>")


@dataclass(frozen=True)
class ModelDescription:
    """What the report says about the model."""

    name: str
    arch: str = "unknown"
    source: str = "in-memory"
    path: str | None = None
    arch_kwargs: Mapping[str, Any] = field(default_factory=dict)
    train_config: Mapping[str, Any] = field(default_factory=dict)
    history: Sequence[Mapping[str, Any]] = ()
    trust: Mapping[str, Any] = field(default_factory=dict)


class AuditTarget:
    """A model and everything needed to audit it.

    Args:
        model: a :class:`~audit.core.adapters.ModelAdapter`, a ``torch.nn.Module`` returning logits,
            or a fitted scikit-learn classifier with ``predict_proba``.
        splits: split name -> :class:`~models.datasets.Split` (``test`` is required; ``train``
            and ``holdout`` enable the train-test gap and membership inference).
        class_names: one name per output class.
        kind: ``image`` (inputs in ``[0, 1]``, ``(C, H, W)``) or ``tabular`` (``(D,)``).
        input_shape: one input without the batch dimension.
        domain: ``(low, high)`` of the valid input range, scalars or one value per feature.
        feature_names: names of the flattened input features (tabular: encoded columns).
        sensitive_in_features: per sensitive attribute, whether the model sees it.
        data_name, data_sha256, data_info: provenance for the report.
        model_info: provenance of the model.
        device: where torch inference runs.
        preprocessing: the data's stored tabular encoder (``DataBundle.preprocessing``): a
            scikit-learn model fit on a data frame then gets one with its own columns, and one
            that expects other inputs is refused on one line.
    """

    def __init__(
        self,
        *,
        model: Any,
        splits: Mapping[str, Split],
        class_names: Sequence[str],
        kind: Literal["image", "tabular"],
        input_shape: Sequence[int],
        domain: tuple[Any, Any] = (0.0, 1.0),
        feature_names: Sequence[str] | None = None,
        sensitive_in_features: Mapping[str, bool] | None = None,
        data_name: str = "data",
        data_sha256: str = "",
        data_info: Mapping[str, Any] | None = None,
        model_info: ModelDescription | None = None,
        device: str = "auto",
        preprocessing: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_info = model_info or ModelDescription(name="model")
        self.model: ModelAdapter = as_adapter(model, device=device, name=self.model_info.name)
        if kind not in ("image", "tabular"):
            raise InvalidDataError(f"kind must be 'image' or 'tabular', got {kind!r}")
        self.kind = kind
        self.input_shape = tuple(int(s) for s in input_shape)
        self.class_names = tuple(str(c) for c in class_names)
        if len(self.class_names) < 2:
            raise InvalidDataError(
                f"a classifier needs at least 2 class names, got {list(self.class_names)}"
            )
        n_features = int(np.prod(self.input_shape))
        if isinstance(self.model, SklearnAdapter):
            self.model.align(self.class_names)
            encoder = None
            if preprocessing and preprocessing.get("type") == "tabular":
                encoder = TabularEncoder.from_json(dict(preprocessing))
            self.model.bind_inputs(encoder, n_features)
        self.feature_names = tuple(feature_names or (f"x{i}" for i in range(n_features)))
        if len(self.feature_names) != n_features:
            raise InvalidDataError(
                f"{len(self.feature_names)} feature names given for inputs of "
                f"{n_features} features (shape {self.input_shape})"
            )
        self.domain_low = np.broadcast_to(np.asarray(domain[0], dtype=np.float32), (n_features,))
        self.domain_high = np.broadcast_to(np.asarray(domain[1], dtype=np.float32), (n_features,))
        if np.any(self.domain_low > self.domain_high):
            raise InvalidDataError("input domain has low > high for some feature")
        self.sensitive_in_features = dict(sensitive_in_features or {})
        self.data_name = data_name
        self.data_sha256 = data_sha256
        self.data_info = dict(data_info or {})
        self.splits = {k: self._validate_split(k, s) for k, s in splits.items()}
        if "test" not in self.splits:
            raise InvalidDataError(
                f"an audit needs a 'test' split; got splits {sorted(self.splits)}"
            )
        self._validate_model_output()

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def from_bundle(
        cls,
        model: Any,
        data: DataBundle,
        *,
        model_info: ModelDescription | None = None,
        device: str = "auto",
    ) -> AuditTarget:
        """Target for ``model`` on a loaded :class:`~models.datasets.DataBundle`."""
        domain: tuple[Any, Any]
        if data.kind == "image":
            domain = (data.domain_low[0], data.domain_high[0])
        else:
            domain = (np.asarray(data.domain_low), np.asarray(data.domain_high))
        return cls(
            model=model,
            splits=data.splits,
            class_names=data.class_names,
            kind=data.kind,
            input_shape=data.input_shape,
            domain=domain,
            feature_names=data.feature_names,
            sensitive_in_features=data.sensitive_in_features,
            data_name=data.name,
            data_sha256=data.sha256,
            data_info=data.describe(),
            model_info=model_info,
            device=device,
            preprocessing=data.preprocessing,
        )

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedModel,
        data: DataBundle,
        *,
        name: str | None = None,
        device: str = "auto",
    ) -> AuditTarget:
        """Target for a loaded checkpoint/TorchScript/safetensors model on ``data``."""
        meta = loaded.meta
        info = ModelDescription(
            name=name
            or (
                f"{loaded.arch}-{data.name}"
                if loaded.source == "checkpoint"
                else f"{Path(loaded.path).name} ({loaded.arch})"
            ),
            arch=loaded.arch,
            source=loaded.source,
            path=str(loaded.path),
            arch_kwargs=meta.get("arch_kwargs", {}),
            train_config=meta.get("train_config", {}),
            history=meta.get("history", []),
            trust=loaded.trust,
        )
        recorded = meta.get("dataset", {}).get("sha256")
        target = cls.from_bundle(loaded.module, data, model_info=info, device=device)
        if recorded and recorded != data.sha256:
            target.data_info["warning"] = (
                "the data differs from the data the checkpoint was trained on (sha256 "
                f"{recorded[:12]}... recorded, {data.sha256[:12]}... now)"
            )
        return target

    # ------------------------------------------------------------------ validation

    def _validate_split(self, name: str, split: Split) -> Split:
        X, y = np.asarray(split.X), np.asarray(split.y)
        if len(y) == 0:
            raise InvalidDataError(f"split {name!r} is empty; every split needs at least one row")
        if X.shape[0] != y.shape[0]:
            raise InvalidDataError(f"split {name!r}: {X.shape[0]} inputs but {y.shape[0]} labels")
        if tuple(X.shape[1:]) != self.input_shape:
            raise InvalidDataError(
                f"split {name!r}: inputs are shaped {tuple(X.shape[1:])} per row but the target "
                f"declares input shape {self.input_shape}; reshape the data or fix input_shape"
            )
        if not np.issubdtype(X.dtype, np.number):
            raise InvalidDataError(f"split {name!r}: inputs must be numeric, got {X.dtype}")
        if not np.isfinite(X).all():
            bad = int((~np.isfinite(X)).any(axis=tuple(range(1, X.ndim))).sum())
            raise InvalidDataError(
                f"split {name!r}: {bad} row(s) contain NaN or infinite values; impute or drop "
                "them before auditing"
            )
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)
            else:
                raise InvalidDataError(
                    f"split {name!r}: labels must be integers 0..{len(self.class_names) - 1}, "
                    f"got dtype {y.dtype}"
                )
        if y.min() < 0 or y.max() >= len(self.class_names):
            raise InvalidDataError(
                f"split {name!r}: labels range over {int(y.min())}..{int(y.max())} but there are "
                f"{len(self.class_names)} classes; labels must be 0..{len(self.class_names) - 1}"
            )
        sensitive = {}
        for s, values in split.sensitive.items():
            if len(values) != len(y):
                raise InvalidDataError(
                    f"split {name!r}: sensitive feature {s!r} has {len(values)} values for "
                    f"{len(y)} rows"
                )
            raw = np.asarray(values, dtype=object)
            missing = np.array(
                [v is None or (isinstance(v, float) and math.isnan(v)) for v in raw], dtype=bool
            )
            text = raw.astype(str)
            missing |= np.isin(np.char.strip(np.char.lower(text)), _MISSING)
            if missing.any():
                raise InvalidDataError(
                    f"split {name!r}: sensitive feature {s!r} is missing for "
                    f"{int(missing.sum())} row(s); fill them with an explicit group such as "
                    "'unknown', or drop those rows, so no one silently drops out of the "
                    "fairness comparison"
                )
            sensitive[s] = text
        if self.kind == "image":
            lo, hi = float(X.min()), float(X.max())
            if lo < self.domain_low.min() - 1e-6 or hi > self.domain_high.max() + 1e-6:
                raise InvalidDataError(
                    f"split {name!r}: image values range over [{lo:.3g}, {hi:.3g}] but must lie "
                    f"in [{self.domain_low.min():g}, {self.domain_high.max():g}]; keep images in "
                    "pixel space and put normalization inside the model"
                )
        return Split(
            X=X.astype(np.float32, copy=False),
            y=y.astype(np.int64, copy=False),
            indices=np.asarray(split.indices),
            sensitive=sensitive,
            extras=dict(split.extras),
        )

    def _validate_model_output(self) -> None:
        probe = self.splits["test"].X[:8]
        try:
            out = self.model.logits(probe)
        except Exception as exc:
            # one line: TorchScript puts its whole serialized traceback in the message
            lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
            why = lines[-1] if lines else type(exc).__name__
            hint = (
                "; if the model expects another image size or channel count, read the folder "
                "with --image-size N and --grayscale (config: data options size, grayscale)"
                if self.kind == "image"
                else ""
            )
            raise IncompatibleModelError(
                f"the model failed on {len(probe)} test inputs shaped {probe.shape}: "
                f"{type(exc).__name__}: {why}{hint}"
            ) from exc
        out = np.asarray(out)
        expected = (len(probe), len(self.class_names))
        if out.shape != expected:
            raise IncompatibleModelError(
                f"the model's output is shaped {out.shape} for {len(probe)} inputs; expected "
                f"(N, num_classes) = {expected}. Return one logit per class "
                f"({len(self.class_names)} classes: {list(self.class_names)[:10]})"
            )
        if not np.isfinite(out).all():
            raise IncompatibleModelError(
                "the model returned NaN or infinite outputs on test inputs; check its weights"
            )

    # ------------------------------------------------------------------ accessors

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        try:
            return self.splits[name]
        except KeyError:
            raise InvalidDataError(
                f"this target has no {name!r} split (it has {sorted(self.splits)})"
            ) from None

    def sensitive_features(self) -> list[str]:
        return sorted({k for s in self.splits.values() for k in s.sensitive})
