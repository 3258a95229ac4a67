"""The ``performance`` check: accuracy with its uncertainty, per-class errors, calibration, and
the train-test gap."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_fscore_support,
)

from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.stats import (
    calibration_bins,
    expected_calibration_error,
    wilson_interval,
)
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.performance import analysis, plots
from rai_audit.models.options import CI_LEVEL, Int, Maybe, Text, option
from rai_audit.reports.schema import Metric, PerformanceResult, ReliabilityBin, Table

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": {"max_samples": 50_000},
    "thorough": {"max_samples": None},
}


@dataclass(frozen=True, kw_only=True)
class PerformanceCheck(
    MeasuredCheck["PerformanceMeasurement", "PerformanceJudgement", PerformanceResult]
):
    """Predictive performance of the model on a split.

    Attributes:
        split: the split to evaluate (``test``).
        n_bins: equal-width confidence bins for calibration (ECE, reliability diagram).
        max_samples: evaluate at most this many rows of each split (seeded subsample); None = all.
        ci_level: confidence level of the accuracy interval (Wilson).
    """

    name = "performance"
    metric_leaves = frozenset(
        (
            "accuracy",
            "balanced_accuracy",
            "brier",
            "ece",
            "inverted_labels",
            "log_loss",
            "macro_f1",
            "mce",
            "roc_auc",
            "test_above_train",
            "train_accuracy",
            "train_test_gap",
            "train_test_overlap",
        )
    )
    title = "Performance"
    order = 0
    budgets = _BUDGETS

    split: str = option("test", Text(nonempty=True, what="split name"))
    n_bins: int = option(15, Int(2, 100))
    max_samples: int | None = option(5000, Maybe(Int(10), "every row"))
    ci_level: float = option(0.95, CI_LEVEL)

    def skip_reason(self, target: AuditTarget) -> str | None:
        if self.split not in target.splits:
            return f"the target has no {self.split!r} split"
        return None

    def _rows(self, n: int, seed: int) -> np.ndarray:
        if self.max_samples is None or n <= self.max_samples:
            return np.arange(n)
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(n, size=self.max_samples, replace=False))

    def measure(self, target: AuditTarget, *, seed: int) -> PerformanceMeasurement:
        """The model's probabilities on (a seeded sample of) the split, and its train-split
        predictions for the gap."""
        split = target.split(self.split)
        rows = self._rows(len(split), seed)
        train = None
        if "train" in target.splits and self.split != "train":
            tr = target.split("train")
            trows = self._rows(len(tr), seed + 1)
            train = (tr.y[trows], target.model.predict(tr.X[trows]))
        overlap = None
        if "train" in target.splits and self.split != "train":
            observed, null = split_overlap(target.split("train").X, split.X, seed=seed + 2)
            overlap = (observed, len(split), null)
        return PerformanceMeasurement(
            y=split.y[rows],
            proba=target.model.predict_proba(split.X[rows]),
            train=train,
            overlap=overlap,
            class_names=tuple(target.class_names),
            data_name=target.data_name,
            history=target.model_info.history or [],
            split_source=str(target.data_info.get("split_source", "")),
        )

    def judge(self, m: PerformanceMeasurement) -> PerformanceJudgement:
        """Accuracy with its Wilson interval, balanced accuracy, F1, calibration, AUC and the
        train-test gap; needs no model (the pieces are :mod:`audit.performance.analysis`)."""
        y, proba = m.y, m.proba
        labels = list(range(len(m.class_names)))
        pred = proba.argmax(axis=1)
        n = len(y)
        correct = int((pred == y).sum())
        acc = correct / n
        lo, hi = wilson_interval(correct, n, self.ci_level)
        prec, rec, f1, support = precision_recall_fscore_support(
            y, pred, labels=labels, zero_division=np.nan
        )
        ece = expected_calibration_error(proba, y, self.n_bins)
        metrics = [
            *analysis.accuracy_metrics(y, pred, self.ci_level, self.split),
            analysis.macro_f1_metric(f1, labels, y),
            *analysis.calibration_metrics(proba, y, self.n_bins, ece),
            analysis.roc_auc_metric(proba, y),
        ]
        warnings: list[str] = []
        train_acc = None
        if m.train is not None:
            train_acc = float((m.train[1] == m.train[0]).mean())
            metrics += analysis.gap_metrics(m.train, correct, n, self.ci_level)
        not_assessed: list[str] = []
        if m.train is None and self.split != "train":
            not_assessed.append(analysis.unassessed_gap(m.split_source, warnings))
        if m.overlap is not None:
            metrics.append(analysis.overlap_metric(m.overlap, self.split, acc, train_acc, warnings))
        if len(labels) == 2:  # two classes read the other way round: about the label coding
            metrics.append(
                analysis.inverted_labels_metric(
                    correct, n, self.ci_level, m.class_names[1], warnings
                )
            )
        missing = [m.class_names[c] for c in labels if c not in set(np.unique(y).tolist())]
        if missing:
            warnings.append(f"classes absent from the {self.split} split: {missing}")
        gap_text = f", {train_acc - acc:+.1%} below train" if train_acc is not None else ""
        return PerformanceJudgement(
            metrics=metrics,
            warnings=warnings,
            per_class=analysis.per_class_table(m.class_names, prec, rec, f1, support),
            confusion=confusion_matrix(y, pred, labels=labels),
            bins=calibration_bins(proba, y, self.n_bins),
            ece=ece,
            summary=f"Accuracy {acc:.1%} ({self.ci_level:.0%} CI {lo:.1%}-{hi:.1%}) on {n} "
            f"{self.split} rows{gap_text}; ECE {ece:.3f}.",
            not_assessed=not_assessed,
        )

    def render(
        self, m: PerformanceMeasurement, j: PerformanceJudgement, artifacts: Artifacts
    ) -> PerformanceResult:
        figures = [
            artifacts.figure(
                plots.reliability_diagram(
                    j.bins, j.ece, f"Reliability, {m.data_name} {self.split}"
                ),
                "reliability",
                "Reliability diagram: accuracy against confidence per bin",
            ),
            artifacts.figure(
                plots.confusion_matrix_figure(
                    j.confusion, list(m.class_names), f"Confusion matrix ({self.split})"
                ),
                "confusion_matrix",
                "Confusion matrix, rows normalized, counts in cells",
            ),
        ]
        if m.history:
            figures.append(
                artifacts.figure(
                    plots.training_curves(m.history, "Training history"),
                    "training_curves",
                    "Loss and accuracy per epoch (train and validation)",
                )
            )
        return self.result(
            PerformanceResult,
            j,
            tables=[j.per_class],
            figures=figures,
            not_assessed=j.not_assessed,
            class_names=list(m.class_names),
            confusion_matrix=j.confusion.astype(int).tolist(),
            reliability=[ReliabilityBin(**b) for b in j.bins],
        )


def _row_keys(X: np.ndarray) -> list[bytes]:
    flat = np.ascontiguousarray(np.asarray(X, dtype=np.float32).reshape(len(X), -1)) + 0.0
    return [hashlib.sha1(r.tobytes()).digest() for r in flat]  # -0.0 and 0.0 alike


def _matches(keys: list[bytes], train: np.ndarray, evaluated: np.ndarray) -> int:
    seen = {keys[i] for i in train}
    return sum(keys[i] in seen for i in evaluated)


def split_overlap(
    train: np.ndarray, evaluated: np.ndarray, *, seed: int, permutations: int = 39
) -> tuple[int, np.ndarray]:
    """Evaluated rows whose inputs exactly repeat a train row (like Deepchecks' train-test
    samples mix), and the same count under random re-splits of the same rows.

    Rows with coarse features repeat by nature (distinct people, identical records: 18% of
    Adult's test rows match a train row under a random split), so the count alone cannot tell
    a leaking split from duplicated people; the re-splits give what a split that does not leak
    would show.

    Returns:
        ``(observed, null)``: the count, and ``permutations`` counts after randomly re-dealing
        the train and evaluated rows into splits of the same sizes.
    """
    keys = _row_keys(np.concatenate([train, evaluated]))
    n_tr = len(train)
    observed = _matches(keys, np.arange(n_tr), np.arange(n_tr, len(keys)))
    rng = np.random.default_rng(seed)
    null = np.empty(permutations, dtype=np.int64)
    for p in range(permutations):
        order = rng.permutation(len(keys))
        null[p] = _matches(keys, order[:n_tr], order[n_tr:])
    return observed, null


@dataclass(frozen=True)
class PerformanceMeasurement:
    """The model's outputs: ``proba`` ``(n, K)`` on the evaluated rows with labels ``y``;
    ``train`` (labels, predictions) on a sample of the train split, or None."""

    y: np.ndarray
    proba: np.ndarray
    train: tuple[np.ndarray, np.ndarray] | None
    class_names: tuple[str, ...]
    data_name: str
    history: Sequence[Mapping[str, Any]]
    #: (evaluated rows repeating a train row, evaluated rows, the same count under re-splits)
    overlap: tuple[int, int, np.ndarray] | None = None
    #: where the split came from, in words (``DataBundle.split_source``)
    split_source: str = ""


@dataclass(frozen=True)
class PerformanceJudgement:
    metrics: list[Metric]
    warnings: list[str]
    per_class: Table
    confusion: np.ndarray
    bins: list[dict[str, Any]]
    ece: float
    summary: str
    not_assessed: list[str]
