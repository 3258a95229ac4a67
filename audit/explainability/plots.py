"""Figures of the explainability section (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from rai_audit.audit.core import plotting  # selects the Agg backend
from rai_audit.explain.base import EXPLAINERS

_COLOURS = plotting.tab10()


def label(method: str) -> str:
    """How figures name a method: its registered title."""
    cls = EXPLAINERS.get(method)
    return cls.title if cls is not None else method


def signed(method: str) -> bool:
    cls = EXPLAINERS.get(method)
    return cls.signed if cls is not None else True


def _image(x: np.ndarray) -> np.ndarray:
    return x[0] if x.shape[0] == 1 else np.clip(x.transpose(1, 2, 0), 0, 1)


def _heat(a: np.ndarray) -> np.ndarray:
    return a.sum(axis=0)


def overlay_grid(
    X: np.ndarray,
    attributions: Mapping[str, np.ndarray],
    labels: Sequence[str],
    title: str,
) -> Figure:
    """Rows: inputs (with their label line); columns: the input, then one map per method.

    Each map is drawn on its own with the input's outline as a contour, so small images stay
    legible. Signed methods use a diverging map centred on 0 (red supports the explained class,
    blue opposes it); Grad-CAM maps are non-negative (dark = none, bright = most).
    """
    methods = list(attributions)
    n = len(X)
    fig, axes = plt.subplots(
        n, len(methods) + 1, figsize=(1.9 * (len(methods) + 1), 1.95 * n), squeeze=False
    )
    gray = X.shape[1] == 1
    for i in range(n):
        img = _image(X[i])
        ax = axes[i, 0]
        ax.imshow(img, cmap="gray" if gray else None, vmin=0, vmax=1)
        ax.set_ylabel(labels[i], fontsize=7, color="#cf222e" if "wrong" in labels[i] else "black")
        outline = X[i].mean(axis=0)
        for j, m in enumerate(methods, start=1):
            heat = _heat(attributions[m][i])
            ax = axes[i, j]
            if not signed(m):
                ax.imshow(heat, cmap="inferno", vmin=0, vmax=max(float(heat.max()), 1e-12))
            else:
                lim = max(float(np.abs(heat).max()), 1e-12)
                ax.imshow(heat, cmap="bwr", vmin=-lim, vmax=lim)
            ax.contour(
                outline,
                levels=[0.5],
                colors="#2f2f2f" if signed(m) else "white",
                linewidths=0.7,
            )
            if i == 0:
                ax.set_title(label(m), fontsize=8)
    axes[0, 0].set_title("input", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def faithfulness_curves(
    fractions: np.ndarray,
    deletion: Mapping[str, np.ndarray],
    insertion: Mapping[str, np.ndarray],
    random_deletion: np.ndarray,
    random_insertion: np.ndarray,
) -> Figure:
    """Mean deletion and insertion curves per method, with the random-order baseline."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, m in enumerate(deletion):
        c = _COLOURS[k % 10]
        a1.plot(fractions, deletion[m], color=c, label=label(m))
        a2.plot(fractions, insertion[m], color=c, label=label(m))
    a1.plot(fractions, random_deletion, "k--", label="random order")
    a2.plot(fractions, random_insertion, "k--", label="random order")
    a1.set_title("Deletion: most important removed first (lower is better)", fontsize=9)
    a2.set_title("Insertion: most important added first (higher is better)", fontsize=9)
    for ax in (a1, a2):
        ax.set_xlabel("fraction of features")
        ax.set_ylabel("probability of explained class")
        ax.set_ylim(0, 1.02)
    a2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def sanity_plot(
    cascading: Mapping[str, Sequence[tuple[str, float]]],
    independent: Mapping[str, Sequence[tuple[str, float]]],
    nulls: Mapping[str, float | None],
) -> Figure:
    """Tie-free rank correlation with the trained model's explanation as layers are randomized,
    from the top down (cascading) and one at a time (independent), with each method's null (two
    randomized models' agreement) dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9), sharey=True)
    panels = (
        (axes[0], cascading, "cascading: this layer and all above it randomized"),
        (axes[1], independent, "independent: this layer alone randomized"),
    )
    for ax, curves, title in panels:
        names: list[str] = []
        for k, (m, pts) in enumerate(curves.items()):
            names = [p[0] for p in pts] if len(pts) > len(names) else names
            colour = _COLOURS[k % 10]
            ax.plot(
                range(len(pts) + 1),
                [1.0] + [p[1] for p in pts],
                marker="o",
                color=colour,
                label=label(m),
            )
            null = nulls.get(m)
            if null is not None and np.isfinite(null):
                ax.axhline(null, color=colour, ls="--", lw=1, alpha=0.7)
        ax.set_xticks(
            range(len(names) + 1), ["trained", *names], rotation=30, ha="right", fontsize=7
        )
        ax.set_ylim(-0.3, 1.05)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("Spearman correlation of |attribution|")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        "Model randomization (Adebayo et al., 2018), ties at zero left out; dashed: two "
        "randomized models' agreement (the null). A method sensitive to the model falls "
        "below its null.",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def beeswarm(
    values: np.ndarray, features: np.ndarray, names: Sequence[str], title: str, top: int = 15
) -> Figure:
    """SHAP summary plot: one dot per row and feature, coloured by the feature's value."""
    order = np.argsort(-np.abs(values).mean(axis=0))[:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    rng = np.random.default_rng(0)
    for row, j in enumerate(order):
        v = values[:, j]
        f = features[:, j]
        span = np.ptp(f)
        colour = (f - f.min()) / span if span > 0 else np.full_like(f, 0.5)
        ax.scatter(
            v,
            row + rng.uniform(-0.25, 0.25, len(v)),
            c=colour,
            cmap="coolwarm",
            s=10,
            vmin=0,
            vmax=1,
        )
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=8)
    ax.set_xlabel("SHAP value (impact on the explained class probability)")
    ax.set_title(title, fontsize=10)
    sm = plt.cm.ScalarMappable(cmap="coolwarm")
    cbar = fig.colorbar(sm, ax=ax, pad=0.01)
    cbar.set_ticks([0, 1], labels=["low", "high"])
    cbar.set_label("feature value")
    fig.tight_layout()
    return fig


def importance_bars(importance: Sequence[tuple[str, float]], title: str) -> Figure:
    items = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(items) + 1.3))
    ax.barh([n for n, _ in items], [v for _, v in items], color="#4c72b0")
    ax.set_xlabel("mean |SHAP value|")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def marker_figure(
    x: np.ndarray,
    attributions: Mapping[str, np.ndarray],
    shares: Mapping[str, float],
    region: Sequence[int],
) -> Figure:
    """A marked input with each method's map and its attribution share inside the marker."""
    methods = list(attributions)
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(2.1 * (len(methods) + 1), 2.5))
    r0, r1, c0, c1 = region
    gray = x.shape[0] == 1
    axes[0].imshow(_image(x), cmap="gray" if gray else None, vmin=0, vmax=1)
    axes[0].set_title("input with marker", fontsize=8)
    for ax, m in zip(axes[1:], methods):
        heat = np.abs(_heat(attributions[m]))
        ax.imshow(heat, cmap="magma")
        ax.set_title(f"{label(m)}\n{shares[m]:.0%} in marker", fontsize=8)
    for ax in axes:
        ax.add_patch(
            plt.Rectangle(
                (c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, edgecolor="lime", lw=1.5
            )
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
