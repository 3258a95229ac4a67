"""Tabular preprocessing: one-hot categories and standardized numbers, fitted on train only.

Three modes: ``standardize`` (one-hot categories, standardized numbers: the inputs of the
models this suite trains), ``none`` (numbers as they are; no categorical column) and ``raw``
(the CSV's own columns in their order: numbers as they are, each category as its index in the
sorted categories). ``raw`` is lossless, so :meth:`TabularEncoder.decode` gives back the data
frame a scikit-learn ``Pipeline`` was fit on, with its column names and dtypes.

The encoder's whole state is JSON (stored in ``model.json``), so a checkpoint can encode raw
rows again without unpickling anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rai_audit.models.errors import InvalidDataError


@dataclass(frozen=True)
class TabularEncoder:
    """Maps a data frame of raw columns to float32 model inputs.

    Numeric columns become ``(x - mean) / std`` with train statistics (missing values become the
    train mean, i.e. 0); categorical columns become one-hot vectors over the categories seen in
    train (an unseen category becomes all zeros).
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    categories: tuple[tuple[str, ...], ...]
    feature_names: tuple[str, ...] = field(default=())
    #: ``standardize``, ``none`` or ``raw`` (see the module docstring)
    mode: str = "standardize"
    #: ``raw``: the numeric columns whose values are integers in the data
    integer: tuple[str, ...] = ()

    @classmethod
    def fit_raw(cls, frame: pd.DataFrame, columns: Sequence[str]) -> TabularEncoder:
        """The ``raw`` mode on ``frame`` (every row: the codes only name the categories, so
        nothing is learnt that a split could leak): ``columns`` in their order, numbers as they
        are, text as category codes. Missing numbers are refused: the audit cannot tell what the
        model's own imputation would do with them."""
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidDataError(
                f"columns {missing} are not in the data; available: {list(frame.columns)}"
            )
        numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
        categorical = [c for c in columns if c not in set(numeric)]
        for col in numeric:
            n_missing = int(frame[col].isna().sum())
            if n_missing:
                raise InvalidDataError(
                    f"numeric column {col!r} is missing in {n_missing} row(s); impute or drop "
                    "them before auditing (encoding 'raw' passes numbers as they are)"
                )
        integer = [c for c in numeric if pd.api.types.is_integer_dtype(frame[c])]
        cats = tuple(tuple(sorted(frame[col].astype(str).unique().tolist())) for col in categorical)
        return cls(
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            means=(0.0,) * len(numeric),
            stds=(1.0,) * len(numeric),
            categories=cats,
            feature_names=tuple(columns),
            mode="raw",
            integer=tuple(integer),
        )

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        numeric: Sequence[str],
        categorical: Sequence[str],
        *,
        standardize: bool = True,
    ) -> TabularEncoder:
        """Fit on ``frame`` (the train rows). ``standardize=False`` passes numbers through
        unscaled (for a user's model trained on raw features); it allows no categorical column."""
        if not standardize and categorical:
            raise InvalidDataError(
                f"encoding 'none' passes numbers through as they are, but columns "
                f"{list(categorical)} are not numeric; encode them in the CSV or use 'standardize'"
            )
        missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
        if missing:
            raise InvalidDataError(
                f"columns {missing} are not in the data; available: {list(frame.columns)}"
            )
        means, stds = [], []
        for col in numeric:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
            if np.isnan(values).all():
                raise InvalidDataError(f"numeric column {col!r} has no numeric values")
            m = float(np.nanmean(values)) if standardize else 0.0
            s = float(np.nanstd(values)) if standardize else 1.0
            means.append(m)
            stds.append(s if s > 0 else 1.0)
        cats = tuple(
            tuple(sorted(frame[col].astype(str).fillna("missing").unique().tolist()))
            for col in categorical
        )
        names = list(numeric) + [f"{c}={v}" for c, vs in zip(categorical, cats) for v in vs]
        return cls(
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            means=tuple(means),
            stds=tuple(stds),
            categories=cats,
            feature_names=tuple(names),
            mode="standardize" if standardize else "none",
        )

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``; returns float32 ``(N, len(feature_names))``."""
        missing = [c for c in [*self.numeric, *self.categorical] if c not in frame.columns]
        if missing:
            raise InvalidDataError(
                f"columns {missing} that the model was trained on are missing from the data"
            )
        if self.mode == "raw":
            return self._transform_raw(frame)
        blocks = []
        if self.numeric:
            num = np.stack(
                [
                    pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
                    for c in self.numeric
                ],
                axis=1,
            )
            num = (num - np.asarray(self.means)) / np.asarray(self.stds)
            blocks.append(np.nan_to_num(num, nan=0.0))
        for col, cats in zip(self.categorical, self.categories):
            values = frame[col].astype(str).fillna("missing").to_numpy()
            lookup = {v: i for i, v in enumerate(cats)}
            onehot = np.zeros((len(frame), len(cats)))
            idx = np.array([lookup.get(v, -1) for v in values])
            rows = np.nonzero(idx >= 0)[0]
            onehot[rows, idx[rows]] = 1.0
            blocks.append(onehot)
        if not blocks:
            raise InvalidDataError("no feature columns to encode")
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def _transform_raw(self, frame: pd.DataFrame) -> np.ndarray:
        cats = dict(zip(self.categorical, self.categories))
        out = np.empty((len(frame), len(self.feature_names)), dtype=np.float64)
        for j, col in enumerate(self.feature_names):
            if col in cats:
                lookup = {v: i for i, v in enumerate(cats[col])}
                values = frame[col].astype(str).to_numpy()
                unseen = sorted({v for v in values if v not in lookup})
                if unseen:
                    raise InvalidDataError(
                        f"column {col!r} has values {unseen[:5]} that its categories "
                        f"{list(cats[col])[:10]} do not hold; encode the whole file at once"
                    )
                out[:, j] = [lookup[v] for v in values]
            else:
                out[:, j] = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
        if np.isnan(out).any():
            bad = [self.feature_names[j] for j in np.flatnonzero(np.isnan(out).any(axis=0))]
            raise InvalidDataError(
                f"columns {bad[:5]} have missing or non-numeric values; impute or drop those "
                "rows before auditing"
            )
        return out.astype(np.float32)

    def decode(self, X: np.ndarray) -> pd.DataFrame:
        """The data frame that ``raw`` (or ``none``) inputs ``X`` stand for: the column names, text
        categories (a code is rounded to the nearest category), integers where the data held
        integers. What a scikit-learn ``Pipeline`` fit on the CSV's columns expects."""
        if self.mode == "standardize":
            raise InvalidDataError("standardized one-hot inputs cannot be decoded to columns")
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        cats = dict(zip(self.categorical, self.categories))
        columns: dict[str, Any] = {}
        for j, col in enumerate(self.feature_names):
            if col in cats:
                codes = np.clip(np.rint(X[:, j]), 0, len(cats[col]) - 1).astype(np.int64)
                columns[col] = np.asarray(cats[col], dtype=object)[codes]
            elif col in self.integer:
                columns[col] = np.rint(X[:, j]).astype(np.int64)
            else:
                columns[col] = X[:, j]
        return pd.DataFrame(columns)

    def bounds(self, encoded_train: np.ndarray) -> tuple[list[float], list[float]]:
        """Per-feature (low, high) of the input domain: train range for numbers, [0, 1] one-hot
        (``raw``: a category's codes 0..k-1)."""
        if self.mode == "raw":
            cats = dict(zip(self.categorical, self.categories))
            low = [
                0.0 if c in cats else float(encoded_train[:, j].min())
                for j, c in enumerate(self.feature_names)
            ]
            high = [
                float(len(cats[c]) - 1) if c in cats else float(encoded_train[:, j].max())
                for j, c in enumerate(self.feature_names)
            ]
            return low, high
        n_num = len(self.numeric)
        low = [float(v) for v in encoded_train[:, :n_num].min(axis=0)] if n_num else []
        high = [float(v) for v in encoded_train[:, :n_num].max(axis=0)] if n_num else []
        n_cat = encoded_train.shape[1] - n_num
        return low + [0.0] * n_cat, high + [1.0] * n_cat

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "tabular",
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "means": list(self.means),
            "stds": list(self.stds),
            "categories": [list(c) for c in self.categories],
            "feature_names": list(self.feature_names),
            "mode": self.mode,
            "integer": list(self.integer),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TabularEncoder:
        return cls(
            numeric=tuple(state["numeric"]),
            categorical=tuple(state["categorical"]),
            means=tuple(float(v) for v in state["means"]),
            stds=tuple(float(v) for v in state["stds"]),
            categories=tuple(tuple(c) for c in state["categories"]),
            feature_names=tuple(state["feature_names"]),
            mode=str(state.get("mode", "standardize")),
            integer=tuple(state.get("integer", ())),
        )
