"""Train a registered architecture on a data set and save it as a checkpoint, in one call.

This is what ``rai-audit train`` and ``rai-audit demo`` run. Default recipes are tuned to reach a
sensible accuracy quickly on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rai_audit.models.architectures import build_model
from rai_audit.models.checkpoint import LoadedModel, load_model, recipe_hash, save_checkpoint
from rai_audit.models.datasets import DataBundle, load_dataset
from rai_audit.models.errors import AuditError, InvalidConfigError
from rai_audit.models.training import (
    TrainConfig,
    TrainResult,
    accuracy,
    seed_everything,
    train_model,
)

# (architecture, data kind or name) -> recipe. Looked up by data set name first, then kind.
DEFAULT_RECIPES: dict[tuple[str, str], TrainConfig] = {
    ("lenet5", "digits"): TrainConfig(epochs=40, batch_size=32, lr=2e-3, patience=6),
    ("mlp", "adult"): TrainConfig(epochs=12, batch_size=256, lr=1e-3, patience=3),
    ("mlp", "compas"): TrainConfig(epochs=30, batch_size=128, lr=1e-3, patience=4),
    ("mlp", "german_credit"): TrainConfig(
        epochs=60, batch_size=32, lr=1e-3, patience=8, weight_decay=1e-4
    ),
    ("mlp", "tabular"): TrainConfig(epochs=30, batch_size=128, lr=1e-3, patience=4),
    ("mlp", "image"): TrainConfig(epochs=30, batch_size=64, lr=1e-3, patience=5),
    ("lenet5", "image"): TrainConfig(epochs=30, batch_size=64, lr=2e-3, patience=5),
    ("vgg11", "image"): TrainConfig(epochs=20, batch_size=64, lr=1e-3, patience=4),
    ("resnet18", "image"): TrainConfig(epochs=20, batch_size=64, lr=1e-3, patience=4),
}
FALLBACK = TrainConfig(epochs=20, batch_size=64, lr=1e-3, patience=4)
DEFENSES = ("none", "adversarial", "distillation")


def default_recipe(arch: str, data: DataBundle) -> TrainConfig:
    """The default recipe for ``arch`` on ``data`` (by data set name, then by kind)."""
    return (
        DEFAULT_RECIPES.get((arch, data.name)) or DEFAULT_RECIPES.get((arch, data.kind)) or FALLBACK
    )


def image_normalization(data: DataBundle) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the train split, for the model's normalization layer."""
    X = data.splits["train"].X
    axes = (0, 2, 3)
    mean = X.mean(axis=axes).astype(np.float64)
    std = X.std(axis=axes).astype(np.float64)
    return [float(v) for v in mean], [float(max(v, 1e-6)) for v in std]


def train_and_save(
    *,
    arch: str,
    dataset: str | DataBundle,
    out: str | Path,
    config: TrainConfig | None = None,
    overrides: Mapping[str, Any] | None = None,
    arch_kwargs: Mapping[str, Any] | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    split_seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    reuse: bool = False,
    defense: str = "none",
) -> tuple[LoadedModel, TrainResult | None]:
    """Build, train and checkpoint ``arch`` on ``dataset``.

    Args:
        arch: architecture name (see :data:`models.architectures.ARCHITECTURES`).
        dataset: a data set name (see :func:`load_dataset`) or a loaded bundle.
        out: checkpoint folder to write (atomically).
        config: the recipe; default :func:`default_recipe`. ``overrides`` changes fields of it
            (e.g. ``{"epochs": 5, "seed": 1}``).
        reuse: if ``out`` holds a checkpoint with the same recipe hash, load it instead of
            training (returns ``None`` as the train result).
        defense: ``none``; ``adversarial`` (PGD adversarial training: set ``adv_eps`` in the
            recipe, default 8/255 for images and 0.1 for tabular); or ``distillation``
            (defensive distillation: a teacher and then a student trained at ``temperature``,
            default 20, the student deployed at temperature 1).
    """
    if defense not in DEFENSES:
        raise InvalidConfigError(f"defense must be one of {', '.join(DEFENSES)}, got {defense!r}")
    data = (
        dataset
        if isinstance(dataset, DataBundle)
        else load_dataset(dataset, split_seed=split_seed, **dict(dataset_options or {}))
    )
    cfg = config or default_recipe(arch, data)
    if defense == "adversarial" and cfg.adv_eps == 0:
        cfg = dataclasses.replace(cfg, adv_eps=8 / 255 if data.kind == "image" else 0.1)
    if defense == "distillation" and cfg.temperature == 1.0:
        cfg = dataclasses.replace(cfg, temperature=20.0)
    if overrides:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    kwargs = dict(arch_kwargs or {})
    recipe = {
        "arch": arch,
        "arch_kwargs": kwargs,
        "data": data.sha256,
        "train": cfg.to_json(),
        "defense": defense,
    }
    rhash = recipe_hash(recipe)
    out = Path(out)
    if reuse and (out / "model.json").is_file():
        try:
            if json.loads((out / "model.json").read_text()).get("recipe_hash") == rhash:
                return load_model(out), None
        except (OSError, ValueError, AuditError):
            pass  # unreadable or stale: retrain and overwrite it atomically
    seed_everything(cfg.seed)
    mean, std = image_normalization(data) if data.kind == "image" else (None, None)
    model = build_model(arch, data.input_shape, data.num_classes, mean=mean, std=std, **kwargs)
    result = train_model(model, data, cfg, device=device, progress=progress)
    if defense == "distillation":
        teacher = model
        seed_everything(cfg.seed + 1)
        model = build_model(arch, data.input_shape, data.num_classes, mean=mean, std=std, **kwargs)
        result = train_model(model, data, cfg, device=device, progress=progress, teacher=teacher)
    model.cpu()
    metrics: dict[str, Any] = {
        f"{name}_accuracy": accuracy(model, data.splits[name].X, data.splits[name].y)
        for name in ("train", "val", "test")
    }
    metrics.update(
        best_epoch=result.best_epoch,
        epochs_run=len(result.history),
        wall_time_s=result.wall_time_s,
        device=result.device,
    )
    save_checkpoint(
        out,
        model,
        arch=arch,
        arch_kwargs=kwargs,
        data=data,
        train_config=cfg.to_json(),
        history=result.history,
        metrics=metrics,
        extra={"recipe_hash": rhash, "defense": defense},
    )
    return load_model(out), result
