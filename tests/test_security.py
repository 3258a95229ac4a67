"""Untrusted files: every escape route is refused before it runs, on every path a file can take
(Python API, CLI, dashboard upload preview, dashboard job worker), and clean models still load.

Each hostile file is first shown to be live (loaded with skops' gate off in a child process, it
creates its marker), so a refusal here is a refusal of code that would have run.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops_payloads as sp

from rai_audit.audit.cli import main
from rai_audit.audit.service import jobs, uploads
from rai_audit.models import _skops
from rai_audit.models.checkpoint import load_model
from rai_audit.models.errors import CheckpointError, InvalidConfigError

REFUSED = "not on the trusted list"


@pytest.fixture(scope="module")
def payloads(tmp_path_factory) -> dict[str, sp.Payload]:
    return {p.name: p for p in sp.build_all(tmp_path_factory.mktemp("payloads"))}


@pytest.fixture()
def on_path(payloads, monkeypatch):
    """Make the custom class importable, so that nothing but our gate stands in its way."""
    monkeypatch.syspath_prepend(str(payloads["custom_class_load"].pythonpath))
    monkeypatch.setenv("PYTHONPATH", str(payloads["custom_class_load"].pythonpath))


NAMES = [
    "prefix_subprocess_predict",
    "constructor_alias_load",
    "loss_node_alias_load",
    "prefix_os_load",
    "foreign_function_predict",
    "numpy_takes_callable_predict",
    "numpy_exec_load",
    "method_executes_predict",
    "operator_methodcaller_predict",
    "functools_partial_predict",
    "builtins_exec_load",
    "custom_class_load",
]


def test_every_payload_is_live(tmp_path):
    """The control: with skops' gate off, every payload creates its marker."""
    built = sp.build_all(tmp_path)
    assert sorted(p.name for p in built) == sorted(NAMES)
    result = sp.fire(built)
    assert result.returncode == 0, result.stderr
    assert {p.name: p.marker.exists() for p in built} == dict.fromkeys(NAMES, True)


@pytest.mark.parametrize("boosting", [False, True], ids=["decision_tree", "hist_boosting"])
def test_out_of_range_tree_crashes_scikit_learn_and_is_refused(tmp_path, boosting):
    path = sp.out_of_range_tree(tmp_path, boosting=boosting)
    code = (
        f"import numpy as np, skops.io as sio; p = {str(path)!r}; "
        "sio.load(p, trusted=sio.get_untrusted_types(file=p)).predict_proba(np.zeros((2, 4)))"
    )
    crashed = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert crashed.returncode < 0  # killed by a signal (SIGSEGV): the control
    with pytest.raises(CheckpointError, match="points outside the tree"):
        load_model(path)
    assert (
        main(
            [
                "run",
                "--model",
                str(path),
                "--dataset",
                "german_credit",
                "--checks",
                "performance",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 2
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", NAMES)
def test_python_api_refuses_payload(payloads, on_path, name):
    p = payloads[name]
    with pytest.raises(CheckpointError, match=REFUSED):
        load_model(p.path)
    with pytest.raises(CheckpointError, match=REFUSED):
        _skops.review(p.path)  # the static gate alone already refuses it
    assert not p.marker.exists()


@pytest.mark.parametrize("name", NAMES)
def test_cli_refuses_payload_with_one_line(payloads, on_path, name, tmp_path, capsys):
    p = payloads[name]
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            str(p.path),
            "--dataset",
            "digits",
            "--checks",
            "performance",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("rai-audit: error:") and REFUSED in err and "--trust NAME" in err
    assert "Traceback" not in err
    assert not p.marker.exists() and not out.exists()


@pytest.mark.e2e
def test_the_issues_file_through_the_real_cli(tmp_path):
    """The reported attack, end to end in a fresh process: refused, nothing ran, exit 2."""
    (p,) = [q for q in sp.build_all(tmp_path / "p") if q.name == "prefix_subprocess_predict"]
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "rai_audit.audit.cli",
            "run",
            "--model",
            str(p.path),
            "--dataset",
            "digits",
            "--checks",
            "performance",
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "sklearn.utils._testing.check_output (a function)" in res.stderr
    assert not p.marker.exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_upload_preview_refuses_payload(payloads, on_path, name, tmp_path):
    p = payloads[name]
    with pytest.raises(uploads.UploadError, match=REFUSED):
        uploads.preview_model(tmp_path / "preview", {p.path.name: p.path.read_bytes()})
    assert not p.marker.exists()
    assert not list((tmp_path / "preview").rglob("*.skops"))  # the refused file is not kept


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_job_worker_refuses_payload(payloads, on_path, name, tmp_path):
    """A job whose upload slipped past the page (written straight into its inputs) still fails
    in the worker, before anything runs."""
    p = payloads[name]
    job = jobs.create_job(tmp_path / "runs")
    target = job / "inputs" / "model" / p.path.name
    target.parent.mkdir(parents=True)
    target.write_bytes(p.path.read_bytes())
    (job / "spec.json").write_text(
        json.dumps(
            {
                "name": "x",
                "model": {"path": str(target)},
                "data": {"name": "digits"},
                "checks": ["performance"],
                "out": str(tmp_path / "runs" / "x"),
            }
        )
    )
    assert jobs.work(job) == 1
    status = jobs.read_status(job)
    assert status["state"] == "failed" and REFUSED in status["error"]
    assert not p.marker.exists() and not (tmp_path / "runs" / "x").exists()


@pytest.mark.e2e  # a subprocess or the demo's model: the end-to-end set
def test_dashboard_job_in_its_own_process_refuses_a_load_time_payload(payloads, tmp_path):
    p = payloads["constructor_alias_load"]
    root = tmp_path / "runs"
    job = jobs.create_job(root)
    target = job / "inputs" / "model" / "m.skops"
    target.parent.mkdir(parents=True)
    target.write_bytes(p.path.read_bytes())
    jobs.start_job(
        job,
        {
            "name": "x",
            "model": {"path": str(target)},
            "data": {"name": "digits"},
            "checks": ["performance"],
        },
    )
    deadline = time.time() + 300  # generous: only a hung worker reaches it
    while jobs.read_status(job)["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
    status = jobs.read_status(job)
    jobs.wait_for_workers()
    assert status["state"] == "failed" and REFUSED in status["error"], status
    assert not p.marker.exists()


# ------------------------------------------------------------------ the clean twins


def _zoo():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.ensemble import (
        AdaBoostClassifier,
        BaggingClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        StackingClassifier,
        VotingClassifier,
    )
    from sklearn.feature_selection import SelectKBest
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        OneHotEncoder,
        PolynomialFeatures,
        QuantileTransformer,
        StandardScaler,
    )
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    lr = LogisticRegression
    return {
        "logistic": lr(),
        "sgd_log": SGDClassifier(loss="log_loss", random_state=0),
        "scaler_log1p_lr": make_pipeline(StandardScaler(), FunctionTransformer(np.tanh), lr()),
        "decision_tree": DecisionTreeClassifier(random_state=0),
        "random_forest": RandomForestClassifier(n_estimators=5, random_state=0),
        "extra_trees": ExtraTreesClassifier(n_estimators=5, random_state=0),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=5, random_state=0),
        "hist_boosting": HistGradientBoostingClassifier(max_iter=5, random_state=0),
        "mlp": MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
        "svc": SVC(probability=True, random_state=0),
        "knn_brute": KNeighborsClassifier(algorithm="brute"),
        "naive_bayes": GaussianNB(),
        "lda": LinearDiscriminantAnalysis(),
        "calibrated_isotonic": CalibratedClassifierCV(
            DecisionTreeClassifier(max_depth=3), method="isotonic", cv=3
        ),
        "adaboost": AdaBoostClassifier(n_estimators=5, random_state=0),
        "bagging": BaggingClassifier(n_estimators=3, random_state=0),
        "voting": VotingClassifier([("a", lr()), ("b", GaussianNB())], voting="soft"),
        "stacking": StackingClassifier([("a", lr()), ("b", DecisionTreeClassifier(max_depth=2))]),
        "column_transformer": make_pipeline(
            ColumnTransformer(
                [
                    ("oh", OneHotEncoder(handle_unknown="ignore"), [4]),
                    ("sc", StandardScaler(), [0, 1, 2, 3]),
                ]
            ),
            lr(),
        ),
        "impute_bins_select": make_pipeline(
            SimpleImputer(),
            KBinsDiscretizer(n_bins=3),
            PolynomialFeatures(2),
            SelectKBest(k=5),
            lr(),
        ),
        "quantile": make_pipeline(QuantileTransformer(n_quantiles=50), lr()),
    }


ZOO = sorted(_zoo())


@pytest.fixture(scope="module")
def zoo_data():
    rs = np.random.RandomState(0)
    X = rs.randn(300, 5)
    X[:, 4] = rs.randint(0, 3, 300)
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("name", ZOO)
def test_clean_models_load_with_the_default_list(zoo_data, name, tmp_path):
    import skops.io as sio

    X, y = zoo_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _zoo()[name].fit(X, y)
    sio.dump(model, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    assert loaded.trust["widened"] == []
    np.testing.assert_array_equal(loaded.module.predict_proba(X), model.predict_proba(X))


def test_widened_trust_is_needed_named_and_recorded(tmp_path, german):
    """A k-NN with a KD-tree needs two names off the list: refused by default, loaded when the
    user names them, and the report says who widened the trust and to what."""
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    tr = german.splits["train"]
    sio.dump(KNeighborsClassifier(algorithm="kd_tree").fit(tr.X, tr.y), tmp_path / "knn.skops")
    with pytest.raises(CheckpointError, match=r"sklearn\.neighbors\._kd_tree\.KDTree") as err:
        load_model(tmp_path / "knn.skops")
    names = [
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
    ]
    assert all(n in str(err.value) for n in names)
    loaded = load_model(tmp_path / "knn.skops", trust=names)
    assert loaded.trust["widened"] == names
    assert loaded.trust["widened_by"].startswith("python api")
    args = [
        "run",
        "--model",
        str(tmp_path / "knn.skops"),
        "--dataset",
        "german_credit",
        "--checks",
        "performance",
        "--quiet",
    ]
    flags = [a for n in names for a in ("--trust", n)]
    assert main([*args, "--out", str(tmp_path / "cli"), *flags]) == 0
    trust = json.loads((tmp_path / "cli" / "report.json").read_text())["manifest"]["model"]["trust"]
    assert trust["widened"] == names and trust["widened_by"] == "cli --trust"
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        f"model:\n  path: knn.skops\n  trust: {json.dumps(names)}\n"
        "data:\n  name: german_credit\nchecks: [performance]\n"
    )
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "cfg"), "--quiet"]) == 0
    trust = json.loads((tmp_path / "cfg" / "report.json").read_text())["manifest"]["model"]["trust"]
    assert trust["widened_by"] == "config model.trust"
    html = (tmp_path / "cfg" / "report.html").read_text()
    assert "TRUST WIDENED by config model.trust" in html


def test_default_run_records_an_unwidened_trust(tmp_path, mlp_checkpoint):
    assert (
        main(
            [
                "run",
                "--model",
                str(mlp_checkpoint),
                "--checks",
                "performance",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    trust = json.loads((tmp_path / "r" / "report.json").read_text())["manifest"]["model"]["trust"]
    assert trust["format"] == "checkpoint" and trust["widened"] == []
    assert "widened_by" not in trust


def test_trust_on_a_non_skops_model_is_refused(mlp_checkpoint):
    with pytest.raises(CheckpointError, match="apply to .skops files only"):
        load_model(mlp_checkpoint, trust=["x.Y"])


def test_an_attribute_that_shadows_a_method_is_refused(tmp_path):
    """A LogisticRegression whose instance dict sets predict_proba (to an allowed ufunc): the
    wrong function would answer every query. The twin without it loads."""
    import skops.io as sio

    lr = sp._fitted_lr()
    sio.dump(lr, tmp_path / "twin.skops")
    assert load_model(tmp_path / "twin.skops").source == "skops"
    lr.predict_proba = np.exp
    sio.dump(lr, tmp_path / "shadow.skops")
    with pytest.raises(CheckpointError, match="'predict_proba', which would replace the method"):
        load_model(tmp_path / "shadow.skops")


def test_a_skops_zip_bomb_is_refused_before_decompressing(tmp_path):
    import skops.io as sio

    sio.dump(sp._fitted_lr(), tmp_path / "lr.skops")
    with zipfile.ZipFile(tmp_path / "lr.skops") as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(tmp_path / "bomb.skops", "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in files.items():
            zf.writestr(n, d)
        with zf.open("zeros.npy", "w") as fh:  # 256 MiB of zeros pack to a few hundred KB
            chunk = b"\0" * 2**20
            for _ in range(256):
                fh.write(chunk)
    assert (tmp_path / "bomb.skops").stat().st_size < 2**20
    with pytest.raises(CheckpointError, match="zip bomb"):
        load_model(tmp_path / "bomb.skops")


def test_every_trusted_name_is_the_object_it_names():
    """No entry of the allow-lists is an alias: each resolves to an object whose own module and
    name are the entry (so 'sklearn.utils._testing.check_output' could never be listed)."""
    lists = {
        "class": _skops.TRUSTED_CLASSES,
        "data": _skops.TRUSTED_DATA,
        "type": _skops.TRUSTED_TYPE_VALUES,
        "function": _skops.TRUSTED_FUNCTIONS,
    }
    for kind, names in lists.items():
        for name in sorted(names):
            module, attr = name.rsplit(".", 1)
            obj = getattr(importlib.import_module(module), attr)
            if isinstance(obj, np.ufunc):
                assert module == "numpy" and obj.__name__ == attr, name
                continue
            assert f"{obj.__module__}.{obj.__qualname__}" == name, (kind, name)
            assert kind == "function" or isinstance(obj, type), name
    for name in _skops.TRUSTED_FUNCTIONS:  # only pure functions: ufuncs or sklearn scorers
        obj = getattr(importlib.import_module(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1])
        assert isinstance(obj, np.ufunc) or name.startswith("sklearn.feature_selection."), name


# ------------------------------------------------------------------ TorchScript and uploads


@pytest.fixture()
def torchscript_file(tmp_path):
    import torch

    path = tmp_path / "m.ts"
    torch.jit.script(torch.nn.Linear(4, 2)).save(str(path))
    return path


def test_dashboard_refuses_torchscript_unless_the_operator_allows_it(
    tmp_path, torchscript_file, monkeypatch
):
    monkeypatch.delenv("RAI_AUDIT_ALLOW_TORCHSCRIPT", raising=False)
    blob = {"m.ts": torchscript_file.read_bytes()}
    with pytest.raises(uploads.UploadError, match="runs its own code"):
        uploads.preview_model(tmp_path / "a", blob)
    with pytest.raises(CheckpointError, match="runs its own code"):
        load_model(torchscript_file, allow_torchscript=False)
    monkeypatch.setenv("RAI_AUDIT_ALLOW_TORCHSCRIPT", "1")
    assert uploads.preview_model(tmp_path / "b", blob)["source"] == "torchscript"
    assert load_model(torchscript_file).source == "torchscript"  # the CLI and API accept it


def test_job_worker_refuses_torchscript_unless_allowed(tmp_path, torchscript_file, monkeypatch):
    monkeypatch.delenv("RAI_AUDIT_ALLOW_TORCHSCRIPT", raising=False)
    job = jobs.create_job(tmp_path / "runs")
    target = job / "inputs" / "model" / "m.ts"
    target.parent.mkdir(parents=True)
    target.write_bytes(torchscript_file.read_bytes())
    (job / "spec.json").write_text(
        json.dumps(
            {"name": "x", "model": {"path": str(target)}, "out": str(tmp_path / "runs" / "x")}
        )
    )
    assert jobs.work(job) == 1
    assert "runs its own code" in jobs.read_status(job)["error"]


def test_upload_preview_builds_nothing_and_describes_clean_models(tmp_path, mlp_checkpoint):
    files = {p.name: p.read_bytes() for p in Path(mlp_checkpoint).iterdir() if p.is_file()}
    info = uploads.preview_model(tmp_path / "c", files)
    loaded = load_model(mlp_checkpoint)
    assert info["source"] == "checkpoint" and info["sha256"] == loaded.sha256
    assert info["parameters"] == sum(v.numel() for v in loaded.module.state_dict().values())
    import skops.io as sio

    sio.dump(sp._fitted_lr(), tmp_path / "lr.skops")
    info = uploads.preview_model(tmp_path / "d", {"lr.skops": (tmp_path / "lr.skops").read_bytes()})
    assert info["source"] == "skops" and info["arch"] == "sklearn:LogisticRegression"


def test_uploaded_checkpoint_may_not_point_at_server_files(tmp_path, mlp_checkpoint):
    """A checkpoint's model.json names its data set; from an upload, only a built-in one is read
    (a csv: path would make the server audit, and show, a file of its own)."""
    root = tmp_path / "runs"
    job = jobs.create_job(root)
    files = {p.name: p.read_bytes() for p in Path(mlp_checkpoint).iterdir() if p.is_file()}
    meta = json.loads(files["model.json"])
    meta["dataset"]["name"] = "csv:/etc/passwd"
    files["model.json"] = json.dumps(meta).encode()
    path = uploads.save_model(job / "inputs", files)
    (job / "spec.json").write_text(
        json.dumps(
            {
                "name": "x",
                "model": {"path": str(path)},
                "checks": ["performance"],
                "out": str(root / "x"),
            }
        )
    )
    assert jobs.work(job) == 1
    assert "not built in" in jobs.read_status(job)["error"]
    twin_job = jobs.create_job(root)
    clean = {p.name: p.read_bytes() for p in Path(mlp_checkpoint).iterdir() if p.is_file()}
    twin = {"model": {"path": str(uploads.save_model(twin_job / "inputs", clean))}}
    assert jobs._check_uploaded_model(twin_job, twin)  # the clean twin passes, as an upload
    with pytest.raises(uploads.UploadError, match="never widens"):
        jobs._check_uploaded_model(twin_job, {"model": {**twin["model"], "trust": ["x.Y"]}})
    # a job submitted from Python with the operator's own model is not an upload
    assert not jobs._check_uploaded_model(twin_job, {"model": {"path": str(mlp_checkpoint)}})


def test_splits_npz_is_never_unpickled(tmp_path, mlp_checkpoint):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(mlp_checkpoint, ckpt)
    buf = io.BytesIO()
    np.savez(buf, train=np.array([{"a": 1}], dtype=object))
    (ckpt / "splits.npz").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="cannot read split indices"):
        load_model(ckpt)


# ------------------------------------------------------------------ YAML


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("bcdefgh", "cdefghi", strict=True)
)


@pytest.mark.parametrize("where", ["config", "policy", "model_card", "option"])
def test_yaml_alias_bombs_are_refused_at_once(tmp_path, capsys, mlp_checkpoint, where):
    out = tmp_path / "r"
    if where == "option":
        args = [
            "train",
            "--arch",
            "mlp",
            "--dataset",
            "german_credit",
            "--out",
            str(out),
            "-o",
            "hidden=&a [8, *a]",
        ]
    elif where == "policy":
        (tmp_path / "p.yaml").write_text(BOMB)
        args = [
            "run",
            "--model",
            str(mlp_checkpoint),
            "--policy",
            str(tmp_path / "p.yaml"),
            "--out",
            str(out),
        ]
    else:
        text = BOMB if where == "config" else "model_card:\n  " + BOMB.replace("\n", "\n  ")
        (tmp_path / "c.yaml").write_text(text)
        args = [
            "run",
            "--model",
            str(mlp_checkpoint),
            "--config",
            str(tmp_path / "c.yaml"),
            "--out",
            str(out),
        ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "aliases" in err and len(err.splitlines()) == 1
    assert len(err) < 400  # the message itself does not expand the bomb
    assert not out.exists()


def test_yaml_duplicate_keys_and_size_are_refused_and_plain_yaml_loads():
    from rai_audit.audit.core.yaml_safe import MAX_YAML_BYTES, load_yaml

    with pytest.raises(InvalidConfigError, match="'seed' appears twice"):
        load_yaml("seed: 1\nbudget: smoke\nseed: 2\n", "config")
    with pytest.raises(InvalidConfigError, match="larger than"):
        load_yaml("x: " + "y" * MAX_YAML_BYTES, "config")
    with pytest.raises(InvalidConfigError, match="nested too deeply"):
        load_yaml("[" * 100_000, "config")
    assert load_yaml("seed: 1\nchecks: {performance: {n_bins: 15}}\n", "config") == {
        "seed": 1,
        "checks": {"performance": {"n_bins": 15}},
    }


def test_image_zip_is_checked_whole_before_anything_is_extracted(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("cats/1.png", b"x")
        zf.writestr("dogs/../../escape.png", b"x")  # refused: so cats/1.png is not kept either
    with pytest.raises(uploads.UploadError, match="unsafe path"):
        uploads.save_image_zip(tmp_path, "imgs.zip", buf.getvalue())
    assert not list(tmp_path.rglob("*.png"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cats/1.png", b"\0" * 50 * 2**20)  # 50 MB of zeros in ~50 KB
    with pytest.raises(uploads.UploadError, match="zip bomb"):
        uploads.save_image_zip(tmp_path, "bomb.zip", buf.getvalue())
    assert not list(tmp_path.rglob("*.png"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the clean twin
        zf.writestr("cats/1.png", b"x")
        zf.writestr("dogs/1.png", b"y")
    folder = uploads.save_image_zip(tmp_path, "ok.zip", buf.getvalue())
    assert sorted(p.name for p in folder.iterdir()) == ["cats", "dogs"]


def test_a_checkpoint_cannot_ask_for_downloaded_weights():
    from rai_audit.models.architectures import build_model

    with pytest.raises(InvalidConfigError, match="would download pretrained weights"):
        build_model("tv:resnet18", (3, 32, 32), 10, weights="DEFAULT")
