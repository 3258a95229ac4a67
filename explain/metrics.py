"""How far an explanation can be trusted: faithfulness, sanity, stability, spurious features.

- Deletion and insertion curves (Petsiuk et al., 2018): remove (or add) the most-attributed
  features first and track the target-class probability; compare with a random order on the
  same inputs. A faithful explanation makes the deletion curve fall faster and the insertion
  curve rise faster than random.
- Cascading model-parameter randomization (Adebayo et al., 2018): re-initialize layers from the
  output backwards and measure the rank correlation between explanations of the trained and the
  randomized model. An explanation that barely changes does not depend on what the model learned.
- Stability: rank correlation of explanations under small input noise and across seeds.
- Marker share: the share of attribution mass inside a known spurious region.

Features of images are pixels: the attribution of a pixel is summed over channels and a removed
pixel is replaced in every channel.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from models.errors import InvalidDataError


def feature_scores(attributions: np.ndarray) -> np.ndarray:
    """Per-feature score ``(N, F)``: pixels (summed over channels) for images, columns else."""
    if attributions.ndim == 4:
        return attributions.sum(axis=1).reshape(len(attributions), -1)
    return attributions.reshape(len(attributions), -1)


def _apply_mask(X: np.ndarray, base: np.ndarray, keep_x: np.ndarray) -> np.ndarray:
    """Inputs where features with ``keep_x`` True take ``X`` and the others ``base``."""
    if X.ndim == 4:
        mask: np.ndarray = keep_x.reshape(len(X), 1, X.shape[2], X.shape[3])
    else:
        mask = keep_x.reshape(X.shape)
    return np.where(mask, X, base).astype(np.float32)


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion curves ``(N, steps + 1)`` over the removed/added fraction."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> float:
        return float(np.trapezoid(self.deletion.mean(axis=0), self.fractions))

    @property
    def insertion_auc(self) -> float:
        return float(np.trapezoid(self.insertion.mean(axis=0), self.fractions))


def deletion_insertion(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    scores: np.ndarray,
    targets: np.ndarray,
    baseline: np.ndarray,
    *,
    steps: int = 16,
) -> Curves:
    """Deletion and insertion curves for feature rankings ``scores`` ``(N, F)`` (high = first).

    Args:
        predict_proba: the model, inputs to probabilities.
        X: inputs ``(N, *shape)``.
        scores: per-feature importance, e.g. :func:`feature_scores` of attributions, or random.
        targets: class whose probability is tracked ``(N,)``.
        baseline: what a removed feature becomes, shaped like ``X``.
        steps: curve points after the start (fractions ``0, 1/steps, ..., 1``).

    Returns:
        The curves; ``deletion[:, 0]`` is the probability on the intact input.
    """
    if scores.shape[0] != len(X):
        raise InvalidDataError(f"{scores.shape[0]} score rows for {len(X)} inputs")
    n, f = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(n)[:, None], order] = np.arange(f)[None, :]
    counts = np.round(np.linspace(0, f, steps + 1)).astype(int)
    deleted, inserted = [], []
    for k in counts:
        top = ranks < k  # (N, F): the k most important features
        deleted.append(_apply_mask(X, baseline, ~top))
        inserted.append(_apply_mask(X, baseline, top))
    batch = np.concatenate(deleted + inserted)
    proba = predict_proba(batch)
    idx = np.tile(targets, 2 * len(counts))
    p = proba[np.arange(len(batch)), idx].reshape(2, len(counts), n)
    return Curves(counts / f, p[0].T, p[1].T)


def random_scores(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def rowwise_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b``.

    A row that is constant in either array has no ranking; it gets 0 (no agreement), which is
    what a sanity check should count: an explanation that collapsed to a constant has changed.
    """
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    out = np.zeros(len(a))
    ok = denom > 0
    out[ok] = (ra[ok] * rb[ok]).sum(axis=1) / denom[ok]
    return out


def parameterized_layers(module: nn.Module) -> list[str]:
    """Names of modules that own weights, in definition order (input to output)."""
    return [
        name
        for name, m in module.named_modules()
        if name and any(True for _ in m.parameters(recurse=False))
    ]


def _reinit(m: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for p in m.parameters(recurse=False):
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def cascading_randomization(
    module: nn.Module,
    explain: Callable[[nn.Module], np.ndarray],
    *,
    seed: int = 0,
    max_layers: int | None = None,
) -> list[tuple[str, float]]:
    """Adebayo et al.'s cascading randomization on a copy of ``module``.

    Args:
        module: the trained model (never modified: a deep copy is randomized).
        explain: maps a model to attributions ``(N, ...)`` for fixed inputs and targets.
        seed: seed of the re-initialization.
        max_layers: randomize at most this many layers from the top (all by default).

    Returns:
        ``(layer name, mean Spearman correlation of |attributions| with the trained model's)``
        after randomizing that layer and every layer above it, from the top down.
    """
    original = np.abs(explain(module))
    layers = parameterized_layers(module)[::-1]
    if max_layers is not None:
        layers = layers[:max_layers]
    clone = copy.deepcopy(module)
    named = dict(clone.named_modules())
    gen = torch.Generator().manual_seed(seed)
    out = []
    for name in layers:
        _reinit(named[name], gen)
        randomized = np.abs(explain(clone))
        out.append((name, float(rowwise_spearman(original, randomized).mean())))
    return out


def marker_share(attributions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of absolute attribution inside ``mask`` ``(H, W)`` per input ``(N,)`` (0 if none)."""
    a = np.abs(attributions).sum(axis=1) if attributions.ndim == 4 else np.abs(attributions)
    a = a.reshape(len(a), -1)
    m = np.asarray(mask, dtype=bool).reshape(-1)
    total = a.sum(axis=1)
    inside = a[:, m].sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)
