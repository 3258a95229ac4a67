"""Architectures, training, checkpoints and data sets of RAI Audit."""

from models.architectures import ARCHITECTURES, available_architectures, build_model
from models.datasets import DATASETS, DataBundle, Split, load_dataset
from models.errors import (
    AuditError,
    CheckpointError,
    IncompatibleModelError,
    InvalidConfigError,
    InvalidDataError,
    MissingDependencyError,
)

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
