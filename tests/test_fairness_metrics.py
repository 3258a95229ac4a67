"""The fairness engine against fairlearn and hand-computed tables."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from rai_audit.audit.fairness.metrics import (
    estimate,
    group_counts,
    holm,
    intersect,
    rates,
    small_groups,
)
from rai_audit.models.errors import InvalidDataError


def _data(rng, n=3000):
    g = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(g == "a", 0.4, 0.25)).astype(int)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    pred[(g == "c") & (rng.random(n) < 0.2)] = 1
    return y, pred, g


def test_point_estimates_equal_fairlearn(rng):
    y, pred, g = _data(rng)
    est = estimate(y, pred, g, n_boot=10)
    mf = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
            "precision": lambda a, b: precision_score(a, b, zero_division=0),
        },
        y_true=y,
        y_pred=pred,
        sensitive_features=g,
    )
    for name in ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"):
        np.testing.assert_allclose(
            est.group_rates[name], mf.by_group[name].to_numpy(), rtol=0, atol=1e-12
        )
    assert est.aggregate["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=g), abs=1e-12
    )
    assert est.aggregate["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, pred, sensitive_features=g), abs=1e-12
    )
    assert est.aggregate["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=g), abs=1e-12
    )


def test_hand_computed_small_table():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    p = np.array([1, 0, 1, 0, 1, 1, 1, 0])
    g = np.array(["x", "x", "x", "x", "y", "y", "y", "y"])
    c = group_counts(y, p, g)
    assert c.groups == ("x", "y")
    assert c.tp.tolist() == [1, 1] and c.fp.tolist() == [1, 2]
    assert c.fn.tolist() == [1, 0] and c.tn.tolist() == [1, 1]
    r = rates(c.tp, c.fp, c.fn, c.tn)
    np.testing.assert_allclose(r["selection_rate"], [0.5, 0.75])
    np.testing.assert_allclose(r["tpr"], [0.5, 1.0])
    np.testing.assert_allclose(r["fpr"], [0.5, 2 / 3])
    est = estimate(y, p, g, n_boot=20)
    assert est.aggregate["equalized_odds_difference"] == pytest.approx(0.5)
    assert est.aggregate["demographic_parity_ratio"] == pytest.approx(0.5 / 0.75)


def test_bootstrap_agrees_with_fairlearn_resampling(rng):
    y, pred, g = _data(rng, 600)
    ours = estimate(y, pred, g, n_boot=2000, seed=1)
    mf = MetricFrame(
        metrics={"selection_rate": selection_rate},
        y_true=y,
        y_pred=pred,
        sensitive_features=g,
        n_boot=300,
        ci_quantiles=[0.025, 0.975],
        random_state=1,
    )
    lo, hi = mf.by_group_ci
    for i, grp in enumerate(ours.groups):
        assert ours.group_ci["selection_rate"][i, 0] == pytest.approx(
            lo["selection_rate"][grp], abs=0.02
        )
        assert ours.group_ci["selection_rate"][i, 1] == pytest.approx(
            hi["selection_rate"][grp], abs=0.02
        )


def test_bootstrap_interval_covers_a_known_disparity():
    """Synthetic data with a known selection-rate gap of 0.2: the 95 % interval covers it
    in about 95 % of repetitions."""
    covered = 0
    reps = 200
    for seed in range(reps):
        r = np.random.default_rng(seed)
        g = r.choice(["a", "b"], 2000)
        pred = (r.random(2000) < np.where(g == "a", 0.5, 0.3)).astype(int)
        lo, hi = estimate(pred, pred, g, n_boot=400, seed=seed).aggregate_ci[
            "demographic_parity_difference"
        ]
        covered += lo <= 0.2 <= hi
    assert 0.90 <= covered / reps <= 0.99


def test_intersections_small_groups_and_holm():
    labels = intersect({"sex": np.array(["F", "M"]), "race": np.array(["B", "W"])})
    assert labels.tolist() == ["race=B & sex=F", "race=W & sex=M"]
    c = group_counts(np.array([1, 0, 1]), np.array([1, 1, 0]), np.array(["a", "a", "b"]))
    assert small_groups(c, 2) == ["b"]
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_non_binary_and_mismatched_inputs_are_refused():
    with pytest.raises(InvalidDataError, match="must be binary 0/1 decisions"):
        group_counts(np.array([0, 1]), np.array([0.3, 0.9]), np.array(["a", "b"]))
    with pytest.raises(InvalidDataError, match="one value per row"):
        group_counts(np.array([0, 1]), np.array([0, 1]), np.array(["a"]))


def test_disparate_impact_and_min_group_size_against_fairlearn(rng):
    y, pred, g = _data(rng)
    fav = estimate(y, pred, g, n_boot=10)
    assert fav.aggregate["disparate_impact_ratio"] == fav.aggregate["demographic_parity_ratio"]
    unfav = estimate(y, pred, g, n_boot=10, positive_is_favorable=False)
    # the favourable outcome is a negative decision: fairlearn's ratio on the flipped decisions
    assert unfav.aggregate["disparate_impact_ratio"] == pytest.approx(
        demographic_parity_ratio(y, 1 - pred, sensitive_features=g), abs=1e-12
    )
    # a tiny group is reported but left out of the aggregates
    g2 = g.astype(object)
    g2[:5] = "tiny"
    g2 = g2.astype(str)
    est = estimate(y, pred, g2, n_boot=50, min_group_size=30)
    assert "tiny" in est.groups and "tiny" not in est.compared
    big = g2 != "tiny"
    assert est.aggregate["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y[big], pred[big], sensitive_features=g2[big]), abs=1e-12
    )
    none = estimate(y, pred, g2, n_boot=20, min_group_size=10**6)
    assert np.isnan(none.aggregate["equalized_odds_difference"]) and none.compared == ()


def test_score_calibration_matches_sklearn_and_groups(rng):
    from sklearn.calibration import calibration_curve

    from rai_audit.audit.fairness.metrics import group_calibration, score_calibration

    s = rng.random(2000)
    y = (rng.random(2000) < s**1.5).astype(int)
    bins, ece = score_calibration(s, y, 10)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10)
    np.testing.assert_allclose([b["observed"] for b in bins if b["count"]], prob_true)
    np.testing.assert_allclose([b["score"] for b in bins if b["count"]], prob_pred)
    counts = np.array([b["count"] for b in bins if b["count"]])
    assert ece == pytest.approx(float(np.sum(counts / 2000 * np.abs(prob_true - prob_pred))))
    g = rng.choice(["a", "b"], 2000)
    names, per_group, draws = group_calibration(s, y, g, n_bins=10, n_boot=300, seed=0)
    assert names == ("a", "b")
    for i, name in enumerate(names):
        assert per_group[i] == pytest.approx(score_calibration(s[g == name], y[g == name])[1])
        lo, hi = np.percentile(draws[:, i], [2.5, 97.5])
        assert lo < hi
    assert draws.shape == (300, 2)


def test_group_vs_rest_tests_chouldechova_identity_and_reweighing():
    from scipy.stats import fisher_exact

    from rai_audit.audit.fairness.metrics import (
        chouldechova_fpr,
        group_vs_rest_tests,
        reweighing_weights,
    )

    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 1])
    p = np.array([1, 0, 1, 0, 1, 1, 1, 0, 1, 0])
    g = np.array(["x", "x", "x", "x", "y", "y", "y", "y", "y", "y"])
    c = group_counts(y, p, g)
    tests = {(t["group"], t["rate"]): t for t in group_vs_rest_tests(c)}
    t = tests[("x", "selection_rate")]
    # x: 2 of 4 selected; rest (y): 4 of 6 selected
    assert (t["group_value"], t["rest_value"]) == (0.5, 4 / 6)
    assert t["pvalue"] == pytest.approx(fisher_exact([[2, 2], [4, 2]]).pvalue)
    r = rates(c.tp, c.fp, c.fn, c.tn)
    np.testing.assert_allclose(chouldechova_fpr(r["base_rate"], r["precision"], r["fnr"]), r["fpr"])
    w = reweighing_weights(y, g)
    # hand: x has 2 of 4 positive, y 3 of 6; overall 5/10 -> already independent: all weights 1
    np.testing.assert_allclose(w, 1.0)
    y2 = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    g2 = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    w2 = reweighing_weights(y2, g2)
    # P(a)=1/2, P(y=1)=1/2, P(a,1)=3/8 -> w = (1/2 * 1/2) / (3/8) = 2/3; P(a,0)=1/8 -> 2
    assert w2[0] == pytest.approx(2 / 3) and w2[3] == pytest.approx(2.0)
    assert w2.mean() == pytest.approx(1.0)
    for grp in ("a", "b"):
        m = g2 == grp
        assert np.average(y2[m], weights=w2[m]) == pytest.approx(y2.mean())
