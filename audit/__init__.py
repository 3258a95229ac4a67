"""Audit targets, checks, policies, the runner and the ``rai-audit`` command line.

Typical use from Python::

    from audit import AuditTarget, Policy, run_audit, build_checks
    target = AuditTarget.from_bundle(my_module, load_dataset("adult"))
    report = run_audit(target, build_checks(None, "smoke"), out="runs/mine")
"""

from audit.checks import CHECKS, Artifacts, Check, register
from audit.config import build_checks, build_policy
from audit.policy import Policy, Rule
from audit.runner import run_audit
from audit.target import AuditTarget, ModelDescription

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
