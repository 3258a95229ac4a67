"""Run checks on a target and write the run folder atomically.

A run folder holds ``report.json`` (the :class:`~reports.schema.AuditReport`), ``report.html``,
``report.pdf`` and ``artifacts/<check>/`` (figures and arrays). It is built in a staging folder and swapped in
only when complete: an exception or interrupt leaves the previous run at that path intact.

A check that raises becomes an :class:`~reports.schema.ErrorResult` (its traceback saved under
``artifacts/errors/``) and the audit goes on; the policy and the CLI exit code still see it.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rai_audit.audit.core.checks import (
    BUDGETS,
    Artifacts,
    Check,
    budget_of,
    check_budget,
    check_seed,
)
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.gate.policy import Policy
from rai_audit.models.errors import AuditError, InvalidConfigError
from rai_audit.models.versions import library_versions, platform_info
from rai_audit.reports.atomic import atomic_directory
from rai_audit.reports.html import render_html
from rai_audit.reports.json_io import report_to_json
from rai_audit.reports.schema import (
    AuditReport,
    Compute,
    DataInfo,
    ErrorResult,
    Manifest,
    ModelInfo,
    PluginResult,
    ResultBase,
    SkippedResult,
)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class PeakMemory:
    """Samples resident memory every ``interval`` seconds; ``peak_mb`` is the growth over start.

    On Linux it reads ``/proc/self/statm``; elsewhere it reports None. CUDA peaks, when a GPU is
    used, come from ``torch.cuda.max_memory_allocated`` instead.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self._start = _rss_bytes()
        self._peak = self._start or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            v = _rss_bytes()
            if v is not None and v > self._peak:
                self._peak = v

    def __enter__(self) -> PeakMemory:
        if self._start is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        v = _rss_bytes()
        if v is not None:
            self._peak = max(self._peak, v)

    @property
    def peak_mb(self) -> float | None:
        if self._start is None:
            return None
        return (self._peak - self._start) / 2**20


def _model_info(target: AuditTarget) -> ModelInfo:
    info = target.model_info
    return ModelInfo(
        name=info.name,
        arch=info.arch,
        source=info.source,
        path=info.path,
        sha256=target.model.sha256,
        parameters=target.model.parameters,
        class_names=list(target.class_names),
        input_shape=list(target.input_shape),
        train_config=dict(info.train_config),
        history=[dict(h) for h in info.history],
        trust=dict(info.trust),
    )


def _data_info(target: AuditTarget) -> DataInfo:
    d = target.data_info
    return DataInfo(
        name=target.data_name,
        kind=target.kind,
        sha256=target.data_sha256,
        split_seed=d.get("split_seed"),
        split_sizes={k: len(s) for k, s in target.splits.items()},
        sensitive_features=target.sensitive_features(),
        sensitive_in_features=dict(target.sensitive_in_features),
        source=str(d.get("source", "")),
        class_names=list(target.class_names),
        split_origin=str(d.get("split_origin", "")),
        split_source=str(d.get("split_source", "")),
    )


def run_check(check: Check, target: AuditTarget, *, seed: int, run_dir: Path) -> ResultBase:
    """Run one check with timing, memory sampling, error capture and a model-integrity guard."""
    reason = check.skip_reason(target)
    if reason is not None:
        return SkippedResult(
            check=check.name, title=check.title, summary=reason, config=check.config()
        )
    before = target.model.state_fingerprint()
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        try:
            result = check.run(target, seed=seed, artifacts=Artifacts(run_dir, check.name))
        except Exception as exc:  # a crashed check becomes an error result; the audit goes on
            tb = traceback.format_exc()
            Artifacts(run_dir, "errors").text(f"{check.name}.txt", tb, "traceback")
            kind = "invalid input" if isinstance(exc, AuditError) else "internal error"
            result = ErrorResult(
                check=check.name,
                title=check.title,
                config=check.config(),
                error=f"{kind}: {type(exc).__name__}: {exc}",
                summary=f"The {check.name} check failed: {exc}",
            )
    wall = time.perf_counter() - t0
    if isinstance(result, PluginResult) and check.guide and not result.guide:
        result = result.model_copy(update={"guide": list(check.guide)})
    after = target.model.state_fingerprint()
    warnings = list(result.warnings)
    if after != before:
        warnings.append(
            "the model's weights, mode flags or requires_grad flags changed during this check; "
            "this is a bug in the check: later results may be affected"
        )
    return result.model_copy(
        update={
            "warnings": warnings,
            "compute": Compute(
                wall_time_s=wall, device=target.model.device, peak_rss_mb=mem.peak_mb
            ),
        }
    )


def run_audit(
    target: AuditTarget,
    checks: Sequence[Check],
    *,
    out: str | Path,
    seed: int = 0,
    budget: str | None = None,
    policy: Policy | None = None,
    command: str | None = None,
    config: Mapping[str, Any] | None = None,
    progress: bool = True,
    pdf: bool = True,
    history: str | Path | bool | None = True,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> AuditReport:
    """Run ``checks`` on ``target`` and write the run folder ``out`` atomically.

    Args:
        target: the validated model and data.
        checks: configured checks, run in order.
        out: the run folder (replaced as a whole when the run completes).
        seed: base seed passed to every check; the same seed gives the same numbers.
        budget: for checking only: the budget the caller believes the checks have. The
            manifest records the budget the checks were actually configured for.
        policy: thresholds; default :meth:`Policy.default`.
        command: the command line recorded in the manifest (default: this process's argv).
        config: the resolved configuration recorded in the manifest.
        progress: show a progress bar over the checks.
        pdf: also write ``report.pdf`` (reportlab; a few seconds).
        on_progress: called as ``(done, total, check name)`` before each check and at the end
            (the dashboard's background jobs report through it).
        history: index the run in the SQLite run history: True for the default database
            (:func:`audit.gate.history.default_db`), a path for another, False for none.

    Returns:
        The report, as written to ``out/report.json``.
    """
    seed = check_seed(seed)
    ran_at = budget_of(checks)
    if budget is not None and check_budget(budget) != ran_at and ran_at in BUDGETS:
        raise InvalidConfigError(
            f"budget {budget!r} was given, but the checks were configured for {ran_at!r}; "
            "build them with build_checks(..., budget) or drop the budget argument"
        )
    policy = policy or Policy.default()
    run_id = f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    results: list[ResultBase] = []
    with atomic_directory(out, marker="report.json") as stage:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            disable=not progress,
            transient=True,
        ) as bar:
            task = bar.add_task(f"audit {target.model_info.name}", total=len(checks))
            for i, check in enumerate(checks):
                bar.update(task, description=f"{target.model_info.name}: {check.name}")
                if on_progress is not None:
                    on_progress(i, len(checks), check.name)
                results.append(run_check(check, target, seed=seed, run_dir=stage))
                bar.advance(task)
            if on_progress is not None:
                on_progress(len(checks), len(checks), "writing the report")
        manifest = Manifest(
            run_id=run_id,
            created_at=created,
            seed=seed,
            budget=ran_at,
            command=command
            if command is not None
            else shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            versions=library_versions(),
            platform=platform_info(),
            device=target.model.device,
            model=_model_info(target),
            data=_data_info(target),
            config=dict(config or {}),
            wall_time_s=time.perf_counter() - t_start,
        )
        report = AuditReport(manifest=manifest, results=results)  # type: ignore[arg-type]
        report = policy.apply(report)
        text = report_to_json(report)
        (stage / "report.json").write_text(text, encoding="utf-8")
        # the renderers see exactly what report.json holds (as 'rai-audit report' would)
        report = AuditReport.model_validate_json(text)
        (stage / "report.html").write_text(render_html(report, stage), encoding="utf-8")
        if pdf:
            from rai_audit.reports.pdf import write_pdf  # noqa: PLC0415

            write_pdf(report, stage, stage / "report.pdf")
    if history is not False:
        import sqlite3  # noqa: PLC0415
        import warnings  # noqa: PLC0415

        from rai_audit.audit.gate.history import index_run  # noqa: PLC0415

        try:
            index_run(report, out, None if history is True else history)
        except (sqlite3.Error, OSError) as exc:  # the run itself is complete and intact
            warnings.warn(f"the run was not added to the run history: {exc}", stacklevel=2)
    return report
