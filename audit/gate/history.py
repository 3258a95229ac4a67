"""The run index: every run in an embedded SQLite database, for ``rai-audit history`` and the
dashboard.

One row per run (run id, folder, time, model name and hash, data hash, budget, seed, overall
verdict) and one row per section verdict and per key metric. The database lives at
``$RAI_AUDIT_HISTORY`` if set, else ``rai-audit-history.sqlite`` beside the run folders (in the
run folder's parent). Writes are single transactions, so a crash leaves the index consistent;
re-indexing a run replaces its rows.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rai_audit.reports.schema import AuditReport

DB_NAME = "rai-audit-history.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, folder TEXT NOT NULL, created_at TEXT NOT NULL,
  model_name TEXT, model_sha256 TEXT, data_name TEXT, data_sha256 TEXT,
  budget TEXT, seed INTEGER, verdict TEXT, wall_time_s REAL
);
CREATE TABLE IF NOT EXISTS sections (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  section TEXT NOT NULL, verdict TEXT, PRIMARY KEY (run_id, section)
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  section TEXT NOT NULL, metric TEXT NOT NULL, value REAL, ci_low REAL, ci_high REAL,
  verdict TEXT, PRIMARY KEY (run_id, section, metric)
);
CREATE INDEX IF NOT EXISTS runs_model ON runs(model_name, created_at);
"""


def default_db(run_dir: str | Path) -> Path:
    env = os.environ.get("RAI_AUDIT_HISTORY")
    if env:
        return Path(env)
    return Path(run_dir).resolve().parent / DB_NAME


@contextmanager
def connect(db: str | Path) -> Iterator[sqlite3.Connection]:
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db), timeout=30)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA)
        yield con
    finally:
        con.close()


def key_metric(name: str, verdict: str | None) -> bool:
    """Metrics kept in the index: every gated metric, plus a few headline ones."""
    return verdict is not None or name in {
        "accuracy",
        "ece",
        "clean_accuracy",
        "robust_accuracy",
        "strongest.auc",
        "strongest.tpr_at_fpr_1pct",
    }


def index_run(report: AuditReport, run_dir: str | Path, db: str | Path | None = None) -> Path:
    """Add (or replace) a run in the index; returns the database path."""
    db = Path(db) if db is not None else default_db(run_dir)
    m = report.manifest
    with connect(db) as con, con:
        con.execute("DELETE FROM runs WHERE run_id = ?", (m.run_id,))
        con.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                m.run_id,
                str(Path(run_dir).resolve()),
                m.created_at,
                m.model.name,
                m.model.sha256,
                m.data.name,
                m.data.sha256,
                m.budget,
                m.seed,
                report.verdict,
                m.wall_time_s,
            ),
        )
        for r in report.results:
            section = str(getattr(r, "check", None) or r.kind)
            con.execute("INSERT INTO sections VALUES (?,?,?)", (m.run_id, section, r.verdict))
            for metric in r.metrics:
                if key_metric(metric.name, metric.verdict):
                    con.execute(
                        "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?,?,?,?)",
                        (
                            m.run_id,
                            section,
                            metric.name,
                            metric.value,
                            metric.ci_low,
                            metric.ci_high,
                            metric.verdict,
                        ),
                    )
    return db


def list_runs(db: str | Path, *, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs, newest first (optionally of one model name)."""
    if not Path(db).is_file():
        return []
    with connect(db) as con:
        con.row_factory = sqlite3.Row
        q = "SELECT * FROM runs"
        args: tuple[Any, ...] = ()
        if model:
            q += " WHERE model_name = ?"
            args = (model,)
        q += " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        return [dict(r) for r in con.execute(q, (*args, limit))]


def metric_trend(
    db: str | Path, section: str, metric: str, *, model: str | None = None
) -> list[dict[str, Any]]:
    """One metric over time (oldest first): run id, time, value, CI, verdict."""
    if not Path(db).is_file():
        return []
    with connect(db) as con:
        con.row_factory = sqlite3.Row
        q = (
            "SELECT r.run_id, r.created_at, r.model_name, m.value, m.ci_low, m.ci_high, m.verdict "
            "FROM metrics m JOIN runs r USING (run_id) WHERE m.section = ? AND m.metric = ?"
        )
        args: tuple[Any, ...] = (section, metric)
        if model:
            q += " AND r.model_name = ?"
            args += (model,)
        q += " ORDER BY r.created_at, r.run_id"
        return [dict(r) for r in con.execute(q, args)]
