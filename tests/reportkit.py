"""A fixed, model-free audit report for golden, renderer, gate and plugin tests."""

from __future__ import annotations

from pathlib import Path

from rai_audit.audit.gate.policy import Policy
from rai_audit.reports.json_io import report_to_json
from rai_audit.reports.schema import (
    AuditReport,
    DataInfo,
    ErrorResult,
    FairnessResult,
    Manifest,
    Metric,
    ModelInfo,
    PerformanceResult,
    SkippedResult,
    Table,
)

POLICY = {
    "rules": {
        "performance.accuracy": {"min": 0.9, "severity": "fail"},
        "performance.ece": {"max": 0.05, "severity": "warn"},
        "fairness.*.equalized_odds_difference": {"max": 0.1, "severity": "fail", "use_ci": True},
        "fairness.*.disparate_impact_ratio": {"min": 0.8, "severity": "warn"},
    }
}


def make_report(
    accuracy: float = 0.93, eod: float = 0.16, run_id: str = "run-a", *, broken: bool = True
) -> AuditReport:
    """The fixed report; ``broken`` adds a crashed privacy section (an ``error`` verdict)."""
    manifest = Manifest(
        run_id=run_id,
        created_at="2026-01-02T03:04:05+00:00",
        seed=0,
        budget="smoke",
        command="rai-audit run --model m --out r",
        versions={"python": "3.11", "torch": "2.13.0"},
        platform={"system": "Linux"},
        device="cpu",
        model=ModelInfo(name="credit-mlp", arch="mlp", source="checkpoint", sha256="ab" * 32),
        data=DataInfo(
            name="german_credit",
            kind="tabular",
            sha256="cd" * 32,
            split_sizes={"train": 600, "test": 150},
            sensitive_features=["sex"],
        ),
        config={"model_card": {"intended_use": "pre-screening credit applications"}},
    )
    perf = PerformanceResult(
        title="Performance",
        summary=f"Accuracy {accuracy:.1%} on 150 test rows.",
        metrics=[
            Metric(
                name="accuracy",
                value=accuracy,
                ci_low=accuracy - 0.04,
                ci_high=accuracy + 0.03,
                ci_level=0.95,
                ci_method="wilson",
                higher_is_better=True,
                description="share of correct predictions",
            ),
            Metric(name="ece", value=0.07, higher_is_better=False, description="calibration error"),
            Metric(name="log_loss", value=0.31, higher_is_better=False),
        ],
        tables=[
            Table(
                title="Per-class", columns=["class", "recall"], rows=[["bad", 0.7], ["good", 0.95]]
            )
        ],
    )
    fair = FairnessResult(
        title="Fairness",
        summary="sex: equalized odds difference.",
        metrics=[
            Metric(
                name="sex.equalized_odds_difference",
                value=eod,
                ci_low=eod - 0.03,
                ci_high=eod + 0.05,
                ci_level=0.95,
                higher_is_better=False,
            ),
            Metric(name="sex.disparate_impact_ratio", value=0.85, higher_is_better=True),
        ],
        warnings=["sex: 1 group(s) have fewer than 30 rows"],
    )
    skipped = SkippedResult(check="robustness", title="Adversarial robustness", summary="not run")
    error = ErrorResult(check="privacy", title="Privacy", error="internal error: boom", summary="x")
    results = [perf, fair, skipped, error] if broken else [perf, fair, skipped]
    report = AuditReport(manifest=manifest, results=results)
    return Policy.from_mapping(POLICY, source="tests").apply(report)


def write_run(folder: Path, report: AuditReport) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report_to_json(report), encoding="utf-8")
    return folder
