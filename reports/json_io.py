"""Reading and writing ``report.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from rai_audit.reports.atomic import atomic_write_text
from rai_audit.reports.schema import SCHEMA_VERSION, AuditReport

#: 1.0 reports (no outcomes, caveats or decision) still load; re-applying a policy fills them in.
READABLE_VERSIONS = ("1.0", "1.1", SCHEMA_VERSION)

REPORT_FILE = "report.json"


def report_to_json(report: AuditReport) -> str:
    """Deterministic JSON text of ``report`` (sorted keys, two-space indent)."""
    data = report.model_dump(mode="json", serialize_as_any=True)  # plugin results whole
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def record_sha256(report: AuditReport) -> str:
    """sha256 of the ``report.json`` text this report is written as: the PDF and HTML rendered
    from a report carry it, so each can be traced to (and checked against) its record."""
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(report_to_json(report).encode("utf-8")).hexdigest()


def write_report(report: AuditReport, path: str | Path) -> Path:
    """Write ``report`` to ``path`` atomically; returns the path."""
    p = Path(path)
    atomic_write_text(p, report_to_json(report))
    return p


def load_report(path: str | Path) -> AuditReport:
    """Load a report from a run folder or a ``report.json`` file.

    Raises:
        FileNotFoundError: no report there.
        ValueError: not valid JSON, or not a report of a schema version this code reads.
    """
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_FILE
    if not p.is_file():
        raise FileNotFoundError(
            f"no audit report at {str(p)!r}; pass a run folder written by 'rai-audit run'"
        )
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(p)!r} is not valid JSON: {exc}") from exc
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{str(p)!r} has report schema version {version!r}; this rai-audit reads "
            f"{', '.join(map(repr, READABLE_VERSIONS))}"
        )
    try:
        return AuditReport.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(
            f"{str(p)!r} is not a valid audit report: {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from exc
