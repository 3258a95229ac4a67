"""The ``explainability`` check: explanations, and measurements of how far each can be trusted.

For each method that applies (gradient methods need a torch model; Grad-CAM needs a
convolution; permutation SHAP is for tabular rows; LIME works for everything):

- faithfulness: deletion and insertion areas against a random order on the same inputs
  (``deletion_gain = random AUC - AUC``, ``insertion_gain = AUC - random AUC``; > 0 beats random);
- sanity (Adebayo et al., 2018), against a null: the tie-free rank correlation of the trained
  model's explanation with each of several randomized models', next to every pair of randomized
  models' with each other; ``sanity_excess`` = trained-vs-random minus the null, with a t
  interval over inputs *and* randomizations (:func:`audit.core.stats.crossed_mean_interval`).
  Its whole interval below ``-SANITY_MARGIN``: the method is sensitive to the model. Otherwise
  it is not shown sensitive here, a caveat: what rests on it is inconclusive at best. The
  cascading and independent-layer curves show where the explanation stops changing;
- stability: rank correlation under small input noise, and across seeds for sampling methods;
- completeness (IG) and additivity (SHAP) errors, relative to the output difference explained;
  LIME's surrogate R^2;
- for data sets annotated with a spurious marker: reliance on it measured causally (remove it
  from its class, paste it on the others: findings), and the share of attribution inside it
  per method (where the model looks).

A method that cannot run (no convolution, not differentiable, unknown layer) becomes an error row
naming the fix, and the other methods still run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rai_audit.audit.core.adapters import TorchAdapter
from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.stats import (
    crossed_mean_interval,
    mean_interval,
    paired_difference_interval,
    wilson_interval,
)
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.explainability import plots as explain_plots
from rai_audit.explain.base import EXPLAINERS, Explainer, Explanation, ModelView
from rai_audit.explain.metrics import (
    Randomization,
    deletion_insertion,
    feature_scores,
    marker_intervention,
    marker_share,
    model_randomization,
    random_scores,
    rowwise_spearman,
)
from rai_audit.models.errors import AuditError
from rai_audit.models.options import Int, Names, Real, Text, option
from rai_audit.reports.schema import (
    Artifact,
    CurvePoint,
    ExplainabilityResult,
    ExplainerSummary,
    Metric,
    Table,
)

#: How far below the null a method's ``sanity_excess`` interval must lie for the method to count
#: as sensitive to the model (the default policy's bound on it is ``max: -SANITY_MARGIN``).
SANITY_MARGIN = 0.05

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": dict(
        n_explain=64,
        n_background=100,
        ig_steps=32,
        eg_samples=100,
        lime_samples=1000,
        shap_max_evals=500,
        deletion_steps=20,
        sanity_inputs=16,
        sanity_randomizations=4,
        sanity_layers=0,
        stability_inputs=16,
    ),
    "thorough": dict(
        n_explain=256,
        n_background=200,
        ig_steps=64,
        eg_samples=200,
        lime_samples=2000,
        shap_max_evals=1000,
        deletion_steps=32,
        sanity_inputs=32,
        sanity_randomizations=6,
        sanity_layers=0,
        stability_inputs=32,
    ),
}


#: method -> {its own argument: the option of this check that sets it}; a method not named
#: here runs with its own defaults (the methods never name the audit's options)
METHOD_SETTINGS: dict[str, dict[str, str]] = {
    "integrated_gradients": {"n_steps": "ig_steps"},
    "lime": {"num_samples": "lime_samples"},
    "shap_permutation": {"max_evals": "shap_max_evals", "n_background": "n_background"},
    "expected_gradients": {"n_samples": "eg_samples"},
    "gradcam": {"target_layer": "target_layer"},
    "gradcam++": {"target_layer": "target_layer"},
}


@dataclass(frozen=True, kw_only=True)
class ExplainabilityCheck(
    MeasuredCheck["ExplainabilityMeasurement", "ExplainabilityJudgement", ExplainabilityResult]
):
    """Explanations and their quality.

    Attributes:
        methods: method names to run (see ``explain.EXPLAINERS``); empty = every one that applies.
        split: the split whose rows are explained.
        n_explain: rows explained (seeded; wrong predictions are included when there are any).
        n_background: train rows used as SHAP background and removal baseline.
        ig_steps, eg_samples, lime_samples, shap_max_evals: method budgets
            (``shap_max_evals`` 0 = the minimum, ``2 * n_features + 1``).
        deletion_steps: points on the deletion and insertion curves.
        sanity_inputs: rows for the randomization sanity check (0 disables it).
        sanity_layers: layers of the per-layer curves, from the top (0 = all).
        sanity_randomizations: independently randomized copies of the model in the sanity
            test (at least 3: every pair of them makes the null).
        stability_inputs: rows for the noise and seed stability measures (0 disables them).
        noise: standard deviation of the stability noise, as a share of each feature's range.
        target_layer: Grad-CAM layer name ("" = the last convolutional block).
    """

    name = "explainability"
    metric_leaves = frozenset(
        (
            "accuracy_drop",
            "additivity_error",
            "completeness_error",
            "deletion_auc",
            "deletion_gain",
            "flip_rate",
            "insertion_auc",
            "insertion_gain",
            "marker_share",
            "noise_stability",
            "sanity_excess",
            "sanity_kept_share",
            "sanity_null_rank_correlation",
            "sanity_null_ssim",
            "sanity_rank_correlation",
            "sanity_signed_rank_correlation",
            "sanity_ssim",
            "seed_stability",
            "surrogate_r2",
        )
    )
    title = "Explainability"
    order = 10
    budgets = _BUDGETS

    methods: tuple[str, ...] = option((), Names(lambda: EXPLAINERS))
    split: str = option("test", Text(nonempty=True, what="split name"))
    n_explain: int = option(12, Int(1))
    n_background: int = option(32, Int(1))
    ig_steps: int = option(16, Int(2))
    eg_samples: int = option(128, Int(1))
    lime_samples: int = option(200, Int(10))
    shap_max_evals: int = option(0, Int(0))
    deletion_steps: int = option(10, Int(2))
    sanity_inputs: int = option(8, Int(0))
    sanity_layers: int = option(2, Int(0))
    sanity_randomizations: int = option(3, Int(3))
    stability_inputs: int = option(6, Int(0))
    noise: float = option(0.02, Real(0.0, 0.5))
    target_layer: str = option("", Text(what="layer name"))

    def skip_reason(self, target: AuditTarget) -> str | None:
        if self.split not in target.splits:
            return f"the target has no {self.split!r} split"
        return None

    # ------------------------------------------------------------------ configuration

    def _explainer(self, name: str, n_features: int) -> Explainer:
        config = self.config()
        settings = {own: config[ours] for own, ours in METHOD_SETTINGS.get(name, {}).items()}
        return EXPLAINERS[name].configured(n_features=n_features, **settings)

    def _plan(self, target: AuditTarget) -> list[tuple[str, str | None]]:
        """(method, reason it cannot run or None) for every method to attempt.

        With the default method list, methods for the other data kind are left out, and gradient
        methods on a non-differentiable model are listed with the reason; with an explicit list,
        every method that cannot run is an error naming the fix.
        """
        names = list(self.methods) or list(EXPLAINERS)
        plan = []
        for n in names:
            cls = EXPLAINERS[n]
            reason = None
            kind_mismatch = target.kind not in cls.data_kinds
            if cls.requires in ("gradients", "conv") and not target.model.differentiable:
                agnostic = _names(lambda c: c.requires == "predict" and target.kind in c.data_kinds)
                reason = (
                    f"{n} needs gradients, but this model is not a differentiable torch "
                    f"module; the model-agnostic methods {agnostic} apply"
                )
            elif cls.requires == "conv" and isinstance(
                getattr(target.model, "module", None), torch.jit.ScriptModule
            ):
                reason = (
                    f"{n} needs forward hooks on a layer, which TorchScript modules do not "
                    "support; audit the network as a checkpoint or as .safetensors with --arch "
                    "to get it"
                )
            elif kind_mismatch:
                reason = (
                    f"{n} explains {' and '.join(cls.data_kinds)} inputs, not {target.kind} ones; "
                    f"for {target.kind} inputs use {_names(lambda c: target.kind in c.data_kinds)}"
                )
            if reason is None or self.methods or not kind_mismatch:
                plan.append((n, reason))
        return plan

    # ------------------------------------------------------------------ run

    def measure(self, target: AuditTarget, *, seed: int) -> ExplainabilityMeasurement:
        """Each planned method's attributions on the same rows, with faithfulness (deletion and
        insertion against a random order), stability, the randomization sanity check and the
        share on a planted marker."""
        rows_in, y = self._rows(target, seed)
        X, targets, marker, marker_X = rows_in.X, rows_in.targets, rows_in.marker, rows_in.marker_X
        n_features = int(np.prod(target.input_shape))
        metrics: list[Metric] = []
        summaries: list[ExplainerSummary] = []
        explanations: dict[str, Explanation] = {}
        deletion_curves: dict[str, np.ndarray] = {}
        insertion_curves: dict[str, np.ndarray] = {}
        sanity_curves: dict[str, list[tuple[str, float]]] = {}
        independent_curves: dict[str, list[tuple[str, float]]] = {}
        shares: dict[str, float] = {}
        marker_attr: dict[str, np.ndarray] = {}
        if marker and target.kind == "image":
            split = target.split(self.split)
            train = target.split("train") if "train" in target.splits else split
            metrics += _marker_metrics(target, split, self.split, train, marker)
        for name, reason in self._plan(target):
            if reason is not None:
                summaries.append(
                    ExplainerSummary(
                        method=name, status="error" if self.methods else "skipped", error=reason
                    )
                )
                continue
            explainer = self._explainer(name, n_features)
            t0 = time.perf_counter()
            try:
                exp = explainer.explain(rows_in.view, X, targets, seed=seed)
            except (AuditError, RuntimeError, ValueError) as exc:
                summaries.append(
                    ExplainerSummary(
                        method=name, status="error", error=f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            wall = time.perf_counter() - t0
            ran = self._method_run(name, explainer, exp, rows_in)
            explanations[name] = exp
            deletion_curves[name], insertion_curves[name] = ran.deletion, ran.insertion
            metrics += ran.metrics
            if ran.sanity is not None:
                sanity_curves[name] = ran.sanity.cascading
                independent_curves[name] = ran.sanity.independent
            if ran.share is not None and ran.marker_attr is not None:
                shares[name], marker_attr[name] = ran.share, ran.marker_attr
            summaries.append(
                ExplainerSummary(
                    method=name,
                    status="ok",
                    wall_time_s=wall,
                    n_explained=len(X),
                    detail=ran.detail,
                )
            )

        return ExplainabilityMeasurement(
            kind=target.kind,
            class_names=tuple(target.class_names),
            feature_names=tuple(target.feature_names),
            X=X,
            y=y,
            targets=targets,
            rand=rows_in.rand,
            explanations=explanations,
            deletion_curves=deletion_curves,
            insertion_curves=insertion_curves,
            sanity_curves=sanity_curves,
            independent_curves=independent_curves,
            marker=marker if marker_X is not None else None,
            marker_X=marker_X,
            marker_attr=marker_attr,
            shares=shares,
            summaries=summaries,
            metrics=metrics,
            warnings=[],
        )

    def _rows(self, target: AuditTarget, seed: int) -> tuple[_Rows, np.ndarray]:
        """The audited rows (a seeded pick, some misclassified), their labels, the background
        and baseline, a random order's deletion and insertion curves, and the images that carry
        a planted marker."""
        rng = np.random.default_rng(seed)
        split = target.split(self.split)
        proba_all = target.model.predict_proba(split.X)
        pred_all = proba_all.argmax(axis=1)
        rows = _pick_rows(pred_all == split.y, self.n_explain, rng)
        X = split.X[rows]
        targets = pred_all[rows]
        train = target.split("train") if "train" in target.splits else split
        bg_rows = rng.choice(len(train), min(self.n_background, len(train)), replace=False)
        background = train.X[np.sort(bg_rows)]
        view = _view(target, background)
        base = (
            np.zeros_like(X)
            if target.kind == "image"
            else np.broadcast_to(background.mean(axis=0), X.shape).astype(np.float32)
        )
        rand = deletion_insertion(
            view.predict_proba,
            X,
            random_scores((len(X), _n_scores(X)), seed),
            targets,
            base,
            steps=self.deletion_steps,
        )
        marker = (target.data_info.get("annotations") or {}).get("marker")
        marker_X = None
        if marker and target.kind == "image":
            marked = split.y == int(marker["class"])
            marker_X = split.X[marked][: max(self.n_explain, 8)]
        rows_in = _Rows(target, view, X, targets, base, rand, seed, marker, marker_X)
        return rows_in, split.y[rows]

    def _method_run(
        self, name: str, explainer: Explainer, exp: Explanation, r: _Rows
    ) -> _MethodRun:
        """One method's measures on the audited rows, given its explanation ``exp``:
        deletion and insertion against a random order, its own diagnostics, stability,
        the randomization sanity check and the share on a planted marker."""
        curves = deletion_insertion(
            r.view.predict_proba,
            r.X,
            feature_scores(exp.attributions),
            r.targets,
            r.base,
            steps=self.deletion_steps,
        )
        m = _metric_factory(name, len(r.X))
        metrics = [
            m(
                "deletion_auc",
                curves.deletion_auc,
                False,
                "area under the deletion curve (probability as top features are removed)",
            ),
            m(
                "insertion_auc",
                curves.insertion_auc,
                True,
                "area under the insertion curve (probability as top features are added)",
            ),
            m(
                "deletion_gain",
                r.rand.deletion_auc - curves.deletion_auc,
                True,
                "random-order deletion AUC minus this method's: > 0 beats random",
            ),
            m(
                "insertion_gain",
                curves.insertion_auc - r.rand.insertion_auc,
                True,
                "this method's insertion AUC minus random order's: > 0 beats random",
            ),
        ]
        metrics += [
            m(d.name, d.value, d.higher_is_better, d.description)
            for d in explainer.diagnostics(exp, r.view, r.X, r.targets)
        ]
        metrics += self._stability(explainer, exp, r, m)
        ran = _MethodRun(
            deletion=curves.deletion.mean(axis=0),
            insertion=curves.insertion.mean(axis=0),
            metrics=metrics,
            detail=dict(explainer.details(exp)),
        )
        n_san = min(self.sanity_inputs, len(r.X))
        if n_san and isinstance(r.target.model, TorchAdapter):
            ran.sanity = _sanity(
                explainer,
                r.view,
                r.X[:n_san],
                r.targets[:n_san],
                r.seed,
                self.sanity_randomizations,
                self.sanity_layers or None,
            )
            metrics += _sanity_metrics(name, ran.sanity, n_san)
        if r.marker is not None and r.marker_X is not None and len(r.marker_X):
            self._marker_run(explainer, r, r.marker, r.marker_X, m, ran)
        return ran

    def _stability(self, explainer: Explainer, exp: Explanation, r: _Rows, m: Any) -> list[Metric]:
        """Rank stability under input noise, and across two seeds for a stochastic method."""
        n_stab = min(self.stability_inputs, len(r.X))
        if not n_stab:
            return []
        noisy = _perturb(r.X[:n_stab], r.target, self.noise, r.seed)
        again = explainer.explain(r.view, noisy, r.targets[:n_stab], seed=r.seed)
        rho = rowwise_spearman(
            feature_scores(exp.attributions[:n_stab]), feature_scores(again.attributions)
        )
        out = [
            m(
                "noise_stability",
                float(rho.mean()),
                True,
                f"Spearman correlation of feature rankings under noise of "
                f"{self.noise:.0%} of each feature's range",
                n=n_stab,
            )
        ]
        if explainer.stochastic:
            other = explainer.explain(r.view, r.X[:n_stab], r.targets[:n_stab], seed=r.seed + 1)
            rho = rowwise_spearman(
                feature_scores(exp.attributions[:n_stab]),
                feature_scores(other.attributions),
            )
            out.append(
                m(
                    "seed_stability",
                    float(rho.mean()),
                    True,
                    "Spearman correlation of feature rankings across two seeds",
                    n=n_stab,
                )
            )
        return out

    def _marker_run(
        self,
        explainer: Explainer,
        r: _Rows,
        marker: dict[str, Any],
        marker_X: np.ndarray,
        m: Any,
        ran: _MethodRun,
    ) -> None:
        """The share of the method's attribution inside the planted marker, on images of the
        class that carries it (into ``ran``)."""
        mt = np.full(len(marker_X), int(marker["class"]))
        mexp = explainer.explain(r.view, marker_X, mt, seed=r.seed)
        mask = _region_mask(r.target.input_shape, marker["region"])
        ran.share = float(marker_share(mexp.attributions, mask).mean())
        ran.marker_attr = mexp.attributions[0]
        ran.metrics.append(
            m(
                "marker_share",
                ran.share,
                False,
                f"share of |attribution| inside the planted marker "
                f"({mask.mean():.1%} of the image) on class "
                f"{marker['class']} images",
                n=len(marker_X),
                about="model",
            )
        )

    def judge(self, m: ExplainabilityMeasurement) -> ExplainabilityJudgement:
        """Which methods ran, failed or beat a random order; the method table, the cascading
        randomization table and the global importance; needs no model."""
        warnings = list(m.warnings)
        summaries, metrics, sanity_curves = m.summaries, m.metrics, m.sanity_curves
        if not m.explanations:
            warnings.append("no explanation method could run on this model; see the method table")
        failed = [s for s in summaries if s.status == "error"]
        for s in failed:
            warnings.append(f"{s.method} did not run: {s.error}")
        importance = (
            _global_importance(m.explanations, m.feature_names) if m.kind == "tabular" else []
        )
        tables = [_method_table(summaries, metrics)]
        for title, curves in (
            (
                "Cascading randomization: rank correlation after randomizing down to layer",
                sanity_curves,
            ),
            (
                "Independent randomization: rank correlation after randomizing that layer alone",
                m.independent_curves,
            ),
        ):
            if curves:
                layers = max(curves.values(), key=len)
                tables.append(
                    Table(
                        title=title,
                        columns=["layer", *curves],
                        rows=[
                            [layer] + [c[i][1] if i < len(c) else None for c in curves.values()]
                            for i, (layer, _) in enumerate(layers)
                        ],
                    )
                )
        if importance:
            tables.append(
                Table(
                    title="Global feature importance (mean |SHAP value|)",
                    columns=["feature", "mean |SHAP|"],
                    rows=[[k, v] for k, v in importance],
                )
            )
        return ExplainabilityJudgement(
            warnings=warnings,
            tables=tables,
            importance=importance,
            summary=_summary(summaries, metrics, m.shares),
        )

    def render(
        self, m: ExplainabilityMeasurement, j: ExplainabilityJudgement, artifacts: Artifacts
    ) -> ExplainabilityResult:
        figures = self._figures(m, artifacts)
        steps = self.deletion_steps
        fr = np.linspace(0, 1, steps + 1)
        arrays = []
        if m.explanations:  # per-input attributions, for the dashboard's side-by-side view
            arrays.append(
                artifacts.arrays(
                    "attributions",
                    "Explained inputs, labels, predicted classes and each method's attributions "
                    "(attr_<method>)",
                    inputs=m.X,
                    labels=m.y,
                    targets=m.targets,
                    feature_names=np.asarray(m.feature_names, dtype=str),
                    **{f"attr_{k}": e.attributions for k, e in m.explanations.items()},
                )
            )
        return self.result(
            ExplainabilityResult,
            j,
            arrays=arrays,
            metrics=m.metrics,
            figures=figures,
            methods=m.summaries,
            sanity={
                k: [CurvePoint(x=i + 1, y=v) for i, (_, v) in enumerate(c)]
                for k, c in m.sanity_curves.items()
            },
            sanity_independent={
                k: [CurvePoint(x=i + 1, y=v) for i, (_, v) in enumerate(c)]
                for k, c in m.independent_curves.items()
            },
            deletion={
                k: [CurvePoint(x=float(a), y=float(b)) for a, b in zip(fr, c)]
                for k, c in m.deletion_curves.items()
            },
            insertion={
                k: [CurvePoint(x=float(a), y=float(b)) for a, b in zip(fr, c)]
                for k, c in m.insertion_curves.items()
            },
            global_importance=[{"feature": k, "mean_abs_shap": v} for k, v in j.importance],
        )

    def _figures(self, m: ExplainabilityMeasurement, artifacts: Artifacts) -> list[Artifact]:
        explanations, rand = m.explanations, m.rand
        deletion_curves, insertion_curves = m.deletion_curves, m.insertion_curves
        sanity_curves, marker_X, marker_attr = m.sanity_curves, m.marker_X, m.marker_attr
        shares, marker = m.shares, m.marker
        figures = []
        if m.kind == "image" and explanations:
            figures.append(_overlay_figure(m, artifacts))
        if m.kind == "tabular":
            figures += _shap_figures(m, artifacts)
        if deletion_curves:
            fr = np.linspace(0, 1, self.deletion_steps + 1)
            figures.append(
                artifacts.figure(
                    explain_plots.faithfulness_curves(
                        fr,
                        deletion_curves,
                        insertion_curves,
                        rand.deletion.mean(axis=0),
                        rand.insertion.mean(axis=0),
                    ),
                    "faithfulness",
                    "Deletion and insertion curves against a random order",
                )
            )
        if sanity_curves:
            figures.append(
                artifacts.figure(
                    explain_plots.sanity_plot(
                        sanity_curves,
                        m.independent_curves,
                        {
                            k: next(
                                (
                                    x.value
                                    for x in m.metrics
                                    if x.name == f"{k}.sanity_null_rank_correlation"
                                ),
                                None,
                            )
                            for k in sanity_curves
                        },
                    ),
                    "sanity",
                    "Model randomization: cascading and independent layers, against the null",
                )
            )
        if marker is not None and marker_X is not None and marker_attr:
            figures.append(
                artifacts.figure(
                    explain_plots.marker_figure(marker_X[0], marker_attr, shares, marker["region"]),
                    "marker",
                    "Attribution inside the planted marker, per method",
                )
            )
        return figures


# ---------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Rows:
    """The audited rows and what every method's measures share."""

    target: AuditTarget
    view: ModelView
    X: np.ndarray
    targets: np.ndarray
    base: np.ndarray
    rand: Any
    seed: int
    marker: dict[str, Any] | None
    marker_X: np.ndarray | None


@dataclass
class _MethodRun:
    """What one method gave: mean deletion and insertion curves, its metrics and details, and
    (where they ran) its sanity check and marker share."""

    deletion: np.ndarray
    insertion: np.ndarray
    metrics: list[Metric]
    detail: dict[str, Any]
    sanity: Randomization | None = None
    share: float | None = None
    marker_attr: np.ndarray | None = None


@dataclass(frozen=True)
class ExplainabilityMeasurement:
    """What the methods produced on the explained rows ``X`` (labels ``y``, explained classes
    ``targets``): attributions, mean deletion and insertion curves (and a random order's,
    ``rand``), sanity curves, the planted marker's share per method, each method's status and
    its measures as metrics (``<method>.<measure>``)."""

    kind: str
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    targets: np.ndarray
    rand: Any
    explanations: dict[str, Explanation]
    deletion_curves: dict[str, np.ndarray]
    insertion_curves: dict[str, np.ndarray]
    sanity_curves: dict[str, list[tuple[str, float]]]
    independent_curves: dict[str, list[tuple[str, float]]]
    marker: dict[str, Any] | None
    marker_X: np.ndarray | None
    marker_attr: dict[str, np.ndarray]
    shares: dict[str, float]
    summaries: list[ExplainerSummary]
    metrics: list[Metric]
    warnings: list[str]


@dataclass(frozen=True)
class ExplainabilityJudgement:
    warnings: list[str]
    tables: list[Table]
    importance: list[tuple[str, float]]
    summary: str


def _overlay_figure(m: ExplainabilityMeasurement, artifacts: Artifacts) -> Artifact:
    """Inputs with every overlay method's attributions: correct predictions, then wrong ones."""
    X, y, targets, explanations = m.X, m.y, m.targets, m.explanations
    wrong = np.flatnonzero(targets != y)[:2]
    right = np.flatnonzero(targets == y)[: 6 - len(wrong)]
    order = np.r_[right, wrong].astype(int)
    ranked = sorted(
        (EXPLAINERS[k].overlay_rank, k)
        for k in explanations
        if EXPLAINERS[k].overlay_rank is not None
    )
    shown = {k: explanations[k].attributions[order] for _, k in ranked}
    labels = [
        f"true {m.class_names[y[i]]}, pred {m.class_names[targets[i]]}"
        + ("" if y[i] == targets[i] else " (wrong)")
        for i in order
    ]
    return artifacts.figure(
        explain_plots.overlay_grid(X[order], shown, labels, "Explanations of the predicted class"),
        "overlays",
        "Inputs with Grad-CAM, Integrated Gradients, SHAP and LIME overlays; "
        "correct predictions first, then wrong ones",
    )


def _shap_figures(m: ExplainabilityMeasurement, artifacts: Artifacts) -> list[Artifact]:
    """The SHAP beeswarm and the global importance, for tabular data with a SHAP method."""
    shap_name = _shap_method(m.explanations)
    if not shap_name:
        return []
    e = m.explanations[shap_name]
    return [
        artifacts.figure(
            explain_plots.beeswarm(
                e.attributions,
                m.X,
                m.feature_names,
                f"SHAP summary ({explain_plots.label(shap_name)})",
            ),
            "shap_beeswarm",
            "SHAP summary: per-row impact of the top features",
        ),
        artifacts.figure(
            explain_plots.importance_bars(
                _global_importance({shap_name: e}, m.feature_names),
                "Global importance (mean |SHAP|)",
            ),
            "global_importance",
            "Global feature importance, mean |SHAP value|",
        ),
    ]


def _pick_rows(correct: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` rows, about a quarter of them wrong predictions when there are some."""
    wrong = np.flatnonzero(~correct)
    right = np.flatnonzero(correct)
    n_wrong = min(len(wrong), max(1, n // 4) if len(wrong) else 0)
    n_right = min(len(right), n - n_wrong)
    picked = np.r_[
        rng.choice(right, n_right, replace=False) if n_right else [],
        rng.choice(wrong, n_wrong, replace=False) if n_wrong else [],
    ]
    return np.sort(picked.astype(int))


def _n_scores(X: np.ndarray) -> int:
    return X.shape[2] * X.shape[3] if X.ndim == 4 else int(np.prod(X.shape[1:]))


def _view(target: AuditTarget, background: np.ndarray) -> ModelView:
    module = target.model.module if isinstance(target.model, TorchAdapter) else None
    device = (
        target.model.torch_device if isinstance(target.model, TorchAdapter) else torch.device("cpu")
    )
    return ModelView(
        predict_proba=target.model.predict_proba,
        module=module,
        background=background,
        kind=target.kind,
        device=device,
        feature_names=tuple(target.feature_names),
    )


def _perturb(X: np.ndarray, target: AuditTarget, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 7919)
    low = target.domain_low.reshape(target.input_shape)
    high = target.domain_high.reshape(target.input_shape)
    span = np.maximum(high - low, 1e-6)
    return np.clip(X + rng.normal(size=X.shape) * noise * span, low, high).astype(np.float32)


def _sanity(
    explainer: Explainer,
    view: ModelView,
    X: np.ndarray,
    targets: np.ndarray,
    seed: int,
    randomizations: int,
    max_layers: int | None,
) -> Randomization:
    def explain_with(module: torch.nn.Module) -> np.ndarray:
        adapter = TorchAdapter(module, device=view.device)
        v = dataclasses.replace(view, predict_proba=adapter.predict_proba, module=module)
        return explainer.explain(v, X, targets, seed=seed).attributions

    return model_randomization(
        view.require_module("the sanity check"),
        explain_with,
        seed=seed,
        randomizations=randomizations,
        max_layers=max_layers,
    )


def _sanity_metrics(method: str, rnd: Randomization, n: int) -> list[Metric]:
    """The randomization test as caveats about ``method``: ``sanity_excess`` (gated) with its
    interval over inputs and randomizations, and the correlations it is made of."""

    def caveat(name: str, values: np.ndarray, description: str, *, ci: bool = False) -> Metric:
        crossed = values.ndim == 2
        est = crossed_mean_interval(values) if crossed else mean_interval(values)
        with_ci = ci and est is not None
        return Metric(
            name=f"{method}.{name}",
            value=None if est is None else est[0],
            ci_low=est[1] if with_ci and est is not None else None,
            ci_high=est[2] if with_ci and est is not None else None,
            ci_level=0.95 if with_ci else None,
            ci_method=("Student t, two-way (inputs and randomizations)" if crossed else "Student t")
            if with_ci
            else None,
            n=int(np.isfinite(values).all(axis=0).sum()) if crossed else n,
            higher_is_better=False,
            description=description,
            about="method",
            method=method,
        )

    copies = len(rnd.trained_vs_random)
    out = [
        caveat(
            "sanity_excess",
            rnd.excess(),
            f"rank correlation of the trained model's |attributions| with {copies} randomized "
            f"copies' minus the null (the copies' correlation with each other), per input and "
            f"copy, ties at zero left out: the whole interval below -{SANITY_MARGIN:g} = "
            f"sensitive to the model; otherwise not shown sensitive here",
            ci=True,
        ),
        caveat(
            "sanity_rank_correlation",
            rnd.trained_vs_random,
            "Spearman correlation of |attributions| of the trained and a randomized model, "
            "features tied at zero left out",
            ci=True,
        ),
        caveat(
            "sanity_null_rank_correlation",
            rnd.random_vs_random,
            f"the same between independently randomized models ({len(rnd.pairs)} pairs): what "
            f"the input alone makes explanations share",
            ci=True,
        ),
        caveat(
            "sanity_signed_rank_correlation",
            rnd.signed_trained_vs_random,
            "Spearman correlation of signed attributions, trained vs randomized",
            ci=True,
        ),
        caveat(
            "sanity_kept_share",
            np.full(n, rnd.kept_share),
            "share of features compared (the rest are 0 in every explanation)",
        ),
    ]
    if rnd.ssim_trained_vs_random is not None and rnd.ssim_random_vs_random is not None:
        out += [
            caveat(
                "sanity_ssim",
                rnd.ssim_trained_vs_random,
                "SSIM of |attribution| maps, trained vs randomized",
                ci=True,
            ),
            caveat(
                "sanity_null_ssim",
                rnd.ssim_random_vs_random,
                "SSIM of |attribution| maps of two randomized models",
                ci=True,
            ),
        ]
    return out


def _marker_metrics(
    target: AuditTarget, split: Any, split_name: str, train: Any, marker: dict[str, Any]
) -> list[Metric]:
    """Reliance on a known marker, measured causally on the held-out split: how much the marked
    class's accuracy drops once the marker is removed (a paired difference, Newcombe's
    interval), and the share of other-class inputs that flip to the marked class once it is
    pasted on (Wilson). These are findings about the model; attributions only show where."""
    cls = int(marker["class"])
    name = target.class_names[cls] if cls < len(target.class_names) else str(cls)
    iv = marker_intervention(
        target.model.predict_proba,
        split.X,
        split.y,
        marker_class=cls,
        mask=_region_mask(target.input_shape, marker["region"]),
        reference=(train.X, train.y),
    )
    out: list[Metric] = []
    n_marked = len(iv.with_marker)
    if n_marked:
        diff, low, high = paired_difference_interval(*iv.paired_counts)
        acc_with, acc_without = float(iv.with_marker.mean()), float(iv.without_marker.mean())
        ci = dict(ci_level=0.95, ci_method="Newcombe paired (method 10)")
        out.append(
            Metric(
                name="marker.accuracy_drop",
                value=diff,
                ci_low=low,
                ci_high=high,
                n=n_marked,
                higher_is_better=False,
                description=(
                    f"accuracy on class {name} with its marker ({acc_with:.1%}) minus with the "
                    f"marker region replaced by what other classes show there "
                    f"({acc_without:.1%}), on the {split_name} split"
                ),
                **ci,  # type: ignore[arg-type]
            )
        )
    else:
        out.append(
            Metric(
                name="marker.accuracy_drop",
                value=None,
                n=0,
                higher_is_better=False,
                description=f"no class {name} inputs in the {split_name} split",
            )
        )
    n_other = len(iv.flipped)
    k = int(iv.flipped.sum())
    bounds: tuple[float | None, float | None] = (
        wilson_interval(k, n_other) if n_other else (None, None)
    )
    out.append(
        Metric(
            name="marker.flip_rate",
            value=k / n_other if n_other else None,
            ci_low=bounds[0],
            ci_high=bounds[1],
            ci_level=0.95 if n_other else None,
            ci_method="Wilson" if n_other else None,
            n=n_other,
            higher_is_better=False,
            description=(
                f"share of correctly classified inputs of other classes that the model moves "
                f"to class {name} once the marker is pasted on, on the {split_name} split"
            ),
        )
    )
    return out


def _region_mask(shape: tuple[int, ...], region: list[int]) -> np.ndarray:
    mask = np.zeros(shape[1:], dtype=bool)
    r0, r1, c0, c1 = region
    mask[r0:r1, c0:c1] = True
    return mask


def _names(keep: Any) -> str:
    """The registered methods ``keep(cls)`` accepts, for a message."""
    return ", ".join(n for n, c in EXPLAINERS.items() if keep(c))


def _shap_method(explanations: dict[str, Explanation]) -> str | None:
    """The method whose SHAP values describe the model globally: probability-space first."""
    shap = [k for k in explanations if EXPLAINERS[k].shap_space is not None]
    return min(shap, key=lambda k: EXPLAINERS[k].shap_space != "probability", default=None)


def _metric_factory(method: str, n: int):
    """Metrics of one method: caveats about that method unless ``about="model"`` (a finding,
    such as the share of attribution on a planted shortcut)."""

    def make(
        name: str,
        value: float | None,
        higher: bool,
        description: str,
        n: int = n,
        about: str = "method",
    ) -> Metric:
        return Metric(
            name=f"{method}.{name}",
            value=value,
            n=n,
            higher_is_better=higher,
            description=description,
            about=about,  # type: ignore[arg-type]
            method=method,
        )

    return make


def _global_importance(
    explanations: dict[str, Explanation], feature_names: tuple[str, ...], top: int = 15
) -> list[tuple[str, float]]:
    name = _shap_method(explanations)
    if name is None:
        return []
    imp = np.abs(explanations[name].attributions).mean(axis=0).reshape(-1)
    order = np.argsort(-imp)[:top]
    return [(feature_names[j], float(imp[j])) for j in order]


def _method_table(summaries: list[ExplainerSummary], metrics: list[Metric]) -> Table:
    cols = [
        "deletion_gain",
        "insertion_gain",
        "sanity_excess",
        "noise_stability",
        "seed_stability",
        "marker_share",
    ]
    by = {m.name: m.value for m in metrics}
    rows = []
    for s in summaries:
        rows.append(
            [
                s.method,
                s.status,
                s.wall_time_s,
                *[by.get(f"{s.method}.{c}") for c in cols],
                s.error or "",
            ]
        )
    return Table(
        title="Methods and their quality",
        columns=["method", "status", "seconds", *cols, "note"],
        rows=rows,
    )


def _summary(
    summaries: list[ExplainerSummary], metrics: list[Metric], shares: dict[str, float]
) -> str:
    ok = [s.method for s in summaries if s.status == "ok"]
    by = {m.name: m.value for m in metrics}
    # facts only: whether a method is sensitive to the model, and whether the marker's effect
    # passes, are the policy's outcomes (the caveats and findings), never restated here
    beat = [n for n in ok if (by.get(f"{n}.deletion_gain") or 0) > 0]
    parts = [f"{len(ok)} method(s) ran; {len(beat)} beat a random order at deletion"]
    causal = {m.name: m for m in metrics if m.name.startswith("marker.")}
    drop, flip = causal.get("marker.accuracy_drop"), causal.get("marker.flip_rate")
    if drop is not None and drop.value is not None:
        parts.append(
            f"removing the marker drops its class's accuracy by {drop.value:.0%} "
            f"[{drop.ci_low:.0%}, {drop.ci_high:.0%}]"
        )
    if flip is not None and flip.value is not None:
        parts.append(
            f"pasting it on other classes moves {flip.value:.0%} "
            f"[{flip.ci_low:.0%}, {flip.ci_high:.0%}] of them to that class"
        )
    if shares:
        worst = max(shares, key=shares.get)  # type: ignore[arg-type]
        parts.append(
            f"up to {shares[worst]:.0%} of attribution sits on the marker ({worst}), which "
            f"shows where the model looks"
        )
    return "; ".join(parts) + "."
