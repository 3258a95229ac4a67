"""Group fairness metrics with bootstrap confidence intervals (the engine of the fairness check).

Every metric here is a function of the per-group confusion counts (true/false positives and
negatives of binary decisions). That gives a fast and exact path:

- point estimates from ``numpy.bincount`` over (group, label, decision) cells, cross-checked in
  the tests against fairlearn's ``MetricFrame``, ``demographic_parity_difference`` and
  ``equalized_odds_difference`` on the same inputs;
- the nonparametric bootstrap of rows is, for count-based metrics, a multinomial draw of the
  cell counts, so 1,000 resamples of 100,000 rows cost a ``(1000, cells)`` array instead of
  1,000 passes over the rows (fairlearn's ``MetricFrame(n_boot=...)`` resamples rows).

Aggregates follow fairlearn: demographic parity difference and ratio (selection rates), equal
opportunity difference (TPR), equalized odds difference (the larger of the TPR and FPR
differences), and predictive parity difference (precision). An undefined rate (a group with no
positives, say) is NaN inside the engine and None in reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidDataError

RATES = ("selection_rate", "base_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
AGGREGATES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
)


def intersect(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """One label per row for the intersection of several sensitive features, e.g.
    ``race=Black & sex=Female``."""
    names = sorted(features)
    if not names:
        raise InvalidDataError("no sensitive features to intersect")
    cols = [np.char.add(f"{n}=", np.asarray(features[n], dtype=str)) for n in names]
    out = cols[0]
    for c in cols[1:]:
        out = np.char.add(np.char.add(out, " & "), c)
    return out


@dataclass(frozen=True)
class GroupCounts:
    """Confusion counts per group: arrays of shape ``(..., G)`` for tp, fp, fn, tn."""

    groups: tuple[str, ...]
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    @property
    def n(self) -> np.ndarray:
        return self.tp + self.fp + self.fn + self.tn


def group_counts(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive_features: np.ndarray
) -> GroupCounts:
    """Confusion counts per group of binary labels and decisions (1 = positive/favourable)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    sf = np.asarray(sensitive_features, dtype=str)
    if not (len(y_true) == len(y_pred) == len(sf)):
        raise InvalidDataError(
            f"y_true, y_pred and sensitive_features must have one value per row; got "
            f"{len(y_true)}, {len(y_pred)} and {len(sf)}"
        )
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        bad = ~np.isin(v, (0, 1))
        if bad.any():
            raise InvalidDataError(
                f"{name} must be binary 0/1 decisions; got values {np.unique(v[bad])[:5]}. "
                "Threshold scores first and state the threshold"
            )
    groups, idx = np.unique(sf, return_inverse=True)
    cell = idx * 4 + y_true.astype(int) * 2 + y_pred.astype(int)
    c = np.bincount(cell, minlength=4 * len(groups)).reshape(len(groups), 4)
    # cell order per group: (y=0,pred=0) tn, (0,1) fp, (1,0) fn, (1,1) tp
    return GroupCounts(tuple(groups.tolist()), tp=c[:, 3], fp=c[:, 1], fn=c[:, 2], tn=c[:, 0])


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-group rate from counts (works on any leading batch shape)."""
    n = tp + fp + fn + tn
    pos, neg = tp + fn, fp + tn
    return {
        "selection_rate": _div(tp + fp, n),
        "base_rate": _div(pos, n),
        "accuracy": _div(tp + tn, n),
        "tpr": _div(tp, pos),
        "fpr": _div(fp, neg),
        "fnr": _div(fn, pos),
        "precision": _div(tp, tp + fp),
    }


def aggregates(r: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """fairlearn's between-group aggregates over the last axis (NaN groups ignored)."""

    def spread(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"), _quiet():
            return np.nanmax(x, axis=-1) - np.nanmin(x, axis=-1)

    with _quiet():
        ratio = _div(
            np.nanmin(r["selection_rate"], axis=-1), np.nanmax(r["selection_rate"], axis=-1)
        )
    return {
        "demographic_parity_difference": spread(r["selection_rate"]),
        "demographic_parity_ratio": ratio,
        "equal_opportunity_difference": spread(r["tpr"]),
        "equalized_odds_difference": np.fmax(spread(r["tpr"]), spread(r["fpr"])),
        "predictive_parity_difference": spread(r["precision"]),
    }


class _quiet:
    def __enter__(self) -> None:
        import warnings  # noqa: PLC0415

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)


@dataclass(frozen=True)
class FairnessEstimate:
    """Point estimates and bootstrap intervals of every group rate and aggregate."""

    groups: tuple[str, ...]
    counts: GroupCounts
    group_rates: dict[str, np.ndarray]  # rate -> (G,)
    group_ci: dict[str, np.ndarray]  # rate -> (G, 2)
    aggregate: dict[str, float]
    aggregate_ci: dict[str, tuple[float, float]]
    n_boot: int
    ci_level: float


def estimate(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sensitive_features: np.ndarray,
    *,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> FairnessEstimate:
    """Group rates and aggregates with percentile bootstrap intervals.

    The bootstrap resamples rows with replacement; for these count-based metrics that is
    exactly a multinomial draw of the (group, label, decision) cell counts with the observed
    cell shares, which is what is computed (``n_boot`` x cells numbers, not ``n_boot`` x rows).
    """
    if not 0.5 <= ci_level < 1:
        raise InvalidDataError(f"ci_level must be in [0.5, 1), got {ci_level}")
    c = group_counts(y_true, y_pred, sensitive_features)
    g = len(c.groups)
    point = rates(c.tp, c.fp, c.fn, c.tn)
    agg = {k: float(v) for k, v in aggregates(point).items()}
    cells = np.stack([c.tp, c.fp, c.fn, c.tn], axis=1).reshape(-1)  # (G*4,)
    n = int(cells.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cells / n, size=n_boot).reshape(n_boot, g, 4)
    boot = rates(draws[..., 0], draws[..., 1], draws[..., 2], draws[..., 3])
    boot_agg = aggregates(boot)
    lo, hi = (1 - ci_level) / 2 * 100, (1 + ci_level) / 2 * 100
    with _quiet():
        group_ci = {
            k: np.stack([np.nanpercentile(v, lo, axis=0), np.nanpercentile(v, hi, axis=0)], axis=1)
            for k, v in boot.items()
        }
        agg_ci = {
            k: (float(np.nanpercentile(v, lo)), float(np.nanpercentile(v, hi)))
            for k, v in boot_agg.items()
        }
    return FairnessEstimate(
        groups=c.groups,
        counts=c,
        group_rates=point,
        group_ci=group_ci,
        aggregate=agg,
        aggregate_ci=agg_ci,
        n_boot=n_boot,
        ci_level=ci_level,
    )


def small_groups(counts: GroupCounts, min_size: int) -> list[str]:
    """Groups with fewer than ``min_size`` rows (their rates are too noisy to compare)."""
    return [g for g, n in zip(counts.groups, counts.n) if n < min_size]


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (controls the family-wise error over many groups)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adj[i] = min(1.0, running)
    return adj
