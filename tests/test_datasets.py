from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rai_audit.models.datasets import (
    DATASETS,
    load_csv,
    load_dataset,
    load_image_folder,
    make_splits,
)
from rai_audit.models.errors import InvalidConfigError, InvalidDataError

EXPECTED_ROWS = {
    "digits": 1797,
    "digits32": 1797,
    "digits_marker": 1797,
    "adult": 48842,
    "german_credit": 1000,
    "compas": 6172,
}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def bundle(request):
    return load_dataset(request.param)


def test_splits_are_disjoint_cover_everything_and_are_stratified(bundle):
    idx = bundle.split_indices()
    assert set(idx) == {"train", "val", "test", "holdout"}
    allidx = np.concatenate(list(idx.values()))
    assert len(allidx) == len(np.unique(allidx)) == EXPECTED_ROWS[bundle.name]
    y_all = np.concatenate([s.y for s in bundle.splits.values()])
    overall = np.bincount(y_all) / len(y_all)
    for split in bundle.splits.values():
        share = np.bincount(split.y, minlength=len(overall)) / len(split)
        assert np.abs(share - overall).max() < 0.02
        assert split.X.dtype == np.float32
        assert split.X.shape[1:] == bundle.input_shape
        for values in split.sensitive.values():
            assert len(values) == len(split)


@pytest.mark.parametrize("name", ["digits", "digits32"])
def test_images_are_in_pixel_space(name):
    bundle = load_dataset(name)
    assert bundle.kind == "image"
    for s in bundle.splits.values():
        assert s.X.min() >= 0.0 and s.X.max() <= 1.0


@pytest.mark.parametrize("name", ["adult", "german_credit", "compas"])
def test_tabular_encoder_is_fitted_on_train_only(name):
    bundle = load_dataset(name)
    assert bundle.kind == "tabular"
    n_num = len(bundle.preprocessing["numeric"])
    train_means = bundle.splits["train"].X[:, :n_num].mean(axis=0)
    np.testing.assert_allclose(train_means, 0.0, atol=1e-4)
    assert bundle.sensitive_in_features
    assert all(len(v) for v in bundle.splits["test"].sensitive.values())


def test_same_seed_same_splits_and_hash_other_seed_differs():
    a, b = load_dataset("german_credit"), load_dataset("german_credit")
    c = load_dataset("german_credit", split_seed=1)
    assert a.sha256 == b.sha256 and a.sha256 != c.sha256
    np.testing.assert_array_equal(a.splits["train"].indices, b.splits["train"].indices)
    assert not np.array_equal(a.splits["train"].indices, c.splits["train"].indices)


def test_stored_indices_and_preprocessing_reproduce_the_bundle():
    a = load_dataset("compas", split_seed=3)
    b = load_dataset(
        "compas", split_seed=3, indices=a.split_indices(), preprocessing=a.preprocessing
    )
    np.testing.assert_array_equal(a.splits["test"].X, b.splits["test"].X)
    assert a.sha256 == b.sha256


def test_compas_keeps_propublica_score_and_sensitive_columns():
    d = load_dataset("compas")
    assert set(d.splits["test"].sensitive) == {"race", "sex", "age_group"}
    assert "African-American" in set(d.splits["train"].sensitive["race"])
    assert set(np.unique(d.splits["train"].extras["compas_high_risk"])) == {0, 1}


def test_sensitive_columns_can_be_hidden_from_the_model():
    d = load_dataset("adult", include_sensitive=False)
    assert not any(f.startswith(("sex=", "race=")) for f in d.feature_names)
    assert d.sensitive_in_features == {"sex": False, "race": False, "age_group": True}


def test_make_splits_rejects_bad_fractions_and_tiny_data():
    with pytest.raises(InvalidConfigError, match="sum to 1"):
        make_splits(np.zeros(10, dtype=int), 0, {"train": 0.5, "test": 0.4})
    with pytest.raises(InvalidDataError, match="would be empty"):
        make_splits(np.array([0, 1]), 0)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(InvalidConfigError, match="expected one of adult, compas"):
        load_dataset("mnist")


def _write_csv(path, rows=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "income": rng.normal(50, 10, rows),
            "city": rng.choice(["a", "b", "c"], rows),
            "sex": rng.choice(["f", "m"], rows),
            "label": rng.choice(["no", "yes"], rows),
        }
    )
    df.to_csv(path, index=False)
    return df


def test_user_csv_with_named_target_and_sensitive_columns(tmp_path):
    _write_csv(tmp_path / "d.csv")
    d = load_dataset(f"csv:{tmp_path / 'd.csv'}", target="label", sensitive=["sex"])
    assert d.class_names == ("no", "yes")
    assert "city=b" in d.feature_names and "sex=m" in d.feature_names
    assert set(d.splits["test"].sensitive["sex"]) <= {"f", "m"}
    hidden = load_csv(
        tmp_path / "d.csv", target="label", sensitive=["sex"], include_sensitive=False
    )
    assert not any(f.startswith("sex") for f in hidden.feature_names)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "column 'nope' is not in"),
        ({"target": "label", "sensitive": ["race"]}, "column 'race' is not in"),
        ({"target": "label", "encoding": "none"}, "are not numeric"),
    ],
)
def test_user_csv_errors(tmp_path, kwargs, message):
    _write_csv(tmp_path / "d.csv")
    with pytest.raises(InvalidDataError, match=message):
        load_csv(tmp_path / "d.csv", **kwargs)


def test_user_csv_single_class_and_missing_sensitive(tmp_path):
    df = _write_csv(tmp_path / "d.csv")
    df.assign(label="yes").to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(InvalidDataError, match="single class"):
        load_csv(tmp_path / "one.csv", target="label")
    df.loc[3, "sex"] = None
    df.to_csv(tmp_path / "nan.csv", index=False)
    with pytest.raises(InvalidDataError, match="sensitive column 'sex' has missing values"):
        load_csv(tmp_path / "nan.csv", target="label", sensitive=["sex"])


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(10):
            arr = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{i}.png")
    d = load_image_folder(tmp_path, size=8)
    assert d.class_names == ("cat", "dog")
    assert d.input_shape == (3, 8, 8)
    assert sum(len(s) for s in d.splits.values()) == 20
    gray = load_image_folder(tmp_path, size=8, grayscale=True)
    assert gray.input_shape == (1, 8, 8)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InvalidDataError, match="cannot read image"):
        load_image_folder(tmp_path, size=8)


def test_image_folder_needs_class_subfolders(tmp_path):
    with pytest.raises(InvalidDataError, match="one subfolder per class"):
        load_image_folder(tmp_path)


def test_torchvision_data_sets_are_optional_and_never_downloaded(tmp_path):
    from rai_audit.models.errors import MissingDependencyError

    try:
        import torchvision.datasets  # noqa: F401
    except Exception:
        with pytest.raises(MissingDependencyError, match="vision"):
            load_dataset("tv:MNIST", root=tmp_path)
    else:
        with pytest.raises(InvalidDataError, match="downloads are disabled"):
            load_dataset("tv:MNIST", root=tmp_path)


def test_integer_labels_keep_their_numeric_order_and_text_labels_still_work(tmp_path):
    """Planted: labels 0..10 were ordered as text ('10' before '2'), so a LogisticRegression
    fitted on them (classes_ == arange(11)) was scored against scrambled labels (accuracy
    0.16). Now the classes are 0, 1, ..., 10 in that order, the report records the order, and
    the audit's accuracy on its rows is the model's own. Twin: text labels load as before."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from rai_audit.audit.core.checks import Artifacts
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.audit.performance.check import PerformanceCheck
    from rai_audit.models.datasets import load_csv

    g = np.random.default_rng(0)
    n = 1100
    label = np.repeat(np.arange(11), n // 11)
    frame = pd.DataFrame(
        {"a": label + g.normal(0, 0.7, n), "b": label * 2 + g.normal(0, 1.0, n), "y": label}
    )
    frame.to_csv(tmp_path / "eleven.csv", index=False)
    data = load_csv(tmp_path / "eleven.csv", target="y", encoding="none")
    assert data.class_names == tuple(str(i) for i in range(11))
    tr = data.splits["train"]
    raw = np.array([int(c) for c in data.class_names])
    clf = LogisticRegression(max_iter=2000).fit(tr.X, raw[tr.y])
    assert list(clf.classes_) == list(range(11))
    target = AuditTarget.from_bundle(clf, data)
    res = PerformanceCheck().run(target, seed=0, artifacts=Artifacts(tmp_path / "r", "p"))
    te = data.splits["test"]
    assert res.metric("accuracy").value == pytest.approx(clf.score(te.X, raw[te.y]))
    assert res.metric("accuracy").value > 0.5
    assert res.metric("train_accuracy").value == pytest.approx(clf.score(tr.X, raw[tr.y]))
    # twin: the same rows with text labels ('c0'..'c10' sort as text, as classes_ does)
    frame["y"] = [f"c{v}" for v in label]
    frame.to_csv(tmp_path / "text.csv", index=False)
    text = load_csv(tmp_path / "text.csv", target="y", encoding="none")
    assert list(text.class_names) == sorted(f"c{v}" for v in range(11))
    named = LogisticRegression(max_iter=2000).fit(
        text.splits["train"].X, np.array(text.class_names)[text.splits["train"].y]
    )
    t2 = AuditTarget.from_bundle(named, text)
    te2 = text.splits["test"]
    assert (t2.model.predict_proba(te2.X).argmax(1) == te2.y).mean() == pytest.approx(
        named.score(te2.X, np.array(text.class_names)[te2.y])
    )


def test_the_users_split_is_used_and_a_leaking_split_is_a_finding(tmp_path):
    """Planted: a credit model trained on its own 80/20 split, declared through a split column
    and through separate files, with a test file that shares 60 rows with train. The audit uses
    exactly the declared rows (the reported accuracy's interval holds the model's own held-out
    accuracy) and the overlap beyond chance is a failing finding with its count. Twin: the same
    files without shared rows: the overlap passes."""
    import pandas as pd
    from sklearn.ensemble import GradientBoostingClassifier

    from rai_audit.audit.core.runner import run_audit
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.audit.gate.policy import Policy
    from rai_audit.audit.performance.check import PerformanceCheck
    from rai_audit.models.datasets import load_csv

    g = np.random.default_rng(1)
    n = 1000
    frame = pd.DataFrame({f"f{i}": g.normal(size=n) for i in range(6)})
    frame["y"] = (frame["f0"] + frame["f1"] * frame["f2"] + g.normal(0, 0.8, n) > 0).astype(int)
    order = g.permutation(n)
    tr_rows, te_rows = order[:800], order[800:]
    cols = [f"f{i}" for i in range(6)]
    clf = GradientBoostingClassifier(random_state=0).fit(
        frame.loc[tr_rows, cols].to_numpy(np.float32), frame.loc[tr_rows, "y"]
    )
    own = clf.score(frame.loc[te_rows, cols].to_numpy(np.float32), frame.loc[te_rows, "y"])
    with_col = frame.assign(split=np.where(np.isin(np.arange(n), tr_rows), "train", "test"))
    with_col.to_csv(tmp_path / "all.csv", index=False)
    frame.loc[tr_rows].to_csv(tmp_path / "train.csv", index=False)
    frame.loc[te_rows].to_csv(tmp_path / "test.csv", index=False)
    leaky = pd.concat([frame.loc[te_rows[:140]], frame.loc[tr_rows[:60]]])
    leaky.to_csv(tmp_path / "leaky.csv", index=False)

    def audit(data, name):
        target = AuditTarget.from_bundle(clf, data)
        report = run_audit(
            target,
            [PerformanceCheck()],
            out=tmp_path / name,
            policy=Policy.default(),
            progress=False,
            history=False,
        )
        return report.results[0]

    by_col = load_csv(tmp_path / "all.csv", target="y", encoding="none", split_column="split")
    assert "split" not in by_col.feature_names and sorted(by_col.splits) == ["test", "train"]
    by_files = load_csv(
        tmp_path / "test.csv", target="y", encoding="none", train=tmp_path / "train.csv"
    )
    for data, name in ((by_col, "col"), (by_files, "files")):
        res = audit(data, name)
        acc = res.metric("accuracy")
        assert len(data.splits["test"]) == 200 and acc.ci_low <= own <= acc.ci_high
        assert acc.value == pytest.approx(own)
        overlap = res.metric("train_test_overlap")
        assert overlap.outcome == "pass" and overlap.value == 0.0
    leak = load_csv(
        tmp_path / "leaky.csv", target="y", encoding="none", train=tmp_path / "train.csv"
    )
    res = audit(leak, "leak")
    overlap = res.metric("train_test_overlap")
    # 60 of 200 repeat a train row; random re-splits of the same rows (whose union now holds
    # the 60 as pairs) put about 19 of them across by chance, so the excess is about 0.21
    assert 0.15 < overlap.value < 60 / 200 and overlap.ci_low > 0.05 and overlap.verdict == "fail"
    assert "60 of 200" in overlap.description
    assert any("the split leaks" in w for w in res.warnings)
    with pytest.raises(ValueError, match="declare the split one way"):
        load_csv(
            tmp_path / "all.csv", target="y", split_column="split", train=tmp_path / "train.csv"
        )
    with pytest.raises(ValueError, match="split column 'y' has values"):
        load_csv(tmp_path / "all.csv", target="f0", split_column="y")


def test_raw_encoding_round_trips_to_the_users_data_frame():
    """``raw`` keeps the CSV's columns in their order, text as category codes; decoding gives
    back the same frame (names, text, integers), also after the JSON round trip a checkpoint
    makes. Codes pushed between categories (LIME's perturbations) decode to the nearest."""
    import pandas as pd

    from rai_audit.models.tabular import TabularEncoder

    frame = pd.DataFrame(
        {"b": ["x", "z", "y", "x"], "a": [3, 1, 2, 7], "c": [0.5, -1.25, 2.0, 3.5]}
    )
    enc = TabularEncoder.fit_raw(frame, ["b", "a", "c"])
    X = enc.transform(frame)
    assert X.tolist() == [[0, 3, 0.5], [2, 1, -1.25], [1, 2, 2.0], [0, 7, 3.5]]
    back = TabularEncoder.from_json(enc.to_json()).decode(X)
    pd.testing.assert_frame_equal(back, frame[["b", "a", "c"]], check_dtype=False)
    assert back["a"].dtype.kind == "i" and back["b"].tolist() == ["x", "z", "y", "x"]
    assert enc.decode(np.array([[1.4, 2.6, 0.0], [9.0, 0.0, 0.0]]))["b"].tolist() == ["y", "z"]
    assert enc.bounds(X) == ([0.0, 1.0, -1.25], [2.0, 7.0, 3.5])
    with pytest.raises(ValueError, match="values \\['w'\\] that its categories"):
        enc.transform(frame.assign(b=["w", "x", "x", "x"]))
    with pytest.raises(ValueError, match="numeric column 'a' is missing in 1 row"):
        TabularEncoder.fit_raw(frame.assign(a=[1, None, 2, 3]), ["a"])


def test_evaluation_only_pools_every_row_in_file_order(german):
    """A model the suite did not train, with no split declared: one test split holding every
    row in file order, a domain that covers every row, and the same hash for the same data."""
    from rai_audit.models.datasets import evaluation_only, load_dataset

    pooled = evaluation_only(german)
    test = pooled.splits["test"]
    assert list(pooled.splits) == ["test"] and len(test) == sum(map(len, german.splits.values()))
    assert np.array_equal(test.indices, np.arange(len(test)))
    for s in german.splits.values():
        assert np.array_equal(test.X[s.indices], s.X) and np.array_equal(test.y[s.indices], s.y)
        assert np.array_equal(test.sensitive["sex"][s.indices], s.sensitive["sex"])
    assert np.all(test.X >= np.asarray(pooled.domain_low) - 1e-6)
    assert np.all(test.X <= np.asarray(pooled.domain_high) + 1e-6)
    assert pooled.split_origin == "evaluation" and "every row" in pooled.split_source()
    assert evaluation_only(load_dataset("german_credit")).sha256 == pooled.sha256
    assert german.split_origin == "suite" and "seed 0" in german.split_source()


def test_an_image_folder_split_into_subfolders_is_the_users_split(tmp_path):
    """``root/train/<class>/`` and ``root/test/<class>/`` declare the split: used as it is, the
    classes are the union over the splits (a class absent from one split keeps its index), and
    a split folder with no ``test`` is refused on one line."""
    from PIL import Image

    from rai_audit.models.datasets import load_image_folder

    layout = {"train": {"a": 3, "b": 2, "c": 2}, "test": {"a": 1, "c": 2}}
    for split, classes in layout.items():
        for cls, count in classes.items():
            (tmp_path / "f" / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.new("L", (6, 6), color=40 * i).save(tmp_path / "f" / split / cls / f"{i}.png")
    data = load_image_folder(tmp_path / "f", size=6, grayscale=True)
    assert data.class_names == ("a", "b", "c") and data.split_origin == "declared"
    assert {k: len(s) for k, s in data.splits.items()} == {"train": 7, "test": 3}
    assert data.splits["test"].y.tolist() == [0, 2, 2]
    assert "split subfolders (train, test)" in data.split_source()
    again = load_image_folder(tmp_path / "f", size=6, grayscale=True, indices=data.split_indices())
    assert again.sha256 == data.sha256
    import shutil

    shutil.rmtree(tmp_path / "f" / "test")
    (tmp_path / "f" / "holdout" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="has no 'test' subfolder"):
        load_image_folder(tmp_path / "f", size=6, grayscale=True)


def test_an_image_folder_split_by_a_split_file(tmp_path):
    """A flat class folder with a JSON split file: the rows are the images in class order, then
    file name order; the folder records the file and the origin."""
    import json

    from PIL import Image

    from rai_audit.models.datasets import load_image_folder

    for cls in ("a", "b"):
        (tmp_path / "f" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (4, 4), color=30 * i).save(tmp_path / "f" / cls / f"{i}.png")
    (tmp_path / "s.json").write_text(json.dumps({"train": [0, 1, 3, 4], "test": [2, 5]}))
    data = load_image_folder(tmp_path / "f", size=4, grayscale=True, split_file=tmp_path / "s.json")
    assert data.split_origin == "declared" and "split file s.json" in data.split_source()
    assert data.splits["test"].y.tolist() == [0, 1]
    np.testing.assert_allclose(data.splits["test"].X[:, 0, 0, 0], [60 / 255, 60 / 255], atol=1e-6)
    with pytest.raises(ValueError, match="differs from the split file"):
        load_image_folder(
            tmp_path / "f",
            size=4,
            grayscale=True,
            split_file=tmp_path / "s.json",
            indices={"train": np.arange(4), "test": np.array([4, 5])},
        )
