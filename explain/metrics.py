"""How far an explanation can be trusted: faithfulness, sanity, stability, spurious features.

- Deletion and insertion curves (Petsiuk et al., 2018): remove (or add) the most-attributed
  features first and track the target-class probability; compare with a random order on the
  same inputs. A faithful explanation makes the deletion curve fall faster and the insertion
  curve rise faster than random.
- Model-parameter randomization (Adebayo et al., 2018), measured against a null: compare the
  trained model's explanation with each of several randomized models', and every pair of the
  randomized models' explanations with each other (:func:`model_randomization`). Features whose
  attribution is exactly 0 in every explanation compared (black pixels, zero one-hot columns
  under a zero baseline) carry no ranking and are left out; they used to fix the rank
  correlation near 1 whatever the weights. The cascading (from the top) and independent
  (one layer at a time) variants give the per-layer curves.
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

from rai_audit.models.errors import InvalidDataError


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


def masked_spearman(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``a`` with the same row of ``b`` over the features
    ``keep`` marks ``(N, F)``. A row with fewer than 3 kept features, or constant over them, has
    no ranking to compare and gets NaN (the caller leaves it out)."""
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    keep = keep.reshape(len(keep), -1)
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        k = keep[i]
        if k.sum() < 3:
            continue
        ra, rb = rankdata(a[i, k]), rankdata(b[i, k])
        ra -= ra.mean()
        rb -= rb.mean()
        denom = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
        if denom > 0:
            out[i] = float((ra * rb).sum() / denom)
    return out


def not_tied_at_zero(*attributions: np.ndarray) -> np.ndarray:
    """``(N, F)``: features whose score is nonzero in at least one of the explanations.
    A feature at exactly 0 in all of them (typically an input at the baseline, which any
    attribution that multiplies by ``x - baseline`` sends to 0) is a tie under every weight."""
    scores = [np.abs(feature_scores(a)) for a in attributions]
    return np.logical_or.reduce([s > 0 for s in scores])


def ssim(a: np.ndarray, b: np.ndarray, *, win_size: int | None = None) -> np.ndarray:
    """Structural similarity (Wang et al., 2004) of each pair of maps ``(N, H, W)``, each
    scaled to [0, 1] by its own maximum (|attribution| maps), as scikit-image's
    ``structural_similarity(data_range=1)`` computes it: a uniform ``win_size`` window (7, or 3
    on maps under 14 pixels a side), sample covariances, K1 = 0.01, K2 = 0.03, the mean over the
    window centres that fit."""
    from scipy.ndimage import uniform_filter  # noqa: PLC0415

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h, w = a.shape[-2:]
    win = win_size or (7 if min(h, w) >= 14 else 3)
    out = np.empty(len(a))
    c1, c2 = 0.01**2, 0.03**2
    npix = win * win
    cov_norm = npix / (npix - 1)
    pad = (win - 1) // 2
    for i in range(len(a)):
        x = _unit(a[i])
        y = _unit(b[i])
        ux, uy = uniform_filter(x, win), uniform_filter(y, win)
        uxx, uyy, uxy = (
            uniform_filter(x * x, win),
            uniform_filter(y * y, win),
            uniform_filter(x * y, win),
        )
        vx, vy, vxy = (
            cov_norm * (uxx - ux * ux),
            cov_norm * (uyy - uy * uy),
            cov_norm * (uxy - ux * uy),
        )
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        out[i] = float(s[pad : h - pad, pad : w - pad].mean())
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    top = float(np.abs(x).max())
    return np.abs(x) / top if top > 0 else np.zeros_like(x)


def _maps(attributions: np.ndarray) -> np.ndarray:
    """|attribution| per pixel ``(N, H, W)`` of image attributions ``(N, C, H, W)``."""
    return np.abs(attributions).sum(axis=1)


@dataclass(frozen=True)
class Randomization:
    """The model-randomization test of one explanation method on fixed inputs, against a null
    made of several independently randomized networks.

    With ``R`` fully re-initialized copies of the model and ``N`` inputs (features tied at zero
    in every explanation left out; NaN where an input has no ranking left):

    - ``trained_vs_random`` ``(R, N)``: Spearman correlation of |attributions| of the trained
      model and of randomized copy ``r``;
    - ``random_vs_random`` ``(P, N)``: the same between randomized copies ``pairs[p]`` (the
      null: what the input alone makes any two explanations share), ``P = R(R-1)/2``;
    - ``signed_trained_vs_random`` ``(R, N)``: as the first, on signed attributions;
    - ``ssim_trained_vs_random`` ``(R, N)`` / ``ssim_random_vs_random`` ``(P, N)``: SSIM of
      |attribution| maps (images only, else None);
    - ``kept_share``: mean share of features left after removing ties.

    ``cascading``: (layer, mean tie-free |rank| correlation) after randomizing that layer and all
    above it, from the top; ``independent``: after randomizing that layer alone.
    """

    trained_vs_random: np.ndarray
    random_vs_random: np.ndarray
    pairs: tuple[tuple[int, int], ...]
    signed_trained_vs_random: np.ndarray
    ssim_trained_vs_random: np.ndarray | None
    ssim_random_vs_random: np.ndarray | None
    kept_share: float
    cascading: list[tuple[str, float]]
    independent: list[tuple[str, float]]

    def excess(self) -> np.ndarray:
        """``(R, N')``: per randomized copy ``r`` and input, how much more the trained
        explanation resembles copy ``r`` than copy ``r`` resembles the other copies on average,
        ``trained_vs_random[r] - mean_{s != r} random_vs_random[r, s]``. Its grand mean is the
        trained-vs-random correlation minus the null's. Below 0: the explanation changes with
        the weights beyond what the input explains. Inputs with no ranking are dropped."""
        return _excess(self.trained_vs_random, self.random_vs_random, self.pairs)

    def ssim_excess(self) -> np.ndarray | None:
        """As :meth:`excess`, on SSIM (images), or None."""
        if self.ssim_trained_vs_random is None or self.ssim_random_vs_random is None:
            return None
        return _excess(self.ssim_trained_vs_random, self.ssim_random_vs_random, self.pairs)


def _excess(
    trained: np.ndarray, null: np.ndarray, pairs: tuple[tuple[int, int], ...]
) -> np.ndarray:
    r = len(trained)
    others = np.zeros_like(trained)
    for p, (i, j) in enumerate(pairs):
        others[i] += null[p]
        others[j] += null[p]
    d = trained - others / (r - 1)
    return d[:, np.isfinite(d).all(axis=0)]


def _copy(module: nn.Module) -> nn.Module:
    """A deep copy whose parameters are leaves: copying a TorchScript module while autograd
    records clones its parameters into non-leaf tensors, whose flags cannot be set."""
    with torch.no_grad():
        return copy.deepcopy(module)


def _randomized(module: nn.Module, layers: list[str], gen: torch.Generator) -> nn.Module:
    clone = _copy(module)
    named = dict(clone.named_modules())
    for name in layers:
        _reinit(named[name], gen)
    return clone


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")


def model_randomization(
    module: nn.Module,
    explain: Callable[[nn.Module], np.ndarray],
    *,
    seed: int = 0,
    randomizations: int = 3,
    max_layers: int | None = None,
    curves: bool = True,
) -> Randomization:
    """Adebayo et al.'s model-randomization test on copies of ``module``, against a null of
    ``randomizations`` independently re-initialized copies (every pair of them compared).

    Args:
        module: the trained model (never modified: deep copies are randomized).
        explain: maps a model to attributions ``(N, ...)`` for fixed inputs and targets.
        seed: seed of the re-initializations (the full ones, and the per-layer ones).
        randomizations: fully re-initialized copies, at least 3 (3 pairs in the null).
        max_layers: per-layer curves cover at most this many layers from the top.
        curves: also compute the cascading and independent per-layer curves.
    """
    if randomizations < 3:
        raise InvalidDataError(
            f"the randomization test needs at least 3 randomized copies (3 pairs in the null), "
            f"got {randomizations}"
        )
    trained = explain(module)
    layers = parameterized_layers(module)
    rand = [
        explain(_randomized(module, layers, torch.Generator().manual_seed(seed + 1 + r)))
        for r in range(randomizations)
    ]
    keep = not_tied_at_zero(trained, *rand)
    f_t = feature_scores(trained)
    f_r = [feature_scores(a) for a in rand]
    pairs = tuple((i, j) for i in range(randomizations) for j in range(i + 1, randomizations))
    image = trained.ndim == 4
    cascading: list[tuple[str, float]] = []
    independent: list[tuple[str, float]] = []
    if curves:
        top = layers[::-1][: max_layers or None]
        gen = torch.Generator().manual_seed(seed)
        clone = _copy(module)
        named = dict(clone.named_modules())
        for name in top:
            _reinit(named[name], gen)
            a = explain(clone)
            k = not_tied_at_zero(trained, a)
            cascading.append(
                (name, _mean(masked_spearman(np.abs(f_t), np.abs(feature_scores(a)), k)))
            )
        for name in top:
            a = explain(_randomized(module, [name], torch.Generator().manual_seed(seed + 1000)))
            k = not_tied_at_zero(trained, a)
            independent.append(
                (name, _mean(masked_spearman(np.abs(f_t), np.abs(feature_scores(a)), k)))
            )
    maps = [_maps(a) for a in rand] if image else []
    return Randomization(
        trained_vs_random=np.stack([masked_spearman(np.abs(f_t), np.abs(f), keep) for f in f_r]),
        random_vs_random=np.stack(
            [masked_spearman(np.abs(f_r[i]), np.abs(f_r[j]), keep) for i, j in pairs]
        ),
        pairs=pairs,
        signed_trained_vs_random=np.stack([masked_spearman(f_t, f, keep) for f in f_r]),
        ssim_trained_vs_random=np.stack([ssim(_maps(trained), m) for m in maps]) if image else None,
        ssim_random_vs_random=np.stack([ssim(maps[i], maps[j]) for i, j in pairs])
        if image
        else None,
        kept_share=float(keep.mean()),
        cascading=cascading,
        independent=independent,
    )


def marker_share(attributions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of absolute attribution inside ``mask`` ``(H, W)`` per input ``(N,)`` (0 if none)."""
    a = np.abs(attributions).sum(axis=1) if attributions.ndim == 4 else np.abs(attributions)
    a = a.reshape(len(a), -1)
    m = np.asarray(mask, dtype=bool).reshape(-1)
    total = a.sum(axis=1)
    inside = a[:, m].sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


@dataclass(frozen=True)
class MarkerIntervention:
    """What a model does when a known marker is taken away from the class that carries it and
    put on the inputs of the other classes: a causal measure of reliance on the marker, which
    needs no explanation method.

    ``with_marker`` / ``without_marker``: per marked-class input, correct with the marker as it
    is and with the marker region replaced by what the other classes have there.
    ``flipped``: per other-class input the model classifies as its own class (not as the marker
    class), whether it moves to the marker class once the marker is pasted on.
    """

    with_marker: np.ndarray
    without_marker: np.ndarray
    flipped: np.ndarray

    @property
    def paired_counts(self) -> tuple[int, int, int, int]:
        """(correct both ways, only with the marker, only without it, neither)."""
        w, wo = self.with_marker, self.without_marker
        return (
            int((w & wo).sum()),
            int((w & ~wo).sum()),
            int((~w & wo).sum()),
            int((~w & ~wo).sum()),
        )


def marker_intervention(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    marker_class: int,
    mask: np.ndarray,
    reference: tuple[np.ndarray, np.ndarray],
) -> MarkerIntervention:
    """Remove the marker from the marked class and insert it into the others (images).

    Args:
        predict_proba: the model, inputs ``(N, C, H, W)`` to probabilities.
        X: held-out inputs ``(N, C, H, W)``; ``y`` their labels ``(N,)``.
        marker_class: the class whose inputs carry the marker.
        mask: the marker region ``(H, W)``.
        reference: ``(inputs, labels)`` of every class (e.g. training rows), from which the
            removal value (per-pixel median over the other classes) and the marker itself
            (per-pixel median over the marked class) are read, so that nothing about the marker
            is assumed.

    Returns:
        The per-input outcomes (empty arrays where a side has no inputs).
    """
    if X.ndim != 4:
        raise InvalidDataError("a marker intervention needs image inputs (N, C, H, W)")
    ref_x, ref_y = reference
    region = np.asarray(mask, dtype=bool)
    if not region.any():
        raise InvalidDataError("the marker region is empty")
    own, other = ref_x[ref_y == marker_class], ref_x[ref_y != marker_class]
    if not len(own) or not len(other):
        raise InvalidDataError(
            f"the reference rows need inputs of class {marker_class} and of other classes"
        )
    blank = np.median(other, axis=0)  # (C, H, W)
    patch = np.median(own, axis=0)

    def paste(x: np.ndarray, source: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[:, :, region] = source[:, region][None]
        return out.astype(np.float32)

    marked = y == marker_class
    others = np.flatnonzero(~marked)
    Xm = X[marked]
    pred_with = predict_proba(Xm).argmax(axis=1) if len(Xm) else np.zeros(0, int)
    pred_without = predict_proba(paste(Xm, blank)).argmax(axis=1) if len(Xm) else np.zeros(0, int)
    Xo = X[others]
    own_pred = predict_proba(Xo).argmax(axis=1) if len(Xo) else np.zeros(0, int)
    keep = own_pred == y[others]
    Xk = Xo[keep]
    flipped = (
        predict_proba(paste(Xk, patch)).argmax(axis=1) == marker_class
        if len(Xk)
        else np.zeros(0, bool)
    )
    return MarkerIntervention(
        with_marker=pred_with == marker_class,
        without_marker=pred_without == marker_class,
        flipped=np.asarray(flipped, dtype=bool),
    )
