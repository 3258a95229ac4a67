"""The robustness check's gradient-masking checks, as a pure function of a measurement: each
compares attacks the audit ran and says whether the robustness number can be believed
(Carlini et al., 2019, "On evaluating adversarial robustness"; Athalye et al., 2018); and the
metrics the masking checks, the defenses and the images' quality report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rai_audit.reports.schema import DefenseRow, MaskingCheck, Metric

if TYPE_CHECKING:
    from rai_audit.audit.robustness.check import RobustnessMeasurement


def masking_checks(m: RobustnessMeasurement, tol: float, loss: str) -> list[MaskingCheck]:
    """Seven signs of gradient masking, each passed or failed within ``tol`` (accuracy
    points): the iterative attack at least as strong as one step, collapse at a large eps, no
    gain from a stronger attack, no stronger black-box attack, no stronger other loss, finite
    non-zero gradients, a deterministic output. ``loss`` is the headline attack's loss."""
    robust, fgsm_acc, bb_acc = m.robust, m.fgsm, m.blackbox
    return [
        MaskingCheck(
            name="iterative_at_least_single_step",
            passed=robust <= fgsm_acc + tol,
            value=robust - fgsm_acc,
            threshold=f"<= {tol:g}",
            meaning="PGD accuracy minus FGSM accuracy: an iterative attack weaker "
            "than one step means the gradients mislead the attacker",
        ),
        MaskingCheck(
            name="large_eps_collapses",
            passed=m.large <= 0.1 + tol,
            value=m.large,
            threshold=f"<= {0.1 + tol:.3g}",
            meaning=f"accuracy under PGD at eps {m.large_eps:.3g}: with the whole input "
            "range allowed, accuracy should fall to about zero",
        ),
        MaskingCheck(
            name="stronger_attack_no_gain",
            passed=robust - m.strong <= tol,
            value=robust - m.strong,
            threshold=f"<= {tol:g}",
            meaning="accuracy drop when PGD gets 4x the steps and 2 more restarts: "
            "a large drop means the reported attack had not converged",
        ),
        MaskingCheck(
            name="blackbox_not_stronger",
            passed=bb_acc is None or bb_acc >= robust - tol,
            value=None if bb_acc is None else robust - bb_acc,
            threshold=f"<= {tol:g}",
            meaning=f"white-box minus black-box ({m.blackbox_name}) accuracy: a gradient-free "
            "attack beating the gradient attack means masked gradients",
        ),
        MaskingCheck(
            name="other_loss_not_stronger",
            passed=m.other >= robust - tol,
            value=robust - m.other,
            threshold=f"<= {tol:g}",
            meaning=f"accuracy under PGD with the {loss} loss minus with the "
            f"{m.other_loss} loss: a logit-margin attack beating cross-entropy "
            "means saturated softmax gradients (how Carlini and Wagner broke "
            "defensive distillation)",
        ),
        MaskingCheck(
            name="gradients_nonzero_finite",
            passed=m.zero_gradient_share <= 0.05,
            value=m.zero_gradient_share,
            threshold="<= 0.05",
            meaning="share of inputs whose loss gradient is all zero or not finite",
        ),
        MaskingCheck(
            name="deterministic_output",
            passed=m.nondeterministic_share == 0.0,
            value=m.nondeterministic_share,
            threshold="== 0",
            meaning="share of inputs whose output changes between two identical "
            "passes (a randomized model needs EOT attacks)",
        ),
    ]


def quality_metrics(image_quality: tuple[float, float] | None) -> list[Metric]:
    """SSIM and PSNR of the adversarial images against the clean ones (none for tabular)."""
    if image_quality is None:
        return []
    ssim, psnr = image_quality
    return [
        Metric(
            name="ssim",
            value=ssim,
            description="mean structural similarity of adversarial to clean images (1 = identical)",
        ),
        Metric(
            name="psnr_db",
            value=psnr,
            unit="dB",
            description="mean peak signal-to-noise ratio of adversarial images",
        ),
    ]


def diagnostic_metrics(
    masking: list[MaskingCheck], defense_rows: list[DefenseRow], n: int
) -> list[Metric]:
    """Each masking check's value, and each defense's clean, adaptive (BPDA) and naive
    accuracy (compared models aside)."""
    out = [Metric(name=f"masking.{c.name}", value=c.value, description=c.meaning) for c in masking]
    for r in defense_rows[1:]:
        if r.note.startswith("compared model"):
            continue
        for field, higher, what in (
            ("clean_accuracy", True, "clean accuracy"),
            ("adaptive_robust_accuracy", True, "accuracy under BPDA-PGD (the honest number)"),
            (
                "naive_robust_accuracy",
                None,
                "accuracy under a naive PGD (masked: for comparison only)",
            ),
        ):
            out.append(
                Metric(
                    name=f"defense.{r.model}.{field}",
                    value=getattr(r, field),
                    n=n,
                    higher_is_better=higher,
                    description=f"{what}, behind {r.model}",
                )
            )
    return out
