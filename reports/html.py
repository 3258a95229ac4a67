"""A plain, generic HTML rendering of an :class:`~reports.schema.AuditReport`.

Every section is shown the same way: its verdict, summary, metrics table (value, confidence
interval, threshold, verdict, meaning), its other tables, figures and warnings. The output is
deterministic for the same report and refers to figures by their relative paths, so
``report.html`` works when opened from the run folder.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rai_audit.reports import narrative
from rai_audit.reports.json_io import record_sha256
from rai_audit.reports.schema import AuditReport, Metric, ResultBase, Table

_COLOURS = {
    "pass": "#1a7f37",
    "warn": "#9a6700",
    "fail": "#cf222e",
    "error": "#8250df",
    "skipped": "#6e7781",
    None: "#6e7781",
}

_CSS = """
.decision{border-left:6px solid #888;padding:.4rem 1rem;margin:1rem 0;background:#f6f8fa}
.decision.no_blocking_findings{border-color:#1a7f37}.decision.conditions{border-color:#bf8700}
.decision.blocking_findings{border-color:#cf222e}.decision .headline{font-size:1.3rem;
font-weight:600;margin:.2rem 0}
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
pre.policy{white-space:pre-wrap;font-size:.8rem;background:#f6f8fa;padding:.5rem}
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


fmt_number = narrative.fmt  # numbers as a reviewer reads them (shared with the PDF)
fmt_threshold = narrative.bound_text


def fmt_ci(m: Metric) -> str:
    if m.ci_low is None or m.ci_high is None:
        return ""
    level = f"{m.ci_level:.0%} " if m.ci_level else ""
    return f"{narrative.ci_text(m)} {level}{m.ci_method or ''}".strip()


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


def _figure_src(f: Any, run_dir: Path | None) -> str:
    """A figure as a data URI (the page stands alone: a downloaded copy shows every figure);
    its relative path when no run folder is given or the file is missing or altered."""
    if run_dir is None:
        return f.path
    path = run_dir / f.path
    try:
        data = path.read_bytes()
    except OSError:
        return f.path
    if hashlib.sha256(data).hexdigest() != f.sha256:
        return f.path
    return f"data:{f.media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _section(r: ResultBase, run_dir: Path | None = None) -> str:
    out = [f"<h2 id='{_e(r.kind)}'>{_e(r.title)} {badge(r.verdict)}</h2>"]
    guide = narrative.section_guide(r)
    if guide:
        out.append(
            f"<p class='muted'><b>What it measures.</b> {_e(guide[0])} "
            f"<b>Limits.</b> {_e(guide[1])}</p>"
        )
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
            f"<figure><img src='{_e(_figure_src(f, run_dir))}' alt='{_e(f.caption)}'>"
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


def _rows(rows: Iterable[Iterable[object]], header: Iterable[str] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def render_html(report: AuditReport, run_dir: str | Path | None = None) -> str:
    """The report as one self-contained HTML page with the PDF's content: figures are inlined
    from ``run_dir`` (by relative path when it is not given), and the page carries the sha256
    of the ``report.json`` it was rendered from."""
    run = Path(run_dir) if run_dir is not None else None
    record = record_sha256(report)
    m = report.manifest
    title = f"RAI Audit: {m.model.name} on {m.data.name}"
    section_rows = "".join(
        f"<tr><td><a href='#{_e(res.kind)}'>{_e(row.section)}</a></td><td>{badge(row.verdict)}"
        f"</td><td class='num'>{row.passed}</td><td class='num'>{row.warned}</td>"
        f"<td class='num'>{row.failed}</td><td>{_e(row.finding)}</td></tr>"
        for row, res in zip(narrative.section_scorecard(report), report.results)
    )
    score_rows = (
        "".join(
            f"<tr><td>{_e(r.section)}</td><td>{_e(r.metric)}</td><td class='num'>{_e(r.value)}</td>"
            f"<td>{_e(r.ci)}</td><td>{_e(r.threshold)}</td><td>{badge(r.verdict)}</td></tr>"
            for r in narrative.scorecard(report)
        )
        or "<tr><td colspan='6'>no metric is gated by the policy</td></tr>"
    )
    toc = "".join(
        f"<li><a href='#{_e(r.kind)}'>{_e(r.title)}</a> {badge(r.verdict)}</li>"
        for r in report.results
    )
    summary = "".join(f"<p>{_e(line)}</p>" for line in narrative.executive_summary(report))
    level, headline, lines = narrative.decision_lines(report)
    decision = (
        f"<div class='decision {_e(level)}'><p class='headline'>{_e(headline)}</p><ul>"
        + "".join(f"<li><b>{_e(kind)}</b>: {_e(text)}</li>" for kind, text in lines)
        + "</ul></div>"
    )
    caveat_rows = (
        "".join(
            f"<tr><td>{_e(r.section)}</td><td>{_e(r.metric)}</td><td>{_e(r.value)}</td>"
            f"<td>{_e(r.ci)}</td><td>{_e(r.threshold)}</td><td>{_e(r.verdict)}</td>"
            f"<td>{_e(r.note)}</td></tr>"
            for r in narrative.caveat_rows(report)
        )
        or "<tr><td colspan='7'>none: every gated method held</td></tr>"
    )
    manifest_html = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in narrative.manifest_rows(report)
    )
    compute = _rows(narrative.compute_rows(report), narrative.COMPUTE_COLUMNS)
    policy_source, policy_sha, policy_text = narrative.policy_text(report)
    sections = "\n".join(_section(r, run) for r in report.results)
    card = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in narrative.model_card(report)
    )
    act = _rows(
        narrative.ai_act_mapping(report),
        ("requirement", "article", "evidence in this run", "status"),
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(title)}</title>
<meta name="rai-audit-record-sha256" content="{record}">
<style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
{decision}
<p>Overall verdict {badge(report.verdict)} <span class="muted">run {_e(m.run_id)},
{_e(m.created_at)}, budget {_e(m.budget)}, seed {_e(m.seed)}</span></p>
<h3>Scorecard by section</h3>
<table><tr><th>section</th><th>verdict</th><th>pass</th><th>warn</th><th>fail</th>
<th>most severe finding</th></tr>{section_rows}</table>
<nav><h3>Contents</h3><ol><li><a href="#scorecard">Scorecard</a></li>
<li><a href="#summary">Executive summary</a></li>{toc}
<li><a href="#model-card">Model card</a></li><li><a href="#ai-act">EU AI Act</a></li>
<li><a href="#manifest">Reproducibility appendix</a></li><li><a href="#sign-off">Sign-off</a></li>
</ol></nav>
<h2 id="scorecard">Scorecard</h2>
<table><tr><th>section</th><th>metric</th><th>value</th><th>CI</th><th>threshold</th>
<th>verdict</th></tr>{score_rows}</table>
<h2 id="caveats">Caveats about the audit's own methods</h2>
<p class="muted">Not findings about the model: each says which conclusions cannot rest on that
method. Findings resting on such a method are listed here too: they keep their value and are
inconclusive at best.</p>
<table><tr><th>section</th><th>metric</th><th>value</th><th>CI</th><th>bound</th>
<th>outcome</th><th>meaning</th></tr>{caveat_rows}</table>
<h2 id="summary">Executive summary</h2>
{summary}
{sections}
<h2 id="model-card">Model card</h2>
<table>{card}</table>
<h2 id="ai-act">EU AI Act: requirements and evidence</h2>
<p class="muted">{_e(narrative.AI_ACT_NOTE)}</p>
{act}
<h2 id="manifest">Reproducibility appendix</h2>
<table>{manifest_html}</table>
<h3>Compute per section</h3>
{compute}
<h3>Policy ({_e(policy_source)}), sha256 {_e(policy_sha)}</h3>
<pre class="policy">{_e(policy_text)}</pre>
<h2 id="sign-off">Sign-off</h2>
<p>This page was rendered from report.json with sha256 <code>{record}</code>
(<code>rai-audit verify RUN</code> checks it).</p>
<table class="sign"><tr><th>Reviewer (name, role)</th><td></td></tr><tr><th>Date</th><td></td></tr>
<tr><th>Decision</th><td>[ ] approve &nbsp; [ ] approve with conditions &nbsp; [ ] reject</td></tr>
<tr><th>Conditions / notes</th><td style="height:5rem"></td></tr>
<tr><th>Signature</th><td style="height:3rem"></td></tr></table>
</body></html>
"""
