from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from rai_audit.audit.core.adapters import SklearnAdapter, TorchAdapter
from rai_audit.audit.core.target import AuditTarget
from rai_audit.models.datasets import Split
from rai_audit.models.errors import IncompatibleModelError, InvalidDataError


def _target(model, splits, **kw):
    base = dict(
        model=model,
        splits=splits,
        class_names=[str(i) for i in range(10)],
        kind="image",
        input_shape=(1, 8, 8),
        device="cpu",
    )
    base.update(kw)
    return AuditTarget(**base)


def _split(X, y, **kw):
    return Split(X=X, y=y, indices=np.arange(len(y)), **kw)


def test_valid_target(digits_target):
    assert digits_target.num_classes == 10
    assert digits_target.model.differentiable


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda X, y: (X[:, :, :4], y), InvalidDataError, r"inputs are shaped \(1, 4, 8\)"),
        (lambda X, y: (X, y + 5), InvalidDataError, "labels range over 5..14 but there are 10"),
        (lambda X, y: (X, -y - 1), InvalidDataError, "labels range over"),
        (lambda X, y: (X[:0], y[:0]), InvalidDataError, "split 'test' is empty"),
        (lambda X, y: (X, y[:-1]), InvalidDataError, "inputs but .* labels"),
        (
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y),
            InvalidDataError,
            "contain NaN or infinite",
        ),
        (lambda X, y: (X * 255.0, y), InvalidDataError, "put normalization inside the model"),
        (lambda X, y: (X, y + 0.5), InvalidDataError, "labels must be integers"),
    ],
)
def test_bad_data_is_refused_with_a_clear_message(lenet, digits, mutate, error, message):
    s = digits.splits["test"]
    X, y = mutate(s.X.copy(), s.y.copy())
    with pytest.raises(error, match=message):
        _target(lenet.module, {"test": _split(X, y)})


def test_sensitive_feature_of_wrong_length(lenet, digits):
    s = digits.splits["test"]
    bad = _split(s.X, s.y, sensitive={"group": np.array(["a"] * (len(s) - 1))})
    with pytest.raises(InvalidDataError, match="sensitive feature 'group' has 269 values for 270"):
        _target(lenet.module, {"test": bad})


def test_missing_test_split(lenet, digits):
    s = digits.splits["train"]
    with pytest.raises(InvalidDataError, match="needs a 'test' split"):
        _target(lenet.module, {"train": _split(s.X, s.y)})


def test_model_output_must_be_n_by_num_classes(lenet, digits):
    s = digits.splits["test"]
    with pytest.raises(IncompatibleModelError, match=r"output is shaped \(8, 10\) .* expected"):
        _target(lenet.module, {"test": _split(s.X, s.y % 3)}, class_names=["a", "b", "c"])

    class Broken(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 10), float("nan"))

    with pytest.raises(IncompatibleModelError, match="NaN or infinite outputs"):
        _target(Broken(), {"test": _split(s.X, s.y)})

    class Crashes(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(IncompatibleModelError, match="failed on 8 test inputs"):
        _target(Crashes(), {"test": _split(s.X, s.y)})


def test_objects_that_are_not_models(digits):
    s = digits.splits["test"]
    with pytest.raises(IncompatibleModelError, match="cannot audit a str"):
        _target("model.pt", {"test": _split(s.X, s.y)})


def test_sklearn_classifier(german):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=500).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    assert isinstance(target.model, SklearnAdapter) and not target.model.differentiable
    p = target.model.predict_proba(german.splits["test"].X)
    np.testing.assert_allclose(p, clf.predict_proba(german.splits["test"].X))
    assert len(target.model.sha256) == 64
    # labels by value: matched to the data's classes, refused when they do not match
    named = LogisticRegression(max_iter=500).fit(tr.X, np.where(tr.y == 1, "good", "bad"))
    np.testing.assert_allclose(
        AuditTarget.from_bundle(named, german).model.predict_proba(tr.X[:5]),
        named.predict_proba(tr.X[:5]),
    )
    other = LogisticRegression(max_iter=500).fit(tr.X, np.where(tr.y == 1, "yes", "no"))
    with pytest.raises(IncompatibleModelError, match="do not match the data's labels"):
        AuditTarget.from_bundle(other, german)
    with pytest.raises(IncompatibleModelError, match="not fitted"):
        SklearnAdapter(LogisticRegression())


def test_torch_adapter_restores_mode_and_batches(lenet, digits):
    module = lenet.module
    module.train()
    adapter = TorchAdapter(module, device="cpu", batch_size=7)
    X = digits.splits["test"].X[:20]
    out = adapter.logits(X)
    assert module.training, "training flag must be restored"
    module.eval()
    with torch.no_grad():
        np.testing.assert_allclose(out, module(torch.as_tensor(X)).numpy(), rtol=1e-5, atol=1e-5)
    probs = TorchAdapter(
        torch.nn.Sequential(module, torch.nn.Softmax(1)), device="cpu", output="probabilities"
    )
    np.testing.assert_allclose(probs.predict_proba(X), adapter.predict_proba(X), atol=1e-5)


def test_data_drift_from_the_checkpoint_is_noted(lenet, digits):
    other = dataclasses.replace(digits, sha256="0" * 64)
    target = AuditTarget.from_loaded(lenet, other, device="cpu")
    assert "differs from the data the checkpoint was trained on" in target.data_info["warning"]


def test_labels_by_value_are_reordered_into_the_data_class_order(german):
    """A data set whose class order is not the classifier's (class 0 is 'good' here, while
    scikit-learn sorts classes_ to ['bad', 'good']): the probability columns follow the data's
    order, so accuracy is the classifier's own."""
    import dataclasses

    flipped = {k: dataclasses.replace(s, y=1 - s.y) for k, s in german.splits.items()}
    data = dataclasses.replace(german, splits=flipped, class_names=("good", "bad"))
    tr, te = german.splits["train"], german.splits["test"]
    clf = LogisticRegression(max_iter=500).fit(tr.X, np.where(tr.y == 1, "good", "bad"))
    target = AuditTarget.from_bundle(clf, data)
    pred = target.model.predict_proba(te.X).argmax(1)
    truth = np.where(te.y == 1, "good", "bad")
    assert (pred == data.splits["test"].y).mean() == pytest.approx(clf.score(te.X, truth))
