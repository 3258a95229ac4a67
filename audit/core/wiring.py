"""The one path from a configuration to a report, shared by the CLI, the dashboard's jobs, the
demo and the pytest plugin: validate the boundary values (seed, budget), build the checks and the
policy, load the target, run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rai_audit.audit.core.config import (
    AuditConfig,
    build_checks,
    build_policy,
    build_target,
    resolve_paths,
    validate_options,
)
from rai_audit.audit.core.runner import run_audit
from rai_audit.audit.core.target import AuditTarget
from rai_audit.models.errors import InvalidConfigError
from rai_audit.reports.schema import AuditReport


def target_from_config(
    cfg: AuditConfig, *, trust_by: str = "config model.trust", allow_torchscript: bool = True
) -> AuditTarget:
    """The model and data a configuration names, loaded and validated together."""
    if cfg.model is None:
        raise InvalidConfigError(
            "no model to audit: pass --model PATH or set model.path in --config"
        )
    return build_target(
        cfg.model,
        cfg.data,
        device=cfg.device,
        trust_by=trust_by,
        allow_torchscript=allow_torchscript,
    )


def audit_from_config(
    cfg: AuditConfig,
    *,
    out: str | Path,
    command: str | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int, str], None] | None = None,
    trust_by: str = "config model.trust",
    allow_torchscript: bool = True,
    history: str | Path | bool | None = True,
) -> AuditReport:
    """Audit what ``cfg`` describes into the run folder ``out``.

    Everything cheap is validated before anything is loaded or trained: the seed, the budget,
    every check's options and the policy.

    Raises:
        InvalidConfigError: a bad seed, budget, option, policy or model path.
    """
    cfg = resolve_paths(cfg.model_copy(deep=True), None)  # what is left relative: the cwd
    validate_options(cfg)  # seed, budget, device, split seed: before anything is loaded
    checks = build_checks(cfg.checks, cfg.budget)
    policy = build_policy(cfg.policy, allow_empty=cfg.allow_empty_policy)
    target = target_from_config(cfg, trust_by=trust_by, allow_torchscript=allow_torchscript)
    return run_audit(
        target,
        checks,
        out=out,
        seed=cfg.seed,
        policy=policy,
        command=command,
        config=cfg.model_dump(mode="json"),
        progress=progress,
        on_progress=on_progress,
        history=history,
    )


__all__ = ["audit_from_config", "target_from_config"]
