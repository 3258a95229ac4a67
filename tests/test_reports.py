"""Reports and gates: golden scorecard and JSON, PDF and HTML structure (and pixels), JUnit,
comparisons, the run history, and the CLI commands over them."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from reportkit import make_report, write_run

from rai_audit.audit.cli import main
from rai_audit.audit.gate.compare import compare_reports
from rai_audit.audit.gate.history import index_run, list_runs, metric_trend
from rai_audit.reports import narrative
from rai_audit.reports.html import render_html
from rai_audit.reports.json_io import report_to_json
from rai_audit.reports.junit import junit_xml
from rai_audit.reports.pdf import render_pdf_bytes

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>; RAI_UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    path = GOLDEN / name
    if os.environ.get("RAI_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with RAI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_golden_scorecard_json_and_junit():
    report = make_report()
    rows = "\n".join(
        " | ".join(str(v) for v in vars(r).values()) for r in narrative.scorecard(report)
    )
    _golden("scorecard.txt", rows + "\n")
    _golden("report.json", report_to_json(report))
    _golden("junit.xml", junit_xml(report))
    _golden("summary.txt", "\n".join(narrative.executive_summary(report)) + "\n")


def test_scorecard_verdicts_follow_the_policy():
    report = make_report()
    by = {(r.section, r.metric): r for r in narrative.scorecard(report)}
    assert by[("performance", "accuracy")].verdict == "pass"
    assert by[("performance", "ece")].verdict == "warn"
    # 0.16 with its whole interval [0.13, 0.21] above 0.1: use_ci fails it
    assert by[("fairness", "sex.equalized_odds_difference")].verdict == "fail"
    assert by[("robustness", "(section)")].verdict == "skipped"
    assert by[("privacy", "(section)")].verdict == "error"
    assert ("performance", "log_loss") not in by  # not gated
    sections = {r.section: r for r in narrative.section_scorecard(report)}
    assert (sections["performance"].passed, sections["performance"].warned) == (1, 1)
    assert sections["fairness"].failed == 1
    assert "sex.equalized_odds_difference = 0.16 [0.13, 0.21]" in sections["fairness"].finding


def test_junit_is_valid_and_counts_match():
    root = ET.fromstring(junit_xml(make_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "6",
        "1",
        "1",
        "1",
    )
    for suite in root:
        assert suite.tag == "testsuite"
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        for c in cases:
            assert c.get("classname").startswith("rai_audit.") and c.get("name")
    fail = root.find(".//failure")
    assert "sex.equalized_odds_difference = 0.16" in fail.get("message")


def test_compare_directions_tolerance_and_section_regressions():
    before = make_report(accuracy=0.93, eod=0.02, run_id="a")
    after = make_report(accuracy=0.90, eod=0.02, run_id="b")
    changes, sections = compare_reports(before, after, tolerance=0.01)
    by = {(c.section, c.metric): c for c in changes}
    acc = by[("performance", "accuracy")]
    assert acc.direction == "worse" and acc.regression and acc.delta == pytest.approx(-0.03)
    assert by[("performance", "ece")].direction == "same"
    loose, _ = compare_reports(before, after, tolerance=0.05)
    assert not any(c.regression for c in loose)
    better, _ = compare_reports(after, before, tolerance=0.01)
    assert {(c.section, c.metric): c for c in better}[
        ("performance", "accuracy")
    ].direction == "better"
    # lower is better for a disparity: a rise is worse, and its section verdict went pass -> fail
    worse_fair = make_report(accuracy=0.93, eod=0.2, run_id="c")
    changes, sections = compare_reports(before, worse_fair)
    eod = {(c.section, c.metric): c for c in changes}[("fairness", "sex.equalized_odds_difference")]
    assert eod.direction == "worse" and eod.regression
    assert sections == ["fairness: pass -> fail"]
    with pytest.raises(ValueError, match="tolerance"):
        compare_reports(before, after, tolerance=-1)


def test_history_indexes_runs_once_and_shows_trends(tmp_path):
    db = tmp_path / "h.sqlite"
    for i, acc in enumerate((0.91, 0.93, 0.95)):
        rep = make_report(accuracy=acc, run_id=f"run-{i}")
        index_run(rep, tmp_path / f"run-{i}", db)
    index_run(make_report(accuracy=0.95, run_id="run-2"), tmp_path / "run-2", db)  # re-index
    runs = list_runs(db)
    assert [r["run_id"] for r in runs] == ["run-2", "run-1", "run-0"]
    assert runs[0]["verdict"] == "error" and runs[0]["model_name"] == "credit-mlp"
    trend = metric_trend(db, "performance", "accuracy")
    assert [round(t["value"], 2) for t in trend] == [0.91, 0.93, 0.95]
    assert trend[0]["ci_low"] == pytest.approx(0.87)
    assert metric_trend(db, "performance", "log_loss") == []  # not a key metric


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, lenet_checkpoint, digits):
    """A real run with figures (performance only) for the renderers."""
    from rai_audit.audit.core.config import build_checks
    from rai_audit.audit.core.runner import run_audit
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.models.checkpoint import load_model

    target = AuditTarget.from_loaded(load_model(lenet_checkpoint), digits, device="cpu")
    out = tmp_path_factory.mktemp("rep") / "run"
    run_audit(
        target,
        build_checks(["performance"], "smoke"),
        out=out,
        progress=False,
        config={"model": {"path": str(lenet_checkpoint)}},
    )
    return out


def test_pdf_structure_text_images_and_pixels(real_run, tmp_path):
    import pypdf
    import pypdfium2 as pdfium

    from rai_audit.reports.json_io import load_report

    pdf_path = real_run / "report.pdf"
    assert pdf_path.is_file()  # written by the runner
    report = load_report(real_run)
    reader = pypdf.PdfReader(str(pdf_path))
    n = len(reader.pages)
    assert n >= 6
    text = "\n".join(p.extract_text() for p in reader.pages)
    for heading in (
        "RAI Audit report",
        "Scorecard by section",
        "Contents",
        "Executive summary",
        "Performance",
        "What it measures",
        "Model card",
        "EU AI Act",
        "Reproducibility appendix",
        "Compute per section",
        "Sign-off",
        report.manifest.run_id,
        report.manifest.model.sha256,
        f"page 1 of {n}",
        f"page {n} of {n}",
    ):
        assert heading in text, heading
    acc = report.result("performance").metric("accuracy")
    assert narrative.fmt(acc.value) in text
    images = sum(len(p.images) for p in reader.pages)
    assert images == len(report.result("performance").figures)
    outline = [o.title for o in reader.outline if not isinstance(o, list)]
    assert "Executive summary" in outline and "Sign-off" in outline
    # deterministic: the same report and artifacts give the same bytes
    assert render_pdf_bytes(report, real_run) == pdf_path.read_bytes()
    # looked at as a person would: the cover renders to a non-blank page with the red/green badge
    page = pdfium.PdfDocument(str(pdf_path))[0].render(scale=1.0).to_pil()
    page.save(tmp_path / "cover.png")
    pixels = np.asarray(page.convert("RGB"), dtype=float)
    assert pixels.std() > 10  # not blank
    coloured = (np.abs(pixels[..., 0] - pixels[..., 1]) > 60).mean()
    assert coloured > 1e-4  # the verdict colours are drawn
    doc = pdfium.PdfDocument(str(pdf_path))
    for i in range(len(doc)):  # no blank page anywhere
        img = np.asarray(doc[i].render(scale=0.4).to_pil().convert("L"), dtype=float)
        assert img.std() > 3, f"page {i + 1} is blank"


def test_pdf_from_json_alone_and_atomic(real_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(real_run, copy)
    (copy / "report.pdf").unlink()
    assert main(["report", str(copy)]) == 0  # no model involved: report.json + artifacts
    assert (copy / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(copy.glob(".report*"))  # no temporary files left


def test_html_has_the_pdf_content(real_run):
    from rai_audit.reports.json_io import load_report

    report = load_report(real_run)
    page = render_html(report)
    for part in (
        "Scorecard by section",
        'id="scorecard"',
        "Executive summary",
        "Model card",
        "EU AI Act",
        "Reproducibility appendix",
        "Compute per section",
        "Sign-off",
        "What it measures.",
    ):
        assert part in page, part
    for f in report.result("performance").figures:
        assert f"src='{f.path}'" in page
    for row in narrative.scorecard(report):
        assert row.metric in page
    assert render_html(report) == page


def test_model_card_and_ai_act_from_config():
    report = make_report()
    card = dict(narrative.model_card(report))
    assert card["Intended use"] == "pre-screening credit applications"
    assert card["Out of scope"] == "not stated"
    assert "sex" in card["Sensitive features"]
    act = {row[1]: row for row in narrative.ai_act_mapping(report)}
    assert act["Art. 10"][3] == "evidence shows a finding to address"  # fairness failed
    assert act["Art. 15(4)-(5)"][3].startswith("gap")  # robustness was skipped
    assert act["Art. 15(5)"][3].startswith("gap")  # privacy crashed


def test_check_junit_baseline_compare_and_history_commands(tmp_path, capsys):
    def run(name, **kw):
        return write_run(tmp_path / "runs" / name, make_report(run_id=name, broken=False, **kw))

    base = run("base", accuracy=0.95, eod=0.02)
    good = run("good", accuracy=0.95, eod=0.02)
    worse = run("worse", accuracy=0.91, eod=0.02)
    crashed = write_run(tmp_path / "runs" / "crashed", make_report(run_id="crashed"))
    # an 'error' verdict (privacy crashed) fails the gate; the JUnit file is still written
    assert main(["check", str(crashed), "--junit", str(tmp_path / "j.xml")]) == 1
    assert ET.parse(tmp_path / "j.xml").getroot().get("errors") == "1"
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  performance.accuracy: {min: 0.9}\n")
    assert main(["check", str(good), "--policy", str(policy)]) == 0
    assert main(["check", str(worse), "--policy", str(policy)]) == 0
    assert main(["check", str(worse), "--policy", str(policy), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "accuracy" in out and "regression" in out
    assert main(["compare", str(base), str(worse)]) == 0
    assert main(["compare", str(base), str(worse), "--fail-on-regression"]) == 1
    assert main(["compare", str(base), str(good), "--fail-on-regression"]) == 0
    assert main(["check", str(good), "--baseline", str(base), "--tolerance", "-1"]) == 2
    for run in (base, good):
        from rai_audit.reports.json_io import load_report

        index_run(load_report(run), run)
    capsys.readouterr()
    assert main(["history", "--runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "credit-mlp" in out and "base" in out and "good" in out
    assert (
        main(["history", "--runs", str(tmp_path / "runs"), "--metric", "performance.accuracy"]) == 0
    )
    assert "0.95" in capsys.readouterr().out
    assert main(["history", "--runs", str(tmp_path / "nowhere")]) == 2


def test_runner_indexes_every_run(real_run):
    from rai_audit.audit.gate.history import DB_NAME

    runs = list_runs(real_run.parent / DB_NAME)
    assert runs and runs[0]["folder"] == str(real_run.resolve())
    report = json.loads((real_run / "report.json").read_text())
    assert runs[0]["run_id"] == report["manifest"]["run_id"]


def test_check_opens_with_the_decision_lists_failures_first_and_never_cuts_lines(tmp_path, capsys):
    run = write_run(tmp_path / "run", make_report())
    assert main(["check", str(run)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "credit-mlp: blocking findings"
    reason = (
        "  blocking: fairness.sex.equalized_odds_difference: 0.16 [0.13, 0.21] against "
        "<= 0.1: violated"
    )
    assert reason in lines  # whole, although wider than 80 columns
    assert lines.index(reason) < next(i for i, x in enumerate(lines) if "condition:" in x)
    rows = [x for x in lines if x.startswith("│")]
    verdicts = [v for x in rows for v in ("error", "fail", "warn", "pass") if f" {v} " in x]
    order = {"error": 0, "fail": 1, "warn": 2, "pass": 3}
    assert verdicts == sorted(verdicts, key=order.get)  # failures first
    assert "sex.equalized_odds_difference" in out  # full metric names
    clean = write_run(tmp_path / "clean", make_report(broken=False, eod=0.02))
    assert main(["check", str(clean)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "credit-mlp: conditions"


def test_html_is_self_contained(real_run):
    import base64

    from rai_audit.reports.json_io import load_report

    report = load_report(real_run)
    page = (real_run / "report.html").read_text()
    assert page == render_html(report, real_run)
    for f in report.result("performance").figures:
        data = base64.b64encode((real_run / f.path).read_bytes()).decode()
        assert f"src='data:image/png;base64,{data}'" in page  # a downloaded copy shows it
        assert f"src='{f.path}'" not in page


def test_report_under_another_policy_never_overwrites_and_verify_catches_drift(
    real_run, tmp_path, capsys
):
    import shutil

    from rai_audit.audit.gate.policy import Policy
    from rai_audit.reports.json_io import load_report, record_sha256

    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    originals = {p.name: p.read_bytes() for p in run.glob("report.*")}
    assert main(["verify", str(run)]) == 0
    assert "; intact" in capsys.readouterr().out
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rules:\n  performance.accuracy: {min: 0.01}\n")
    assert main(["report", str(run), "--policy", str(lenient)]) == 0
    stem = f"report.policy-{Policy.load(lenient).sha256[:12]}"
    assert {p.name: p.read_bytes() for p in run.glob("report.*") if p.name in originals} == (
        originals
    )
    new = load_report(run / f"{stem}.json")
    assert (run / f"{stem}.pdf").is_file() and (run / f"{stem}.html").is_file()
    html = (run / f"{stem}.html").read_text()
    assert record_sha256(new) in html and "lenient.yaml" in html
    assert Policy.load(lenient).sha256 in html  # the whole policy and its hash in the appendix
    assert main(["verify", str(run)]) == 0
    capsys.readouterr()
    # drift: a report rendered from an edited record, a changed figure, a hand-edited record
    original = load_report(run)
    (run / "report.html").write_text(render_html(original.model_copy(update={"verdict": "pass"})))
    figure = run / original.result("performance").figures[0].path
    figure.write_bytes(figure.read_bytes() + b"x")
    assert main(["verify", str(run)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: report.html was not rendered from report.json" in out
    assert "does not match its recorded sha256" in out
    (run / "report.json").write_text((run / "report.json").read_text().replace("  ", "   ", 1))
    assert main(["verify", str(run)]) == 1
    assert "not the canonical form" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        ("perfomance.accuracy: {min: 0.99, severity: fail}", "did you mean 'performance'?"),
        ("performance.acuracy: {min: 0.99}", "did you mean 'accuracy'?"),
        ("fairness.*.equalised_odds_difference: {max: 0.1}", "'equalized_odds_difference'"),
    ],
)
def test_a_policy_typo_is_an_error_naming_the_closest_name(tmp_path, capsys, rules, named):
    """Planted: a typo in a rule's section or metric gated nothing and 'check' exited 0. Now
    'check', 'report' and 'run' with that policy exit 2 before anything else, naming the
    closest known name. Twin: the same rule spelled right gates as before (exit 1)."""
    run = write_run(tmp_path / "run", make_report(accuracy=0.989, eod=0.02, broken=False))
    typo = tmp_path / "typo.yaml"
    typo.write_text(f"rules:\n  {rules}\n")
    for argv in (
        ["check", str(run), "--policy", str(typo)],
        ["report", str(run), "--policy", str(typo)],
        [
            "run",
            "--model",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "o"),
            "--policy",
            str(typo),
        ],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert named in err and err.count("\n") <= 3, err
    assert not list(run.glob("report.policy-*"))
    assert not (tmp_path / "o").exists()
    right = tmp_path / "right.yaml"
    right.write_text("rules:\n  performance.accuracy: {min: 0.99, severity: fail}\n")
    assert main(["check", str(run), "--policy", str(right)]) == 1


@pytest.mark.parametrize("text", ["{}\n", "rules: {}\n", "version: 1\n"])
def test_a_policy_that_gates_nothing_is_refused_unless_allowed(tmp_path, capsys, text):
    """Planted: an empty policy passed every run. Now it is an error (exit 2) unless the user
    says --allow-empty-policy; twin: with the flag the run is judged by no rule and passes."""
    run = write_run(tmp_path / "run", make_report(broken=False, eod=0.02))
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    assert main(["check", str(run), "--policy", str(empty)]) == 2
    assert "gates nothing" in capsys.readouterr().err
    assert main(["check", str(run), "--policy", str(empty), "--allow-empty-policy"]) == 0


def test_the_default_policy_and_every_emitted_metric_are_known():
    """Every rule of the default policy names a check and a metric the suite declares, and a
    plugin that declares no metric names lets any through."""
    from rai_audit.audit.core.checks import known_metrics
    from rai_audit.audit.gate.policy import Policy

    known = known_metrics()
    assert Policy.default().validate(known) is not None
    assert all(
        known[k] for k in ("performance", "explainability", "robustness", "privacy", "fairness")
    )
    Policy.from_mapping({"rules": {"myplugin.anything": {"max": 1}}}).validate({"myplugin": None})


def test_comparisons_are_like_with_like_and_count_gated_metrics(tmp_path, capsys):
    """Planted: a baseline of another model on other data (the demo's Adult MLP against its
    COMPAS MLP). 'compare' flags it loudly on top and 'check --baseline' refuses it (exit 2);
    twin: the same model and data with new weights compares, saying so. A worse metric that no
    policy gates is not a regression unless --all-metrics asks for it."""
    from rai_audit.reports.schema import DataInfo

    base = make_report(broken=False, eod=0.02)
    other = base.model_copy(
        update={
            "manifest": base.manifest.model_copy(
                update={
                    "run_id": "run-compas",
                    "model": base.manifest.model.model_copy(update={"name": "mlp-compas"}),
                    "data": DataInfo(name="compas", kind="tabular", sha256="ef" * 32),
                }
            )
        }
    )
    a = write_run(tmp_path / "adult", base)
    c = write_run(tmp_path / "compas", other)
    capsys.readouterr()
    assert main(["compare", str(a), str(c)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("NOT LIKE WITH LIKE: model differs: 'credit-mlp'")
    assert "data differs: 'german_credit' vs 'compas'" in out
    assert main(["check", str(c), "--baseline", str(a)]) == 2
    assert "not the same model on the same data" in capsys.readouterr().err
    assert main(["check", str(c), "--baseline", str(a), "--allow-different"]) == 0
    # twin: new weights of the same model on the same data
    retrained = base.model_copy(
        update={
            "manifest": base.manifest.model_copy(
                update={
                    "run_id": "run-b",
                    "model": base.manifest.model.model_copy(update={"sha256": "99" * 32}),
                }
            )
        }
    )
    r = write_run(tmp_path / "retrained", retrained)
    capsys.readouterr()
    assert main(["compare", str(a), str(r)]) == 0
    out = capsys.readouterr().out
    assert "NOT LIKE WITH LIKE" not in out and "new weights" in out
    # only gated metrics regress by default: a worse ungated metric is shown, not counted
    perf = base.results[0]
    worse_ungated = base.model_copy(
        update={
            "results": [
                perf.model_copy(
                    update={
                        "metrics": [
                            m.model_copy(update={"value": m.value + 0.2})
                            if m.threshold is None and m.higher_is_better is False
                            else m
                            for m in perf.metrics
                        ]
                    }
                ),
                *base.results[1:],
            ]
        }
    )
    changes, _ = compare_reports(base, worse_ungated)
    worse = [c for c in changes if c.direction == "worse"]
    assert worse and not any(c.regression for c in worse)
    changes, _ = compare_reports(base, worse_ungated, gated_only=False)
    assert all(c.regression for c in changes if c.direction == "worse")


def test_no_python_none_in_any_rendered_text(tmp_path):
    """Planted: sections that no rule gates rendered as 'Explainability (None)' and
    'explainability: None' in the summary and the AI Act table. Now every rendered text (HTML,
    PDF, the decision lines) says 'not gated' instead, and the twin, a fully gated report,
    renders as before."""
    import io
    import re

    from pypdf import PdfReader

    from rai_audit.audit.gate.policy import Policy

    only_accuracy = Policy.from_mapping({"rules": {"performance.accuracy": {"min": 0.5}}})
    for planted, report in ((True, only_accuracy.apply(make_report())), (False, make_report())):
        run = write_run(tmp_path / report.manifest.run_id / str(id(report)), report)
        html = re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", "", render_html(report, run)))
        pdf = "\n".join(
            p.extract_text() for p in PdfReader(io.BytesIO(render_pdf_bytes(report, run))).pages
        )
        lines = " ".join(t for _, t in narrative.decision_lines(report)[2])
        for text in (html, pdf, lines):
            assert not re.search(r"\bNone\b", text), re.search(r".{60}\bNone\b.{20}", text)
        assert ("not gated" in html) == planted
