"""The dashboard, page by page, with Streamlit's AppTest against runs made in the test; and its
background jobs and uploads."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from rai_audit.audit.core.config import build_checks
from rai_audit.audit.core.runner import run_audit
from rai_audit.audit.service import jobs, uploads

pytestmark = pytest.mark.e2e  # the dashboard, end to end

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, lenet_checkpoint, mlp_checkpoint, digits, german):
    """Two runs: the German-credit MLP with every section, LeNet with the image sections."""
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.models.checkpoint import load_model

    root = tmp_path_factory.mktemp("dash") / "runs"
    credit = AuditTarget.from_loaded(load_model(mlp_checkpoint), german, device="cpu")
    run_audit(credit, build_checks(None, "smoke"), out=root / "credit", progress=False, pdf=False)
    lenet = AuditTarget.from_loaded(load_model(lenet_checkpoint), digits, device="cpu")
    checks = build_checks(["performance", "explainability", "robustness"], "smoke")
    run_audit(lenet, checks, out=root / "lenet", progress=False)
    return root


def _app(root, monkeypatch, page=None, run=None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RAI_AUDIT_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    if page is not None:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
    if run is not None:
        at.sidebar.selectbox(key="run").set_value(run).run()
        assert not at.exception, at.exception
    return at


def test_runs_page_lists_trends_and_compares(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch)
    assert at.sidebar.radio(key="page").value == "Runs"
    table = at.dataframe[0].value
    assert set(table["run"]) == {"credit", "lenet"}
    assert at.selectbox(key="trend_metric").value == "performance.accuracy"
    at.selectbox(key="cmp_a").set_value("credit").run()
    at.selectbox(key="cmp_b").set_value("lenet").run()
    assert not at.exception
    compared = at.dataframe[-1].value
    assert "accuracy" in set(compared["metric"])


def test_performance_page(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Performance", "credit")
    assert any("Performance" in s.value for s in at.subheader)
    assert "accuracy" in set(at.dataframe[0].value["metric"])


def test_explainability_page_picks_an_input(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Explainability", "lenet")
    slider = at.slider(key="xai_input")
    slider.set_value(3).run()
    assert not at.exception
    assert any("Input 3" in m.value for m in at.markdown)
    methods = at.multiselect(key="xai_methods")
    assert "gradcam" in methods.options and "integrated_gradients" in methods.options


def test_robustness_page_epsilon_slider_and_examples(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Robustness", "lenet")
    eps = at.select_slider(key="eps")
    eps.set_value(eps.options[-1]).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert any("accuracy at eps" in label for label in labels)
    at.slider(key="adv_example").set_value(2).run()
    assert not at.exception


def test_privacy_page(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Privacy", "credit")
    assert any("Privacy" in s.value for s in at.subheader)
    assert len(at.dataframe) >= 1


def test_fairness_page_feature_metric_and_mitigations(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Fairness", "credit")
    feature = at.selectbox(key="fair_feature")
    assert set(feature.options) >= {"sex", "age_group", "age_group_x_sex"}
    feature.set_value("sex").run()
    at.selectbox(key="fair_metric").set_value("fpr").run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    assert any("method" in f.columns and "audited model" in set(f["method"]) for f in frames)
    assert any(
        "metric" in f.columns and "sex.equalized_odds_difference" in set(f["metric"])
        for f in frames
    )


def test_report_page_scorecard_and_downloads(runs_root, monkeypatch):
    at = _app(runs_root, monkeypatch, "Report", "lenet")
    assert any("Overall verdict" in m.value for m in at.markdown)
    kinds = [type(e).__name__ for e in at.main]
    assert kinds  # rendered
    # lenet was run with a PDF; credit without: the page offers to render it
    at2 = _app(runs_root, monkeypatch, "Report", "credit")
    assert at2.button(key="render_pdf").label == "Render the PDF"


def test_pages_without_runs_say_how_to_make_one(tmp_path, monkeypatch):
    at = _app(tmp_path / "none", monkeypatch)
    assert "rai-audit demo" in at.info[0].value
    at = _app(tmp_path / "none", monkeypatch, "Fairness")
    assert "rai-audit demo" in at.info[0].value


def test_corrupt_run_is_reported(tmp_path, monkeypatch):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("{broken")
    at = _app(tmp_path, monkeypatch, "Report")
    assert "not valid JSON" in at.error[0].value


def test_new_audit_page_starts_a_background_job(tmp_path, monkeypatch):
    """The job runs in its own process: the page returns at once, a new AppTest session (a
    reload) sees it, and the run lands in the runs folder."""
    root = tmp_path / "runs"
    at = _app(root, monkeypatch, "New audit")
    at.selectbox(key="recipe").set_value("mlp on german_credit").run()
    at.multiselect(key="sections").set_value(["performance"]).run()
    at.text_input(key="run_name").set_value("credit-job").run()
    t0 = time.perf_counter()
    at.button(key="start").click().run()
    assert time.perf_counter() - t0 < 20  # did not wait for the audit
    assert any("Started audit 'credit-job'" in s.value for s in at.success)
    deadline = time.time() + 240
    while time.time() < deadline:
        status = jobs.list_jobs(root)[0]
        if status["state"] not in ("queued", "running"):
            break
        time.sleep(1)
    assert status["state"] == "done", status
    report = json.loads((root / "credit-job" / "report.json").read_text())
    assert report["manifest"]["model"]["name"] == "mlp-german_credit"
    again = _app(root, monkeypatch)  # a reload: the job and the run are there
    assert any("credit-job" in s.value for s in again.success)
    assert "credit-job" in set(again.dataframe[0].value["run"])


def test_job_that_fails_and_a_dead_job_are_reported(tmp_path):
    root = tmp_path / "runs"
    job = jobs.submit(root, {"name": "broken", "model": {"path": str(tmp_path / "nowhere")}})
    deadline = time.time() + 120
    while jobs.read_status(job)["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
    status = jobs.read_status(job)
    assert status["state"] == "failed" and "does not exist" in status["error"]
    dead = jobs.create_job(root)
    (dead / "status.json").write_text(json.dumps({"state": "running", "pid": 2**22 + 12345}))
    assert jobs.read_status(dead)["state"] == "died"
    with pytest.raises(ValueError, match="plain folder name"):
        jobs.submit(root, {"name": "../escape", "model": {"path": "x"}})


def test_uploads_are_checked_and_stay_in_the_job_folder(tmp_path, mlp_checkpoint):
    import pickle

    job = tmp_path / "job"
    with pytest.raises(uploads.UploadError, match="pickle"):
        uploads.save_model(job, {"model.pt": pickle.dumps({"a": 1})})
    with pytest.raises(uploads.UploadError, match="limit"):
        uploads._check_size("big.bin", b"x" * 10, 5)
    files = {p.name: p.read_bytes() for p in Path(mlp_checkpoint).iterdir() if p.is_file()}
    path = uploads.save_model(job, files)
    from rai_audit.models.checkpoint import load_model

    assert load_model(path).source == "checkpoint"
    with pytest.raises(uploads.UploadError, match="not a readable CSV|column"):
        uploads.save_csv(job, "x.csv", b"\x00\x01")
    csv = uploads.save_csv(job, "../../evil.csv", b"a,b,y\n1,2,0\n3,4,1\n")
    assert csv.parent == job / "data" and csv.name == "evil.csv"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../outside.png", b"x")
    with pytest.raises(uploads.UploadError, match="unsafe path"):
        uploads.save_image_zip(job, "imgs.zip", buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("set/cats/1.png", b"x")
        zf.writestr("set/dogs/1.png", b"x")
    folder = uploads.save_image_zip(job, "imgs.zip", buf.getvalue())
    assert folder == job / "data" / "images" / "set"
    assert all(job.resolve() in p.resolve().parents for p in job.rglob("*"))


def test_a_job_audits_an_uploaded_checkpoint(tmp_path, mlp_checkpoint):
    """The upload path of the New audit page: stored in the job's inputs, audited in its own
    process (the checkpoint records its data set, so no data upload is needed)."""
    root = tmp_path / "runs"
    job = jobs.create_job(root)
    files = {p.name: p.read_bytes() for p in Path(mlp_checkpoint).iterdir() if p.is_file()}
    path = uploads.save_model(job / "inputs", files)
    spec = {"name": "uploaded", "model": {"path": str(path)}, "checks": ["performance"]}
    jobs.start_job(job, spec)
    deadline = time.time() + 180
    while jobs.read_status(job)["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
    status = jobs.read_status(job)
    assert status["state"] == "done", (status, (job / "log.txt").read_text())
    report = json.loads((root / "uploaded" / "report.json").read_text())
    assert report["manifest"]["model"]["path"].startswith(str(job / "inputs"))


def test_a_plugin_check_gets_a_page_and_can_be_chosen(tmp_path, monkeypatch, german):
    """The pages and the New audit form follow what is registered: a check added at run time
    gets its own page, showing its metrics, and is offered for a new audit."""
    from dataclasses import dataclass
    from typing import ClassVar

    from sklearn.linear_model import LogisticRegression

    from rai_audit.audit.core.checks import CHECKS, Check
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.reports.schema import Metric, PluginResult

    @dataclass(frozen=True, kw_only=True)
    class MajorityShare(Check):
        name: ClassVar[str] = "majority_share"
        title: ClassVar[str] = "Majority share"
        guide: ClassVar[tuple[str, str]] = ("How often class 1 is predicted.", "No intervals.")

        def run(self, target, *, seed, artifacts):
            pred = target.model.predict_proba(target.splits["test"].X).argmax(1)
            share = float((pred == 1).mean())
            return PluginResult(
                kind="majority_share",
                check=self.name,
                title=self.title,
                summary=f"Class 1 takes {share:.0%} of the predictions.",
                metrics=[Metric(name="share_of_class_1", value=share, higher_is_better=False)],
            )

    tr = german.splits["train"]
    target = AuditTarget.from_bundle(LogisticRegression(max_iter=500).fit(tr.X, tr.y), german)
    root = tmp_path / "runs"
    CHECKS.register(MajorityShare)
    try:
        run_audit(target, [MajorityShare()], out=root / "plugin", progress=False, pdf=False)
        at = _app(root, monkeypatch, "New audit")
        assert "majority_share" in at.multiselect(key="sections").options
        at = _app(root, monkeypatch, "Majority share", "plugin")
        assert any("Majority share" in s.value for s in at.subheader)
        assert "share_of_class_1" in set(at.dataframe[0].value["metric"])
        assert any("What it measures: How often class 1" in c.value for c in at.caption)
    finally:
        CHECKS.unregister("majority_share")
    at = _app(root, monkeypatch)  # unregistered: no page, and the run still lists
    assert "Majority share" not in at.sidebar.radio(key="page").options
    assert "plugin" in set(at.dataframe[0].value["run"])
