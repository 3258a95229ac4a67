"""The PDF report a reviewer signs, built with reportlab from ``report.json`` and its artifacts.

Contents: a cover with the scorecard; a table of contents; the executive summary; one chapter per
section (what it measures and its limits, metrics with intervals and verdicts, tables, figures,
warnings); the model card; the EU AI Act mapping; the reproducibility appendix (manifest and
compute per section); and a sign-off block. Pages are numbered "page n of N".

The output is deterministic for the same input (reportlab's invariant mode fixes the creation
date and document id), and the file is written to a temporary name and renamed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate, Frame, PageTemplate
from reportlab.platypus.tableofcontents import TableOfContents

from rai_audit.reports import narrative
from rai_audit.reports.atomic import atomic_write_bytes
from rai_audit.reports.json_io import record_sha256
from rai_audit.reports.schema import AuditReport, ResultBase
from rai_audit.reports.schema import Table as ReportTable

VERDICT_COLOURS = {
    "pass": colors.HexColor("#1a7f37"),
    "warn": colors.HexColor("#9a6700"),
    "fail": colors.HexColor("#cf222e"),
    "error": colors.HexColor("#8250df"),
    "skipped": colors.HexColor("#6e7781"),
    "not_assessable": colors.HexColor("#9a6700"),
}
DECISION_COLOURS = {
    "no_blocking_findings": colors.HexColor("#1a7f37"),
    "conditions": colors.HexColor("#9a6700"),
    "blocking_findings": colors.HexColor("#cf222e"),
}
MAX_TABLE_ROWS = 40
MAX_COLUMNS = 18

_ss = getSampleStyleSheet()
STYLES = {
    "title": ParagraphStyle("t", parent=_ss["Title"], fontSize=22, leading=27),
    "h1": ParagraphStyle("h1", parent=_ss["Heading1"], fontSize=16, spaceBefore=6),
    "h2": ParagraphStyle("h2", parent=_ss["Heading2"], fontSize=12.5),
    "mono": ParagraphStyle("mono", parent=_ss["Code"], fontSize=6.5, leading=8),
    "h3": ParagraphStyle("h3", parent=_ss["Heading3"], fontSize=10.5),
    "body": ParagraphStyle("b", parent=_ss["BodyText"], fontSize=9.5, leading=12.5),
    "small": ParagraphStyle("s", parent=_ss["BodyText"], fontSize=7.5, leading=9.5),
    "cell": ParagraphStyle("c", parent=_ss["BodyText"], fontSize=7, leading=8.5),
    "tiny": ParagraphStyle("ti", parent=_ss["BodyText"], fontSize=5.6, leading=6.8),
    "warn": ParagraphStyle(
        "w",
        parent=_ss["BodyText"],
        fontSize=8,
        leading=10,
        backColor=colors.HexColor("#fff8c5"),
        borderPadding=3,
    ),
    "center": ParagraphStyle("ce", parent=_ss["BodyText"], alignment=TA_CENTER, fontSize=10),
}


def _p(text: Any, style: str = "body") -> Paragraph:
    return Paragraph(escape(str(text)), STYLES[style])


def _verdict_cell(v: str | None) -> Paragraph:
    colour = VERDICT_COLOURS.get(v or "", colors.grey)
    return Paragraph(
        f'<font color="{colour.hexval()}"><b>{escape((v or "").upper())}</b></font>',
        STYLES["cell"],
    )


def _grid(data: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    t = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#d0d7de")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa")))
    t.setStyle(TableStyle(style))
    return t


class _Doc(BaseDocTemplate):
    """Headings at levels 0 and 1 feed the table of contents and the PDF outline."""

    def __init__(self, target: Any, title: str, subject: str = "", **kw: Any) -> None:
        super().__init__(
            target,
            pagesize=A4,
            leftMargin=1.8 * cm,
            rightMargin=1.8 * cm,
            topMargin=1.8 * cm,
            bottomMargin=1.8 * cm,
            title=title,
            author="RAI Audit",
            subject=subject or "Responsible-AI audit report",
            creator="RAI Audit",
            invariant=1,
            **kw,
        )
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="f")
        self.addPageTemplates([PageTemplate(id="p", frames=[frame])])
        self._heading_no = 0

    def afterFlowable(self, flowable: Any) -> None:
        if isinstance(flowable, Paragraph) and flowable.style.name in ("h1", "h2"):
            level = 0 if flowable.style.name == "h1" else 1
            text = flowable.getPlainText()
            key = f"h{self._heading_no}"
            self._heading_no += 1
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
            self.notify("TOCEntry", (level, text, self.page, key))

    def handle_documentBegin(self) -> None:
        self._heading_no = 0
        super().handle_documentBegin()


def _numbered_canvas(footer: str) -> type:
    class NumberedCanvas(rl_canvas.Canvas):
        """Defers each page so the footer can say 'page n of N'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Helvetica", 7.5)
                self.setFillColor(colors.HexColor("#57606a"))
                self.drawString(1.8 * cm, 1.0 * cm, footer[:120])
                self.drawRightString(
                    A4[0] - 1.8 * cm, 1.0 * cm, f"page {self._pageNumber} of {total}"
                )
                super().showPage()
            super().save()

    return NumberedCanvas


def _image(run_dir: Path, rel: str, max_w: float, max_h: float) -> Image | None:
    path = (run_dir / rel).resolve()
    try:
        path.relative_to(run_dir.resolve())
    except ValueError:
        return None  # never read outside the run folder
    if not path.is_file():
        return None
    img = Image(str(path))
    scale = min(max_w / img.imageWidth, max_h / img.imageHeight, 1.0)
    img.drawWidth = img.imageWidth * scale
    img.drawHeight = img.imageHeight * scale
    return img


def _report_table(t: ReportTable, width: float) -> list[Any]:
    cols = t.columns[:MAX_COLUMNS]
    rows = t.rows[:MAX_TABLE_ROWS]
    style = STYLES["cell"] if len(cols) <= 10 else STYLES["tiny"]

    def text(c: Any) -> str:
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            return narrative.fmt(c)
        return "" if c is None else str(c)

    cells = [[text(c) for c in row[:MAX_COLUMNS]] for row in rows]
    # column widths follow their content (header and cells, capped), so numbers stay on one line
    need = [
        max([min(len(str(h)), 8), 6] + [min(len(r[i]), 28) for r in cells if i < len(r)]) + 2
        for i, h in enumerate(cols)
    ]
    widths = [width * n / sum(need) for n in need]
    data = [[Paragraph(f"<b>{escape(str(c))}</b>", style) for c in cols]]
    data += [[Paragraph(escape(c), style) for c in row] for row in cells]
    out: list[Any] = [_p(t.title, "h3")]
    if t.description:
        out.append(_p(t.description, "small"))
    out.append(_grid(data, widths))
    cut = []
    if len(t.rows) > MAX_TABLE_ROWS:
        cut.append(f"first {MAX_TABLE_ROWS} of {len(t.rows)} rows")
    if len(t.columns) > MAX_COLUMNS:
        cut.append(f"first {MAX_COLUMNS} of {len(t.columns)} columns")
    if cut:
        out.append(_p(f"Shown: {', '.join(cut)}; report.json has the whole table.", "small"))
    out.append(Spacer(1, 6))
    return out


def _metrics_table(r: ResultBase, width: float) -> list[Any]:
    if not r.metrics:
        return []
    gated = [m for m in r.metrics if m.verdict is not None]
    rest = [m for m in r.metrics if m.verdict is None]
    shown = (gated + rest)[:60]
    data = [
        [
            Paragraph(f"<b>{h}</b>", STYLES["cell"])
            for h in ("metric", "value", "CI", "threshold", "verdict", "meaning")
        ]
    ]
    for m in shown:
        data.append(
            [
                _p(m.name, "cell"),
                _p(narrative.fmt(m.value), "cell"),
                _p(narrative.ci_text(m), "cell"),
                _p(narrative.bound_text(m), "cell"),
                _verdict_cell(m.verdict) if m.verdict else _p("", "cell"),
                _p(m.description, "cell"),
            ]
        )
    w = [0.22, 0.09, 0.15, 0.13, 0.07, 0.34]
    out: list[Any] = [_grid(data, [width * x for x in w])]
    if len(r.metrics) > len(shown):
        out.append(
            _p(
                f"Shown: gated metrics first, {len(shown)} of {len(r.metrics)}; report.json "
                "has every metric.",
                "small",
            )
        )
    return out


def build_story(report: AuditReport, run_dir: Path, width: float) -> list[Any]:
    m = report.manifest
    story: list[Any] = []
    level, headline, lines = narrative.decision_lines(report)
    # 1. cover
    story += [
        Spacer(1, 1.2 * cm),
        _p("RAI Audit report", "title"),
        _p(f"{m.model.name} on {m.data.name}", "center"),
        Spacer(1, 0.4 * cm),
        Paragraph(
            f'<para alignment="center"><font size="16" color="'
            f'{DECISION_COLOURS.get(level, colors.grey).hexval()}"><b>'
            f"{escape(headline)}</b></font></para>",
            STYLES["body"],
        ),
        Spacer(1, 0.2 * cm),
        *[
            Paragraph(f"<b>{escape(kind)}</b>: {escape(text)}", STYLES["body"])
            for kind, text in lines
        ],
        Paragraph(
            f'<para alignment="center"><font size="11" color="'
            f'{VERDICT_COLOURS.get(report.verdict or "", colors.grey).hexval()}">'
            f"Overall verdict: {escape((report.verdict or 'none').upper())}</font></para>",
            STYLES["body"],
        ),
        Spacer(1, 0.4 * cm),
    ]
    facts = [
        [
            "Model",
            f"{m.model.name} ({m.model.arch}, {m.model.source}), sha256 {m.model.sha256[:16]}...",
        ],
        ["Data", f"{m.data.name} ({m.data.kind}), sha256 {m.data.sha256[:16]}..."],
        ["Date", m.created_at],
        ["Run id", m.run_id],
        ["Budget, seed", f"{m.budget}, {m.seed}"],
        ["Policy", str((m.policy or {}).get("source", "none"))],
    ]
    story.append(
        _grid(
            [[_p(a, "cell"), _p(b, "cell")] for a, b in facts],
            [3 * cm, width - 3 * cm],
            header=False,
        )
    )
    story += [Spacer(1, 0.4 * cm), _p("Scorecard by section", "h3")]
    data = [
        [
            Paragraph(f"<b>{h}</b>", STYLES["cell"])
            for h in ("section", "verdict", "pass", "warn", "fail", "most severe finding")
        ]
    ]
    for srow in narrative.section_scorecard(report):
        data.append(
            [
                _p(srow.section, "cell"),
                _verdict_cell(srow.verdict),
                _p(srow.passed, "cell"),
                _p(srow.warned, "cell"),
                _p(srow.failed, "cell"),
                _p(srow.finding, "cell"),
            ]
        )
    story.append(_grid(data, [width * x for x in (0.15, 0.09, 0.06, 0.06, 0.06, 0.58)]))
    story.append(
        _p(
            "pass / warn / fail: gated metrics of the section under the policy; the full "
            "scorecard follows the contents.",
            "small",
        )
    )
    story.append(PageBreak())
    # table of contents
    toc = TableOfContents()
    toc.levelStyles = [
        ParagraphStyle("toc0", fontSize=10, leading=14, leftIndent=10),
        ParagraphStyle("toc1", fontSize=8.5, leading=11, leftIndent=24),
    ]
    story += [_p("Contents", "h3"), toc, PageBreak()]
    story.append(_p("Scorecard", "h1"))
    story.append(
        _p(
            "Every metric the policy gates: value, confidence interval, threshold and verdict.",
            "small",
        )
    )
    data = [
        [
            Paragraph(f"<b>{h}</b>", STYLES["cell"])
            for h in ("section", "metric", "value", "CI", "threshold", "verdict")
        ]
    ]
    for row in narrative.scorecard(report):
        data.append(
            [
                _p(row.section, "cell"),
                _p(row.metric, "cell"),
                _p(row.value, "cell"),
                _p(row.ci, "cell"),
                _p(row.threshold, "cell"),
                _verdict_cell(row.verdict),
            ]
        )
    if len(data) == 1:
        data.append([_p("no metric is gated by the policy", "cell")] + [_p("", "cell")] * 5)
    story.append(_grid(data, [width * x for x in (0.14, 0.34, 0.1, 0.17, 0.15, 0.1)]))
    caveats = narrative.caveat_rows(report)
    if caveats:
        story.append(_p("Caveats about the audit's own methods", "h2"))
        story.append(
            _p(
                "Not findings about the model: each says which conclusions cannot rest on that "
                "method; findings resting on such a method are inconclusive at best.",
                "small",
            )
        )
        cav = [
            [
                Paragraph(f"<b>{h}</b>", STYLES["cell"])
                for h in ("section", "metric", "value", "CI", "bound", "outcome")
            ]
        ]
        cav += [
            [
                _p(c.section, "cell"),
                _p(c.metric, "cell"),
                _p(c.value, "cell"),
                _p(c.ci, "cell"),
                _p(c.threshold, "cell"),
                _p(c.verdict, "cell"),
            ]
            for c in caveats[:MAX_TABLE_ROWS]
        ]
        story.append(_grid(cav, [width * x for x in (0.14, 0.34, 0.1, 0.17, 0.15, 0.1)]))
    story.append(PageBreak())
    # 2. executive summary
    story.append(_p("Executive summary", "h1"))
    for line in narrative.executive_summary(report):
        story.append(_p(line))
        story.append(Spacer(1, 3))
    # 3. chapters
    for r in report.results:
        story.append(PageBreak())
        story.append(_p(f"{r.title}: {(r.verdict or '').upper()}", "h1"))
        guide = narrative.section_guide(r)
        if guide:
            story += [
                _p(f"What it measures. {guide[0]}", "small"),
                _p(f"Limits. {guide[1]}", "small"),
                Spacer(1, 4),
            ]
        if r.summary:
            story.append(_p(r.summary))
        if r.error:
            story.append(_p(f"Error: {r.error}", "warn"))
        for w in r.warnings:
            story.append(_p(w, "warn"))
            story.append(Spacer(1, 2))
        story += _metrics_table(r, width)
        for t in r.tables:
            story += _report_table(t, width)
        for f in r.figures:
            img = _image(run_dir, f.path, width, 11 * cm)
            if img is not None:
                story.append(KeepTogether([img, _p(f.caption, "small"), Spacer(1, 6)]))
        if r.compute:
            story.append(
                _p(f"Compute: {r.compute.wall_time_s:.1f} s on {r.compute.device}.", "small")
            )
    # 4. model card and AI Act
    story += [PageBreak(), _p("Model card", "h1")]
    story.append(
        _grid(
            [[_p(a, "cell"), _p(b, "cell")] for a, b in narrative.model_card(report)],
            [3.5 * cm, width - 3.5 * cm],
            header=False,
        )
    )
    story += [
        Spacer(1, 8),
        _p("EU AI Act: requirements and evidence", "h2"),
        _p(narrative.AI_ACT_NOTE, "small"),
    ]
    data = [
        [
            Paragraph(f"<b>{h}</b>", STYLES["cell"])
            for h in ("requirement", "article", "evidence in this run", "status")
        ]
    ]
    data += [[_p(c, "cell") for c in row] for row in narrative.ai_act_mapping(report)]
    story.append(_grid(data, [width * x for x in (0.36, 0.12, 0.3, 0.22)]))
    # 5. reproducibility appendix
    story += [PageBreak(), _p("Reproducibility appendix", "h1")]
    story.append(
        _grid(
            [[_p(a, "cell"), _p(b, "cell")] for a, b in narrative.manifest_rows(report)],
            [3 * cm, width - 3 * cm],
            header=False,
        )
    )
    story += [Spacer(1, 8), _p("Compute per section", "h2")]
    data = [[Paragraph(f"<b>{h}</b>", STYLES["cell"]) for h in narrative.COMPUTE_COLUMNS]]
    data += [[_p(c, "cell") for c in row] for row in narrative.compute_rows(report)]
    story.append(_grid(data, [width * x for x in (0.3, 0.2, 0.3, 0.2)]))
    source, sha, text = narrative.policy_text(report)
    story += [Spacer(1, 8), _p(f"Policy ({source}), sha256 {sha}", "h2")]
    story.append(Preformatted(text, STYLES["mono"]))
    # 6. sign-off
    story += [
        PageBreak(),
        _p("Sign-off", "h1"),
        _p(
            "The reviewer confirms having read this report and records a decision. The overall "
            f"verdict under the policy was {(report.verdict or 'none').upper()}."
        ),
        _p(
            f"This report was rendered from report.json with sha256 {record_sha256(report)} "
            "('rai-audit verify RUN' checks it)."
        ),
    ]
    sign = [
        ["Reviewer (name, role)", ""],
        ["Date", ""],
        ["Decision", "[ ] approve     [ ] approve with conditions     [ ] reject"],
        ["Conditions / notes", ""],
        ["Signature", ""],
    ]
    t = Table(
        [[_p(a, "body"), _p(b, "body")] for a, b in sign],
        colWidths=[4.5 * cm, width - 4.5 * cm],
        rowHeights=[1.3 * cm, 1.0 * cm, 1.0 * cm, 3.0 * cm, 1.6 * cm],
    )
    t.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
        )
    )
    story.append(t)
    return story


def render_pdf_bytes(report: AuditReport, run_dir: str | Path) -> bytes:
    """The PDF as bytes (deterministic for the same report and artifacts)."""
    run_dir = Path(run_dir)
    buf = io.BytesIO()
    m = report.manifest
    doc = _Doc(
        buf,
        title=f"RAI Audit: {m.model.name} on {m.data.name}",
        subject=f"RAI Audit report; record sha256 {record_sha256(report)}",
    )
    footer = f"RAI Audit - {m.model.name} on {m.data.name} - run {m.run_id} - verdict {(report.verdict or 'none').upper()}"
    doc.multiBuild(build_story(report, run_dir, doc.width), canvasmaker=_numbered_canvas(footer))
    return buf.getvalue()


def write_pdf(report: AuditReport, run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render ``report`` to ``out`` (default ``<run_dir>/report.pdf``) atomically."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "report.pdf"
    atomic_write_bytes(out, render_pdf_bytes(report, run_dir))
    return out
