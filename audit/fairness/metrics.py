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

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rai_audit.audit.core.stats import bootstrap_interval
from rai_audit.models.errors import InvalidDataError

RATES = ("selection_rate", "base_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
AGGREGATES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact_ratio",
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


def aggregates(
    r: Mapping[str, np.ndarray], *, positive_is_favorable: bool = True
) -> dict[str, np.ndarray]:
    """fairlearn's between-group aggregates over the last axis (NaN groups ignored).

    ``disparate_impact_ratio`` is the lowest over the highest rate of the *favourable* outcome
    (the four-fifths rule of the US EEOC guidelines compares it with 0.8): the selection rate
    when a positive decision is favourable (a loan granted), else one minus it (COMPAS: being
    rated low risk).
    """

    def spread(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"), _quiet():
            return np.nanmax(x, axis=-1) - np.nanmin(x, axis=-1)

    def ratio(x: np.ndarray) -> np.ndarray:
        with _quiet():
            return _div(np.nanmin(x, axis=-1), np.nanmax(x, axis=-1))

    sel = r["selection_rate"]
    return {
        "demographic_parity_difference": spread(sel),
        "demographic_parity_ratio": ratio(sel),
        "disparate_impact_ratio": ratio(sel if positive_is_favorable else 1 - sel),
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

    def __exit__(self, *exc: Any) -> None:
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
    compared: tuple[str, ...] = ()  # the groups the aggregates compare (large enough)
    aggregate_ci_method: dict[str, str] = field(default_factory=dict)


def estimate(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sensitive_features: np.ndarray,
    *,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    min_group_size: int = 0,
    positive_is_favorable: bool = True,
) -> FairnessEstimate:
    """Group rates and aggregates with percentile bootstrap intervals.

    The bootstrap resamples rows with replacement; for these count-based metrics that is
    exactly a multinomial draw of the (group, label, decision) cell counts with the observed
    cell shares, which is what is computed (``n_boot`` x cells numbers, not ``n_boot`` x rows).

    Aggregates compare only groups with at least ``min_group_size`` rows (every group is still
    reported); with fewer than two such groups they are NaN.
    """
    if not 0.5 <= ci_level < 1:
        raise InvalidDataError(f"ci_level must be in [0.5, 1), got {ci_level}")
    c = group_counts(y_true, y_pred, sensitive_features)
    g = len(c.groups)
    keep = c.n >= min_group_size
    point = rates(c.tp, c.fp, c.fn, c.tn)

    def agg_of(r: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if keep.sum() < 2:
            nan = np.full(np.shape(r["tpr"])[:-1], np.nan)
            return dict.fromkeys(AGGREGATES, nan)
        sub = {k: v[..., keep] for k, v in r.items()}
        return aggregates(sub, positive_is_favorable=positive_is_favorable)

    agg = {k: float(v) for k, v in agg_of(point).items()}
    cells = np.stack([c.tp, c.fp, c.fn, c.tn], axis=1).reshape(-1)  # (G*4,)
    n = int(cells.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cells / n, size=n_boot).reshape(n_boot, g, 4)
    boot = rates(draws[..., 0], draws[..., 1], draws[..., 2], draws[..., 3])
    boot_agg = agg_of(boot)
    lo, hi = (1 - ci_level) / 2 * 100, (1 + ci_level) / 2 * 100
    with _quiet():
        group_ci = {
            k: np.stack([np.nanpercentile(v, lo, axis=0), np.nanpercentile(v, hi, axis=0)], axis=1)
            for k, v in boot.items()
        }
        agg_ci: dict[str, tuple[float, float]] = {}
        agg_method: dict[str, str] = {}
        for k, v in boot_agg.items():
            a, b, how = bootstrap_interval(agg[k], v, ci_level)
            agg_ci[k] = (np.nan if a is None else a, np.nan if b is None else b)
            agg_method[k] = how
    return FairnessEstimate(
        groups=c.groups,
        counts=c,
        group_rates=point,
        group_ci=group_ci,
        aggregate=agg,
        aggregate_ci=agg_ci,
        n_boot=n_boot,
        ci_level=ci_level,
        compared=tuple(gr for gr, k in zip(c.groups, keep) if k),
        aggregate_ci_method=agg_method,
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


# ---------------------------------------------------------------------------- calibration by group


def score_calibration(
    score: np.ndarray, y: np.ndarray, n_bins: int = 10
) -> tuple[list[dict[str, float | int | None]], float]:
    """Reliability of a score for the positive class: equal-width bins, as scikit-learn's
    ``calibration_curve(strategy='uniform')`` bins them, and the score ECE
    ``sum_b |B|/N * |mean(y in B) - mean(score in B)|``.

    Calibration within groups (Kleinberg et al., 2016) asks this of every group: among people
    given a score of 0.7, 70% should be positive whatever their group.
    """
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(score) == 0:
        raise InvalidDataError("calibration needs at least one row")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], score)
    count = np.bincount(which, minlength=n_bins)
    s_sum = np.bincount(which, weights=score, minlength=n_bins)
    y_sum = np.bincount(which, weights=y, minlength=n_bins)
    bins: list[dict[str, float | int | None]] = []
    ece = 0.0
    for b in range(n_bins):
        c = int(count[b])
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": c,
                "score": float(s_sum[b] / c) if c else None,
                "observed": float(y_sum[b] / c) if c else None,
            }
        )
        if c:
            ece += abs(y_sum[b] - s_sum[b]) / len(score)
    return bins, float(ece)


def group_calibration(
    score: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    n_bins: int = 10,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Score ECE per group and its bootstrap draws.

    Returns ``(groups, ece (G,), draws (n_boot, G))``; rows are resampled within each group
    (a stratified bootstrap), in chunks so memory stays bounded on large data.
    """
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    g_arr = np.asarray(groups, dtype=str)
    names, idx = np.unique(g_arr, return_inverse=True)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], score)
    rng = np.random.default_rng(seed)
    ece = np.empty(len(names))
    draws = np.empty((n_boot, len(names)))
    for gi in range(len(names)):
        rows = np.flatnonzero(idx == gi)
        n = len(rows)
        b, s, t = which[rows], score[rows], y[rows]
        ece[gi] = np.abs(np.bincount(b, weights=t - s, minlength=n_bins)).sum() / n
        chunk = max(1, 2_000_000 // max(n, 1))
        for start in range(0, n_boot, chunk):
            k = min(chunk, n_boot - start)
            pick = rng.integers(0, n, size=(k, n))
            key = (np.arange(k)[:, None] * n_bins + b[pick]).ravel()
            diff = np.bincount(key, weights=(t - s)[pick].ravel(), minlength=k * n_bins)
            draws[start : start + k, gi] = np.abs(diff.reshape(k, n_bins)).sum(axis=1) / n
    return tuple(names.tolist()), ece, draws


# ---------------------------------------------------------------------------- significance


def group_vs_rest_tests(counts: GroupCounts) -> list[dict[str, object]]:
    """Fisher's exact test of each group against the rest of the rows, for the selection
    rate, TPR and FPR: ``[{group, rate, group_value, rest_value, pvalue}]``.

    Many groups and rates make many tests; adjust the p-values with :func:`holm` before
    reading any one of them as a finding.
    """
    from scipy.stats import fisher_exact  # noqa: PLC0415

    out: list[dict[str, object]] = []
    num = {
        "selection_rate": counts.tp + counts.fp,
        "tpr": counts.tp,
        "fpr": counts.fp,
    }
    den = {
        "selection_rate": counts.n,
        "tpr": counts.tp + counts.fn,
        "fpr": counts.fp + counts.tn,
    }
    for rate, hits in num.items():
        k_all, n_all = int(hits.sum()), int(den[rate].sum())
        for gi, g in enumerate(counts.groups):
            k, n = int(hits[gi]), int(den[rate][gi])
            kr, nr = k_all - k, n_all - n
            if n == 0 or nr == 0:
                continue
            p = float(fisher_exact([[k, n - k], [kr, nr - kr]]).pvalue)
            out.append(
                {
                    "group": g,
                    "rate": rate,
                    "group_value": k / n,
                    "rest_value": kr / nr,
                    "pvalue": p,
                }
            )
    return out


# ---------------------------------------------------------------------------- conflicts


def chouldechova_fpr(base_rate: np.ndarray, ppv: np.ndarray, fnr: np.ndarray) -> np.ndarray:
    """The FPR a group must have given its base rate ``p``, precision and FNR (Chouldechova,
    2017): ``FPR = p / (1 - p) * (1 - PPV) / PPV * (1 - FNR)``.

    It is an identity of the confusion counts, so when base rates differ, equal precision
    (predictive parity) and equal FNR force unequal FPRs: the definitions conflict.
    """
    p = np.asarray(base_rate, dtype=float)
    ppv = np.asarray(ppv, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return p / (1 - p) * (1 - ppv) / ppv * (1 - np.asarray(fnr, dtype=float))


# ---------------------------------------------------------------------------- mitigation


def reweighing_weights(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Kamiran and Calders (2012) reweighing: ``w(g, y) = P(g) P(y) / P(g, y)``.

    Weighted, the label is independent of the group in the training data; the weights average
    to 1 over the rows when every (group, label) pair occurs.
    """
    y = np.asarray(y)
    g_arr = np.asarray(groups, dtype=str)
    if len(y) != len(g_arr):
        raise InvalidDataError(f"{len(y)} labels but {len(g_arr)} group values")
    _, gi = np.unique(g_arr, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    n = len(y)
    n_g = np.bincount(gi)
    n_y = np.bincount(yi)
    n_gy = np.bincount(gi * len(n_y) + yi, minlength=len(n_g) * len(n_y))
    return (n_g[gi] * n_y[yi]) / (n * n_gy[gi * len(n_y) + yi])


def proxy_auc(
    X_train: np.ndarray, s_train: np.ndarray, X_test: np.ndarray, s_test: np.ndarray
) -> float | None:
    """How well features predict a sensitive attribute: a logistic regression fitted on
    ``X_train`` to ``s_train``, its macro one-vs-rest ROC AUC on held-out rows (the positive
    class's alone for two groups); None when no group can be scored."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    clf = LogisticRegression(max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X_train, s_train)
    p = clf.predict_proba(X_test)
    aucs = []
    for ci, c in enumerate(clf.classes_):
        t = s_test == c
        if 0 < t.sum() < len(t):
            aucs.append(roc_auc_score(t, p[:, ci]))
        if len(clf.classes_) == 2:
            break
    return float(np.mean(aucs)) if aucs else None
