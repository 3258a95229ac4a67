"""RAI Audit: a responsible-AI audit suite for PyTorch and scikit-learn classifiers.

Everything installs under this one package, so nothing clashes with a project's own ``models``,
``reports`` or ``audit`` packages: ``rai_audit.audit`` (targets, checks, policies, the runner and
the command line), ``rai_audit.models`` (architectures, training, checkpoints, data sets),
``rai_audit.explain`` and ``rai_audit.attacks`` (the methods) and ``rai_audit.reports`` (the
report schema and its renderers). In the repository these are the top-level folders of the
design; ``rai_audit/`` links to them.

The audit's public names are importable from here, each when first used (PEP 562)::

    from rai_audit import AuditTarget, build_checks, run_audit
"""

from __future__ import annotations

import importlib
from typing import Any

from rai_audit.audit import __all__ as _FROM_AUDIT  # lazy itself: imports nothing heavy

__all__ = list(_FROM_AUDIT)


def __getattr__(name: str) -> Any:
    if name in _FROM_AUDIT:
        return getattr(importlib.import_module("rai_audit.audit"), name)
    raise AttributeError(f"module 'rai_audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM_AUDIT])
