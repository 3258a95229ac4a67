"""Figures of the privacy section (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from rai_audit.audit.core import plotting  # selects the Agg backend


def roc_loglog(results: Mapping[str, object], min_fpr: float) -> Figure:
    """Membership ROC of every attack on log-log axes (Carlini et al., 2022), with chance."""
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    colours = plotting.tab10()
    floor = max(min_fpr / 2, 1e-5)
    for k, (name, r) in enumerate(results.items()):
        fpr = np.maximum(np.asarray(r.fpr), floor)  # type: ignore[attr-defined]
        tpr = np.maximum(np.asarray(r.tpr), floor)  # type: ignore[attr-defined]
        t1 = r.tpr_at_fpr.get(0.01)  # type: ignore[attr-defined]
        label = f"{name}: AUC {r.auc:.3f}" + (f", TPR@1% {t1:.1%}" if t1 is not None else "")  # type: ignore[attr-defined]
        ax.plot(fpr, tpr, color=colours[k % 10], lw=1.4, label=label)
    grid = np.geomspace(floor, 1, 50)
    ax.plot(grid, grid, "k--", lw=1, label="chance")
    ax.axvline(min_fpr, color="gray", ls=":", lw=1)
    ax.text(
        min_fpr * 1.1,
        floor * 1.5,
        "smallest resolvable FPR",
        fontsize=7,
        color="gray",
        rotation=90,
        va="bottom",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1.05)
    ax.set_xlabel("false-positive rate (non-members called members)")
    ax.set_ylabel("true-positive rate (members found)")
    ax.set_title("Membership inference ROC, log-log", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def group_auc(rows: Sequence[Sequence[object]]) -> Figure:
    """Membership AUC per sensitive group (rows: feature, group, members, non-members, AUC, ...)."""
    labels = [f"{r[0]}={r[1]}" for r in rows]
    aucs = [float(r[4]) for r in rows]  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.4))
    ax.barh(labels[::-1], aucs[::-1], color="#8172b3")
    ax.axvline(0.5, color="k", ls="--", lw=1)
    ax.set_xlim(min(0.4, min(aucs) - 0.02), max(0.75, max(aucs) + 0.02))
    ax.set_xlabel("membership AUC of the strongest attack (0.5 = no leakage)")
    ax.set_title("Which groups leak most", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
