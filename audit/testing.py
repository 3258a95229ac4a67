"""Assertion helpers for audit tests written in plain pytest (see ``audit.pytest_plugin``).

Each helper raises ``AssertionError`` with the metric, its value and interval, and the bound, so
a failing audit test reads like a finding::

    def test_accuracy(rai_report):
        assert_metric(rai_report, "performance.accuracy", min=0.9, use_ci=True)
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.schema import AuditReport, Metric


def get_metric(report: AuditReport, name: str) -> Metric:
    """``<section>.<metric>`` of a report (AssertionError naming what exists if absent)."""
    if "." not in name:
        raise AssertionError(f"metric names are <section>.<metric>, got {name!r}")
    section, metric = name.split(".", 1)
    for r in report.results:
        if r.kind == section or getattr(r, "check", None) == section:
            if r.status != "ok":
                raise AssertionError(f"section {section!r} did not run: {r.error or r.summary}")
            for m in r.metrics:
                if m.name == metric:
                    return m
            names = ", ".join(m.name for m in r.metrics[:20])
            raise AssertionError(f"section {section!r} has no metric {metric!r} (it has {names})")
    kinds = ", ".join(r.kind for r in report.results)
    raise AssertionError(f"the report has no section {section!r} (it has {kinds})")


def assert_metric(
    report: AuditReport,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    use_ci: bool = False,
) -> Metric:
    """Assert ``min <= metric <= max``; with ``use_ci`` the whole interval must satisfy it."""
    m = get_metric(report, name)
    if m.value is None:
        raise AssertionError(f"{name} is undefined in this run ({m.description})")
    low = m.ci_low if use_ci and m.ci_low is not None else m.value
    high = m.ci_high if use_ci and m.ci_high is not None else m.value
    ci = f" (CI [{m.ci_low:.4g}, {m.ci_high:.4g}])" if m.ci_low is not None else ""
    if min is not None and low < min:
        what = "its interval reaches" if use_ci and low != m.value else "it is"
        raise AssertionError(f"{name} = {m.value:.4g}{ci}: {what} {low:.4g}, below {min:g}")
    if max is not None and high > max:
        what = "its interval reaches" if use_ci and high != m.value else "it is"
        raise AssertionError(f"{name} = {m.value:.4g}{ci}: {what} {high:.4g}, above {max:g}")
    return m


def assert_verdict(
    report: AuditReport, section: str, allowed: Iterable[str] = ("pass", "warn")
) -> None:
    """Assert a section's verdict (or the run's, with ``section='overall'``) is allowed."""
    allowed = tuple(allowed)
    if section == "overall":
        if report.verdict not in allowed:
            raise AssertionError(f"overall verdict {report.verdict!r} not in {allowed}")
        return
    for r in report.results:
        if r.kind == section or getattr(r, "check", None) == section:
            if r.verdict not in allowed:
                bad = [f"{m.name}={m.value}" for m in r.metrics if m.verdict in ("fail", "error")]
                raise AssertionError(
                    f"section {section!r} verdict {r.verdict!r} not in {allowed}"
                    + (f"; failing: {', '.join(bad[:5])}" if bad else f": {r.error or r.summary}")
                )
            return
    raise AssertionError(f"the report has no section {section!r}")


def assert_no_regression(
    report: AuditReport, baseline: AuditReport, *, tolerance: float = 0.01
) -> None:
    """Assert no metric got worse than in ``baseline`` by more than ``tolerance``."""
    from audit.gate.compare import compare_reports  # noqa: PLC0415

    changes, sections = compare_reports(baseline, report, tolerance=tolerance)
    bad = [f"{c.section}.{c.metric}: {c.before} -> {c.after}" for c in changes if c.regression] + [
        f"section {s}" for s in sections
    ]
    if bad:
        raise AssertionError(
            f"{len(bad)} regression(s) against {baseline.manifest.run_id} "
            f"(tolerance {tolerance:g}): " + "; ".join(bad[:10])
        )
