"""The pytest plugin, run with pytester: policy rules as test items, fixtures, helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from reportkit import make_report, write_run

from rai_audit.audit.testing import assert_metric, assert_no_regression, assert_verdict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tests_audit"


def test_policy_rules_become_test_items(pytester, tmp_path):
    run = write_run(tmp_path / "run", make_report())
    # the inner session warns as a user's would, not under this suite's warnings-as-errors
    result = pytester.runpytest(
        "--rai-run", str(run), "-p", "no:cacheprovider", "-rA", "-W", "default"
    )
    # accuracy pass, ece warn (passes), disparate impact pass; eod fail, privacy crashed;
    # robustness did not apply
    result.assert_outcomes(passed=3, failed=2, skipped=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*fairness.sex.equalized_odds_difference = 0.16 [[]0.13, 0.21[]]*fail*",
            "*privacy crashed: internal error: boom*",
        ]
    )
    assert result.ret == 1


def test_policy_file_typos_and_baseline(pytester, tmp_path):
    run = write_run(tmp_path / "run", make_report(broken=False, eod=0.02, accuracy=0.91))
    base = write_run(tmp_path / "base", make_report(broken=False, eod=0.02, accuracy=0.95))
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n  performance.accuracy: {min: 0.9}\n  performance.acuracy: {min: 0.9}\n"
    )
    result = pytester.runpytest("--rai-run", str(run), "--rai-policy", str(policy))
    result.assert_outcomes(passed=1, failed=1, skipped=1)  # accuracy; the typo; robustness
    result.stdout.fnmatch_lines(["*performance.acuracy matches no metric*"])
    result = pytester.runpytest(
        "--rai-run",
        str(run),
        "--rai-policy",
        str(policy),
        "--rai-baseline",
        str(base),
        "-k",
        "regression",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*performance.accuracy: 0.95 -> 0.91*"])


def test_without_a_run_the_plugin_adds_nothing_and_fixtures_skip(pytester):
    pytester.makepyfile("def test_uses_report(rai_report):\n    assert False\n")
    result = pytester.runpytest()
    result.assert_outcomes(skipped=1)


def test_example_audit_tests_on_a_real_run(pytester, tmp_path, lenet_checkpoint, digits):
    """The README's tests_audit/ example, with rai_target rebuilding the LeNet from the run."""
    from rai_audit.audit.core.config import build_checks
    from rai_audit.audit.core.runner import run_audit
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.models.checkpoint import load_model

    target = AuditTarget.from_loaded(load_model(lenet_checkpoint), digits, device="cpu")
    run = tmp_path / "run"
    run_audit(
        target,
        build_checks(["performance"], "smoke"),
        out=run,
        progress=False,
        pdf=False,
        config={"model": {"path": str(lenet_checkpoint)}},
    )
    shutil.copytree(EXAMPLES, pytester.path / "tests_audit")
    result = pytester.runpytest("tests_audit", "--rai-run", str(run), "-p", "no:cacheprovider")
    # 5 example tests pass, plus the plugin's gated metrics of the performance section
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 5


def test_assertion_helpers_read_like_findings():
    report = make_report()
    assert assert_metric(report, "performance.accuracy", min=0.9).value == 0.93
    with pytest.raises(AssertionError, match=r"its interval reaches 0.89, below 0.9"):
        assert_metric(report, "performance.accuracy", min=0.9, use_ci=True)
    with pytest.raises(AssertionError, match="has no metric 'acc'"):
        assert_metric(report, "performance.acc", min=0.9)
    with pytest.raises(AssertionError, match="did not run"):
        assert_metric(report, "privacy.loss.auc", max=0.6)
    assert_verdict(report, "performance")
    with pytest.raises(AssertionError, match="failing: sex.equalized_odds_difference"):
        assert_verdict(report, "fairness")
    assert_no_regression(make_report(accuracy=0.93), make_report(accuracy=0.935))
    with pytest.raises(AssertionError, match="performance.accuracy: 0.95 -> 0.9"):
        assert_no_regression(make_report(accuracy=0.9), make_report(accuracy=0.95))
