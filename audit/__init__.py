"""Audit targets, checks, policies, the runner and the ``rai-audit`` command line.

Typical use from Python::

    from audit import AuditTarget, Policy, run_audit, build_checks
    target = AuditTarget.from_bundle(my_module, load_dataset("adult"))
    report = run_audit(target, build_checks(None, "smoke"), out="runs/mine")
"""

from audit.core.checks import CHECKS, Artifacts, Check, register
from audit.core.config import build_checks, build_policy
from audit.core.runner import run_audit
from audit.core.target import AuditTarget, ModelDescription
from audit.gate.policy import Policy, Rule

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
