from __future__ import annotations

import pytest

from rai_audit.audit.gate.policy import Policy, Rule
from rai_audit.models.errors import InvalidConfigError
from rai_audit.reports.schema import Metric


def _m(value, lo=None, hi=None):
    return Metric(name="accuracy", value=value, ci_low=lo, ci_high=hi)


def test_rule_outcomes_from_the_value():
    rule = Rule(metric="performance.accuracy", min=0.9)
    assert rule.outcome(_m(0.95)) == "pass"
    assert rule.outcome(_m(0.85)) == "fail"
    assert rule.outcome(_m(0.9)) == "pass"  # the bound itself is inside
    assert rule.outcome(_m(None)) == "not_assessable"
    both = Rule(metric="a.b", min=0.2, max=0.4)
    assert [both.outcome(_m(v)) for v in (0.1, 0.3, 0.5)] == ["fail", "pass", "fail"]


def test_use_ci_pass_needs_the_whole_interval_inside_and_fail_the_whole_interval_beyond():
    rule = Rule(metric="performance.accuracy", min=0.9, use_ci=True)
    assert rule.outcome(_m(0.93, 0.91, 0.95)) == "pass"
    assert rule.outcome(_m(0.93, 0.88, 0.97)) == "inconclusive"
    assert rule.outcome(_m(0.85, 0.80, 0.89)) == "fail"
    upper = Rule(metric="fairness.eod", max=0.1, use_ci=True)
    assert upper.outcome(_m(0.05, 0.01, 0.12)) == "inconclusive"
    assert upper.outcome(_m(0.2, 0.11, 0.3)) == "fail"
    assert upper.outcome(_m(0.05, 0.01, 0.09)) == "pass"
    # an interval that was not computed: the estimate decides, as without use_ci
    assert upper.outcome(_m(0.2)) == "fail"
    both = Rule(metric="a.b", min=0.2, max=0.4, use_ci=True)
    assert both.outcome(_m(0.3, 0.1, 0.5)) == "inconclusive"  # straddles both bounds


def test_outcomes_become_verdicts_by_the_policy_and_never_pass():
    from rai_audit.reports.schema import ResultBase

    def section(*metrics):
        return ResultBase(kind="performance", title="P", metrics=list(metrics))

    rules = {"performance.accuracy": {"min": 0.9, "use_ci": True}}
    inconclusive = _m(0.93, 0.88, 0.97)
    default = Policy.from_mapping({"rules": rules})
    assert default.apply_to_result(section(inconclusive)).metrics[0].verdict == "warn"
    strict = Policy.from_mapping(
        {"rules": rules, "outcomes": {"inconclusive": "fail", "not_assessable": "fail"}}
    )
    assert strict.apply_to_result(section(inconclusive)).metrics[0].verdict == "fail"
    # a section whose gated finding has no value could assess nothing: never pass
    empty = default.apply_to_result(section(_m(None)))
    assert empty.metrics[0].outcome == "not_assessable" and empty.verdict == "not_assessable"
    # a section no rule gates has no verdict (not a pass)
    assert Policy.from_mapping({"rules": {}}).apply_to_result(section(_m(0.99))).verdict is None
    for bad in ("pass", "ok", 3):
        with pytest.raises(InvalidConfigError, match="must count as warn or fail"):
            Policy.from_mapping({"rules": rules, "outcomes": {"inconclusive": bad}})
    with pytest.raises(InvalidConfigError, match="unknown outcome"):
        Policy.from_mapping({"rules": rules, "outcomes": {"maybe": "warn"}})


def test_a_caveat_qualifies_the_findings_on_its_method_and_never_deletes_or_passes_them():
    """Planted: IG is not sensitive to the model and puts 0.9 of its attribution on a marker.
    The finding stays, with its value, as inconclusive (a condition), never pass and never
    gone; the same share through LIME, which holds, fails. Twin: IG holds, and its low share
    passes; a low share through a method that does not hold is inconclusive, not pass."""
    from rai_audit.reports.schema import ResultBase

    def metric(name, value, about="model", method=None):
        return Metric(name=name, value=value, about=about, method=method)

    policy = Policy.from_mapping(
        {
            "rules": {
                "explainability.*.sanity_excess": {"max": 0.0},
                "explainability.*.marker_share": {"max": 0.25},
            }
        }
    )

    def judged(ig_excess, ig_share, lime_share):
        r = ResultBase(
            kind="explainability",
            title="E",
            metrics=[
                metric("ig.sanity_excess", ig_excess, "method", "ig"),
                metric("ig.marker_share", ig_share, method="ig"),
                metric("lime.sanity_excess", -0.3, "method", "lime"),
                metric("lime.marker_share", lime_share, method="lime"),
            ],
        )
        return policy.apply_to_result(r)

    r = judged(0.1, 0.9, 0.1)
    by = {m.name: m for m in r.metrics}
    assert by["ig.sanity_excess"].outcome == "fail" and by["ig.sanity_excess"].verdict is None
    share = by["ig.marker_share"]
    assert share.value == 0.9 and share.outcome == "inconclusive" and share.verdict == "warn"
    assert "rests on ig" in share.qualified and share.set_aside is None
    from rai_audit.audit.gate.policy import _evidence

    # the decision's line says why it is inconclusive: the caveat, not an interval
    assert _evidence(share).endswith(
        "against <= 0.25: inconclusive, rests on ig, which did not hold here "
        "(ig.sanity_excess fail)"
    )
    assert r.verdict == "warn"  # the section never rests only on the method that passed
    # a low share through a method that does not hold is inconclusive too, never pass
    low = {m.name: m for m in judged(0.1, 0.1, 0.1).metrics}["ig.marker_share"]
    assert low.outcome == "inconclusive" and low.verdict == "warn"
    # a policy that counts inconclusive as fail blocks on the qualified finding
    strict = Policy.from_mapping(
        {
            "rules": {
                "explainability.*.sanity_excess": {"max": 0.0},
                "explainability.*.marker_share": {"max": 0.25},
            },
            "outcomes": {"inconclusive": "fail"},
        }
    )
    assert (
        strict.apply_to_result(
            ResultBase(
                kind="explainability",
                title="E",
                metrics=[
                    metric("ig.sanity_excess", 0.2, "method", "ig"),
                    metric("ig.marker_share", 0.9, method="ig"),
                ],
            )
        ).verdict
        == "fail"
    )
    # the same planted shortcut seen through a method that holds is a finding that fails
    assert judged(-0.2, 0.9, 0.1).verdict == "fail"
    assert judged(0.1, 0.1, 0.9).verdict == "fail"
    # twin: every method holds and every share is low: pass, nothing qualified
    clean = judged(-0.2, 0.1, 0.1)
    assert clean.verdict == "pass" and not any(m.qualified for m in clean.metrics)


def test_the_decision_reads_findings_alone():
    from reportkit import make_report

    report = make_report()
    d = report.decision
    assert d is not None and d.level == "blocking_findings"
    assert d.headline.endswith("blocking findings") and d.reasons
    assert "use_ci" in d.rule and "inconclusive" in d.rule
    lenient = Policy.from_mapping(
        {"rules": {"performance.accuracy": {"min": 0.5}}, "outcomes": {"error": "warn"}}
    ).apply(report)
    assert lenient.decision.level == "conditions"  # the crashed section is a condition
    assert any("crashed" in c for c in lenient.decision.conditions)
    clean = Policy.from_mapping({"rules": {"performance.accuracy": {"min": 0.5}}}).apply(
        make_report(broken=False)
    )
    assert clean.decision.level == "no_blocking_findings", clean.decision
    assert clean.verdict == "pass"


def test_the_recorded_policy_is_whole_and_hashed():
    pol = Policy.default()
    rec = pol.to_json()
    assert set(rec) == {"source", "outcomes", "rules", "sha256"}
    assert len(rec["rules"]) == len(pol.rules) and len(rec["sha256"]) == 64
    same = Policy.from_mapping({"rules": rec["rules"], "outcomes": rec["outcomes"]}, source="x")
    assert same.sha256 == pol.sha256  # the hash covers the rules, not where they came from
    other = Policy.from_mapping({"rules": {**rec["rules"], "performance.accuracy": {"min": 0.5}}})
    assert other.sha256 != pol.sha256


def test_default_policy_loads():
    pol = Policy.default()
    assert pol.rule_for("performance", "accuracy").min == 0.8


def test_the_default_policy_is_the_rules_the_registered_checks_declare():
    """Each built-in check's rules come from the policy.yaml beside it, in report order; a check
    registered at run time brings its own rules, and takes them away when it goes."""
    from dataclasses import dataclass
    from pathlib import Path
    from typing import ClassVar

    from rai_audit.audit.core.checks import CHECKS, Check, all_checks
    from rai_audit.audit.core.yaml_safe import load_yaml

    pol = Policy.default()
    root = Path(__file__).resolve().parents[1] / "audit"
    expected = []
    for name in all_checks():
        text = (root / name / "policy.yaml").read_text(encoding="utf-8")
        expected += list(load_yaml(text, name)["rules"])
    assert [r.metric for r in pol.rules] == expected
    assert len(expected) == 21

    @dataclass(frozen=True, kw_only=True)
    class Coverage(Check):
        name: ClassVar[str] = "coverage"
        title: ClassVar[str] = "Coverage"
        rules = {"coverage.share": {"min": 0.9, "severity": "warn"}}  # noqa: RUF012

        @classmethod
        def default_policy(cls):
            return cls.rules

        def run(self, target, *, seed, artifacts):
            raise NotImplementedError

    CHECKS.register(Coverage)
    try:
        with_plugin = Policy.default()
        assert with_plugin.rule_for("coverage", "share").min == 0.9
        assert with_plugin.rule_for("coverage", "share").severity == "warn"
        assert with_plugin.rules[: len(pol.rules)] == pol.rules
        Coverage.rules = {"performance.accuracy": {"min": 0.1}}  # not its own metric
        with pytest.raises(InvalidConfigError, match="check 'coverage' declares the default rule"):
            Policy.default()
    finally:
        CHECKS.unregister("coverage")
    assert Policy.default() == pol


def test_rai_audit_policy_prints_the_default_policy_as_a_policy_file(tmp_path, capsys):
    from rai_audit.audit.cli import main

    assert main(["policy"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "p.yaml").write_text(text)
    printed = Policy.load(tmp_path / "p.yaml")
    assert printed.sha256 == Policy.default().sha256
    assert text.startswith(f"# the default policy, sha256 {printed.sha256}")


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


def test_the_cover_lists_at_most_five_of_each_kind_then_how_many_more():
    """Planted: seven blocking reasons; the cover shows five and 'and 2 more'. Twin: three
    show whole, with no 'more' line; the terminal's full list is kept (limit=None)."""
    from reportkit import make_report

    from rai_audit.reports import narrative
    from rai_audit.reports.schema import Decision

    report = make_report()
    many = report.model_copy(
        update={
            "decision": Decision(
                level="blocking_findings",
                headline="m: blocking findings",
                reasons=[f"performance.m{i}: violated" for i in range(7)],
            )
        }
    )
    _, _, lines = narrative.decision_lines(many)
    assert [t for k, t in lines if k == "blocking"][-1] == "and 2 more (see the scorecard)"
    assert len(lines) == 6
    assert len(narrative.decision_lines(many, limit=None)[2]) == 7
    few = many.model_copy(
        update={"decision": many.decision.model_copy(update={"reasons": ["a", "b", "c"]})}
    )
    assert [t for _, t in narrative.decision_lines(few)[2]] == ["a", "b", "c"]
