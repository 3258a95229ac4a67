"""``rai-audit demo``: train (or reuse) the built-in defaults and audit them end to end."""

from __future__ import annotations

from pathlib import Path

from rai_audit.audit.core.checks import AuditOptions, check_seed
from rai_audit.audit.core.config import AuditConfig, ModelConfig
from rai_audit.audit.core.wiring import audit_from_config
from rai_audit.models.pipeline import train_and_save
from rai_audit.reports.schema import AuditReport

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
    seed: int | str = 0,
    retrain: bool = False,
    progress: bool = True,
    command: str = "rai-audit demo",
) -> list[tuple[Path, AuditReport]]:
    """Train or reuse each demo model under ``out/models`` and audit it into ``out/runs``.

    Returns ``(run folder, report)`` per demo model.
    """
    seed = AuditOptions(seed=check_seed(seed), budget=budget, device=device).seed  # before training
    out = Path(out)
    results = []
    for arch, dataset in DEMO_MODELS:
        name = f"{arch}-{dataset}"
        folder = out / "models" / name
        train_and_save(
            arch=arch,
            dataset=dataset,
            out=folder,
            device=device,
            progress=progress,
            reuse=not retrain,
        )
        cfg = AuditConfig(
            seed=seed,
            budget=budget,
            device=device,
            model=ModelConfig(path=str(folder.resolve()), name=name),
        )
        run_dir = out / "runs" / name
        report = audit_from_config(cfg, out=run_dir, command=command, progress=progress)
        results.append((run_dir, report))
    return results
