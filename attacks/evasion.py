"""The evasion attacks the robustness audit runs, each declaring what it is.

An attack is a class with ``perturb(module, x, y, budget) -> EvasionOutcome``: adversarial
examples inside the ``eps`` ball and the input domain, and which examples the model still
classifies correctly on them (the attack's own record, so a per-example worst case over several
attacks is a logical AND). :data:`EVASION_ATTACKS` maps a name to the class. Attributes:

- ``threat``: ``white-box`` (needs input gradients) or ``black-box`` (queries outputs only);
- ``iterative``: a white-box attack that takes many steps (PGD) or one (FGSM);
- ``data_kinds`` and ``norms`` it supports.

The robustness audit plans its attacks from these (:func:`plan_attacks`): the first white-box
iterative attack that applies is the headline attack (its epsilon curve and the masking checks'
variants), the first single-step one and the first black-box one are the masking checks'
references, and every other attack that applies runs once at the audited epsilon.

Adding an attack is one class (here or in its own file, registered with :func:`register`), one
registry entry, and one reference test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from rai_audit.attacks.pgd import Loss, Norm, PGDConfig, fgsm_config, pgd
from rai_audit.models.device import module_device

Threat = Literal["white-box", "black-box"]


@dataclass(frozen=True, kw_only=True)
class AttackBudget:
    """One attack run's settings.

    Attributes:
        eps: radius of the ball, in input units.
        norm: ``inf`` or ``2``.
        low, high: the input domain, broadcastable to one input.
        seed: seeds the attack (same seed, same examples).
        max_iter: steps of an iterative attack.
        num_random_init: random restarts of PGD.
        loss: ``ce`` or ``margin``.
        queries: iterations of a black-box attack.
        batch_size: inputs per pass.
        num_classes: the model's classes (black-box attacks).
    """

    eps: float
    norm: Norm
    low: torch.Tensor
    high: torch.Tensor
    seed: int
    max_iter: int = 10
    num_random_init: int = 0
    loss: Loss = "ce"
    queries: int = 100
    batch_size: int = 64
    num_classes: int = 2


@dataclass(frozen=True)
class EvasionOutcome:
    """Adversarial examples, ``robust[i]`` (example i is still classified correctly), and the
    accuracy the attack computed from them."""

    adv: torch.Tensor
    robust: np.ndarray
    accuracy: float


class EvasionAttack:
    """Base of the evasion attacks (see the module docstring)."""

    name: ClassVar[str]
    title: ClassVar[str]
    threat: ClassVar[Threat]
    iterative: ClassVar[bool] = True
    data_kinds: ClassVar[tuple[str, ...]] = ("image", "tabular")
    norms: ClassVar[tuple[str, ...]] = ("inf", "2")

    def perturb(
        self, module: nn.Module, x: torch.Tensor, y: torch.Tensor, b: AttackBudget
    ) -> EvasionOutcome:
        raise NotImplementedError

    @classmethod
    def applies(cls, kind: str, norm: str) -> bool:
        return kind in cls.data_kinds and norm in cls.norms


#: name -> attack class.
EVASION_ATTACKS: dict[str, type[EvasionAttack]] = {}


def register(cls: type[EvasionAttack]) -> type[EvasionAttack]:
    EVASION_ATTACKS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class AttackPlan:
    """The attacks a robustness audit runs on one kind of data and norm, by role."""

    iterative: type[EvasionAttack]
    single_step: type[EvasionAttack]
    black_box: type[EvasionAttack] | None
    others: tuple[type[EvasionAttack], ...] = ()


def plan_attacks(kind: str, norm: str) -> AttackPlan:
    """The registered attacks that apply to ``kind`` and ``norm``, by role (read at call time,
    so an attack registered after import is planned).

    Raises:
        ValueError: no white-box iterative or single-step attack applies.
    """
    applicable = [c for c in EVASION_ATTACKS.values() if c.applies(kind, norm)]

    def first(threat: Threat, iterative: bool | None = None) -> type[EvasionAttack] | None:
        return next(
            (
                c
                for c in applicable
                if c.threat == threat and (iterative is None or c.iterative == iterative)
            ),
            None,
        )

    iterative, single = first("white-box", True), first("white-box", False)
    if iterative is None or single is None:
        raise ValueError(
            f"no registered white-box {'iterative' if iterative is None else 'single-step'} "
            f"attack supports {kind} data with the L{norm} norm; the attacks are "
            f"{', '.join(EVASION_ATTACKS)}"
        )
    black = first("black-box")
    others = tuple(c for c in applicable if c not in (iterative, single, black))
    return AttackPlan(iterative, single, black, others)


def _outcome(module: nn.Module, adv: torch.Tensor, y: torch.Tensor) -> EvasionOutcome:
    with torch.no_grad():
        hit = module(adv).argmax(1) == y
    return EvasionOutcome(adv, hit.cpu().numpy(), float(hit.float().mean()))


@register
class PGD(EvasionAttack):
    """PGD (Madry et al., 2018), step ``2.5 eps / max_iter``, with restarts and either loss."""

    name = "pgd"
    title = "PGD"
    threat = "white-box"

    def config(self, b: AttackBudget) -> PGDConfig:
        return PGDConfig.madry(
            b.eps, b.max_iter, norm=b.norm, num_random_init=b.num_random_init, loss=b.loss
        )

    def perturb(
        self, module: nn.Module, x: torch.Tensor, y: torch.Tensor, b: AttackBudget
    ) -> EvasionOutcome:
        gen = torch.Generator().manual_seed(b.seed)
        adv = pgd(
            module,
            x,
            y,
            self.config(b),
            low=b.low,
            high=b.high,
            generator=gen,
            batch_size=b.batch_size,
        )
        return _outcome(module, adv, y)


@register
class FGSM(PGD):
    """FGSM (Goodfellow et al., 2015): one step of size ``eps``."""

    name = "fgsm"
    title = "FGSM"
    iterative = False

    def config(self, b: AttackBudget) -> PGDConfig:
        return fgsm_config(b.eps, norm=b.norm, loss=b.loss)


@register
class Square(EvasionAttack):
    """ART's Square attack (Andriushchenko et al., 2020): outputs only, no gradients."""

    name = "square"
    title = "Square attack"
    threat = "black-box"
    data_kinds = ("image",)

    def perturb(
        self, module: nn.Module, x: torch.Tensor, y: torch.Tensor, b: AttackBudget
    ) -> EvasionOutcome:
        from rai_audit.attacks._art import art_square  # noqa: PLC0415

        y_np = y.cpu().numpy()
        adv_np = art_square(
            module,
            x.cpu().numpy(),
            y_np,
            eps=b.eps,
            norm=b.norm,
            max_iter=b.queries,
            low=float(b.low.min()),
            high=float(b.high.max()),
            num_classes=b.num_classes,
            seed=b.seed,
        )
        adv = torch.as_tensor(adv_np, device=module_device(module))
        with torch.no_grad():
            pred = module(adv).argmax(1).cpu().numpy()
        return EvasionOutcome(adv, pred == y_np, float((pred == y_np).mean()))


@register
class CornerSearch(EvasionAttack):
    """Gradient-free search for tabular rows: ``queries`` random corners of the eps box
    (L-inf) or points on the eps sphere (L2), clipped to the domain; an example counts as broken
    if any candidate fools the model, and its first such candidate is kept."""

    name = "corner_search"
    title = "random search"
    threat = "black-box"
    data_kinds = ("tabular",)

    def perturb(
        self, module: nn.Module, x: torch.Tensor, y: torch.Tensor, b: AttackBudget
    ) -> EvasionOutcome:
        rng = np.random.default_rng(b.seed)
        X = x.cpu().numpy()
        y_np = y.cpu().numpy()
        low = b.low.cpu().numpy().reshape(1, -1)
        high = b.high.cpu().numpy().reshape(1, -1)
        fooled = np.zeros(len(y_np), dtype=bool)
        adv = X.copy()
        dev = module_device(module)
        with torch.no_grad():
            for _ in range(b.queries):
                if b.norm == "inf":
                    d = rng.choice([-b.eps, b.eps], size=X.shape)
                else:
                    d = rng.normal(size=X.shape)
                    d *= b.eps / np.linalg.norm(d, axis=1, keepdims=True)
                cand = np.clip(X + d, low, high).astype(np.float32)
                hit = module(torch.as_tensor(cand, device=dev)).argmax(1).cpu().numpy() != y_np
                new = hit & ~fooled
                adv[new] = cand[new]
                fooled |= hit
        return EvasionOutcome(torch.as_tensor(adv, device=dev), ~fooled, float(1.0 - fooled.mean()))
