"""The audit report: a versioned, JSON-serializable contract between the audit and its renderers.

``AuditReport`` holds a :class:`Manifest` (who, what, when, with which seeds, versions and hashes)
and one result per check. Each result is a frozen pydantic model with a ``kind`` discriminator;
every result shares the generic fields (metrics, tables, figures, verdict) that the generic
renderers show, and adds typed detail of its own. Figures and large arrays are files under
``artifacts/`` referenced by relative path and sha256.

This module imports only pydantic and the standard library: renderers and the dashboard can read
any saved run without torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A table cell: JSON scalars only.
Cell = str | float | int | bool | None

SCHEMA_VERSION: Final = "1.3"

#: What the policy makes of the evidence. ``not_assessable``: a section whose gated findings
#: could not be computed (too little data); it never counts as ``pass``.
Verdict = Literal["pass", "warn", "fail", "error", "skipped", "not_assessable"]
VERDICT_ORDER: dict[str, int] = {
    "skipped": 0,
    "pass": 1,
    "not_assessable": 2,
    "warn": 3,
    "fail": 4,
    "error": 5,
}
#: What the evidence shows about one gated metric, before the policy weighs it: ``pass`` (the
#: bound holds; with ``use_ci`` for the whole interval), ``fail`` (violated; with ``use_ci`` by
#: the whole interval), ``inconclusive`` (the interval straddles the bound), ``not_assessable``
#: (no value: too little data to compute it).
Outcome = Literal["pass", "fail", "inconclusive", "not_assessable"]
#: A finding is about the model; a caveat is about the audit's own method.
About = Literal["model", "method"]
#: The reviewer's reading of a whole run.
DecisionLevel = Literal["no_blocking_findings", "conditions", "blocking_findings"]


def worst_verdict(verdicts: Sequence[str | None]) -> Verdict | None:
    """The most severe verdict (error > fail > warn > not_assessable > pass > skipped); None if
    none given."""
    present = [v for v in verdicts if v is not None]
    if not present:
        return None
    worst: str = max(present, key=lambda v: VERDICT_ORDER[v])
    return worst  # type: ignore[return-value]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Threshold(_Frozen):
    """A policy rule as applied to one metric."""

    min: float | None = None
    max: float | None = None
    severity: Literal["fail", "warn"] = "fail"
    use_ci: bool = False
    rule: str = ""


class Metric(_Frozen):
    """One number with its uncertainty, direction, meaning and (once a policy is applied) verdict.

    ``value`` is None when the metric is undefined (never NaN). ``ci_low``/``ci_high`` bound a
    confidence interval at ``ci_level`` computed by ``ci_method``. ``n`` rows of ``subset`` (a
    split, or a named part of one) were used.

    ``about`` says what the number is evidence on: ``model`` (a *finding*: accuracy, robust
    accuracy, masking, leakage, disparity, a shortcut) or ``method`` (a *caveat* about the audit's
    own method ``method``: an explanation not sensitive to the model, an attack that did not
    converge). Once a policy applies, ``outcome`` is what the evidence shows and ``verdict`` what
    the policy makes of it; only findings get a verdict. A finding that rests on a method whose
    caveat did not hold is ``qualified`` by it (the caveat, in words): its outcome can only move
    towards ``inconclusive``, never to ``pass``, and it keeps its value and its verdict.
    ``set_aside`` is read from reports written before 1.2, which dropped such findings.
    """

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    ci_method: str | None = None
    n: int | None = None
    higher_is_better: bool | None = None
    unit: str | None = None
    description: str = ""
    about: About = "model"
    method: str | None = None
    subset: str | None = None
    outcome: Outcome | None = None
    verdict: Verdict | None = None
    threshold: Threshold | None = None
    set_aside: str | None = None
    qualified: str | None = None

    _finite = field_validator("value", "ci_low", "ci_high", mode="before")(
        classmethod(lambda cls, v: _finite_or_none(v))
    )


class Table(_Frozen):
    """A small table for the report: header row and data rows of JSON scalars."""

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    description: str = ""

    @field_validator("rows", mode="before")
    @classmethod
    def _clean(cls, rows: Any) -> Any:
        return [[_finite_or_none(c) for c in row] for row in rows]


class Artifact(_Frozen):
    """A file under the run folder, by relative POSIX path and sha256 of its bytes."""

    path: str
    sha256: str
    caption: str = ""
    media_type: str = "image/png"


class Compute(_Frozen):
    """What a check cost: wall time, device, and peak resident memory growth (sampled)."""

    wall_time_s: float
    device: str
    peak_rss_mb: float | None = None


class ResultBase(_Frozen):
    """Fields every check result has; subclasses fix ``kind`` and add typed detail."""

    kind: str
    title: str
    status: Literal["ok", "error", "skipped"] = "ok"
    summary: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: list[Metric] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    figures: list[Artifact] = Field(default_factory=list)
    arrays: list[Artifact] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    verdict: Verdict | None = None
    compute: Compute | None = None
    #: what this check could not assess on this target, each as ``metric: reason and fix``
    #: (a setup limit, e.g. no known training rows for the train-test gap): listed on the
    #: decision's "not assessed" line, never a finding (schema 1.3)
    not_assessed: list[str] = Field(default_factory=list)

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(
            f"{self.kind} has no metric {name!r}; it has {[m.name for m in self.metrics]}"
        )


class ReliabilityBin(_Frozen):
    """One confidence bin of a reliability diagram."""

    lower: float
    upper: float
    count: int
    confidence: float | None
    accuracy: float | None


class PerformanceResult(ResultBase):
    """Predictive performance on the test split, calibration, and the train-test gap."""

    kind: Literal["performance"] = "performance"
    class_names: list[str] = Field(default_factory=list)
    confusion_matrix: list[list[int]] = Field(default_factory=list)
    reliability: list[ReliabilityBin] = Field(default_factory=list)


class ExplainerSummary(_Frozen):
    """One explanation method as run in the audit."""

    method: str
    status: Literal["ok", "error", "skipped"]
    error: str | None = None
    wall_time_s: float | None = None
    n_explained: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class CurvePoint(_Frozen):
    x: float
    y: float | None


class ExplainabilityResult(ResultBase):
    """Explanation methods, and how far each can be trusted (faithfulness, sanity, stability)."""

    kind: Literal["explainability"] = "explainability"
    methods: list[ExplainerSummary] = Field(default_factory=list)
    sanity: dict[str, list[CurvePoint]] = Field(default_factory=dict)
    sanity_independent: dict[str, list[CurvePoint]] = Field(default_factory=dict)
    deletion: dict[str, list[CurvePoint]] = Field(default_factory=dict)
    insertion: dict[str, list[CurvePoint]] = Field(default_factory=dict)
    global_importance: list[dict[str, Any]] = Field(default_factory=list)


class CurveBand(_Frozen):
    """A point of a curve with its confidence band."""

    x: float
    y: float | None
    low: float | None = None
    high: float | None = None


class MaskingCheck(_Frozen):
    """One test of whether a robustness number can be believed (Carlini et al., 2019)."""

    name: str
    passed: bool
    value: float | None
    threshold: str
    meaning: str


class DefenseRow(_Frozen):
    """Clean and robust accuracy of one (defended) model at the headline epsilon."""

    model: str
    clean_accuracy: float
    naive_robust_accuracy: float | None = None
    adaptive_robust_accuracy: float | None = None
    note: str = ""


class RobustnessResult(ResultBase):
    """Adversarial robustness: attacks, curves, masking checks and defenses."""

    kind: Literal["robustness"] = "robustness"
    norm: str = "inf"
    input_space: str = "pixels [0, 1]"
    eps: float = 0.0
    verified: bool = False
    unverified_reasons: list[str] = Field(default_factory=list)
    curves: dict[str, list[CurveBand]] = Field(default_factory=dict)
    masking: list[MaskingCheck] = Field(default_factory=list)
    defenses: list[DefenseRow] = Field(default_factory=list)


class PrivacyResult(ResultBase):
    """Membership inference: every attack tier side by side, TPR at low FPR first."""

    kind: Literal["privacy"] = "privacy"
    n_members: int = 0
    n_nonmembers: int = 0
    min_resolvable_fpr: float | None = None
    strongest: str = ""
    roc: dict[str, list[CurvePoint]] = Field(default_factory=dict)
    shadow: dict[str, Any] = Field(default_factory=dict)


class MitigationRow(_Frozen):
    """One mitigation (or the unmitigated model) evaluated on held-out data."""

    method: str
    status: Literal["ok", "error", "skipped"] = "ok"
    accuracy: float | None = None
    accuracy_cost: float | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    wall_time_s: float | None = None
    note: str = ""


class FairnessResult(ResultBase):
    """Group fairness: per-group rates with intervals, the definitions side by side, where they
    conflict, the data's representation and proxies, and mitigations."""

    kind: Literal["fairness"] = "fairness"
    split: str = "test"
    positive_class: str = ""
    favorable_class: str = ""
    decision_rule: str = ""
    features: list[str] = Field(default_factory=list)
    groups: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    calibration: dict[str, dict[str, list[dict[str, Any]]]] = Field(default_factory=dict)
    conflicts: list[str] = Field(default_factory=list)
    mitigation_feature: str | None = None
    mitigations: list[MitigationRow] = Field(default_factory=list)


class ErrorResult(ResultBase):
    """A check that raised: the audit goes on and the gates see ``verdict='error'``."""

    kind: Literal["error"] = "error"
    check: str
    status: Literal["ok", "error", "skipped"] = "error"
    verdict: Verdict | None = "error"


class SkippedResult(ResultBase):
    """A check that did not apply to this target (the reason is in ``summary``)."""

    kind: Literal["skipped"] = "skipped"
    check: str
    status: Literal["ok", "error", "skipped"] = "skipped"
    verdict: Verdict | None = "skipped"


BUILTIN_KINDS = (
    "performance",
    "explainability",
    "robustness",
    "privacy",
    "fairness",
    "error",
    "skipped",
)


class PluginResult(ResultBase):
    """The result of a check that a plugin registers: the fields every result has, and any
    further JSON fields the check records (kept as they are, so they round-trip through
    ``report.json``). A plugin check returns this class or a subclass with its own ``kind``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    check: str = ""
    #: what the section measures and the limits of its numbers, shown above it in every
    #: rendering (the runner fills it from the check's ``guide``)
    guide: list[str] = Field(default_factory=list)

    @field_validator("kind")
    @classmethod
    def _not_builtin(cls, kind: str) -> str:
        if kind in BUILTIN_KINDS:
            raise ValueError(f"kind {kind!r} belongs to a built-in result")
        return kind


_BuiltinResult = Annotated[
    PerformanceResult
    | ExplainabilityResult
    | RobustnessResult
    | PrivacyResult
    | FairnessResult
    | ErrorResult
    | SkippedResult,
    Field(discriminator="kind"),
]
#: A built-in result by its ``kind``, else a plugin's.
CheckResult = Annotated[_BuiltinResult | PluginResult, Field(union_mode="left_to_right")]


class ModelInfo(_Frozen):
    name: str
    arch: str
    source: str
    path: str | None = None
    sha256: str
    parameters: int | None = None
    class_names: list[str] = Field(default_factory=list)
    input_shape: list[int] = Field(default_factory=list)
    train_config: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    trust: dict[str, Any] = Field(default_factory=dict)
    """How far the model file was trusted (``format``, ``policy``, ``widened``, ``widened_by``)."""


class DataInfo(_Frozen):
    name: str
    kind: str
    sha256: str
    split_seed: int | None = None
    split_sizes: dict[str, int] = Field(default_factory=dict)
    sensitive_features: list[str] = Field(default_factory=list)
    sensitive_in_features: dict[str, bool] = Field(default_factory=dict)
    source: str = ""
    #: the class order every metric uses: class ``i`` is ``class_names[i]``
    class_names: list[str] = Field(default_factory=list)
    #: where the split came from (``suite``, ``given``, ``checkpoint``, ``declared``,
    #: ``evaluation``) and the same in words; empty in reports before schema 1.3
    split_origin: str = ""
    split_source: str = ""


class Manifest(_Frozen):
    """Everything needed to reproduce or trust the run."""

    run_id: str
    created_at: str
    seed: int
    budget: str
    command: str
    versions: dict[str, str]
    platform: dict[str, str]
    device: str
    model: ModelInfo
    data: DataInfo
    config: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] | None = None
    wall_time_s: float | None = None


class Decision(_Frozen):
    """The reviewer's reading of a run, from its findings alone.

    ``level``: ``blocking_findings`` (a finding the policy fails), ``conditions`` (findings that
    warn, are inconclusive or could not be assessed) or ``no_blocking_findings``. ``reasons`` are
    the blocking findings, most severe first; ``conditions`` the rest; ``caveats`` the audit's
    own methods that did not hold, with what cannot rest on them; ``not_assessed`` the sections
    that could not be set up or applied (a setup problem is never a finding), each with its
    reason and fix.
    """

    level: DecisionLevel
    headline: str
    reasons: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    not_assessed: list[str] = Field(default_factory=list)
    rule: str = ""


class AuditReport(_Frozen):
    """A whole audit run. Serialized as ``report.json``."""

    schema_version: Literal["1.0", "1.1", "1.2", "1.3"] = SCHEMA_VERSION
    manifest: Manifest
    results: list[CheckResult]
    verdict: Verdict | None = None
    decision: Decision | None = None

    def result(self, kind: str) -> ResultBase:
        for r in self.results:
            if r.kind == kind or getattr(r, "check", None) == kind:
                return r
        raise KeyError(f"report has no {kind!r} result; it has {[r.kind for r in self.results]}")
