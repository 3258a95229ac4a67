"""Architectures, training, checkpoints and data sets of RAI Audit.

The names below are imported when first used (PEP 562): ``models.errors`` and ``models.options``,
which every package uses, do not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ARCHITECTURES": "models.architectures",
    "available_architectures": "models.architectures",
    "build_model": "models.architectures",
    "DATASETS": "models.datasets",
    "DataBundle": "models.datasets",
    "Split": "models.datasets",
    "load_dataset": "models.datasets",
    "AuditError": "models.errors",
    "CheckpointError": "models.errors",
    "IncompatibleModelError": "models.errors",
    "InvalidConfigError": "models.errors",
    "InvalidDataError": "models.errors",
    "MissingDependencyError": "models.errors",
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
    from models.architectures import (
        ARCHITECTURES as ARCHITECTURES,
    )
    from models.architectures import (
        available_architectures as available_architectures,
    )
    from models.architectures import (
        build_model as build_model,
    )
    from models.datasets import (
        DATASETS as DATASETS,
    )
    from models.datasets import (
        DataBundle as DataBundle,
    )
    from models.datasets import (
        Split as Split,
    )
    from models.datasets import (
        load_dataset as load_dataset,
    )
    from models.errors import (
        AuditError as AuditError,
    )
    from models.errors import (
        CheckpointError as CheckpointError,
    )
    from models.errors import (
        IncompatibleModelError as IncompatibleModelError,
    )
    from models.errors import (
        InvalidConfigError as InvalidConfigError,
    )
    from models.errors import (
        InvalidDataError as InvalidDataError,
    )
    from models.errors import (
        MissingDependencyError as MissingDependencyError,
    )
