"""Figures of the fairness check: group rates with error bars, ROC and reliability per group,
and mitigations' accuracy against disparity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from rai_audit.audit.core import plotting  # noqa: F401  (selects the Agg backend)
from rai_audit.audit.fairness.metrics import score_calibration

_PANELS = (
    ("selection_rate", "Selection rate"),
    ("tpr", "True positive rate"),
    ("fpr", "False positive rate"),
    ("precision", "Precision"),
)
MAX_GROUPS = 24


def group_bars(
    feature: str, rows: Sequence[Mapping[str, Any]], min_group_size: int, level: float
) -> Figure:
    """One panel per rate, one bar per group with its bootstrap interval; small groups pale."""
    rows = sorted(rows, key=lambda r: -r["n"])[:MAX_GROUPS]
    labels = [f"{r['group']}  (n={r['n']})" for r in rows]
    height = max(2.6, 0.34 * len(rows) + 1.3)
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(14, height), sharey=True)
    ypos = np.arange(len(rows))
    for ax, (key, title) in zip(axes, _PANELS):
        vals = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        lo = np.array([np.nan if r[f"{key}_ci"][0] is None else r[f"{key}_ci"][0] for r in rows])
        hi = np.array([np.nan if r[f"{key}_ci"][1] is None else r[f"{key}_ci"][1] for r in rows])
        small = np.array([r["n"] < min_group_size for r in rows])
        colors = np.where(small, "#c7c7c7", "#4c72b0")
        ax.barh(ypos, np.nan_to_num(vals), color=colors)
        err = np.vstack([np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)])
        ok = np.isfinite(vals) & np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(
            vals[ok], ypos[ok], xerr=err[:, ok], fmt="none", ecolor="black", capsize=3, lw=1
        )
        for y_, v in zip(ypos, vals):
            if not np.isfinite(v):
                ax.text(0.01, y_, "n/a", va="center", fontsize=8, color="#888888")
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ypos, labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        f"{feature}: rates per group with {level:.0%} bootstrap intervals "
        f"(grey: fewer than {min_group_size} rows, not compared)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def roc_and_reliability(
    feature: str,
    score: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    compared: Sequence[str],
    n_bins: int,
    positive: str,
) -> Figure:
    """Per-group ROC curves (is the score equally informative?) and reliability (does a score
    mean the same risk in every group?)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    sizes = {g: int((groups == g).sum()) for g in compared}
    shown = sorted(compared, key=lambda g: -sizes[g])[:8]
    for g in shown:
        m = groups == g
        if len(np.unique(y[m])) == 2:
            fpr, tpr, _ = roc_curve(y[m], score[m])
            auc = roc_auc_score(y[m], score[m])
            ax1.plot(fpr, tpr, lw=1.5, label=f"{g} (AUC {auc:.3f})")
        bins, ece = score_calibration(score[m], y[m], n_bins)
        xs = [b["score"] for b in bins if b["count"]]
        ys = [b["observed"] for b in bins if b["count"]]
        ax2.plot(xs, ys, marker="o", ms=3, lw=1.2, label=f"{g} (ECE {ece:.3f})")
    for ax in (ax1, ax2):
        ax.plot([0, 1], [0, 1], color="#999999", ls="--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    ax1.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC per group")
    ax2.set(
        xlabel=f"Mean predicted P({positive})",
        ylabel=f"Observed share {positive}",
        title="Reliability per group",
    )
    fig.suptitle(f"{feature}: is the score equally informative and calibrated in every group?")
    fig.tight_layout()
    return fig


def mitigation_tradeoff(rows: Sequence[Any], feature: str, metric: str) -> Figure:
    """Accuracy against the targeted disparity for the audited model and each mitigation."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    for r in rows:
        if r.status != "ok" or r.metrics.get(metric) is None:
            continue
        v = r.metrics[metric]
        lo = r.metrics.get(f"{metric}_ci_low")
        hi = r.metrics.get(f"{metric}_ci_high")
        yerr = None
        if lo is not None and hi is not None:
            yerr = np.array([[max(v - lo, 0)], [max(hi - v, 0)]])
        ax.errorbar([r.accuracy], [v], yerr=yerr, fmt="o", capsize=4, label=r.method)
        ax.annotate(
            r.method, (r.accuracy, v), textcoords="offset points", xytext=(6, 4), fontsize=8
        )
    ax.set_xlabel("Accuracy on the held-out split")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"Mitigations on {feature}: accuracy against disparity (lower is fairer)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
