"""Matplotlib figures the checks attach to their results (Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from rai_audit.audit.core import plotting  # noqa: F401  (selects the Agg backend)


def reliability_diagram(bins: Sequence[Mapping[str, Any]], ece: float, title: str) -> Figure:
    """Accuracy against confidence per bin, with the diagonal and bin counts below."""
    fig, (ax, axh) = plt.subplots(
        2, 1, figsize=(5.2, 5.6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
    width = bins[0]["upper"] - bins[0]["lower"] if bins else 0.1
    acc = [b["accuracy"] if b["accuracy"] is not None else 0.0 for b in bins]  # empty: no bar
    conf = [b["confidence"] if b["confidence"] is not None else c for b, c in zip(bins, centres)]
    ax.bar(
        centres,
        acc,
        width=width * 0.95,
        color="#4c72b0",
        edgecolor="white",
        label="accuracy in bin",
    )
    gap_bottom = np.minimum(acc, conf)
    gap_height = np.abs(np.asarray(conf) - np.asarray(acc))
    mask = [b["count"] > 0 for b in bins]
    ax.bar(
        np.asarray(centres)[mask],
        gap_height[mask],
        bottom=gap_bottom[mask],
        width=width * 0.95,
        fill=False,
        hatch="///",
        edgecolor="#c44e52",
        lw=0.8,
        label="gap between accuracy and confidence",
    )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE = {ece:.3f}")
    ax.legend(loc="upper left", fontsize=8)
    axh.bar(centres, [b["count"] for b in bins], width=width * 0.95, color="#8c8c8c")
    axh.set_yscale("symlog")
    axh.set_xlabel("confidence (top-class probability)")
    axh.set_ylabel("count")
    fig.tight_layout()
    return fig


def confusion_matrix_figure(cm: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """Row-normalized confusion matrix with raw counts in the cells."""
    k = len(class_names)
    size = min(2.0 + 0.55 * k, 10.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set_xticks(
        range(k), labels=class_names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center"
    )
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(int(cm[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    fig.tight_layout()
    return fig


def training_curves(history: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Train and validation loss and accuracy per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.plot(epochs, [h["train_loss"] for h in history], label="train")
    a1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy loss")
    a1.legend()
    a2.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    a2.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
