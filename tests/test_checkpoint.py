from __future__ import annotations

import json
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rai_audit.models.checkpoint import load_model, save_checkpoint
from rai_audit.models.errors import CheckpointError


def test_round_trip_is_bit_identical(lenet_checkpoint, digits):
    loaded = load_model(lenet_checkpoint)
    again = load_model(lenet_checkpoint)
    for (k, a), b in zip(loaded.module.state_dict().items(), again.module.state_dict().values()):
        assert torch.equal(a, b), k
    meta = json.loads((lenet_checkpoint / "model.json").read_text())
    for key in (
        "arch",
        "arch_kwargs",
        "dataset",
        "preprocessing",
        "class_names",
        "metrics",
        "versions",
        "weights_sha256",
        "history",
        "train_config",
        "splits_file",
    ):
        assert key in meta
    assert meta["dataset"]["split_seed"] == 0
    assert loaded.splits is not None
    for name, idx in digits.split_indices().items():
        np.testing.assert_array_equal(loaded.splits[name], idx)
    data = loaded.load_data()
    assert data.sha256 == digits.sha256


def test_save_then_load_preserves_predictions(tmp_path, lenet, digits):
    out = save_checkpoint(tmp_path / "c", lenet.module, arch="lenet5", arch_kwargs={}, data=digits)
    again = load_model(out)
    x = torch.as_tensor(digits.splits["test"].X[:16])
    with torch.no_grad():
        assert torch.equal(lenet.module(x), again.module(x))


def test_changed_weights_are_detected(tmp_path, lenet_checkpoint):
    copy = tmp_path / "c"
    shutil.copytree(lenet_checkpoint, copy)
    state = {k: v.clone() for k, v in load_model(copy).module.state_dict().items()}
    state["net.classifier.5.bias"] += 1.0
    save_file(state, str(copy / "weights.safetensors"))
    with pytest.raises(CheckpointError, match="do not match the sha256"):
        load_model(copy)


def test_pickles_are_refused_and_never_loaded(tmp_path, lenet):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    pt = tmp_path / "model.pt"
    torch.save({"model": lenet.module, "evil": Evil()}, pt)
    with pytest.raises(CheckpointError, match="pickled torch.save file"):
        load_model(pt)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="is a raw pickle"):
        load_model(pkl)
    disguised = tmp_path / "weights.safetensors"
    disguised.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="is a raw pickle"):
        load_model(disguised, arch="lenet5", input_shape=(1, 8, 8), num_classes=10)
    assert not marker.exists()


def test_format_is_told_by_content_not_name(tmp_path, lenet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(lenet.module).save(str(tmp_path / "model.pth"))
    assert load_model(tmp_path / "model.pth").source == "torchscript"
    save_file(lenet.module.state_dict(), str(tmp_path / "weights.bin"))
    st = load_model(tmp_path / "weights.bin", arch="lenet5", input_shape=(1, 8, 8), num_classes=10)
    assert st.source == "safetensors"


def test_torch_export_archives_are_refused(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    ep = torch.export.export(model, (torch.rand(2, 3),))
    torch.export.save(ep, str(tmp_path / "m.pt2"))
    with pytest.raises(CheckpointError, match="torch.export archive"):
        load_model(tmp_path / "m.pt2")


def test_saving_over_an_unrelated_folder_is_refused(tmp_path, lenet, digits):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="choose a new or empty folder"):
        save_checkpoint(precious, lenet.module, arch="lenet5", arch_kwargs={}, data=digits)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_csv_checkpoint_reloads_its_data(tmp_path):
    import numpy as np
    import pandas as pd

    from rai_audit.models.pipeline import train_and_save

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "c": rng.choice(["u", "v"], 200),
            "s": rng.choice(["f", "m"], 200),
        }
    )
    df["y"] = (df["a"] > 0).astype(int)
    df.to_csv(tmp_path / "d.csv", index=False)
    loaded, _ = train_and_save(
        arch="mlp",
        dataset=f"csv:{tmp_path / 'd.csv'}",
        dataset_options={"target": "y", "sensitive": ["s"]},
        out=tmp_path / "m",
        overrides={"epochs": 2},
        progress=False,
    )
    again = load_model(tmp_path / "m").load_data()
    assert again.feature_names == loaded.load_data().feature_names
    assert again.sha256 == loaded.meta["dataset"]["sha256"]


def test_torchscript_and_bare_safetensors(tmp_path, lenet, digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(lenet.module)
        scripted.save(str(tmp_path / "m.ts"))
    ts = load_model(tmp_path / "m.ts")
    assert ts.source == "torchscript"
    x = torch.as_tensor(digits.splits["test"].X[:8])
    with torch.no_grad():
        torch.testing.assert_close(ts.module(x), lenet.module(x))

    save_file(lenet.module.state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="also give the architecture"):
        load_model(tmp_path / "w.safetensors")
    st = load_model(
        tmp_path / "w.safetensors", arch="lenet5", input_shape=(1, 8, 8), num_classes=10
    )
    with torch.no_grad():
        assert torch.equal(st.module(x), lenet.module(x))
    # the bare network's own state dict (no normalize layer) also loads
    save_file(lenet.module.net.state_dict(), str(tmp_path / "net.safetensors"))
    net = load_model(
        tmp_path / "net.safetensors", arch="lenet5", input_shape=(1, 8, 8), num_classes=10
    )
    assert net.source == "safetensors"


def test_mismatched_architecture_names_the_fix(tmp_path, lenet):
    save_file(lenet.module.state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        load_model(tmp_path / "w.safetensors", arch="vgg11", input_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(CheckpointError, match="has shape"):
        load_model(tmp_path / "w.safetensors", arch="lenet5", input_shape=(1, 8, 8), num_classes=3)


def test_bad_paths(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(tmp_path)
    (tmp_path / "junk.ts").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="neither a TorchScript archive"):
        load_model(tmp_path / "junk.ts")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_model(
            tmp_path / "bad.safetensors", arch="lenet5", input_shape=(1, 8, 8), num_classes=10
        )


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, lenet, digits, monkeypatch):
    out = save_checkpoint(
        tmp_path / "c", lenet.module, arch="lenet5", arch_kwargs={}, data=digits, metrics={"run": 1}
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("rai_audit.models.checkpoint.sha256_file", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(
            out, lenet.module, arch="lenet5", arch_kwargs={}, data=digits, metrics={"run": 2}
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.lock", "c"]  # no staging left


def test_a_scikit_learn_model_has_one_hash_per_fitted_state(tmp_path, german):
    """The same .skops file hashes the same in every process and every call (skops' own bytes
    carry object ids and timestamps); a changed coefficient or tree changes the hash."""
    import subprocess
    import sys

    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from rai_audit.audit.core.adapters import SklearnAdapter, estimator_digest

    tr = german.splits["train"]
    models = (
        LogisticRegression(max_iter=300).fit(tr.X, tr.y),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(tr.X, tr.y),
    )
    paths = [tmp_path / f"m{i}.skops" for i in range(len(models))]
    for clf, path in zip(models, paths):
        sio.dump(clf, path)
    code = (
        "import sys, skops.io as s; from rai_audit.audit.core.adapters import estimator_digest as e\n"
        "for p in sys.argv[1:]: print(e(s.load(p, trusted=s.get_untrusted_types(file=p))))"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, check=True
    ).stdout.split()
    for clf, path, there in zip(models, paths, other_process):
        loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        assert there == estimator_digest(loaded) == estimator_digest(clf)
        assert SklearnAdapter(clf).sha256 == SklearnAdapter(clf).sha256 == there
    changed = LogisticRegression(max_iter=300).fit(tr.X, tr.y)
    changed.coef_[0, 0] += 1e-3
    assert estimator_digest(changed) != estimator_digest(
        LogisticRegression(max_iter=300).fit(tr.X, tr.y)
    )
    trees = RandomForestClassifier(n_estimators=3, random_state=0).fit(tr.X, tr.y)
    before = estimator_digest(trees)
    trees.estimators_[0].tree_.threshold[0] += 1.0
    assert estimator_digest(trees) != before


def _job_with(tmp_path, checkpoint, edit):
    """A dashboard job whose uploaded checkpoint's model.json is changed by ``edit``."""
    from rai_audit.audit.service import jobs

    root = tmp_path / "runs"
    job = jobs.create_job(root)
    folder = job / "inputs" / "model"
    shutil.copytree(checkpoint, folder)
    meta = json.loads((folder / "model.json").read_text())
    edit(folder, meta)
    (folder / "model.json").write_text(json.dumps(meta))
    spec = {"name": "up", "model": {"path": str(folder)}, "checks": ["performance"]}
    spec["out"] = str((root / "up").resolve())
    (job / "spec.json").write_text(json.dumps(spec))
    return job, folder


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "splits"])
def test_a_checkpoint_cannot_name_a_file_outside_its_folder(tmp_path, lenet_checkpoint, how):
    """Planted: model.json names a server file (absolute, through '..', through a symbolic
    link, or as its split indices), with no sha256 to betray it. The preview and the job
    worker refuse it with one line naming the field; nothing is audited."""
    from rai_audit.audit.service import jobs
    from rai_audit.models.checkpoint import inspect_model

    server = tmp_path / "server"
    server.mkdir()
    shutil.copy(lenet_checkpoint / "weights.safetensors", server / "other.safetensors")
    shutil.copy(lenet_checkpoint / "splits.npz", server / "other.npz")

    def edit(folder, meta):
        meta.pop("weights_sha256", None)
        if how == "absolute":
            meta["weights_file"] = str(server / "other.safetensors")
        elif how == "dotdot":
            meta["weights_file"] = "../../../../server/other.safetensors"
        elif how == "symlink":
            (folder / "link.safetensors").symlink_to(server / "other.safetensors")
            meta["weights_file"] = "link.safetensors"
        else:
            meta["splits_file"] = str(server / "other.npz")

    job, folder = _job_with(tmp_path, lenet_checkpoint, edit)
    field = "splits_file" if how == "splits" else "weights_file"
    with pytest.raises(CheckpointError, match=f"{field} .*outside the checkpoint folder"):
        inspect_model(folder)
    with pytest.raises(CheckpointError, match=field):
        load_model(folder)
    assert jobs.work(job) == 1
    status = jobs.read_status(job)
    assert status["state"] == "failed" and field in status["error"]
    assert not (tmp_path / "runs" / "up" / "report.json").exists()


def test_an_in_folder_checkpoint_still_loads_and_audits(tmp_path, lenet_checkpoint):
    """The twin: the same upload naming its own files (a renamed weights file included)
    previews, loads and is audited by the job worker."""
    from rai_audit.audit.service import jobs
    from rai_audit.models.checkpoint import inspect_model

    def edit(folder, meta):
        (folder / "weights.safetensors").rename(folder / "renamed.safetensors")
        meta["weights_file"] = "renamed.safetensors"

    job, folder = _job_with(tmp_path, lenet_checkpoint, edit)
    assert inspect_model(folder)["parameters"] > 0
    assert load_model(folder).meta["weights_file"] == "renamed.safetensors"
    assert jobs.work(job) == 0, jobs.read_status(job)
    assert (tmp_path / "runs" / "up" / "report.json").is_file()


def test_the_weights_header_is_checked_before_anything_is_read(tmp_path, lenet_checkpoint):
    """A header that declares a tensor of another shape (here a 10^12-element one, which
    would exhaust memory if allocated) is refused from the header alone, naming the tensor."""
    folder = tmp_path / "ck"
    shutil.copytree(lenet_checkpoint, folder)
    raw = (folder / "weights.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    key = next(k for k in header if k != "__metadata__")
    header[key]["shape"] = [10**6, 10**6]
    body = json.dumps(header).encode()
    (folder / "weights.safetensors").write_bytes(len(body).to_bytes(8, "little") + body)
    meta = json.loads((folder / "model.json").read_text())
    meta.pop("weights_sha256")
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=f"{key} has shape \\(1000000, 1000000\\)"):
        load_model(folder)
