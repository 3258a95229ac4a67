"""The fairness check's judging tables and text, as pure functions of the per-feature estimates:
the significance of group-vs-rest disparities (Holm), the definitions side by side and where
base rates make them conflict, Chouldechova's identity, the mitigations table and the summary."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency

from rai_audit.audit.fairness.metrics import (
    AGGREGATES,
    FairnessEstimate,
    chouldechova_fpr,
    group_vs_rest_tests,
    holm,
)
from rai_audit.reports.schema import Cell, Table

CONFLICT_EXPLANATION = (
    "When base rates differ between groups, a classifier better than chance cannot satisfy "
    "demographic parity and equalized odds together, nor predictive parity (or calibration "
    "within groups) together with equal false positive and false negative rates (Chouldechova, "
    "2017; Kleinberg et al., 2016). Decide which error harms the people affected (false "
    "accusations: FPR; missed opportunities: TPR/FNR) and gate on that definition."
)

# (definition, criterion, metric, kind of bound) for the side-by-side table
_DEFINITIONS = (
    ("Demographic parity", "equal selection rates", "demographic_parity_difference", "diff"),
    ("Four-fifths rule", "favourable-rate ratio >= 0.8", "disparate_impact_ratio", "ratio"),
    ("Equal opportunity", "equal TPR", "equal_opportunity_difference", "diff"),
    ("Equalized odds", "equal TPR and FPR", "equalized_odds_difference", "diff"),
    ("Predictive parity", "equal precision", "predictive_parity_difference", "diff"),
    ("Calibration within groups", "equal score ECE", "calibration_difference", "diff"),
)


def finite(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


@dataclass
class Feature:
    """One audited feature: its groups' estimates, calibration by group, and their intervals."""

    name: str
    values: np.ndarray
    est: FairnessEstimate
    ece: np.ndarray
    ece_draws: np.ndarray
    calib_diff: float | None
    calib_ci: tuple[float | None, float | None]
    calib_ci_method: str


def significance_table(results: dict[str, Feature], alpha: float) -> tuple[Table, int, int]:
    tests: list[dict[str, Any]] = []
    for name, r in results.items():
        for t in group_vs_rest_tests(r.est.counts):
            if t["group"] in r.est.compared:
                tests.append({"feature": name, **t})
    adjusted = holm([t["pvalue"] for t in tests]) if tests else np.array([])
    for t, a in zip(tests, adjusted):
        t["holm"] = float(a)
    sig = sorted((t for t in tests if t["holm"] < alpha), key=lambda t: t["holm"])
    rows: list[list[Cell]] = [
        [
            t["feature"],
            t["group"],
            t["rate"],
            t["group_value"],
            t["rest_value"],
            t["pvalue"],
            t["holm"],
        ]
        for t in sig[:40]
    ]
    table = Table(
        title="Disparities that survive a multiple-comparison correction",
        columns=["feature", "group", "rate", "group", "rest", "p", "p_holm"],
        rows=rows,
        description=f"Fisher's exact test of each compared group against all other rows, "
        f"for selection rate, TPR and FPR: {len(tests)} tests, Holm-adjusted to a "
        f"family-wise error of {alpha:g}; {len(sig)} significant"
        + (" (first 40 shown)" if len(sig) > 40 else "")
        + ".",
    )
    return table, len(tests), len(sig)


def definitions_table(
    results: dict[str, Feature], pos_name: str, alpha: float
) -> tuple[Table, list[str]]:
    rows: list[list[Cell]] = []
    conflicts = []
    for name, r in results.items():
        for label, criterion, metric, _kind in _DEFINITIONS:
            if metric == "calibration_difference":
                v, (lo, hi) = r.calib_diff, r.calib_ci
            else:
                v = finite(r.est.aggregate[metric])
                lo, hi = (finite(x) for x in r.est.aggregate_ci[metric])
            rows.append([name, label, criterion, f"{name}.{metric}", v, lo, hi])
        conflict = base_rate_conflict(r, pos_name, alpha)
        if conflict:
            conflicts.append(conflict)
    table = Table(
        title="Fairness definitions side by side",
        columns=["feature", "definition", "criterion", "metric", "value", "ci_low", "ci_high"],
        rows=rows,
        description="This table describes; it does not judge. Whether a definition holds "
        "is the policy's outcome for its metric, shown in the scorecard and the section's "
        "metrics (one judge). No single fairness score is given: the definitions measure "
        "different harms. " + CONFLICT_EXPLANATION,
    )
    return table, conflicts


def base_rate_conflict(r: Feature, pos_name: str, alpha: float) -> str | None:
    est = r.est
    keep = np.isin(np.asarray(est.groups), est.compared)
    if keep.sum() < 2:
        return None
    c = est.counts
    pos = (c.tp + c.fn)[keep]
    neg = (c.fp + c.tn)[keep]
    if (pos == 0).any() or (neg == 0).any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(chi2_contingency(np.stack([pos, neg], axis=1)).pvalue)
    base = est.group_rates["base_rate"][keep]
    groups = np.asarray(est.groups)[keep]
    lo_g, hi_g = groups[base.argmin()], groups[base.argmax()]
    if p >= alpha:
        return None
    return (
        f"{r.name}: base rates of {pos_name} differ (from {base.min():.1%} for {lo_g} to "
        f"{base.max():.1%} for {hi_g}; chi-square p = {p:.2g}), so demographic parity "
        "conflicts with equalized odds, and predictive parity with equal error rates"
    )


def chouldechova_table(results: dict[str, Feature], singles: list[str]) -> Table | None:
    rows: list[list[Cell]] = []
    for name in singles:
        est = results[name].est
        c = est.counts
        keep = np.isin(np.asarray(est.groups), est.compared)
        if keep.sum() < 2:
            continue
        tp, fp, fn = c.tp[keep].sum(), c.fp[keep].sum(), c.fn[keep].sum()
        if tp + fp == 0 or tp + fn == 0:
            continue
        ppv_all, fnr_all = tp / (tp + fp), fn / (tp + fn)
        for gi, g in enumerate(est.groups):
            if not keep[gi]:
                continue
            r = {k: est.group_rates[k][gi] for k in ("base_rate", "precision", "fnr", "fpr")}
            forced = chouldechova_fpr(r["base_rate"], ppv_all, fnr_all)
            rows.append(
                [
                    name,
                    g,
                    finite(r["base_rate"]),
                    finite(r["precision"]),
                    finite(r["fnr"]),
                    finite(r["fpr"]),
                    finite(forced),
                ]
            )
    if not rows:
        return None
    return Table(
        title="Why equal precision and equal error rates conflict (Chouldechova, 2017)",
        columns=[
            "feature",
            "group",
            "base_rate",
            "precision",
            "fnr",
            "fpr",
            "fpr_if_equal_ppv_fnr",
        ],
        rows=rows,
        description="FPR = p/(1-p) x (1-PPV)/PPV x (1-FNR) holds for every group. The last "
        "column is the FPR each group would need if every group had the pooled precision "
        "and FNR: different base rates p force different FPRs.",
    )


def mitigation_table(rows: list[Any], feature: str | None, split: str) -> Table:
    cols = ["method", "status", "accuracy", "accuracy_cost", *AGGREGATES]
    cols += ["eod_low", "eod_high", "seconds", "note"]
    out = []
    for r in rows:
        m = r.metrics
        out.append(
            [
                r.method,
                r.status,
                r.accuracy,
                r.accuracy_cost,
                *[m.get(k) for k in AGGREGATES],
                m.get("equalized_odds_difference_ci_low"),
                m.get("equalized_odds_difference_ci_high"),
                r.wall_time_s,
                r.note,
            ]
        )
    return Table(
        title=f"Mitigations on {feature}: before and after, on the {split} split",
        columns=cols,
        rows=out,
        description="Every mitigation is fitted without the evaluation split. Accuracy "
        "cost: threshold_optimizer against the audited model; the refits (reweighing, "
        "exponentiated_gradient) against the refit baseline trained the same way without "
        "mitigation. eod_low/high: the equalized odds difference's bootstrap interval.",
    )


def summary_text(
    results: dict[str, Feature],
    singles: list[str],
    n_sig: int,
    n_tests: int,
    conflicts: list[str],
    pos_name: str,
    rule: str,
    ci_level: float,
) -> str:
    parts = []
    for f in singles:
        est = results[f].est
        eod = est.aggregate["equalized_odds_difference"]
        lo, hi = est.aggregate_ci["equalized_odds_difference"]
        di = est.aggregate["disparate_impact_ratio"]
        if np.isfinite(eod):
            parts.append(
                f"{f}: equalized odds difference {eod:.3f} ({ci_level:.0%} CI "
                f"{lo:.3f}-{hi:.3f}), disparate impact ratio {di:.2f}"
            )
    text = "; ".join(parts) + "." if parts else "No feature had two comparable groups."
    text += f" {n_sig} of {n_tests} group-vs-rest disparities survive the Holm correction."
    if conflicts:
        text += (
            f" Base rates differ for {len(conflicts)} feature(s), so the definitions "
            "conflict (see 'Where the definitions conflict')."
        )
    return f"Decisions: {rule}. " + text
