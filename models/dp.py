"""Differentially private training (DP-SGD, Abadi et al., 2016) through Opacus.

Per-example gradients are clipped to ``max_grad_norm`` and Gaussian noise of scale
``noise_multiplier * max_grad_norm`` is added to each batch sum; batches are Poisson-sampled.
The privacy budget spent, epsilon at the given delta, comes from Opacus's accountant. Opacus
cannot compute per-example gradients through batch normalization: such models are refused with
the reason (use group normalization, or audit without DP).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from rai_audit.models.datasets import DataBundle
from rai_audit.models.device import resolve_device
from rai_audit.models.errors import IncompatibleModelError, MissingDependencyError
from rai_audit.models.training import TrainConfig, seed_everything


@dataclass(frozen=True)
class DPResult:
    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    epochs: int


def _plain_copy(private: nn.Module) -> nn.Module:
    """A copy of an Opacus-wrapped model as a plain module, without its per-sample gradient
    buffers, in eval mode on the CPU."""
    inner = getattr(private, "_module", private)
    plain: nn.Module = copy.deepcopy(inner if isinstance(inner, nn.Module) else private)
    for m in plain.modules():  # drop Opacus's per-sample gradient buffers
        for attr in ("grad_sample", "_forward_counter"):
            if hasattr(m, attr):
                delattr(m, attr)
    for p in plain.parameters():
        if hasattr(p, "grad_sample"):
            del p.grad_sample
        p.grad = None
    return plain.cpu().eval()


def train_dp(
    model: nn.Module,
    data: DataBundle,
    config: TrainConfig,
    *,
    noise_multiplier: float = 1.0,
    max_grad_norm: float = 1.0,
    delta: float | None = None,
    device: str = "auto",
) -> tuple[nn.Module, DPResult]:
    """Train ``model`` with DP-SGD for ``config.epochs`` epochs (no early stopping: every look at
    the data spends privacy budget).

    Args:
        delta: the DP delta (default ``1 / (10 * n_train)``).

    Returns:
        the trained model (a plain module, eval mode, on the CPU) and the budget spent.
    """
    try:
        from opacus import PrivacyEngine  # noqa: PLC0415
        from opacus.validators import ModuleValidator  # noqa: PLC0415
    except Exception as exc:
        raise MissingDependencyError(f"DP-SGD needs opacus (pip install opacus): {exc}") from exc
    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        raise IncompatibleModelError(
            "DP-SGD cannot train this architecture: "
            + "; ".join(str(e) for e in errors[:2])
            + " (batch normalization mixes examples; use an architecture without it)"
        )
    dev = resolve_device(device)
    seed_everything(config.seed)
    train = data.splits["train"]
    n = len(train)
    delta = delta if delta is not None else 1.0 / (10 * n)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(train.X), torch.as_tensor(train.y))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
    model = model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=max(config.lr, 0.05), momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about its non-cryptographic RNG
        engine = PrivacyEngine(secure_mode=False)
        private, opt, loader = engine.make_private(
            module=model,
            optimizer=opt,
            data_loader=loader,
            noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm,
            noise_generator=torch.Generator(device=dev).manual_seed(config.seed),
        )
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(config.epochs):
            for xb, yb in loader:
                if len(yb) == 0:
                    continue
                opt.zero_grad(set_to_none=True)
                loss_fn(private(xb.to(dev)), yb.to(dev)).backward()
                opt.step()
        epsilon = float(engine.get_epsilon(delta))
    return _plain_copy(private), DPResult(
        epsilon=epsilon,
        delta=delta,
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        epochs=config.epochs,
    )
