"""Your own model on your own data, through the command line as a user would (issue 29).

A gradient-boosting credit model trained on its own 80/20 split of a CSV, saved with skops.
Each case is planted with its clean twin:

- no split declared: every row is evaluation data, and the train-test gap and membership are
  not assessed (the suite's own re-split used to call the model's training rows "test");
- the split declared as a column, or as separate train and test files: the reported accuracy's
  interval holds the model's own held-out accuracy, and the gap is measured;
- a test file sharing rows with the train file: the overlap is a failing finding with its
  count; its twin without shared rows passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rai_audit.audit.cli import main


@pytest.fixture(scope="module")
def credit(tmp_path_factory):
    """A CSV of 1,000 rows, the model's own 80/20 split, and the model as a .skops file."""
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    root = tmp_path_factory.mktemp("credit")
    g = np.random.default_rng(1)
    n = 1000
    frame = pd.DataFrame({f"f{i}": g.normal(size=n).round(6) for i in range(5)})
    frame["y"] = (frame["f0"] + frame["f1"] * frame["f2"] + g.normal(0, 0.8, n) > 0).astype(int)
    order = g.permutation(n)
    tr, te = np.sort(order[:800]), np.sort(order[800:])
    cols = [f"f{i}" for i in range(5)]
    clf = GradientBoostingClassifier(n_estimators=60, random_state=0)
    clf.fit(frame.loc[tr, cols].to_numpy(np.float32), frame.loc[tr, "y"])
    own = float(clf.score(frame.loc[te, cols].to_numpy(np.float32), frame.loc[te, "y"]))
    sio.dump(clf, root / "credit.skops")
    frame.assign(split=np.where(np.isin(np.arange(n), tr), "train", "test")).to_csv(
        root / "all.csv", index=False
    )
    frame.to_csv(root / "whole.csv", index=False)
    frame.loc[tr].to_csv(root / "train.csv", index=False)
    frame.loc[te].to_csv(root / "test.csv", index=False)
    pd.concat([frame.loc[te[:140]], frame.loc[tr[:60]]]).to_csv(root / "leaky.csv", index=False)
    # the split column the wrong way round: "train" marks the rows the model never saw
    frame.assign(split=np.where(np.isin(np.arange(n), tr), "test", "train")).to_csv(
        root / "swapped.csv", index=False
    )
    return {"root": root, "own": own, "n": n}


def _audit(credit, out: str, *data: str) -> dict:
    root = credit["root"]
    args = [
        "run",
        "--model",
        str(root / "credit.skops"),
        *data,
        "--target",
        "y",
        "--encoding",
        "none",
        "--checks",
        "performance,privacy",
        "--out",
        str(root / out),
        "--quiet",
    ]
    assert main(args) == 0
    return json.loads((root / out / "report.json").read_text())


def _metric(report: dict, name: str) -> dict:
    perf = report["results"][0]
    return next(m for m in perf["metrics"] if m["name"] == name)


def test_no_declared_split_means_every_row_is_evaluation_data(credit):
    root = credit["root"]
    report = _audit(credit, "whole", "--dataset", f"csv:{root / 'whole.csv'}")
    data = report["manifest"]["data"]
    assert data["split_origin"] == "evaluation"
    assert data["split_sizes"] == {"test": credit["n"]}
    assert "every row is evaluation data" in data["split_source"]
    names = {m["name"] for m in report["results"][0]["metrics"]}
    assert "train_test_gap" not in names and "train_accuracy" not in names
    not_assessed = report["decision"]["not_assessed"]
    assert any(line.startswith("performance.train_test_gap") for line in not_assessed)
    assert any(line.startswith("privacy: no rows are known") for line in not_assessed)
    assert "--split-column" in " ".join(not_assessed)
    warnings = report["results"][0]["warnings"]
    assert any("its accuracy here is optimistic" in w for w in warnings)
    assert report["decision"]["level"] != "blocking_findings" or all(
        not r.startswith(("privacy", "performance.train_test"))
        for r in report["decision"]["reasons"]
    )


@pytest.mark.parametrize(
    "how",
    [
        ("--dataset", "csv:{root}/all.csv", "--split-column", "split"),
        ("--test", "{root}/test.csv", "--train", "{root}/train.csv"),
    ],
    ids=["split-column", "files"],
)
def test_a_declared_split_is_used_as_it_is(credit, how):
    root = credit["root"]
    args = [a.format(root=root) for a in how]
    report = _audit(credit, f"declared-{how[0]}", *args)
    data = report["manifest"]["data"]
    assert data["split_origin"] == "declared" and data["split_sizes"] == {"train": 800, "test": 200}
    assert "declared by the user" in data["split_source"]
    acc = _metric(report, "accuracy")
    assert acc["n"] == 200 and acc["ci_low"] <= credit["own"] <= acc["ci_high"]
    assert acc["value"] == pytest.approx(credit["own"])
    gap = _metric(report, "train_test_gap")
    assert gap["value"] is not None and gap["value"] > 0  # boosting fits its train rows better
    overlap = _metric(report, "train_test_overlap")
    assert overlap["outcome"] == "pass" and overlap["value"] == 0.0
    assert not any("train_test" in line for line in report["decision"]["not_assessed"])
    assert not any("optimistic" in w for w in report["results"][0]["warnings"])
    assert _metric(report, "test_above_train")["outcome"] == "pass"
    assert not gap["qualified"]


def test_a_test_file_sharing_rows_with_train_is_a_finding_with_its_count(credit):
    root = credit["root"]
    report = _audit(
        credit, "leaky", "--test", str(root / "leaky.csv"), "--train", str(root / "train.csv")
    )
    overlap = _metric(report, "train_test_overlap")
    assert overlap["verdict"] == "fail" and overlap["ci_low"] > 0.05
    assert "60 of 200" in overlap["description"]
    assert any(
        r.startswith("performance.train_test_overlap") for r in report["decision"]["reasons"]
    )
    # the clean twin is test_a_declared_split_is_used_as_it_is[files]: overlap 0, pass


def test_test_and_dataset_together_are_refused(credit, capsys):
    root = credit["root"]
    code = main(
        [
            "run",
            "--model",
            str(root / "credit.skops"),
            "--dataset",
            f"csv:{root / 'test.csv'}",
            "--test",
            str(root / "test.csv"),
            "--target",
            "y",
            "--out",
            str(root / "never"),
        ]
    )
    assert code == 2 and not (root / "never").exists()
    assert "both name the evaluation data" in capsys.readouterr().err


@pytest.fixture(scope="module")
def pipeline_credit(tmp_path_factory):
    """A raw credit CSV with text and integer columns and a split column, and a
    ``Pipeline(ColumnTransformer, GradientBoosting)`` fit on the train rows' data frame
    without the sensitive column ``sex``, saved with skops."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    root = tmp_path_factory.mktemp("pipeline")
    g = np.random.default_rng(2)
    n = 900
    frame = pd.DataFrame(
        {
            "age": g.integers(18, 80, n),
            "amount": g.gamma(2.0, 1500.0, n).round(2),
            "purpose": g.choice(["car", "education", "house", "other"], n),
            "housing": g.choice(["own", "rent"], n),
            "sex": g.choice(["female", "male"], n),
        }
    )
    score = (
        (frame["age"] - 40) / 15
        - frame["amount"] / 3000
        + frame["purpose"].map({"car": 0.5, "education": -0.5, "house": 1.0, "other": 0.0})
        + (frame["housing"] == "own") * 0.8
    )
    frame["risk"] = np.where(score + g.normal(0, 0.7, n) > 0, "good", "bad")
    split = np.where(g.random(n) < 0.7, "train", np.where(g.random(n) < 0.5, "test", "holdout"))
    frame["split"] = split
    cols = ["age", "amount", "purpose", "housing"]
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "amount"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["purpose", "housing"]),
                    ]
                ),
            ),
            ("gb", GradientBoostingClassifier(n_estimators=40, random_state=0)),
        ]
    )
    train = frame[split == "train"]
    pipe.fit(train[cols], train["risk"])
    test = frame[split == "test"]
    own = float(pipe.score(test[cols], test["risk"]))
    sio.dump(pipe, root / "pipe.skops")
    frame.to_csv(root / "credit.csv", index=False)
    return {"root": root, "own": own, "pipe": pipe, "frame": frame}


@pytest.mark.e2e
def test_a_pipeline_on_the_raw_data_frame_is_audited_end_to_end(pipeline_credit):
    """Planted: a Pipeline(ColumnTransformer, GradientBoosting) fit on the raw columns, with
    text categories, integer ages and string labels. It used to be refused ("X has 57 features,
    but ColumnTransformer is expecting 20"). Now it gets the raw data frame with its own column
    names, the sensitive column it was not trained on is not fed to it, and the accuracy equals
    the pipeline's own on the declared test rows; every applicable section runs."""
    root = pipeline_credit["root"]
    (root / "audit.yaml").write_text(
        "checks:\n"
        "  performance: {}\n"
        "  explainability: {n_explain: 2, n_background: 4, lime_samples: 30, deletion_steps: 4,"
        " stability_inputs: 2}\n"
        "  privacy: {attacks: [loss, confidence], compare_defenses: false}\n"
        "  fairness: {n_boot: 50, proxy_rows: 200, mitigation_rows: 300, eg_max_iter: 1}\n"
    )
    out = root / "run"
    code = main(
        [
            "run",
            "--model",
            str(root / "pipe.skops"),
            "--dataset",
            f"csv:{root / 'credit.csv'}",
            "--target",
            "risk",
            "--sensitive",
            "sex",
            "--split-column",
            "split",
            "--config",
            str(root / "audit.yaml"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    status = {r["kind"]: r["status"] for r in report["results"]}
    assert status == {
        "performance": "ok",
        "explainability": "ok",
        "privacy": "ok",
        "fairness": "ok",
    }, report["results"]
    options = report["manifest"]["config"]["data"]["options"]
    assert options["encoding"] == "raw"  # inferred from the model's feature_names_in_
    assert options["features"] == ["age", "amount", "purpose", "housing"]
    assert report["manifest"]["data"]["sensitive_in_features"] == {"sex": False}
    acc = _metric(report, "accuracy")
    assert acc["value"] == pytest.approx(pipeline_credit["own"])
    assert report["manifest"]["data"]["class_names"] == ["bad", "good"]
    fair = next(r for r in report["results"] if r["kind"] == "fairness")
    assert "sex" in fair["groups"]


def test_a_pipeline_under_a_declared_encoding_that_disagrees_is_refused(pipeline_credit, capsys):
    """Twin: the same pipeline with --encoding standardize stops on one line that names what
    the model was fit on and the encoding given; nothing is written."""
    root = pipeline_credit["root"]
    code = main(
        [
            "run",
            "--model",
            str(root / "pipe.skops"),
            "--dataset",
            f"csv:{root / 'credit.csv'}",
            "--target",
            "risk",
            "--split-column",
            "split",
            "--encoding",
            "standardize",
            "--out",
            str(root / "refused"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and not (root / "refused").exists()
    assert "feature_names_in_" in err and "'standardize'" in err and "--encoding raw" in err
    assert len(err.splitlines()) == 1


def test_an_array_model_of_another_width_is_refused_on_one_line(credit, capsys):
    """A model fit on an array of 5 columns, given 6 (a column it never saw): one line naming
    n_features_in_ and the width the data gives."""
    root = credit["root"]
    frame = pd.read_csv(root / "whole.csv").assign(extra=1.5)
    frame.to_csv(root / "wider.csv", index=False)
    code = main(
        [
            "run",
            "--model",
            str(root / "credit.skops"),
            "--dataset",
            f"csv:{root / 'wider.csv'}",
            "--target",
            "y",
            "--out",
            str(root / "wider-run"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "expects 5 input features (its n_features_in_)" in err
    assert "gives 6" in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def gray16(tmp_path_factory):
    """A grayscale 16x16 image folder split by the user into train/, test/ and holdout/
    subfolders (three digit classes), and one LeNet-5 trained on train/, saved both as
    TorchScript and as a bare safetensors state dict."""
    import torch
    from PIL import Image
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    from rai_audit.models.architectures import build_model

    root = tmp_path_factory.mktemp("gray16")
    d = load_digits()
    keep = np.flatnonzero(d.target < 3)[:240]
    g = np.random.default_rng(3)
    where = g.choice(["train", "test", "holdout"], size=len(keep), p=[0.5, 0.25, 0.25])
    for i, (row, split) in enumerate(zip(keep, where)):
        folder = root / "imgs" / split / f"digit{d.target[row]}"
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((d.images[row] * 255 / 16).astype(np.uint8), mode="L")
        img.resize((16, 16), Image.Resampling.BILINEAR).save(folder / f"{i}.png")
    from rai_audit.models.datasets import load_image_folder

    data = load_image_folder(root / "imgs", size=16, grayscale=True)
    tr = data.splits["train"]
    torch.manual_seed(0)
    net = build_model("lenet5", (1, 16, 16), 3)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    X, y = torch.from_numpy(tr.X), torch.from_numpy(tr.y)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    net.eval()
    torch.jit.script(net).save(str(root / "cnn.ts"))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, root / "cnn.safetensors")
    (root / "audit.yaml").write_text(
        "checks:\n"
        "  performance: {}\n"
        "  explainability: {n_explain: 2, n_background: 4, ig_steps: 4, eg_samples: 4,"
        " lime_samples: 20, deletion_steps: 4, sanity_inputs: 2, sanity_layers: 1,"
        " stability_inputs: 2}\n"
        "  robustness: {n_eval: 16, max_iter: 2, blackbox_queries: 8, batch_size: 16}\n"
        "  privacy: {attacks: [loss, confidence], n_eval: 40, compare_defenses: false}\n"
        "  fairness: {}\n"
    )
    return root


@pytest.mark.e2e
def test_a_grayscale_16px_folder_with_torchscript_and_safetensors_through_every_section(gray16):
    """The same network as TorchScript (size and channels probed from the model) and as a bare
    safetensors state dict with its architecture (size from --input-shape), on a grayscale
    16x16 folder the user split into subfolders: every applicable section runs with no error
    result, the declared train/holdout make privacy assessable, fairness (no sensitive
    feature) is not assessed, and both formats give the same accuracy."""
    reports = {}
    for name, extra in (
        ("cnn.ts", []),
        ("cnn.safetensors", ["--arch", "lenet5", "--input-shape", "1,16,16", "--num-classes", "3"]),
    ):
        out = gray16 / f"run-{name}"
        args = ["run", "--model", str(gray16 / name), *extra]
        args += ["--dataset", f"folder:{gray16 / 'imgs'}", "--config", str(gray16 / "audit.yaml")]
        assert main([*args, "--out", str(out), "--quiet"]) == 0
        report = json.loads((out / "report.json").read_text())
        status = {r.get("check") or r["kind"]: r["status"] for r in report["results"]}
        assert status == {
            "performance": "ok",
            "explainability": "ok",
            "robustness": "ok",
            "privacy": "ok",
            "fairness": "skipped",
        }, [r.get("error") for r in report["results"]]
        data = report["manifest"]["data"]
        assert data["split_origin"] == "declared" and set(data["split_sizes"]) == {
            "train",
            "test",
            "holdout",
        }
        assert "split subfolders" in data["split_source"]
        assert data["class_names"] == ["digit0", "digit1", "digit2"]
        assert report["manifest"]["config"]["data"]["options"] == {"size": 16, "grayscale": True}
        assert any(x.startswith("fairness: ") for x in report["decision"]["not_assessed"])
        reports[name] = report
    acc = {n: _metric(r, "accuracy")["value"] for n, r in reports.items()}
    assert acc["cnn.ts"] == acc["cnn.safetensors"] > 0.8
    gradcam = {
        n: {m["method"]: m["status"] for m in r["results"][1]["methods"]}["gradcam"]
        for n, r in reports.items()
    }
    assert gradcam == {"cnn.ts": "skipped", "cnn.safetensors": "ok"}


def _walkthrough(marker: str) -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    after = text.split(f"<!-- walkthrough: {marker} -->\n", 1)[1]
    assert after.startswith("```bash\n")
    return after[len("```bash\n") :].split("```", 1)[0]


@pytest.mark.e2e
def test_the_readme_walkthrough_runs_verbatim(tmp_path):
    """The README's 'Auditing your own model' shell blocks, run verbatim from a copy of the
    repository's examples: the tabular Pipeline and the TorchScript CNN on the user's own split
    are audited through every applicable section with no error result."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copytree(Path(__file__).resolve().parents[1] / "examples", tmp_path / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for marker in ("tabular", "images"):
        script = "set -euo pipefail\n" + _walkthrough(marker)
        proc = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for run, sections in (
        ("credit", {"performance", "explainability", "privacy", "fairness"}),
        ("images", {"performance", "explainability", "robustness", "privacy"}),
    ):
        report = json.loads((tmp_path / "mine" / "runs" / run / "report.json").read_text())
        ran = {r.get("check") or r["kind"] for r in report["results"] if r["status"] == "ok"}
        assert ran == sections, [r.get("error") for r in report["results"]]
        assert report["manifest"]["data"]["split_origin"] == "declared"
        assert report["decision"]["level"] != "blocking_findings", report["decision"]


def test_the_dashboard_upload_path_declares_the_split_and_the_encoding(pipeline_credit, tmp_path):
    """What the New audit page's upload form builds: the user's split column and encoding go
    into the job's data options, so an uploaded Pipeline is audited on its declared test rows
    with its members known (privacy assessed). Twin: a form that names the label as the split
    column, or an unknown encoding, is refused with one line before any job starts."""
    from rai_audit.audit.service import jobs, uploads

    src = pipeline_credit["root"]
    root = tmp_path / "runs"
    job = jobs.create_job(root)
    path = uploads.save_model(job / "inputs", {"pipe.skops": (src / "pipe.skops").read_bytes()})
    csv = uploads.save_csv(job / "inputs", "credit.csv", (src / "credit.csv").read_bytes())
    header = list(pd.read_csv(csv, nrows=0).columns)
    options = uploads.data_options(
        header, target="risk", sensitive=["sex"], split_column="split", encoding="from the model"
    )
    assert options == {"target": "risk", "sensitive": ["sex"], "split_column": "split"}
    spec = {
        "name": "dash",
        "model": {"path": str(path), "name": "dash"},
        "data": {"name": f"csv:{csv}", "options": options},
        "checks": {"performance": {}, "privacy": {"attacks": ["loss"], "compare_defenses": False}},
        "out": str(root / "dash"),
    }
    (job / "spec.json").write_text(json.dumps(spec))
    assert jobs.work(job) == 0, (job / "traceback.txt").read_text()
    report = json.loads((root / "dash" / "report.json").read_text())
    assert report["manifest"]["data"]["split_origin"] == "declared"
    assert [r["status"] for r in report["results"]] == ["ok", "ok"]
    assert _metric(report, "accuracy")["value"] == pytest.approx(pipeline_credit["own"])
    with pytest.raises(uploads.UploadError, match="split column 'risk' is also the label"):
        uploads.data_options(header, target="risk", sensitive=[], split_column="risk")
    with pytest.raises(uploads.UploadError, match="encoding 'onehot' is not one of"):
        uploads.data_options(header, target="risk", sensitive=[], encoding="onehot")
    with pytest.raises(uploads.UploadError, match="column 'nope' is not in the CSV"):
        uploads.data_options(header, target="nope", sensitive=[])


def test_image_upload_options():
    from rai_audit.audit.service import uploads

    assert uploads.image_options(0, "from the model") == {}
    assert uploads.image_options(16, "grayscale") == {"size": 16, "grayscale": True}
    assert uploads.image_options(None, "rgb") == {"grayscale": False}
    with pytest.raises(uploads.UploadError, match="outside 4..1024"):
        uploads.image_options(2, "rgb")
    with pytest.raises(uploads.UploadError, match="channels 'cmyk' is not one of"):
        uploads.image_options(0, "cmyk")


def test_a_train_split_the_model_was_not_fit_on_is_a_caveat_on_the_gap(credit):
    """Planted: the split column the wrong way round, so the declared train rows are rows the
    model never saw. Test accuracy is then clearly above train accuracy: the test_above_train
    caveat fails, and the train-test gap that rests on the split is qualified (inconclusive),
    never read as a pass. The clean twin is test_a_declared_split_is_used_as_it_is: caveat
    passes, gap unqualified."""
    root = credit["root"]
    report = _audit(
        credit, "swapped", "--dataset", f"csv:{root / 'swapped.csv'}", "--split-column", "split"
    )
    caveat = _metric(report, "test_above_train")
    assert caveat["value"] > 0 and caveat["outcome"] == "fail" and caveat["about"] == "method"
    gap = _metric(report, "train_test_gap")
    assert gap["value"] < 0 and gap["qualified"] and gap["outcome"] == "inconclusive"
    assert any(c.startswith("performance.test_above_train") for c in report["decision"]["caveats"])


_TINY_CONFIG = (
    "checks:\n"
    "  performance: {}\n"
    "  explainability: {n_explain: 2, n_background: 4, ig_steps: 4, eg_samples: 4,"
    " lime_samples: 20, deletion_steps: 4, sanity_inputs: 2, sanity_layers: 1,"
    " stability_inputs: 2}\n"
    "  robustness: {n_eval: 16, max_iter: 2, blackbox_queries: 8, batch_size: 16}\n"
    "  privacy: {attacks: [loss, confidence], n_eval: 40, compare_defenses: false}\n"
    "  fairness: {n_boot: 50, proxy_rows: 200, mitigation_rows: 300, refit_epochs: 1,"
    " eg_max_iter: 1}\n"
)


@pytest.mark.e2e
def test_torchscript_on_a_csv_and_skops_on_an_image_folder_through_every_section(
    credit, gray16, tmp_path
):
    """The format-by-data cells the other tests leave: a TorchScript MLP trained on the raw
    numbers of the credit CSV's declared train rows, and a scikit-learn classifier on the
    flattened pixels of the split 16x16 folder (its size and channels read from
    n_features_in_). Every applicable section runs with no error; what cannot apply is
    skipped with its reason."""
    import skops.io as sio
    import torch
    from sklearn.linear_model import LogisticRegression

    from rai_audit.models.architectures import build_model
    from rai_audit.models.datasets import load_image_folder

    root = credit["root"]
    frame = pd.read_csv(root / "all.csv")
    frame["group"] = np.where(frame["f3"] > 0, "a", "b")
    unseen = np.flatnonzero(frame["split"].to_numpy() == "test")[::2]
    frame.loc[unseen, "split"] = "holdout"  # half the rows the model never saw: non-members
    frame.to_csv(tmp_path / "grouped.csv", index=False)
    cols = [f"f{i}" for i in range(5)]
    tr = frame[frame["split"] == "train"]
    torch.manual_seed(0)
    mlp = build_model("mlp", (5,), 2, hidden=[16], dropout=0.0)
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-2)
    X = torch.tensor(tr[cols].to_numpy(np.float32))
    y = torch.tensor(tr["y"].to_numpy())
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(mlp(X), y).backward()
        opt.step()
    torch.jit.script(mlp.eval()).save(str(tmp_path / "mlp.ts"))
    (tmp_path / "tab.yaml").write_text(
        _TINY_CONFIG
        + "data: {name: csv:grouped.csv, options: {target: y, sensitive: [group], features: "
        "[f0, f1, f2, f3, f4], encoding: none, split_column: split}}\n"
    )
    images = load_image_folder(gray16 / "imgs", size=16, grayscale=True)
    itr = images.splits["train"]
    clf = LogisticRegression(max_iter=300).fit(itr.X.reshape(len(itr), -1), itr.y)
    sio.dump(clf, tmp_path / "pixels.skops")
    (tmp_path / "img.yaml").write_text(_TINY_CONFIG)
    runs = {
        "ts-csv": (
            ["--model", str(tmp_path / "mlp.ts"), "--config", str(tmp_path / "tab.yaml")],
            {"robustness": "ok", "privacy": "ok", "fairness": "ok"},
        ),
        "skops-images": (
            [
                *("--model", str(tmp_path / "pixels.skops")),
                *("--config", str(tmp_path / "img.yaml")),
                *("--dataset", f"folder:{gray16 / 'imgs'}"),
            ],
            {"robustness": "skipped", "privacy": "ok", "fairness": "skipped"},
        ),
    }
    for name, (args, expected) in runs.items():
        out = tmp_path / name
        assert main(["run", *args, "--out", str(out), "--quiet"]) == 0, name
        report = json.loads((out / "report.json").read_text())
        status = {r.get("check") or r["kind"]: r["status"] for r in report["results"]}
        assert status == {"performance": "ok", "explainability": "ok", **expected}, [
            r.get("error") for r in report["results"]
        ]
        assert report["manifest"]["data"]["split_origin"] == "declared"
        assert _metric(report, "accuracy")["value"] > 0.7
    options = json.loads((tmp_path / "skops-images" / "report.json").read_text())["manifest"]
    assert options["config"]["data"]["options"] == {"size": 16, "grayscale": True}


def test_a_split_file_of_row_numbers_declares_the_same_split(credit, capsys):
    """The third way to declare a split: a JSON file of row numbers. The audit equals the
    split-column one (same accuracy on the same 200 rows); a file whose rows overlap, run past
    the data, or name another split is refused on one line, with nothing written."""
    root = credit["root"]
    split = pd.read_csv(root / "all.csv")["split"].to_numpy()
    rows = {k: np.flatnonzero(split == k).tolist() for k in ("train", "test")}
    (root / "split.json").write_text(json.dumps(rows))
    report = _audit(
        credit,
        "by-file",
        "--dataset",
        f"csv:{root / 'whole.csv'}",
        "--split-file",
        str(root / "split.json"),
    )
    data = report["manifest"]["data"]
    assert data["split_origin"] == "declared" and "split file split.json" in data["split_source"]
    assert _metric(report, "accuracy")["value"] == pytest.approx(credit["own"])
    for bad, message in (
        ({"train": [0, 1], "test": [1, 2]}, "puts some rows in two splits"),
        ({"train": [0], "test": [credit["n"]]}, "row numbers outside 0..999"),
        ({"training": [0], "test": [1]}, "keys among"),
    ):
        (root / "bad.json").write_text(json.dumps(bad))
        args = [
            "run",
            "--model",
            str(root / "credit.skops"),
            "--dataset",
            f"csv:{root / 'whole.csv'}",
        ]
        args += [
            "--target",
            "y",
            "--split-file",
            str(root / "bad.json"),
            "--out",
            str(root / "bad"),
        ]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and not (root / "bad").exists()
