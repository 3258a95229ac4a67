"""RAI Audit dashboard: ``streamlit run app.py``.

Opens saved runs (folders with a ``report.json``) and shows the overall verdict, the scorecard
and every section's metrics, tables and figures. It reads run folders only: no model is run and
torch is not imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from reports.html import fmt_ci, fmt_number, fmt_threshold
from reports.json_io import load_report
from reports.schema import AuditReport

_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skipped": "⏭️", None: "ℹ️"}


def find_runs(root: Path, limit: int = 500) -> list[Path]:
    """Run folders under ``root`` (itself included), newest first."""
    if not root.is_dir():
        return []
    found = [p.parent for p in root.rglob("report.json") if not p.parent.name.startswith(".")]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


@st.cache_data(show_spinner=False)
def _load(path: str, mtime: float) -> AuditReport:
    del mtime  # part of the cache key: a rewritten run is read again
    return load_report(path)


def show_report(run: Path, report: AuditReport) -> None:
    m = report.manifest
    st.header(f"{m.model.name} on {m.data.name}")
    st.markdown(
        f"Overall verdict: {_ICON.get(report.verdict)} **{report.verdict}** · run "
        f"`{m.run_id}` · {m.created_at} · seed {m.seed} · budget {m.budget}"
    )
    rows = []
    for r in report.results:
        rows.append(
            {
                "section": r.title,
                "verdict": f"{_ICON.get(r.verdict)} {r.verdict}",
                "summary": r.summary,
            }
        )
    st.dataframe(rows, hide_index=True, use_container_width=True)
    for r in report.results:
        with st.expander(f"{_ICON.get(r.verdict)} {r.title}", expanded=True):
            if r.error:
                st.error(r.error)
            for w in r.warnings:
                st.warning(w)
            if r.metrics:
                st.dataframe(
                    [
                        {
                            "metric": x.name,
                            "value": fmt_number(x.value),
                            "CI": fmt_ci(x),
                            "threshold": fmt_threshold(x),
                            "verdict": x.verdict or "",
                            "meaning": x.description,
                        }
                        for x in r.metrics
                    ],
                    hide_index=True,
                    use_container_width=True,
                )
            for t in r.tables:
                st.caption(t.title)
                st.dataframe([dict(zip(t.columns, row)) for row in t.rows], hide_index=True)
            cols = st.columns(2)
            for i, f in enumerate(r.figures):
                path = (run / f.path).resolve()
                if run.resolve() in path.parents and path.is_file():
                    cols[i % 2].image(str(path), caption=f.caption)
    with st.expander("Reproducibility manifest"):
        st.json(m.model_dump(mode="json"), expanded=False)


def main() -> None:
    st.set_page_config(page_title="RAI Audit", layout="wide")
    st.title("RAI Audit")
    default = os.environ.get("RAI_AUDIT_RUNS", "rai-audit-demo/runs")
    root = Path(st.sidebar.text_input("Runs folder", value=default))
    runs = find_runs(root)
    if not runs:
        st.info(f"No runs under `{root}`. Create one with `rai-audit demo` or `rai-audit run`.")
        return
    labels = [str(p.relative_to(root)) if p != root else p.name for p in runs]
    choice = st.sidebar.selectbox("Run", labels)
    run = runs[labels.index(choice)]
    try:
        report = _load(str(run), (run / "report.json").stat().st_mtime)
    except (ValueError, FileNotFoundError) as exc:
        st.error(str(exc))
        return
    show_report(run, report)


main()
