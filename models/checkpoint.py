"""Checkpoints: a folder with safetensors weights, ``model.json`` and ``splits.npz``.

Layout of a checkpoint folder::

    model.json          architecture and arguments, data set, split seed, preprocessing,
                        class names, training recipe and history, metrics, library versions,
                        sha256 of the weights
    weights.safetensors the state dict (safetensors: no code can run on load)
    splits.npz          split indices (plain integer arrays, loaded with allow_pickle=False)

The folder is written atomically (staged, then renamed). :func:`load_model` also accepts a
TorchScript archive, a bare safetensors file plus an architecture, or a scikit-learn
classifier in skops' secure format. Nothing is ever unpickled:
pickled ``torch.save`` files and ``.pkl`` files are refused with a message saying what to do.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from rai_audit.models.architectures import build_model
from rai_audit.models.datasets import DataBundle, load_dataset
from rai_audit.models.errors import CheckpointError, InvalidConfigError
from rai_audit.models.versions import library_versions, sha256_file
from rai_audit.reports.atomic import atomic_directory

FORMAT = "rai-audit-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
META = "model.json"
SPLITS = "splits.npz"
_REFUSED_PICKLE = (
    "pickles can run arbitrary code when loaded, so it is refused. Save the state dict with "
    "safetensors (safetensors.torch.save_file(model.state_dict(), 'w.safetensors')) and pass "
    "--arch, or export TorchScript (torch.jit.script(model).save('model.ts'))"
)
#: What loading each format can run, as the report states it.
TRUST_POLICY = {
    "checkpoint": "safetensors weights and JSON metadata; architecture from the built-in "
    "registry; nothing in the files is executed",
    "safetensors": "safetensors weights into a built-in architecture; nothing in the file is "
    "executed",
    "skops": "skops file reviewed against an explicit allow-list of names (models/_skops.py) "
    "before anything is built; trees bounds-checked",
    "torchscript": "TorchScript runs the code it contains by design: audit only archives from "
    "a source you trust",
}


@dataclass
class LoadedModel:
    """A model ready to audit, and what is known about it.

    Attributes:
        module: the classifier (eval mode, CPU): a torch module, or a fitted scikit-learn
            classifier loaded from a ``.skops`` file.
        source: ``checkpoint``, ``torchscript``, ``safetensors`` or ``skops``.
        path: what was loaded.
        sha256: hash of the weights file (checkpoint/safetensors) or of the TorchScript archive.
        meta: the checkpoint's ``model.json`` (empty for other formats).
        splits: stored split indices (checkpoints only).
        trust: what loading the format can run, and any names the caller trusted beyond the
            default list (``widened``, ``widened_by``); recorded in the report's manifest.
    """

    module: Any  # a torch.nn.Module, or a scikit-learn classifier for skops files
    source: str
    path: Path
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, np.ndarray] | None = None
    trust: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.trust:
            self.trust = _trust_record(self.source, (), None)

    @property
    def arch(self) -> str:
        return str(self.meta.get("arch", self.source))

    def load_data(self, **overrides: Any) -> DataBundle:
        """The checkpoint's data set with its stored splits and preprocessing."""
        ds = self.meta.get("dataset")
        if not ds:
            raise CheckpointError(
                f"{str(self.path)!r} records no data set; name one with --dataset"
            )
        options = dict(ds.get("options", {}))
        options.update(overrides)
        bundle = load_dataset(
            ds["name"],
            split_seed=int(ds.get("split_seed", 0)),
            indices=self.splits,
            preprocessing=self.meta.get("preprocessing") if ds.get("kind") == "tabular" else None,
            **options,
        )
        if self.splits is not None and bundle.split_origin == "given":
            bundle = replace(bundle, split_origin="checkpoint")
        return bundle


def recipe_hash(payload: Mapping[str, Any]) -> str:
    """Stable short hash of a JSON-able recipe (architecture, data, training config)."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    arch: str,
    arch_kwargs: Mapping[str, Any],
    data: DataBundle,
    train_config: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its provenance as a checkpoint folder at ``path`` (atomically)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    normalize = getattr(model, "normalize", None)
    mean = normalize.mean.flatten().tolist() if normalize is not None else None
    std = normalize.std.flatten().tolist() if normalize is not None else None
    target = Path(path)
    with atomic_directory(target, marker=META) as tmp:
        save_file(state, str(tmp / WEIGHTS))
        splits = {k: v.astype(np.int64) for k, v in data.split_indices().items()}
        np.savez(tmp / SPLITS, **splits)  # type: ignore[arg-type]
        meta: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": arch,
            "arch_kwargs": dict(arch_kwargs),
            "input_shape": list(data.input_shape),
            "num_classes": data.num_classes,
            "normalization": {"mean": mean, "std": std},
            "class_names": list(data.class_names),
            "dataset": data.describe(),
            "splits_file": SPLITS,
            "preprocessing": dict(data.preprocessing),
            "train_config": dict(train_config or {}),
            "history": [dict(h) for h in history],
            "metrics": dict(metrics or {}),
            "versions": library_versions(),
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "weights_file": WEIGHTS,
            "weights_sha256": sha256_file(tmp / WEIGHTS),
            **dict(extra or {}),
        }
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return target


def read_checkpoint_meta(folder: str | Path) -> dict[str, Any]:
    """A checkpoint's validated ``model.json`` (nothing else is read)."""
    return _read_meta(Path(folder))


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {str(folder / META)!r}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(folder / META)!r} is not a RAI Audit checkpoint (no format '{FORMAT}')"
        )
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {meta.get('format_version')} is newer than this suite reads "
            f"({FORMAT_VERSION}); upgrade rai-audit"
        )
    for key in ("arch", "input_shape", "num_classes"):
        if key not in meta:
            raise CheckpointError(f"{str(folder / META)!r} lacks the field {key!r}")
    return meta


def _member(folder: Path, meta: Mapping[str, Any], field: str, default: str) -> Path:
    """The file ``model.json``'s ``field`` names, confined to the checkpoint folder: a plain
    relative name whose resolved path (symlinks followed) stays inside ``folder``; anything
    else stops the load with one line naming the field."""
    name = meta.get(field, default)
    where = f"{str(folder / META)!r}"
    if not isinstance(name, str) or not name or "\x00" in name:
        raise CheckpointError(f"{where}: {field} must be a file name inside the checkpoint folder")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise CheckpointError(
            f"{where}: {field} {name!r} points outside the checkpoint folder; give a file name "
            "inside it, e.g. " + repr(default)
        )
    path = folder / name
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise CheckpointError(
            f"{where}: {field} {name!r} resolves outside the checkpoint folder (a symbolic "
            "link?); copy the file into the folder"
        )
    return path


def _safetensors_header(file: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header alone (nothing is allocated)."""
    try:
        with open(file, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 2 <= n <= 100 * 2**20:
                raise ValueError(f"header size {n}")
            header = json.loads(fh.read(n))
        return {
            str(k): tuple(int(d) for d in v.get("shape", []))
            for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict)
        }
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{str(file)!r} is not a valid safetensors file: {exc}") from exc


def _check_header(module: nn.Module, file: Path) -> None:
    """The weights' header must describe exactly the model's tensors before any is read."""
    shapes = _safetensors_header(file)
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    _same_names(set(own), set(shapes), file)
    bad = [k for k in own if shapes[k] != own[k]]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"the weights in {str(file)!r} do not fit the architecture: {k} has shape "
            f"{shapes[k]}, the model expects {own[k]}; check the input shape, class count and "
            "architecture options"
        )


def _load_state(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{str(file)!r} is not a valid safetensors file: {exc}") from exc


def _apply_state(module: nn.Module, state: Mapping[str, torch.Tensor], where: Path) -> None:
    own = module.state_dict()
    _same_names(set(own), set(state), where)
    bad = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"the weights in {str(where)!r} do not fit the architecture: {k} has shape "
            f"{tuple(state[k].shape)}, the model expects {tuple(own[k].shape)}; check the input "
            "shape, class count and architecture options"
        )
    module.load_state_dict(state)


def _same_names(own: set[str], state: set[str], where: Path) -> None:
    missing = sorted(own - state)
    unexpected = sorted(state - own)
    if missing or unexpected:
        raise CheckpointError(
            f"the weights in {str(where)!r} do not fit the architecture: missing "
            f"{missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}; check --arch and its options"
        )


def _load_checkpoint_folder(folder: Path) -> LoadedModel:
    meta = _read_meta(folder)
    weights = _member(folder, meta, "weights_file", WEIGHTS)
    split_file = _member(folder, meta, "splits_file", SPLITS)
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {str(folder)!r} has no weights file {weights.name!r}")
    digest = sha256_file(weights)
    if meta.get("weights_sha256") and meta["weights_sha256"] != digest:
        raise CheckpointError(
            f"the weights in {str(weights)!r} do not match the sha256 in model.json "
            "(the file was changed or corrupted); retrain or restore the checkpoint"
        )
    norm = meta.get("normalization") or {}
    try:
        module = build_model(
            meta["arch"],
            meta["input_shape"],
            int(meta["num_classes"]),
            mean=norm.get("mean"),
            std=norm.get("std"),
            **meta.get("arch_kwargs", {}),
        )
    except InvalidConfigError as exc:
        raise CheckpointError(f"checkpoint {str(folder)!r}: {exc}") from exc
    _check_header(module, weights)
    _apply_state(module, _load_state(weights), weights)
    splits = None
    if split_file.is_file():
        try:
            with np.load(split_file, allow_pickle=False) as z:
                splits = {k: z[k].astype(np.int64) for k in z.files}
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read split indices {str(split_file)!r}: {exc}") from exc
    module.eval()
    return LoadedModel(module, "checkpoint", folder, digest, meta, splits)


def _zip_names(file: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(file) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def _load_skops(file: Path, trust: Sequence[str], trust_by: str | None) -> LoadedModel:
    """A scikit-learn model in skops' format, through the three gates of :mod:`models._skops`
    (an explicit allow-list of names, skops' own audit, bounds checks on the built trees)."""
    from rai_audit.models import _skops  # noqa: PLC0415

    estimator, review = _skops.load(file, trust)
    if not hasattr(estimator, "predict_proba"):
        raise CheckpointError(
            f"{str(file)!r} holds a {type(estimator).__name__}, which has no predict_proba; "
            "save a probabilistic classifier"
        )
    meta = {"arch": f"sklearn:{type(estimator).__name__}"}
    loaded = LoadedModel(estimator, "skops", file, sha256_file(file), meta)
    loaded.trust = _trust_record("skops", review.widened, trust_by)
    return loaded


def _trust_record(fmt: str, widened: Sequence[str], by: str | None) -> dict[str, Any]:
    """What the report says about how far the model file was trusted."""
    record: dict[str, Any] = {"format": fmt, "policy": TRUST_POLICY[fmt], "widened": list(widened)}
    if widened:
        record["widened_by"] = by or "python api (load_model trust=)"
    return record


def _load_torchscript(file: Path) -> LoadedModel:
    names = _zip_names(file)
    if names is None:
        raise CheckpointError(
            f"{str(file)!r} is neither a TorchScript archive, a safetensors file nor a checkpoint "
            "folder. Export with torch.jit.script(model).save(path), or save weights with "
            "safetensors and pass --arch"
        )
    is_script = any("/code/" in n for n in names) and any(
        n.endswith("constants.pkl") for n in names
    )
    if not is_script:
        if any(n.endswith("models/model.json") for n in names):
            raise CheckpointError(
                f"{str(file)!r} is a torch.export archive; torch.export.load falls back to full "
                "unpickling, so it is refused. Export TorchScript or save weights with safetensors"
            )
        raise CheckpointError(f"{str(file)!r} is a pickled torch.save file: {_REFUSED_PICKLE}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(file), map_location="cpu")
    except RuntimeError as exc:
        raise CheckpointError(f"cannot load TorchScript archive {str(file)!r}: {exc}") from exc
    module.eval()
    return LoadedModel(module, "torchscript", file, sha256_file(file))


def sniff_model_file(path: Path) -> str:
    """What a model file is, from its first bytes (never from its name alone).

    Returns ``safetensors`` (8-byte little-endian header length, then a JSON object), ``zip``
    (TorchScript, ``torch.save`` or ``torch.export`` archives: told apart by their entries),
    ``pickle`` (protocol 2+ opcode ``0x80``) or ``unknown``.
    """
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if 2 <= n <= path.stat().st_size - 8:
            return "safetensors"
    if path.suffix.lower() == ".safetensors":
        return "safetensors"  # let the safetensors reader say what is wrong with it
    return "unknown"


def load_model(
    path: str | Path,
    *,
    arch: str | None = None,
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    arch_kwargs: Mapping[str, Any] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    trust: Sequence[str] = (),
    trust_by: str | None = None,
    allow_torchscript: bool = True,
) -> LoadedModel:
    """Load a model to audit, never unpickling anything.

    Args:
        path: a checkpoint folder (``model.json`` inside), a TorchScript archive, a
            ``.safetensors`` state dict, or a scikit-learn classifier saved with skops
            (``skops.io.dump``).
        arch, input_shape, num_classes, arch_kwargs, mean, std: needed for a bare safetensors
            file: the architecture to load the weights into (see :func:`build_model`).
        trust: skops only: exact names to trust beyond the reviewed default list (see
            :mod:`models._skops`); recorded as ``trust.widened`` of the result.
        trust_by: who widened the trust (``cli --trust``, ``config model.trust``), recorded.
        allow_torchscript: TorchScript runs its own code when loaded and called; the
            dashboard passes False unless its operator enabled it.

    Raises:
        CheckpointError: missing file, pickle, corrupt or mismatched weights, a skops file
            that names anything untrusted, TorchScript when it is not allowed.
    """
    p = Path(path)
    fmt = model_format(p)
    if trust and fmt != "skops":
        raise CheckpointError(
            f"trust names ({', '.join(trust)}) apply to .skops files only; {str(p)!r} is "
            f"a {fmt} model: remove --trust / model.trust"
        )
    if fmt == "checkpoint":
        return _load_checkpoint_folder(p)
    if fmt == "pickle":
        raise CheckpointError(f"{str(p)!r} is a raw pickle: {_REFUSED_PICKLE}")
    if fmt == "skops":
        return _load_skops(p, tuple(trust), trust_by)
    if fmt == "safetensors":
        return _load_safetensors(p, arch, input_shape, num_classes, arch_kwargs, mean, std)
    if fmt == "torchscript" and not allow_torchscript:
        raise _torchscript_refused(p)
    return _load_torchscript(p)


def _torchscript_refused(p: Path) -> CheckpointError:
    return CheckpointError(
        f"{str(p)!r} is a TorchScript archive, which runs its own code when loaded; it is "
        "refused here. Audit it with the command line, or ask the operator to allow "
        "TorchScript (RAI_AUDIT_ALLOW_TORCHSCRIPT=1; see SECURITY.md)"
    )


def model_format(path: str | Path) -> str:
    """What a model path holds, from its content (never its name): ``checkpoint`` (a folder
    with model.json), ``safetensors``, ``skops``, ``torchscript`` (any other zip: the
    TorchScript loader tells torch.save and torch.export archives apart) or ``pickle``.

    Raises:
        CheckpointError: the path is missing, or a folder that is not a checkpoint.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"model path {str(p)!r} does not exist")
    if p.is_dir():
        if not (p / META).is_file():
            raise CheckpointError(
                f"folder {str(p)!r} is not a checkpoint (no {META}); train one with "
                "'rai-audit train' or pass a TorchScript or safetensors file"
            )
        return "checkpoint"
    kind = sniff_model_file(p)
    if kind in ("pickle", "safetensors"):
        return kind
    names = _zip_names(p) or []
    if "schema.json" in names and not any("/code/" in n for n in names):
        return "skops"
    return "torchscript"


def _load_safetensors(
    p: Path,
    arch: str | None,
    input_shape: Sequence[int] | None,
    num_classes: int | None,
    arch_kwargs: Mapping[str, Any] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> LoadedModel:
    if arch is None or input_shape is None or num_classes is None:
        raise CheckpointError(
            f"{str(p)!r} holds weights only: also give the architecture, input shape and "
            "class count (--arch, --input-shape, --num-classes)"
        )
    try:
        module = build_model(
            arch, input_shape, int(num_classes), mean=mean, std=std, **dict(arch_kwargs or {})
        )
    except InvalidConfigError as exc:
        raise CheckpointError(str(exc)) from exc
    state = _load_state(p)
    if not any(k.startswith("normalize.") for k in state) and not any(
        k.startswith("net.") for k in state
    ):
        state = {f"net.{k}": v for k, v in state.items()}
        norm = module.normalize.state_dict()  # type: ignore[union-attr]
        state.update({f"normalize.{k}": v for k, v in norm.items()})
    _apply_state(module, state, p)
    module.eval()
    meta = {
        "arch": arch,
        "arch_kwargs": dict(arch_kwargs or {}),
        "input_shape": list(input_shape),
        "num_classes": int(num_classes),
    }
    return LoadedModel(module, "safetensors", p, sha256_file(p), meta)


def _safetensors_parameters(file: Path) -> int | None:
    """Parameter count from a safetensors header alone (the tensors are not read)."""
    try:
        with open(file, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 2 <= n <= 100 * 2**20:
                return None
            header = json.loads(fh.read(n))
    except (OSError, ValueError):
        return None
    total = 0
    for key, entry in header.items():
        if key == "__metadata__" or not isinstance(entry, dict):
            continue
        count = 1
        for dim in entry.get("shape", []):
            count *= int(dim)
        total += count
    return total


def inspect_model(path: str | Path, *, allow_torchscript: bool = True) -> dict[str, Any]:
    """Describe a model file without building or running anything in it (for previews).

    Returns ``source``, ``arch``, ``parameters`` (None where unknown), ``classes``,
    ``dataset`` and ``sha256``. A skops file goes through the static review of
    :func:`models._skops.review`, so an untrusted one is refused here already.

    Raises:
        CheckpointError: a pickle, an untrusted skops file, or TorchScript when not allowed.
    """
    p = Path(path)
    fmt = model_format(p)
    info: dict[str, Any] = {"source": fmt, "parameters": None, "classes": None, "dataset": None}
    if fmt == "pickle":
        raise CheckpointError(f"{str(p)!r} is a raw pickle: {_REFUSED_PICKLE}")
    if fmt == "checkpoint":
        meta = _read_meta(p)
        weights = _member(p, meta, "weights_file", WEIGHTS)
        _member(p, meta, "splits_file", SPLITS)
        if sniff_model_file(weights) != "safetensors":
            raise CheckpointError(f"{str(weights)!r} is not a safetensors file")
        return {
            **info,
            "arch": str(meta["arch"]),
            "parameters": _safetensors_parameters(weights),
            "classes": meta.get("class_names"),
            "dataset": (meta.get("dataset") or {}).get("name"),
            "sha256": sha256_file(weights),
        }
    if fmt == "skops":
        from rai_audit.models import _skops  # noqa: PLC0415

        review = _skops.review(p)
        return {
            **info,
            "arch": f"sklearn:{review.root.rsplit('.', 1)[-1]}",
            "sha256": sha256_file(p),
        }
    if fmt == "safetensors":
        return {
            **info,
            "arch": "weights only",
            "parameters": _safetensors_parameters(p),
            "sha256": sha256_file(p),
        }
    if not allow_torchscript:
        raise _torchscript_refused(p)
    return {**info, "arch": "torchscript (not loaded in the preview)", "sha256": sha256_file(p)}
