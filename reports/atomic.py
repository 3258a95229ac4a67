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


class FolderBusyError(FileExistsError):
    """Another process is writing the folder (it holds the folder's lock)."""


@contextlib.contextmanager
def folder_lock(path: str | Path) -> Iterator[Path]:
    """Hold the write lock of the folder ``path`` (a hidden ``.name.lock`` sibling holding the
    holder's pid) for the duration of the block.

    The lock is an OS file lock (``flock``; ``msvcrt.locking`` on Windows): it is released when
    the holder exits in any way, SIGKILL included, so a dead run never leaves a stale lock.

    Raises:
        FolderBusyError: another process holds it; the message names its pid.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            _lock(fd)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise FolderBusyError(
                f"{str(target)!r} is being written by another audit (pid {holder}); wait for it "
                "to finish or choose another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield lock
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int) -> None:
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:  # Windows
        import msvcrt  # noqa: PLC0415

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def sweep_stale(target: Path) -> list[str]:
    """Clear what dead writers of ``target`` left behind; call only while holding its lock.

    A ``.name.staging-*`` sibling is an unfinished build: removed. A ``.name.previous-*`` sibling
    is the earlier folder of a swap that died half-way: put back when ``target`` is missing (it
    is then the only copy), else removed. Returns what was done, one line each."""
    done = []
    previous = sorted(target.parent.glob(f".{target.name}.previous-*"))
    for p in previous:
        if not target.exists():
            os.replace(p, target)
            done.append(f"restored {p.name} as {target.name}")
        else:
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p.name}")
    for p in sorted(target.parent.glob(f".{target.name}.staging-*")):
        shutil.rmtree(p, ignore_errors=True)
        done.append(f"removed {p.name}")
    return done


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
    folder is removed (or, after a hard crash, left as a hidden ``.name.staging-*`` sibling,
    which the next build of ``path`` sweeps away). One process at a time builds ``path``: the
    folder's lock (:func:`folder_lock`) is held throughout, and a second writer gets
    :class:`FolderBusyError` at once.
    """
    target = Path(path)
    with folder_lock(target):
        sweep_stale(target)
        with _build(target, marker) as staging:
            yield staging


@contextlib.contextmanager
def _build(target: Path, marker: str | None) -> Iterator[Path]:
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
