"""The ``performance`` check: accuracy with its uncertainty, per-class errors, calibration, and
the train-test gap."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.stats import (
    calibration_bins,
    difference_interval,
    expected_calibration_error,
    max_calibration_error,
    wilson_interval,
)
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.performance import plots
from rai_audit.models.options import CI_LEVEL, Int, Maybe, Text, option
from rai_audit.reports.schema import Metric, PerformanceResult, ReliabilityBin, Table

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": {"max_samples": 50_000},
    "thorough": {"max_samples": None},
}


def _none_if_nan(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    with warnings.catch_warnings():  # absent classes are reported as an audit warning instead
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y, pred))


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
        train-test gap; needs no model."""
        y, proba = m.y, m.proba
        k = len(m.class_names)
        labels = list(range(k))
        pred = proba.argmax(axis=1)
        n = len(y)
        correct = int((pred == y).sum())
        acc = correct / n
        lo, hi = wilson_interval(correct, n, self.ci_level)
        present = np.unique(y)
        metrics = [
            Metric(
                name="accuracy",
                value=acc,
                ci_low=lo,
                ci_high=hi,
                ci_level=self.ci_level,
                ci_method="wilson",
                n=n,
                higher_is_better=True,
                unit="fraction",
                description=f"share of correct top-1 predictions on the {self.split} split",
            ),
            Metric(
                name="balanced_accuracy",
                value=_balanced_accuracy(y, pred),
                n=n,
                higher_is_better=True,
                unit="fraction",
                description="mean recall over the classes present (robust to imbalance)",
            ),
        ]
        prec, rec, f1, support = precision_recall_fscore_support(
            y, pred, labels=labels, zero_division=np.nan
        )
        macro_f1 = np.nanmean(f1[np.isin(labels, present)]) if len(present) else np.nan
        metrics.append(
            Metric(
                name="macro_f1",
                value=_none_if_nan(macro_f1),
                n=n,
                higher_is_better=True,
                unit="fraction",
                description="unweighted mean F1 over classes present",
            )
        )
        ece = expected_calibration_error(proba, y, self.n_bins)
        clipped = np.clip(proba, 1e-15, 1.0)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        metrics += [
            Metric(
                name="ece",
                value=ece,
                n=n,
                higher_is_better=False,
                unit="fraction",
                description=f"expected calibration error, {self.n_bins} equal-width bins "
                "(Guo et al., 2017)",
            ),
            Metric(
                name="mce",
                value=max_calibration_error(proba, y, self.n_bins),
                n=n,
                higher_is_better=False,
                unit="fraction",
                description="largest calibration gap of any non-empty bin",
            ),
            Metric(
                name="log_loss",
                value=float(log_loss(y, clipped, labels=labels)),
                n=n,
                higher_is_better=False,
                unit="nats",
                description="mean negative log-likelihood of the true class",
            ),
            Metric(
                name="brier",
                value=float(np.mean(np.sum((proba - np.eye(k)[y]) ** 2, axis=1))),
                n=n,
                higher_is_better=False,
                description="multi-class Brier score: mean squared error of the probabilities",
            ),
        ]
        auc: float | None = None
        if len(present) == k:
            auc = float(
                roc_auc_score(y, proba[:, 1])
                if k == 2
                else roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
            )
        metrics.append(
            Metric(
                name="roc_auc",
                value=auc,
                n=n,
                higher_is_better=True,
                description="area under the ROC curve (one-vs-rest macro for "
                "several classes); undefined if a class is absent",
            )
        )
        warnings: list[str] = []
        train_acc = None
        if m.train is not None:
            train_y, train_pred = m.train
            train_acc = float((train_pred == train_y).mean())
            metrics += [
                Metric(
                    name="train_accuracy",
                    value=train_acc,
                    n=len(train_y),
                    higher_is_better=True,
                    unit="fraction",
                    description="accuracy on the train split (the data the model was fit on)",
                ),
                Metric(
                    name="train_test_gap",
                    value=train_acc - acc,
                    higher_is_better=False,
                    unit="fraction",
                    description="train accuracy minus test accuracy: overfitting, and a "
                    "first sign of membership leakage",
                    method="train split",
                ),
            ]
            _, above_low, above_high = difference_interval(
                correct, n, int((train_pred == train_y).sum()), len(train_y), self.ci_level
            )
            metrics.append(
                Metric(
                    name="test_above_train",
                    value=above_low,
                    n=n,
                    higher_is_better=False,
                    unit="fraction",
                    description=f"how far test accuracy is at least above train accuracy: the "
                    f"lower end of the {self.ci_level:.0%} interval of test minus train "
                    f"accuracy (Newcombe's hybrid score; upper end {above_high:+.3f}). A model "
                    "scores better on the rows it was fit on, so above 0 means the train split "
                    "is likely not what it was fit on, and what rests on that split (the "
                    "train-test gap) cannot be read",
                    about="method",
                    method="train split",
                )
            )
        not_assessed: list[str] = []
        if m.train is None and self.split != "train":
            why = (
                "no rows are known to be what the model was fit on"
                + (f" ({m.split_source})" if m.split_source else "")
                + "; declare the split to measure it: a split column (--split-column), or the "
                "training rows as a file of their own (--train) beside the test file"
            )
            not_assessed.append(f"train_test_gap and train_test_overlap: {why}")
            if "every row is evaluation data" in m.split_source:
                warnings.append(
                    "no split was declared, so every row was evaluated: if the model was "
                    "trained on any of these rows, its accuracy here is optimistic; declare "
                    "the split (--split-column, --train/--test files or --split-file)"
                )
        if m.overlap is not None:
            shared, n_eval, null = m.overlap
            excess = (shared - null.mean()) / n_eval
            metrics.append(
                Metric(
                    name="train_test_overlap",
                    value=float(excess),
                    ci_low=float((shared - np.quantile(null, 0.975)) / n_eval),
                    ci_high=float((shared - np.quantile(null, 0.025)) / n_eval),
                    ci_level=0.95,
                    ci_method=f"{len(null)} random re-splits of the same rows",
                    n=n_eval,
                    higher_is_better=False,
                    unit="fraction",
                    description=f"share of the {self.split} rows whose inputs exactly repeat a "
                    f"train row ({shared} of {n_eval}), beyond what random splits of the same "
                    f"rows give ({null.mean():.1f} on average: people with identical records): "
                    "above 0, the split leaks training rows into the evaluation",
                )
            )
            if excess > 0.01 and shared > np.max(null):
                warnings.append(
                    f"{shared} of {n_eval} {self.split} rows repeat a train row exactly, against "
                    f"{null.mean():.0f} under random splits of the same rows: the split leaks; "
                    "evaluate on rows the model never saw"
                )
            if train_acc is not None and acc - train_acc > 0.05:
                warnings.append(
                    f"test accuracy {acc:.1%} is well above train accuracy {train_acc:.1%}: the "
                    "declared train split may not be what the model was fit on"
                )
        if k == 2:  # two classes read the other way round: a caveat about the label coding
            flipped = n - correct
            f_lo, f_hi = wilson_interval(flipped, n, self.ci_level)
            metrics.append(
                Metric(
                    name="inverted_labels",
                    value=flipped / n,
                    ci_low=f_lo,
                    ci_high=f_hi,
                    ci_level=self.ci_level,
                    ci_method="wilson",
                    n=n,
                    higher_is_better=False,
                    unit="fraction",
                    description="accuracy if the model's two classes are read the other way "
                    "round: above 0.5 with its whole interval means the accuracy is below "
                    "chance, and the labels are likely inverted (the model's class 0 is the "
                    "data's class 1); check the label coding before reading any figure",
                    about="method",
                    method="label coding",
                )
            )
            if f_lo > 0.5:
                warnings.append(
                    f"accuracy {acc:.1%} is below chance on a two-class task (read the other way "
                    f"round: {flipped / n:.1%}); the labels are likely inverted: check which "
                    f"class is {m.class_names[1]!r} in the model and in the data"
                )
        missing = [m.class_names[c] for c in labels if c not in set(present.tolist())]
        if missing:
            warnings.append(f"classes absent from the {self.split} split: {missing}")
        cm = confusion_matrix(y, pred, labels=labels)
        bins = calibration_bins(proba, y, self.n_bins)
        per_class = Table(
            title="Per-class precision, recall and F1",
            columns=["class", "precision", "recall", "f1", "support"],
            rows=[
                [
                    m.class_names[c],
                    _none_if_nan(prec[c]),
                    _none_if_nan(rec[c]),
                    _none_if_nan(f1[c]),
                    int(support[c]),
                ]
                for c in labels
            ],
            description="n/a where the class was never predicted (precision) or never present.",
        )
        gap_text = f", {train_acc - acc:+.1%} below train" if train_acc is not None else ""
        summary = (
            f"Accuracy {acc:.1%} ({self.ci_level:.0%} CI {lo:.1%}-{hi:.1%}) on {n} {self.split} rows"
            f"{gap_text}; ECE {ece:.3f}."
        )
        return PerformanceJudgement(
            metrics=metrics,
            warnings=warnings,
            per_class=per_class,
            confusion=cm,
            bins=bins,
            ece=ece,
            summary=summary,
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
