"""Shared statistics: intervals tested by simulation."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize(
    ("draw", "truth"),
    [
        (lambda g, n: g.normal(0.3, 1.0, n), 0.3),
        # skewed and bounded, like a per-input difference of rank correlations
        (lambda g, n: 1.0 - 2.0 * g.beta(2.0, 5.0, n), 1.0 - 2.0 * 2.0 / 7.0),
    ],
)
@pytest.mark.parametrize("n", [8, 16, 32])
def test_mean_interval_covers_at_its_nominal_rate(draw, truth, n):
    from audit.core.stats import mean_interval

    g = np.random.default_rng(n)
    reps = 3000
    hits = 0
    for _ in range(reps):
        est = mean_interval(draw(g, n), 0.95)
        assert est is not None and est[1] <= est[0] <= est[2]
        hits += est[1] <= truth <= est[2]
    # 3000 draws: the binomial sd of the rate is 0.004; allow 3.5 of them
    assert abs(hits / reps - 0.95) < 0.014, hits / reps


def test_mean_interval_edge_cases():
    from audit.core.stats import mean_interval

    assert mean_interval(np.array([0.2])) is None
    assert mean_interval(np.array([0.2, np.nan])) is None
    np.testing.assert_allclose(mean_interval(np.array([0.2, 0.2, 0.2])), (0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match="confidence level"):
        mean_interval(np.array([0.1, 0.2]), 1.0)
