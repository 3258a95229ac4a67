"""Report schema and renderers. Imports neither torch nor any other package of the suite."""

from rai_audit.reports.json_io import load_report, write_report
from rai_audit.reports.schema import SCHEMA_VERSION, AuditReport, Metric, worst_verdict

__all__ = [
    "SCHEMA_VERSION",
    "AuditReport",
    "Metric",
    "load_report",
    "worst_verdict",
    "write_report",
]
