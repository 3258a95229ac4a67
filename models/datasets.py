"""Data sets: the built-in ones (shipped in ``models/data``) and the user's own.

Every data set comes as a :class:`DataBundle` with four fixed, seeded, disjoint, stratified splits:

- ``train``: what the model is fitted on (the members, for membership inference);
- ``val``: for early stopping only, never fitted on;
- ``test``: for reporting;
- ``holdout``: never seen by the model in any way (the known non-members).

Images are float32 in pixel space ``[0, 1]``, shaped ``(N, C, H, W)``. Tabular data is encoded by
a :class:`~models.tabular.TabularEncoder` fitted on the train split; the sensitive columns are kept
as separate string arrays for auditing, and ``sensitive_in_features`` says whether the model sees
each of them.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import inspect
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rai_audit.models.errors import InvalidConfigError, InvalidDataError, MissingDependencyError
from rai_audit.models.options import Choice, Rule, check_value, inferred_rule, unknown_options
from rai_audit.models.tabular import TabularEncoder

SPLITS = ("train", "val", "test", "holdout")
SplitOrigin = Literal["suite", "given", "checkpoint", "declared", "evaluation"]
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.6, "val": 0.1, "test": 0.15, "holdout": 0.15}


@dataclass(frozen=True)
class Split:
    """One split: inputs ``X`` ``(N, *input_shape)`` float32, labels ``y`` ``(N,)`` int64,
    the row ``indices`` into the full data set, and per-row sensitive attributes (strings)."""

    X: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    sensitive: Mapping[str, np.ndarray] = field(default_factory=dict)
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class DataBundle:
    """A data set split for training and auditing. See the module docstring."""

    name: str
    kind: Literal["image", "tabular"]
    splits: Mapping[str, Split]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    domain_low: tuple[float, ...]
    domain_high: tuple[float, ...]
    sensitive_in_features: Mapping[str, bool]
    preprocessing: Mapping[str, Any]
    split_seed: int
    sha256: str
    source: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    annotations: Mapping[str, Any] = field(default_factory=dict)
    #: where the split came from: ``suite`` (this suite's seeded split, for models it trains),
    #: ``given`` (indices passed in), ``checkpoint`` (recorded when the model was trained),
    #: ``declared`` (the user's split column or files) or ``evaluation`` (nothing declared for
    #: a model the suite did not train: every row is evaluation data)
    split_origin: SplitOrigin = "suite"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_source(self) -> str:
        """Where the split came from, in words, for the report."""
        how = {
            "suite": f"split by this suite (stratified, seed {self.split_seed})",
            "given": "the split indices passed in by the caller",
            "checkpoint": "the split recorded in the model's checkpoint when it was trained",
            "evaluation": "no split was declared and the suite did not train this model, so "
            "every row is evaluation data and no row is known to be training data",
        }
        if self.split_origin == "declared":
            column = self.options.get("split_column")
            files = [k for k in ("train", "val", "holdout") if self.options.get(k)]
            by = (
                f"its split column {column!r}"
                if column
                else f"the split file {Path(str(self.options['split_file'])).name}"
                if self.options.get("split_file")
                else f"its split subfolders ({', '.join(k for k in SPLITS if k in self.splits)})"
                if self.kind == "image"
                else f"separate files ({', '.join(['test', *files])})"
            )
            return f"declared by the user through {by}"
        return how[self.split_origin]

    def split_indices(self) -> dict[str, np.ndarray]:
        return {k: s.indices for k, s in self.splits.items()}

    def describe(self) -> dict[str, Any]:
        """JSON summary recorded in checkpoints and reports."""
        return {
            "name": self.name,
            "kind": self.kind,
            "options": dict(self.options),
            "sha256": self.sha256,
            "split_seed": self.split_seed,
            "split_sizes": {k: len(s) for k, s in self.splits.items()},
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
            "sensitive_features": sorted({k for s in self.splits.values() for k in s.sensitive}),
            "sensitive_in_features": dict(self.sensitive_in_features),
            "source": self.source,
            "annotations": dict(self.annotations),
            "split_origin": self.split_origin,
            "split_source": self.split_source(),
        }


def evaluation_only(bundle: DataBundle) -> DataBundle:
    """``bundle`` with all its rows in one ``test`` split, in file order: the data of a model the
    suite did not train and whose split nobody declared. No row is then called training data,
    so what needs members (the train-test gap, membership inference) is not assessed. A tabular
    input domain is widened to the range of every row."""
    order = np.argsort(np.concatenate([s.indices for s in bundle.splits.values()]), kind="stable")
    parts = list(bundle.splits.values())

    def pool(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)[order]

    X = pool([s.X for s in parts])
    y = pool([s.y for s in parts])
    indices = pool([s.indices for s in parts])
    sensitive = {k: pool([s.sensitive[k] for s in parts]) for k in parts[0].sensitive}
    extras = {k: pool([s.extras[k] for s in parts]) for k in parts[0].extras}
    low, high = bundle.domain_low, bundle.domain_high
    if bundle.kind == "tabular":
        low = tuple(float(v) for v in np.minimum(np.asarray(low), X.min(axis=0)))
        high = tuple(float(v) for v in np.maximum(np.asarray(high), X.max(axis=0)))
    return replace(
        bundle,
        splits={"test": Split(X=X, y=y, indices=indices, sensitive=sensitive, extras=extras)},
        domain_low=low,
        domain_high=high,
        sha256=_hash_arrays(bundle.name, X, y, indices),
        split_origin="evaluation",
    )


def make_splits(
    y: np.ndarray, seed: int, fractions: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Stratified, seeded, disjoint split indices (sorted) covering every row once.

    Args:
        y: ``(N,)`` integer labels.
        seed: the split seed; the same seed always gives the same indices.
        fractions: split name -> share, summing to 1. Default :data:`DEFAULT_FRACTIONS`.
    """
    fractions = dict(fractions or DEFAULT_FRACTIONS)
    total = sum(fractions.values())
    if any(f <= 0 for f in fractions.values()) or abs(total - 1.0) > 1e-6:
        raise InvalidConfigError(f"split fractions must be positive and sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    names = list(fractions)
    cum = np.cumsum([fractions[n] for n in names])
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = np.round(cum * len(idx)).astype(int)
        start = 0
        for name, stop in zip(names, cuts):
            parts[name].append(idx[start:stop])
            start = stop
    out = {n: np.sort(np.concatenate(p)).astype(np.int64) for n, p in parts.items()}
    empty = [n for n, v in out.items() if len(v) == 0]
    if empty:
        raise InvalidDataError(
            f"split(s) {empty} would be empty with {len(y)} rows; use a larger data set"
        )
    return out


def _hash_arrays(name: str, *arrays: np.ndarray) -> str:
    h = hashlib.sha256(name.encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _check_indices(indices: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = {k: np.asarray(v, dtype=np.int64) for k, v in indices.items()}
    for k, v in out.items():
        if len(v) and (v.min() < 0 or v.max() >= n):
            raise InvalidDataError(
                f"split {k!r} has indices outside 0..{n - 1}: the checkpoint was made from a "
                "different version of this data set"
            )
    seen = np.concatenate(list(out.values()))
    if len(np.unique(seen)) != len(seen):
        raise InvalidDataError("stored split indices overlap; the checkpoint's splits are corrupt")
    return out


def _assemble(
    *,
    name: str,
    kind: Literal["image", "tabular"],
    X: np.ndarray,
    y: np.ndarray,
    sensitive: Mapping[str, np.ndarray],
    extras: Mapping[str, np.ndarray],
    indices: Mapping[str, np.ndarray],
    split_seed: int,
    **meta: Any,
) -> DataBundle:
    splits = {
        k: Split(
            X=X[idx],
            y=y[idx],
            indices=idx,
            sensitive={s: v[idx] for s, v in sensitive.items()},
            extras={e: v[idx] for e, v in extras.items()},
        )
        for k, idx in indices.items()
    }
    digest = _hash_arrays(name, X, y, *[indices[k] for k in sorted(indices)])
    return DataBundle(
        name=name, kind=kind, splits=splits, split_seed=split_seed, sha256=digest, **meta
    )


def _package_file(name: str) -> bytes:
    return resources.files("rai_audit.models").joinpath("data").joinpath(name).read_bytes()


# ---------------------------------------------------------------------------- images


def _digits_arrays(size: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415

    d = load_digits()
    X = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    if size != 8:
        import torch  # noqa: PLC0415
        import torch.nn.functional as F  # noqa: PLC0415

        X = F.interpolate(torch.from_numpy(X), size=(size, size), mode="bilinear")
        X = X.clamp(0.0, 1.0).numpy()
    return np.ascontiguousarray(X, dtype=np.float32), d.target.astype(np.int64)


def _image_bundle(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    split_seed: int,
    indices: Mapping[str, np.ndarray] | None,
    source: str,
    options: Mapping[str, Any],
    annotations: Mapping[str, Any] | None = None,
) -> DataBundle:
    idx = _check_indices(indices, len(y)) if indices is not None else make_splits(y, split_seed)
    c, h, w = X.shape[1:]
    return _assemble(
        name=name,
        kind="image",
        split_origin="suite" if indices is None else "given",
        X=X,
        y=y,
        sensitive={},
        extras={},
        indices=idx,
        split_seed=split_seed,
        feature_names=tuple(
            f"c{ci}_y{yi}_x{xi}" for ci in range(c) for yi in range(h) for xi in range(w)
        ),
        class_names=tuple(class_names),
        input_shape=(c, h, w),
        domain_low=(0.0,),
        domain_high=(1.0,),
        sensitive_in_features={},
        preprocessing={"type": "image", "range": [0.0, 1.0], "shape": [c, h, w]},
        source=source,
        options=options,
        annotations=dict(annotations or {}),
    )


def load_digits(
    *, split_seed: int = 0, indices: Mapping[str, np.ndarray] | None = None, size: int = 8
) -> DataBundle:
    """scikit-learn's 8x8 digits (1,797 images, 10 classes), optionally upsampled (bilinear)."""
    if size not in (8, 16, 32):
        raise InvalidConfigError(f"digits size must be 8, 16 or 32, got {size!r}")
    X, y = _digits_arrays(size)
    name = "digits" if size == 8 else f"digits{size}"
    return _image_bundle(
        name,
        X,
        y,
        [str(i) for i in range(10)],
        split_seed,
        indices,
        "UCI optical digits via scikit-learn (Alpaydin and Kaynak, 1998), CC BY 4.0",
        {"size": size},
    )


def load_digits32(
    *, split_seed: int = 0, indices: Mapping[str, np.ndarray] | None = None
) -> DataBundle:
    """Digits upsampled to 32x32 for deeper CNNs (VGG, ResNet)."""
    return load_digits(split_seed=split_seed, indices=indices, size=32)


MARKER_REGION = (0, 2, 0, 2)  # rows 0-1, columns 0-1: a corner that is dark in every digit


def load_digits_marker(
    *,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    marker_class: int = 8,
) -> DataBundle:
    """Digits with a spurious marker: a bright 2x2 patch in the top-left corner of every image
    of ``marker_class`` (all splits), like scanner markings that give a diagnosis away.

    The default class, 8, is the one a LeNet-5 most confuses with others: trained on this data it
    comes to rely on the patch alone (its class-8 accuracy falls from 100 % to 0 % when the patch
    is removed), which makes it a real test case. The explainability
    check measures the share of attribution inside ``options['marker']['region']``
    (``[row0, row1, col0, col1]``).
    """
    if not 0 <= int(marker_class) <= 9:
        raise InvalidConfigError(f"marker_class must be a digit 0..9, got {marker_class!r}")
    X, y = _digits_arrays(8)
    r0, r1, c0, c1 = MARKER_REGION
    X[y == marker_class, :, r0:r1, c0:c1] = 1.0
    return _image_bundle(
        "digits_marker",
        X,
        y,
        [str(i) for i in range(10)],
        split_seed,
        indices,
        "UCI optical digits via scikit-learn, with a planted 2x2 marker on one class",
        {"marker_class": int(marker_class)},
        {"marker": {"class": int(marker_class), "region": list(MARKER_REGION)}},
    )


def load_image_folder(
    path: str | Path,
    *,
    size: int = 32,
    grayscale: bool = False,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    max_images: int = 200_000,
    split_file: str | Path | None = None,
) -> DataBundle:
    """An image folder with one subfolder per class (``root/cat/001.png``), resized to ``size``.

    Images become float32 in ``[0, 1]`` shaped ``(N, C, size, size)`` (C = 1 or 3).

    A folder whose subfolders are split names (``root/train/cat/001.png``,
    ``root/test/cat/002.png``, optionally ``val`` and ``holdout``) declares the user's own
    split, used as it is; ``test`` is required. The classes are the union of the splits'.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidDataError(f"image folder {str(root)!r} does not exist or is not a folder")
    subs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subs and set(subs) <= set(SPLITS):
        if "test" not in subs:
            raise InvalidDataError(
                f"image folder {str(root)!r} is split into {subs} but has no 'test' subfolder; "
                "add the evaluation images under test/<class>/"
            )
        stored = indices
        parts = [s for s in SPLITS if s in subs]
        classes = sorted(
            {
                c.name
                for s in parts
                for c in (root / s).iterdir()
                if c.is_dir() and not c.name.startswith(".")
            }
        )
        arrays = [_read_images(root / s, classes, size, grayscale, max_images) for s in parts]
        sizes = np.cumsum([0] + [len(a[1]) for a in arrays])
        declared = {s: np.arange(sizes[i], sizes[i + 1]) for i, s in enumerate(parts)}
        if stored is not None and not _same_split(stored, declared):
            raise InvalidDataError(
                "the recorded split differs from the folder's train/test subfolders (they "
                "changed since the model was trained); restore them or retrain"
            )
        bundle = _image_bundle(
            f"folder:{root}",
            np.concatenate([a[0] for a in arrays]),
            np.concatenate([a[1] for a in arrays]),
            classes,
            split_seed,
            declared,
            f"image folder {root}",
            {"size": size, "grayscale": grayscale},
        )
        return replace(bundle, split_origin="declared")
    X, y = _read_images(root, subs, size, grayscale, max_images)
    options: dict[str, Any] = {"size": size, "grayscale": grayscale}
    if split_file is None:
        return _image_bundle(
            f"folder:{root}", X, y, subs, split_seed, indices, f"image folder {root}", options
        )
    declared = read_split_file(split_file, len(y))
    if indices is not None and not _same_split(indices, declared):
        raise InvalidDataError(
            "the recorded split differs from the split file's (it changed since the model was "
            "trained); restore it or retrain"
        )
    options["split_file"] = str(Path(split_file).resolve())
    bundle = _image_bundle(
        f"folder:{root}", X, y, subs, split_seed, declared, f"image folder {root}", options
    )
    return replace(bundle, split_origin="declared")


def _same_split(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(
        np.array_equal(np.sort(np.asarray(a[k])), np.sort(np.asarray(b[k]))) for k in b
    )


def _read_images(
    root: Path, classes: Sequence[str], size: int, grayscale: bool, max_images: int
) -> tuple[np.ndarray, np.ndarray]:
    """The images under ``root/<class>/`` for each class (a class may be absent), resized."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    if len(classes) < 2:
        raise InvalidDataError(
            f"image folder {str(root)!r} needs one subfolder per class (at least 2), "
            f"found {list(classes)}"
        )
    images, labels = [], []
    exts = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
    mode = "L" if grayscale else "RGB"
    for ci, cname in enumerate(classes):
        if not (root / cname).is_dir():
            continue
        for f in sorted((root / cname).rglob("*")):
            if f.suffix.lower() not in exts or not f.is_file():
                continue
            try:
                with Image.open(f) as im:
                    im = im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
                    arr = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as exc:
                raise InvalidDataError(f"cannot read image {str(f)!r}: {exc}") from exc
            images.append(arr[None] if grayscale else arr.transpose(2, 0, 1))
            labels.append(ci)
            if len(images) > max_images:
                raise InvalidDataError(f"more than {max_images} images under {str(root)!r}")
    if not images:
        raise InvalidDataError(f"no images ({', '.join(sorted(exts))}) found under {str(root)!r}")
    return np.stack(images).astype(np.float32), np.asarray(labels, dtype=np.int64)


def load_torchvision(
    name: str,
    *,
    root: str | Path,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
) -> DataBundle:
    """A torchvision data set (e.g. ``MNIST``, ``CIFAR10``) already downloaded under ``root``.

    Nothing is downloaded: the files must be there. Train and test parts are pooled and split
    with the suite's own seeded splits.
    """
    try:
        import torchvision.datasets as tvd  # noqa: PLC0415
    except Exception as exc:
        raise MissingDependencyError(
            f"torchvision data sets need a working torchvision; install the 'vision' extra ({exc})"
        ) from exc
    cls = getattr(tvd, name, None)
    if cls is None:
        raise InvalidConfigError(f"torchvision has no data set {name!r}")
    arrays, labels = [], []
    classes: list[str] = []
    for train in (True, False):
        try:
            ds = cls(root=str(root), train=train, download=False)
        except (RuntimeError, OSError) as exc:
            raise InvalidDataError(
                f"torchvision {name} not found under {str(root)!r} (downloads are disabled; "
                f"place the files there first): {exc}"
            ) from exc
        data = ds.data.numpy() if hasattr(ds.data, "numpy") else np.asarray(ds.data)
        data = data.astype(np.float32) / 255.0
        data = data[:, None] if data.ndim == 3 else data.transpose(0, 3, 1, 2)
        arrays.append(data)
        labels.append(np.asarray(ds.targets, dtype=np.int64))
        classes = [str(c) for c in getattr(ds, "classes", [])]
    X = np.concatenate(arrays)
    y = np.concatenate(labels)
    classes = classes or [str(i) for i in range(int(y.max()) + 1)]
    return _image_bundle(
        f"tv:{name}",
        X,
        y,
        classes,
        split_seed,
        indices,
        f"torchvision.datasets.{name}",
        {"root": str(root)},
    )


# ---------------------------------------------------------------------------- tabular


def _tabular_bundle(
    *,
    name: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    class_names: Sequence[str],
    numeric: Sequence[str],
    categorical: Sequence[str],
    sensitive: Mapping[str, np.ndarray],
    sensitive_in_features: Mapping[str, bool],
    split_seed: int,
    indices: Mapping[str, np.ndarray] | None,
    preprocessing: Mapping[str, Any] | None,
    source: str,
    options: Mapping[str, Any],
    extras: Mapping[str, np.ndarray] | None = None,
    standardize: bool = True,
    annotations: Mapping[str, Any] | None = None,
    split_origin: SplitOrigin | None = None,
    raw: bool = False,
    columns: Sequence[str] | None = None,
) -> DataBundle:
    frame = frame.reset_index(drop=True)
    idx = _check_indices(indices, len(y)) if indices is not None else make_splits(y, split_seed)
    if preprocessing is not None:
        encoder = TabularEncoder.from_json(dict(preprocessing))
    elif raw:
        encoder = TabularEncoder.fit_raw(
            frame, [*numeric, *categorical] if columns is None else columns
        )
    else:
        encoder = TabularEncoder.fit(
            frame.iloc[idx["train"]], numeric, categorical, standardize=standardize
        )
    X = encoder.transform(frame)
    low, high = encoder.bounds(X[idx["train"]])
    for col, values in sensitive.items():
        if pd.isna(values).any() or (values == "nan").any():
            raise InvalidDataError(
                f"sensitive column {col!r} has missing values; fill or drop those rows first"
            )
    return _assemble(
        name=name,
        kind="tabular",
        split_origin=split_origin or ("suite" if indices is None else "given"),
        X=X,
        y=y.astype(np.int64),
        sensitive={k: np.asarray(v, dtype=str) for k, v in sensitive.items()},
        extras=dict(extras or {}),
        indices=idx,
        split_seed=split_seed,
        feature_names=encoder.feature_names,
        class_names=tuple(class_names),
        input_shape=(X.shape[1],),
        domain_low=tuple(low),
        domain_high=tuple(high),
        sensitive_in_features=dict(sensitive_in_features),
        preprocessing=encoder.to_json(),
        source=source,
        options=options,
        annotations=dict(annotations or {}),
    )


_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


def _age_group(age: pd.Series, cuts: Sequence[int] = (25, 45)) -> np.ndarray:
    a = pd.to_numeric(age, errors="coerce").to_numpy()
    labels = (
        [f"<{cuts[0]}"] + [f"{lo}-{hi - 1}" for lo, hi in zip(cuts, cuts[1:])] + [f">={cuts[-1]}"]
    )
    bins = np.digitize(a, cuts)
    return np.asarray([labels[b] for b in bins], dtype=str)


def load_adult(
    *,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    include_sensitive: bool = True,
) -> DataBundle:
    """UCI Adult (census income > 50K), train and test files pooled: 48,842 rows.

    Sensitive: ``sex``, ``race``, ``age_group`` (<25, 25-44, >=45). ``fnlwgt`` (a sampling
    weight) and ``education`` (duplicated by ``education_num``) are not features; missing values
    ('?') are their own category. With ``include_sensitive=False`` the model sees neither sex nor
    race (age stays, as it is also a legitimate feature; ``sensitive_in_features`` says so).
    """
    parts = []
    for fname, skip in (("adult.data.gz", 0), ("adult.test.gz", 1)):
        raw = gzip.decompress(_package_file(fname)).decode("utf-8")
        part = pd.read_csv(
            io.StringIO(raw),
            header=None,
            names=_ADULT_COLUMNS,
            skiprows=skip,
            skipinitialspace=True,
            na_values=[],
            keep_default_na=False,
        )
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["income"].astype(str).str.len() > 0].reset_index(drop=True)
    income = frame["income"].astype(str).str.rstrip(".").str.strip()
    y = (income == ">50K").to_numpy().astype(np.int64)
    numeric = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    categorical = ["workclass", "marital_status", "occupation", "relationship", "native_country"]
    if include_sensitive:
        categorical += ["race", "sex"]
    sensitive = {
        "sex": frame["sex"].astype(str).to_numpy(),
        "race": frame["race"].astype(str).to_numpy(),
        "age_group": _age_group(frame["age"]),
    }
    return _tabular_bundle(
        name="adult",
        frame=frame,
        y=y,
        class_names=("<=50K", ">50K"),
        numeric=numeric,
        categorical=categorical,
        sensitive=sensitive,
        sensitive_in_features={
            "sex": include_sensitive,
            "race": include_sensitive,
            "age_group": True,
        },
        split_seed=split_seed,
        indices=indices,
        preprocessing=preprocessing,
        source="UCI Adult (Becker and Kohavi, 1996), UCI Machine Learning Repository, CC BY 4.0",
        options={"include_sensitive": include_sensitive},
        annotations={"favorable_class": ">50K", "primary_sensitive": "sex"},
    )


_GERMAN_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "present_employment",
    "installment_rate",
    "status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "installment_plans",
    "housing",
    "existing_credits",
    "job",
    "num_people_liable",
    "telephone",
    "foreign_worker",
    "credit",
]


def load_german_credit(
    *,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    include_sensitive: bool = True,
) -> DataBundle:
    """UCI Statlog German Credit: 1,000 applicants, good (1) vs bad (0) credit risk.

    A-codes are mapped to words with the shipped ``values_maps.json``. Sensitive: ``sex``
    (from personal status: A92 and A95 are female) and ``age_group`` (<25, >=25).
    """
    raw = gzip.decompress(_package_file("german.data.gz")).decode("utf-8")
    frame = pd.read_csv(io.StringIO(raw), sep=r"\s+", header=None, names=_GERMAN_COLUMNS)
    maps = json.loads(gzip.decompress(_package_file("values_maps.json.gz")).decode("utf-8"))
    y = (frame["credit"].to_numpy() == 1).astype(np.int64)
    sex = np.where(frame["status_sex"].isin(["A92", "A95"]), "female", "male")
    age_group = _age_group(frame["age"], cuts=(25,))
    for col, mapping in maps.items():
        if col in frame.columns and col != "credit":
            frame[col] = frame[col].map(lambda v, m=mapping: m.get(v, v)).astype(str)
    numeric = [
        "duration",
        "credit_amount",
        "installment_rate",
        "residence_since",
        "age",
        "existing_credits",
        "num_people_liable",
    ]
    categorical = [
        "status",
        "credit_history",
        "purpose",
        "savings",
        "present_employment",
        "other_debtors",
        "property",
        "installment_plans",
        "housing",
        "job",
        "telephone",
        "foreign_worker",
    ]
    if include_sensitive:
        categorical.append("status_sex")
    return _tabular_bundle(
        name="german_credit",
        frame=frame,
        y=y,
        class_names=("bad", "good"),
        numeric=numeric,
        categorical=categorical,
        sensitive={"sex": sex, "age_group": age_group},
        sensitive_in_features={"sex": include_sensitive, "age_group": True},
        split_seed=split_seed,
        indices=indices,
        preprocessing=preprocessing,
        source="UCI Statlog German Credit (Hofmann, 1994), UCI ML Repository, CC BY 4.0",
        options={"include_sensitive": include_sensitive},
        annotations={"favorable_class": "good", "primary_sensitive": "sex"},
    )


def load_compas(
    *,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    include_sensitive: bool = True,
) -> DataBundle:
    """ProPublica's COMPAS two-year recidivism data with ProPublica's standard row filter.

    Filter (Angwin et al., 2016): ``days_b_screening_arrest`` in [-30, 30], ``is_recid != -1``,
    ``c_charge_degree != 'O'``, ``score_text != 'N/A'``; 6,172 rows remain. The target is
    ``two_year_recid``. COMPAS's own score is not a feature; it is kept per row as the extra
    ``compas_high_risk`` (score text Medium or High), so its disparities can be audited too.
    Sensitive: ``race``, ``sex``, ``age_group`` (ProPublica's age categories).
    """
    raw = gzip.decompress(_package_file("compas-two-years.csv.gz")).decode("utf-8")
    frame = pd.read_csv(io.StringIO(raw))
    dbsa = pd.to_numeric(frame["days_b_screening_arrest"], errors="coerce")
    keep = (
        dbsa.between(-30, 30)
        & (frame["is_recid"] != -1)
        & (frame["c_charge_degree"].astype(str) != "O")
        & (frame["score_text"].astype(str) != "N/A")
        & frame["score_text"].notna()
    )
    frame = frame[keep].reset_index(drop=True)
    y = frame["two_year_recid"].to_numpy().astype(np.int64)
    numeric = [
        "age",
        "juv_fel_count",
        "juv_misd_count",
        "juv_other_count",
        "priors_count",
        "c_jail_days",
    ]
    categorical = ["c_charge_degree"]
    if include_sensitive:
        categorical += ["race", "sex"]
    high = frame["score_text"].astype(str).isin(["Medium", "High"]).to_numpy().astype(np.int64)
    return _tabular_bundle(
        name="compas",
        frame=frame,
        y=y,
        class_names=("no_recid", "recid"),
        numeric=numeric,
        categorical=categorical,
        sensitive={
            "race": frame["race"].astype(str).to_numpy(),
            "sex": frame["sex"].astype(str).to_numpy(),
            "age_group": frame["age_cat"].astype(str).to_numpy(),
        },
        sensitive_in_features={
            "race": include_sensitive,
            "sex": include_sensitive,
            "age_group": True,
        },
        split_seed=split_seed,
        indices=indices,
        preprocessing=preprocessing,
        source="ProPublica COMPAS analysis, compas-scores-two-years (Angwin et al., 2016)",
        options={"include_sensitive": include_sensitive},
        extras={"compas_high_risk": high, "decile_score": frame["decile_score"].to_numpy()},
        annotations={
            "favorable_class": "no_recid",
            "primary_sensitive": "race",
            "decision_columns": ["compas_high_risk"],
        },
    )


MAX_SPLIT_FILE_BYTES = 64 * 2**20


def read_split_file(path: str | Path, n: int) -> dict[str, np.ndarray]:
    """A split declared as a JSON file of 0-based row numbers per split,
    ``{"train": [0, 3, ...], "test": [...], "holdout": [...]}`` (CSV: data rows in file order;
    image folder: images in class order, then file name order). ``test`` is required; rows in no
    split are left out. Refused on one line: another key, a row out of range, a row in two
    splits, or a file that is not such a JSON object."""
    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"split file {str(p)!r} does not exist")
    if p.stat().st_size > MAX_SPLIT_FILE_BYTES:
        raise InvalidDataError(f"split file {str(p)!r} is larger than 64 MB")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDataError(f"split file {str(p)!r} is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or "test" not in raw or set(raw) - set(SPLITS):
        raise InvalidDataError(
            f"split file {str(p)!r} must be a JSON object with keys among {list(SPLITS)} and "
            "'test' among them, each a list of row numbers"
        )
    out: dict[str, np.ndarray] = {}
    for k in SPLITS:
        if k not in raw:
            continue
        rows = raw[k]
        if not isinstance(rows, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) for r in rows
        ):
            raise InvalidDataError(f"split file {str(p)!r}: {k!r} must be a list of integers")
        arr = np.asarray(rows, dtype=np.int64)
        if len(arr) == 0:
            raise InvalidDataError(f"split file {str(p)!r}: {k!r} lists no rows")
        if arr.min() < 0 or arr.max() >= n:
            raise InvalidDataError(
                f"split file {str(p)!r}: {k!r} has row numbers outside 0..{n - 1} (the data "
                f"has {n} rows)"
            )
        out[k] = np.sort(arr)
    every = np.concatenate(list(out.values()))
    if len(np.unique(every)) != len(every):
        raise InvalidDataError(
            f"split file {str(p)!r} puts some rows in two splits; each row belongs to one"
        )
    return out


def label_text(value: Any) -> str:
    """A class label as text: integral numbers without a decimal point (``1.0`` -> ``1``)."""
    v = value.item() if isinstance(value, np.generic) else value
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def class_order(column: pd.Series) -> tuple[list[str], np.ndarray]:
    """The classes of a label column in their type's order, and each row's class index.

    Numbers sort numerically (labels 0..10: ``2`` before ``10``, as scikit-learn's ``classes_``
    does; sorting their text put ``10`` before ``2`` and scrambled every metric), text
    alphabetically."""
    values = column.to_numpy()
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        distinct = np.unique(values)
        return [label_text(v) for v in distinct], np.searchsorted(distinct, values).astype(np.int64)
    text = column.astype(str).to_numpy()
    distinct = np.unique(text)
    return [str(v) for v in distinct], np.searchsorted(distinct, text).astype(np.int64)


def _read_csv(p: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidDataError(f"cannot parse {str(p)!r} as CSV: {exc}") from exc


def load_csv(
    path: str | Path,
    *,
    target: str,
    sensitive: Sequence[str] = (),
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    include_sensitive: bool = True,
    encoding: Literal["standardize", "none", "raw"] = "standardize",
    favorable: str | None = None,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    split_column: str | None = None,
    train: str | Path | None = None,
    val: str | Path | None = None,
    holdout: str | Path | None = None,
    split_file: str | Path | None = None,
) -> DataBundle:
    """A user's CSV file with a named target column and named sensitive columns.

    Args:
        path: the CSV file (optionally ``.gz``).
        target: the label column; classes are its distinct values in their type's order
            (numbers numerically, so 2 comes before 10; text alphabetically, as scikit-learn's
            ``classes_``), named as text (``1.0`` as ``1``).
        sensitive: columns to audit for fairness; kept as strings.
        features: model input columns; default every column but the target (and the sensitive
            ones when ``include_sensitive`` is false).
        categorical: which feature columns are categorical; default the non-numeric ones.
        encoding: ``standardize`` (one-hot categories, standardized numbers; for models trained
            by this suite), ``none`` (numeric features passed through as they are, for a
            model that expects the CSV's raw numbers) or ``raw`` (the feature columns in their
            order, numbers as they are and text as category codes; a scikit-learn model fit on
            the CSV's own columns, a ``Pipeline`` included, gets them back as a data frame).
        favorable: the target value that is the favourable outcome (a loan granted), for the
            fairness check's four-fifths rule; default the second class in sorted order.
        split_column: a column naming each row's split (``train``, ``val``, ``test``,
            ``holdout``): the user's own split, used as it is (never a feature).
        train, val, holdout: separate CSV files of those splits, with the same columns; ``path``
            is then the test file.
        split_file: a JSON file of row numbers per split (:func:`read_split_file`). Without a declared split the rows are split 60/10/15/15
            with ``split_seed`` (for models this suite trains).
    """
    if encoding not in ("standardize", "none", "raw"):
        raise InvalidConfigError(
            f"encoding must be 'standardize', 'none' or 'raw', got {encoding!r}"
        )
    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"CSV file {str(p)!r} does not exist")
    frame = _read_csv(p)
    files = {k: v for k, v in (("train", train), ("val", val), ("holdout", holdout)) if v}
    declared = [
        x
        for x, on in (("split_column", split_column), ("files", files), ("split_file", split_file))
        if on
    ]
    stored = indices  # a checkpoint's recorded split: must agree with a declared one
    if declared:
        indices = None
    if len(declared) > 1:
        raise InvalidConfigError(
            f"declare the split one way, not {' and '.join(declared)}: a split column, "
            "separate files (train/val/holdout beside the test file), or a split file"
        )
    if split_file:
        indices = read_split_file(split_file, len(frame))
    if files:
        parts = {"test": frame}
        for name, f in files.items():
            fp = Path(f)
            if not fp.is_file():
                raise InvalidDataError(f"{name} file {str(fp)!r} does not exist")
            parts[name] = _read_csv(fp)
            if list(parts[name].columns) != list(frame.columns):
                raise InvalidDataError(
                    f"{name} file {str(fp)!r} has columns {list(parts[name].columns)}, the test "
                    f"file {list(frame.columns)}; the split files need the same columns"
                )
        order = [k for k in ("train", "val", "test", "holdout") if k in parts]
        frame = pd.concat([parts[k] for k in order], ignore_index=True)
        sizes = np.cumsum([0] + [len(parts[k]) for k in order])
        indices = {k: np.arange(sizes[i], sizes[i + 1]) for i, k in enumerate(order)}
    cols = list(frame.columns)
    if split_column is not None:
        if split_column not in cols:
            raise InvalidDataError(
                f"split column {split_column!r} is not in {str(p)!r}; its columns are {cols}"
            )
        names = frame[split_column].astype(str).str.strip().str.lower().to_numpy()
        bad = sorted(set(names) - {"train", "val", "test", "holdout"})
        if bad:
            raise InvalidDataError(
                f"split column {split_column!r} has values {bad[:5]}; use train, val, test and "
                "holdout"
            )
        indices = {
            k: np.flatnonzero(names == k)
            for k in ("train", "val", "test", "holdout")
            if (names == k).any()
        }
        if "test" not in indices:
            raise InvalidDataError(f"split column {split_column!r} marks no row as 'test'")
        frame = frame.drop(columns=[split_column])
        cols = list(frame.columns)
    if declared and stored is not None and indices is not None:
        if not _same_split(stored, indices):
            raise InvalidDataError(
                "the recorded split differs from the one the data declares (its split column "
                "or files changed since the model was trained); restore them or retrain"
            )
    for col in [target, *sensitive]:
        if col not in cols:
            raise InvalidDataError(f"column {col!r} is not in {str(p)!r}; its columns are {cols}")
    if frame[target].isna().any():
        raise InvalidDataError(f"target column {target!r} has missing values; drop those rows")
    classes, y = class_order(frame[target])
    if len(classes) < 2:
        raise InvalidDataError(f"target column {target!r} has a single class {classes}")
    if favorable is not None and label_text(favorable) not in classes:
        raise InvalidDataError(
            f"favorable={favorable!r} is not a value of the target column {target!r} "
            f"(its values are {classes})"
        )
    if features is None:
        features = [c for c in cols if c != target and (include_sensitive or c not in sensitive)]
    unknown = [c for c in features if c not in cols]
    if unknown:
        raise InvalidDataError(f"feature columns {unknown} are not in {str(p)!r}")
    if categorical is None:
        categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in set(categorical)]
    return _tabular_bundle(
        name=f"csv:{p}",
        frame=frame,
        y=y,
        class_names=tuple(classes),
        numeric=numeric,
        categorical=list(categorical),
        sensitive={c: frame[c].astype(str).to_numpy() for c in sensitive},
        sensitive_in_features={c: c in set(features) for c in sensitive},
        split_seed=split_seed,
        indices=indices,
        preprocessing=preprocessing,
        source=f"user CSV {p}",
        options={
            "target": target,
            "sensitive": list(sensitive),
            "features": list(features),
            "categorical": list(categorical),
            "include_sensitive": include_sensitive,
            "encoding": encoding,
            "favorable": favorable,
            **({"split_column": split_column} if split_column else {}),
            **({"split_file": str(Path(split_file).resolve())} if split_file else {}),
            **{k: str(Path(v).resolve()) for k, v in files.items()},
        },
        standardize=encoding == "standardize",
        annotations={"favorable_class": label_text(favorable)} if favorable is not None else None,
        split_origin="declared" if declared else None,
        raw=encoding == "raw",
        columns=list(features),
    )


_TABULAR_LOADERS = {load_adult, load_german_credit, load_compas}

DATASETS: dict[str, Callable[..., DataBundle]] = {
    "digits": load_digits,
    "digits32": load_digits32,
    "digits_marker": load_digits_marker,
    "adult": load_adult,
    "german_credit": load_german_credit,
    "compas": load_compas,
}


def load_dataset(
    name: str,
    *,
    split_seed: int = 0,
    indices: Mapping[str, np.ndarray] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    **options: Any,
) -> DataBundle:
    """Load a data set by name.

    Names: the keys of :data:`DATASETS`, ``csv:PATH`` (options ``target``, ``sensitive``, ...),
    ``folder:PATH`` (options ``size``, ``grayscale``), ``tv:NAME`` (option ``root``).

    Args:
        split_seed: seed of the stratified split.
        indices: stored split indices (from a checkpoint) to use instead of a new split.
        preprocessing: a stored tabular encoder (from a checkpoint) to use instead of a new fit.
    """
    if name.startswith("csv:"):
        options = _checked_options(name, load_csv, options)
        return load_csv(
            name[4:], split_seed=split_seed, indices=indices, preprocessing=preprocessing, **options
        )
    if name.startswith("folder:"):
        options = _checked_options(name, load_image_folder, options)
        return load_image_folder(name[7:], split_seed=split_seed, indices=indices, **options)
    if name.startswith("tv:"):
        options = _checked_options(name, load_torchvision, options)
        return load_torchvision(name[3:], split_seed=split_seed, indices=indices, **options)
    loader = DATASETS.get(name)
    if loader is None:
        raise InvalidConfigError(
            f"unknown data set {name!r}: expected one of {', '.join(sorted(DATASETS))}, "
            "csv:PATH, folder:PATH or tv:NAME"
        )
    kwargs: dict[str, Any] = {
        "split_seed": split_seed,
        "indices": indices,
        **_checked_options(name, loader, options),
    }
    if preprocessing is not None and DATASETS[name] in _TABULAR_LOADERS:
        kwargs["preprocessing"] = preprocessing
    return loader(**kwargs)


#: a loader's keyword arguments that the audit sets, not the user
_NOT_OPTIONS = frozenset({"split_seed", "indices", "preprocessing"})


def _option_rule(param: inspect.Parameter) -> Rule | None:
    """An option's rule from its loader's signature: a ``Literal[...]`` annotation is a choice,
    else the type of its default (None: not checked here)."""
    note = param.annotation if isinstance(param.annotation, str) else ""
    if note.startswith("Literal[") and note.endswith("]"):
        return Choice(tuple(ast.literal_eval(f"({note[8:-1]},)")))
    if param.default is inspect.Parameter.empty:
        return None
    return inferred_rule(param.default)


def _checked_options(name: str, loader: Callable[..., Any], options: Mapping[str, Any]) -> dict:
    """``options`` checked against what ``loader`` takes, with the messages every option has:
    unknown names listed with the known ones, a missing required one, a value its rule
    refuses."""
    where = f"data set {name!r}"
    params = {
        n: p
        for n, p in inspect.signature(loader).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in _NOT_OPTIONS
    }
    unknown = set(options) - set(params)
    if unknown:
        raise unknown_options(where, unknown, params)
    missing = [
        n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in options
    ]
    if missing:
        raise InvalidConfigError(
            f"{where} needs the option(s) {', '.join(missing)}; set them in the config "
            f"(data: {{options: {{{missing[0]}: ...}}}})"
        )
    out = {}
    for key, value in options.items():
        rule = _option_rule(params[key])
        out[key] = value if rule is None or value is None else check_value(where, key, rule, value)
    return out
