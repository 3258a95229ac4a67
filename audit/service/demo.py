"""``rai-audit demo``: train (or reuse) the built-in defaults and audit them end to end."""

from __future__ import annotations

from pathlib import Path

from audit.core.config import build_checks
from audit.core.runner import run_audit
from audit.core.target import AuditTarget
from audit.gate.policy import Policy
from models.pipeline import train_and_save
from reports.schema import AuditReport

# (architecture, data set): the embedded defaults every later section is demonstrated on;
# COMPAS is the second tabular demo, for the fairness section.
DEMO_MODELS: tuple[tuple[str, str], ...] = (
    ("lenet5", "digits"),
    ("mlp", "adult"),
    ("mlp", "compas"),
)


def run_demo(
    out: str | Path,
    *,
    budget: str = "smoke",
    device: str = "auto",
    seed: int = 0,
    retrain: bool = False,
    progress: bool = True,
    command: str = "rai-audit demo",
) -> list[tuple[Path, AuditReport]]:
    """Train or reuse each demo model under ``out/models`` and audit it into ``out/runs``.

    Returns ``(run folder, report)`` per demo model.
    """
    out = Path(out)
    checks = build_checks(None, budget)
    policy = Policy.default()
    results = []
    for arch, dataset in DEMO_MODELS:
        name = f"{arch}-{dataset}"
        loaded, _ = train_and_save(
            arch=arch,
            dataset=dataset,
            out=out / "models" / name,
            device=device,
            progress=progress,
            reuse=not retrain,
        )
        target = AuditTarget.from_loaded(loaded, loaded.load_data(), name=name, device=device)
        run_dir = out / "runs" / name
        report = run_audit(
            target,
            checks,
            out=run_dir,
            seed=seed,
            budget=budget,
            policy=policy,
            command=command,
            progress=progress,
            config={"demo": True, "arch": arch, "dataset": dataset},
        )
        results.append((run_dir, report))
    return results
