"""The ``robustness`` check: adversarial attacks, robust accuracy against epsilon, checks that
the numbers are not an artifact of gradient masking, and an honest evaluation of defenses.

Robust accuracy is measured with PGD (Madry et al., 2018) and FGSM at several epsilons, with
Wilson intervals over the evaluated inputs. A number is reported as *verified* only if the
masking checks in the spirit of Carlini et al. (2019) pass:

1. the iterative attack is at least as strong as the single-step one;
2. at a very large epsilon the attack drives accuracy to about zero;
3. a stronger attack (4x the steps, 2 more random restarts) does not lower accuracy further;
4. a gradient-free black-box attack (ART's Square attack for images; random search over the
   corners of the eps box for tabular rows) is not stronger than the white-box one;
5. PGD with the logit-margin loss of Carlini and Wagner is not stronger than with cross-entropy
   (it is on saturated models such as defensively distilled ones);
6. input gradients are non-zero and finite;
7. the model's output is deterministic (otherwise gradients need EOT).

Input-transformation defenses (ART's feature squeezing, JPEG compression, spatial smoothing) are
wrapped in front of the model and attacked twice: naively (the transformation blocks the
gradient) and adaptively with BPDA (Athalye et al., 2018). Only the adaptive number counts.

Images are attacked in pixel space [0, 1] with the model's normalization inside the model;
tabular rows in the standardized feature space within each feature's train range (one-hot
columns are treated as continuous, which an attacker on raw records could not do: a bound on
the risk, stated in the report).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rai_audit.attacks._art import DEFENSES, art_preprocessor
from rai_audit.attacks.defenses import TransformDefense
from rai_audit.attacks.evasion import (
    AttackBudget,
    AttackPlan,
    EvasionAttack,
    EvasionOutcome,
    plan_attacks,
)
from rai_audit.attacks.pgd import PGDConfig, input_gradient, pgd
from rai_audit.audit.core.adapters import TorchAdapter
from rai_audit.audit.core.checks import Artifacts, MeasuredCheck
from rai_audit.audit.core.stats import accuracy_metric, wilson_interval
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.robustness import plots as robustness_plots
from rai_audit.audit.robustness.masking import (
    diagnostic_metrics,
    masking_checks,
    quality_metrics,
)
from rai_audit.models.errors import IncompatibleModelError, InvalidConfigError
from rai_audit.models.options import (
    CI_LEVEL,
    POSITIVE_EPS,
    Choice,
    Int,
    Maybe,
    Names,
    Real,
    Reals,
    Strings,
    Text,
    option,
)
from rai_audit.models.training import frozen_eval
from rai_audit.reports.schema import (
    CurveBand,
    DefenseRow,
    MaskingCheck,
    Metric,
    RobustnessResult,
    Table,
)

_BUDGETS: dict[str, dict[str, Any]] = {
    "standard": {
        "n_eval": 500,
        "max_iter": 20,
        "num_random_init": 1,
        "blackbox_queries": 500,
        "defenses": DEFENSES,
    },
    "thorough": {
        "n_eval": 2000,
        "max_iter": 40,
        "num_random_init": 2,
        "blackbox_queries": 1000,
        "defenses": DEFENSES,
    },
}


class _LogProbabilities(nn.Module):
    """Turns a model that outputs probabilities into one that outputs log-probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.model(x).clamp_min(1e-12))


#: what the attacks perturb, by data kind
INPUT_SPACES = {
    "image": "pixels [0, 1]",
    "tabular": "standardized features within train ranges (one-hot columns treated as continuous)",
}
PROBABILITIES_WARNING = (
    "the model's outputs are in [0, 1] and sum to 1: it returns probabilities, "
    "not logits. Cross-entropy gradients through a softmax are weak, so attacks "
    "may understate the risk; set model.output: probabilities or return logits"
)


def _fmt_eps(eps: float, kind: str) -> str:
    return f"{eps:.4g} ({eps * 255:.3g}/255)" if kind == "image" else f"{eps:.4g}"


@dataclass(frozen=True, kw_only=True)
class RobustnessCheck(
    MeasuredCheck["RobustnessMeasurement", "RobustnessJudgement", RobustnessResult]
):
    """Adversarial robustness of a torch classifier.

    Attributes:
        split: rows attacked (a seeded sample of ``n_eval``).
        norm: ``inf`` or ``2``.
        eps: the headline epsilon gated by the policy (None: 8/255 for images in L-inf, 0.5 in
            L2; 0.1 standardized units for tabular rows).
        epsilons: the robust-accuracy curve (empty: a default ladder around ``eps``).
        max_iter: PGD steps (``eps_step = 2.5 * eps / max_iter``, Madry et al.'s rule).
        num_random_init: random restarts of PGD.
        loss: ``ce`` or ``margin`` (Carlini-Wagner; for over-confident models).
        blackbox_queries: Square attack iterations (HopSkipJump iterations x 20 for tabular).
        large_eps: the epsilon at which accuracy must collapse (None: half the input range).
        defenses: input-transformation defenses to evaluate (images only).
        compare_with: other models (checkpoint folders, TorchScript or ``name=path``) attacked
            the same way on the same inputs, for a before/after table (e.g. the undefended model
            next to an adversarially trained or distilled one).
        tolerance: slack of the masking checks, in accuracy.
        ci_level: confidence level of the Wilson intervals.
    """

    name = "robustness"
    metric_leaves = frozenset(
        (
            "adaptive_robust_accuracy",
            "adversarial_wrong_confidence",
            "blackbox_not_stronger",
            "blackbox_robust_accuracy",
            "clean_accuracy",
            "deterministic_output",
            "fgsm_robust_accuracy",
            "gradients_nonzero_finite",
            "iterative_at_least_single_step",
            "large_eps_collapses",
            "margin_robust_accuracy",
            "naive_robust_accuracy",
            "other_loss_not_stronger",
            "perturbation_l2",
            "perturbation_linf",
            "psnr_db",
            "robust_accuracy",
            "ssim",
            "strong_robust_accuracy",
            "stronger_attack_no_gain",
            "verified",
        )
    )
    title = "Adversarial robustness"
    order = 20
    budgets = _BUDGETS
    path_options = ("compare_with",)

    split: str = option("test", Text(nonempty=True, what="split name"))
    n_eval: int = option(128, Int(10))
    norm: Literal["inf", "2"] = option("inf", Choice(("inf", "2")))
    eps: float | None = option(None, Maybe(POSITIVE_EPS, "the default for the data kind"))
    epsilons: tuple[float, ...] = option((), Reals(POSITIVE_EPS))
    max_iter: int = option(10, Int(1))
    num_random_init: int = option(0, Int(0))
    loss: Literal["ce", "margin"] = option("ce", Choice(("ce", "margin")))
    blackbox_queries: int = option(100, Int(1))
    large_eps: float | None = option(None, Maybe(POSITIVE_EPS, "half the input range"))
    defenses: tuple[str, ...] = option(("feature_squeezing", "jpeg"), Names(DEFENSES))
    tolerance: float = option(0.03, Real(0.0, 0.5, hi_open=True))
    ci_level: float = option(0.95, CI_LEVEL)
    batch_size: int = option(64, Int(1))
    compare_with: tuple[str, ...] = option((), Strings("model paths"))

    def skip_reason(self, target: AuditTarget) -> str | None:
        if self.split not in target.splits:
            return f"the target has no {self.split!r} split"
        if not isinstance(target.model, TorchAdapter):
            return (
                "white-box attacks need a differentiable torch model; this model is not one "
                "(audit a torch version of it, or gate on the other sections)"
            )
        return None

    # ------------------------------------------------------------------ settings

    def _eps(self, kind: str) -> float:
        if self.eps is not None:
            return float(self.eps)
        if kind == "image":
            return 8 / 255 if self.norm == "inf" else 0.5
        return 0.1 if self.norm == "inf" else 0.5

    def _ladder(self, eps: float) -> list[float]:
        if self.epsilons:
            return sorted(set(self.epsilons) | {eps})
        return sorted({eps * f for f in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)})

    def _cfg(self, eps: float, **kw: Any) -> PGDConfig:
        kw.setdefault("num_random_init", self.num_random_init)
        kw.setdefault("loss", self.loss)
        return PGDConfig.madry(eps, kw.pop("max_iter", self.max_iter), norm=self.norm, **kw)

    # ------------------------------------------------------------------ run

    # ------------------------------------------------------------------ measure

    def measure(self, target: AuditTarget, *, seed: int) -> RobustnessMeasurement:
        """Accuracy under each attack, the masking diagnostics and the defense rows."""
        adapter = target.model
        if not isinstance(adapter, TorchAdapter):
            raise IncompatibleModelError(self.skip_reason(target) or "not a torch model")
        split = target.split(self.split)
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(split), min(self.n_eval, len(split)), replace=False))
        X, y = split.X[rows], split.y[rows]
        dev = adapter.torch_device
        low, high, eps, large = self._domain(target, dev)
        xt = torch.as_tensor(X, device=dev)
        yt = torch.as_tensor(y, device=dev)
        warnings: list[str] = []
        module = adapter.module
        if adapter.output == "probabilities":
            module = _LogProbabilities(module)
        gen = lambda: torch.Generator().manual_seed(seed)  # noqa: E731
        n = len(y)
        budget = self._attack_budget(low, high, eps, seed, target.num_classes)
        try:
            plan = plan_attacks(target.kind, self.norm)
        except ValueError as exc:
            raise InvalidConfigError(f"check 'robustness': {exc}") from None

        def attack(cls: type[EvasionAttack], **changes: Any) -> EvasionOutcome:
            b = dataclasses.replace(budget, **changes)
            return cls().perturb(module, xt, yt, b)

        with frozen_eval(adapter.module):
            with torch.no_grad():
                out = module(xt)
            if adapter.output == "logits" and _looks_like_probabilities(out):
                warnings.append(PROBABILITIES_WARNING)
            clean_correct = (out.argmax(1) == yt).cpu().numpy()
            found, adv = self._attacks(plan, attack, xt, eps, large)
            robust = found["robust"]
            zero_share, nondet = _gradient_diagnostics(module, xt, yt, self.loss)
            blackbox = plan.black_box
            bb = None if blackbox is None else attack(blackbox)
            others = tuple((c.name, c.title, attack(c).accuracy) for c in plan.others)
            adv_out, wrong_conf, linf, l2 = _adversarial_stats(module, adv, xt, yt)
            clean = float(clean_correct.mean())
            defense_rows = self._defenses(
                target, module, xt, yt, eps, low, high, gen, clean, robust
            )
            defense_rows += self._compare(
                xt, yt, eps, low, high, gen, clean, robust, first=not defense_rows
            )
        adv_np = adv.cpu().numpy()
        quality = _image_quality(X, adv_np) if target.kind == "image" else None
        return RobustnessMeasurement(
            kind=target.kind,
            class_names=tuple(target.class_names),
            feature_names=tuple(target.feature_names),
            input_space=INPUT_SPACES["image" if target.kind == "image" else "tabular"],
            n=n,
            eps=eps,
            large_eps=large,
            X=X,
            y=y,
            adv=adv_np,
            p_clean=out.softmax(1).cpu().numpy(),
            p_adv=adv_out.cpu().numpy(),
            clean=clean,
            **found,
            zero_gradient_share=zero_share,
            nondeterministic_share=nondet,
            blackbox=None if bb is None else bb.accuracy,
            blackbox_name="n/a" if blackbox is None else blackbox.title,
            blackbox_n=n,
            others=others,
            wrong_confidence=wrong_conf,
            linf=linf,
            l2=l2,
            image_quality=quality,
            defense_rows=defense_rows,
            warnings=warnings,
        )

    def _attack_budget(
        self, low: torch.Tensor, high: torch.Tensor, eps: float, seed: int, num_classes: int
    ) -> AttackBudget:
        return AttackBudget(
            eps=eps,
            norm=self.norm,
            low=low,
            high=high,
            seed=seed,
            max_iter=self.max_iter,
            num_random_init=self.num_random_init,
            loss=self.loss,
            queries=self.blackbox_queries,
            batch_size=self.batch_size,
            num_classes=num_classes,
        )

    def _attacks(
        self,
        plan: AttackPlan,
        attack: Callable[..., EvasionOutcome],
        xt: torch.Tensor,
        eps: float,
        large: float,
    ) -> tuple[dict[str, Any], torch.Tensor]:
        """The headline attack along the epsilon ladder beside the single-step one, and the
        masking checks' variants (more steps and restarts, the large epsilon, the other loss),
        as measurement fields; and the headline's adversarial examples at ``eps``."""
        by_eps: dict[float, tuple[float, float]] = {}
        adv = xt
        for e in self._ladder(eps):
            a_pgd = attack(plan.iterative, eps=e)
            if e == eps:
                adv = a_pgd.adv
            by_eps[e] = (a_pgd.accuracy, attack(plan.single_step, eps=e).accuracy)
        other_loss: Literal["ce", "margin"] = "margin" if self.loss == "ce" else "ce"
        found = {
            "by_eps": by_eps,
            "robust": by_eps[eps][0],
            "fgsm": by_eps[eps][1],
            "strong": attack(
                plan.iterative,
                max_iter=4 * self.max_iter,
                num_random_init=self.num_random_init + 2,
            ).accuracy,
            "large": attack(plan.iterative, eps=large).accuracy,
            "other_loss": other_loss,
            "other": attack(plan.iterative, loss=other_loss).accuracy,
        }
        return found, adv

    def _domain(
        self, target: AuditTarget, dev: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """The input domain's bounds on ``dev``, the audited epsilon (refused beyond the
        domain's width) and the large epsilon at which accuracy must collapse."""
        shape = target.input_shape
        low = torch.as_tensor(np.array(target.domain_low.reshape(shape)), device=dev)
        high = torch.as_tensor(np.array(target.domain_high.reshape(shape)), device=dev)
        span = float((high - low).max())
        eps = self._eps(target.kind)
        if eps > span:
            raise InvalidConfigError(
                f"eps {eps:g} is beyond the input range (width {span:g}): every input could be "
                "replaced outright. Use an epsilon inside the range, e.g. 8/255 for pixels"
            )
        large = self.large_eps or (
            span / 2 if self.norm == "inf" else span * math.sqrt(int(np.prod(shape))) / 2
        )
        return low, high, eps, large

    # ------------------------------------------------------------------ judge

    def judge(self, m: RobustnessMeasurement) -> RobustnessJudgement:
        """The masking checks, the verdict on whether the number is verified, the metrics and
        the summary; needs no model."""
        tol = self.tolerance
        robust, fgsm_acc, bb_acc = m.robust, m.fgsm, m.blackbox
        masking = masking_checks(m, tol, self.loss)
        failed = [c for c in masking if not c.passed]
        verified = not failed
        reasons = [
            f"{c.name}: {c.meaning} (value {c.value if c.value is None else round(c.value, 4)},"
            f" needed {c.threshold})"
            for c in failed
        ]
        warnings = list(m.warnings)
        beaten = [f"{title} reaches {acc:.0%}" for _, title, acc in m.others if acc < robust - tol]
        if beaten:
            warnings.append(
                f"the headline (PGD, {robust:.0%}) is not the worst case over the attacks that "
                f"ran: {', '.join(beaten)} at the same eps"
            )
        if not verified:
            warnings.append("robustness is UNVERIFIED: " + "; ".join(reasons))
        curves: dict[str, list[CurveBand]] = {"PGD": [], "FGSM": []}
        for e, (a_pgd, a_fgsm) in m.by_eps.items():
            for name, a in (("PGD", a_pgd), ("FGSM", a_fgsm)):
                lo, hi = wilson_interval(round(a * m.n), m.n, self.ci_level)
                curves[name].append(CurveBand(x=e, y=a, low=lo, high=hi))
        summary = (
            f"PGD at eps {_fmt_eps(m.eps, m.kind)} lowers accuracy from {m.clean:.0%} to "
            f"{robust:.0%}"
            + ("" if verified else " (UNVERIFIED: gradient masking suspected)")
            + f"; FGSM {fgsm_acc:.0%}, black-box "
            + ("n/a" if bb_acc is None else f"{bb_acc:.0%}")
            + "."
        )
        if m.defense_rows:
            best = max(m.defense_rows, key=lambda r: r.adaptive_robust_accuracy or 0)
            summary += (
                f" Best defense under adaptive attack: {best.model} "
                f"{best.adaptive_robust_accuracy:.0%}."
            )
        return RobustnessJudgement(
            masking=masking,
            verified=verified,
            reasons=reasons,
            warnings=warnings,
            curves=curves,
            metrics=self._metrics(m, verified, masking),
            summary=summary,
            tables=_tables(m, masking),
        )

    # ------------------------------------------------------------------ render

    def render(
        self, m: RobustnessMeasurement, j: RobustnessJudgement, artifacts: Artifacts
    ) -> RobustnessResult:
        eps, kind = m.eps, m.kind
        figures = [
            artifacts.figure(
                robustness_plots.accuracy_curve(
                    j.curves,
                    eps,
                    kind,
                    self.norm,
                    m.clean,
                    [(r.model, r.adaptive_robust_accuracy) for r in m.defense_rows],
                ),
                "robust_accuracy",
                "Robust accuracy against epsilon (PGD and FGSM, Wilson bands)",
            )
        ]
        arrays = [
            artifacts.arrays(
                "examples",
                f"Clean inputs, their PGD adversarial examples at eps {eps:g}, labels, and both "
                "predicted probabilities",
                clean=m.X[:64],
                adversarial=m.adv[:64],
                labels=m.y[:64],
                p_clean=m.p_clean[:64],
                p_adversarial=m.p_adv[:64],
            )
        ]
        if kind == "image":
            figures.append(
                artifacts.figure(
                    robustness_plots.examples(
                        m.X, m.adv, m.y, m.p_clean, m.p_adv, list(m.class_names), eps
                    ),
                    "examples",
                    "Clean and adversarial examples with predictions and confidences",
                )
            )
        else:
            figures.append(
                artifacts.figure(
                    robustness_plots.feature_shift(
                        np.abs(m.adv - m.X).mean(0), list(m.feature_names)
                    ),
                    "feature_shift",
                    "Mean absolute perturbation per feature (standardized units)",
                )
            )
        return self.result(
            RobustnessResult,
            j,
            figures=figures,
            arrays=arrays,
            norm=self.norm,
            input_space=m.input_space,
            eps=eps,
            verified=j.verified,
            unverified_reasons=j.reasons,
            curves=j.curves,
            masking=j.masking,
            defenses=m.defense_rows,
        )

    # ------------------------------------------------------------------ parts

    def _defenses(
        self,
        target: AuditTarget,
        module: nn.Module,
        xt: torch.Tensor,
        yt: torch.Tensor,
        eps: float,
        low: torch.Tensor,
        high: torch.Tensor,
        gen: Any,
        clean: float,
        robust: float,
    ) -> list[DefenseRow]:
        """Undefended model first, then each defense under a naive and an adaptive attack."""
        if target.kind != "image" or not self.defenses:
            return []
        rows = [
            DefenseRow(
                model="undefended",
                clean_accuracy=clean,
                naive_robust_accuracy=robust,
                adaptive_robust_accuracy=robust,
                note="the model as audited",
            )
        ]
        lo, hi = float(target.domain_low.min()), float(target.domain_high.max())
        cfg = self._cfg(eps)
        for name in self.defenses:
            fn = art_preprocessor(name, low=lo, high=hi)
            adaptive = TransformDefense(module, fn, "bpda", name)
            naive = TransformDefense(module, fn, "none", name)

            def acc(model: nn.Module, x: torch.Tensor) -> float:
                with torch.no_grad():
                    return float((model(x).argmax(1) == yt).float().mean())

            adv_naive = pgd(
                naive, xt, yt, cfg, low=low, high=high, generator=gen(), batch_size=self.batch_size
            )
            adv_bpda = pgd(
                adaptive,
                xt,
                yt,
                cfg,
                low=low,
                high=high,
                generator=gen(),
                batch_size=self.batch_size,
            )
            clean = acc(adaptive, xt)
            a_naive, a_bpda = acc(adaptive, adv_naive), acc(adaptive, adv_bpda)
            note = (
                "naive attack sees zero gradients: its number is gradient masking"
                if a_naive > a_bpda + self.tolerance
                else ""
            )
            rows.append(
                DefenseRow(
                    model=name,
                    clean_accuracy=clean,
                    naive_robust_accuracy=a_naive,
                    adaptive_robust_accuracy=a_bpda,
                    note=note,
                )
            )
        return rows

    def _compare(
        self,
        xt: torch.Tensor,
        yt: torch.Tensor,
        eps: float,
        low: torch.Tensor,
        high: torch.Tensor,
        gen: Any,
        clean: float,
        robust: float,
        *,
        first: bool,
    ) -> list[DefenseRow]:
        """Other models under the same attacks on the same inputs (before/after a defense).

        Their adaptive number is the stronger of cross-entropy and margin PGD, so a saturated
        (e.g. distilled) comparison model cannot look robust by masking.
        """
        from rai_audit.models.checkpoint import load_model  # noqa: PLC0415

        rows = []
        if self.compare_with and first:
            rows.append(
                DefenseRow(
                    model="audited model",
                    clean_accuracy=clean,
                    naive_robust_accuracy=robust,
                    adaptive_robust_accuracy=robust,
                    note="the model as audited",
                )
            )
        for spec in self.compare_with:
            label, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
            other = load_model(path).module.to(xt.device)
            with frozen_eval(other):
                with torch.no_grad():
                    c = float((other(xt).argmax(1) == yt).float().mean())
                accs = []
                for loss in ("ce", "margin"):
                    cfg = self._cfg(eps, loss=loss)
                    adv = pgd(
                        other,
                        xt,
                        yt,
                        cfg,
                        low=low,
                        high=high,
                        generator=gen(),
                        batch_size=self.batch_size,
                    )
                    with torch.no_grad():
                        accs.append(float((other(adv).argmax(1) == yt).float().mean()))
            rows.append(
                DefenseRow(
                    model=label or path,
                    clean_accuracy=c,
                    naive_robust_accuracy=accs[0],
                    adaptive_robust_accuracy=min(accs),
                    note="compared model; adaptive = the stronger of cross-entropy and margin PGD",
                )
            )
        return rows

    def _metrics(
        self, m: RobustnessMeasurement, verified: bool, masking: list[MaskingCheck]
    ) -> list[Metric]:
        n, eps = m.n, m.eps
        clean, robust, fgsm_acc, strong, other = m.clean, m.robust, m.fgsm, m.strong, m.other
        bb_acc, bb_name, bb_n = m.blackbox, m.blackbox_name, m.blackbox_n
        wrong_conf, linf, l2 = m.wrong_confidence, m.linf, m.l2
        defense_rows = m.defense_rows
        eps_txt = _fmt_eps(eps, m.kind)

        def acc_metric(name: str, value: float, desc: str, count: int = n) -> Metric:
            return accuracy_metric(name, value, round(value * count), count, self.ci_level, desc)

        out = [
            acc_metric("clean_accuracy", clean, "accuracy on the attacked rows before the attack"),
            acc_metric(
                "robust_accuracy",
                robust,
                f"accuracy under PGD-{self.max_iter} ({self.norm}-norm) at eps {eps_txt}"
                + ("" if verified else "; UNVERIFIED: a masking check failed"),
            ),
            acc_metric("fgsm_robust_accuracy", fgsm_acc, f"accuracy under FGSM at eps {eps_txt}"),
            acc_metric(
                f"{'margin' if self.loss == 'ce' else 'ce'}_robust_accuracy",
                other,
                f"accuracy under PGD-{self.max_iter} with the "
                f"{'margin' if self.loss == 'ce' else 'cross-entropy'} loss at eps {eps_txt}",
            ),
            acc_metric(
                "strong_robust_accuracy",
                strong,
                f"accuracy under PGD-{4 * self.max_iter} with "
                f"{self.num_random_init + 2} restarts at eps {eps_txt}",
            ),
            Metric(
                name="verified",
                value=1.0 if verified else 0.0,
                higher_is_better=True,
                description="1 if every gradient-masking check passed, else 0",
            ),
            Metric(
                name="adversarial_wrong_confidence",
                value=wrong_conf,
                higher_is_better=False,
                description="mean confidence of the wrong predictions on adversarial inputs",
            ),
            Metric(
                name="perturbation_linf",
                value=linf,
                description="mean L-inf size of the PGD perturbation",
                unit="input units",
            ),
            Metric(
                name="perturbation_l2",
                value=l2,
                description="mean L2 size of the PGD perturbation",
                unit="input units",
            ),
        ]
        if bb_acc is not None:
            out.append(
                acc_metric(
                    "blackbox_robust_accuracy",
                    bb_acc,
                    f"accuracy under the {bb_name} ({self.blackbox_queries} "
                    "queries) at the same eps",
                    bb_n,
                )
            )
        out += [
            acc_metric(
                f"attacks.{name}.robust_accuracy",
                acc,
                f"accuracy under the {title} (a further registered attack) at eps {eps_txt}",
            )
            for name, title, acc in m.others
        ]
        return out + quality_metrics(m.image_quality) + diagnostic_metrics(masking, defense_rows, n)


@dataclass(frozen=True)
class RobustnessMeasurement:
    """What the attacks measured on the audited model (accuracies are shares of ``n``).

    Attributes:
        kind, class_names, feature_names, input_space: the target's, for judging and rendering.
        n, eps, large_eps: rows attacked, the headline epsilon, the collapse epsilon.
        X, y, adv, p_clean, p_adv: the attacked rows, their PGD examples at ``eps`` and the
            model's probabilities on both.
        by_eps: epsilon -> (PGD accuracy, FGSM accuracy).
        clean, robust, fgsm, strong, large, other: accuracy clean, under PGD, FGSM, the
            stronger PGD, PGD at ``large_eps``, PGD with ``other_loss``.
        zero_gradient_share, nondeterministic_share: the gradient and determinism diagnostics.
        blackbox, blackbox_name, blackbox_n: the black-box attack's accuracy (None: none
            applies), name and rows.
        others: (name, title, accuracy at ``eps``) of every other registered attack that
            applies (:func:`attacks.evasion.plan_attacks`).
        wrong_confidence, linf, l2, image_quality: the adversarial examples' confidence when
            wrong, mean perturbation sizes, (SSIM, PSNR) for images.
        defense_rows: defenses (naive and adaptive) and compared models.
        warnings: what measuring had to say.
    """

    kind: str
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    input_space: str
    n: int
    eps: float
    large_eps: float
    X: np.ndarray
    y: np.ndarray
    adv: np.ndarray
    p_clean: np.ndarray
    p_adv: np.ndarray
    by_eps: dict[float, tuple[float, float]]
    clean: float
    robust: float
    fgsm: float
    strong: float
    large: float
    other_loss: Literal["ce", "margin"]
    other: float
    zero_gradient_share: float
    nondeterministic_share: float
    blackbox: float | None
    blackbox_name: str
    blackbox_n: int
    wrong_confidence: float | None
    linf: float
    l2: float
    image_quality: tuple[float, float] | None
    defense_rows: list[DefenseRow]
    warnings: list[str]
    others: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class RobustnessJudgement:
    masking: list[MaskingCheck]
    verified: bool
    reasons: list[str]
    warnings: list[str]
    curves: dict[str, list[CurveBand]]
    metrics: list[Metric]
    summary: str
    tables: list[Table]


def _looks_like_probabilities(out: torch.Tensor) -> bool:
    """Outputs in [0, 1] that sum to 1: a model that returns probabilities, not logits."""
    ones = torch.ones(len(out), device=out.device)
    return bool(((out >= 0) & (out <= 1)).all()) and bool(
        torch.allclose(out.sum(1), ones, atol=1e-4)
    )


def _gradient_diagnostics(
    module: nn.Module, xt: torch.Tensor, yt: torch.Tensor, loss: Literal["ce", "margin"]
) -> tuple[float, float]:
    """The share of inputs whose loss gradient is all zero or not finite, and the share whose
    output changes between two identical passes."""
    grads, _ = input_gradient(module, xt, yt, loss=loss)
    flat = grads.flatten(1)
    zero_share = float(((flat.abs().sum(1) == 0) | ~torch.isfinite(flat).all(1)).float().mean())
    with torch.no_grad():
        nondet = float((module(xt) != module(xt)).any(1).float().mean())
    return zero_share, nondet


def _adversarial_stats(
    module: nn.Module, adv: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor
) -> tuple[torch.Tensor, float | None, float, float]:
    """The model's probabilities on the adversarial inputs, its mean confidence when wrong,
    and the perturbations' mean L-inf and L2 sizes."""
    with torch.no_grad():
        adv_out = torch.softmax(module(adv).float(), 1)
    wrong = adv_out.argmax(1) != yt
    wrong_conf = float(adv_out.max(1).values[wrong].mean()) if bool(wrong.any()) else None
    delta = (adv - xt).flatten(1)
    return adv_out, wrong_conf, float(delta.abs().amax(1).mean()), float(delta.norm(dim=1).mean())


def _tables(m: RobustnessMeasurement, masking: list[MaskingCheck]) -> list[Table]:
    """Accuracy against epsilon, the masking checks, and the defenses side by side."""
    kind = m.kind
    tables = [
        Table(
            title="Robust accuracy against epsilon",
            columns=["eps", "x/255" if kind == "image" else "units", "PGD", "FGSM"],
            rows=[[e, e * 255 if kind == "image" else e, a, f] for e, (a, f) in m.by_eps.items()],
        ),
        Table(
            title="Gradient-masking checks",
            columns=["check", "passed", "value", "needed", "meaning"],
            rows=[[c.name, c.passed, c.value, c.threshold, c.meaning] for c in masking],
        ),
    ]
    if m.defense_rows:
        tables.append(
            Table(
                title=f"Defenses at eps {_fmt_eps(m.eps, m.kind)}",
                columns=[
                    "model",
                    "clean accuracy",
                    "naive attack",
                    "adaptive attack (BPDA)",
                    "note",
                ],
                rows=[
                    [
                        r.model,
                        r.clean_accuracy,
                        r.naive_robust_accuracy,
                        r.adaptive_robust_accuracy,
                        r.note,
                    ]
                    for r in m.defense_rows
                ],
            )
        )
    return tables


def _image_quality(X: np.ndarray, adv: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity  # noqa: PLC0415

    side = min(X.shape[2], X.shape[3])
    win = min(7, side if side % 2 else side - 1)
    ssim = [
        structural_similarity(x, a, channel_axis=0, data_range=1.0, win_size=win)
        for x, a in zip(X, adv)
    ]
    mse = ((X - adv) ** 2).reshape(len(X), -1).mean(1)
    psnr = 10 * np.log10(1.0 / np.maximum(mse, 1e-12))
    return float(np.mean(ssim)), float(np.mean(psnr))
