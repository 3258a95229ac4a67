"""``rai-audit verify``: is a run folder what its record says it is?

For ``report.json`` and every ``report.policy-*.json`` beside it: the record is canonical JSON
(as written, not hand-edited), every figure and array it names has the recorded sha256, and the
HTML and PDF of the same stem are exactly what rendering that record gives again (both are
deterministic), so they carry its verdicts and its sha256. Reads files only; never runs a model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rai_audit.reports.json_io import load_report, record_sha256, report_to_json


def verify_run(run_dir: str | Path) -> tuple[list[str], list[str]]:
    """``(problems, checks that held)`` for the run folder ``run_dir``.

    Raises:
        FileNotFoundError: no ``report.json`` there.
    """
    from rai_audit.reports.html import render_html  # noqa: PLC0415
    from rai_audit.reports.pdf import render_pdf_bytes  # noqa: PLC0415

    run = Path(run_dir)
    if not (run / "report.json").is_file():
        raise FileNotFoundError(
            f"no audit report at {str(run / 'report.json')!r}; pass a run folder written by "
            "'rai-audit run'"
        )
    problems: list[str] = []
    held: list[str] = []
    records = [run / "report.json", *sorted(run.glob("report.policy-*.json"))]
    for record in records:
        text = record.read_text(encoding="utf-8")
        report = load_report(record)
        name = record.name
        if report_to_json(report) != text:
            problems.append(f"{name} is not the canonical form of its content (edited by hand?)")
            continue
        sha = record_sha256(report)  # the text is canonical, so this is the file's sha256
        held.append(f"{name} sha256 {sha}")
        for result in report.results:
            for art in [*result.figures, *result.arrays]:
                path = run / art.path
                if not path.is_file():
                    problems.append(f"{name}: {art.path} is missing")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != art.sha256:
                    problems.append(f"{name}: {art.path} does not match its recorded sha256")
                else:
                    held.append(f"{art.path} sha256 matches")
        stem = record.name[: -len(".json")]
        html_path = run / f"{stem}.html"
        if html_path.is_file():
            if html_path.read_text(encoding="utf-8") == render_html(report, run):
                held.append(f"{html_path.name} was rendered from {name}")
            else:
                problems.append(f"{html_path.name} was not rendered from {name} as it stands")
        pdf_path = run / f"{stem}.pdf"
        if pdf_path.is_file():
            if pdf_path.read_bytes() == render_pdf_bytes(report, run):
                held.append(f"{pdf_path.name} was rendered from {name}")
            else:
                problems.append(f"{pdf_path.name} was not rendered from {name} as it stands")
    return problems, held
