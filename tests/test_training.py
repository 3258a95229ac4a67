from __future__ import annotations

import pytest
import torch

from rai_audit.models.architectures import build_model
from rai_audit.models.device import resolve_device
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.pipeline import default_recipe, train_and_save
from rai_audit.models.training import TrainConfig, accuracy, train_model


def _fit(data, seed):
    torch.manual_seed(seed)
    model = build_model("lenet5", data.input_shape, data.num_classes)
    result = train_model(
        model, data, TrainConfig(epochs=2, seed=seed), device="cpu", progress=False
    )
    return model, result


def test_same_seed_gives_bit_identical_weights_and_history(digits):
    m1, r1 = _fit(digits, 3)
    m2, r2 = _fit(digits, 3)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert r1.history == [dict(h, seconds=h2["seconds"]) for h, h2 in zip(r2.history, r1.history)]
    m3, _ = _fit(digits, 4)
    assert not torch.equal(
        m1.state_dict()["net.features.0.weight"], m3.state_dict()["net.features.0.weight"]
    )


def test_history_and_early_stopping_restores_best_weights(digits):
    torch.manual_seed(0)
    model = build_model("mlp", digits.input_shape, 10)
    cfg = TrainConfig(epochs=40, patience=2, lr=0.05, seed=0)  # a high rate overfits fast
    result = train_model(model, digits, cfg, device="cpu", progress=False)
    assert result.stopped_early and len(result.history) < 40
    assert len(result.history) == result.best_epoch + cfg.patience
    best = min(result.history, key=lambda h: h["val_loss"])
    assert best["epoch"] == result.best_epoch
    from rai_audit.models.training import _epoch_eval

    val = digits.splits["val"]
    loss, _ = _epoch_eval(
        model, torch.as_tensor(val.X), torch.as_tensor(val.y), 512, torch.device("cpu")
    )
    assert loss == pytest.approx(best["val_loss"], rel=1e-5)
    assert not model.training


@pytest.mark.xdist_group("adult_mlp")
def test_default_recipes_reach_sensible_accuracy(tmp_path, digits, adult_mlp_checkpoint):
    """The embedded defaults (timed in bench/): LeNet-5 on digits >= 95 %, MLP on Adult >= 84 %."""
    from rai_audit.models.checkpoint import load_model

    lenet, _ = train_and_save(arch="lenet5", dataset=digits, out=tmp_path / "l", progress=False)
    assert lenet.meta["metrics"]["test_accuracy"] >= 0.95
    mlp = load_model(adult_mlp_checkpoint)
    data = mlp.load_data()
    assert mlp.meta["train_config"] == default_recipe("mlp", data).to_json()
    assert mlp.meta["metrics"]["test_accuracy"] >= 0.84
    assert accuracy(mlp.module, data.splits["test"].X, data.splits["test"].y) == pytest.approx(
        mlp.meta["metrics"]["test_accuracy"]
    )


def test_reuse_skips_training_only_for_the_same_recipe(tmp_path, german):
    out = tmp_path / "m"
    _, r1 = train_and_save(
        arch="mlp", dataset=german, out=out, overrides={"epochs": 2}, progress=False, reuse=True
    )
    _, r2 = train_and_save(
        arch="mlp", dataset=german, out=out, overrides={"epochs": 2}, progress=False, reuse=True
    )
    _, r3 = train_and_save(
        arch="mlp", dataset=german, out=out, overrides={"epochs": 3}, progress=False, reuse=True
    )
    assert r1 is not None and r2 is None and r3 is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "option 'epochs' of the training recipe must be an integer >= 1; got 0"),
        (
            {"batch_size": 2.5},
            "option 'batch_size' of the training recipe must be an integer >= 1; got 2.5",
        ),
        ({"lr": 0}, "option 'lr' of the training recipe must be a number > 0; got 0"),
        (
            {"weight_decay": -1},
            "option 'weight_decay' of the training recipe must be a number >= 0; got -1",
        ),
        (
            {"optimizer": "rmsprop"},
            "option 'optimizer' of the training recipe must be one of 'adam', 'adamw', 'sgd'; got 'rmsprop'",
        ),
        (
            {"patience": -1},
            "option 'patience' of the training recipe must be an integer >= 0; got -1",
        ),
        (
            {"label_smoothing": 1.0},
            r"option 'label_smoothing' of the training recipe must be a number in \[0, 1\); got 1.0",
        ),
    ],
)
def test_invalid_train_config(kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        TrainConfig(**kwargs)


def test_device_resolution():
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(InvalidConfigError, match="option 'device' of the run must be one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidConfigError, match="CUDA is not available"):
            resolve_device("cuda")
