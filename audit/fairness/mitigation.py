"""Fairness mitigations, evaluated on held-out data against the same metrics as the audit.

Three families (all from fairlearn or the literature it implements), each fitted on data the
test split never saw:

- ``threshold_optimizer`` (post-processing, Hardt et al., 2016): fairlearn's
  ``ThresholdOptimizer`` on the audited model's own scores, fitted on the ``val`` split. It needs
  the sensitive feature at prediction time and its decisions are randomized.
- ``reweighing`` (pre-processing, Kamiran and Calders, 2012): the model is refit on the train
  split with weights that make the label independent of the group.
- ``exponentiated_gradient`` (reductions, Agarwal et al., 2018): fairlearn's
  ``ExponentiatedGradient`` refits the model many times under a fairness constraint.

The refit methods retrain a freshly initialized copy of the audited model (same layers, same
recipe; a scikit-learn model is cloned), capped in rows and epochs by the budget. Their accuracy
cost is measured against a ``refit baseline`` trained the same way without mitigation, so the
cost of the cap is not charged to the mitigation.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import has_fit_parameter
from torch import nn

from rai_audit.audit.core.adapters import SklearnAdapter, TorchAdapter
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.fairness.metrics import AGGREGATES, estimate, reweighing_weights
from rai_audit.models.datasets import DataBundle, Split
from rai_audit.models.training import TrainConfig, predict_logits, train_model
from rai_audit.reports.schema import MitigationRow

POOLED = "(small groups pooled)"
CONSTRAINTS = ("equalized_odds", "demographic_parity")


class _Prefit(BaseEstimator, ClassifierMixin):
    """The audited model as a fitted scikit-learn classifier over binary labels (1 = positive)."""

    def __init__(self, proba: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.proba = proba

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _Prefit:  # never refit
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self.proba(np.asarray(X, dtype=np.float32))  # type: ignore[misc]
        return np.stack([1 - p, p], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

    def __sklearn_is_fitted__(self) -> bool:
        return True


def _reinit(module: nn.Module, seed: int) -> nn.Module:
    """A copy of ``module`` with every learnable layer re-initialized (buffers such as the
    normalization constants kept)."""
    fresh = copy.deepcopy(module).cpu()
    torch.manual_seed(seed)
    owners: set[int] = set()
    for m in fresh.modules():
        if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
            m.reset_parameters()
            owners.update(id(p) for p in m.parameters(recurse=False))
    orphans = [n for n, p in fresh.named_parameters() if id(p) not in owners]
    if orphans:
        raise ValueError(
            f"parameters {orphans[:3]} belong to no layer with reset_parameters(), so the model "
            "cannot be re-initialized for a refit"
        )
    return fresh


class TorchRefit(BaseEstimator, ClassifierMixin):
    """A scikit-learn classifier that trains a fresh copy of a torch model (binary labels).

    ``fit(X, y, sample_weight)`` re-initializes ``template`` with ``seed`` and trains it with
    :func:`~models.training.train_model` (weighted loss, early stopping on ``val``).
    """

    def __init__(
        self,
        template: nn.Module | None = None,
        config: TrainConfig | None = None,
        val: tuple[np.ndarray, np.ndarray] | None = None,
        seed: int = 0,
        device: str = "auto",
        input_shape: tuple[int, ...] = (),
    ) -> None:
        self.template = template
        self.config = config
        self.val = val
        self.seed = seed
        self.device = device
        self.input_shape = input_shape

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TorchRefit:
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(np.int64)
        shape = tuple(self.input_shape) or X.shape[1:]
        model = _reinit(self.template, self.seed)  # type: ignore[arg-type]
        Xv, yv = self.val if self.val is not None else (X, y)
        data = DataBundle(
            name="refit",
            kind="tabular" if len(shape) == 1 else "image",
            splits={
                "train": Split(X=X.reshape(-1, *shape), y=y, indices=np.arange(len(y))),
                "val": Split(X=Xv.reshape(-1, *shape), y=yv, indices=np.arange(len(yv))),
            },
            feature_names=(),
            class_names=("0", "1"),
            input_shape=shape,
            domain_low=(),
            domain_high=(),
            sensitive_in_features={},
            preprocessing={},
            split_seed=0,
            sha256="",
        )
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights is not None and weights.sum() <= 0:
            weights = None
        train_model(
            model,
            data,
            self.config or TrainConfig(),
            device=self.device,
            progress=False,
            sample_weight=weights,
        )
        self.model_ = model
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if self.input_shape:
            X = X.reshape(-1, *self.input_shape)
        z = predict_logits(self.model_, X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def refit_config(target: AuditTarget, epochs: int | None, seed: int) -> TrainConfig:
    """The audited model's recipe (if recorded), capped at ``epochs``, without adversarial
    training or distillation (those are robustness defenses, not what is being mitigated)."""
    names = {f.name for f in fields(TrainConfig)}
    recorded = {k: v for k, v in dict(target.model_info.train_config).items() if k in names}
    cfg = TrainConfig(**recorded) if recorded else TrainConfig(epochs=20, batch_size=128, lr=1e-3)
    updates: dict[str, Any] = {"adv_eps": 0.0, "temperature": 1.0, "seed": seed}
    if epochs is not None:
        updates["epochs"] = min(cfg.epochs, epochs)
    return TrainConfig(**{**{f.name: getattr(cfg, f.name) for f in fields(cfg)}, **updates})


def refit_estimator(target: AuditTarget, epochs: int | None, seed: int, val: Any) -> Any:
    """An unfitted estimator of the audited model's family, or a string saying why not."""
    adapter = target.model
    if isinstance(adapter, SklearnAdapter):
        if not has_fit_parameter(adapter.estimator, "sample_weight"):
            return f"{type(adapter.estimator).__name__}.fit takes no sample_weight"
        return clone(adapter.estimator)
    if isinstance(adapter, TorchAdapter):
        if isinstance(adapter.module, torch.jit.ScriptModule):
            return "a TorchScript model cannot be re-initialized and refit"
        try:
            _reinit(adapter.module, seed)
        except (ValueError, RuntimeError, TypeError) as exc:
            return str(exc)
        return TorchRefit(
            adapter.module,
            refit_config(target, epochs, seed),
            val,
            seed,
            str(adapter.torch_device),
            tuple(target.input_shape),
        )
    return f"{type(adapter).__name__} models cannot be refit"


@dataclass(frozen=True)
class Evaluation:
    """Decisions on the test split, scored the way the audit scores the model."""

    accuracy: float
    metrics: dict[str, float | None]


def evaluate(
    y_pos: np.ndarray,
    pred: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int,
    ci_level: float,
    seed: int,
    min_group_size: int,
    positive_is_favorable: bool,
) -> Evaluation:
    est = estimate(
        y_pos,
        pred,
        groups,
        n_boot=n_boot,
        ci_level=ci_level,
        seed=seed,
        min_group_size=min_group_size,
        positive_is_favorable=positive_is_favorable,
    )
    metrics: dict[str, float | None] = {
        k: (None if not np.isfinite(est.aggregate[k]) else float(est.aggregate[k]))
        for k in AGGREGATES
    }
    lo, hi = est.aggregate_ci["equalized_odds_difference"]
    metrics["equalized_odds_difference_ci_low"] = lo if np.isfinite(lo) else None
    metrics["equalized_odds_difference_ci_high"] = hi if np.isfinite(hi) else None
    metrics["selection_rate"] = float(np.mean(pred))
    return Evaluation(accuracy=float(np.mean(pred == y_pos)), metrics=metrics)


@dataclass(frozen=True)
class MitigationInputs:
    """What a mitigation may use. Labels are binary (1 = the positive class); group values are
    pooled where groups are too small to fit on (``pool_note`` says which).

    Attributes:
        target: the audited target.
        feature: the sensitive feature mitigated for.
        positive: the positive class index.
        constraint: ``equalized_odds`` or ``demographic_parity``.
        score: inputs -> P(positive) of the audited model.
        X_test, s_test: the evaluated split, flattened, and its pooled groups.
        pooled: group values -> pooled group values.
        seed, eg_max_iter: seeds and the ExponentiatedGradient budget.
        estimator: an unfitted copy of the audited model (refits only).
        X_train, y_train, s_train: the capped refit rows (refits only).
        cap, pool_note: text for the notes.
    """

    target: AuditTarget
    feature: str
    positive: int
    constraint: str
    score: Callable[[np.ndarray], np.ndarray]
    X_test: np.ndarray
    s_test: np.ndarray
    pooled: Callable[[np.ndarray], np.ndarray]
    seed: int
    eg_max_iter: int
    pool_note: str = ""
    estimator: Any = None
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    s_train: np.ndarray | None = None
    cap: str = ""


class Mitigation:
    """Base of the mitigations; ``apply`` returns the decisions on ``X_test`` and a note.

    Attributes:
        name: registry name.
        title: how reports name it.
        family: ``post-processing``, ``pre-processing`` or ``reductions``.
        refits: it trains a fresh copy of the model (then a like-for-like refit baseline runs
            first, and its accuracy is the reference for the cost).
        needs_sensitive_at_decision: it needs the sensitive feature to decide.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    family: ClassVar[str]
    refits: ClassVar[bool] = False
    needs_sensitive_at_decision: ClassVar[bool] = False

    def apply(self, m: MitigationInputs) -> tuple[np.ndarray, str]:
        raise NotImplementedError


#: name -> mitigation class, in the order the audit applies them.
MITIGATIONS: dict[str, type[Mitigation]] = {}


def register(cls: type[Mitigation]) -> type[Mitigation]:
    MITIGATIONS[cls.name] = cls
    return cls


def _train(m: MitigationInputs) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    if m.estimator is None or m.X_train is None or m.y_train is None or m.s_train is None:
        raise ValueError("a refit mitigation needs the estimator and the refit rows")
    return m.estimator, m.X_train, m.y_train, m.s_train


@register
class ThresholdOptimizerMitigation(Mitigation):
    """fairlearn's ``ThresholdOptimizer`` (Hardt et al., 2016) on the model's own scores."""

    name = "threshold_optimizer"
    title = "ThresholdOptimizer (post-processing)"
    family = "post-processing"
    needs_sensitive_at_decision = True

    def apply(self, m: MitigationInputs) -> tuple[np.ndarray, str]:
        from fairlearn.postprocessing import ThresholdOptimizer  # noqa: PLC0415

        target = m.target
        fit_split = "val" if "val" in target.splits else "train"
        fs = target.split(fit_split)
        to = ThresholdOptimizer(
            estimator=_Prefit(lambda X: m.score(X.reshape(-1, *target.input_shape))),
            constraints=m.constraint,
            objective="accuracy_score",
            prefit=True,
            predict_method="predict_proba",
        )
        to.fit(
            fs.X.reshape(len(fs), -1),
            (fs.y == m.positive).astype(int),
            sensitive_features=m.pooled(fs.sensitive[m.feature]),
        )
        pred = to.predict(m.X_test, sensitive_features=m.s_test, random_state=m.seed)
        note = (
            f"{m.constraint}; fitted on the {fit_split} split; group-specific (randomized) "
            "thresholds on the model's scores; needs the sensitive feature at decision "
            f"time{m.pool_note}"
        )
        return np.asarray(pred), note


@register
class Reweighing(Mitigation):
    """Kamiran and Calders (2012): refit with weights that make the label independent of the
    group."""

    name = "reweighing"
    title = "Reweighing (pre-processing)"
    family = "pre-processing"
    refits = True

    def apply(self, m: MitigationInputs) -> tuple[np.ndarray, str]:
        est, X, y, s = _train(m)
        model = clone(est).fit(X, y, sample_weight=reweighing_weights(y, s))
        note = (
            f"targets demographic parity: Kamiran-Calders weights P(g)P(y)/P(g,y) on "
            f"{m.feature}; {m.cap}{m.pool_note}"
        )
        return model.predict(m.X_test), note


@register
class ExponentiatedGradientMitigation(Mitigation):
    """fairlearn's ``ExponentiatedGradient`` (Agarwal et al., 2018) under the constraint."""

    name = "exponentiated_gradient"
    title = "ExponentiatedGradient (reductions)"
    family = "reductions"
    refits = True

    def apply(self, m: MitigationInputs) -> tuple[np.ndarray, str]:
        from fairlearn.reductions import (  # noqa: PLC0415
            DemographicParity,
            EqualizedOdds,
            ExponentiatedGradient,
        )

        est, X, y, s = _train(m)
        moment = EqualizedOdds() if m.constraint == "equalized_odds" else DemographicParity()
        eg = ExponentiatedGradient(clone(est), constraints=moment, max_iter=m.eg_max_iter)
        with warnings.catch_warnings():  # fairlearn 0.15's own pandas deprecations
            warnings.filterwarnings("ignore", message="Setting a value on a Series")
            eg.fit(X, y, sensitive_features=s)
        pred = eg.predict(m.X_test, random_state=m.seed)
        note = (
            f"{m.constraint} constraint, {len(eg.predictors_)} refits (max_iter "
            f"{m.eg_max_iter}); randomized over its models; {m.cap}{m.pool_note}"
        )
        return np.asarray(pred), note


def run_mitigations(
    target: AuditTarget,
    *,
    feature: str,
    positive: int,
    score: Callable[[np.ndarray], np.ndarray],
    decide: Callable[[np.ndarray], np.ndarray],
    methods: tuple[str, ...],
    constraint: str,
    train_rows: int | None,
    epochs: int | None,
    eg_max_iter: int,
    split: str,
    seed: int,
    n_boot: int,
    ci_level: float,
    min_group_size: int,
    positive_is_favorable: bool,
    progress: Callable[[str], None] | None = None,
) -> list[MitigationRow]:
    """Apply each of ``methods`` (names in :data:`MITIGATIONS`) and score it on ``split`` for
    ``feature``.

    ``score`` maps inputs to P(positive) of the audited model and ``decide`` maps them to its
    binary decisions. The first row is the audited model itself; a refit baseline precedes the
    refitting mitigations.
    """
    test = target.split(split)
    y_test = (test.y == positive).astype(int)
    s_test = np.asarray(test.sensitive[feature], dtype=str)
    X_test = test.X.reshape(len(test), -1)
    # Groups too small to fit group-specific thresholds or constraints on (in any split the
    # mitigations learn from) are pooled into one group for fitting and deciding; the scores
    # below still use the original groups.
    learn = [target.split(s) for s in ("train", "val") if s in target.splits]
    sizes = [
        dict(zip(*np.unique(np.asarray(sp.sensitive[feature], dtype=str), return_counts=True)))
        for sp in learn
    ]
    small = sorted(
        str(g)
        for g in {g for sz in sizes for g, n in sz.items() if n < min_group_size}
        | (set(s_test) - {g for sz in sizes for g in sz})
    )

    def pooled(values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=str)
        return np.where(np.isin(v, small), POOLED, v) if small else v

    pool_note = f"; groups {small} pooled for fitting" if small else ""

    def score_row(name: str, pred: np.ndarray, t0: float, base: float | None, note: str) -> Any:
        ev = evaluate(
            y_test,
            np.asarray(pred).astype(int),
            s_test,
            n_boot=n_boot,
            ci_level=ci_level,
            seed=seed,
            min_group_size=min_group_size,
            positive_is_favorable=positive_is_favorable,
        )
        return MitigationRow(
            method=name,
            accuracy=ev.accuracy,
            accuracy_cost=None if base is None else base - ev.accuracy,
            metrics=ev.metrics,
            wall_time_s=time.perf_counter() - t0,
            note=note,
        )

    def skipped(name: str, why: str) -> MitigationRow:
        return MitigationRow(method=name, status="skipped", note=why)

    def failed(name: str, exc: Exception) -> MitigationRow:
        return MitigationRow(method=name, status="error", note=f"{type(exc).__name__}: {exc}")

    def attempt(name: str, inputs: MitigationInputs, base: float) -> MitigationRow:
        tick(name)
        t0 = time.perf_counter()
        try:
            pred, note = MITIGATIONS[name]().apply(inputs)
        except Exception as exc:  # fairlearn raises plain ValueErrors on degenerate groups
            return failed(name, exc)
        return score_row(name, pred, t0, base, note)

    tick = progress or (lambda _m: None)
    t0 = time.perf_counter()
    original = score_row("audited model", decide(test.X), t0, None, "the model as audited")
    rows = [original]
    inputs = MitigationInputs(
        target=target,
        feature=feature,
        positive=positive,
        constraint=constraint,
        score=score,
        X_test=X_test,
        s_test=pooled(s_test),
        pooled=pooled,
        seed=seed,
        eg_max_iter=eg_max_iter,
        pool_note=pool_note,
    )
    planned = [n for n in MITIGATIONS if n in methods]
    for name in planned:
        if not MITIGATIONS[name].refits:
            rows.append(attempt(name, inputs, original.accuracy))

    refit_methods = [n for n in planned if MITIGATIONS[n].refits]
    if not refit_methods:
        return rows
    train = target.split("train") if "train" in target.splits else None
    if train is None:
        return rows + [
            skipped(m, "the target has no train split to refit on") for m in refit_methods
        ]
    if target.num_classes != 2:
        return rows + [skipped(m, "refits need a two-class model") for m in refit_methods]
    rng = np.random.default_rng(seed)
    idx = np.arange(len(train))
    if train_rows is not None and len(idx) > train_rows:
        idx = np.sort(rng.choice(len(idx), size=train_rows, replace=False))
    X_tr = train.X[idx].reshape(len(idx), -1)
    y_tr = (train.y[idx] == positive).astype(int)
    s_tr = pooled(train.sensitive[feature])[idx]
    val = None
    if "val" in target.splits:
        v = target.split("val")
        val = (v.X.reshape(len(v), -1), (v.y == positive).astype(np.int64))
    est = refit_estimator(target, epochs, seed, val)
    if isinstance(est, str):
        return rows + [skipped(m, est) for m in refit_methods]
    cap = f"{len(idx)} train rows" + (f", at most {epochs} epochs" if epochs else "")

    tick("refit baseline")
    t0 = time.perf_counter()
    try:
        baseline = clone(est).fit(X_tr, y_tr)
        base_row = score_row(
            "refit baseline",
            baseline.predict(X_test),
            t0,
            original.accuracy,
            f"the same model refit without mitigation ({cap}): the reference for the refits' "
            "accuracy cost",
        )
    except Exception as exc:
        return (
            rows
            + [failed("refit baseline", exc)]
            + [skipped(m, "the refit baseline failed") for m in refit_methods]
        )
    rows.append(base_row)
    refit = dataclasses.replace(
        inputs, estimator=est, X_train=X_tr, y_train=y_tr, s_train=s_tr, cap=cap
    )
    for name in refit_methods:
        rows.append(attempt(name, refit, base_row.accuracy))
    return rows
