"""Training throughput of ``models.training.train_model`` against a bare PyTorch loop.

Rows: LeNet-5 on 8x8 digits and ResNet-18 (width 16) on 32x32 digits. One call = one epoch over
the train split (ours also evaluates the validation split once per epoch, as it must for early
stopping; the bare loop does forward, backward and step only).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from bench.harness import Row, Variant
from rai_audit.models.architectures import build_model
from rai_audit.models.datasets import load_digits
from rai_audit.models.training import TrainConfig, train_model


def _bare_epoch(model: nn.Module, X: torch.Tensor, y: torch.Tensor, bs: int, opt) -> None:
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    perm = torch.randperm(len(y))
    for s in range(0, len(y), bs):
        idx = perm[s : s + bs]
        loss = loss_fn(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def training_row(arch: str, size: int, n_train: int | None, bs: int = 32, **kw) -> Row:
    data = load_digits(size=size)
    if n_train is not None:
        tr = data.splits["train"]
        sub = dataclasses.replace(
            tr, X=tr.X[:n_train], y=tr.y[:n_train], indices=tr.indices[:n_train]
        )
        data = dataclasses.replace(data, splits={**data.splits, "train": sub})
    torch.manual_seed(0)
    ours_model = build_model(arch, data.input_shape, 10, **kw)
    bare_model = build_model(arch, data.input_shape, 10, **kw)
    bare_model.load_state_dict(ours_model.state_dict())
    cfg = TrainConfig(epochs=1, batch_size=bs, patience=0, seed=0)
    X = torch.as_tensor(data.splits["train"].X)
    y = torch.as_tensor(data.splits["train"].y)
    bare_opt = torch.optim.Adam(bare_model.parameters(), lr=cfg.lr)
    n = len(y)
    return Row(
        title=f"train {arch} on digits {size}x{size}, 1 epoch, batch {bs}",
        unit="epoch",
        per=n,
        variants=[
            Variant(
                "rai-audit train_model",
                lambda: train_model(ours_model, data, cfg, device="cpu", progress=False),
                "ours",
            ),
            Variant(
                "bare loop (fwd+bwd+step)",
                lambda: _bare_epoch(bare_model, X, y, bs, bare_opt),
                "bare",
            ),
        ],
        note=f"{n} train images; ours adds one validation pass of {len(data.splits['val'])}",
    )


def rows(quick: bool = False) -> list[Row]:
    return [
        training_row("lenet5", 8, None),
        training_row("resnet18", 32, 256 if quick else 512, width=16),
    ]


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    for r in rows():
        for line in r.run(repeats=3).table():
            print(line)
