"""Tabular preprocessing: one-hot categories and standardized numbers, fitted on train only.

The encoder's whole state is JSON (stored in ``model.json``), so a checkpoint can encode raw
rows again without unpickling anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidDataError


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
        )

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``; returns float32 ``(N, len(feature_names))``."""
        missing = [c for c in [*self.numeric, *self.categorical] if c not in frame.columns]
        if missing:
            raise InvalidDataError(
                f"columns {missing} that the model was trained on are missing from the data"
            )
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

    def bounds(self, encoded_train: np.ndarray) -> tuple[list[float], list[float]]:
        """Per-feature (low, high) of the input domain: train range for numbers, [0, 1] one-hot."""
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
        )
