"""Architectures, training, checkpoints and data sets of RAI Audit.

The names below are imported when first used (PEP 562): ``models.errors`` and ``models.options``,
which every package uses, do not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ARCHITECTURES": "rai_audit.models.architectures",
    "available_architectures": "rai_audit.models.architectures",
    "build_model": "rai_audit.models.architectures",
    "DATASETS": "rai_audit.models.datasets",
    "DataBundle": "rai_audit.models.datasets",
    "Split": "rai_audit.models.datasets",
    "load_dataset": "rai_audit.models.datasets",
    "AuditError": "rai_audit.models.errors",
    "CheckpointError": "rai_audit.models.errors",
    "IncompatibleModelError": "rai_audit.models.errors",
    "InvalidConfigError": "rai_audit.models.errors",
    "InvalidDataError": "rai_audit.models.errors",
    "MissingDependencyError": "rai_audit.models.errors",
}

__all__ = [
    "ARCHITECTURES",
    "DATASETS",
    "AuditError",
    "CheckpointError",
    "DataBundle",
    "IncompatibleModelError",
    "InvalidConfigError",
    "InvalidDataError",
    "MissingDependencyError",
    "Split",
    "available_architectures",
    "build_model",
    "load_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from rai_audit.models.architectures import (
        ARCHITECTURES as ARCHITECTURES,
    )
    from rai_audit.models.architectures import (
        available_architectures as available_architectures,
    )
    from rai_audit.models.architectures import (
        build_model as build_model,
    )
    from rai_audit.models.datasets import (
        DATASETS as DATASETS,
    )
    from rai_audit.models.datasets import (
        DataBundle as DataBundle,
    )
    from rai_audit.models.datasets import (
        Split as Split,
    )
    from rai_audit.models.datasets import (
        load_dataset as load_dataset,
    )
    from rai_audit.models.errors import (
        AuditError as AuditError,
    )
    from rai_audit.models.errors import (
        CheckpointError as CheckpointError,
    )
    from rai_audit.models.errors import (
        IncompatibleModelError as IncompatibleModelError,
    )
    from rai_audit.models.errors import (
        InvalidConfigError as InvalidConfigError,
    )
    from rai_audit.models.errors import (
        InvalidDataError as InvalidDataError,
    )
    from rai_audit.models.errors import (
        MissingDependencyError as MissingDependencyError,
    )
