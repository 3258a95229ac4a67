from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from rai_audit.audit.core.checks import Artifacts
from rai_audit.audit.core.stats import calibration_bins, expected_calibration_error, wilson_interval
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.performance.check import PerformanceCheck
from rai_audit.models.errors import InvalidConfigError, InvalidDataError


def _naive_ece(proba, y, n_bins):
    """Independent ECE: a per-sample loop over bins (lower, upper]."""
    total, n = 0.0, len(y)
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [
            i for i in range(n) if (lo < proba[i].max() <= hi) or (b == 0 and proba[i].max() == 0.0)
        ]
        if not members:
            continue
        conf = sum(proba[i].max() for i in members) / len(members)
        acc = sum(int(proba[i].argmax() == y[i]) for i in members) / len(members)
        total += len(members) / n * abs(acc - conf)
    return total


def test_ece_matches_an_independent_loop(rng):
    for k in (2, 5):
        logits = rng.normal(size=(400, k)) * 2
        proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        y = rng.integers(0, k, 400)
        for bins in (5, 15):
            assert expected_calibration_error(proba, y, bins) == pytest.approx(
                _naive_ece(proba, y, bins), abs=1e-12
            )


def test_ece_of_a_perfectly_calibrated_hand_case():
    proba = np.array([[0.75, 0.25]] * 4 + [[0.25, 0.75]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    assert expected_calibration_error(proba, y, 10) == pytest.approx(0.0)
    bins = calibration_bins(proba, y, 10)
    assert sum(b["count"] for b in bins) == 8
    assert [b for b in bins if b["count"]][0]["accuracy"] == pytest.approx(0.75)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10, 0.95)  # textbook values (Newcombe, 1998)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    with pytest.raises(InvalidDataError):
        wilson_interval(3, 0)


def test_performance_metrics_match_sklearn(digits_target, tmp_path):
    res = PerformanceCheck().run(
        digits_target, seed=0, artifacts=Artifacts(tmp_path, "performance")
    )
    test = digits_target.split("test")
    proba = digits_target.model.predict_proba(test.X)
    pred = proba.argmax(1)
    assert res.metric("accuracy").value == pytest.approx(accuracy_score(test.y, pred))
    assert res.metric("balanced_accuracy").value == pytest.approx(
        balanced_accuracy_score(test.y, pred)
    )
    assert res.metric("macro_f1").value == pytest.approx(f1_score(test.y, pred, average="macro"))
    assert res.metric("ece").value == pytest.approx(_naive_ece(proba, test.y, 15), abs=1e-6)
    train = digits_target.split("train")
    gap = accuracy_score(train.y, digits_target.model.predict(train.X)) - accuracy_score(
        test.y, pred
    )
    assert res.metric("train_test_gap").value == pytest.approx(gap)
    cm = np.array(res.confusion_matrix)
    assert cm.sum() == len(test) and np.trace(cm) == (pred == test.y).sum()
    acc = res.metric("accuracy")
    assert acc.ci_low <= acc.value <= acc.ci_high
    assert {f.path for f in res.figures} == {
        "artifacts/performance/reliability.png",
        "artifacts/performance/confusion_matrix.png",
        "artifacts/performance/training_curves.png",
    }
    for f in res.figures:
        assert (tmp_path / f.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_performance_on_a_sklearn_model_and_subsampling(german, tmp_path):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=1000).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    res = PerformanceCheck(max_samples=100).run(target, seed=0, artifacts=Artifacts(tmp_path, "p"))
    assert res.metric("accuracy").n == 100
    assert res.metric("roc_auc").value is not None
    full = PerformanceCheck().run(target, seed=0, artifacts=Artifacts(tmp_path, "q"))
    assert full.metric("accuracy").value == pytest.approx(
        clf.score(german.splits["test"].X, german.splits["test"].y)
    )


def test_absent_class_makes_auc_undefined_not_nan(digits_target, tmp_path):
    from rai_audit.models.datasets import Split

    s = digits_target.split("test")
    keep = s.y != 3
    digits_target.splits["test"] = Split(X=s.X[keep], y=s.y[keep], indices=s.indices[keep])
    res = PerformanceCheck().run(digits_target, seed=0, artifacts=Artifacts(tmp_path, "p"))
    assert res.metric("roc_auc").value is None
    assert any("absent" in w for w in res.warnings)
    row3 = next(r for r in res.tables[0].rows if r[0] == "3")
    assert row3[2] is None  # recall of an absent class is undefined


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_bins": 1},
            r"option 'n_bins' of check 'performance' must be an integer in \[2, 100\]; got 1",
        ),
        ({"n_bins": 2.5}, "option 'n_bins' .* got 2.5"),
        (
            {"max_samples": 5},
            r"option 'max_samples' of check 'performance' must be None \(every row\) or an integer >= 10; got 5",
        ),
        (
            {"ci_level": 1.0},
            r"option 'ci_level' of check 'performance' must be a number in \[0.5, 1\); got 1.0",
        ),
        (
            {"split": ""},
            "option 'split' of check 'performance' must be a non-empty split name; got ''",
        ),
    ],
)
def test_invalid_performance_config(kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        PerformanceCheck(**kwargs)


def test_budgets_and_unknown_options():
    assert PerformanceCheck.for_budget("smoke").max_samples == 5000
    assert PerformanceCheck.for_budget("thorough").max_samples is None
    with pytest.raises(InvalidConfigError, match="option 'budget' of the audit must be one of"):
        PerformanceCheck.for_budget("huge")
    with pytest.raises(InvalidConfigError, match="has no option"):
        PerformanceCheck.for_budget("smoke", bins=3)


def test_inverted_labels_are_a_caveat_that_names_the_cause(german, tmp_path):
    """Planted: a credit model coded the other way round (fitted on 1 - y): its accuracy is
    below chance, the 'inverted_labels' caveat fails (read the other way round, the whole
    interval is above 0.5), a warning names inverted labels, and the decision lists the caveat.
    Twin: the correctly coded model passes the caveat and gets no warning."""
    from rai_audit.audit.core.runner import run_audit
    from rai_audit.audit.gate.policy import Policy

    tr = german.splits["train"]
    out = {}
    for name, labels in (("inverted", 1 - tr.y), ("clean", tr.y)):
        clf = LogisticRegression(max_iter=2000).fit(tr.X, labels)
        report = run_audit(
            AuditTarget.from_bundle(clf, german),
            [PerformanceCheck()],
            out=tmp_path / name,
            policy=Policy.default(),
            progress=False,
            history=False,
        )
        res = report.results[0]
        m = res.metric("inverted_labels")
        assert m.about == "method" and m.value == pytest.approx(1 - res.metric("accuracy").value)
        out[name] = (m, res.warnings, report.decision)
    m, warns, decision = out["inverted"]
    assert m.outcome == "fail" and m.ci_low > 0.5
    assert any("labels are likely inverted" in w for w in warns)
    assert any(c.startswith("performance.inverted_labels") for c in decision.caveats)
    m, warns, decision = out["clean"]
    assert m.outcome == "pass" and not any("inverted" in w for w in warns)
    assert not any("inverted_labels" in c for c in decision.caveats)
