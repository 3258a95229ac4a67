"""The ``rai-audit`` command line: train, run, demo, check, compare, report, history, list.

Exit codes: 0 success (``check``: every verdict passes or warns), 1 ``check`` found a failing or
errored verdict, 2 bad input (one line on stderr naming the problem and the fix), 130 interrupt.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rai_audit.audit.core.yaml_safe import load_yaml
from rai_audit.models.errors import AuditError, InvalidConfigError

app = typer.Typer(
    name="rai-audit",
    help="RAI Audit: explainability, robustness, privacy and fairness audits of classifiers.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            v = version("rai-audit")
        except PackageNotFoundError:  # run from a source tree that is not installed
            v = "unknown (not installed)"
        typer.echo(f"rai-audit {v}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """RAI Audit: explainability, robustness, privacy and fairness audits of classifiers."""


# a terminal gets its own width; a pipe or a CI log gets every line whole, never cut to 80
out_console = Console(width=None if sys.stdout.isatty() else 400)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 400)

_DECISION_STYLE = {
    "no_blocking_findings": "green",
    "conditions": "yellow",
    "blocking_findings": "red",
}

_VERDICT_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "red",
    "error": "magenta",
    "skipped": "dim",
    "not_assessable": "yellow",
    None: "dim",
}


def _parse_options(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as YAML scalars/lists (``hidden=[64,32]``)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidConfigError(f"{flag} takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = load_yaml(value, f"{flag} {key.strip()!r}")
    return out


def _csv_options(
    target: str | None, sensitive: str | None, dataset: str | None, **declared: Any
) -> dict[str, Any]:
    """The csv: data set's options from the CLI; ``declared`` are the user's own split (a
    split column, or train/holdout files beside the test file) and the encoding."""
    opts: dict[str, Any] = {}
    if target:
        opts["target"] = target
    if sensitive:
        opts["sensitive"] = [s.strip() for s in sensitive.split(",") if s.strip()]
    given = {k: v for k, v in declared.items() if v is not None}
    if given and not (dataset and dataset.startswith("csv:")):
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise InvalidConfigError(f"{flags} apply to a csv: data set only (--dataset csv:PATH)")
    for key in ("train", "holdout"):
        if key in given:
            given[key] = str(Path(given[key]).resolve())
    opts.update(given)
    if dataset and dataset.startswith("csv:") and "target" not in opts:
        raise InvalidConfigError("a csv: data set needs --target COLUMN (the label column)")
    return opts


def _shape(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise InvalidConfigError(
            f"--input-shape takes comma-separated integers such as 1,28,28; got {text!r}"
        ) from None


def _select_checks(configured: Any, names: str) -> dict[str, Any]:
    """``--checks a,b``: those checks, each keeping the options the config gives it."""
    chosen = [c.strip() for c in names.split(",") if c.strip()]
    options = configured if isinstance(configured, dict) else {}
    return {c: options.get(c) for c in chosen}


def _verdict(v: str | None) -> str:
    return f"[{_VERDICT_STYLE.get(v, 'dim')}]{v or 'info'}[/]"


def _print_decision(report: Any) -> None:
    """The decision first: one line for the model, its blocking findings (most severe first),
    then the conditions, then the audit's caveats."""
    d = report.decision
    if d is None:  # a report written before decisions existed
        out_console.print(f"overall verdict: {_verdict(report.verdict)}")
        return
    style = _DECISION_STYLE[d.level]
    out_console.print(f"[bold {style}]{d.headline}[/]", highlight=False)
    for title, lines in (
        ("blocking", d.reasons),
        ("condition", d.conditions),
        ("not assessed", d.not_assessed),
        ("audit caveat", d.caveats),
    ):
        for line in lines:
            out_console.print(f"  {title}: {line}", markup=False, highlight=False)


def _print_summary(report: Any, out: Path) -> None:
    _print_decision(report)
    table = Table(title=f"{report.manifest.model.name} on {report.manifest.data.name}")
    table.add_column("section")
    table.add_column("verdict")
    table.add_column("summary", overflow="fold")
    table.add_column("time", justify="right")
    for r in report.results:
        t = f"{r.compute.wall_time_s:.1f}s" if r.compute else ""
        table.add_row(r.title, _verdict(r.verdict), r.summary, t)
    out_console.print(table)
    out_console.print(f"overall verdict: {_verdict(report.verdict)}")
    out_console.print(f"report: {out / 'report.json'}  {out / 'report.html'}")


@app.command(epilog="Example: rai-audit train --arch lenet5 --dataset digits --out runs/lenet5")
def train(
    arch: Annotated[
        str, typer.Option(help="Architecture: mlp, lenet5, vgg11, resnet18 or tv:NAME.")
    ],
    dataset: Annotated[
        str,
        typer.Option(
            help="Data set: digits, digits32, adult, german_credit, compas, csv:PATH, folder:PATH."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Checkpoint folder to write (replaced atomically).")],
    epochs: Annotated[
        int | None, typer.Option(help="Maximum epochs (default: the recipe's).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Mini-batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="L2 weight decay.")] = None,
    patience: Annotated[
        int | None, typer.Option(help="Early-stopping patience in epochs (0: off).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of initialization, shuffling and dropout.")] = 0,
    split_seed: Annotated[int, typer.Option(help="Seed of the train/val/test/holdout split.")] = 0,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="Architecture option key=value, e.g. -o hidden=[64,32] -o dropout=0.2.",
        ),
    ] = None,
    target: Annotated[str | None, typer.Option(help="CSV only: the label column.")] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="CSV only: sensitive columns, comma-separated.")
    ] = None,
    defense: Annotated[
        str, typer.Option(help="none, adversarial (PGD adversarial training) or distillation.")
    ] = "none",
    adv_eps: Annotated[
        float | None,
        typer.Option(
            help="Adversarial training radius, L-inf input units (default 8/255 images, 0.1 tabular)."
        ),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Distillation temperature (default 20).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a registered architecture on a data set and save a checkpoint folder.

    The checkpoint holds safetensors weights, model.json (architecture, data, split seed,
    preprocessing, recipe, history, metrics, versions, weights sha256) and splits.npz.
    """
    from rai_audit.models.pipeline import train_and_save  # noqa: PLC0415

    overrides = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "patience": patience,
        "seed": seed,
        "adv_eps": adv_eps,
        "temperature": temperature,
    }
    loaded, _ = train_and_save(
        arch=arch,
        dataset=dataset,
        out=out,
        overrides=overrides,
        arch_kwargs=_parse_options(option, "--option"),
        dataset_options=_csv_options(target, sensitive, dataset),
        split_seed=split_seed,
        device=device,
        progress=not quiet,
        defense=defense,
    )
    m = loaded.meta["metrics"]
    out_console.print(
        f"trained {arch} on {loaded.meta['dataset']['name']}: train {m['train_accuracy']:.1%}, "
        f"val {m['val_accuracy']:.1%}, test {m['test_accuracy']:.1%} in {m['wall_time_s']:.1f}s "
        f"({m['epochs_run']} epochs, best {m['best_epoch']}, {m['device']})"
    )
    out_console.print(f"checkpoint: {out}")


@app.command(
    epilog=(
        "Examples:\n\n"
        "  rai-audit run --model runs/lenet5 --out runs/lenet5-audit\n\n"
        "  rai-audit run --model model.ts --dataset csv:data.csv --target y --sensitive sex "
        "--out audit1\n\n"
        "  rai-audit run --config audit.yaml --out audit2 --budget standard"
    )
)
def run(
    out: Annotated[Path, typer.Option(help="Run folder to write (replaced atomically).")],
    model: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint folder, scikit-learn .skops file, TorchScript file, or "
            ".safetensors (with --arch)."
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Data set name (default: the checkpoint's).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Audit configuration YAML.")] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML (default: the built-in policy).")
    ] = None,
    allow_empty_policy: Annotated[
        bool, typer.Option(help="Accept a policy that gates nothing (refused otherwise).")
    ] = False,
    budget: Annotated[str | None, typer.Option(help="smoke, standard or thorough.")] = None,
    checks: Annotated[
        str | None, typer.Option(help="Comma-separated checks to run (default: all).")
    ] = None,
    seed: Annotated[str | None, typer.Option(help="Base seed of every check.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    arch: Annotated[str | None, typer.Option(help=".safetensors only: architecture name.")] = None,
    input_shape: Annotated[
        str | None, typer.Option(help=".safetensors only: input shape, e.g. 1,8,8.")
    ] = None,
    num_classes: Annotated[
        int | None, typer.Option(help=".safetensors only: number of classes.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="CSV only: the label column.")] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="CSV only: sensitive columns, comma-separated.")
    ] = None,
    split_column: Annotated[
        str | None,
        typer.Option(help="CSV only: the column naming each row's split (train/val/test/holdout)."),
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option(help="CSV only: the rows the model was trained on, as a separate file."),
    ] = None,
    test: Annotated[
        Path | None,
        typer.Option(help="CSV only: the evaluation rows; the same as --dataset csv:PATH."),
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option(help="CSV only: rows the model never saw (non-members), as a separate file."),
    ] = None,
    split_file: Annotated[
        Path | None,
        typer.Option(
            help="csv: or folder: the split as a JSON file of row numbers, "
            '{"train": [...], "test": [...], "holdout": [...]}.'
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="CSV only: 'raw' (the columns as they are, text as category codes; inferred "
            "for a scikit-learn model), 'none' (numeric columns as they are) or 'standardize' "
            "(one-hot and standardized: models this suite trained)."
        ),
    ] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            help="folder: only: the side the images are resized to (default: the model's, "
            "or probed)."
        ),
    ] = None,
    grayscale: Annotated[
        bool | None,
        typer.Option(
            "--grayscale/--rgb",
            help="folder: only: read one channel or three (default: the model's, or probed).",
        ),
    ] = None,
    trust: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            metavar="NAME",
            help=".skops only: trust this exact type or function name beyond the reviewed "
            "list (repeatable; review its source first). The report records it.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="The model's name in the report (default: a checkpoint's architecture and data "
            "set, or the model file's name)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Audit a model: run the checks, apply the policy, write report.json, report.html and
    artifacts/ into the run folder. Gate on the result with 'rai-audit check'."""
    from rai_audit.audit.core.config import DataConfig, ModelConfig, load_config  # noqa: PLC0415
    from rai_audit.audit.core.wiring import audit_from_config  # noqa: PLC0415

    cfg, _ = load_config(config)
    if model is not None:
        shape = _shape(input_shape) if input_shape else None
        cfg.model = ModelConfig(path=model, arch=arch, input_shape=shape, num_classes=num_classes)
    if name is not None:
        if cfg.model is None:
            raise InvalidConfigError("--name needs a model: pass --model PATH")
        cfg.model.name = name
    if test is not None:
        if dataset is not None:
            raise InvalidConfigError(
                f"--test {str(test)!r} and --dataset {dataset!r} both name the evaluation data; "
                "pass one of them"
            )
        dataset = f"csv:{test}"
    if dataset is not None:
        cfg.data = DataConfig(
            name=dataset,
            options=_csv_options(
                target,
                sensitive,
                dataset,
                split_column=split_column,
                train=train,
                holdout=holdout,
                encoding=encoding,
            ),
        )
    elif any(v is not None for v in (split_column, train, holdout, encoding)):
        raise InvalidConfigError(
            "--split-column, --train, --holdout and --encoding need --dataset csv:PATH"
        )
    if split_file is not None:
        if cfg.data is None or not cfg.data.name.startswith(("csv:", "folder:")):
            raise InvalidConfigError("--split-file needs --dataset csv:PATH or folder:PATH")
        cfg.data.options["split_file"] = str(split_file.resolve())
    if image_size is not None or grayscale is not None:
        if not (dataset and dataset.startswith("folder:")):
            raise InvalidConfigError("--image-size and --grayscale need --dataset folder:PATH")
        if cfg.data is None:  # set just above from --dataset
            raise InvalidConfigError("--image-size and --grayscale need --dataset folder:PATH")
        if image_size is not None:
            cfg.data.options["size"] = image_size
        if grayscale is not None:
            cfg.data.options["grayscale"] = grayscale
    if budget is not None:
        cfg.budget = budget
    if seed is not None:
        cfg.seed = _int_or_text(seed)
    if device is not None:
        cfg.device = device
    if checks is not None:
        cfg.checks = _select_checks(cfg.checks, checks)
    if policy is not None:
        cfg.policy = str(policy)
    if allow_empty_policy:
        cfg.allow_empty_policy = True
    trust_by = "config model.trust"
    if trust:
        if cfg.model is None:
            raise InvalidConfigError("--trust needs a model: pass --model PATH")
        cfg.model.trust = list(trust)
        trust_by = "cli --trust"
    report = audit_from_config(
        cfg,
        out=out,
        progress=not quiet,
        command=shlex.join(["rai-audit", *sys.argv[1:]]),
        trust_by=trust_by,
    )
    _print_summary(report, out)


@app.command(epilog="Example: rai-audit demo --out rai-audit-demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's models and runs.")] = Path(
        "rai-audit-demo"
    ),
    budget: Annotated[str, typer.Option(help="smoke, standard or thorough.")] = "smoke",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    seed: Annotated[str, typer.Option(help="Base seed.")] = "0",
    retrain: Annotated[
        bool, typer.Option(help="Train again even if the models are cached.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train (or reuse) the built-in defaults, LeNet-5 on digits and MLPs on Adult and COMPAS,
    and audit all three. Models land in OUT/models, runs in OUT/runs."""
    from rai_audit.audit.service.demo import run_demo  # noqa: PLC0415

    t0 = time.perf_counter()
    reports = run_demo(
        out,
        budget=budget,
        device=device,
        seed=_int_or_text(seed),
        retrain=retrain,
        progress=not quiet,
        command=shlex.join(["rai-audit", *sys.argv[1:]]),
    )
    table = Table(title="RAI Audit demo", show_lines=True)
    for col in ("model", "section", "verdict", "summary"):
        table.add_column(col, overflow="fold")
    for _, rep in reports:
        for i, r in enumerate(rep.results):
            name = f"{rep.manifest.model.name}\n(overall {rep.verdict})" if i == 0 else ""
            table.add_row(name, r.title, _verdict(r.verdict), r.summary)
    out_console.print(table)
    for run_dir, _ in reports:
        out_console.print(f"report: {run_dir / 'report.html'}")
    out_console.print(
        f"demo finished in {time.perf_counter() - t0:.1f}s; "
        f"gate a run with: rai-audit check {reports[0][0]}"
    )


@app.command(
    epilog="Example: rai-audit check runs/lenet5-audit --policy policy.yaml --junit audit.xml"
)
def check(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'rai-audit run'.")],
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Re-evaluate under this policy YAML (default: the verdicts stored in the run)."
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Also write JUnit XML here (one test per gated metric).")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="A baseline run folder: fail on metrics that got worse than it."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="With --baseline: allowed absolute worsening per metric.")
    ] = 0.01,
    all_metrics: Annotated[
        bool,
        typer.Option(help="With --baseline: every metric can regress, not only the gated ones."),
    ] = False,
    allow_different: Annotated[
        bool,
        typer.Option(help="With --baseline: compare even another model or other data."),
    ] = False,
    allow_empty_policy: Annotated[
        bool, typer.Option(help="Accept a policy that gates nothing (refused otherwise).")
    ] = False,
) -> None:
    """Print the scorecard of a run and exit 0 if every verdict passes (or only warns),
    1 if any fails or errored (or regressed against --baseline), 2 on bad input."""
    from rai_audit.reports.json_io import load_report  # noqa: PLC0415
    from rai_audit.reports.narrative import scorecard  # noqa: PLC0415

    report = load_report(run_dir)
    if policy is not None:
        pol = _judging_policy(policy, report, allow_empty_policy)
        report = pol.apply(report)
    _print_decision(report)
    table = Table(title=f"scorecard: {report.manifest.model.name} on {report.manifest.data.name}")
    for col in ("section", "metric", "value", "CI", "threshold", "verdict"):
        table.add_column(col, overflow="fold")
    order = {"error": 0, "fail": 1, "warn": 2, "not_assessable": 3, "pass": 4, "skipped": 5}
    rows = sorted(scorecard(report), key=lambda r: order.get(r.verdict, 6))  # failures first
    for row in rows:
        table.add_row(
            row.section, row.metric, row.value, row.ci, row.threshold, _verdict(row.verdict)
        )
    out_console.print(table)
    if not rows:
        out_console.print("no metric is gated by the policy")
    failing = report.verdict in ("fail", "error")
    if junit is not None:
        from rai_audit.reports.atomic import atomic_write_text  # noqa: PLC0415
        from rai_audit.reports.junit import junit_xml  # noqa: PLC0415

        atomic_write_text(junit, junit_xml(report))
        out_console.print(f"JUnit XML: {junit}")
    regressions: list[Any] = []
    if baseline is not None:
        regressions = _print_comparison(
            load_report(baseline),
            report,
            tolerance,
            only_bad=True,
            all_metrics=all_metrics,
            refuse_different=not allow_different,
        )
    out_console.print(f"overall verdict: {_verdict(report.verdict)}")
    if failing or regressions:
        raise typer.Exit(1)


def _print_comparison(
    before: Any,
    after: Any,
    tolerance: float,
    *,
    only_bad: bool,
    all_metrics: bool = False,
    refuse_different: bool = False,
) -> list[Any]:
    """Print a comparison table; returns the regressions (metrics and sections). Runs of a
    different model or on different data are flagged first, or refused (exit 2) with
    ``refuse_different``."""
    from rai_audit.audit.gate.compare import compare_reports, differences  # noqa: PLC0415

    if tolerance < 0:
        raise InvalidConfigError(f"--tolerance must be >= 0, got {tolerance}")
    unlike = differences(before, after)
    if unlike and refuse_different:
        raise InvalidConfigError(
            f"the baseline is not the same model on the same data ({'; '.join(unlike)}), so its "
            "metrics are not comparable; pass --allow-different to compare anyway"
        )
    for line in unlike:
        out_console.print(f"[bold red]NOT LIKE WITH LIKE:[/] {line}", highlight=False)
    if before.manifest.model.sha256 != after.manifest.model.sha256 and not unlike:
        out_console.print("same model and data, new weights (model sha256 differs)")
    changes, worse_sections = compare_reports(
        before, after, tolerance=tolerance, gated_only=not all_metrics
    )
    shown = [c for c in changes if c.regression] if only_bad else changes
    title = f"{before.manifest.run_id} -> {after.manifest.run_id} (tolerance {tolerance:g})"
    table = Table(title=("regressions: " if only_bad else "comparison: ") + title)
    for col in ("section", "metric", "before", "after", "change", "direction"):
        table.add_column(col)
    style = {"better": "green", "worse": "red", "undefined": "magenta"}
    for c in shown:
        fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
        direction = c.direction + (" (regression)" if c.regression else "")
        colour = style.get(c.direction)
        table.add_row(
            c.section,
            c.metric,
            fmt(c.before),
            fmt(c.after),
            "" if c.delta is None else f"{c.delta:+.4g}",
            f"[{colour}]{direction}[/]" if colour else direction,
        )
    out_console.print(table)
    for s in worse_sections:
        out_console.print(f"[red]section verdict worse:[/] {s}")
    regressions = [c for c in changes if c.regression] + worse_sections
    out_console.print(
        f"{len([c for c in changes if c.regression])} metric regression(s), "
        f"{len(worse_sections)} section(s) with a worse verdict"
    )
    return regressions


@app.command(epilog="Example: rai-audit compare runs/v1 runs/v2 --tolerance 0.02")
def compare(
    run_a: Annotated[Path, typer.Argument(help="The earlier (baseline) run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The later run folder.")],
    tolerance: Annotated[
        float, typer.Option(help="Changes within this (absolute) count as the same.")
    ] = 0.01,
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 1 when any metric or section verdict regressed.")
    ] = False,
    all_metrics: Annotated[
        bool, typer.Option(help="Count every metric as a possible regression, not the gated ones.")
    ] = False,
) -> None:
    """Every metric of two runs side by side: change, and whether it is better or worse
    (by the metric's direction). Runs of another model or on other data are flagged first."""
    from rai_audit.reports.json_io import load_report  # noqa: PLC0415

    regressions = _print_comparison(
        load_report(run_a),
        load_report(run_b),
        tolerance,
        only_bad=False,
        all_metrics=all_metrics,
    )
    if fail_on_regression and regressions:
        raise typer.Exit(1)


def _judging_policy(path: Path, report: Any, allow_empty: bool) -> Any:
    """The policy file at ``path``, validated against the checks and metrics the suite knows
    (an unknown section or metric is an error naming the closest name). A rule that is valid
    but matches nothing in this run (a marker rule on a run without a marker) is a warning."""
    from rai_audit.audit.core.config import build_policy  # noqa: PLC0415

    stored = {r.kind: None for r in report.results}  # a plugin's section, even uninstalled
    pol = build_policy(str(path), allow_empty=allow_empty, also_known=stored)
    for rule in pol.unmatched(report):
        err_console.print(f"[yellow]warning:[/] policy rule {rule} matches no metric in the run")
    return pol


@app.command(epilog="Example: rai-audit report runs/lenet5-audit --policy strict.yaml")
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'rai-audit run'.")],
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Judge the run again under this policy YAML, into new files named with the "
            "policy's hash (report.policy-HASH.json, .html, .pdf); the originals are kept."
        ),
    ] = None,
    allow_empty_policy: Annotated[
        bool, typer.Option(help="Accept a policy that gates nothing (refused otherwise).")
    ] = False,
) -> None:
    """Render the PDF and HTML again from report.json and the artifacts alone (no model
    needed). With --policy, write a new record and its renders beside the originals."""
    from rai_audit.reports.atomic import atomic_write_text  # noqa: PLC0415
    from rai_audit.reports.html import render_html  # noqa: PLC0415
    from rai_audit.reports.json_io import load_report, report_to_json  # noqa: PLC0415
    from rai_audit.reports.pdf import write_pdf  # noqa: PLC0415

    rep = load_report(run_dir)
    stem = "report"
    if policy is not None:
        pol = _judging_policy(policy, rep, allow_empty_policy)
        rep = pol.apply(rep)
        stem = f"report.policy-{pol.sha256[:12]}"
        atomic_write_text(run_dir / f"{stem}.json", report_to_json(rep))
        out_console.print(f"JSON: {run_dir / f'{stem}.json'}")
    pdf_path = write_pdf(rep, run_dir, run_dir / f"{stem}.pdf")
    html_path = run_dir / f"{stem}.html"
    atomic_write_text(html_path, render_html(rep, run_dir))
    out_console.print(f"PDF: {pdf_path}\nHTML: {html_path}")
    _print_decision(rep)


@app.command(epilog="Example: rai-audit verify runs/lenet5-audit")
def verify(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'rai-audit run'.")],
) -> None:
    """Check a run folder: every artifact's sha256, and that each PDF and HTML was rendered
    from its report.json (they are rendered again and compared byte for byte). Exit 0 when
    everything holds, 1 when something does not."""
    from rai_audit.reports.verify import verify_run  # noqa: PLC0415

    problems, checked = verify_run(run_dir)
    for line in checked:
        out_console.print(f"ok: {line}", markup=False, highlight=False)
    for line in problems:
        out_console.print(f"[red]FAILED[/]: {line}", highlight=False)
    out_console.print(
        f"{len(checked)} checks passed, {len(problems)} failed" + ("" if problems else "; intact")
    )
    if problems:
        raise typer.Exit(1)


@app.command(epilog="Example: rai-audit history --runs runs --metric performance.accuracy")
def history(
    runs: Annotated[
        Path, typer.Option(help="The folder holding the run folders (its index is used).")
    ] = Path("runs"),
    db: Annotated[Path | None, typer.Option(help="The index database (overrides --runs).")] = None,
    model: Annotated[str | None, typer.Option(help="Only runs of this model name.")] = None,
    metric: Annotated[
        str | None, typer.Option(help="Show this <section>.<metric> over time.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 20,
) -> None:
    """List indexed runs, newest first, or one metric's trend over time."""
    from rai_audit.audit.gate.history import DB_NAME, list_runs, metric_trend  # noqa: PLC0415

    path = db or runs / DB_NAME
    if not path.is_file():
        raise InvalidConfigError(
            f"no run history at {str(path)!r}; runs are indexed in the folder that holds them "
            "(pass --runs FOLDER or --db FILE)"
        )
    if metric is None:
        table = Table(title=f"runs in {path}")
        for col in ("created", "run id", "model", "model sha256", "budget", "verdict"):
            table.add_column(col)
        for r in list_runs(path, model=model, limit=limit):
            table.add_row(
                r["created_at"],
                r["run_id"],
                r["model_name"],
                (r["model_sha256"] or "")[:12],
                r["budget"],
                _verdict(r["verdict"]),
            )
        out_console.print(table)
        return
    if "." not in metric:
        raise InvalidConfigError(f"--metric must be <section>.<metric>, got {metric!r}")
    section, name = metric.split(".", 1)
    rows = metric_trend(path, section, name, model=model)[-limit:]
    table = Table(title=f"{metric} over time")
    for col in ("created", "run id", "model", "value", "CI", "verdict", ""):
        table.add_column(col)
    values = [r["value"] for r in rows if r["value"] is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    for r in rows:
        v = r["value"]
        bar = "" if v is None else "#" * (1 + int(19 * (v - lo) / (hi - lo or 1)))
        ci = "" if r["ci_low"] is None else f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
        table.add_row(
            r["created_at"],
            r["run_id"],
            r["model_name"],
            "" if v is None else f"{v:.4g}",
            ci,
            _verdict(r["verdict"]),
            bar,
        )
    out_console.print(table)
    if not rows:
        out_console.print(f"no indexed run has {metric}")


@app.command(name="list", epilog="Example: rai-audit list architectures")
def list_(
    what: Annotated[
        str, typer.Argument(help="architectures, datasets, checks or budgets.")
    ] = "all",
) -> None:
    """List what the suite offers: architectures, data sets, checks, budgets."""
    from rai_audit.audit.core.checks import BUDGETS, all_checks  # noqa: PLC0415
    from rai_audit.models.architectures import available_architectures  # noqa: PLC0415
    from rai_audit.models.datasets import DATASETS  # noqa: PLC0415

    items = {
        "architectures": available_architectures(),
        "datasets": [*sorted(DATASETS), "csv:PATH", "folder:PATH", "tv:NAME"],
        "checks": sorted(all_checks()),
        "budgets": list(BUDGETS),
    }
    if what != "all" and what not in items:
        raise InvalidConfigError(f"cannot list {what!r}: expected one of {', '.join(items)} or all")
    for key, values in items.items():
        if what in ("all", key):
            out_console.print(f"{key}: {', '.join(values)}")


@app.command(
    name="policy",
    epilog="Example: rai-audit policy > my-policy.yaml (then edit it and pass --policy)",
)
def policy_() -> None:
    """Print the default policy as a policy file: what each outcome counts as, and the rules of
    every registered check (a plugin's included), in report order."""
    import yaml  # noqa: PLC0415

    from rai_audit.audit.gate.policy import Policy  # noqa: PLC0415

    body = Policy.default().to_json()
    rules = {
        metric: {k: v for k, v in rule.items() if v is not None and (k != "use_ci" or v)}
        for metric, rule in body["rules"].items()
    }
    text = yaml.safe_dump(
        {"version": 1, "outcomes": body["outcomes"], "rules": rules},
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    print(f"# the default policy, sha256 {body['sha256']}\n{text}", end="")


def _int_or_text(value: str) -> int | str:
    """A command-line number as an int, anything else as given, for its option's rule to refuse
    with the message a config file's value gets."""
    try:
        return int(value)
    except ValueError:
        return value


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = app(args=args, prog_name="rai-audit", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors of typer's vendored click
        ctx = getattr(exc, "ctx", None)
        cmd = ctx.command_path if ctx is not None else "rai-audit"
        err_console.print(
            f"rai-audit: error: {exc.format_message()} (see '{cmd} --help')",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 2 if getattr(exc, "exit_code", 2) in (1, 2) else int(exc.exit_code)
    except typer.Abort:
        err_console.print("rai-audit: interrupted", markup=False)
        return 130
    except KeyboardInterrupt:
        err_console.print("rai-audit: interrupted; earlier runs are intact", markup=False)
        return 130
    except (AuditError, ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        err_console.print(f"rai-audit: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return int(code or 0)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
