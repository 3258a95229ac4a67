"""The dashboard, driven by Streamlit's AppTest against a run made in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.performance import PerformanceCheck
from audit.runner import run_audit

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture()
def runs_root(digits_target, tmp_path):
    run_audit(digits_target, [PerformanceCheck()], out=tmp_path / "runs" / "lenet", progress=False)
    return tmp_path / "runs"


def test_app_shows_a_saved_run(runs_root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RAI_AUDIT_RUNS", str(runs_root))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.sidebar.selectbox[0].value == "lenet"
    text = " ".join(m.value for m in at.markdown)
    assert "Overall verdict" in text
    assert any("Performance" in e.label for e in at.expander)
    assert len(at.dataframe) >= 2


def test_app_without_runs_says_how_to_make_one(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RAI_AUDIT_RUNS", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "rai-audit demo" in at.info[0].value


def test_app_reports_a_corrupt_run(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("{broken")
    monkeypatch.setenv("RAI_AUDIT_RUNS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "not valid JSON" in at.error[0].value
