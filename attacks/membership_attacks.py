"""The membership-inference attacks, each declaring its tier and what it needs.

An attack is a class with ``score(evidence) -> MembershipScores``; :data:`MEMBERSHIP_ATTACKS`
maps its name to it, in the order the audit runs them. What an attack may use is in
:class:`MembershipEvidence`: the target's outputs on the evaluated members and non-members,
optionally reference non-members (not evaluated) to calibrate on, and optionally the outputs of
shadow models trained with the target's recipe (the audit trains them once, only when a planned
attack ``needs`` them). Tiers, from the weakest assumption to the strongest:

- ``threshold``: a score of the target's output on the example (Yeom et al., 2018), possibly
  calibrated per class on reference non-members;
- ``learned``: an attack model fitted on examples of known membership (ART);
- ``label_only``: only the predicted label (ART's gap attack);
- ``shadow``: shadow models of the target's architecture and recipe (Shokri et al., 2017);
- ``lira``: the likelihood-ratio attack on the shadows' per-example statistics (Carlini et al.,
  2022).

Adding an attack is one class here (or in a file of its own, registered with
:func:`register`), one registry entry and one reference test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

import numpy as np

from rai_audit.attacks.membership import (
    confidence_scores,
    lira_scores,
    loss_scores,
    per_class_scores,
)

T = TypeVar("T")
Tier = Literal["threshold", "learned", "label_only", "shadow", "lira"]
Need = Literal["reference", "shadows"]


@dataclass(frozen=True)
class ShadowOutputs:
    """What shadow models say about the evaluated examples.

    Attributes:
        proba: ``(S, E, K)`` each shadow's probabilities on each evaluated example.
        stats: ``(S, E)`` each shadow's LiRA statistic (logit confidence) on each example.
        in_mask: ``(S, E)`` whether the example was in that shadow's training half.
        target_stat: ``(E,)`` the target's LiRA statistic on each example.
    """

    proba: np.ndarray
    stats: np.ndarray
    in_mask: np.ndarray
    target_stat: np.ndarray


@dataclass(frozen=True)
class MembershipEvidence:
    """What the attacks see: the first ``n_members`` rows of ``X`` are members.

    Attributes:
        X, y: ``(E, *input_shape)`` evaluated examples and ``(E,)`` labels.
        proba: ``(E, K)`` the target's probabilities on them.
        n_members: members come first, then non-members.
        predict_proba: the target, for attacks that query it.
        input_shape, num_classes: the target's.
        seed: seeds every attack.
        rng: the audit's generator, drawn from in registry order (so a run is reproducible).
        reference: ``(proba, y)`` of non-members that are not evaluated, or None.
        shadows: shadow-model outputs, or None.
    """

    X: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    n_members: int
    predict_proba: Callable[[np.ndarray], np.ndarray]
    input_shape: tuple[int, ...]
    num_classes: int
    seed: int
    rng: np.random.Generator
    reference: tuple[np.ndarray, np.ndarray] | None = None
    shadows: ShadowOutputs | None = None

    @property
    def member(self) -> np.ndarray:
        return np.arange(len(self.y)) < self.n_members


@dataclass(frozen=True)
class MembershipScores:
    """Scores (higher = more likely a member) and, for an attack that scores only part of the
    evaluation set, the membership of the rows it scored (None: every row, in order)."""

    scores: np.ndarray
    labels: np.ndarray | None = None


class MembershipAttack:
    """Base of the membership attacks.

    Attributes:
        name: registry name (metrics are ``privacy.<name>.<metric>``).
        title: how reports name it.
        tier: see the module docstring.
        needs: ``reference`` (non-members to calibrate on) and/or ``shadows``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    tier: ClassVar[Tier]
    needs: ClassVar[tuple[Need, ...]] = ()

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        raise NotImplementedError


def _needed(value: T | None, attack: str, need: str) -> T:
    if value is None:
        raise ValueError(f"the {attack} attack needs {need}, and the evidence has none")
    return value


#: name -> attack class, in the order the audit runs them.
MEMBERSHIP_ATTACKS: dict[str, type[MembershipAttack]] = {}


def register(cls: type[MembershipAttack]) -> type[MembershipAttack]:
    MEMBERSHIP_ATTACKS[cls.name] = cls
    return cls


@register
class LossThreshold(MembershipAttack):
    name = "loss"
    title = "loss threshold (Yeom et al., 2018)"
    tier = "threshold"

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        return MembershipScores(loss_scores(ev.proba, ev.y))


@register
class ConfidenceThreshold(MembershipAttack):
    name = "confidence"
    title = "true-class confidence threshold"
    tier = "threshold"

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        return MembershipScores(confidence_scores(ev.proba, ev.y))


@register
class PerClassLoss(MembershipAttack):
    name = "loss_per_class"
    title = "loss standardized per class on reference non-members"
    tier = "threshold"
    needs = ("reference",)

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        ref_p, ref_y = _needed(ev.reference, self.name, "reference")
        return MembershipScores(
            per_class_scores(loss_scores(ev.proba, ev.y), ev.y, loss_scores(ref_p, ref_y), ref_y)
        )


@register
class LabelOnly(MembershipAttack):
    name = "label_only"
    title = "ART label-only gap attack"
    tier = "label_only"

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        from rai_audit.attacks._art import art_label_only  # noqa: PLC0415

        s = art_label_only(ev.predict_proba, ev.input_shape, ev.num_classes, ev.X, ev.y)
        return MembershipScores(s.astype(float))


@register
class LearnedBlackBox(MembershipAttack):
    """ART's learned black-box attack: fitted on a random half of the evaluated members and the
    same positions of the non-members, scored on the other half."""

    name = "art_blackbox"
    title = "ART learned black-box attack (random forest)"
    tier = "learned"

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        from rai_audit.attacks._art import art_membership_blackbox  # noqa: PLC0415

        k = ev.n_members
        half = ev.rng.permutation(k)
        fit, infer = half[: k // 2], half[k // 2 :]
        X, y = ev.X, ev.y
        s = art_membership_blackbox(
            ev.predict_proba,
            ev.input_shape,
            ev.num_classes,
            (X[fit], y[fit], X[k + fit], y[k + fit]),
            (np.concatenate([X[infer], X[k + infer]]), np.concatenate([y[infer], y[k + infer]])),
            seed=ev.seed,
        )
        return MembershipScores(s, np.r_[np.ones(len(infer), bool), np.zeros(len(infer), bool)])


@register
class LiRAOnline(MembershipAttack):
    name = "lira_online"
    title = "LiRA, online (Carlini et al., 2022)"
    tier = "lira"
    needs = ("shadows",)

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        sh = _needed(ev.shadows, self.name, "shadows")
        return MembershipScores(lira_scores(sh.target_stat, sh.stats, sh.in_mask, online=True))


@register
class LiRAOffline(MembershipAttack):
    name = "lira_offline"
    title = "LiRA, offline (out-shadows only)"
    tier = "lira"
    needs = ("shadows",)

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        sh = _needed(ev.shadows, self.name, "shadows")
        return MembershipScores(lira_scores(sh.target_stat, sh.stats, sh.in_mask, online=False))


def shadow_features(proba: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Attack-model features of outputs: top-3 probabilities, confidence, loss, one-hot label."""
    top = -np.sort(-proba, axis=1)[:, : min(3, k)]
    return np.column_stack([top, confidence_scores(proba, y), loss_scores(proba, y), np.eye(k)[y]])


@register
class ShadowModelAttack(MembershipAttack):
    """Shokri et al. (2017): an attack classifier learned on the shadows' outputs, where each
    shadow's membership is known, applied to the target's outputs."""

    name = "shadow"
    title = "shadow-model attack classifier (Shokri et al., 2017)"
    tier = "shadow"
    needs = ("shadows",)

    def score(self, ev: MembershipEvidence) -> MembershipScores:
        from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415

        sh = _needed(ev.shadows, self.name, "shadows")
        feats = np.concatenate([shadow_features(p, ev.y, ev.num_classes) for p in sh.proba])
        clf = HistGradientBoostingClassifier(max_iter=100, random_state=ev.seed)
        clf.fit(feats, sh.in_mask.reshape(-1))
        target = shadow_features(ev.proba, ev.y, ev.num_classes)
        return MembershipScores(clf.predict_proba(target)[:, 1])
