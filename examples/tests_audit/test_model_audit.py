"""Audit tests for a model, in plain pytest, on a run made by ``rai-audit run``.

    rai-audit run --model runs/credit-model --out runs/credit-audit
    pytest examples/tests_audit --rai-run runs/credit-audit --rai-policy policy.yaml

The plugin also adds one test per policy rule (``rai::performance.accuracy`` ...); the tests
below add what a policy cannot say. Fixtures: ``rai_report`` (the run's report), ``rai_target``
(the model and data, rebuilt from the run), ``rai_policy``.
"""

from __future__ import annotations

import numpy as np

from rai_audit.audit.testing import assert_metric, assert_verdict


def test_no_section_crashed(rai_report):
    crashed = [r.check for r in rai_report.results if r.kind == "error"]
    assert not crashed, f"sections that crashed: {crashed}"


def test_accuracy_is_high_enough_with_its_interval(rai_report):
    assert_metric(rai_report, "performance.accuracy", min=0.9, use_ci=True)


def test_calibration_is_acceptable(rai_report):
    assert_metric(rai_report, "performance.ece", max=0.1)


def test_performance_section_passes(rai_report):
    assert_verdict(rai_report, "performance", allowed=("pass", "warn"))


def test_the_audited_model_still_predicts_the_same(rai_target, rai_report):
    """The model on disk is the one the report describes, and it still scores as reported."""
    assert rai_target.model.sha256 == rai_report.manifest.model.sha256
    test = rai_target.split("test")
    accuracy = float(np.mean(rai_target.model.predict(test.X) == test.y))
    reported = rai_report.result("performance").metric("accuracy")
    assert reported.ci_low <= accuracy <= reported.ci_high
