"""Membership inference: attack scores and the metrics the literature asks for.

Every attack maps an example to a *membership score* (higher = more likely a member of the
training set). Scores are judged on a balanced evaluation set of members and non-members with
the ROC curve, and above all with the true-positive rate at a low false-positive rate (Carlini et
al., 2022): an attack that is right about a few members with near certainty is a real privacy
risk even when its AUC is close to 0.5.

- Loss and confidence thresholds (Yeom et al., 2018): score = -loss, or the true-class
  probability; the per-class variant standardizes scores with each class's statistics on
  reference non-members (Watson et al., 2022 call this calibration).
- LiRA (Carlini et al., 2022): per-example Gaussians of the logit-scaled true-class confidence
  under shadow models trained with (IN) and without (OUT) the example; the online score is the
  likelihood ratio, the offline score uses the OUT Gaussian only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from rai_audit.models.errors import InvalidDataError


def true_class_probability(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    return proba[np.arange(len(y)), y]


def loss_scores(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative cross-entropy of the true class (Yeom et al.): members have lower loss."""
    return np.log(np.clip(true_class_probability(proba, y), 1e-12, 1.0))


def confidence_scores(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True-class probability."""
    return true_class_probability(proba, y)


def per_class_scores(
    scores: np.ndarray, y: np.ndarray, ref_scores: np.ndarray, ref_y: np.ndarray
) -> np.ndarray:
    """Scores standardized with each class's mean and spread on reference non-members."""
    out = np.empty_like(scores, dtype=np.float64)
    for c in np.unique(y):
        ref = ref_scores[ref_y == c]
        if len(ref) < 2:
            ref = ref_scores
        mu, sd = ref.mean(), max(ref.std(), 1e-12)
        out[y == c] = (scores[y == c] - mu) / sd
    return out


def logit_confidence(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LiRA's statistic ``log(p_y / (1 - p_y))``, computed exactly from logits (or
    log-probabilities) as ``z_y - logsumexp(z_j, j != y)``: no overflow when p_y rounds to 1."""
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(y))
    zy = z[rows, y]
    others = z.copy()
    others[rows, y] = -np.inf
    m = others.max(axis=1)
    lse = m + np.log(np.exp(others - m[:, None]).sum(axis=1))
    return zy - lse


def lira_scores(
    target_stat: np.ndarray,
    shadow_stats: np.ndarray,
    in_mask: np.ndarray,
    *,
    online: bool = True,
    min_var: float = 1e-2,
) -> np.ndarray:
    """LiRA scores from shadow-model statistics.

    Args:
        target_stat: ``(E,)`` logit-scaled confidence of each example under the target model.
        shadow_stats: ``(S, E)`` the same statistic under each shadow model.
        in_mask: ``(S, E)`` True where the shadow model was trained on the example.
        online: likelihood ratio of IN and OUT Gaussians (else the OUT Gaussian only).
        min_var: floor of the per-example variances (few shadows give unstable variances;
            Carlini et al. use a global variance, which this floor approximates).

    Returns:
        ``(E,)`` scores, higher = more likely a member.
    """
    if shadow_stats.shape != in_mask.shape or shadow_stats.shape[1] != len(target_stat):
        raise InvalidDataError("shadow statistics and masks must be (shadows, examples)")
    out_mask = ~in_mask
    if (out_mask.sum(0) == 0).any() or (online and (in_mask.sum(0) == 0).any()):
        raise InvalidDataError(
            "some examples have no IN or no OUT shadow model; train more shadow models"
        )

    def gauss(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cnt = mask.sum(0)
        mu = (shadow_stats * mask).sum(0) / cnt
        var = ((shadow_stats - mu) ** 2 * mask).sum(0) / np.maximum(cnt - 1, 1)
        # pool with the global variance so a handful of shadows gives a usable spread
        var = np.maximum(0.5 * var + 0.5 * np.median(var), min_var)
        return mu, np.sqrt(var)

    mu_out, sd_out = gauss(out_mask)
    if not online:
        return norm.logcdf(target_stat, mu_out, sd_out)
    mu_in, sd_in = gauss(in_mask)
    return norm.logpdf(target_stat, mu_in, sd_in) - norm.logpdf(target_stat, mu_out, sd_out)


@dataclass(frozen=True)
class AttackMetrics:
    """How well scores separate members from non-members."""

    auc: float
    balanced_accuracy: float
    advantage: float
    tpr_at_fpr: dict[float, float | None]
    min_resolvable_fpr: float
    fpr: np.ndarray
    tpr: np.ndarray
    n_members: int
    n_nonmembers: int


def evaluate_scores(
    scores: np.ndarray, is_member: np.ndarray, fprs: tuple[float, ...] = (0.01, 0.001)
) -> AttackMetrics:
    """ROC metrics of membership scores.

    TPR at FPR f is the highest TPR over thresholds whose FPR is at most f. It is None when f is
    below ``1 / n_nonmembers``, the smallest FPR the evaluation can resolve (0.1 % needs at least
    1,000 non-members): no threshold can say anything about so rare a false positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    n_in, n_out = int(is_member.sum()), int((~is_member).sum())
    if n_in == 0 or n_out == 0:
        raise InvalidDataError("membership evaluation needs both members and non-members")
    if not np.isfinite(scores).all():
        raise InvalidDataError("membership scores contain NaN or infinite values")
    fpr, tpr, _ = roc_curve(is_member, scores)
    auc = float(roc_auc_score(is_member, scores))
    advantage = float(np.max(tpr - fpr))
    min_fpr = 1.0 / n_out
    at = {}
    for f in fprs:
        at[f] = float(tpr[fpr <= f + 1e-12].max()) if f >= min_fpr - 1e-12 else None
    return AttackMetrics(
        auc=auc,
        balanced_accuracy=0.5 * (1 + advantage),
        advantage=advantage,
        tpr_at_fpr=at,
        min_resolvable_fpr=min_fpr,
        fpr=fpr,
        tpr=tpr,
        n_members=n_in,
        n_nonmembers=n_out,
    )


def balanced_indices(
    n_members: int, n_nonmembers: int, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Equal-size seeded samples of members and non-members (at most ``size`` each)."""
    k = min(size, n_members, n_nonmembers)
    return (
        np.sort(rng.choice(n_members, k, replace=False)),
        np.sort(rng.choice(n_nonmembers, k, replace=False)),
    )
