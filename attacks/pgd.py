"""FGSM (Goodfellow et al., 2015) and PGD (Madry et al., 2018), native PyTorch.

Inputs live in the model's input space (pixel space ``[0, 1]`` for images; the standardized
feature space for tabular rows) and stay inside the per-feature ``[low, high]`` domain; the
perturbation stays inside the ``eps`` ball of the chosen norm. Gradients flow to the inputs only
(parameters are frozen for the duration), so one PGD step costs one forward and one backward pass
to the input: the bare limit.

Argument names follow adversarial-robustness-toolbox: ``eps``, ``eps_step``, ``max_iter``,
``norm``, ``targeted``, ``num_random_init``. ART's ``ProjectedGradientDescentPyTorch`` is the
reference the tests compare robust accuracies with.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from rai_audit.models.options import EPS, Bool, Choice, Int, Real, option, validate_fields

Norm = Literal["inf", "2"]
Loss = Literal["ce", "margin"]


@dataclass(frozen=True, kw_only=True)
class PGDConfig:
    """One attack's settings (ART's names).

    Attributes:
        eps: radius of the perturbation ball, in input units (pixels: 8/255 ~= 0.031).
        eps_step: step size (FGSM: ``eps``).
        max_iter: steps (FGSM: 1).
        norm: ``inf`` or ``2``.
        targeted: move towards ``y`` instead of away from it.
        num_random_init: restarts from uniform random points in the ball (0: start at ``x``).
        loss: ``ce`` (cross-entropy) or ``margin`` (Carlini-Wagner: best other logit minus the
            true logit), which does not saturate on over-confident (e.g. distilled) models.
        eot_samples: gradients averaged over this many forward passes (expectation over
            transformation, for randomized models and defenses).
    """

    eps: float = option(MISSING, EPS)
    eps_step: float = option(MISSING, Real(0.0, lo_open=True))
    max_iter: int = option(10, Int(1))
    norm: Norm = option("inf", Choice(("inf", "2")))
    targeted: bool = option(False, Bool())
    num_random_init: int = option(0, Int(0))
    loss: Loss = option("ce", Choice(("ce", "margin")))
    eot_samples: int = option(1, Int(1))

    def __post_init__(self) -> None:
        validate_fields(self, "attack 'pgd'")

    @classmethod
    def madry(cls, eps: float, max_iter: int, **options: Any) -> PGDConfig:
        """PGD with Madry et al.'s step rule, ``eps_step = 2.5 * eps / max_iter`` (every PGD the
        suite runs uses it: the audit, adversarial training, the adaptive defense attacks)."""
        return cls(eps=eps, eps_step=madry_step(eps, max_iter), max_iter=max_iter, **options)


def madry_step(eps: float, max_iter: int) -> float:
    """Madry et al.'s (2018) PGD step size: 2.5 eps / steps, so the walk can cross the ball."""
    return 2.5 * float(eps) / max(int(max_iter), 1)


def fgsm_config(eps: float, *, norm: Norm = "inf", loss: Loss = "ce") -> PGDConfig:
    """FGSM: one step of size ``eps`` from ``x``."""
    return PGDConfig(eps=eps, eps_step=max(eps, 1e-12), max_iter=1, norm=norm, loss=loss)


def _loss(logits: torch.Tensor, y: torch.Tensor, kind: Loss) -> torch.Tensor:
    """Per-example loss the attacker ascends (untargeted)."""
    if kind == "ce":
        return F.cross_entropy(logits.float(), y, reduction="none")
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    return other - true


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.ndim - 1)))


def _random_start(x: torch.Tensor, cfg: PGDConfig, gen: torch.Generator) -> torch.Tensor:
    if cfg.norm == "inf":
        noise = (torch.rand(x.shape, generator=gen) * 2 - 1).to(x.device) * cfg.eps
    else:  # uniform in the L2 ball
        d = x[0].numel()
        direction = torch.randn(x.shape, generator=gen).to(x.device)
        direction = direction / _flat_norm(direction)
        radius = torch.rand(len(x), generator=gen).to(x.device) ** (1.0 / d) * cfg.eps
        noise = direction * radius.view(-1, *([1] * (x.ndim - 1)))
    return x + noise


def _project(
    x_adv: torch.Tensor, x: torch.Tensor, cfg: PGDConfig, low: torch.Tensor, high: torch.Tensor
) -> torch.Tensor:
    delta = x_adv - x
    if cfg.norm == "inf":
        delta = delta.clamp(-cfg.eps, cfg.eps)
    else:
        delta = delta * torch.clamp(cfg.eps / _flat_norm(delta), max=1.0)
    return torch.max(torch.min(x + delta, high), low)


def input_gradient(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: Loss = "ce", eot_samples: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the per-example loss w.r.t. ``x`` (averaged over ``eot_samples`` passes) and
    the logits of the last pass."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    (total,) = torch.autograd.grad(_loss(logits, y, loss).sum(), x)
    for _ in range(eot_samples - 1):
        logits = model(x)
        (g,) = torch.autograd.grad(_loss(logits, y, loss).sum(), x)
        total = total + g
    return total / eot_samples, logits.detach()


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: PGDConfig,
    *,
    low: torch.Tensor | float = 0.0,
    high: torch.Tensor | float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """Adversarial examples by projected gradient descent (FGSM when ``max_iter == 1``).

    Args:
        model: classifier returning logits, in eval mode; its parameters should not require
            gradients (see :func:`models.training.frozen_eval`), or their gradients are
            computed for nothing.
        x: clean inputs ``(N, ...)`` inside ``[low, high]``.
        y: true labels (untargeted) or target labels (targeted), ``(N,)``.
        cfg: the attack.
        low, high: the input domain, scalars or tensors broadcastable to one input.
        generator: seeds the random starts (same seed, same result).
        batch_size: inputs per forward/backward pass.

    Returns:
        ``x_adv`` with ``|x_adv - x| <= eps`` in the chosen norm and ``low <= x_adv <= high``.
        With restarts, per example the most successful start is kept (misclassified, else the
        highest loss).
    """
    gen = generator or torch.Generator().manual_seed(0)
    low_t = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high_t = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    sign = -1.0 if cfg.targeted else 1.0
    out = []
    for s in range(0, len(x), batch_size):
        xb, yb = x[s : s + batch_size].detach(), y[s : s + batch_size]
        best = xb
        best_score = None
        for restart in range(max(1, cfg.num_random_init)):
            adv = _random_start(xb, cfg, gen) if cfg.num_random_init else xb.clone()
            adv = torch.max(torch.min(adv, high_t), low_t)
            for _ in range(cfg.max_iter):
                grad, _ = input_gradient(model, adv, yb, loss=cfg.loss, eot_samples=cfg.eot_samples)
                if cfg.targeted:
                    grad = -grad
                if cfg.norm == "inf":
                    step = cfg.eps_step * grad.sign()
                else:
                    step = cfg.eps_step * grad / _flat_norm(grad)
                adv = _project(adv.detach() + step, xb, cfg, low_t, high_t)
            if cfg.num_random_init <= 1:  # one start: nothing to choose between
                best = adv
                break
            with torch.no_grad():
                logits = model(adv)
                loss = sign * _loss(logits, yb, cfg.loss)
                hit = logits.argmax(1) == yb if cfg.targeted else logits.argmax(1) != yb
                score = loss + hit.float() * 1e6  # success first, then loss
            if best_score is None:
                best, best_score = adv.clone(), score
                continue
            better = score > best_score
            best[better] = adv[better]
            best_score = torch.where(better, score, best_score)
            if restart and bool(hit.all()):
                break
        out.append(best.detach())
    return torch.cat(out) if out else x.clone()
