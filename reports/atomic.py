"""Atomic writes: a file or a whole folder appears complete or not at all.

A file is written to a temporary sibling and renamed over the target (``os.replace`` is atomic on
POSIX and Windows). A folder is built in a hidden staging sibling and swapped in; an exception, a
crash or an interrupt while building leaves the previous folder untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, marker: str | None = None) -> Iterator[Path]:
    """Build a folder in a staging sibling; on success it replaces ``path``.

    Args:
        path: the folder to create or replace.
        marker: a file name (e.g. ``report.json``) that an existing folder must contain to be
            replaced. An existing folder that is neither empty nor holds the marker is refused,
            so a mistyped ``--out`` can never wipe unrelated files.

    Usage::

        with atomic_directory("runs/a") as tmp:
            (tmp / "report.json").write_text(...)

    If the body raises (or the process dies), ``path`` keeps its previous content and the staging
    folder is removed (or, after a hard crash, left as a hidden ``.name.staging-*`` sibling).
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{str(target)!r} exists and is not a folder; choose another path")
    if (
        marker is not None
        and target.is_dir()
        and any(target.iterdir())
        and not (target / marker).is_file()
    ):
        raise FileExistsError(
            f"{str(target)!r} already exists and is not an earlier output of this kind (it has "
            f"no {marker}); it would be replaced as a whole, so choose a new or empty folder"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staging = target.parent / f".{target.name}.staging-{token}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    backup = target.parent / f".{target.name}.previous-{token}"
    had_previous = target.exists()
    if had_previous:
        os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        if had_previous:
            os.replace(backup, target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if had_previous:
        shutil.rmtree(backup, ignore_errors=True)
