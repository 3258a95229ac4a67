"""Files uploaded through the dashboard: size limits, type checks by content, and storage only
inside the job's own folder under the runs root. Nothing is ever unpickled: models go through
:func:`models.checkpoint.load_model`, which refuses pickles.

- model: a checkpoint (``model.json`` + ``weights.safetensors``, optionally ``splits.npz``), or a
  scikit-learn model saved with skops (reviewed against the allow-list of
  :mod:`models._skops` as it arrives, before anything in it is built). A TorchScript archive
  runs its own code, so it is refused unless the operator sets ``RAI_AUDIT_ALLOW_TORCHSCRIPT=1``
  (see SECURITY.md). The dashboard never widens the skops allow-list;
- data: a CSV file, or a ``.zip`` of an image folder (one subfolder per class), extracted with
  checks against absolute paths, ``..``, links, and size and file-count bombs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from rai_audit.models.checkpoint import inspect_model, sniff_model_file
from rai_audit.models.errors import CheckpointError, InvalidDataError

MAX_MODEL_BYTES = 200 * 2**20
MAX_DATA_BYTES = 100 * 2**20
MAX_UNZIPPED_BYTES = 500 * 2**20
MAX_FILES = 50_000
MAX_ZIP_RATIO = 100


class UploadError(InvalidDataError):
    """An upload that cannot be accepted (the message says why and what to do)."""


def torchscript_allowed() -> bool:
    """Whether the operator allowed TorchScript uploads (``RAI_AUDIT_ALLOW_TORCHSCRIPT=1``)."""
    return os.environ.get("RAI_AUDIT_ALLOW_TORCHSCRIPT", "").strip() == "1"


def _plain_name(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    if not base or base.startswith(".") or base in ("..",):
        raise UploadError(f"file name {name!r} is not a plain file name")
    return base


def _check_size(name: str, data: bytes, limit: int) -> None:
    if len(data) == 0:
        raise UploadError(f"{name!r} is empty")
    if len(data) > limit:
        raise UploadError(
            f"{name!r} is {len(data) / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. "
            "Audit larger files with the command line"
        )


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise UploadError(f"{name!r} would be written outside the job folder")
    return path


def save_model(folder: Path, files: dict[str, bytes]) -> Path:
    """Store an uploaded model under ``folder/model/``; returns the path to load.

    ``files`` maps uploaded file names to bytes: ``model.json`` + ``weights.safetensors``
    (+ ``splits.npz``) for a checkpoint, or one TorchScript or ``.skops`` file.
    """
    target = folder / "model"
    target.mkdir(parents=True, exist_ok=True)
    names = {_plain_name(n): d for n, d in files.items()}
    for n, d in names.items():
        _check_size(n, d, MAX_MODEL_BYTES)
    if "model.json" in names:
        allowed = {"model.json", "weights.safetensors", "splits.npz"}
        extra = sorted(set(names) - allowed)
        if extra or "weights.safetensors" not in names:
            raise UploadError(
                "a checkpoint upload is model.json and weights.safetensors (and optionally "
                f"splits.npz); got {sorted(names)}"
            )
        try:
            json.loads(names["model.json"])
        except ValueError as exc:
            raise UploadError(f"model.json is not valid JSON: {exc}") from exc
        for n, d in names.items():
            _inside(target, n).write_bytes(d)
        kind = sniff_model_file(target / "weights.safetensors")
        if kind != "safetensors":
            raise UploadError(f"weights.safetensors is not a safetensors file (it looks {kind})")
        return target
    if len(names) != 1:
        raise UploadError(
            "upload one .skops (or, where allowed, TorchScript) file, or a checkpoint "
            f"(model.json and weights.safetensors); got {sorted(names)}"
        )
    ((name, data),) = names.items()
    path = _inside(target, name)
    path.write_bytes(data)
    kind = sniff_model_file(path)
    if kind == "pickle":
        path.unlink()
        raise UploadError(
            f"{name!r} is a pickle, which can run code when loaded; it was refused. Save the "
            "weights with safetensors and upload them with model.json, or a scikit-learn "
            "model with skops"
        )
    if kind != "zip":
        path.unlink()
        raise UploadError(f"{name!r} is neither a .skops file nor a TorchScript archive")
    try:
        inspect_model(path, allow_torchscript=torchscript_allowed())
    except CheckpointError as exc:
        path.unlink()
        raise UploadError(str(exc)) from exc
    return path


def preview_model(folder: Path, files: dict[str, bytes]) -> dict[str, Any]:
    """Store an upload under ``folder`` and describe it without building or running it.

    The dashboard shows this as soon as a model is uploaded, inside the web server, so it
    only reads metadata: ``model.json`` and the safetensors header of a checkpoint, and the
    static review of a skops file (:func:`models.checkpoint.inspect_model`). The model is
    built only in the audit's own process.
    """
    path = save_model(folder, files)
    try:
        return inspect_model(path, allow_torchscript=torchscript_allowed())
    except CheckpointError as exc:
        raise UploadError(str(exc)) from exc


def save_csv(folder: Path, name: str, data: bytes) -> Path:
    """Store an uploaded CSV under ``folder/data/`` after checking that it parses."""
    import pandas as pd  # noqa: PLC0415

    name = _plain_name(name)
    _check_size(name, data, MAX_DATA_BYTES)
    try:
        frame = pd.read_csv(io.BytesIO(data), nrows=1000)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UploadError(f"{name!r} is not a readable CSV file: {exc}") from exc
    if frame.shape[1] < 2:
        raise UploadError(f"{name!r} has {frame.shape[1]} column(s); it needs features and a label")
    target = folder / "data"
    target.mkdir(parents=True, exist_ok=True)
    path = _inside(target, name if name.endswith(".csv") else f"{name}.csv")
    path.write_bytes(data)
    return path


def save_image_zip(folder: Path, name: str, data: bytes) -> Path:
    """Extract an uploaded ``.zip`` of an image folder under ``folder/data/images/``."""
    name = _plain_name(name)
    _check_size(name, data, MAX_DATA_BYTES)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{name!r} is not a zip archive") from exc
    target = folder / "data" / "images"
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_FILES:
        raise UploadError(f"{name!r} holds {len(infos)} files; the limit is {MAX_FILES}")
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_UNZIPPED_BYTES:
        raise UploadError(f"{name!r} unpacks to more than {MAX_UNZIPPED_BYTES / 2**20:.0f} MB")
    if unpacked > MAX_ZIP_RATIO * len(data) + 2**20:
        raise UploadError(
            f"{name!r} unpacks to {unpacked / 2**20:.0f} MB from {len(data) / 2**20:.1f} MB "
            f"(more than {MAX_ZIP_RATIO}x: a zip bomb?); images are already compressed"
        )
    todo = []
    for info in infos:  # every entry is checked before any is written
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith("/") or ".." in parts or not parts:
            raise UploadError(f"{name!r} contains an unsafe path {info.filename!r}")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UploadError(f"{name!r} contains a symbolic link {info.filename!r}")
        if parts[0] == "__MACOSX" or parts[-1].startswith("."):
            continue
        todo.append((info, _inside(target, "/".join(parts))))
    target.mkdir(parents=True, exist_ok=True)
    try:
        for info, out in todo:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)  # nothing half-extracted stays
        raise UploadError(f"{name!r} could not be extracted ({exc}); nothing was kept") from exc
    # an archive of one top folder holding the class folders: use that folder
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        inner = [p for p in entries[0].iterdir() if p.is_dir()]
        if inner:
            return entries[0]
    return target


#: the encodings the New audit form offers; the first leaves it to the model (see the README)
ENCODINGS = ("from the model", "raw", "none", "standardize")
#: the split column choice that declares no split
NO_SPLIT = "none: every row is evaluation data"
#: the channel choices of an image upload
CHANNELS = ("from the model", "grayscale", "rgb")


def data_options(
    header: list[str],
    *,
    target: str,
    sensitive: list[str],
    split_column: str | None = None,
    encoding: str | None = None,
) -> dict[str, Any]:
    """The ``csv:`` data options the New audit form gives, checked against the CSV's header.

    ``split_column`` names each row's split (``train`` rows are the model's members, ``holdout``
    rows it never saw); without it every row is evaluation data. ``encoding`` is one of
    :data:`ENCODINGS`; the first leaves it to what the model says it was fit on.

    Raises:
        UploadError: a column that is not in the CSV, or used twice, or an unknown encoding.
    """
    cols = list(header)
    for col in [target, *sensitive, *([split_column] if split_column else [])]:
        if col not in cols:
            raise UploadError(f"column {col!r} is not in the CSV; its columns are {cols[:20]}")
    if target in sensitive:
        raise UploadError(f"the label column {target!r} cannot also be a sensitive column")
    opts: dict[str, Any] = {"target": target, "sensitive": list(sensitive)}
    if split_column:
        if split_column == target or split_column in sensitive:
            role = "the label" if split_column == target else "a sensitive column"
            raise UploadError(
                f"the split column {split_column!r} is also {role}; choose the column that "
                "names each row's split (train, val, test, holdout)"
            )
        opts["split_column"] = split_column
    if encoding and encoding != ENCODINGS[0]:
        if encoding not in ENCODINGS:
            raise UploadError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
        opts["encoding"] = encoding
    return opts


def image_options(size: int | None, channels: str) -> dict[str, Any]:
    """The ``folder:`` data options of an image upload: the side to resize to (0 or None: the
    model's) and the channels (one of :data:`CHANNELS`)."""
    opts: dict[str, Any] = {}
    if size:
        if not 4 <= int(size) <= 1024:
            raise UploadError(f"image size {size} is outside 4..1024 pixels")
        opts["size"] = int(size)
    if channels not in CHANNELS:
        raise UploadError(f"channels {channels!r} is not one of {', '.join(CHANNELS)}")
    if channels != CHANNELS[0]:
        opts["grayscale"] = channels == "grayscale"
    return opts
