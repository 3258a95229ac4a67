"""Figures of the robustness section (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from rai_audit.audit.core import plotting  # selects the Agg backend
from rai_audit.reports.schema import CurveBand


def accuracy_curve(
    curves: Mapping[str, Sequence[CurveBand]],
    eps: float,
    kind: str,
    norm: str,
    clean: float,
    defenses: Sequence[tuple[str, float | None]] = (),
) -> Figure:
    """Robust accuracy against epsilon with Wilson bands; defenses as points at the headline
    epsilon (adaptive attack)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = {"PGD": "#c44e52", "FGSM": "#4c72b0"}
    for name, pts in curves.items():
        xs = np.array([p.x for p in pts])
        ys = np.array([p.y for p in pts], dtype=float)  # None (undefined) becomes NaN
        low = np.array([p.low for p in pts], dtype=float)
        high = np.array([p.high for p in pts], dtype=float)
        ax.plot(xs, ys, marker="o", color=colours.get(name), label=name)
        ax.fill_between(xs, low, high, alpha=0.15, color=colours.get(name))
    ax.axhline(clean, color="gray", ls=":", label=f"clean accuracy {clean:.0%}")
    ax.axvline(eps, color="black", lw=0.8, ls="--")
    for k, (name, acc) in enumerate(defenses[1:] if defenses else []):
        if acc is not None:
            ax.scatter(
                [eps],
                [acc],
                marker="s",
                s=40,
                zorder=5,
                color=plotting.tab10()[(k + 2) % 10],
                label=f"{name} + BPDA attack",
            )
    ax.set_xscale("log")
    if kind == "image":
        ticks = [p.x for p in next(iter(curves.values()))]
        ax.set_xticks(ticks, [f"{t * 255:.3g}/255" for t in ticks], fontsize=8)
        ax.set_xlabel(f"epsilon ({'L-inf' if norm == 'inf' else 'L2'}, pixel units)")
    else:
        ax.set_xlabel(f"epsilon ({'L-inf' if norm == 'inf' else 'L2'}, standardized units)")
    ax.minorticks_off()
    ax.set_ylabel("accuracy under attack")
    ax.set_ylim(0, 1.02)
    ax.set_title("Robust accuracy against perturbation size (95% Wilson bands)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def examples(
    X: np.ndarray,
    adv: np.ndarray,
    y: np.ndarray,
    p_clean: np.ndarray,
    p_adv: np.ndarray,
    class_names: Sequence[str],
    eps: float,
    n: int = 6,
) -> Figure:
    """Clean image, adversarial image and amplified perturbation, with predictions."""
    fooled = np.flatnonzero((p_adv.argmax(1) != y) & (p_clean.argmax(1) == y))
    order = np.r_[fooled, np.setdiff1d(np.arange(len(X)), fooled)][:n]
    fig, axes = plt.subplots(3, len(order), figsize=(1.9 * len(order), 6.0), squeeze=False)
    gray = X.shape[1] == 1

    def show(ax, img):
        img = img[0] if gray else np.clip(img.transpose(1, 2, 0), 0, 1)
        ax.imshow(img, cmap="gray" if gray else None, vmin=0, vmax=1)

    for j, i in enumerate(order):
        pc, pa = p_clean[i], p_adv[i]
        show(axes[0, j], X[i])
        axes[0, j].set_title(f"{class_names[pc.argmax()]} ({pc.max():.0%})", fontsize=8)
        show(axes[1, j], adv[i])
        ok = pa.argmax() == y[i]
        axes[1, j].set_title(
            f"{class_names[pa.argmax()]} ({pa.max():.0%})",
            fontsize=8,
            color="black" if ok else "#cf222e",
        )
        d = (adv[i] - X[i]).sum(0)
        lim = max(float(np.abs(d).max()), 1e-12)
        axes[2, j].imshow(d, cmap="bwr", vmin=-lim, vmax=lim)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("clean", fontsize=9)
    axes[1, 0].set_ylabel("adversarial", fontsize=9)
    axes[2, 0].set_ylabel("perturbation\n(amplified)", fontsize=9)
    fig.suptitle(
        f"PGD at eps {eps:.3g} ({eps * 255:.3g}/255): predicted class (confidence); red = fooled",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def feature_shift(mean_abs: np.ndarray, names: Sequence[str], top: int = 15) -> Figure:
    """Mean absolute adversarial change per feature (tabular), largest first."""
    order = np.argsort(-mean_abs)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(order) + 1.3))
    ax.barh([names[j] for j in order], mean_abs[order], color="#c44e52")
    ax.set_xlabel("mean |adversarial change| (standardized units)")
    ax.set_title("Features the attack moves most", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
