from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rai_audit.audit.cli import main

RAI = [sys.executable, "-m", "rai_audit.audit.cli"]


def _run(args, **kw):
    return subprocess.run([*RAI, *args], capture_output=True, text=True, timeout=600, **kw)


# one thread for torch and the BLAS pools, whether pytest runs under xdist or not, so the demo's
# numbers are the same bytes in every run (a float sum split over two threads can differ)
ONE_THREAD = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """The README's first command, end to end, in a subprocess."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    proc = _run(["demo", "--out", str(out), "--quiet"], env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    assert all(n in proc.stdout for n in ("lenet5-digits", "mlp-adult", "mlp-compas"))
    return out


# accuracy each demo model must reach (COMPAS is hard: published models reach 0.65-0.70)
DEMO_ACCURACY = {"lenet5-digits": 0.95, "mlp-adult": 0.84, "mlp-compas": 0.64}


@pytest.mark.e2e
def test_demo_end_to_end(demo_dir):
    for name, floor in DEMO_ACCURACY.items():
        run = demo_dir / "runs" / name
        report = json.loads((run / "report.json").read_text())
        assert report["schema_version"] == "1.3"
        assert report["manifest"]["budget"] == "smoke"
        perf = next(r for r in report["results"] if r["kind"] == "performance")
        acc = next(m for m in perf["metrics"] if m["name"] == "accuracy")["value"]
        assert acc >= floor
        kinds = {r["kind"]: r for r in report["results"]}
        if name.startswith("mlp"):
            fair = kinds["fairness"]
            assert fair["status"] == "ok" and fair["compute"]["wall_time_s"] < 60
            assert any(m["name"].endswith("equalized_odds_difference") for m in fair["metrics"])
        else:
            assert any(
                r["kind"] == "skipped" and r["check"] == "fairness" for r in report["results"]
            )
        assert (run / "report.html").is_file()
        assert (demo_dir / "models" / name / "weights.safetensors").is_file()


GOLDEN_DEMO = Path(__file__).parent / "golden" / "demo"
# what differs between two runs of the same demo: when and where it ran, how long it took, how
# much memory it used, whether shadow models came from the cache, and the machine and library
# versions; every result, figure hash and decision is compared
VOLATILE = {
    "run_id",
    "created_at",
    "wall_time_s",
    "seconds",
    "peak_rss_mb",
    "command",
    "platform",
    "versions",
    "cache",
    "from_cache",
    "trained_now",
}


def _stable(value, out: str):
    if isinstance(value, dict):
        if "columns" in value and "rows" in value:  # a table: its timing columns aside
            timed = [i for i, c in enumerate(value["columns"]) if "second" in str(c).lower()]
            rows = [[None if i in timed else v for i, v in enumerate(r)] for r in value["rows"]]
            value = {**value, "rows": rows}
        return {
            k: "<device>"
            if k == "device" and isinstance(v, str) and "thread" in v
            else _stable(v, out)
            for k, v in value.items()
            if k not in VOLATILE
        }
    if isinstance(value, list):
        return [_stable(v, out) for v in value]
    if isinstance(value, str):
        return value.replace(out, "<out>")
    return value


def _differences(got, want, at: str = "") -> list[str]:
    """Where two JSON values differ, as paths with both values."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [
            d
            for k in sorted(set(got) | set(want))
            for d in _differences(got.get(k, "<missing>"), want.get(k, "<missing>"), f"{at}.{k}")
        ]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d for i, (g, w) in enumerate(zip(got, want)) for d in _differences(g, w, f"{at}[{i}]")
        ]
    return [] if got == want else [f"{at}: {got!r} != {want!r}"]


@pytest.mark.e2e
def test_demo_reports_match_the_stored_copy(demo_dir):
    """Refactoring changes no result: the demo's three report.json files equal a stored copy,
    ids, times, paths and the machine aside. RAI_UPDATE_GOLDEN=1 rewrites the copy (review the
    diff: a changed number is a changed result)."""
    GOLDEN_DEMO.mkdir(parents=True, exist_ok=True)
    for name in DEMO_ACCURACY:
        report = json.loads((demo_dir / "runs" / name / "report.json").read_text())
        text = json.dumps(_stable(report, str(demo_dir)), indent=1, sort_keys=True) + "\n"
        path = GOLDEN_DEMO / f"{name}.json"
        if os.environ.get("RAI_UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8")
        stored = json.loads(path.read_text(encoding="utf-8"))
        diffs = _differences(json.loads(text), stored)
        assert not diffs, f"the demo's {name} report differs from {path}: {diffs[:10]}"


@pytest.mark.e2e
def test_demo_decisions_carry_information(demo_dir):
    """The acceptance pair on the built-in demo: the LeNet on digits has no blocking finding
    (its explanation caveats are caveats, not findings), and the COMPAS MLP is blocked for
    reasons about the model: its accuracy and its group disparities."""
    decisions = {
        name: json.loads((demo_dir / "runs" / name / "report.json").read_text())["decision"]
        for name in DEMO_ACCURACY
    }
    lenet = decisions["lenet5-digits"]
    assert lenet["level"] != "blocking_findings", lenet
    assert lenet["headline"] == f"lenet5-digits: {lenet['level'].replace('_', ' ')}"
    compas = decisions["mlp-compas"]
    assert compas["level"] == "blocking_findings"
    sections = {r.split(".", 1)[0] for r in compas["reasons"]}
    assert sections <= {"performance", "robustness", "privacy", "fairness"}, compas["reasons"]
    assert any(r.startswith("performance.accuracy") for r in compas["reasons"])
    assert any(r.startswith("fairness.race.equalized_odds_difference") for r in compas["reasons"])
    assert not any("sanity" in r for d in decisions.values() for r in d["reasons"])


@pytest.mark.e2e
def test_no_demo_figure_lies_outside_its_own_interval(demo_dir):
    """Every metric of the three demo reports that has an interval contains its own value
    (COMPAS's predictive parity 0.081 with [0.13, 0.85] and Adult's calibration difference 0.070
    with [0.075, 0.18] did not)."""
    from rai_audit.audit.core.checks import known_metrics

    known = known_metrics()
    checked = 0
    for name in DEMO_ACCURACY:
        report = json.loads((demo_dir / "runs" / name / "report.json").read_text())
        for r in report["results"]:
            for m in r.get("metrics", []):
                # every name a policy could gate is one the policy validation knows
                assert m["name"].rsplit(".", 1)[-1] in known[r["kind"]], (r["kind"], m["name"])
                if m["value"] is None or m["ci_low"] is None or m["ci_high"] is None:
                    continue
                checked += 1
                assert m["ci_low"] - 1e-9 <= m["value"] <= m["ci_high"] + 1e-9, (
                    name,
                    r["kind"],
                    m["name"],
                    m["value"],
                    m["ci_low"],
                    m["ci_high"],
                    m["ci_method"],
                )
    assert checked > 100


@pytest.mark.e2e
def test_demo_reuses_cached_models(demo_dir):
    before = (demo_dir / "models" / "lenet5-digits" / "model.json").read_text()
    proc = _run(["demo", "--out", str(demo_dir), "--quiet"])
    assert proc.returncode == 0, proc.stderr
    assert (demo_dir / "models" / "lenet5-digits" / "model.json").read_text() == before


@pytest.mark.e2e
def test_check_exit_codes(demo_dir, tmp_path):
    run = demo_dir / "runs" / "lenet5-digits"
    stored = json.loads((run / "report.json").read_text())["verdict"]
    assert main(["check", str(run)]) == (1 if stored in ("fail", "error") else 0)
    perf = tmp_path / "perf.yaml"
    perf.write_text("rules:\n  performance.accuracy: {min: 0.9}\n")
    assert main(["check", str(run), "--policy", str(perf)]) == 0
    strict = tmp_path / "strict.yaml"
    strict.write_text("rules:\n  performance.accuracy: {min: 0.9999}\n")
    assert main(["check", str(run), "--policy", str(strict)]) == 1
    warn = tmp_path / "warn.yaml"
    warn.write_text("rules:\n  performance.accuracy: {min: 0.9999, severity: warn}\n")
    assert main(["check", str(run), "--policy", str(warn)]) == 0
    assert main(["check", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: {accuracy: {min: 2}}")
    assert main(["check", str(run), "--policy", str(bad)]) == 2


@pytest.mark.e2e
def test_run_with_config_and_policy(demo_dir, tmp_path):
    cfg = tmp_path / "audit.yaml"
    ckpt = tmp_path / "model"
    shutil.copytree(demo_dir / "models" / "lenet5-digits", ckpt)
    cfg.write_text(
        "seed: 3\nbudget: smoke\nmodel: {path: model, name: my-lenet}\n"
        "checks: {performance: {n_bins: 10}}\n"
        "policy: {rules: {performance.accuracy: {min: 0.5}}}\n"
    )
    out = tmp_path / "run"
    assert main(["run", "--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["manifest"]["seed"] == 3
    assert report["manifest"]["model"]["name"] == "my-lenet"
    assert report["results"][0]["config"]["n_bins"] == 10
    assert report["manifest"]["command"].startswith("rai-audit")


def test_train_command(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(
        [
            "train",
            "--arch",
            "mlp",
            "--dataset",
            "german_credit",
            "--out",
            str(out),
            "--epochs",
            "3",
            "-o",
            "hidden=[16]",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "model.json").read_text())
    assert meta["arch_kwargs"] == {"hidden": [16]} and meta["train_config"]["epochs"] == 3
    assert "checkpoint:" in capsys.readouterr().out


@pytest.mark.e2e
def test_audit_own_csv_model(tmp_path):
    """A CSV and a bare safetensors state dict with its architecture, through every section
    from a config file: none errors; with no split declared every row is evaluation data."""
    import numpy as np
    import pandas as pd
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=300), "b": rng.normal(size=300), "group": rng.choice(["x", "y"], 300)}
    )
    df["label"] = (df["a"] + df["b"] > 0).astype(int)
    df.to_csv(tmp_path / "data.csv", index=False)
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
        net.bias.zero_()
    from rai_audit.models.architectures import build_model

    model = build_model("mlp", (2,), 2, hidden=[], dropout=0.0)
    model.net.classifier.load_state_dict(net.state_dict())
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            str(tmp_path / "w.safetensors"),
            "--arch",
            "mlp",
            "--input-shape",
            "2",
            "--num-classes",
            "2",
            "--dataset",
            f"csv:{tmp_path / 'data.csv'}",
            "--target",
            "label",
            "--sensitive",
            "group",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 2  # architecture option hidden=[] is not the default; must be given
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        "budget: smoke\n"
        "model: {path: w.safetensors, arch: mlp, input_shape: [2], num_classes: 2,\n"
        "        arch_kwargs: {hidden: [], dropout: 0.0}}\n"
        "data: {name: csv:data.csv, options: {target: label, sensitive: [group],\n"
        "       features: [a, b], encoding: none}}\n"
    )
    assert main(["run", "--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    acc = report["results"][0]["metrics"][0]
    assert acc["name"] == "accuracy" and acc["value"] == 1.0 and acc["n"] == 300
    status = {r.get("check") or r["kind"]: r["status"] for r in report["results"]}
    assert status == {
        "performance": "ok",
        "explainability": "ok",
        "robustness": "ok",
        "privacy": "skipped",  # no declared members
        "fairness": "ok",
    }, [r.get("error") for r in report["results"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--arch", "lenet5", "--out", "x"], "Missing option '--dataset'"),
        (
            ["train", "--arch", "nope", "--dataset", "digits", "--out", "x"],
            "unknown architecture 'nope'",
        ),
        (
            ["train", "--arch", "mlp", "--dataset", "digits", "--out", "x", "--epochs", "zero"],
            "Invalid value for '--epochs'",
        ),
        (["run", "--out", "x"], "no model to audit"),
        (["run", "--model", "nowhere", "--out", "x"], "does not exist"),
        (
            ["run", "--model", "nowhere", "--out", "x", "--budget", "huge"],
            "option 'budget' of the audit must be one of",
        ),
        (["run", "--model", "nowhere", "--out", "x", "--checks", "magic"], "unknown check 'magic'"),
        (["demo", "--device", "tpu"], "option 'device' of the audit must be one of"),
        (["list", "models"], "cannot list 'models'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rai-audit: error:")
    assert message in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.e2e  # every section, or a process of its own: the end-to-end set
def test_the_console_script_exits_2_with_one_line(tmp_path):
    """The same contract through the real entry point, in a process of its own."""
    proc = _run(["run", "--model", "nowhere", "--out", "x", "--budget", "huge"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip().count("\n") == 0
        and "option 'budget' of the audit must be one of" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "command", ["train", "run", "demo", "check", "list", "report", "verify", "policy"]
)
def test_every_command_has_help_with_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out
    assert "Example" in out
    assert "rai-audit " + command in out.replace("\n", " ")


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "compas" in out and "performance" in out


@pytest.mark.e2e  # every section, or a process of its own: the end-to-end set
def test_audit_a_scikit_learn_model_saved_with_skops(tmp_path, german):
    """A scikit-learn classifier from a .skops file (never a pickle), audited for performance
    and fairness from the command line."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=500).fit(tr.X, tr.y)
    sio.dump(clf, tmp_path / "credit.skops")
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            str(tmp_path / "credit.skops"),
            "--dataset",
            "german_credit",
            "--checks",
            "performance,fairness",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code in (0, 1)
    report = json.loads((out / "report.json").read_text())
    assert report["manifest"]["model"]["source"] == "skops"
    fair = next(r for r in report["results"] if r["kind"] == "fairness")
    assert fair["status"] == "ok" and "sex" in fair["groups"]
    acc = next(m for m in report["results"][0]["metrics"] if m["name"] == "accuracy")["value"]
    # a model the suite did not train, with no declared split: every row is evaluation data
    X = np.concatenate([s.X for s in german.splits.values()])
    y = np.concatenate([s.y for s in german.splits.values()])
    assert report["manifest"]["data"]["split_sizes"] == {"test": len(y)}
    assert report["manifest"]["data"]["split_origin"] == "evaluation"
    assert acc == pytest.approx(float((clf.predict(X) == y).mean()))
    assert any("train_test_gap" in line for line in report["decision"]["not_assessed"])
    # one fitted state, one hash: no section may claim the model changed while it was audited
    for r in report["results"]:
        assert not any("changed during this check" in w for w in r["warnings"]), r["warnings"]


class _Custom:  # a type outside scikit-learn/numpy/scipy: skops must not build it
    def __init__(self) -> None:
        self.k = 1


def test_skops_file_with_untrusted_types_is_refused(tmp_path, german):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from rai_audit.models.checkpoint import load_model
    from rai_audit.models.errors import CheckpointError

    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=200).fit(tr.X, tr.y)
    clf.extra_ = _Custom()
    sio.dump(clf, tmp_path / "bad.skops")
    with pytest.raises(
        CheckpointError, match=r"not on the trusted list: test_cli\._Custom \(a type\)"
    ):
        load_model(tmp_path / "bad.skops")


def test_version_name_and_true_help(lenet_checkpoint, tmp_path, capsys):
    """The small things a user meets first: --version prints the installed version; --name
    names the model in the report; the help of demo and run says what they really do."""
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rai-audit {version('rai-audit')}"
    out = tmp_path / "run"
    args = ["run", "--model", str(lenet_checkpoint), "--out", str(out), "--checks", "performance"]
    assert main([*args, "--name", "credit-v2", "--quiet"]) == 0
    assert json.loads((out / "report.json").read_text())["manifest"]["model"]["name"] == "credit-v2"
    capsys.readouterr()
    main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Adult and COMPAS" in text and "all three" in text
    main(["run", "--help"])
    assert ".skops" in capsys.readouterr().out


def test_declared_split_flags_reach_the_csv_loader_and_need_a_csv(tmp_path, capsys):
    """--split-column, --train, --holdout and --encoding become the csv: data set's options
    (paths made absolute); without a csv: data set they are refused on one line."""
    from rai_audit.audit.cli import _csv_options

    opts = _csv_options(
        "y", "sex", "csv:t.csv", split_column=None, train="tr.csv", holdout=None, encoding="none"
    )
    assert opts["train"] == str((tmp_path.cwd() / "tr.csv").resolve())
    assert opts["encoding"] == "none" and "split_column" not in opts and "holdout" not in opts
    assert main(["run", "--model", "m", "--out", str(tmp_path / "o"), "--train", "tr.csv"]) == 2
    err = capsys.readouterr().err
    assert "need --dataset csv:PATH" in err and err.count("\n") <= 1


def test_an_image_folder_of_another_size_is_probed_or_names_the_options(tmp_path, capsys):
    """A grayscale 16x16 folder and TorchScript CNNs with no size given. Planted: a CNN that
    takes 20x20 images, a size the probe does not try: one line naming --image-size and
    --grayscale (it was a 53-line TorchScript traceback). Twins: with the options it audits;
    a CNN for 16x16 is probed (one channel from its first weight, the folder's own size) and
    audits with nothing given."""
    import numpy as np
    import torch
    from PIL import Image
    from torch import nn

    rng = np.random.default_rng(0)
    for c, top in (("dark", 120), ("light", 255)):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(30):
            arr = (rng.random((16, 16)) * top).astype(np.uint8)
            Image.fromarray(arr, mode="L").save(tmp_path / "imgs" / c / f"{i}.png")
    torch.manual_seed(0)
    for name, side in (("cnn20.ts", 20), ("cnn16.ts", 16)):
        net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * side * side, 2)
        )
        torch.jit.script(net).save(str(tmp_path / name))
    data = ["--dataset", f"folder:{tmp_path / 'imgs'}", "--quiet"]
    base = ["run", "--model", str(tmp_path / "cnn20.ts"), *data]
    assert main([*base, "--out", str(tmp_path / "a"), "--checks", "performance"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--image-size" in err and "--grayscale" in err
    assert "1x16x16" in err and not (tmp_path / "a").exists()
    out = tmp_path / "b"
    args = [*base, "--image-size", "20", "--grayscale", "--out", str(out)]
    assert main([*args, "--checks", "performance"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["results"]] == ["ok"]
    # the size alone: the channels are probed, at that size only
    sized = [*base, "--image-size", "20", "--out", str(tmp_path / "s"), "--checks", "performance"]
    assert main(sized) == 0
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["manifest"]["config"]["data"]["options"] == {"size": 20, "grayscale": True}
    probed = ["run", "--model", str(tmp_path / "cnn16.ts"), *data, "--out", str(tmp_path / "p")]
    assert main([*probed, "--checks", "performance"]) == 0
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["manifest"]["config"]["data"]["options"] == {"size": 16, "grayscale": True}
    assert report["manifest"]["model"]["input_shape"] == [1, 16, 16]
    assert main(["run", "--model", "m", "--out", str(tmp_path / "c"), "--grayscale"]) == 2


@pytest.mark.e2e
def test_a_skops_model_through_every_section_from_the_command_line(tmp_path, german):
    """A .skops credit model with no recorded members, through every section from the CLI:
    nothing errors; what cannot apply (robustness needs gradients, privacy needs known members)
    is on the 'not assessed' line with its reason and never decides 'blocking findings'."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    tr = german.splits["train"]
    sio.dump(LogisticRegression(max_iter=500).fit(tr.X, tr.y), tmp_path / "credit.skops")
    (tmp_path / "audit.yaml").write_text(
        "checks:\n"
        "  performance: {}\n"
        "  explainability: {n_explain: 2, n_background: 4, lime_samples: 20, deletion_steps: 4,"
        " stability_inputs: 2}\n"
        "  robustness: {}\n"
        "  privacy: {}\n"
        "  fairness: {n_boot: 50, proxy_rows: 200, mitigation_rows: 400, eg_max_iter: 1}\n"
    )
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            str(tmp_path / "credit.skops"),
            "--dataset",
            "german_credit",
            "--config",
            str(tmp_path / "audit.yaml"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    report = json.loads((out / "report.json").read_text())
    status = {r["kind"]: r["status"] for r in report["results"]}
    assert "error" not in status.values(), report["results"]
    assert status["performance"] == status["explainability"] == status["fairness"] == "ok"
    not_assessed = " ".join(report["decision"]["not_assessed"])
    assert "privacy: " in not_assessed and "robustness: " in not_assessed
    reasons = report["decision"]["reasons"]
    assert not any(r.split(".")[0] in ("privacy", "robustness") for r in reasons)
    assert code == 0  # 'run' completes; 'rai-audit check' is the gate


@pytest.mark.e2e
def test_bare_safetensors_with_its_architecture_through_every_section(lenet_checkpoint, tmp_path):
    """A state dict alone (weights.safetensors with --arch, --input-shape, --num-classes) through
    every section from the CLI: nothing errors; Grad-CAM runs (a real module); privacy, with no
    recorded members, and fairness, with no sensitive features, are not assessed."""
    (tmp_path / "audit.yaml").write_text(
        "checks:\n"
        "  performance: {}\n"
        "  explainability: {n_explain: 2, n_background: 4, ig_steps: 4, eg_samples: 4,"
        " lime_samples: 20, deletion_steps: 4, sanity_inputs: 2, sanity_layers: 1,"
        " stability_inputs: 2}\n"
        "  robustness: {n_eval: 16, max_iter: 2, blackbox_queries: 8, batch_size: 16}\n"
        "  privacy: {}\n"
        "  fairness: {}\n"
    )
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            str(lenet_checkpoint / "weights.safetensors"),
            "--arch",
            "lenet5",
            "--input-shape",
            "1,8,8",
            "--num-classes",
            "10",
            "--dataset",
            "digits",
            "--config",
            str(tmp_path / "audit.yaml"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    report = json.loads((out / "report.json").read_text())
    status = {r.get("check") or r["kind"]: r["status"] for r in report["results"]}
    assert status == {
        "performance": "ok",
        "explainability": "ok",
        "robustness": "ok",
        "privacy": "skipped",
        "fairness": "skipped",
    }, status
    explain = next(r for r in report["results"] if r["kind"] == "explainability")
    assert {m["method"]: m["status"] for m in explain["methods"]}["gradcam"] == "ok"
    not_assessed = " ".join(report["decision"]["not_assessed"])
    assert "privacy: " in not_assessed and "fairness: " in not_assessed
    assert code in (0, 1)
