"""Policies: thresholds on metrics that turn numbers into verdicts.

A policy file (YAML)::

    version: 1
    rules:
      performance.accuracy: {min: 0.90, severity: fail}
      performance.ece:      {max: 0.05, severity: warn}
      fairness.equalized_odds_difference: {max: 0.1, severity: fail, use_ci: true}

Each key is ``<section>.<metric>``; rules may also be grouped by section
(``performance: {accuracy: {min: 0.9}, ece: {max: 0.05}}``). ``min``/``max`` bound the value; ``severity`` is ``fail``
(the gate fails) or ``warn`` (reported, the gate still passes); with ``use_ci: true`` the whole
confidence interval must satisfy the bound (``ci_low >= min``, ``ci_high <= max``), which is the
conservative reading. A metric with no rule gets no verdict. A section's verdict is its worst
metric verdict (``error`` if it crashed); the run's verdict is the worst section verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from audit.core.yaml_safe import load_yaml
from models.errors import InvalidConfigError
from reports.schema import AuditReport, Metric, ResultBase, Threshold, Verdict, worst_verdict

_RULE_KEYS = {"min", "max", "severity", "use_ci"}


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

    def verdict(self, m: Metric) -> Verdict:
        """``pass`` if the bound holds, else the rule's severity; ``error`` if undefined."""
        if m.value is None:
            return "error"
        low = m.ci_low if (self.use_ci and m.ci_low is not None) else m.value
        high = m.ci_high if (self.use_ci and m.ci_high is not None) else m.value
        ok = (self.min is None or low >= self.min) and (self.max is None or high <= self.max)
        return "pass" if ok else self.severity

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

    @classmethod
    def from_mapping(cls, data: Any, source: str = "inline") -> Policy:
        if data is None:
            return cls((), source)
        if not isinstance(data, Mapping):
            raise InvalidConfigError(
                f"policy {source}: expected a mapping with 'rules', got {type(data).__name__}"
            )
        unknown = sorted(set(data) - {"version", "rules"})
        if unknown:
            raise InvalidConfigError(
                f"policy {source}: unknown top-level key(s) {unknown}; expected version, rules"
            )
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
        return cls(tuple(rules), source)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        p = Path(path)
        if not p.is_file():
            raise InvalidConfigError(f"policy file {str(p)!r} does not exist")
        data = load_yaml(p.read_text(encoding="utf-8"), f"policy file {str(p)!r}")
        return cls.from_mapping(data, source=str(p))

    @classmethod
    def default(cls) -> Policy:
        """The documented default policy shipped as ``audit/gate/default_policy.yaml``."""
        text = resources.files("audit.gate").joinpath("default_policy.yaml").read_text("utf-8")
        return cls.from_mapping(load_yaml(text, "the default policy"), source="default")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rules": {
                r.metric: {"min": r.min, "max": r.max, "severity": r.severity, "use_ci": r.use_ci}
                for r in self.rules
            },
        }

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
        """The result with verdicts from this policy (metrics without a rule get none)."""
        if result.status == "error":
            return result.model_copy(update={"verdict": "error"})
        if result.status == "skipped":
            return result.model_copy(update={"verdict": "skipped"})
        metrics = []
        for m in result.metrics:
            rule = self.rule_for(result.kind, m.name)
            if rule is None:
                metrics.append(m.model_copy(update={"verdict": None, "threshold": None}))
            else:
                metrics.append(
                    m.model_copy(update={"verdict": rule.verdict(m), "threshold": rule.threshold()})
                )
        verdict = worst_verdict([m.verdict for m in metrics]) or "pass"
        return result.model_copy(update={"metrics": metrics, "verdict": verdict})

    def apply(self, report: AuditReport) -> AuditReport:
        """The report with every verdict recomputed under this policy."""
        results = [self.apply_to_result(r) for r in report.results]
        manifest = report.manifest.model_copy(update={"policy": self.to_json()})
        return report.model_copy(
            update={
                "results": results,
                "manifest": manifest,
                "verdict": worst_verdict([r.verdict for r in results]) or "pass",
            }
        )

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
