"""A plain, generic HTML rendering of an :class:`~reports.schema.AuditReport`.

Every section is shown the same way: its verdict, summary, metrics table (value, confidence
interval, threshold, verdict, meaning), its other tables, figures and warnings. The output is
deterministic for the same report and refers to figures by their relative paths, so
``report.html`` works when opened from the run folder.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from reports.schema import AuditReport, Metric, ResultBase, Table

_COLOURS = {
    "pass": "#1a7f37",
    "warn": "#9a6700",
    "fail": "#cf222e",
    "error": "#8250df",
    "skipped": "#6e7781",
    None: "#6e7781",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#1f2328;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:1rem;color:#fff;font-weight:600;
font-size:.8rem;text-transform:uppercase}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;max-width:48%}
figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#57606a}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.4rem .7rem;margin:.3rem 0}
.err{background:#ffebe9;border:1px solid #ff8182;padding:.4rem .7rem;white-space:pre-wrap}
.muted{color:#57606a;font-size:.9rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def badge(verdict: str | None) -> str:
    label = verdict or "info"
    return f'<span class="badge" style="background:{_COLOURS.get(verdict, "#6e7781")}">{_e(label)}</span>'


def fmt_number(value: float | int | None, digits: int = 4) -> str:
    """Numbers as a reviewer reads them: ints plainly, floats to 4 significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def fmt_threshold(m: Metric) -> str:
    t = m.threshold
    if t is None:
        return ""
    parts = []
    if t.min is not None:
        parts.append(f">= {fmt_number(t.min)}")
    if t.max is not None:
        parts.append(f"<= {fmt_number(t.max)}")
    return f"{' and '.join(parts)} ({t.severity}{', on CI' if t.use_ci else ''})"


def fmt_ci(m: Metric) -> str:
    if m.ci_low is None or m.ci_high is None:
        return ""
    level = f"{m.ci_level:.0%} " if m.ci_level else ""
    return f"[{fmt_number(m.ci_low)}, {fmt_number(m.ci_high)}] {level}{m.ci_method or ''}".strip()


def _metrics_table(metrics: Iterable[Metric]) -> str:
    rows = []
    for m in metrics:
        rows.append(
            "<tr>"
            f"<td>{_e(m.name)}</td><td class='num'>{_e(fmt_number(m.value))}</td>"
            f"<td>{_e(fmt_ci(m))}</td><td>{_e(fmt_threshold(m))}</td>"
            f"<td>{badge(m.verdict) if m.verdict else ''}</td><td>{_e(m.description)}</td>"
            "</tr>"
        )
    if not rows:
        return ""
    return (
        "<table><tr><th>metric</th><th>value</th><th>confidence interval</th><th>threshold</th>"
        "<th>verdict</th><th>meaning</th></tr>" + "".join(rows) + "</table>"
    )


def _table(t: Table) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in t.columns)
    body = []
    for row in t.rows:
        cells = []
        for c in row:
            if isinstance(c, (int, float)) and not isinstance(c, bool):
                cells.append(f"<td class='num'>{_e(fmt_number(c))}</td>")
            else:
                cells.append(f"<td>{_e('' if c is None else c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    desc = f"<p class='muted'>{_e(t.description)}</p>" if t.description else ""
    return f"<h4>{_e(t.title)}</h4>{desc}<table><tr>{head}</tr>{''.join(body)}</table>"


def _section(r: ResultBase) -> str:
    out = [f"<h2 id='{_e(r.kind)}'>{_e(r.title)} {badge(r.verdict)}</h2>"]
    if r.summary:
        out.append(f"<p>{_e(r.summary)}</p>")
    if r.error:
        out.append(f"<div class='err'>{_e(r.error)}</div>")
    for w in r.warnings:
        out.append(f"<div class='warn'>{_e(w)}</div>")
    out.append(_metrics_table(r.metrics))
    out.extend(_table(t) for t in r.tables)
    for f in r.figures:
        out.append(
            f"<figure><img src='{_e(f.path)}' alt='{_e(f.caption)}'>"
            f"<figcaption>{_e(f.caption)}</figcaption></figure>"
        )
    if r.compute:
        peak = (
            f", peak memory +{r.compute.peak_rss_mb:.0f} MB"
            if r.compute.peak_rss_mb is not None
            else ""
        )
        out.append(
            f"<p class='muted'>Compute: {r.compute.wall_time_s:.2f} s on {_e(r.compute.device)}"
            f"{peak}.</p>"
        )
    return "\n".join(out)


def render_html(report: AuditReport) -> str:
    """The report as one HTML page (figures by relative path)."""
    m = report.manifest
    overview = "".join(
        f"<tr><td><a href='#{_e(r.kind)}'>{_e(r.title)}</a></td><td>{badge(r.verdict)}</td>"
        f"<td>{_e(r.summary)}</td></tr>"
        for r in report.results
    )
    manifest_rows = [
        ("run id", m.run_id),
        ("created", m.created_at),
        ("command", m.command),
        ("seed", m.seed),
        ("budget", m.budget),
        ("device", m.device),
        ("model", f"{m.model.name} ({m.model.arch}, {m.model.source})"),
        ("model sha256", m.model.sha256),
        ("data", f"{m.data.name} ({m.data.kind})"),
        ("data sha256", m.data.sha256),
        ("splits", ", ".join(f"{k}: {v}" for k, v in m.data.split_sizes.items())),
        ("sensitive features", ", ".join(m.data.sensitive_features) or "none"),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(m.versions.items()))),
        ("schema version", report.schema_version),
    ]
    manifest_html = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in manifest_rows)
    sections = "\n".join(_section(r) for r in report.results)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>RAI Audit: {_e(m.model.name)} on {_e(m.data.name)}</title>
<style>{_CSS}</style></head><body>
<h1>RAI Audit: {_e(m.model.name)} on {_e(m.data.name)}</h1>
<p>Overall verdict {badge(report.verdict)} <span class="muted">run {_e(m.run_id)},
{_e(m.created_at)}</span></p>
<table><tr><th>section</th><th>verdict</th><th>summary</th></tr>{overview}</table>
{sections}
<h2 id="manifest">Reproducibility manifest</h2>
<table>{manifest_html}</table>
</body></html>
"""
