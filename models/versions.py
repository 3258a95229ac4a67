"""Provenance: library versions and hashes recorded in checkpoints and reports."""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path

TRACKED = (
    "rai-audit",
    "torch",
    "numpy",
    "scikit-learn",
    "pandas",
    "captum",
    "shap",
    "lime",
    "fairlearn",
    "adversarial-robustness-toolbox",
    "opacus",
    "safetensors",
    "pydantic",
    "matplotlib",
    "streamlit",
    "reportlab",
)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour the results depend on."""
    out = {"python": platform.python_version()}
    for name in TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def platform_info() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
