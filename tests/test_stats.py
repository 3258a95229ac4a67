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
    from rai_audit.audit.core.stats import mean_interval

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
    from rai_audit.audit.core.stats import mean_interval

    assert mean_interval(np.array([0.2])) is None
    assert mean_interval(np.array([0.2, np.nan])) is None
    np.testing.assert_allclose(mean_interval(np.array([0.2, 0.2, 0.2])), (0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match="confidence level"):
        mean_interval(np.array([0.1, 0.2]), 1.0)


@pytest.mark.parametrize(("rows", "cols"), [(3, 8), (4, 16), (6, 8)])
@pytest.mark.parametrize(
    ("s_col", "s_row", "s_cell"),
    [(0.1, 0.0, 0.1), (0.1, 0.1, 0.1), (0.0, 0.2, 0.05), (0.1, 0.05, 0.2)],
)
def test_crossed_mean_interval_covers_inputs_and_randomizations(rows, cols, s_col, s_row, s_cell):
    """A crossed layout (randomized copies x inputs) with copy, input and interaction effects:
    the two-way interval covers the grand mean at about 95% (measured 0.917-0.958 over these
    settings at 2000 draws), where an interval over inputs alone would miss the copies' share;
    and it wrongly puts its upper end below 0 at no more than 5% when the truth is 0."""
    from rai_audit.audit.core.stats import crossed_mean_interval, mean_interval

    g = np.random.default_rng(rows * 100 + cols)
    reps = 1000
    hits = below = naive = 0
    for _ in range(reps):
        x = (
            s_col * g.normal(size=(1, cols))
            + s_row * g.normal(size=(rows, 1))
            + s_cell * g.normal(size=(rows, cols))
        )
        mean, low, high = crossed_mean_interval(x)
        assert low <= mean <= high
        hits += low <= 0 <= high
        below += high < 0
        est = mean_interval(x.mean(axis=0))
        naive += est[1] <= 0 <= est[2]
    assert 0.9 <= hits / reps <= 0.99, hits / reps
    assert below / reps <= 0.05
    if s_row >= 0.1:  # the copies' variation matters: inputs alone under-cover
        assert naive / reps < 0.9


def test_sanity_excess_interval_holds_its_error_rate_on_structured_correlations():
    """The sanity excess is built from correlations that share their randomized copies
    (trained-vs-copy r against copy r's agreement with the others). Simulated with input and
    copy effects and no true difference, it calls 'below the null' at no more than 5%; with a
    true excess of -0.1 it covers the truth at least 95%."""
    from rai_audit.audit.core.stats import crossed_mean_interval
    from rai_audit.explain.metrics import _excess

    g = np.random.default_rng(7)
    for shift, reps in ((0.0, 1000), (-0.1, 1000)):
        hits = below = 0
        for _ in range(reps):
            r, n = 4, 12
            pairs = tuple((i, j) for i in range(r) for j in range(i + 1, r))
            u, v = 0.1 * g.normal(size=n), 0.1 * g.normal(size=r)
            a = 0.4 + shift + u[None] + v[:, None] + 0.1 * g.normal(size=(r, n))
            b = np.stack([0.4 + u + 0.5 * (v[i] + v[j]) + 0.1 * g.normal(size=n) for i, j in pairs])
            _, low, high = crossed_mean_interval(_excess(a, b, pairs))
            hits += low <= shift <= high
            below += high < 0
        assert hits / reps >= 0.95
        if shift == 0.0:
            assert below / reps <= 0.05


def test_crossed_mean_interval_edge_cases():
    from rai_audit.audit.core.stats import crossed_mean_interval

    assert crossed_mean_interval(np.zeros((1, 5))) is None
    assert crossed_mean_interval(np.array([[0.1, np.nan], [0.2, 0.3]])) is None
    np.testing.assert_allclose(crossed_mean_interval(np.zeros((3, 4))), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="rows, columns"):
        crossed_mean_interval(np.zeros(4))


@pytest.mark.parametrize("n", [20, 30, 60])
@pytest.mark.parametrize(
    ("p1", "p2", "rho"),
    [(0.9, 0.9, 0.3), (0.95, 0.5, 0.2), (0.8, 0.7, 0.5), (0.5, 0.5, 0.0)],
)
def test_paired_difference_interval_covers_at_its_nominal_rate(n, p1, p2, rho):
    """Newcombe's paired interval (accuracy with and without a marker, on the same images):
    coverage of p1 - p2 over 2000 tables (measured 0.933-0.987)."""
    from rai_audit.audit.core.stats import paired_difference_interval

    g = np.random.default_rng(n)
    p11 = p1 * p2 + rho * np.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    cells = [p11, p1 - p11, p2 - p11, 1 - p1 - p2 + p11]
    reps, hits = 2000, 0
    for _ in range(reps):
        d, low, high = paired_difference_interval(*map(int, g.multinomial(n, cells)))
        assert low <= d <= high
        hits += low <= p1 - p2 <= high
    assert 0.925 <= hits / reps <= 0.995, hits / reps


def test_paired_difference_interval_known_values_and_errors():
    from rai_audit.audit.core.stats import paired_difference_interval

    # Newcombe (1998), Table II, method 10: his two worked examples
    np.testing.assert_allclose(
        paired_difference_interval(36, 12, 2, 0), (0.2, 0.0569, 0.3404), atol=1e-4
    )
    np.testing.assert_allclose(
        paired_difference_interval(263, 15, 3, 19), (0.04, 0.0127, 0.0706), atol=1e-4
    )
    d, low, high = paired_difference_interval(26, 0, 0, 0)
    assert d == 0.0 and low < 0 < high
    d, low, high = paired_difference_interval(0, 26, 0, 0)  # 100% -> 0% on 26 images
    assert d == 1.0 and high == 1.0 and 0.8 < low < 0.9
    with pytest.raises(ValueError, match="at least one item"):
        paired_difference_interval(0, 0, 0, 0)
    with pytest.raises(ValueError, match=">= 0"):
        paired_difference_interval(-1, 0, 0, 3)


def test_bootstrap_interval_always_holds_the_reported_estimate():
    """Planted: a max-minus-min over six small groups with equal true rates, whose resamples
    all sit above the estimate; the percentile interval excludes it, so the normal interval
    around the estimate is given and the method says why. Twin: a mean, whose percentile
    interval holds its estimate and is kept."""
    from rai_audit.audit.core.stats import bootstrap_interval

    g = np.random.default_rng(3)
    draws = g.normal(0.3, 0.05, 2000)
    low, high, how = bootstrap_interval(0.1, draws)
    assert low <= 0.1 <= high and "excluded the estimate" in how and "max-minus-min" in how
    half = 1.959964 * draws.std(ddof=1)
    assert high == pytest.approx(0.1 + half, rel=1e-4)
    assert low == pytest.approx(max(0.0, 0.1 - half), abs=1e-6)
    assert bootstrap_interval(0.02, draws)[0] == 0.0  # clipped to the metric's range
    low, high, how = bootstrap_interval(0.3, draws)
    assert how.startswith("bootstrap percentile") and low < 0.3 < high
    assert bootstrap_interval(0.3, np.array([np.nan, 0.2]))[:2] == (None, None)


def test_fairness_aggregates_hold_their_estimate_on_small_groups():
    """Equal rates in six groups of 40 rows: the equalized-odds spread of the sample is what
    is reported, and its interval contains it whatever the seed."""
    from rai_audit.audit.fairness.metrics import estimate

    for seed in range(20):
        g = np.random.default_rng(seed)
        n = 240
        y = g.integers(0, 2, n)
        pred = np.where(g.random(n) < 0.8, y, 1 - y)
        groups = np.repeat(np.array(list("abcdef")), 40)
        est = estimate(y, pred, groups, n_boot=300, ci_level=0.95, seed=seed, min_group_size=30)
        for k, v in est.aggregate.items():
            lo, hi = est.aggregate_ci[k]
            assert lo <= v <= hi, (seed, k, v, lo, hi, est.aggregate_ci_method[k])


def test_difference_interval_known_values_and_errors():
    """Newcombe (1998b), independent proportions, method 10 (hybrid score): his worked
    examples 56/70 - 48/80 and 9/10 - 3/10."""
    from rai_audit.audit.core.stats import difference_interval

    np.testing.assert_allclose(difference_interval(56, 70, 48, 80)[1:], (0.0524, 0.3339), atol=1e-4)
    np.testing.assert_allclose(difference_interval(9, 10, 3, 10)[1:], (0.1705, 0.8090), atol=1e-4)
    d, low, high = difference_interval(0, 5, 5, 5)
    assert d == -1.0 and low == -1.0 and high < 0
    with pytest.raises(ValueError, match="need 0 <= x <= n"):
        difference_interval(3, 2, 1, 2)


@pytest.mark.parametrize(
    ("n1", "n2", "p1", "p2"),
    [(200, 800, 0.85, 0.9), (50, 400, 0.7, 0.7), (30, 30, 0.95, 0.8), (500, 2000, 0.6, 0.65)],
)
def test_difference_interval_covers_and_the_one_sided_test_holds_its_rate(n1, n2, p1, p2):
    """Coverage of p1 - p2 over 2000 simulated pairs of samples (test and train accuracy), and
    the caveat's one-sided use: with test no better than train (p1 <= p2), the lower end is
    above 0 in at most 2.5% (plus simulation slack) of draws."""
    from rai_audit.audit.core.stats import difference_interval

    g = np.random.default_rng(n1 + n2)
    reps, hits, above = 2000, 0, 0
    for _ in range(reps):
        d, low, high = difference_interval(int(g.binomial(n1, p1)), n1, int(g.binomial(n2, p2)), n2)
        assert low <= d <= high
        hits += low <= p1 - p2 <= high
        above += low > 0
    assert 0.93 <= hits / reps <= 0.99, hits / reps
    if p1 <= p2:
        assert above / reps <= 0.035, above / reps
