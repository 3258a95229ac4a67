"""Policies: thresholds on metrics that turn evidence into verdicts, and a run into a decision.

A policy file (YAML)::

    version: 1
    outcomes: {inconclusive: warn, not_assessable: warn, error: fail}
    rules:
      performance.accuracy: {min: 0.90, severity: fail}
      performance.ece:      {max: 0.05, severity: warn}
      fairness.equalized_odds_difference: {max: 0.1, severity: fail, use_ci: true}

Each key is ``<section>.<metric>``; rules may also be grouped by section
(``performance: {accuracy: {min: 0.9}, ece: {max: 0.05}}``), and ``*`` matches one name part.

Each gated metric first gets an *outcome* from the evidence (see :data:`OUTCOME_RULE`):
``pass``, ``fail``, ``inconclusive`` or ``not_assessable``. Only *findings* (metrics about the
model) then get a *verdict*: ``pass``, the rule's ``severity`` for ``fail``, and what
``outcomes`` says for ``inconclusive`` and ``not_assessable`` (``warn`` or ``fail``; never
``pass``). *Caveats* (metrics about the audit's own method) get an outcome only; a caveat whose
outcome is ``fail`` or ``inconclusive`` qualifies the section's findings that rest on that method:
they keep their value, and their outcome moves to ``inconclusive`` (never to ``pass``).
A section's verdict is its worst finding verdict; ``not_assessable`` when it has gated findings
but none could be assessed; none when no rule gates any of its findings; ``error`` if it
crashed. The run's :class:`~reports.schema.Decision` reads the findings alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rai_audit.audit.core.yaml_safe import load_yaml
from rai_audit.models.errors import InvalidConfigError
from rai_audit.reports.schema import (
    AuditReport,
    Decision,
    Metric,
    Outcome,
    ResultBase,
    Threshold,
    Verdict,
    worst_verdict,
)

_RULE_KEYS = {"min", "max", "severity", "use_ci"}
_OUTCOME_KEYS = ("inconclusive", "not_assessable", "error")
DEFAULT_OUTCOMES: dict[str, str] = {
    "inconclusive": "warn",
    "not_assessable": "warn",
    "error": "fail",
}

#: How evidence becomes an outcome; stated in every report's decision.
OUTCOME_RULE = (
    "A gated metric passes when its value satisfies the bound and fails when it does not; with "
    "use_ci, pass needs the whole confidence interval inside the bound and fail needs the whole "
    "interval beyond it, and an interval that straddles the bound is inconclusive. A metric with "
    "no value (too little data) is not assessable. Only findings about the model decide "
    "verdicts; inconclusive and not assessable findings count as the policy's 'outcomes' say, "
    "never as pass."
)


def _wildcard(name: str) -> re.Pattern[str]:
    return re.compile(
        ".".join("[^.]+" if part == "*" else re.escape(part) for part in name.split("."))
    )


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A bound on one metric, ``<section>.<metric>``."""

    metric: str
    min: float | None = None
    max: float | None = None
    severity: Literal["fail", "warn"] = "fail"
    use_ci: bool = False

    def __post_init__(self) -> None:
        if self.metric.count(".") < 1 or not all(self.metric.split(".", 1)):
            raise InvalidConfigError(
                f"policy rule {self.metric!r} must be named <section>.<metric>, "
                "e.g. performance.accuracy"
            )
        if self.min is None and self.max is None:
            raise InvalidConfigError(f"policy rule {self.metric!r} needs min, max or both")
        for key in ("min", "max"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InvalidConfigError(
                    f"policy rule {self.metric!r}: {key} must be a number, got {v!r}"
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidConfigError(
                f"policy rule {self.metric!r}: min {self.min} is above max {self.max}"
            )
        if self.severity not in ("fail", "warn"):
            raise InvalidConfigError(
                f"policy rule {self.metric!r}: severity must be 'fail' or 'warn', "
                f"got {self.severity!r}"
            )
        if not isinstance(self.use_ci, bool):
            raise InvalidConfigError(
                f"policy rule {self.metric!r}: use_ci must be true or false, got {self.use_ci!r}"
            )

    @property
    def section(self) -> str:
        return self.metric.split(".", 1)[0]

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return f"{self.metric} {' and '.join(parts)}"

    def outcome(self, m: Metric) -> Outcome:
        """What the evidence shows (:data:`OUTCOME_RULE`)."""
        if m.value is None:
            return "not_assessable"
        if self.use_ci and m.ci_low is not None and m.ci_high is not None:
            low, high, with_ci = m.ci_low, m.ci_high, True
        else:
            low = high = m.value
            with_ci = False
        inside = (self.min is None or low >= self.min) and (self.max is None or high <= self.max)
        if inside:
            return "pass"
        beyond = (self.min is not None and high < self.min) or (
            self.max is not None and low > self.max
        )
        return "fail" if beyond or not with_ci else "inconclusive"

    def threshold(self) -> Threshold:
        return Threshold(
            min=self.min,
            max=self.max,
            severity=self.severity,
            use_ci=self.use_ci,
            rule=self.describe(),
        )


def _flatten_sections(raw: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Rules as ``(<section>.<metric>, spec)``; a key without a dot is a section whose value maps
    metrics to bounds (``performance: {accuracy: {min: 0.9}}``)."""
    out = []
    for key, spec in raw.items():
        key = str(key)
        if "." not in key and isinstance(spec, Mapping) and not (set(spec) & _RULE_KEYS):
            out += [(f"{key}.{metric}", sub) for metric, sub in spec.items()]
        else:
            out.append((key, spec))
    return out


@dataclass(frozen=True)
class Policy:
    """A set of rules, keyed by ``<section>.<metric>``."""

    rules: tuple[Rule, ...] = ()
    source: str = "inline"
    outcomes: tuple[tuple[str, str], ...] = tuple(DEFAULT_OUTCOMES.items())

    def counts_as(self, what: str) -> Verdict:
        """The verdict ``inconclusive``, ``not_assessable`` or ``error`` counts as."""
        return dict(self.outcomes)[what]  # type: ignore[return-value]

    @classmethod
    def from_mapping(cls, data: Any, source: str = "inline") -> Policy:
        if data is None:
            return cls((), source)
        if not isinstance(data, Mapping):
            raise InvalidConfigError(
                f"policy {source}: expected a mapping with 'rules', got {type(data).__name__}"
            )
        unknown = sorted(set(data) - {"version", "rules", "outcomes"})
        if unknown:
            raise InvalidConfigError(
                f"policy {source}: unknown top-level key(s) {unknown}; expected version, "
                "outcomes, rules"
            )
        outcomes = _outcomes(data.get("outcomes"), source)
        if data.get("version", 1) != 1:
            raise InvalidConfigError(f"policy {source}: version must be 1, got {data['version']!r}")
        raw_rules = data.get("rules") or {}
        if not isinstance(raw_rules, Mapping):
            raise InvalidConfigError(
                f"policy {source}: 'rules' must map <section>.<metric> to a bound, e.g. "
                "performance.accuracy: {min: 0.9}"
            )
        rules = []
        for metric, spec in _flatten_sections(raw_rules):
            if not isinstance(spec, Mapping):
                raise InvalidConfigError(
                    f"policy {source}: rule {metric!r} must be a mapping like {{min: 0.9}}, "
                    f"got {spec!r}"
                )
            bad = sorted(set(spec) - _RULE_KEYS)
            if bad:
                raise InvalidConfigError(
                    f"policy {source}: rule {metric!r} has unknown key(s) {bad}; allowed: "
                    f"{sorted(_RULE_KEYS)}"
                )
            rules.append(Rule(metric=str(metric), **dict(spec)))
        return cls(tuple(rules), source, outcomes)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        p = Path(path)
        if not p.is_file():
            raise InvalidConfigError(f"policy file {str(p)!r} does not exist")
        data = load_yaml(p.read_text(encoding="utf-8"), f"policy file {str(p)!r}")
        return cls.from_mapping(data, source=str(p))

    @classmethod
    def default(cls) -> Policy:
        """The default policy: how rules are read and what outcomes count as, from
        ``audit/gate/default_policy.yaml``, and the rules every registered check declares
        (:meth:`Check.default_policy <audit.core.checks.Check.default_policy>`), in report order.

        Raises:
            InvalidConfigError: a check declares a rule about another check's metrics.
        """
        from rai_audit.audit.core.checks import all_checks  # noqa: PLC0415

        text = (
            resources.files("rai_audit.audit.gate")
            .joinpath("default_policy.yaml")
            .read_text("utf-8")
        )
        data = load_yaml(text, "the default policy")
        rules: dict[str, Any] = {}
        for name, check in all_checks().items():
            for metric, spec in _flatten_sections(check.default_policy()):
                if metric.split(".", 1)[0] != name or "." not in metric:
                    raise InvalidConfigError(
                        f"check {name!r} declares the default rule {metric!r}: a check's rules "
                        f"are about its own metrics, named {name}.<metric>"
                    )
                rules[metric] = spec
        return cls.from_mapping({**data, "rules": rules}, source="default")

    def to_json(self) -> dict[str, Any]:
        """The whole policy as the report records it, with the sha256 of its canonical form."""
        body = {
            "outcomes": dict(self.outcomes),
            "rules": {
                r.metric: {"min": r.min, "max": r.max, "severity": r.severity, "use_ci": r.use_ci}
                for r in self.rules
            },
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return {
            "source": self.source,
            **body,
            "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        }

    @property
    def sha256(self) -> str:
        return str(self.to_json()["sha256"])

    def rule_for(self, section: str, metric: str) -> Rule | None:
        """The rule for ``section.metric``: an exact rule first, else the first wildcard rule
        (``*`` matches within one name part, e.g. ``explainability.*.marker_share``)."""
        key = f"{section}.{metric}"
        for r in self.rules:
            if r.metric == key:
                return r
        for r in self.rules:
            if "*" in r.metric and _wildcard(r.metric).fullmatch(key):
                return r
        return None

    def apply_to_result(self, result: ResultBase) -> ResultBase:
        """The result with outcomes and verdicts from this policy: findings get verdicts,
        caveats outcomes, and findings resting on a method whose caveat did not hold are
        qualified, inconclusive at best (metrics without a rule get neither)."""
        if result.status == "error":
            return result.model_copy(update={"verdict": "error"})
        if result.status == "skipped":
            return result.model_copy(update={"verdict": "skipped"})
        judged: list[tuple[Metric, Rule | None, Outcome | None]] = []
        for m in result.metrics:
            rule = self.rule_for(result.kind, m.name)
            judged.append((m, rule, rule.outcome(m) if rule is not None else None))
        failing = _failing_methods(judged)
        metrics = []
        for m, rule, outcome in judged:
            update: dict[str, Any] = {
                "outcome": outcome,
                "threshold": rule.threshold() if rule is not None else None,
                "verdict": None,
                "set_aside": None,
                "qualified": None,
            }
            if rule is not None and outcome is not None and m.about == "model":
                if m.method is not None and m.method in failing:
                    # a caveat qualifies the finding: never deletes it, never lets it pass
                    update["qualified"] = (
                        f"rests on {m.method}, which did not hold here ({failing[m.method]})"
                    )
                    if outcome in ("pass", "fail"):
                        update["outcome"] = outcome = "inconclusive"
                update["verdict"] = self._verdict(rule, outcome)
            metrics.append(m.model_copy(update=update))
        return result.model_copy(update={"metrics": metrics, "verdict": _section_verdict(metrics)})

    def _verdict(self, rule: Rule, outcome: Outcome) -> Verdict:
        if outcome == "pass":
            return "pass"
        if outcome == "fail":
            return rule.severity
        return self.counts_as(outcome)

    def apply(self, report: AuditReport) -> AuditReport:
        """The report with every verdict recomputed under this policy, and its decision."""
        results = [self.apply_to_result(r) for r in report.results]
        manifest = report.manifest.model_copy(update={"policy": self.to_json()})
        counted = [self._counted(r.verdict) for r in results]
        out = report.model_copy(
            update={
                "results": results,
                "manifest": manifest,
                "verdict": worst_verdict(counted) or "pass",
            }
        )
        return out.model_copy(update={"decision": self.decide(out)})

    def _counted(self, verdict: Verdict | None) -> Verdict | None:
        """A section verdict as the gate counts it: ``error`` and ``not_assessable`` as the
        policy's outcomes say."""
        if verdict == "error":  # shown as error when it blocks
            return "error" if self.counts_as("error") == "fail" else "warn"
        if verdict == "not_assessable":
            return self.counts_as(verdict)
        return verdict

    def decide(self, report: AuditReport) -> Decision:
        """Blocking findings, conditions and caveats of a report this policy was applied to."""
        blocking: list[tuple[int, int, str]] = []
        conditions: list[tuple[int, int, str]] = []
        caveats: list[str] = []
        not_assessed: list[str] = []
        for order, r in enumerate(report.results):
            section = str(getattr(r, "check", None) or r.kind)
            if r.status == "skipped":
                not_assessed.append(f"{section}: {r.summary.rstrip('.')}")
                continue
            if r.status == "error":
                line = f"{section}: the check crashed, nothing was assessed ({r.error or ''})"
                (blocking if self.counts_as("error") == "fail" else conditions).append(
                    (1, order, line.strip())
                )
                continue
            if r.status != "ok":
                continue
            not_assessed += [f"{section}.{item.rstrip('.')}" for item in r.not_assessed]
            for m in r.metrics:
                if m.about == "method" and m.outcome in ("fail", "inconclusive"):
                    caveats.append(f"{section}.{m.name}: {_evidence(m)}{_rests(r, m)}")
                if m.verdict in ("fail", "warn"):
                    line = f"{section}.{m.name}: {_evidence(m)}"
                    rank = (2, order, line)  # findings before crashes and gaps
                    (blocking if m.verdict == "fail" else conditions).append(rank)
            if r.verdict == "not_assessable":
                line = f"{section}: no finding could be assessed ({r.summary.rstrip('.')})"
                (blocking if self.counts_as("not_assessable") == "fail" else conditions).append(
                    (0, order, line)
                )
        blocking.sort(key=lambda t: (-t[0], t[1]))
        conditions.sort(key=lambda t: (-t[0], t[1]))
        name = report.manifest.model.name
        if blocking:
            level, headline = "blocking_findings", f"{name}: blocking findings"
        elif conditions:
            level, headline = "conditions", f"{name}: conditions"
        else:
            level, headline = "no_blocking_findings", f"{name}: no blocking findings"
        return Decision(
            level=level,  # type: ignore[arg-type]
            headline=headline,
            reasons=[t[2] for t in blocking],
            conditions=[t[2] for t in conditions],
            caveats=caveats,
            not_assessed=not_assessed,
            rule=OUTCOME_RULE,
        )

    def validate(
        self, known: Mapping[str, frozenset[str] | None], *, allow_empty: bool = False
    ) -> Policy:
        """This policy, once every rule names a check that exists and a metric it can report.

        Args:
            known: check name -> the metric leaves it declares (None: any), e.g.
                :func:`audit.core.checks.known_metrics`.
            allow_empty: accept a policy that gates nothing.

        Raises:
            InvalidConfigError: a policy that gates nothing (unless ``allow_empty``), or a rule
                whose section or metric is unknown, naming the closest known name.
        """
        if not self.rules and not allow_empty:
            raise InvalidConfigError(
                f"policy {self.source}: it gates nothing (no rules), so every audit would pass "
                "it; add rules such as performance.accuracy: {min: 0.9}, or pass "
                "--allow-empty-policy if that is what you want"
            )
        for rule in self.rules:
            section, rest = rule.metric.split(".", 1)
            if section not in known:
                raise InvalidConfigError(
                    f"policy {self.source}: rule {rule.metric!r} names no check {section!r}"
                    f"{closest_name(section, known)}; the checks are {', '.join(sorted(known))}"
                )
            leaves = known[section]
            leaf = rest.rsplit(".", 1)[-1]
            if leaves is not None and leaf != "*" and leaf not in leaves:
                raise InvalidConfigError(
                    f"policy {self.source}: rule {rule.metric!r}: check {section!r} reports no "
                    f"metric {leaf!r}{closest_name(leaf, leaves)}"
                )
        return self

    def unmatched(self, report: AuditReport) -> list[str]:
        """Rules whose section ran but that match none of its metrics (likely a typo)."""
        out = []
        kinds = {r.kind: r for r in report.results}
        for rule in self.rules:
            res = kinds.get(rule.section)
            if res is None:
                continue
            pattern = _wildcard(rule.metric)
            if not any(pattern.fullmatch(f"{res.kind}.{m.name}") for m in res.metrics):
                out.append(rule.metric)
        return out


def closest_name(name: str, known: Any) -> str:
    """``; did you mean 'x'?`` for the known name closest to ``name``, or nothing."""
    import difflib  # noqa: PLC0415

    near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def _outcomes(raw: Any, source: str) -> tuple[tuple[str, str], ...]:
    """``outcomes: {inconclusive: warn, not_assessable: warn, error: fail}``; none may pass."""
    if raw is None:
        return tuple(DEFAULT_OUTCOMES.items())
    if not isinstance(raw, Mapping):
        raise InvalidConfigError(
            f"policy {source}: 'outcomes' must map {', '.join(_OUTCOME_KEYS)} to warn or fail"
        )
    bad = sorted(set(map(str, raw)) - set(_OUTCOME_KEYS))
    if bad:
        raise InvalidConfigError(
            f"policy {source}: unknown outcome(s) {bad}; allowed: {', '.join(_OUTCOME_KEYS)}"
        )
    out = dict(DEFAULT_OUTCOMES)
    for key, value in raw.items():
        if value not in ("warn", "fail"):
            raise InvalidConfigError(
                f"policy {source}: outcome {key!r} must count as warn or fail (never pass), "
                f"got {value!r}"
            )
        out[str(key)] = str(value)
    return tuple(out.items())


def _failing_methods(judged: list[tuple[Metric, Rule | None, Outcome | None]]) -> dict[str, str]:
    """Methods with a caveat that failed or was inconclusive, and the first such caveat."""
    out: dict[str, str] = {}
    for m, _, outcome in judged:
        if m.about == "method" and m.method and outcome in ("fail", "inconclusive"):
            out.setdefault(m.method, f"{m.name} {outcome}")
    return out


def _section_verdict(metrics: list[Metric]) -> Verdict | None:
    """Worst finding verdict; ``not_assessable`` when findings are gated but none assessed;
    None when no rule gates a finding."""
    gated = [m for m in metrics if m.about == "model" and m.threshold is not None]
    if not gated:
        return None
    assessed = [m for m in gated if m.verdict is not None and m.outcome != "not_assessable"]
    if not assessed:
        return "not_assessable"
    return worst_verdict([m.verdict for m in gated])


def _evidence(m: Metric) -> str:
    value = "no value" if m.value is None else f"{m.value:.4g}"
    ci = (
        f" [{m.ci_low:.4g}, {m.ci_high:.4g}]"
        if m.ci_low is not None and m.ci_high is not None
        else ""
    )
    bound = m.threshold.rule.split(" ", 1)[-1] if m.threshold is not None else ""
    n = f", n={m.n}" if m.n is not None else ""
    said = _OUTCOME_TEXT.get(str(m.outcome), "")
    if m.qualified:  # inconclusive because of a caveat, not because of the interval
        said = f"inconclusive, {m.qualified}"
    return f"{value}{ci} against {bound}: {said}{n}"


_OUTCOME_TEXT = {
    "pass": "holds",
    "fail": "violated",
    "inconclusive": "the interval straddles the bound",
    "not_assessable": "not assessable",
}


def _rests(r: ResultBase, caveat: Metric) -> str:
    resting = [
        m.name for m in r.metrics if (m.qualified or m.set_aside) and m.method == caveat.method
    ]
    if not resting:
        return f"; conclusions drawn with {caveat.method} cannot rest on it"
    return f"; qualified (inconclusive at best): {', '.join(resting)}"
