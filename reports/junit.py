"""JUnit XML from a report, so CI systems show every gated metric as a test.

One ``<testsuite>`` per section, one ``<testcase>`` per gated metric: ``fail`` is a
``<failure>``, ``error`` (an undefined metric or a crashed section) an ``<error>``, a skipped
section a ``<skipped>`` case, and ``warn`` a passing case whose ``<system-out>`` says so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rai_audit.reports import narrative
from rai_audit.reports.schema import AuditReport


def junit_xml(report: AuditReport) -> str:
    m = report.manifest
    root = ET.Element("testsuites", name=f"rai-audit {m.model.name} on {m.data.name}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in report.results:
        section = narrative.section_name(r)
        suite = ET.SubElement(root, "testsuite", name=section)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        time = r.compute.wall_time_s if r.compute else 0.0

        def case(
            name: str, suite: ET.Element = suite, section: str = section, counts: dict = counts
        ) -> ET.Element:
            counts["tests"] += 1
            return ET.SubElement(
                suite, "testcase", classname=f"rai_audit.{section}", name=name, time="0"
            )

        if r.status == "skipped":
            c = case("(section)")
            ET.SubElement(c, "skipped", message=r.summary[:500])
            counts["skipped"] += 1
        elif r.status == "error":
            c = case("(section)")
            ET.SubElement(c, "error", message=(r.error or "")[:500], type="error").text = r.error
            counts["errors"] += 1
        else:
            for metric in r.metrics:
                if metric.verdict is None:
                    continue
                c = case(metric.name)
                text = (
                    f"{section}.{metric.name} = {narrative.fmt(metric.value)} "
                    f"{narrative.ci_text(metric)} threshold {narrative.bound_text(metric)}"
                ).replace("  ", " ")
                if metric.verdict == "fail":
                    ET.SubElement(c, "failure", message=text, type="fail").text = metric.description
                    counts["failures"] += 1
                elif metric.verdict == "error":
                    ET.SubElement(c, "error", message=f"undefined: {text}", type="error")
                    counts["errors"] += 1
                elif metric.verdict == "warn":
                    ET.SubElement(c, "system-out").text = f"WARN: {text}"
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{time:.3f}")
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
