"""Fairness metrics on 100,000 rows: our engine against fairlearn and a bare bincount.

- Point estimates (every group rate and aggregate): ``audit.fairness.estimate(n_boot=1)``,
  fairlearn's ``MetricFrame`` plus ``demographic_parity_difference`` and
  ``equalized_odds_difference``, and the bare limit: group codes from the raw strings and one
  ``numpy.bincount`` of the (group, label, decision) cells.
- 1,000-resample bootstrap intervals for every group metric and aggregate: ours (multinomial
  draw of the cell counts). fairlearn's ``MetricFrame(n_boot=1000)`` resamples rows; its time is
  extrapolated from 10 resamples, since running it takes most of an hour.
"""

from __future__ import annotations

import time

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from audit.fairness import estimate
from bench.harness import Row, Variant

N = 100_000


def _data():
    r = np.random.default_rng(0)
    g = r.choice(["a", "b", "c", "d"], N)
    y = (r.random(N) < 0.3).astype(int)
    p = np.where(r.random(N) < 0.85, y, 1 - y)
    return y, p, g


def _fairlearn(y, p, g, n_boot=None):
    MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
        },
        y_true=y,
        y_pred=p,
        sensitive_features=g,
        n_boot=n_boot,
        ci_quantiles=[0.025, 0.975] if n_boot else None,
        random_state=0,
    )
    demographic_parity_difference(y, p, sensitive_features=g)
    equalized_odds_difference(y, p, sensitive_features=g)


def rows(quick: bool = False) -> list[Row]:
    y, p, g = _data()

    def bare() -> np.ndarray:  # group codes from the raw strings, then one bincount of cells
        _, idx = np.unique(g, return_inverse=True)
        return np.bincount(idx * 4 + y * 2 + p, minlength=16)

    return [
        Row(
            title=f"group metrics, {N:,} rows, 4 groups (point estimates)",
            unit="row",
            per=N,
            variants=[
                Variant(
                    "rai-audit estimate (n_boot=1)", lambda: estimate(y, p, g, n_boot=1), "ours"
                ),
                Variant(
                    "fairlearn MetricFrame + DPD + EOD", lambda: _fairlearn(y, p, g), "reference"
                ),
                Variant("bare: group codes + one numpy bincount", bare, "bare"),
            ],
        )
    ]


def bootstrap_times() -> dict[str, float]:
    y, p, g = _data()
    t0 = time.perf_counter()
    estimate(y, p, g, n_boot=1000)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    _fairlearn(y, p, g, n_boot=10)
    fl10 = time.perf_counter() - t0
    return {
        "ours_1000_s": ours,
        "fairlearn_10_s": fl10,
        "fairlearn_1000_s_extrapolated": fl10 * 100,
    }
