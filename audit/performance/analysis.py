"""The performance check's judging, as pure functions: arrays and counts in, metrics, warnings
and tables out. Nothing here touches a model, so each piece is tested on hand-made numbers
(``tests/test_judging.py``, ``tests/test_performance.py``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score, log_loss, roc_auc_score

from rai_audit.audit.core.stats import (
    accuracy_metric,
    difference_interval,
    max_calibration_error,
    wilson_interval,
)
from rai_audit.reports.schema import Metric, Table


def none_if_nan(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    with warnings.catch_warnings():  # absent classes are reported as an audit warning instead
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y, pred))


def accuracy_metrics(y: np.ndarray, pred: np.ndarray, ci_level: float, split: str) -> list[Metric]:
    """Accuracy with its Wilson interval, and balanced accuracy."""
    n = len(y)
    correct = int((pred == y).sum())
    return [
        accuracy_metric(
            "accuracy",
            correct / n,
            correct,
            n,
            ci_level,
            f"share of correct top-1 predictions on the {split} split",
        ),
        Metric(
            name="balanced_accuracy",
            value=balanced_accuracy(y, pred),
            n=n,
            higher_is_better=True,
            unit="fraction",
            description="mean recall over the classes present (robust to imbalance)",
        ),
    ]


def macro_f1_metric(f1: np.ndarray, labels: Sequence[int], y: np.ndarray) -> Metric:
    present = np.unique(y)
    value = np.nanmean(f1[np.isin(labels, present)]) if len(present) else np.nan
    return Metric(
        name="macro_f1",
        value=none_if_nan(value),
        n=len(y),
        higher_is_better=True,
        unit="fraction",
        description="unweighted mean F1 over classes present",
    )


def calibration_metrics(proba: np.ndarray, y: np.ndarray, n_bins: int, ece: float) -> list[Metric]:
    """ECE (given), the largest bin gap, log loss and the Brier score."""
    n, k = proba.shape
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return [
        Metric(
            name="ece",
            value=ece,
            n=n,
            higher_is_better=False,
            unit="fraction",
            description=f"expected calibration error, {n_bins} equal-width bins (Guo et al., 2017)",
        ),
        Metric(
            name="mce",
            value=max_calibration_error(proba, y, n_bins),
            n=n,
            higher_is_better=False,
            unit="fraction",
            description="largest calibration gap of any non-empty bin",
        ),
        Metric(
            name="log_loss",
            value=float(log_loss(y, clipped, labels=list(range(k)))),
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


def roc_auc_metric(proba: np.ndarray, y: np.ndarray) -> Metric:
    """ROC AUC (one-vs-rest macro for several classes); None if a class is absent."""
    k = proba.shape[1]
    labels = list(range(k))
    auc: float | None = None
    if len(np.unique(y)) == k:
        auc = float(
            roc_auc_score(y, proba[:, 1])
            if k == 2
            else roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
        )
    return Metric(
        name="roc_auc",
        value=auc,
        n=len(y),
        higher_is_better=True,
        description="area under the ROC curve (one-vs-rest macro for "
        "several classes); undefined if a class is absent",
    )


def gap_metrics(
    train: tuple[np.ndarray, np.ndarray], correct: int, n: int, ci_level: float
) -> list[Metric]:
    """Train accuracy, the train-test gap, and the caveat that test accuracy is clearly above
    train accuracy (the lower end of the interval of their difference)."""
    train_y, train_pred = train
    train_acc = float((train_pred == train_y).mean())
    _, above_low, above_high = difference_interval(
        correct, n, int((train_pred == train_y).sum()), len(train_y), ci_level
    )
    return [
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
            value=train_acc - correct / n,
            higher_is_better=False,
            unit="fraction",
            description="train accuracy minus test accuracy: overfitting, and a "
            "first sign of membership leakage",
            method="train split",
        ),
        Metric(
            name="test_above_train",
            value=above_low,
            n=n,
            higher_is_better=False,
            unit="fraction",
            description=f"how far test accuracy is at least above train accuracy: the "
            f"lower end of the {ci_level:.0%} interval of test minus train "
            f"accuracy (Newcombe's hybrid score; upper end {above_high:+.3f}). A model "
            "scores better on the rows it was fit on, so above 0 means the train split "
            "is likely not what it was fit on, and what rests on that split (the "
            "train-test gap) cannot be read",
            about="method",
            method="train split",
        ),
    ]


def unassessed_gap(split_source: str, warn: list[str]) -> str:
    """Why the train-test gap and overlap could not be measured (no known train rows); warns,
    into ``warn``, that accuracy is optimistic when every row was evaluated."""
    why = (
        "no rows are known to be what the model was fit on"
        + (f" ({split_source})" if split_source else "")
        + "; declare the split to measure it: a split column (--split-column), or the "
        "training rows as a file of their own (--train) beside the test file"
    )
    if "every row is evaluation data" in split_source:
        warn.append(
            "no split was declared, so every row was evaluated: if the model was "
            "trained on any of these rows, its accuracy here is optimistic; declare "
            "the split (--split-column, --train/--test files or --split-file)"
        )
    return f"train_test_gap and train_test_overlap: {why}"


def overlap_metric(
    overlap: tuple[int, int, np.ndarray],
    split: str,
    acc: float,
    train_acc: float | None,
    warn: list[str],
) -> Metric:
    """The share of evaluated rows that repeat a train row beyond what random re-splits give;
    warns, into ``warn``, when the split leaks or test accuracy is well above train."""
    shared, n_eval, null = overlap
    excess = (shared - null.mean()) / n_eval
    if excess > 0.01 and shared > np.max(null):
        warn.append(
            f"{shared} of {n_eval} {split} rows repeat a train row exactly, against "
            f"{null.mean():.0f} under random splits of the same rows: the split leaks; "
            "evaluate on rows the model never saw"
        )
    if train_acc is not None and acc - train_acc > 0.05:
        warn.append(
            f"test accuracy {acc:.1%} is well above train accuracy {train_acc:.1%}: the "
            "declared train split may not be what the model was fit on"
        )
    return Metric(
        name="train_test_overlap",
        value=float(excess),
        ci_low=float((shared - np.quantile(null, 0.975)) / n_eval),
        ci_high=float((shared - np.quantile(null, 0.025)) / n_eval),
        ci_level=0.95,
        ci_method=f"{len(null)} random re-splits of the same rows",
        n=n_eval,
        higher_is_better=False,
        unit="fraction",
        description=f"share of the {split} rows whose inputs exactly repeat a "
        f"train row ({shared} of {n_eval}), beyond what random splits of the same "
        f"rows give ({null.mean():.1f} on average: people with identical records): "
        "above 0, the split leaks training rows into the evaluation",
    )


def inverted_labels_metric(
    correct: int, n: int, ci_level: float, positive_name: str, warn: list[str]
) -> Metric:
    """On two classes, accuracy read the other way round (a caveat about the label coding);
    warns, into ``warn``, when it is above chance with its whole interval."""
    flipped = n - correct
    f_lo, f_hi = wilson_interval(flipped, n, ci_level)
    if f_lo > 0.5:
        warn.append(
            f"accuracy {correct / n:.1%} is below chance on a two-class task (read the other "
            f"way round: {flipped / n:.1%}); the labels are likely inverted: check which "
            f"class is {positive_name!r} in the model and in the data"
        )
    return Metric(
        name="inverted_labels",
        value=flipped / n,
        ci_low=f_lo,
        ci_high=f_hi,
        ci_level=ci_level,
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


def per_class_table(
    class_names: Sequence[str],
    prec: np.ndarray,
    rec: np.ndarray,
    f1: np.ndarray,
    support: np.ndarray,
) -> Table:
    return Table(
        title="Per-class precision, recall and F1",
        columns=["class", "precision", "recall", "f1", "support"],
        rows=[
            [
                class_names[c],
                none_if_nan(prec[c]),
                none_if_nan(rec[c]),
                none_if_nan(f1[c]),
                int(support[c]),
            ]
            for c in range(len(class_names))
        ],
        description="n/a where the class was never predicted (precision) or never present.",
    )
