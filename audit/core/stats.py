"""Small statistics the checks share: Wilson intervals and calibration error."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from models.errors import InvalidDataError


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
