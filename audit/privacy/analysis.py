"""The privacy check's report of its attacks, as pure functions: each attack's measured
figures in, metrics (every attack's, and the worst case over them) and the side-by-side table
out."""

from __future__ import annotations

from typing import Any

from rai_audit.attacks.membership import AttackMetrics
from rai_audit.reports.schema import Metric, Table

#: the false-positive rates at which every attack's true-positive rate is reported
FPRS = (0.01, 0.001)


def fpr_name(f: float) -> str:
    return f"tpr_at_fpr_{f * 100:g}pct".replace(".", "_")


def attack_metrics(a: str, r: AttackMetrics) -> list[Metric]:
    """One attack's AUC, balanced accuracy, advantage and TPR at each low FPR."""
    n = r.n_members + r.n_nonmembers
    metrics = [
        Metric(
            name=f"{a}.auc",
            value=r.auc,
            n=n,
            higher_is_better=False,
            description="area under the membership ROC curve (0.5 = chance)",
        ),
        Metric(
            name=f"{a}.balanced_accuracy",
            value=r.balanced_accuracy,
            n=n,
            higher_is_better=False,
            description="best balanced accuracy over thresholds",
        ),
        Metric(
            name=f"{a}.advantage",
            value=r.advantage,
            n=n,
            higher_is_better=False,
            description="membership advantage: max over thresholds of TPR - FPR",
        ),
    ]
    for f, v in r.tpr_at_fpr.items():
        undefined = (
            ""
            if v is not None
            else f" (undefined: {r.n_nonmembers} non-members resolve "
            f"{r.min_resolvable_fpr:.2%} at best)"
        )
        metrics.append(
            Metric(
                name=f"{a}.{fpr_name(f)}",
                value=v,
                n=n,
                higher_is_better=False,
                description=f"true-positive rate at {f:.1%} false-positive rate{undefined}",
            )
        )
    return metrics


def strongest(results: dict[str, AttackMetrics]) -> tuple[list[Metric], dict[str, str]]:
    """The worst case over the attacks whose figure is defined, by AUC and at 1% FPR, as
    ``strongest.*`` metrics, and which attack it was; with none defined the headline is not
    assessable (None, never 0, which would pass)."""
    metrics: list[Metric] = []
    best: dict[str, str] = {}
    for col, key in (
        ("auc", lambda r: r.auc),
        (fpr_name(0.01), lambda r: r.tpr_at_fpr[0.01]),
    ):
        defined = [n for n in results if key(results[n]) is not None]
        if not results:
            continue
        top = max(defined, key=lambda n: key(results[n]) or 0.0) if defined else None
        if top is not None:
            best[col] = top
        metrics.append(
            Metric(
                name=f"strongest.{col}",
                value=key(results[top]) if top is not None else None,
                higher_is_better=False,
                description=f"the strongest attack by {col}: {top}"
                if top is not None
                else f"undefined for every attack: the holdout cannot resolve {col}",
            )
        )
    return metrics, best


def attack_report(results: dict[str, AttackMetrics]) -> tuple[list[Metric], list[Table]]:
    """Every attack's metrics, the worst case over them, and the side-by-side table."""
    metrics = [m for a, r in results.items() for m in attack_metrics(a, r)]
    rows = [
        [
            a,
            r.n_members,
            r.n_nonmembers,
            r.auc,
            r.balanced_accuracy,
            r.advantage,
            *[r.tpr_at_fpr[f] for f in FPRS],
        ]
        for a, r in results.items()
    ]
    top, best = strongest(results)
    table = Table(
        title="Attacks side by side",
        columns=[
            "attack",
            "members",
            "non-members",
            "AUC",
            "balanced accuracy",
            "advantage",
            fpr_name(0.01),
            fpr_name(0.001),
        ],
        rows=rows,
        description="Strongest by AUC: "
        + best.get("auc", "n/a")
        + "; strongest at 1 % FPR: "
        + best.get(fpr_name(0.01), "n/a")
        + ". A learned attack is not automatically stronger.",
    )
    return metrics + top, [table]


def defense_report(rows: list[list[Any]]) -> tuple[list[Metric], list[Table]]:
    """Each defended model's test accuracy, loss-threshold AUC and TPR at 1% FPR, and its DP
    epsilon where it has one, as ``defense.<model>.*`` metrics; and the privacy-utility table.
    A row is (model, test accuracy, loss AUC, TPR at 1% FPR, best threshold AUC, epsilon)."""
    metrics: list[Metric] = []
    for row in rows:
        key = row[0].split(" ")[0]
        specs = (
            ("test_accuracy", 1, True, "test accuracy"),
            ("loss_auc", 2, False, "loss-threshold membership AUC"),
            (fpr_name(0.01), 3, False, "loss-threshold TPR at 1% FPR"),
            ("epsilon", 5, False, "DP epsilon spent"),
        )
        for field, col, higher, what in specs:
            if row[col] is not None or field != "epsilon":
                metrics.append(
                    Metric(
                        name=f"defense.{key}.{field}",
                        value=row[col],
                        higher_is_better=higher,
                        description=f"{what}: {row[0]}",
                    )
                )
    if not rows:
        return metrics, []
    table = Table(
        title="Privacy-utility trade-off (same members and non-members)",
        columns=[
            "model",
            "test accuracy",
            "loss AUC",
            fpr_name(0.01),
            "best threshold-attack AUC",
            "epsilon (DP)",
        ],
        rows=rows,
        description="Each defended model is retrained with the target's recipe on "
        "the same train split and attacked with the threshold attacks.",
    )
    return metrics, [table]
