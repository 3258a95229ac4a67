"""The audit configuration file (YAML), and turning it into a target, checks and a policy.

Format (every key optional; command-line flags override the file)::

    seed: 0                  # base seed of every check
    budget: smoke            # smoke | standard | thorough
    device: auto             # auto | cpu | cuda | mps
    model:
      path: runs/lenet5      # checkpoint folder, TorchScript, .safetensors, or .skops
      arch: lenet5           # for .safetensors: architecture, shape and classes
      input_shape: [1, 8, 8]
      num_classes: 10
      arch_kwargs: {}
      output: logits         # or probabilities, if the model ends in a softmax
      name: my-model
      trust: []              # .skops only: exact names to trust beyond the reviewed list
    data:
      name: digits           # built-in name, csv:PATH, folder:PATH or tv:NAME
      split_seed: 0          # the seeded split used when training; a checkpoint keeps its own
      options: {}            # csv: target, sensitive, features, categorical, encoding,
                             # split_column, train, holdout, split_file;
                             # folder: size, grayscale, split_file
    checks:                  # which checks, with options; default: every registered check
      performance: {n_bins: 15}
    policy: policy.yaml      # a policy file, or inline {rules: {...}}; default policy if absent
    model_card:              # shown in the report's model card (PDF and HTML)
      intended_use: ...
      out_of_scope: ...
      owners: ...
      caveats: [...]

Relative paths are resolved against the configuration file's folder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rai_audit.audit.core.checks import (
    BUDGETS,
    AuditOptions,
    Check,
    all_checks,
    check_budget,
    get_check,
    known_metrics,
)
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.core.yaml_safe import load_yaml
from rai_audit.audit.gate.policy import Policy
from rai_audit.models.checkpoint import load_model
from rai_audit.models.datasets import evaluation_only, load_dataset
from rai_audit.models.errors import InvalidConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    path: str
    arch: str | None = None
    input_shape: list[int] | None = None
    num_classes: int | None = None
    arch_kwargs: dict[str, Any] = Field(default_factory=dict)
    output: Literal["logits", "probabilities"] = "logits"
    name: str | None = None
    trust: list[str] = Field(default_factory=list)


class DataConfig(_Strict):
    name: str
    split_seed: Any = 0  # checked with the audit's options (AuditOptions), one message for all
    options: dict[str, Any] = Field(default_factory=dict)


class AuditConfig(_Strict):
    # seed, budget and device are checked against their declared rules by
    # :func:`validate_options` (AuditOptions), with the message every option has
    seed: Any = 0
    budget: Any = "smoke"
    device: Any = "auto"
    model: ModelConfig | None = None
    data: DataConfig | None = None
    checks: dict[str, dict[str, Any] | None] | list[str] | None = None
    policy: str | dict[str, Any] | None = None
    allow_empty_policy: bool = False
    model_card: dict[str, Any] | None = None


def _resolve(base: Path | None, value: str) -> str:
    """``value`` as an absolute path: relative ones are taken against ``base`` (the config
    file's folder) or, without a config, the working directory. Absolute paths survive moving
    the run folder."""
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return str(p.resolve())


def _resolve_model_spec(base: Path | None, spec: str) -> str:
    """A ``compare_with`` entry: ``path`` or ``name=path``."""
    if "=" in spec:
        label, _, path = spec.partition("=")
        return f"{label}={_resolve(base, path)}"
    return _resolve(base, spec)


def resolve_paths(cfg: AuditConfig, base: Path | None) -> AuditConfig:
    """Make every path of ``cfg`` absolute, against ``base`` (see :func:`_resolve`): the model,
    ``csv:``/``folder:`` data, the policy file, and the path options the checks declare
    (``Check.path_options``)."""
    if cfg.model is not None:
        cfg.model.path = _resolve(base, cfg.model.path)
    if cfg.data is not None:
        for prefix in ("csv:", "folder:"):
            if cfg.data.name.startswith(prefix):
                cfg.data.name = prefix + _resolve(base, cfg.data.name[len(prefix) :])
        for key in ("train", "val", "holdout", "split_file"):  # files of a declared split
            value = cfg.data.options.get(key)
            if isinstance(value, str):
                cfg.data.options[key] = _resolve(base, value)
    if isinstance(cfg.policy, str):
        cfg.policy = _resolve(base, cfg.policy)
    if isinstance(cfg.checks, dict):
        for name, options in cfg.checks.items():
            if not options:
                continue
            for key in get_check(name).path_options:
                value = options.get(key)
                if isinstance(value, str):
                    options[key] = _resolve_model_spec(base, value)
                elif isinstance(value, list | tuple):
                    options[key] = [_resolve_model_spec(base, str(v)) for v in value]
    return cfg


def validate_options(cfg: AuditConfig) -> AuditOptions:
    """The audit's own options of ``cfg`` checked against their rules, and stored canonical.

    Raises:
        InvalidConfigError: ``option 'seed' of the audit must be ...; got ...``.
    """
    opts = AuditOptions(
        seed=cfg.seed,
        budget=cfg.budget,
        device=cfg.device,
        split_seed=cfg.data.split_seed if cfg.data is not None else 0,
    )
    cfg.seed, cfg.budget, cfg.device = opts.seed, opts.budget, opts.device
    if cfg.data is not None:
        cfg.data.split_seed = opts.split_seed
    return opts


def load_config(path: str | Path | None) -> tuple[AuditConfig, Path | None]:
    """Parse and validate a configuration file (None gives the defaults)."""
    if path is None:
        return AuditConfig(), None
    p = Path(path)
    if not p.is_file():
        raise InvalidConfigError(f"config file {str(p)!r} does not exist")
    raw = load_yaml(p.read_text(encoding="utf-8"), f"config file {str(p)!r}") or {}
    if not isinstance(raw, Mapping):
        raise InvalidConfigError(f"config file {str(p)!r} must be a mapping of keys to values")
    try:
        cfg = AuditConfig.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        raise InvalidConfigError(
            f"config file {str(p)!r}: {where}: {e['msg']} (see 'rai-audit run --help' for the "
            "format)"
        ) from exc
    validate_options(cfg)
    base = p.parent.resolve()
    return resolve_paths(cfg, base), base


def build_checks(spec: Mapping[str, Any] | list[str] | None, budget: str) -> list[Check]:
    """Configured checks for ``budget``: every registered check if ``spec`` is None."""
    check_budget(budget)
    if spec is None:
        names: dict[str, dict[str, Any]] = {n: {} for n in all_checks()}
    elif isinstance(spec, list):
        names = {n: {} for n in spec}
    else:
        names = {n: dict(o or {}) for n, o in spec.items()}
    if not names:
        raise InvalidConfigError("no checks selected; name at least one (e.g. performance)")
    return [get_check(n).for_budget(budget, **opts) for n, opts in names.items()]


def build_policy(
    spec: str | Mapping[str, Any] | None,
    *,
    allow_empty: bool = False,
    also_known: Mapping[str, frozenset[str] | None] | None = None,
) -> Policy:
    """The policy ``spec`` names (a file, an inline mapping, or None for the default),
    validated against the checks and metrics the suite knows (built-ins and plugins), and
    ``also_known`` sections (those of a stored report whose plugin is gone)."""
    if spec is None:
        policy = Policy.default()
    elif isinstance(spec, str):
        policy = Policy.load(spec)
    else:
        policy = Policy.from_mapping(spec)
    known = {**(also_known or {}), **known_metrics()}
    return policy.validate(known, allow_empty=allow_empty)


def _infer_inputs(loaded: Any, data: DataConfig) -> bool:
    """A scikit-learn model on a CSV, with no encoding declared: read what it was fit on.

    Fit on a data frame, it names its columns (``feature_names_in_``): those are the features,
    handed to it as they are (encoding ``raw``: a ``Pipeline`` with a ``ColumnTransformer`` gets
    the raw data frame). Fit on an array, it gets the CSV's numbers as they are (``raw``: text
    as category codes), and :class:`~audit.core.adapters.SklearnAdapter` refuses, on one line,
    a width other than its ``n_features_in_``. ``data.options`` records what was inferred
    (the report's configuration shows it); returns whether anything was."""
    if loaded.source != "skops" or not data.name.startswith("csv:"):
        return False
    if "encoding" in data.options:
        return False
    names = getattr(loaded.module, "feature_names_in_", None)
    data.options["encoding"] = "raw"
    if names is not None and "features" not in data.options:
        data.options["features"] = [str(n) for n in names]
    return True


_PROBE_SIZES = (32, 28, 16, 8, 64, 96, 128, 224)


def _first_image_size(folder: Path) -> int | None:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    for f in sorted(folder.rglob("*"))[:5000]:
        if f.is_file() and f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"):
            try:
                with Image.open(f) as im:
                    w, h = im.size
            except (UnidentifiedImageError, OSError):
                continue
            return int(h) if h == w else None
    return None


def _infer_image_options(loaded: Any, data: DataConfig) -> None:
    """A torch model on an image folder, with the size or channels not given: take them from
    the model. A checkpoint or a safetensors file states its input shape; a TorchScript model
    is probed: channels from its first 4-D weight, then the folder's own image size and the
    common sizes are tried until it returns one row of scores per image. ``data.options``
    records what was inferred (the report's configuration shows it).

    Raises:
        InvalidConfigError: the model takes none of the tried shapes; names size and grayscale.
    """
    if not data.name.startswith("folder:"):
        return
    opts = data.options
    if "size" in opts and "grayscale" in opts:
        return
    if loaded.source == "skops":  # flattened pixels: n_features_in_ is s*s or 3*s*s
        n_in = int(getattr(loaded.module, "n_features_in_", 0) or 0)
        for c in (1, 3):
            side = math.isqrt(n_in // c)
            if n_in and n_in % c == 0 and side * side * c == n_in:
                opts.setdefault("size", side)
                opts.setdefault("grayscale", c == 1)
                return
        return
    shape = loaded.meta.get("input_shape")
    if shape and len(shape) == 3 and shape[1] == shape[2] and shape[0] in (1, 3):
        opts.setdefault("size", int(shape[1]))
        opts.setdefault("grayscale", int(shape[0]) == 1)
        return
    import torch  # noqa: PLC0415

    module = loaded.module
    first = next((p for p in module.parameters() if p.dim() == 4), None)
    channels = [int(first.shape[1])] if first is not None and first.shape[1] in (1, 3) else []
    channels += [c for c in (1, 3) if c not in channels]
    if "grayscale" in opts:
        channels = [1 if opts["grayscale"] else 3]
    native = _first_image_size(Path(data.name[len("folder:") :]))
    sizes = (
        [int(opts["size"])]  # the size given is the only one tried
        if "size" in opts
        else list(dict.fromkeys(s for s in (native, *_PROBE_SIZES) if s))
    )
    param = next(iter(module.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    tried = []
    for c in channels:
        for size in sizes:
            tried.append(f"{c}x{size}x{size}")
            try:
                with torch.no_grad():
                    out = module(torch.zeros(2, c, size, size, device=device))
            except Exception:  # a shape the model does not take
                continue
            if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == 2:
                opts.setdefault("size", size)
                opts.setdefault("grayscale", c == 1)
                return
    raise InvalidConfigError(
        f"could not tell the image size and channels the model takes (it took none of "
        f"{', '.join(tried[:6])}{', ...' if len(tried) > 6 else ''}); read the folder with "
        "--image-size N and --grayscale or --rgb (config: data options size, grayscale)"
    )


def build_target(
    model: ModelConfig,
    data: DataConfig | None,
    *,
    device: str = "auto",
    trust_by: str = "config model.trust",
    allow_torchscript: bool = True,
) -> AuditTarget:
    """Load the model and its data and validate them together.

    ``trust_by`` names where ``model.trust`` came from (recorded when it widens the skops
    allow-list); ``allow_torchscript`` is False for dashboard uploads unless the operator
    allowed them.
    """
    loaded = load_model(
        model.path,
        arch=model.arch,
        input_shape=model.input_shape,
        num_classes=model.num_classes,
        arch_kwargs=model.arch_kwargs,
        trust=model.trust,
        trust_by=trust_by,
        allow_torchscript=allow_torchscript,
    )
    recorded = loaded.meta.get("dataset") or {}
    if data is None:
        if not recorded:
            raise InvalidConfigError(
                f"{model.path!r} does not record its data set; name one with --dataset"
            )
        bundle = loaded.load_data()
    elif data.name == recorded.get("name"):
        # the model's own data: its recorded split, whatever split seed is given now (another
        # seed would put its training rows into the test split)
        bundle = loaded.load_data(**data.options)
    else:
        pre = loaded.meta.get("preprocessing")
        pre = pre if pre and pre.get("type") == "tabular" else None
        inferred = _infer_inputs(loaded, data)
        _infer_image_options(loaded, data)
        bundle = load_dataset(
            data.name, split_seed=data.split_seed, preprocessing=pre, **data.options
        )
        n_in = getattr(loaded.module, "n_features_in_", None)
        if (
            inferred
            and n_in is not None
            and int(n_in) != len(bundle.feature_names)
            and data.options.get("sensitive")
            and "features" not in data.options
        ):
            # the sensitive columns are fed only if the model was trained on them
            data.options["include_sensitive"] = False
            bundle = load_dataset(data.name, split_seed=data.split_seed, **data.options)
        if bundle.split_origin == "suite":
            # not the model's recorded data and no split declared: the suite's own re-split
            # would call rows "train" that the model may never have seen, and "test" rows it
            # was fit on. Every row is evaluation data instead.
            bundle = evaluation_only(bundle)
    target = AuditTarget.from_loaded(loaded, bundle, name=model.name, device=device)
    if model.output == "probabilities":
        from rai_audit.audit.core.adapters import TorchAdapter  # noqa: PLC0415

        if loaded.source == "skops":
            raise InvalidConfigError(
                "model.output applies to torch models; a scikit-learn model's predict_proba "
                "is used as it is"
            )

        target.model = TorchAdapter(
            loaded.module, device=device, output="probabilities", name=target.model_info.name
        )
    return target


__all__ = [
    "BUDGETS",
    "AuditConfig",
    "DataConfig",
    "ModelConfig",
    "build_checks",
    "build_policy",
    "build_target",
    "load_config",
]
