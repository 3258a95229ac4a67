"""The ``privacy`` check: membership inference, measured as TPR at low FPR.

Members are the target's train split and non-members its holdout split (rows the model never
saw), in balanced, seeded samples. Attack tiers run side by side on the same examples:

1. loss and confidence thresholds (Yeom et al., 2018) and a per-class calibrated loss,
   calibrated on the test split (non-members that are not evaluated);
2. ART's learned black-box attack (a random forest fitted on half of the evaluation set with
   known membership, scored on the other half) and ART's label-only attack;
3. shadow models (Shokri et al., 2017): the target's architecture and recipe trained on random
   halves of train + holdout, and an attack classifier learned on their outputs;
4. LiRA online and offline (Carlini et al., 2022) from the same shadow models.

Every attack is reported with AUC, balanced accuracy, membership advantage and TPR at 1 % and
0.1 % FPR; a TPR at an FPR below ``1 / non-members`` cannot be resolved and is reported as
undefined, with the smallest resolvable FPR.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rai_audit.attacks.membership import (
    AttackMetrics,
    balanced_indices,
    confidence_scores,
    evaluate_scores,
    logit_confidence,
    loss_scores,
)
from rai_audit.attacks.membership_attacks import (
    MEMBERSHIP_ATTACKS,
    MembershipEvidence,
    ShadowOutputs,
)
from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.privacy import plots as privacy_plots
from rai_audit.audit.privacy.analysis import FPRS, attack_report, defense_report, fpr_name
from rai_audit.models.device import module_device
from rai_audit.models.errors import InvalidDataError
from rai_audit.models.options import Bool, Int, Names, Real, Text, option
from rai_audit.reports.schema import Cell, CurvePoint, Metric, PrivacyResult, Table

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": {"n_eval": 5000, "n_shadows": 16, "dp_epochs": 10},
    "thorough": {"n_eval": 20000, "n_shadows": 64, "dp_epochs": 30},
}


def default_cache() -> Path:
    return Path(os.environ.get("RAI_AUDIT_CACHE", Path.home() / ".cache" / "rai-audit"))


@dataclass(frozen=True, kw_only=True)
class PrivacyCheck(MeasuredCheck["PrivacyMeasurement", "PrivacyJudgement", PrivacyResult]):
    """Membership inference against the target.

    Attributes:
        attacks: attack names (see ``attacks.membership_attacks.MEMBERSHIP_ATTACKS``); empty = every one that applies.
        n_eval: members and non-members evaluated (each side; capped by the split sizes).
        n_shadows: shadow models for the shadow and LiRA attacks (even).
        assume_members: the target's train split is what the model was trained on. Needed for a
            model that does not record its split (TorchScript, safetensors, in-memory) on a
            split the user did not declare; a declared split's train rows are the members.
        cache_dir: shadow-model cache ("" = ``$RAI_AUDIT_CACHE`` or ``~/.cache/rai-audit``).
        min_group: members and non-members a class or group needs for its own breakdown row.
        compare_defenses: retrain the target's recipe with regularization (weight decay, label
            smoothing, dropout 0.5 where the architecture has it) and with DP-SGD (Opacus), and
            attack both on the same members and non-members: the privacy-utility trade-off.
        dp_noise_multiplier, dp_max_grad_norm, dp_epochs: the DP-SGD settings.
    """

    name = "privacy"
    metric_leaves = frozenset(
        (
            "advantage",
            "auc",
            "balanced_accuracy",
            "epsilon",
            "generalization_gap",
            "loss_auc",
            "test_accuracy",
            "tpr_at_fpr_0_1pct",
            "tpr_at_fpr_1pct",
        )
    )
    title = "Privacy (membership inference)"
    order = 30
    budgets = _BUDGETS

    attacks: tuple[str, ...] = option((), Names(lambda: MEMBERSHIP_ATTACKS))
    n_eval: int = option(1000, Int(10))
    n_shadows: int = option(4, Int(2, even=True))
    assume_members: bool = option(False, Bool())
    cache_dir: str = option("", Text(what="folder path"))
    min_group: int = option(20, Int(1))
    compare_defenses: bool = option(True, Bool())
    dp_noise_multiplier: float = option(1.0, Real(0.0, lo_open=True))
    dp_max_grad_norm: float = option(1.0, Real(0.0, lo_open=True))
    dp_epochs: int = option(3, Int(1))

    def skip_reason(self, target: AuditTarget) -> str | None:
        """Why membership cannot be measured on ``target`` (a setup problem, not a finding):
        no member or non-member split, members that are not known, or the two overlapping."""
        missing = [s for s in ("train", "holdout") if s not in target.splits]
        origin = target.data_info.get("split_origin")
        if missing and origin == "evaluation":
            return (
                "no rows are known to be the model's training data: no split was declared and "
                "this suite did not train the model, so every row is evaluation data; declare "
                "the rows it was trained on (members) and rows it never saw (non-members) with "
                "a split column (--split-column, values train and holdout) or with --train and "
                "--holdout files"
            )
        if missing:
            return (
                f"membership inference needs the member ('train') and non-member "
                f"('holdout') splits; missing {missing}"
            )
        known = target.model_info.source == "checkpoint" or origin == "declared"
        if not known and not self.assume_members:
            return (
                "this model does not record which rows it was trained on, so its members are "
                "not known; if the data's 'train' split is exactly the model's training data and "
                "'holdout' was never used, set the privacy option assume_members: true"
            )
        overlap = np.intersect1d(target.split("train").indices, target.split("holdout").indices)
        if len(overlap):
            return (
                f"{len(overlap)} rows are in both the train (members) and holdout "
                "(non-members) splits; membership cannot be measured on overlapping sets"
            )
        return None

    # ------------------------------------------------------------------ measure

    def measure(self, target: AuditTarget, *, seed: int) -> PrivacyMeasurement:
        """Every attack's scores on the same balanced members and non-members."""
        reason = self.skip_reason(target)
        if reason is not None:  # run() without the runner: refuse as the runner would skip
            raise InvalidDataError(reason)
        train, hold = target.split("train"), target.split("holdout")
        rng = np.random.default_rng(seed)
        mi, ni = balanced_indices(len(train), len(hold), self.n_eval, rng)
        X = np.concatenate([train.X[mi], hold.X[ni]])
        y = np.concatenate([train.y[mi], hold.y[ni]])
        member: np.ndarray = np.r_[np.ones(len(mi), bool), np.zeros(len(ni), bool)]
        proba = target.model.predict_proba(X)
        plan = [n for n in MEMBERSHIP_ATTACKS if not self.attacks or n in self.attacks]
        reference = None
        if "test" in target.splits and any(
            "reference" in MEMBERSHIP_ATTACKS[n].needs for n in plan
        ):
            ref = target.split("test")
            reference = (target.model.predict_proba(ref.X), ref.y)
        ev = MembershipEvidence(
            X=X,
            y=y,
            proba=proba,
            n_members=len(mi),
            predict_proba=target.model.predict_proba,
            input_shape=tuple(target.input_shape),
            num_classes=target.num_classes,
            seed=seed,
            rng=rng,
            reference=reference,
        )
        scores: dict[str, np.ndarray] = {}
        labels: dict[str, np.ndarray] = {}
        skipped: dict[str, str] = {}
        shadow_info: dict[str, Any] = {}
        shadow_reason: str | None = None
        for name in plan:
            attack = MEMBERSHIP_ATTACKS[name]()
            if "reference" in attack.needs and ev.reference is None:
                skipped[name] = "needs a 'test' split of non-members to calibrate on"
                continue
            if "shadows" in attack.needs and ev.shadows is None:
                shadow_reason = shadow_reason or self._shadow_reason(target)
                if shadow_reason:
                    skipped[name] = shadow_reason
                    continue
                shadows, shadow_info = self._train_shadows(target, X, y, mi, ni, seed)
                ev = dataclasses.replace(ev, shadows=shadows)
            out = attack.score(ev)
            scores[name] = out.scores
            labels[name] = member if out.labels is None else out.labels
        groups: dict[str, np.ndarray] = {}
        for s in sorted(set(train.sensitive) & set(hold.sensitive)):
            groups[s] = np.concatenate([train.sensitive[s][mi], hold.sensitive[s][ni]])
        defense_rows: list[list[Any]] = []
        defense_warnings: list[str] = []
        if self.compare_defenses:
            reason = self._shadow_reason(target)
            if reason:
                defense_warnings.append(f"the defense comparison did not run: {reason}")
            else:
                defense_rows = self._defenses(target, X, y, member, proba, seed, defense_warnings)
        return PrivacyMeasurement(
            y=y,
            member=member,
            proba=proba,
            scores=scores,
            labels=labels,
            skipped=skipped,
            shadow=shadow_info,
            groups=groups,
            class_names=tuple(target.class_names),
            defense_rows=defense_rows,
            defense_warnings=defense_warnings,
        )

    # ------------------------------------------------------------------ judge

    def judge(self, m: PrivacyMeasurement) -> PrivacyJudgement:
        """Metrics of every attack, the strongest one, leakage by class and group, and the
        privacy-utility rows; needs no model."""
        n_non = int((~m.member).sum())
        warnings: list[str] = []
        if n_non < 1000:
            warnings.append(
                f"{n_non} non-members can resolve FPRs down to {1 / n_non:.2%} only: TPR at "
                "0.1 % FPR needs at least 1,000 non-members and is reported as undefined"
            )
        results = {a: evaluate_scores(sc, m.labels[a], FPRS) for a, sc in m.scores.items()}
        metrics, tables = attack_report(results)
        gap = float(
            (m.proba.argmax(1)[m.member] == m.y[m.member]).mean()
            - (m.proba.argmax(1)[~m.member] == m.y[~m.member]).mean()
        )
        metrics.append(
            Metric(
                name="generalization_gap",
                value=gap,
                higher_is_better=False,
                description="accuracy on evaluated members minus on non-members",
            )
        )
        for a, why in m.skipped.items():
            warnings.append(f"{a} did not run: {why}")
        strongest = max(results, key=lambda a: results[a].auc) if results else None
        whole = strongest is not None and m.labels[strongest] is m.member
        breakdown = self._breakdown(m, m.scores[strongest]) if strongest and whole else []
        if breakdown:
            tables.append(
                Table(
                    title=f"Leakage by class and group ({strongest}, the strongest attack by AUC)",
                    columns=["feature", "group", "members", "non-members", "AUC", fpr_name(0.01)],
                    rows=breakdown,
                )
            )
        warnings += m.defense_warnings
        defense_metrics, defense_tables = defense_report(m.defense_rows)
        metrics += defense_metrics
        tables += defense_tables
        return PrivacyJudgement(
            results=results,
            metrics=metrics,
            tables=tables,
            warnings=warnings,
            strongest=strongest,
            breakdown=breakdown,
            summary=self._summary(results, metrics, n_non, gap),
        )

    # ------------------------------------------------------------------ render

    def render(
        self, m: PrivacyMeasurement, j: PrivacyJudgement, artifacts: Artifacts
    ) -> PrivacyResult:
        n_non = int((~m.member).sum())
        figures = [
            artifacts.figure(
                privacy_plots.roc_loglog(j.results, min(1 / n_non, 1.0)),
                "roc",
                "Membership ROC on log-log axes, every attack",
            )
        ]
        groups = [r for r in j.breakdown if r[0] != "class"]
        if groups:
            figures.append(
                artifacts.figure(
                    privacy_plots.group_auc(groups), "groups", "Membership AUC per sensitive group"
                )
            )
        return self.result(
            PrivacyResult,
            j,
            figures=figures,
            n_members=int(m.member.sum()),
            n_nonmembers=n_non,
            min_resolvable_fpr=1 / n_non,
            strongest=j.strongest or "",
            shadow=m.shadow,
            roc={
                a: [CurvePoint(x=float(f), y=float(t)) for f, t in _thin(r.fpr, r.tpr)]
                for a, r in j.results.items()
            },
        )

    # ------------------------------------------------------------------ shadows

    def _defenses(self, target, X, y, member, proba, seed, warnings):
        """Target, regularized and DP-SGD models under the threshold attacks."""
        import dataclasses as dc  # noqa: PLC0415

        from rai_audit.models.architectures import build_model  # noqa: PLC0415
        from rai_audit.models.dp import train_dp  # noqa: PLC0415
        from rai_audit.models.pipeline import image_normalization  # noqa: PLC0415
        from rai_audit.models.training import TrainConfig, accuracy, seed_everything, train_model  # noqa: PLC0415

        info = target.model_info
        fields = TrainConfig.__dataclass_fields__
        recipe = TrainConfig(**{k: v for k, v in info.train_config.items() if k in fields})
        data = _bundle_of(target)
        test = target.split("test") if "test" in target.splits else target.split("holdout")
        mean, std = image_normalization(data) if data.kind == "image" else (None, None)

        def attack_row(label, predict, test_acc, eps):
            return _threshold_row(label, predict(X), y, member, test_acc, eps)

        rows = [
            attack_row(
                "target (as audited)",
                lambda z: proba if z is X else target.model.predict_proba(z),
                float((target.model.predict(test.X) == test.y).mean()),
                None,
            )
        ]
        kwargs = dict(info.arch_kwargs)
        reg_kwargs = {**kwargs, "dropout": 0.5} if info.arch in ("mlp", "vgg11") else kwargs
        reg_cfg = dc.replace(
            recipe,
            weight_decay=max(recipe.weight_decay, 5e-4),
            label_smoothing=max(recipe.label_smoothing, 0.1),
        )
        seed_everything(seed)
        reg = build_model(
            info.arch, data.input_shape, data.num_classes, mean=mean, std=std, **reg_kwargs
        )
        device = str(getattr(target.model, "torch_device", "cpu"))
        train_model(reg, data, reg_cfg, device=device, progress=False)
        reg_adapter = _adapter(reg)
        rows.append(
            attack_row(
                "regularized (weight decay 5e-4, label smoothing 0.1"
                + (", dropout 0.5)" if reg_kwargs is not kwargs else ")"),
                reg_adapter.predict_proba,
                accuracy(reg, test.X, test.y),
                None,
            )
        )
        seed_everything(seed)
        dp_model = build_model(
            info.arch, data.input_shape, data.num_classes, mean=mean, std=std, **kwargs
        )
        try:
            dp_model, res = train_dp(
                dp_model,
                data,
                dc.replace(recipe, epochs=self.dp_epochs, seed=seed),
                noise_multiplier=self.dp_noise_multiplier,
                max_grad_norm=self.dp_max_grad_norm,
                device=device,
            )
        except Exception as exc:  # e.g. batch normalization: reported, the rest goes on
            warnings.append(f"DP-SGD comparison did not run: {exc}")
            return rows
        rows.append(
            attack_row(
                f"dp-sgd (noise {res.noise_multiplier:g}, clip {res.max_grad_norm:g}, "
                f"{res.epochs} epochs, delta {res.delta:.1e})",
                _adapter(dp_model).predict_proba,
                accuracy(dp_model, test.X, test.y),
                res.epsilon,
            )
        )
        return rows

    def _shadow_reason(self, target: AuditTarget) -> str | None:
        info = target.model_info
        if info.source != "checkpoint" or info.arch in ("unknown", "") or not info.train_config:
            return (
                "shadow models copy the target's architecture and training recipe, which "
                "only a rai-audit checkpoint records"
            )
        if not hasattr(target.model, "module"):
            return "shadow models need a torch model"
        return None

    def _train_shadows(
        self,
        target: AuditTarget,
        X: np.ndarray,
        y: np.ndarray,
        mi: np.ndarray,
        ni: np.ndarray,
        seed: int,
    ) -> tuple[ShadowOutputs, dict[str, Any]]:
        from rai_audit.attacks.shadows import shadow_logits, softmax, train_shadows  # noqa: PLC0415
        from rai_audit.models.training import TrainConfig  # noqa: PLC0415

        info = target.model_info
        fields = TrainConfig.__dataclass_fields__
        recipe = TrainConfig(**{k: v for k, v in info.train_config.items() if k in fields})
        data = _bundle_of(target)
        pool = np.arange(len(data.splits["train"]) + len(data.splits["holdout"]))
        cache = Path(self.cache_dir) if self.cache_dir else default_cache() / "shadows"
        models, mask, trained = train_shadows(
            arch=info.arch,
            arch_kwargs=info.arch_kwargs,
            recipe=recipe,
            data=data,
            pool=pool,
            n_shadows=self.n_shadows,
            seed=seed,
            cache_dir=cache,
            device=str(getattr(target.model, "torch_device", "cpu")),
            progress=False,
        )
        pos = np.r_[mi, len(data.splits["train"]) + ni]
        sz = shadow_logits(models, X)  # (S, E, K)
        outputs = ShadowOutputs(
            proba=softmax(sz),
            stats=np.stack([logit_confidence(z, y) for z in sz]),
            in_mask=mask[:, pos],
            target_stat=logit_confidence(target.model.logits(X), y),
        )
        return outputs, {
            "n_shadows": self.n_shadows,
            "trained_now": trained,
            "from_cache": self.n_shadows - trained,
            "pool_size": len(pool),
            "shadow_train_size": int(mask[0].sum()),
            "cache": str(cache),
            "arch": info.arch,
        }

    # ------------------------------------------------------------------ reporting

    def _breakdown(self, m: PrivacyMeasurement, scores: np.ndarray) -> list[list[Cell]]:
        """AUC and TPR at 1 % FPR of ``scores`` within each class and sensitive group that has
        ``min_group`` members and non-members."""
        rows: list[list[Cell]] = []
        member, y = m.member, m.y

        def add(feature: str, group: str, mask: np.ndarray) -> None:
            m, n = int((mask & member).sum()), int((mask & ~member).sum())
            if m < self.min_group or n < self.min_group:
                return
            r = evaluate_scores(scores[mask], member[mask], FPRS)
            rows.append([feature, group, m, n, r.auc, r.tpr_at_fpr[0.01]])

        for c in np.unique(y):
            add("class", m.class_names[c], y == c)
        for s, values in m.groups.items():
            for g in sorted(set(values.tolist())):
                add(s, g, values == g)
        return rows

    def _summary(
        self, results: dict[str, Any], metrics: list[Metric], n_non: int, gap: float
    ) -> str:
        """Read off the same headline metrics the gate judges (``strongest.*``), so the text
        cannot contradict the gate: the TPR at 1% FPR is the worst case over the attacks that
        resolve it, unresolvable only when none does."""
        if not results:
            return "no membership attack could run."
        by = {m.name: m for m in metrics}
        auc, tpr = by["strongest.auc"], by[f"strongest.{fpr_name(0.01)}"]
        head = f"Strongest attack by AUC: {_attack(auc)} (AUC {auc.value:.3f})"
        tail = (
            f"{tpr.value:.1%} of members are found at 1% FPR ({_attack(tpr)}, the worst case "
            f"over the attacks that resolve it)"
            if tpr.value is not None
            else "TPR at 1% FPR is unresolvable with this holdout for every attack"
        )
        return (
            f"{head}; {tail}; train-holdout accuracy gap {gap:+.1%}; {n_non} non-members evaluated."
        )


def _attack(m: Metric) -> str:
    """The attack a ``strongest.*`` headline names in its description."""
    return m.description.rsplit(": ", 1)[-1]


@dataclass(frozen=True)
class PrivacyMeasurement:
    """What the attacks measured (the first rows are the members).

    Attributes:
        y, member, proba: the evaluated rows' labels, membership and target probabilities.
        scores: attack -> scores; labels: attack -> membership of the rows it scored.
        skipped: attack -> why it did not run.
        shadow: how the shadow models were obtained (count, cache, architecture).
        groups: sensitive feature -> each evaluated row's group.
        class_names: the target's.
        defense_rows: the privacy-utility rows of the retrained defended models.
        defense_warnings: what the defense comparison had to say.
    """

    y: np.ndarray
    member: np.ndarray
    proba: np.ndarray
    scores: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    skipped: dict[str, str]
    shadow: dict[str, Any]
    groups: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    defense_rows: list[list[Any]]
    defense_warnings: list[str]


@dataclass(frozen=True)
class PrivacyJudgement:
    results: dict[str, AttackMetrics]
    metrics: list[Metric]
    tables: list[Table]
    warnings: list[str]
    strongest: str | None
    breakdown: list[list[Cell]]
    summary: str


def _adapter(module: Any) -> Any:
    from rai_audit.audit.core.adapters import TorchAdapter  # noqa: PLC0415

    return TorchAdapter(module, device=module_device(module))


def _threshold_row(
    label: str,
    p: np.ndarray,
    y: np.ndarray,
    member: np.ndarray,
    test_acc: float,
    eps: float | None,
) -> list[Any]:
    """One model's row of the privacy-utility table: its test accuracy, the loss-threshold
    attack's AUC and TPR at 1% FPR, the best threshold attack's AUC, and its DP epsilon."""
    aucs = {
        name: evaluate_scores(sc, member, FPRS)
        for name, sc in (("loss", loss_scores(p, y)), ("confidence", confidence_scores(p, y)))
    }
    loss = aucs["loss"]
    return [
        label,
        test_acc,
        loss.auc,
        loss.tpr_at_fpr[0.01],
        max(r.auc for r in aucs.values()),
        eps,
    ]


def _bundle_of(target: AuditTarget) -> Any:
    """The target's data as a bundle (the shadow trainer needs train, val and holdout)."""
    from rai_audit.models.datasets import DataBundle  # noqa: PLC0415

    d = target.data_info
    return DataBundle(
        name=target.data_name,
        kind=target.kind,
        splits=target.splits,
        feature_names=tuple(target.feature_names),
        class_names=tuple(target.class_names),
        input_shape=tuple(target.input_shape),
        domain_low=tuple(float(v) for v in target.domain_low[:1])
        if target.kind == "image"
        else tuple(float(v) for v in target.domain_low),
        domain_high=tuple(float(v) for v in target.domain_high[:1])
        if target.kind == "image"
        else tuple(float(v) for v in target.domain_high),
        sensitive_in_features=dict(target.sensitive_in_features),
        preprocessing={},
        split_seed=int(d.get("split_seed") or 0),
        sha256=target.data_sha256,
    )


def _thin(fpr: np.ndarray, tpr: np.ndarray, n: int = 200) -> list[tuple[float, float]]:
    if len(fpr) <= n:
        return list(zip(fpr, tpr))
    idx = np.unique(np.r_[0, np.geomspace(1, len(fpr) - 1, n).astype(int)])
    return list(zip(fpr[idx], tpr[idx]))
