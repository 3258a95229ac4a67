from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from rai_audit.audit.core.checks import Check
from rai_audit.audit.core.runner import run_audit
from rai_audit.audit.gate.policy import Policy
from rai_audit.audit.performance.check import PerformanceCheck
from rai_audit.reports.json_io import load_report, report_to_json
from rai_audit.reports.schema import AuditReport

STRICT = Policy.from_mapping({"rules": {"performance.accuracy": {"min": 0.999}}})


@dataclass(frozen=True, kw_only=True)
class ExplodingCheck(Check):
    name: ClassVar[str] = "exploding"
    title: ClassVar[str] = "Exploding"

    def run(self, target, *, seed, artifacts):
        raise RuntimeError("kaboom inside the check")


@dataclass(frozen=True, kw_only=True)
class MutatingCheck(Check):
    name: ClassVar[str] = "mutating"
    title: ClassVar[str] = "Mutating"

    def run(self, target, *, seed, artifacts):
        with torch.no_grad():
            next(target.model.module.parameters()).add_(1.0)
        return PerformanceCheck().run(target, seed=seed, artifacts=artifacts)


def test_run_writes_a_complete_folder_and_round_trips(digits_target, tmp_path):
    out = tmp_path / "run"
    report = run_audit(digits_target, [PerformanceCheck()], out=out, seed=0, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "artifacts",
        "report.html",
        "report.json",
        "report.pdf",
    ]
    again = load_report(out)
    assert again == report
    assert report_to_json(again) == (out / "report.json").read_text()
    m = report.manifest
    assert m.model.sha256 == digits_target.model.sha256 and len(m.data.sha256) == 64
    assert {"torch", "numpy", "python"} <= set(m.versions)
    assert m.seed == 0 and m.budget == "smoke"
    assert report.results[0].compute.wall_time_s > 0
    html = (out / "report.html").read_text()
    assert "Performance" in html and "data:image/png;base64," in html  # figures inlined
    for fig in report.results[0].figures:
        assert (out / fig.path).is_file()


def test_same_seed_same_numbers(digits_target, tmp_path):
    a = run_audit(
        digits_target,
        [PerformanceCheck(max_samples=100)],
        out=tmp_path / "a",
        seed=5,
        progress=False,
    )
    b = run_audit(
        digits_target,
        [PerformanceCheck(max_samples=100)],
        out=tmp_path / "b",
        seed=5,
        progress=False,
    )
    assert a.results[0].metrics == b.results[0].metrics
    assert [f.sha256 for f in a.results[0].figures] == [f.sha256 for f in b.results[0].figures]


def test_a_crashing_check_becomes_an_error_result_and_the_audit_goes_on(digits_target, tmp_path):
    report = run_audit(
        digits_target, [ExplodingCheck(), PerformanceCheck()], out=tmp_path / "r", progress=False
    )
    err, perf = report.results
    assert err.kind == "error" and err.check == "exploding" and err.verdict == "error"
    assert "kaboom inside the check" in err.error
    assert (tmp_path / "r" / "artifacts" / "errors" / "exploding.txt").is_file()
    assert perf.status == "ok"
    assert report.verdict == "error"


def test_model_changes_are_flagged(digits_target, tmp_path):
    report = run_audit(digits_target, [MutatingCheck()], out=tmp_path / "r", progress=False)
    assert any("changed during this check" in w for w in report.results[0].warnings)


def test_interrupted_run_leaves_the_previous_run_intact(digits_target, tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_audit(digits_target, [PerformanceCheck()], out=out, progress=False)
    before = (out / "report.json").read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rai_audit.audit.core.runner.render_html", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_audit(digits_target, [PerformanceCheck()], out=out, progress=False)
    assert (out / "report.json").read_bytes() == before
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".run.lock", "rai-audit-history.sqlite", "run"], "no staging folder left"


def test_out_folder_that_is_not_a_run_is_never_replaced(digits_target, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="no report.json"):
        run_audit(digits_target, [PerformanceCheck()], out=tmp_path, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    run_audit(digits_target, [PerformanceCheck()], out=empty, progress=False)
    assert (empty / "report.json").is_file()


def test_policy_verdicts(digits_target, tmp_path):
    report = run_audit(
        digits_target, [PerformanceCheck()], out=tmp_path / "r", policy=STRICT, progress=False
    )
    acc = report.results[0].metric("accuracy")
    assert acc.verdict == "fail" and acc.threshold.min == 0.999
    assert report.results[0].metric("ece").verdict is None
    assert report.verdict == "fail"
    relaxed = Policy.from_mapping({"rules": {"performance.accuracy": {"min": 0.5}}}).apply(report)
    assert relaxed.verdict == "pass"
    assert Policy.from_mapping({"rules": {"performance.acc": {"min": 0.5}}}).unmatched(report) == [
        "performance.acc"
    ]


def test_reports_import_without_torch():
    code = (
        "import sys, reports, reports.html, reports.json_io, reports.schema; "
        "bad = [m for m in ('torch', 'audit', 'models', 'explain', 'attacks', 'shap', 'art') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_report_json_schema_is_published():
    schema = AuditReport.model_json_schema()
    assert schema["properties"]["schema_version"]["enum"] == ["1.0", "1.1", "1.2", "1.3"]
    assert schema["properties"]["schema_version"]["default"] == "1.3"
    for field in ("about", "outcome", "set_aside", "qualified", "method", "subset"):
        assert field in schema["$defs"]["Metric"]["properties"]
    assert "decision" in schema["properties"]
    json.dumps(schema)


def test_load_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no audit report"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text('{"schema_version": "0.1"}')
    with pytest.raises(ValueError, match="schema version '0.1'"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text('{"schema_version": "1.0", "results": []}')
    with pytest.raises(ValueError, match="not a valid audit report: manifest"):
        load_report(tmp_path)


def test_one_writer_per_output_folder_and_dead_writers_are_swept(digits_target, tmp_path):
    """Planted: another process holds the output folder (an audit in progress): a second audit
    into it exits at once with a line naming the holder's pid and writes nothing. Twin: once it
    is gone (the lock dies with its process, however it ends) the audit runs, and what killed
    runs left behind (an unfinished staging folder; a swap that died half-way, whose earlier
    run is the only copy) is swept or put back, then verifies."""
    from rai_audit.audit.cli import main
    from rai_audit.reports.atomic import FolderBusyError

    out = tmp_path / "run"
    run_audit(digits_target, [PerformanceCheck()], out=out, progress=False)
    first = load_report(out).manifest.run_id
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from rai_audit.reports.atomic import folder_lock\n"
            f"with folder_lock({str(out)!r}):\n    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match=f"pid {holder.pid}"):
            run_audit(digits_target, [PerformanceCheck()], out=out, progress=False)
        assert load_report(out).manifest.run_id == first  # untouched
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()
    # what SIGKILLed writers leave: an unfinished build, and a swap cut between its renames
    (tmp_path / ".run.staging-dead").mkdir()
    (tmp_path / ".run.staging-dead" / "half.json").write_text("{")
    (out).rename(tmp_path / ".run.previous-dead")
    from rai_audit.reports.atomic import folder_lock, sweep_stale

    with folder_lock(out):
        done = sweep_stale(out)
    assert done == ["restored .run.previous-dead as run", "removed .run.staging-dead"]
    assert load_report(out).manifest.run_id == first  # the only copy is back
    (tmp_path / ".run.staging-dead2").mkdir()
    report = run_audit(digits_target, [PerformanceCheck()], out=out, progress=False)
    assert report.manifest.run_id != first
    assert not list(tmp_path.glob(".run.staging-*")) and not list(tmp_path.glob(".run.previous-*"))
    assert main(["verify", str(out)]) == 0


def test_a_second_cli_audit_into_a_busy_folder_exits_2(lenet_checkpoint, tmp_path, capsys):
    from rai_audit.audit.cli import main
    from rai_audit.reports.atomic import folder_lock

    out = tmp_path / "run"
    argv = ["run", "--model", str(lenet_checkpoint), "--out", str(out), "--checks", "performance"]
    with folder_lock(out):
        code = main([*argv, "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "is being written by another audit" in err and err.count("\n") == 0
    assert not out.exists()
    assert main([*argv, "--quiet"]) == 0


@pytest.mark.e2e  # every section, or a process of its own: the end-to-end set
def test_a_torchscript_model_goes_through_every_section_without_an_error(
    lenet_checkpoint, digits, tmp_path
):
    """Planted: the README's route for one's own network. The randomization test copied a
    TorchScript module into non-leaf parameters and crashed the explainability section. Now
    every section runs or is skipped with its reason (Grad-CAM needs hooks TorchScript lacks;
    privacy needs known members; fairness needs sensitive features), and none errors. Twin:
    the same network as a checkpoint gets Grad-CAM."""
    import dataclasses

    from test_contract import TINY as tiny  # the smallest valid sizes of each check

    from rai_audit.audit.core.checks import all_checks
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.models.checkpoint import load_model

    checks = [
        dataclasses.replace(cls.for_budget("smoke"), **tiny.get(name, {}))
        for name, cls in all_checks().items()
        if name in ("performance", "explainability", "robustness", "privacy", "fairness")
    ]
    torch.jit.script(load_model(lenet_checkpoint).module.eval()).save(str(tmp_path / "m.ts"))
    scripted = load_model(tmp_path / "m.ts")
    report = run_audit(
        AuditTarget.from_bundle(scripted.module, digits, device="cpu"),
        checks,
        out=tmp_path / "ts",
        progress=False,
        history=False,
    )
    status = {r.kind: r.status for r in report.results}
    assert "error" not in status.values(), [getattr(r, "error", "") for r in report.results]
    assert status["explainability"] == status["robustness"] == "ok"
    methods = {s.method: s for s in report.results[1].methods}
    assert methods["gradcam"].status == "skipped" and "TorchScript" in methods["gradcam"].error
    assert all(methods[m].status == "ok" for m in ("integrated_gradients", "saliency", "lime"))
    assert any("privacy: " in x for x in report.decision.not_assessed)
    ckpt = run_audit(
        AuditTarget.from_bundle(load_model(lenet_checkpoint).module, digits, device="cpu"),
        [checks[1]],
        out=tmp_path / "ckpt",
        progress=False,
        history=False,
    )
    assert {s.method: s.status for s in ckpt.results[0].methods}["gradcam"] == "ok"


@dataclass(frozen=True, kw_only=True)
class GuidedCheck(Check):
    name: ClassVar[str] = "guided"
    title: ClassVar[str] = "Guided"
    guide: ClassVar[tuple[str, str]] = ("How many test rows there are.", "A count, no more.")

    def run(self, target, *, seed, artifacts):
        from rai_audit.reports.schema import Metric, PluginResult

        n = len(target.splits["test"].y)
        return PluginResult(
            kind="guided", check=self.name, title=self.title, metrics=[Metric(name="n", value=n)]
        )


def test_a_plugin_guide_reaches_every_rendering(digits_target, tmp_path):
    """A plugin check's guide (what it measures, its limits) is recorded with its result and
    shown above its section in the HTML and the PDF, as the built-in sections' are; a built-in
    result is unchanged (its guide is the narrative's)."""
    from rai_audit.reports import narrative
    from rai_audit.reports.html import render_html

    report = run_audit(
        digits_target, [GuidedCheck(), PerformanceCheck()], out=tmp_path / "r", progress=False
    )
    guided, perf = report.results
    assert guided.guide == ["How many test rows there are.", "A count, no more."]
    assert "guide" not in json.loads(report_to_json(report))["results"][1]
    assert load_report(tmp_path / "r").results[0].guide == guided.guide
    html = render_html(report)
    assert "<b>What it measures.</b> How many test rows there are." in html
    assert "<b>Limits.</b> A count, no more." in html
    assert narrative.section_guide(perf) == narrative.SECTION_GUIDE["performance"]
    pdf = (tmp_path / "r" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
