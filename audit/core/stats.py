"""Small statistics the checks share: Wilson intervals and calibration error."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from rai_audit.models.errors import InvalidDataError
from rai_audit.reports.schema import Metric


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson, 1927).

    Args:
        successes: number of successes, ``0 <= successes <= n``.
        n: number of trials (> 0).
        level: confidence level in (0, 1).

    Returns:
        ``(low, high)`` within ``[0, 1]``.
    """
    if n <= 0:
        raise InvalidDataError("a Wilson interval needs at least one trial")
    if not 0 <= successes <= n:
        raise InvalidDataError(f"successes must be in 0..{n}, got {successes}")
    if not 0 < level < 1:
        raise InvalidDataError(f"confidence level must be in (0, 1), got {level}")
    z = float(norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def calibration_bins(
    proba: np.ndarray, y: np.ndarray, n_bins: int = 15
) -> list[dict[str, float | int | None]]:
    """Equal-width confidence bins ``(lower, upper]`` of the top-class probability.

    Returns one dict per bin: ``lower``, ``upper``, ``count``, mean ``confidence`` and
    ``accuracy`` (None for empty bins). The first bin also holds confidence exactly 0.
    """
    if n_bins < 1:
        raise InvalidDataError(f"n_bins must be >= 1, got {n_bins}")
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(which, weights=correct, minlength=n_bins)
    out: list[dict[str, float | int | None]] = []
    for b in range(n_bins):
        c = int(count[b])
        out.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": c,
                "confidence": float(conf_sum[b] / c) if c else None,
                "accuracy": float(acc_sum[b] / c) if c else None,
            }
        )
    return out


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE (Guo et al., 2017): sum over bins of ``|B|/N * |accuracy(B) - confidence(B)|``."""
    bins = calibration_bins(proba, y, n_bins)
    n = len(y)
    return float(
        sum(
            b["count"] / n * abs(b["accuracy"] - b["confidence"])  # type: ignore[operator]
            for b in bins
            if b["count"]
        )
    )


def max_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """MCE: the largest ``|accuracy(B) - confidence(B)|`` over non-empty bins."""
    bins = calibration_bins(proba, y, n_bins)
    return float(
        max(
            abs(float(b["accuracy"] or 0.0) - float(b["confidence"] or 0.0))
            for b in bins
            if b["count"]
        )
    )


def mean_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float] | None:
    """Mean of ``x`` with its Student-t confidence interval, ``(mean, low, high)``.

    NaN entries are dropped; None if fewer than 2 values remain. Every value equal gives a
    zero-width interval. Coverage is nominal for means of independent rows (tested by
    simulation on skewed data).
    """
    from scipy.stats import t  # noqa: PLC0415

    if not 0 < level < 1:
        raise InvalidDataError(f"confidence level must be in (0, 1), got {level}")
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return None
    mean = float(v.mean())
    half = float(t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def difference_interval(
    x1: int, n1: int, x2: int, n2: int, level: float = 0.95
) -> tuple[float, float, float]:
    """Difference of two independent proportions, ``x1/n1 - x2/n2``, with Newcombe's (1998)
    hybrid score interval (his method 10 for independent samples: the Wilson interval of each
    proportion, combined in quadrature).

    Returns:
        ``(difference, low, high)``, within ``[-1, 1]`` and always containing the difference.
    """
    if n1 <= 0 or n2 <= 0 or not (0 <= x1 <= n1) or not (0 <= x2 <= n2):
        raise InvalidDataError(f"need 0 <= x <= n and n > 0, got {x1}/{n1} and {x2}/{n2}")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return diff, max(-1.0, low), min(1.0, high)


def paired_difference_interval(
    both: int, first_only: int, second_only: int, neither: int, level: float = 0.95
) -> tuple[float, float, float]:
    """Difference of two proportions measured on the same items, ``p1 - p2``, with Newcombe's
    (1998) hybrid score interval for paired data (his method 10: Wilson intervals for each
    margin, combined with the phi correlation of the 2x2 table).

    Args:
        both: items where both events happened (e.g. correct with and without a marker).
        first_only: only the first happened; ``second_only``: only the second.
        neither: neither happened.
        level: confidence level in (0, 1).

    Returns:
        ``(difference, low, high)``, within ``[-1, 1]`` and always containing the difference.
    """
    counts = (both, first_only, second_only, neither)
    if any(c < 0 for c in counts):
        raise InvalidDataError(f"paired counts must be >= 0, got {counts}")
    n = sum(counts)
    if n <= 0:
        raise InvalidDataError("a paired difference needs at least one item")
    a, b, c, d = counts
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, level)
    l2, u2 = wilson_interval(a + c, n, level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(margins) if margins > 0 else 0.0
    diff = p1 - p2
    lower = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    upper = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    return diff, max(-1.0, diff - lower), min(1.0, diff + upper)


def crossed_mean_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float] | None:
    """Grand mean of a crossed layout ``x`` ``(R, N)`` (e.g. randomized networks by inputs) with
    a Student-t interval that covers both sources of variation: inputs and the random draws of
    the rows.

    The variance of the grand mean is the two-way cluster-robust one (Cameron, Gelbach and
    Miller, 2011; Owen's pigeonhole bootstrap estimates the same): ``var(column means)/N +
    var(row means)/R - var(cells)/(RN)``, never below either one-way term; its degrees of
    freedom are Satterthwaite's over the two one-way terms (``N - 1`` and ``R - 1``). Columns
    with a NaN are dropped. Coverage is tested by simulation on layouts with input, row and
    interaction effects.

    Returns:
        ``(mean, low, high)``, or None with fewer than 2 rows or 2 columns.
    """
    from scipy.stats import t  # noqa: PLC0415

    if not 0 < level < 1:
        raise InvalidDataError(f"confidence level must be in (0, 1), got {level}")
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 2:
        raise InvalidDataError(f"a crossed layout is (rows, columns), got shape {v.shape}")
    v = v[:, np.isfinite(v).all(axis=0)]
    r, n = v.shape
    if r < 2 or n < 2:
        return None
    mean = float(v.mean())
    v_cols = float(v.mean(axis=0).var(ddof=1)) / n
    v_rows = float(v.mean(axis=1).var(ddof=1)) / r
    v_cells = float(v.var(ddof=1)) / (r * n)
    var = max(v_cols + v_rows - v_cells, v_cols, v_rows)
    if var <= 0:
        return mean, mean, mean
    denom = (v_cols**2 / (n - 1) if v_cols else 0.0) + (v_rows**2 / (r - 1) if v_rows else 0.0)
    df = (v_cols + v_rows) ** 2 / denom if denom > 0 else float(n - 1)
    half = float(t.ppf(0.5 + level / 2, df)) * math.sqrt(var)
    return mean, mean - half, mean + half


def bootstrap_interval(
    estimate: float, draws: np.ndarray, level: float = 0.95, *, bounds: tuple[float, float] = (0, 1)
) -> tuple[float | None, float | None, str]:
    """A bootstrap interval that contains the reported estimate, and how it was made.

    The percentile interval of ``draws`` when it contains ``estimate``. When it does not (a
    max-minus-min over noisy groups is biased upward, so its resamples can all lie above the
    estimate), the percentile interval describes a different estimator; the normal interval
    around the estimate, ``estimate +- z * sd(draws)`` clipped to ``bounds``, is given
    instead, and the method says so and why.

    Returns:
        ``(low, high, method)``; ``(None, None, ...)`` with fewer than 2 finite draws.
    """
    d = np.asarray(draws, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2 or not np.isfinite(estimate):
        return None, None, "bootstrap: too few defined resamples"
    q = (1 - level) / 2 * 100
    low, high = float(np.percentile(d, q)), float(np.percentile(d, 100 - q))
    if low <= estimate <= high:
        return low, high, f"bootstrap percentile ({len(d)} resamples)"
    z = float(norm.ppf(0.5 + level / 2))
    sd = float(d.std(ddof=1))
    return (
        max(bounds[0], estimate - z * sd),
        min(bounds[1], estimate + z * sd),
        f"normal bootstrap around the estimate ({len(d)} resamples): the percentile interval "
        f"[{low:.4g}, {high:.4g}] excluded the estimate, a sign of the max-minus-min "
        f"aggregate's upward bias",
    )


def accuracy_metric(
    name: str, value: float, successes: int, n: int, ci_level: float, description: str
) -> Metric:
    """An accuracy (``value``, ``successes`` of ``n``) with its Wilson interval: the one form the
    performance and robustness checks report accuracies in."""
    lo, hi = wilson_interval(successes, n, ci_level)
    return Metric(
        name=name,
        value=value,
        ci_low=lo,
        ci_high=hi,
        ci_level=ci_level,
        ci_method="wilson",
        n=n,
        higher_is_better=True,
        unit="fraction",
        description=description,
    )
