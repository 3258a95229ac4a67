"""Training and batched inference, the same code for the user's models and the built-in ones.

``train_model`` runs seeded mini-batch training with validation-based early stopping on the
device chosen by :func:`models.device.resolve_device` (bf16 autocast on CUDA), shows a progress
bar, and returns the per-epoch history. On CPU the same seed gives bit-identical weights.
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from rai_audit.models.datasets import DataBundle
from rai_audit.models.device import autocast_for, describe_device, resolve_device
from rai_audit.models.errors import InvalidDataError
from rai_audit.models.options import EPS, Choice, Int, Real, option, validate_fields


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A training recipe; every field is recorded in the checkpoint.

    Attributes:
        epochs: maximum number of passes over the train split.
        batch_size: mini-batch size.
        lr: learning rate.
        weight_decay: L2 penalty (decoupled for AdamW).
        optimizer: ``adam``, ``adamw`` or ``sgd`` (momentum 0.9, Nesterov).
        patience: stop after this many epochs without a lower validation loss, and restore the
            best weights; 0 disables early stopping.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        seed: seeds weight initialization (when the caller builds the model after seeding),
            shuffling and dropout.
        adv_eps: PGD adversarial training (Madry et al., 2018) when > 0: every batch is
            replaced by PGD examples within this L-inf radius (input units) before the step.
        adv_steps: PGD steps per batch (step size ``2.5 * adv_eps / adv_steps``).
        temperature: softmax temperature of the training loss (defensive distillation,
            Papernot et al., 2016, trains teacher and student at T > 1 and deploys at T = 1).
    """

    epochs: int = option(20, Int(1))
    batch_size: int = option(64, Int(1))
    lr: float = option(1e-3, Real(0.0, lo_open=True))
    weight_decay: float = option(0.0, Real(0.0))
    optimizer: Literal["adam", "adamw", "sgd"] = option("adam", Choice(("adam", "adamw", "sgd")))
    patience: int = option(5, Int(0))
    label_smoothing: float = option(0.0, Real(0.0, 1.0, hi_open=True))
    seed: int = option(0, Int(0, 2**63 - 1))
    adv_eps: float = option(0.0, EPS)
    adv_steps: int = option(7, Int(1))
    temperature: float = option(1.0, Real(0.0, lo_open=True))

    def __post_init__(self) -> None:
        validate_fields(self, "the training recipe")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """What training did: per-epoch ``history`` (train/val loss and accuracy, seconds)."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    wall_time_s: float = 0.0
    device: str = "cpu"
    samples_per_s: float = 0.0


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and restore every submodule's training flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def frozen_eval(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients for the duration; every flag restored after.

    Gradients then flow only to the inputs (or a hooked activation), which is what explanation
    methods and attacks need, and the cheapest backward pass.
    """
    modes = [(m, m.training) for m in module.modules()]
    grads = [(p, p.requires_grad) for p in module.parameters()]
    module.eval()
    for p, _ in grads:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for m, flag in modes:
            m.training = flag
        for p, flag in grads:
            p.requires_grad_(flag)


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 256,
    device: torch.device | None = None,
) -> np.ndarray:
    """Logits ``(N, num_classes)`` float32 for inputs ``X`` ``(N, ...)``, in eval mode, batched.

    The model's training flag is restored afterwards; the model stays on its device.
    """
    device = device or model_device(model)
    out = []
    with eval_mode(model):
        for start in range(0, len(X), batch_size):
            xb = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32).to(device)
            with autocast_for(device):
                logits = model(xb)
            out.append(logits.float().cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


def _epoch_eval(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    device: torch.device,
    temperature: float = 1.0,
) -> tuple[float, float]:
    loss_sum, correct = 0.0, 0
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    with eval_mode(model), torch.no_grad():
        for s in range(0, len(y), batch_size):
            xb, yb = X[s : s + batch_size].to(device), y[s : s + batch_size].to(device)
            with autocast_for(device):
                logits = model(xb)
            loss_sum += float(loss_fn(logits.float() / temperature, yb))
            correct += int((logits.argmax(1) == yb).sum())
    return loss_sum / len(y), correct / len(y)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_model(
    model: nn.Module,
    data: DataBundle,
    config: TrainConfig,
    *,
    device: str | torch.device | None = "auto",
    progress: bool = True,
    teacher: nn.Module | None = None,
    sample_weight: np.ndarray | None = None,
) -> TrainResult:
    """Fit ``model`` on ``data.splits['train']``, early-stopping on ``data.splits['val']``.

    Args:
        model: a classifier returning ``(N, num_classes)`` logits; trained in place and left in
            eval mode on ``device`` with the best validation weights.
        data: a bundle with ``train`` and ``val`` splits.
        config: the recipe.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        progress: show a progress bar (epochs, with loss and accuracy).
        teacher: distillation: train on the teacher's softened probabilities
            ``softmax(teacher(x) / T)`` instead of the labels (``T = config.temperature``).
        sample_weight: one non-negative weight per train row (reweighing, fairlearn's
            reductions): each batch's loss is the weighted mean over its rows, with the weights
            scaled to average 1 over the train split.

    Returns:
        The per-epoch history and timing.
    """
    for name in ("train", "val"):
        if name not in data.splits or len(data.splits[name]) == 0:
            raise InvalidDataError(f"training needs a non-empty {name!r} split")
    dev = resolve_device(device)
    seed_everything(config.seed)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    model.to(dev)
    train, val = data.splits["train"], data.splits["val"]
    Xtr = torch.as_tensor(train.X, dtype=torch.float32)
    ytr = torch.as_tensor(train.y, dtype=torch.int64)
    wtr = _train_weights(sample_weight, len(ytr))
    Xva = torch.as_tensor(val.X, dtype=torch.float32)
    yva = torch.as_tensor(val.y, dtype=torch.int64)
    if dev.type != "cpu":
        Xtr, ytr = Xtr.to(dev), ytr.to(dev)
        wtr = wtr.to(dev) if wtr is not None else None
    opt = _optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    temp = float(config.temperature)
    adversary = _adversary(model, data, config, dev) if config.adv_eps > 0 else None
    if teacher is not None:
        teacher = teacher.to(dev).eval()
    gen = torch.Generator().manual_seed(config.seed)
    result = TrainResult(device=describe_device(dev))
    best_loss, best_state, bad_epochs = float("inf"), None, 0
    t_start = time.perf_counter()
    seen = 0
    bar = tqdm(
        range(1, config.epochs + 1),
        desc=f"train {data.name}",
        unit="epoch",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(ytr), generator=gen).to(Xtr.device)
        loss_sum, correct = 0.0, 0
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            xb, yb = Xtr[idx].to(dev, non_blocking=True), ytr[idx].to(dev, non_blocking=True)
            if adversary is not None:
                xb = adversary(xb, yb)
            with autocast_for(dev):
                logits = model(xb)
            if teacher is not None:
                with torch.no_grad():
                    soft = torch.softmax(teacher(xb).float() / temp, dim=1)
                loss = F.cross_entropy(logits.float() / temp, soft)
            elif wtr is not None:
                per_row = F.cross_entropy(
                    logits.float() / temp,
                    yb,
                    reduction="none",
                    label_smoothing=config.label_smoothing,
                )
                loss = (per_row * wtr[idx].to(dev)).mean()
            else:
                loss = loss_fn(logits.float() / temp, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((logits.detach().argmax(1) == yb).sum())
        seen += len(ytr)
        # validation loss at the training temperature: early stopping tracks the objective
        val_loss, val_acc = _epoch_eval(model, Xva, yva, 512, dev, temp)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / len(ytr),
            "train_accuracy": correct / len(ytr),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": time.perf_counter() - t0,
        }
        result.history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{val_acc:.3f}")
        if val_loss < best_loss - 1e-6:
            best_loss, bad_epochs, result.best_epoch = val_loss, 0, epoch
            best_state = copy.deepcopy(
                {k: v.detach().clone() for k, v in model.state_dict().items()}
            )
        else:
            bad_epochs += 1
            if config.patience and bad_epochs >= config.patience:
                result.stopped_early = epoch < config.epochs
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.wall_time_s = time.perf_counter() - t_start
    result.samples_per_s = seen / max(result.wall_time_s, 1e-9)
    return result


def _train_weights(sample_weight: np.ndarray | None, n: int) -> torch.Tensor | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise InvalidDataError(
            f"sample_weight must have one value per train row ({n}), got shape {w.shape}"
        )
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidDataError("sample_weight must be finite, non-negative and not all zero")
    return torch.as_tensor(w * (n / w.sum()), dtype=torch.float32)


def _adversary(model: nn.Module, data: DataBundle, config: TrainConfig, dev: torch.device):
    """PGD example generator for adversarial training (eval mode, frozen weights while
    attacking; the training flags come back for the step)."""
    from rai_audit.attacks.pgd import PGDConfig, pgd  # noqa: PLC0415  (attacks builds on models)

    shape = data.input_shape
    size = int(np.prod(shape))
    low = torch.as_tensor(
        np.broadcast_to(np.asarray(data.domain_low, np.float32), (size,)).reshape(shape).copy(),
        device=dev,
    )
    high = torch.as_tensor(
        np.broadcast_to(np.asarray(data.domain_high, np.float32), (size,)).reshape(shape).copy(),
        device=dev,
    )
    cfg = PGDConfig.madry(float(config.adv_eps), config.adv_steps, num_random_init=1)
    gen = torch.Generator().manual_seed(config.seed + 1)

    def attack(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with frozen_eval(model):
            return pgd(model, xb, yb, cfg, low=low, high=high, generator=gen, batch_size=len(xb))

    return attack


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Share of correct argmax predictions."""
    if len(y) == 0:
        raise InvalidDataError("accuracy of an empty split is undefined")
    return float((predict_logits(model, X).argmax(1) == y).mean())
