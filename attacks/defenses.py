"""Input-transformation defenses wrapped as a model in front of the classifier.

A transformation like JPEG compression or bit-depth reduction has no useful gradient. Attacked
naively, the defended model looks robust because the attacker's gradient is zero or meaningless
(gradient masking). The adaptive attack uses BPDA (Athalye et al., 2018): the forward pass
applies the transformation, the backward pass treats it as the identity. For randomized
transformations, EOT averages gradients over several draws (``PGDConfig.eot_samples``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn


class _Transform(torch.autograd.Function):
    """Apply a numpy transformation; the backward pass is the identity (BPDA) or zero."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray], bpda: bool
    ) -> torch.Tensor:
        ctx.bpda = bpda
        out = fn(x.detach().cpu().numpy().astype(np.float32))
        return torch.as_tensor(out, dtype=x.dtype, device=x.device)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return (grad if ctx.bpda else torch.zeros_like(grad)), None, None


class TransformDefense(nn.Module):
    """``model(transform(x))`` with a chosen gradient for the transformation.

    Args:
        model: the classifier (logits).
        transform: ``(N, C, H, W)`` float32 numpy -> same shape.
        gradient: ``bpda`` (identity: the adaptive attack) or ``none`` (zero: what a naive
            attacker who differentiates the real pipeline gets).
    """

    def __init__(
        self,
        model: nn.Module,
        transform: Callable[[np.ndarray], np.ndarray],
        gradient: Literal["bpda", "none"] = "bpda",
        name: str = "defense",
    ) -> None:
        super().__init__()
        self.model = model
        self.transform = transform
        self.gradient = gradient
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_Transform.apply(x, self.transform, self.gradient == "bpda"))
