"""The ``fairness`` check: group metrics with intervals, conflicts between the definitions, the
data's representation and proxies, and mitigations.

For every sensitive feature and every pair of them (``race_x_sex``), on the test split:

- per group: count, base rate, selection rate, accuracy, TPR, FPR, FNR, precision, and the
  calibration of the score (ECE), each with a bootstrap interval;
- aggregates over the groups with at least ``min_group_size`` rows, gated by the policy as
  ``fairness.<feature>.<aggregate>``: demographic parity difference and ratio, the four-fifths
  disparate impact ratio (on the favourable outcome), equal opportunity difference, equalized
  odds difference, predictive parity difference, and calibration difference;
- Fisher's exact test of each group against the rest (selection rate, TPR, FPR), with the
  Holm correction over every test the check makes;
- the definitions side by side, and when base rates differ, which of them cannot hold together
  (Chouldechova, 2017; Kleinberg et al., 2016), with the FPRs the identity forces.

Binary decisions come from the model's probabilities: the predicted class (argmax) unless a
``threshold`` on P(positive) is given; a multi-class model is audited one-vs-rest for
``positive_class``. The rule is stated in the report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.stats import bootstrap_interval
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.fairness import plots as fairness_plots
from rai_audit.audit.fairness.analysis import (
    CONFLICT_EXPLANATION,
    Feature,
    chouldechova_table,
    definitions_table,
    finite,
    mitigation_table,
    significance_table,
    summary_text,
)
from rai_audit.audit.fairness.metrics import (
    AGGREGATES,
    RATES,
    estimate,
    group_calibration,
    intersect,
    proxy_auc,
    score_calibration,
)
from rai_audit.audit.fairness.mitigation import CONSTRAINTS, MITIGATIONS, run_mitigations
from rai_audit.models.errors import InvalidConfigError, InvalidDataError
from rai_audit.models.options import (
    CI_LEVEL,
    AnyOf,
    Bool,
    Choice,
    Int,
    Maybe,
    Names,
    Real,
    Strings,
    Text,
    option,
    option_from,
)
from rai_audit.reports.schema import Cell, FairnessResult, Metric, Table

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": {
        "n_boot": 2000,
        "proxy_rows": 10000,
        "mitigation_rows": 30000,
        "refit_epochs": 10,
        "eg_max_iter": 25,
    },
    "thorough": {
        "n_boot": 5000,
        "proxy_rows": None,
        "mitigation_rows": None,
        "refit_epochs": None,
        "eg_max_iter": 50,
    },
}

_DESCRIPTIONS = {
    "demographic_parity_difference": "largest minus smallest selection rate (independence)",
    "demographic_parity_ratio": "smallest over largest selection rate",
    "disparate_impact_ratio": "smallest over largest rate of the favourable outcome; the "
    "four-fifths rule asks for >= 0.8",
    "equal_opportunity_difference": "largest minus smallest true positive rate",
    "equalized_odds_difference": "the larger of the TPR and FPR differences (separation)",
    "predictive_parity_difference": "largest minus smallest precision (sufficiency)",
    "calibration_difference": "largest minus smallest score ECE (calibration within groups)",
}


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


@dataclass(frozen=True)
class FairnessMeasurement:
    """What fairness judging works from.

    Attributes:
        y, pred, score: binary labels (1 = positive class), decisions, and P(positive).
        columns: audited feature (intersections included) -> each row's group.
        singles: the single sensitive features with two or more groups.
        pos_name, fav_name, positive_is_favorable, rule: the decision's framing.
        warnings: what setting up the comparison had to say.
        representation, proxy_table, proxy_metrics, decisions: tables (and metrics) about
            the data itself.
        data_warnings: what the data tables and the mitigations had to say.
        mitigation_feature, mitigations: the mitigated feature and one row per mitigation.
    """

    y: np.ndarray
    pred: np.ndarray
    score: np.ndarray
    columns: dict[str, np.ndarray]
    singles: list[str]
    pos_name: str
    fav_name: str
    positive_is_favorable: bool
    rule: str
    warnings: list[str]
    representation: Table
    proxy_table: Table | None
    proxy_metrics: list[Metric]
    decisions: list[Table]
    data_warnings: list[str]
    mitigation_feature: str | None
    mitigations: list[Any]
    #: seeds the judgement's bootstrap intervals (judging is pure: the same measurement, the
    #: same intervals)
    seed: int = 0


@dataclass(frozen=True)
class FairnessJudgement:
    results: dict[str, Feature]
    metrics: list[Metric]
    tables: list[Table]
    warnings: list[str]
    conflicts: list[str]
    calibration: dict[str, dict[str, Any]]
    summary: str


@dataclass(frozen=True, kw_only=True)
class FairnessCheck(MeasuredCheck["FairnessMeasurement", "FairnessJudgement", FairnessResult]):
    """Group fairness of the model's decisions on a split.

    Attributes:
        split: the split to evaluate (``test``).
        sensitive: sensitive features to audit; default every one the data declares.
        intersections: also audit every pair of sensitive features (``race_x_sex``).
        positive_class: the class whose prediction is the positive decision (name or index);
            default the second class (index 1).
        favorable_class: the class that is the favourable outcome, for the four-fifths rule;
            default the data set's declared one, else the positive class.
        threshold: decide positive when P(positive) >= threshold; None = the predicted class.
        n_boot: bootstrap resamples for every interval.
        ci_level: confidence level of the intervals.
        min_group_size: groups smaller than this are reported but not compared.
        n_bins: equal-width score bins for calibration by group.
        alpha: family-wise error rate of the Holm-corrected group-vs-rest tests.
        proxy_rows: train rows for the proxy scan (None = all); 0 turns it off.
        mitigations: which mitigations to apply (two-class models).
        mitigation_feature: the feature mitigations target; default the data's primary one.
        mitigation_constraint: ``equalized_odds`` or ``demographic_parity``.
        mitigation_rows: train rows for refits (None = all).
        refit_epochs: epoch cap of a torch refit (None = the recorded recipe's).
        eg_max_iter: iterations of ExponentiatedGradient.
    """

    name = "fairness"
    metric_leaves = frozenset((*AGGREGATES, "calibration_difference", "proxy_auc"))
    title = "Fairness"
    order = 40
    budgets = _BUDGETS

    split: str = option("test", Text(nonempty=True, what="split name"))
    sensitive: tuple[str, ...] | None = option(
        None, Maybe(Strings("feature names"), "every sensitive feature the data declares")
    )
    intersections: bool = option(True, Bool())
    positive_class: str | int | None = option(
        None, Maybe(AnyOf((Int(0), Text(nonempty=True, what="class name"))), "class index 1")
    )
    favorable_class: str | int | None = option(
        None, Maybe(AnyOf((Int(0), Text(nonempty=True, what="class name"))), "the data's own")
    )
    threshold: float | None = option(
        None, Maybe(Real(0.0, 1.0, lo_open=True, hi_open=True), "the predicted class")
    )
    n_boot: int = option(1000, Int(50))
    ci_level: float = option(0.95, CI_LEVEL)
    min_group_size: int = option(30, Int(1))
    n_bins: int = option(10, Int(2))
    alpha: float = option(0.05, Real(0.0, 1.0, lo_open=True, hi_open=True))
    proxy_rows: int | None = option(2000, Maybe(Int(0), "every train row"))
    mitigations: tuple[str, ...] = option_from(
        lambda: tuple(MITIGATIONS), Names(lambda: MITIGATIONS)
    )
    mitigation_feature: str | None = option(
        None, Maybe(Text(nonempty=True, what="feature name"), "the data's primary one")
    )
    mitigation_constraint: str = option("equalized_odds", Choice(CONSTRAINTS))
    mitigation_rows: int | None = option(6000, Maybe(Int(1), "every train row"))
    refit_epochs: int | None = option(3, Maybe(Int(1), "the recorded recipe's"))
    eg_max_iter: int = option(5, Int(1))

    # ------------------------------------------------------------------ configuration helpers

    def skip_reason(self, target: AuditTarget) -> str | None:
        if self.split not in target.splits:
            return f"the target has no {self.split!r} split"
        if not target.split(self.split).sensitive:
            return (
                "the data declares no sensitive features; name them (csv: options "
                "sensitive: [...], or Split(sensitive={...}) in the Python API)"
            )
        return None

    def _class_index(self, target: AuditTarget, value: str | int | None, what: str) -> int:
        if value is None:
            return 1
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < target.num_classes:
                return value
        elif str(value) in target.class_names:
            return target.class_names.index(str(value))
        raise InvalidConfigError(
            f"{what} {value!r} is not a class of the model; its classes are "
            f"{list(target.class_names)} (give a name or an index)"
        )

    def _features(self, target: AuditTarget, split: Any) -> list[str]:
        available = sorted(split.sensitive)
        if self.sensitive is None:
            return available
        unknown = [s for s in self.sensitive if s not in available]
        if unknown:
            raise InvalidConfigError(
                f"sensitive feature(s) {unknown} are not in the {self.split!r} split; it has "
                f"{available}"
            )
        return list(self.sensitive)

    # ------------------------------------------------------------------ the check

    # ------------------------------------------------------------------ measure

    def measure(self, target: AuditTarget, *, seed: int) -> FairnessMeasurement:
        """Everything that needs the model or the data: decisions and scores on the split, the
        groups of every sensitive feature (and their intersections), representation, the proxy
        scan, the data's own decisions and the mitigations."""
        split = target.split(self.split)
        pos = self._class_index(target, self.positive_class, "positive_class")
        declared = target.data_info.get("annotations", {}).get("favorable_class")
        fav_value = self.favorable_class if self.favorable_class is not None else declared
        fav = (
            self._class_index(target, fav_value, "favorable_class")
            if fav_value is not None
            else pos
        )
        pos_name, fav_name = target.class_names[pos], target.class_names[fav]
        positive_is_favorable = fav == pos
        warn: list[str] = []
        if not positive_is_favorable and target.num_classes > 2:
            warn.append(
                f"the favourable class {fav_name!r} is not the positive class {pos_name!r} of a "
                "one-vs-rest audit; the four-fifths rule uses 'not positive' as favourable"
            )

        proba = target.model.predict_proba(split.X)
        score = proba[:, pos]
        pred, rule = self._decide(proba, pos, target)
        y = (split.y == pos).astype(int)

        singles = self._comparable(split, self._features(target, split), warn)
        columns: dict[str, np.ndarray] = {
            f: np.asarray(split.sensitive[f], dtype=str) for f in singles
        }
        if self.intersections:
            for a, b in itertools.combinations(sorted(singles), 2):
                columns[f"{a}_x_{b}"] = intersect({a: columns[a], b: columns[b]})
        data_warnings: list[str] = []
        representation = self._representation(target, singles, pos, data_warnings)
        proxy_table: Table | None = None
        proxy_metrics: list[Metric] = []
        if self.proxy_rows != 0:
            proxy_table, proxy_metrics = self._proxies(target, singles, seed, data_warnings)
        decisions = self._decision_columns(target, split, singles, y, seed)
        mitigation_feature: str | None = None
        mitigation_rows: list[Any] = []
        if self.mitigations:
            mitigation_feature, mitigation_rows = self._mitigate(
                target, singles, pos, positive_is_favorable, seed, data_warnings
            )
        return FairnessMeasurement(
            seed=seed,
            y=y,
            pred=pred,
            score=score,
            columns=columns,
            singles=singles,
            pos_name=pos_name,
            fav_name=fav_name,
            positive_is_favorable=positive_is_favorable,
            rule=rule,
            warnings=warn,
            representation=representation,
            proxy_table=proxy_table,
            proxy_metrics=proxy_metrics,
            decisions=decisions,
            data_warnings=data_warnings,
            mitigation_feature=mitigation_feature,
            mitigations=mitigation_rows,
        )

    def _comparable(self, split: Any, features: list[str], warn: list[str]) -> list[str]:
        """The sensitive features with two or more groups in the split; warns, into ``warn``,
        about each one left out.

        Raises:
            InvalidDataError: no feature has two groups.
        """
        singles = []
        for f in features:
            uniq = np.unique(np.asarray(split.sensitive[f], dtype=str))
            if len(uniq) < 2:
                warn.append(
                    f"sensitive feature {f!r} has a single group ({uniq[0]!r}) in the "
                    f"{self.split} split; there is nothing to compare, so it is left out"
                )
                continue
            singles.append(f)
        if not singles:
            raise InvalidDataError(
                f"every sensitive feature ({features}) has a single group in the {self.split} "
                "split; a fairness audit needs at least two groups to compare"
            )
        return singles

    # ------------------------------------------------------------------ judge

    def judge(self, m: FairnessMeasurement) -> FairnessJudgement:
        """Group rates with bootstrap intervals, calibration by group, Holm-corrected tests,
        the definitions side by side and where they conflict; needs no model (the
        measurement's ``seed`` seeds the bootstrap)."""
        y, score = m.y, m.score
        warn = list(m.warnings)
        results = {
            name: self._feature(m, i, name, values, warn)
            for i, (name, values) in enumerate(m.columns.items())
        }
        warn += m.data_warnings

        metrics = self._metrics(results, len(y))
        tables = [self._group_table(r) for r in results.values()]
        tests_table, n_tests, n_sig = significance_table(results, self.alpha)
        defs_table, conflicts = definitions_table(results, m.pos_name, self.alpha)
        tables.append(defs_table)
        if conflicts:
            tables.append(
                Table(
                    title="Where the definitions conflict",
                    columns=["feature", "finding"],
                    rows=[[c.split(":", 1)[0], c.split(":", 1)[1].strip()] for c in conflicts],
                    description=CONFLICT_EXPLANATION,
                )
            )
        tables.append(tests_table)
        chou = chouldechova_table(results, m.singles)
        if chou is not None:
            tables.append(chou)
        tables.append(m.representation)
        if m.proxy_table is not None:
            tables.append(m.proxy_table)
            metrics += m.proxy_metrics
        tables += m.decisions
        if m.mitigations:
            tables.append(mitigation_table(m.mitigations, m.mitigation_feature, self.split))
        calibration = {
            name: {
                g: score_calibration(
                    score[results[name].values == g], y[results[name].values == g], self.n_bins
                )[0]
                for g in results[name].est.compared
            }
            for name in m.singles
        }
        summary = summary_text(
            results, m.singles, n_sig, n_tests, conflicts, m.pos_name, m.rule, self.ci_level
        )
        return FairnessJudgement(
            results=results,
            metrics=metrics,
            tables=tables,
            warnings=warn,
            conflicts=conflicts,
            calibration=calibration,
            summary=summary,
        )

    def _feature(
        self, m: FairnessMeasurement, i: int, name: str, values: np.ndarray, warn: list[str]
    ) -> Feature:
        """One audited feature's group rates with bootstrap intervals and its calibration by
        group; warns, into ``warn``, about groups too small to compare."""
        y, pred, score = m.y, m.pred, m.score
        est = estimate(
            y,
            pred,
            values,
            n_boot=self.n_boot,
            ci_level=self.ci_level,
            seed=m.seed + i,
            min_group_size=self.min_group_size,
            positive_is_favorable=m.positive_is_favorable,
        )
        groups, ece, draws = group_calibration(
            score,
            y,
            values,
            n_bins=self.n_bins,
            n_boot=self.n_boot,
            ci_level=self.ci_level,
            seed=m.seed + 1000 + i,
        )
        if groups != est.groups:  # both come from numpy.unique of the same column
            raise RuntimeError(f"group order differs: {groups} vs {est.groups}")
        keep = np.isin(np.asarray(groups), est.compared)
        calib_diff: float | None = None
        calib_ci: tuple[float | None, float | None] = (None, None)
        calib_how = ""
        if keep.sum() >= 2:
            calib_diff = float(ece[keep].max() - ece[keep].min())
            spread = draws[:, keep].max(axis=1) - draws[:, keep].min(axis=1)
            lo_, hi_, calib_how = bootstrap_interval(calib_diff, spread, self.ci_level)
            calib_ci = (lo_, hi_)
            calib_how = f"stratified {calib_how}"
        feature = Feature(name, values, est, ece, draws, calib_diff, calib_ci, calib_how)
        small = [g for g, n in zip(est.groups, est.counts.n) if n < self.min_group_size]
        if small:
            shown = ", ".join(f"{g!r}" for g in small[:6]) + (" ..." if len(small) > 6 else "")
            warn.append(
                f"{name}: {len(small)} group(s) have fewer than {self.min_group_size} rows "
                f"({shown}); they are reported but not compared"
            )
        if len(est.compared) < 2:
            warn.append(
                f"{name}: fewer than two groups have {self.min_group_size}+ rows; its "
                "aggregates are undefined"
            )
        return feature

    # ------------------------------------------------------------------ render

    def render(
        self, m: FairnessMeasurement, j: FairnessJudgement, artifacts: Artifacts
    ) -> FairnessResult:
        results = j.results
        figures = []
        for name, r in results.items():
            figures.append(
                artifacts.figure(
                    fairness_plots.group_bars(
                        name, self._group_rows(r), self.min_group_size, self.ci_level
                    ),
                    f"groups_{_safe_name(name)}",
                    f"{name}: selection rate, TPR, FPR and precision per group with "
                    f"{self.ci_level:.0%} bootstrap intervals",
                )
            )
        for name in m.singles:
            r = results[name]
            figures.append(
                artifacts.figure(
                    fairness_plots.roc_and_reliability(
                        name, m.score, m.y, r.values, r.est.compared, self.n_bins, m.pos_name
                    ),
                    f"roc_calibration_{_safe_name(name)}",
                    f"{name}: ROC and reliability of P({m.pos_name}) per group",
                )
            )
        if m.mitigations:
            key = (
                "equalized_odds_difference"
                if self.mitigation_constraint == "equalized_odds"
                else "demographic_parity_difference"
            )
            figures.append(
                artifacts.figure(
                    fairness_plots.mitigation_tradeoff(
                        m.mitigations, str(m.mitigation_feature), key
                    ),
                    "mitigations",
                    f"Mitigations on {m.mitigation_feature}: held-out accuracy against "
                    f"{key.replace('_', ' ')}",
                )
            )
        return self.result(
            FairnessResult,
            j,
            figures=figures,
            split=self.split,
            positive_class=m.pos_name,
            favorable_class=m.fav_name,
            decision_rule=m.rule,
            features=list(results),
            groups={name: self._group_rows(r) for name, r in results.items()},
            calibration=j.calibration,
            conflicts=j.conflicts,
            mitigation_feature=m.mitigation_feature,
            mitigations=m.mitigations,
        )

    # ------------------------------------------------------------------ pieces

    def _decide(self, proba: np.ndarray, pos: int, target: AuditTarget) -> tuple[np.ndarray, str]:
        name = target.class_names[pos]
        if self.threshold is not None:
            return (proba[:, pos] >= self.threshold).astype(int), (
                f"positive ({name}) when P({name}) >= {self.threshold:g}"
            )
        pred = (proba.argmax(axis=1) == pos).astype(int)
        if target.num_classes == 2:
            return pred, f"positive ({name}) when it is the predicted class (P({name}) > 0.5)"
        return pred, f"positive ({name}) when it is the predicted class (one-vs-rest)"

    def _group_rows(self, r: Feature) -> list[dict[str, Any]]:
        est = r.est
        n_total = int(est.counts.n.sum())
        q = (1 - self.ci_level) / 2 * 100
        rows: list[dict[str, Any]] = []
        for gi, g in enumerate(est.groups):
            row: dict[str, Any] = {
                "group": g,
                "n": int(est.counts.n[gi]),
                "share": float(est.counts.n[gi] / n_total),
                "compared": g in est.compared,
            }
            for k in RATES:
                row[k] = finite(est.group_rates[k][gi])
                row[f"{k}_ci"] = [finite(est.group_ci[k][gi, 0]), finite(est.group_ci[k][gi, 1])]
            row["ece"] = finite(r.ece[gi])
            row["ece_ci"] = [
                finite(np.percentile(r.ece_draws[:, gi], q)),
                finite(np.percentile(r.ece_draws[:, gi], 100 - q)),
            ]
            rows.append(row)
        return rows

    def _group_table(self, r: Feature) -> Table:
        cols = ["group", "n", "base_rate", "selection_rate", "sel_low", "sel_high", "accuracy"]
        cols += ["tpr", "tpr_low", "tpr_high", "fpr", "fpr_low", "fpr_high", "fnr", "precision"]
        cols += ["ece", "compared"]
        rows: list[list[Cell]] = []
        for row in self._group_rows(r):
            rows.append(
                [
                    row["group"],
                    row["n"],
                    row["base_rate"],
                    row["selection_rate"],
                    *row["selection_rate_ci"],
                    row["accuracy"],
                    row["tpr"],
                    *row["tpr_ci"],
                    row["fpr"],
                    *row["fpr_ci"],
                    row["fnr"],
                    row["precision"],
                    row["ece"],
                    row["compared"],
                ]
            )
        return Table(
            title=f"Groups of {r.name}",
            columns=cols,
            rows=rows,
            description=f"Rates per group on the {self.split} split with {self.ci_level:.0%} "
            f"bootstrap intervals ({self.n_boot} resamples). Groups with fewer than "
            f"{self.min_group_size} rows are not compared (compared = false). n/a: undefined "
            "(no positives for TPR/FNR, no negatives for FPR, no positive decisions for "
            "precision).",
        )

    def _metrics(self, results: dict[str, Feature], n: int) -> list[Metric]:
        """Aggregates as gated metrics. A feature without two comparable groups gets them with
        no value: not assessable (never a pass), with the group sizes that made it so."""
        out = []
        for name, r in results.items():
            if len(r.est.compared) < 2:
                sizes = ", ".join(
                    f"{g!r}: {int(c)}" for g, c in list(zip(r.est.groups, r.est.counts.n))[:6]
                )
                why = (
                    f"{name}: not assessable, fewer than two groups have "
                    f"{self.min_group_size}+ rows ({sizes})"
                )
                out += [
                    Metric(name=f"{_safe_name(name)}.{agg}", value=None, n=n, description=why)
                    for agg in (*AGGREGATES, "calibration_difference")
                ]
                continue
            for agg in AGGREGATES:
                lo, hi = r.est.aggregate_ci[agg]
                out.append(
                    Metric(
                        name=f"{_safe_name(name)}.{agg}",
                        value=finite(r.est.aggregate[agg]),
                        ci_low=finite(lo),
                        ci_high=finite(hi),
                        ci_level=self.ci_level,
                        ci_method=r.est.aggregate_ci_method.get(agg),
                        n=n,
                        higher_is_better=agg.endswith("ratio"),
                        unit="fraction" if not agg.endswith("ratio") else "ratio",
                        description=f"{name}: {_DESCRIPTIONS[agg]}; over groups with "
                        f"{self.min_group_size}+ rows",
                    )
                )
            out.append(
                Metric(
                    name=f"{_safe_name(name)}.calibration_difference",
                    value=r.calib_diff,
                    ci_low=r.calib_ci[0],
                    ci_high=r.calib_ci[1],
                    ci_level=self.ci_level,
                    ci_method=r.calib_ci_method,
                    n=n,
                    higher_is_better=False,
                    unit="fraction",
                    description=f"{name}: {_DESCRIPTIONS['calibration_difference']} "
                    f"({self.n_bins} bins; small groups have larger ECE from noise alone)",
                )
            )
        return out

    def _representation(
        self, target: AuditTarget, singles: list[str], pos: int, warn: list[str]
    ) -> Table:
        rows: list[list[Cell]] = []
        train = target.splits.get("train")
        test = target.split(self.split)
        for f in singles:
            te = np.asarray(test.sensitive[f], dtype=str)
            tr = (
                np.asarray(train.sensitive[f], dtype=str)
                if train is not None and f in train.sensitive
                else None
            )
            groups = sorted(set(te) | (set(tr) if tr is not None else set()))
            for g in groups:
                mte = te == g
                row = [f, g]
                if tr is not None:
                    mtr = tr == g
                    ntr = int(mtr.sum())
                    row += [
                        ntr,
                        ntr / len(tr),
                        float((train.y[mtr] == pos).mean()) if ntr else None,  # type: ignore[union-attr]
                    ]
                    if ntr == 0:
                        warn.append(
                            f"{f}={str(g)!r} appears in the {self.split} split but never in train"
                        )
                    elif ntr / len(tr) < 0.01:
                        warn.append(
                            f"{f}={str(g)!r} is {ntr / len(tr):.2%} of the train split ({ntr} rows): "
                            "the model has little data to learn this group from"
                        )
                else:
                    row += [None, None, None]
                nte = int(mte.sum())
                row += [nte, nte / len(te), float((test.y[mte] == pos).mean()) if nte else None]
                rows.append(row)
        return Table(
            title="Representation: group counts and base rates, train vs test",
            columns=[
                "feature",
                "group",
                "train_n",
                "train_share",
                "train_base_rate",
                "test_n",
                "test_share",
                "test_base_rate",
            ],
            rows=rows,
            description=f"Base rate: the share of {target.class_names[pos]} labels. A group "
            "that is rare in train, or whose base rate differs between splits, makes every "
            "rate above less reliable for it.",
        )

    def _proxies(
        self, target: AuditTarget, singles: list[str], seed: int, warn: list[str]
    ) -> tuple[Table | None, list[Metric]]:
        if target.kind != "tabular" or "train" not in target.splits:
            return None, []
        train, test = target.split("train"), target.split(self.split)
        rng = np.random.default_rng(seed)
        tr_idx = np.arange(len(train))
        if self.proxy_rows is not None and len(tr_idx) > self.proxy_rows:
            tr_idx = np.sort(rng.choice(len(tr_idx), self.proxy_rows, replace=False))
        te_idx = np.arange(len(test))
        if self.proxy_rows is not None and len(te_idx) > self.proxy_rows:
            te_idx = np.sort(rng.choice(len(te_idx), self.proxy_rows, replace=False))
        names = list(target.feature_names)
        source = [n.split("=", 1)[0] for n in names]
        sens_cols = set(singles)
        columns: dict[str, list[int]] = {}
        for i, s in enumerate(source):
            if s not in sens_cols:
                columns.setdefault(s, []).append(i)
        if not columns:
            return None, []

        def auc(ytr: np.ndarray, yte: np.ndarray, cols: list[int]) -> float | None:
            return proxy_auc(train.X[tr_idx][:, cols], ytr, test.X[te_idx][:, cols], yte)

        rows: list[list[Cell]] = []
        metrics = []
        for f in singles:
            if f not in train.sensitive:
                continue
            ytr = np.asarray(train.sensitive[f], dtype=str)[tr_idx]
            yte = np.asarray(test.sensitive[f], dtype=str)[te_idx]
            if len(np.unique(ytr)) < 2:
                continue
            scores = {col: auc(ytr, yte, idx) for col, idx in columns.items()}
            everything = auc(ytr, yte, sorted(i for idx in columns.values() for i in idx))
            ranked = sorted(((v, k) for k, v in scores.items() if v is not None), reverse=True)
            for v, k in ranked[:6]:
                rows.append([f, k, v])
            rows.append([f, "(all non-sensitive features)", everything])
            metrics.append(
                Metric(
                    name=f"{_safe_name(f)}.proxy_auc",
                    value=everything,
                    n=len(te_idx),
                    higher_is_better=False,
                    unit="AUC",
                    description=f"how well the non-sensitive features together predict {f} "
                    "(logistic regression, macro one-vs-rest AUC on held-out rows; 0.5 = not "
                    "at all). High: leaving the attribute out does not blind the model",
                )
            )
            strong = [k for v, k in ranked if v >= 0.8]
            if strong:
                warn.append(
                    f"strong proxies of {f} (AUC >= 0.8 alone): {', '.join(strong[:5])}; a "
                    "model can discriminate through them even without the attribute"
                )
        if not rows:
            return None, []
        table = Table(
            title="Proxy scan: how well each feature predicts a sensitive attribute",
            columns=["sensitive", "feature", "auc"],
            rows=rows,
            description=f"A logistic regression per original column (one-hot columns together) "
            f"fitted on {len(tr_idx)} train rows, AUC on {len(te_idx)} {self.split} rows "
            "(macro one-vs-rest for several groups). Top six per attribute, then all "
            "non-sensitive features together.",
        )
        return table, metrics

    def _decision_columns(
        self, target: AuditTarget, split: Any, singles: list[str], y: np.ndarray, seed: int
    ) -> list[Table]:
        declared = target.data_info.get("annotations", {}).get("decision_columns") or []
        tables = []
        for col in declared:
            if col not in split.extras:
                continue
            d = np.asarray(split.extras[col]).astype(int)
            rows: list[list[Cell]] = []
            for f in singles:
                est = estimate(
                    y,
                    d,
                    split.sensitive[f],
                    n_boot=self.n_boot,
                    ci_level=self.ci_level,
                    seed=seed,
                    min_group_size=self.min_group_size,
                )
                for gi, g in enumerate(est.groups):
                    if g not in est.compared:
                        continue
                    rows.append(
                        [
                            f,
                            g,
                            int(est.counts.n[gi]),
                            finite(est.group_rates["fpr"][gi]),
                            finite(est.group_ci["fpr"][gi, 0]),
                            finite(est.group_ci["fpr"][gi, 1]),
                            finite(est.group_rates["fnr"][gi]),
                            finite(est.group_rates["precision"][gi]),
                        ]
                    )
            tables.append(
                Table(
                    title=f"The data set's own decisions: {col}",
                    columns=[
                        "feature",
                        "group",
                        "n",
                        "fpr",
                        "fpr_low",
                        "fpr_high",
                        "fnr",
                        "precision",
                    ],
                    rows=rows,
                    description=f"The same rates for the decisions recorded in the data "
                    f"('{col}' = 1 is a positive decision), on the {self.split} split, for "
                    "comparison with the audited model.",
                )
            )
        return tables

    def _mitigate(
        self,
        target: AuditTarget,
        singles: list[str],
        pos: int,
        positive_is_favorable: bool,
        seed: int,
        warn: list[str],
    ) -> tuple[str | None, list[Any]]:
        if target.num_classes != 2:
            warn.append("mitigations are applied to two-class models only; none were run")
            return None, []
        feature = self.mitigation_feature or target.data_info.get("annotations", {}).get(
            "primary_sensitive"
        )
        if feature is None or feature not in singles:
            if self.mitigation_feature is not None:
                raise InvalidConfigError(
                    f"mitigation_feature {self.mitigation_feature!r} is not an audited "
                    f"sensitive feature with two or more groups ({singles})"
                )
            feature = singles[0]
        for s in ("train", "val", self.split):
            sp = target.splits.get(s)
            if sp is not None and feature not in sp.sensitive:
                warn.append(f"mitigations need {feature!r} in the {s} split; none were run")
                return None, []

        def score(X: np.ndarray) -> np.ndarray:
            return target.model.predict_proba(X)[:, pos]

        def decide(X: np.ndarray) -> np.ndarray:
            return self._decide(target.model.predict_proba(X), pos, target)[0]

        rows = run_mitigations(
            target,
            feature=feature,
            positive=pos,
            score=score,
            decide=decide,
            methods=self.mitigations,
            constraint=self.mitigation_constraint,
            train_rows=self.mitigation_rows,
            epochs=self.refit_epochs,
            eg_max_iter=self.eg_max_iter,
            split=self.split,
            seed=seed,
            n_boot=self.n_boot,
            ci_level=self.ci_level,
            min_group_size=self.min_group_size,
            positive_is_favorable=positive_is_favorable,
        )
        return feature, rows
