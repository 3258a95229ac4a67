"""Audit targets, checks, policies, the runner and the ``rai-audit`` command line.

Typical use from Python::

    from rai_audit.audit import AuditTarget, Policy, run_audit, build_checks
    target = AuditTarget.from_bundle(my_module, load_dataset("adult"))
    report = run_audit(target, build_checks(None, "smoke"), out="runs/mine")

The names below are imported when first used (PEP 562), so importing a submodule such as
``audit.pytest_plugin`` (which pytest loads in every session of the environment) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CHECKS": "rai_audit.audit.core.checks",
    "Artifacts": "rai_audit.audit.core.checks",
    "Check": "rai_audit.audit.core.checks",
    "register": "rai_audit.audit.core.checks",
    "build_checks": "rai_audit.audit.core.config",
    "build_policy": "rai_audit.audit.core.config",
    "run_audit": "rai_audit.audit.core.runner",
    "AuditTarget": "rai_audit.audit.core.target",
    "ModelDescription": "rai_audit.audit.core.target",
    "Policy": "rai_audit.audit.gate.policy",
    "Rule": "rai_audit.audit.gate.policy",
}

__all__ = [
    "CHECKS",
    "Artifacts",
    "AuditTarget",
    "Check",
    "ModelDescription",
    "Policy",
    "Rule",
    "build_checks",
    "build_policy",
    "register",
    "run_audit",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rai_audit.audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from rai_audit.audit.core.checks import (
        CHECKS as CHECKS,
    )
    from rai_audit.audit.core.checks import (
        Artifacts as Artifacts,
    )
    from rai_audit.audit.core.checks import (
        Check as Check,
    )
    from rai_audit.audit.core.checks import (
        register as register,
    )
    from rai_audit.audit.core.config import (
        build_checks as build_checks,
    )
    from rai_audit.audit.core.config import (
        build_policy as build_policy,
    )
    from rai_audit.audit.core.runner import (
        run_audit as run_audit,
    )
    from rai_audit.audit.core.target import (
        AuditTarget as AuditTarget,
    )
    from rai_audit.audit.core.target import (
        ModelDescription as ModelDescription,
    )
    from rai_audit.audit.gate.policy import (
        Policy as Policy,
    )
    from rai_audit.audit.gate.policy import (
        Rule as Rule,
    )
