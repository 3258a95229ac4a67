from __future__ import annotations

import pytest

from audit.gate.policy import Policy, Rule
from models.errors import InvalidConfigError
from reports.schema import Metric


def _m(value, lo=None, hi=None):
    return Metric(name="accuracy", value=value, ci_low=lo, ci_high=hi)


def test_rule_verdicts():
    rule = Rule(metric="performance.accuracy", min=0.9)
    assert rule.verdict(_m(0.95)) == "pass"
    assert rule.verdict(_m(0.85)) == "fail"
    assert rule.verdict(_m(None)) == "error"
    warn = Rule(metric="performance.ece", max=0.1, severity="warn")
    assert warn.verdict(_m(0.2)) == "warn"
    both = Rule(metric="a.b", min=0.2, max=0.4)
    assert [both.verdict(_m(v)) for v in (0.1, 0.3, 0.5)] == ["fail", "pass", "fail"]


def test_use_ci_requires_the_whole_interval():
    rule = Rule(metric="performance.accuracy", min=0.9, use_ci=True)
    assert rule.verdict(_m(0.93, 0.91, 0.95)) == "pass"
    assert rule.verdict(_m(0.93, 0.88, 0.97)) == "fail"
    upper = Rule(metric="fairness.eod", max=0.1, use_ci=True)
    assert upper.verdict(_m(0.05, 0.01, 0.12)) == "fail"


def test_default_policy_loads():
    pol = Policy.default()
    assert pol.rule_for("performance", "accuracy").min == 0.8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {accuracy: {min: 0.9}}", "must be named <section>.<metric>"),
        ("rules: {performance.accuracy: {}}", "needs min, max or both"),
        ("rules: {performance.accuracy: {min: 0.9, max: 0.5}}", "min 0.9 is above max 0.5"),
        ("rules: {performance.accuracy: {min: 0.9, severity: fatal}}", "severity must be"),
        ("rules: {performance.accuracy: {minimum: 0.9}}", "unknown key"),
        ("rules: {performance.accuracy: {min: high}}", "min must be a number"),
        ("rules: {performance.accuracy: 0.9}", "must be a mapping like"),
        ("rules: [1, 2]", "'rules' must map"),
        ("thresholds: {}", "unknown top-level key"),
        ("version: 2\nrules: {}", "version must be 1"),
        ("rules: {performance.accuracy: {min: 0.9, use_ci: maybe}}", "use_ci must be true"),
        ("rules: [unclosed", "not valid YAML"),
    ],
)
def test_bad_policy_files(tmp_path, text, message):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    with pytest.raises(InvalidConfigError, match=message):
        Policy.load(p)


def test_missing_policy_file(tmp_path):
    with pytest.raises(InvalidConfigError, match="does not exist"):
        Policy.load(tmp_path / "none.yaml")


def test_rules_grouped_by_section_equal_dotted_rules():
    grouped = Policy.from_mapping(
        {
            "rules": {
                "performance": {"accuracy": {"min": 0.9}, "ece": {"max": 0.05, "severity": "warn"}},
                "fairness.*.equalized_odds_difference": {"max": 0.1, "use_ci": True},
            }
        }
    )
    dotted = Policy.from_mapping(
        {
            "rules": {
                "performance.accuracy": {"min": 0.9},
                "performance.ece": {"max": 0.05, "severity": "warn"},
                "fairness.*.equalized_odds_difference": {"max": 0.1, "use_ci": True},
            }
        }
    )
    assert grouped.rules == dotted.rules
    with pytest.raises(InvalidConfigError, match="unknown key"):
        Policy.from_mapping({"rules": {"performance": {"accuracy": {"minimum": 0.9}}}})
