"""Compare two runs metric by metric, and flag regressions against a baseline.

Each metric present in both runs gets its change and a direction: ``better`` or ``worse``
follow the metric's ``higher_is_better`` (a metric without a direction is ``changed``), and
``same`` when the change is within ``tolerance``. A regression is a ``worse`` change of more than
``tolerance`` (absolute) in a metric the policy gates (any metric with ``gated_only=False``), or a
section verdict that got more severe.

Two runs compare like with like only when they audit the same model (name and architecture) on
the same data (name and sha256): :func:`differences` says what differs, and the CLI and the
dashboard flag it (``check --baseline`` refuses it). New weights of the same model are the point
of a comparison, so a different model sha256 is reported, not refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from rai_audit.reports.schema import VERDICT_ORDER, AuditReport


@dataclass(frozen=True)
class MetricChange:
    section: str
    metric: str
    before: float | None
    after: float | None
    delta: float | None
    direction: str  # better | worse | same | changed | added | removed | undefined
    regression: bool


def _sections(report: AuditReport) -> dict[str, object]:
    return {str(getattr(r, "check", None) or r.kind): r for r in report.results}


def differences(before: AuditReport, after: AuditReport) -> list[str]:
    """What makes two runs not like with like: a different model (name or architecture) or
    different data (name or sha256), one line each; empty when they compare."""
    a, b = before.manifest, after.manifest
    out = []
    for what, x, y in (
        ("model", a.model.name, b.model.name),
        ("architecture", a.model.arch, b.model.arch),
        ("data", a.data.name, b.data.name),
        ("data sha256", a.data.sha256[:12], b.data.sha256[:12]),
    ):
        if x != y:
            out.append(f"{what} differs: {x!r} vs {y!r}")
    return out


def compare_reports(
    before: AuditReport,
    after: AuditReport,
    *,
    tolerance: float = 0.01,
    gated_only: bool = True,
) -> tuple[list[MetricChange], list[str]]:
    """Every metric's change from ``before`` to ``after``, and the sections whose verdict got
    more severe. ``tolerance`` is absolute, in the metric's unit. With ``gated_only``, only a
    metric a policy gates (it has a threshold in either run) can be a regression."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    a, b = _sections(before), _sections(after)
    changes: list[MetricChange] = []
    worse_sections = []
    for name in [*a, *(k for k in b if k not in a)]:
        ra, rb = a.get(name), b.get(name)
        va = getattr(ra, "verdict", None)
        vb = getattr(rb, "verdict", None)
        if (
            ra is not None
            and rb is not None
            and va in VERDICT_ORDER
            and vb in VERDICT_ORDER
            and VERDICT_ORDER[vb] > VERDICT_ORDER[va]
            and VERDICT_ORDER[vb] >= VERDICT_ORDER["warn"]
        ):
            worse_sections.append(f"{name}: {va} -> {vb}")
        ma = {m.name: m for m in getattr(ra, "metrics", [])}
        mb = {m.name: m for m in getattr(rb, "metrics", [])}
        for metric in [*ma, *(k for k in mb if k not in ma)]:
            x, y = ma.get(metric), mb.get(metric)
            if x is None or y is None:
                changes.append(
                    MetricChange(
                        name,
                        metric,
                        x.value if x else None,
                        y.value if y else None,
                        None,
                        "added" if x is None else "removed",
                        False,
                    )
                )
                continue
            if x.value is None or y.value is None:
                gated = x.threshold is not None or y.threshold is not None
                # a metric that became undefined
                regression = x.value is not None and (gated or not gated_only)
                changes.append(
                    MetricChange(name, metric, x.value, y.value, None, "undefined", regression)
                )
                continue
            delta = y.value - x.value
            hib = y.higher_is_better if y.higher_is_better is not None else x.higher_is_better
            if abs(delta) <= tolerance:
                direction = "same"
            elif hib is None:
                direction = "changed"
            else:
                direction = "better" if (delta > 0) == hib else "worse"
            gated = x.threshold is not None or y.threshold is not None
            regression = direction == "worse" and (gated or not gated_only)
            changes.append(
                MetricChange(name, metric, x.value, y.value, delta, direction, regression)
            )
    return changes, worse_sections
