"""Each check's judge step works from a measurement alone, with no model: a planted flaw is
reported and its clean twin is not. (Privacy and robustness have theirs in their own files.)"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from rai_audit.reports.schema import Table


def _performance(overconfident: bool, n: int = 2000, seed: int = 0):
    from rai_audit.audit.performance.check import PerformanceMeasurement

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    conf = np.full(n, 0.99) if overconfident else np.full(n, 0.7)
    right = rng.random(n) < 0.7  # 70 % right either way
    pred = np.where(right, y, 1 - y)
    proba = np.zeros((n, 2))
    proba[np.arange(n), pred] = conf
    proba[np.arange(n), 1 - pred] = 1 - conf
    return PerformanceMeasurement(
        y=y,
        proba=proba,
        train=(y, pred),
        class_names=("no", "yes"),
        data_name="synthetic",
        history=[],
    )


def test_performance_judging_finds_overconfidence_and_not_in_the_calibrated_twin():
    from rai_audit.audit.performance.check import PerformanceCheck

    check = PerformanceCheck()
    flawed = check.judge(_performance(True))
    twin = check.judge(_performance(False))
    ece_flawed, ece_twin = ({m.name: m.value for m in j.metrics}["ece"] for j in (flawed, twin))
    assert ece_flawed == pytest.approx(0.29, abs=0.03)  # confidence 0.99, accuracy 0.70
    assert ece_twin < 0.03
    m = _performance(True)
    acc = {x.name: x for x in flawed.metrics}["accuracy"]
    assert acc.value == pytest.approx(accuracy_score(m.y, m.proba.argmax(1)))
    assert acc.ci_low < acc.value < acc.ci_high
    assert {x.name: x.value for x in flawed.metrics}["train_test_gap"] == 0.0


def _fairness(gap: float, n: int = 4000, seed: int = 0):
    from rai_audit.audit.fairness.check import FairnessMeasurement

    rng = np.random.default_rng(seed)
    groups = np.where(rng.random(n) < 0.5, "a", "b")
    y = (rng.random(n) < 0.4).astype(int)
    tpr = np.where(groups == "a", 0.8, 0.8 - gap)
    fpr = np.where(groups == "a", 0.1, 0.1 + gap / 2)
    pred = np.where(y == 1, rng.random(n) < tpr, rng.random(n) < fpr).astype(int)
    score = np.clip(pred * 0.7 + rng.random(n) * 0.3, 0, 1)
    empty = Table(title="t", columns=["x"], rows=[])
    return FairnessMeasurement(
        y=y,
        pred=pred,
        score=score,
        columns={"group": groups},
        singles=["group"],
        pos_name="yes",
        fav_name="yes",
        positive_is_favorable=True,
        rule="positive when predicted",
        warnings=[],
        representation=empty,
        proxy_table=None,
        proxy_metrics=[],
        decisions=[],
        data_warnings=[],
        mitigation_feature=None,
        mitigations=[],
    )


def test_fairness_judging_finds_a_planted_gap_and_not_in_the_fair_twin():
    from rai_audit.audit.fairness.check import FairnessCheck

    check = FairnessCheck(n_boot=200, mitigations=())
    by = {}
    for gap in (0.3, 0.0):
        j = check.judge(_fairness(gap))
        by[gap] = {m.name: m for m in j.metrics}
    eod = "group.equalized_odds_difference"
    flawed, twin = by[0.3][eod], by[0.0][eod]
    assert flawed.value == pytest.approx(0.3, abs=0.05) and flawed.ci_low > 0.2
    assert twin.value < 0.05 and twin.ci_low < 0.03


def test_explainability_judging_names_methods_that_fail_their_checks():
    from rai_audit.audit.explainability.check import ExplainabilityCheck, ExplainabilityMeasurement
    from rai_audit.reports.schema import ExplainerSummary, Metric

    def measurement(gain: float, excess: float):
        metrics = [
            Metric(name="saliency.deletion_gain", value=gain, about="method", method="saliency"),
            Metric(
                name="saliency.sanity_excess",
                value=excess,
                ci_low=excess - 0.1,
                ci_high=excess + 0.1,
                about="method",
                method="saliency",
            ),
        ]
        return ExplainabilityMeasurement(
            kind="tabular",
            class_names=("a", "b"),
            feature_names=("f0",),
            X=np.zeros((2, 1), np.float32),
            y=np.zeros(2, int),
            targets=np.zeros(2, int),
            rand=None,
            explanations={},
            deletion_curves={},
            insertion_curves={},
            sanity_curves={},
            independent_curves={},
            marker=None,
            marker_X=None,
            marker_attr={},
            shares={},
            summaries=[ExplainerSummary(method="saliency", status="ok")],
            metrics=metrics,
            warnings=[],
        )

    check = ExplainabilityCheck()
    flawed = check.judge(measurement(-0.1, 0.0))
    twin = check.judge(measurement(0.2, -0.4))
    assert "0 beat a random order" in flawed.summary
    assert "1 beat a random order" in twin.summary
    # the summary states facts; whether saliency is sensitive is the policy's outcome alone,
    # so a summary can never contradict the gate
    assert "sensitive" not in flawed.summary and "sensitive" not in twin.summary
    from rai_audit.audit.gate.policy import Policy
    from rai_audit.reports.schema import ResultBase

    def outcome(excess: float) -> str | None:
        m = measurement(0.2, excess).metrics
        judged = Policy.default().apply_to_result(
            ResultBase(kind="explainability", title="E", metrics=m)
        )
        return judged.metric("saliency.sanity_excess").outcome

    assert outcome(0.3) == "fail" and outcome(0.0) == "inconclusive" and outcome(-0.4) == "pass"
    assert flawed.tables[0].rows[0][:2] == ["saliency", "ok"]
