"""Background audit jobs for the dashboard: each audit runs in its own process.

``submit`` writes a job folder ``<runs>/.jobs/<job id>/`` with ``spec.json`` and starts
``python -m audit.service.jobs <job folder>`` in a new session. The worker builds the target the way the
CLI does (:func:`audit.core.wiring.audit_from_config`), and keeps
``status.json`` current (state, check i of n, run folder, verdict, error), written atomically.
Nothing lives in the web server: a page reload or a second browser shows the same jobs, two
audits never share a model, and a job whose process died is reported as such.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

from rai_audit.audit.service.uploads import UploadError, torchscript_allowed
from rai_audit.reports.atomic import atomic_write_text

JOBS = ".jobs"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_status(job: Path, **status: Any) -> None:
    old = read_status(job) if (job / "status.json").is_file() else {}
    atomic_write_text(job / "status.json", json.dumps({**old, **status, "updated": _now()}))


def read_status(job: Path) -> dict[str, Any]:
    """The job's status; a running job whose process is gone is reported as ``died``."""
    try:
        status = json.loads((job / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "unknown", "job": job.name}
    pid = status.get("pid")
    if status.get("state") in ("queued", "running") and pid and not _alive(int(pid)):
        status["state"] = "died"
        status.setdefault("error", "the audit process ended without reporting (killed?)")
    status["job"] = job.name
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child that was not reaped yet is a zombie: not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


#: the workers this process started and that may still run
_WORKERS: list[subprocess.Popen[bytes]] = []


def wait_for_workers(timeout: float = 120.0) -> None:
    """Wait until every worker this process started has exited (a clean shutdown, and tests
    that read a job's final status and move on)."""
    for proc in list(_WORKERS):
        proc.wait(timeout=timeout)
    _WORKERS.clear()


def create_job(runs_root: str | Path) -> Path:
    """A new, empty job folder (uploads go to its ``inputs/`` before :func:`start_job`)."""
    stamp = f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    job = Path(runs_root) / JOBS / stamp
    (job / "inputs").mkdir(parents=True, exist_ok=False)
    return job


def start_job(job: Path, spec: dict[str, Any]) -> Path:
    """Start the audit of ``job``. ``spec``: ``name`` (the run folder under the runs root),
    either ``model`` and ``data`` (as in the configuration file) or ``train`` (``arch`` and
    ``dataset`` of a built-in recipe, trained once and reused), ``checks``, ``budget``,
    ``seed``, ``device``, ``policy`` (optional)."""
    name = str(spec.get("name") or "")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"run name {name!r} must be a plain folder name")
    if not spec.get("model") and not spec.get("train"):
        raise ValueError("a job needs a model (or a built-in model to train)")
    root = job.parent.parent
    full = {**spec, "out": str((root / name).resolve())}
    atomic_write_text(job / "spec.json", json.dumps(full, indent=2, sort_keys=True))
    _write_status(job, state="queued", name=name, created=_now(), out=full["out"])
    log = open(job / "log.txt", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rai_audit.audit.service.jobs", str(job)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    log.close()
    # keep the handle, so it is not dropped while the worker runs, and reap finished workers
    _WORKERS[:] = [p for p in _WORKERS if p.poll() is None]
    _WORKERS.append(proc)
    _write_status(job, pid=proc.pid)
    return job


def submit(runs_root: str | Path, spec: dict[str, Any]) -> Path:
    """:func:`create_job` then :func:`start_job`; returns the job folder."""
    return start_job(create_job(runs_root), spec)


def list_jobs(runs_root: str | Path) -> list[dict[str, Any]]:
    """Every job's status, newest first."""
    folder = Path(runs_root) / JOBS
    if not folder.is_dir():
        return []
    return [
        read_status(j)
        for j in sorted(folder.iterdir(), reverse=True)
        if (j / "status.json").is_file()  # a job whose uploads were refused never started
    ]


def _check_uploaded_model(job: Path, spec: dict[str, Any]) -> bool:
    """Whether the job audits an upload (a model among the job's own inputs), after checking
    the rules for uploads: the skops allow-list is never widened from the dashboard, and a
    checkpoint may name only a built-in data set (a recorded ``csv:``/``folder:`` path would
    make the server read, and show, files of its own). A job submitted from Python with a
    model path of the operator's own is not an upload."""
    from rai_audit.models.checkpoint import model_format, read_checkpoint_meta  # noqa: PLC0415
    from rai_audit.models.datasets import DATASETS  # noqa: PLC0415

    model = spec.get("model") or {}
    path = Path(str(model.get("path", ""))).resolve()
    if (job.resolve() / "inputs") not in path.parents:
        return False
    if model.get("trust"):
        raise UploadError("the dashboard never widens the skops trust list; use the CLI")
    if spec.get("data") or model_format(path) != "checkpoint":
        return True
    recorded = (read_checkpoint_meta(path).get("dataset") or {}).get("name")
    if recorded not in DATASETS:
        raise UploadError(
            f"the uploaded checkpoint records the data set {recorded!r}, which is not built in; "
            "upload its data (a CSV or an image .zip) with it"
        )
    return True


def work(job: Path) -> int:
    """The worker: run the job's audit, keeping ``status.json`` current."""
    from rai_audit.audit.core.config import AuditConfig  # noqa: PLC0415
    from rai_audit.audit.core.wiring import audit_from_config  # noqa: PLC0415

    _write_status(job, state="running", pid=os.getpid(), started=_now(), done=0)
    try:
        spec = json.loads((job / "spec.json").read_text(encoding="utf-8"))
        if spec.get("train"):
            from rai_audit.models.pipeline import train_and_save  # noqa: PLC0415

            arch, dataset = spec["train"]["arch"], spec["train"]["dataset"]
            _write_status(job, check=f"training {arch} on {dataset} (once; reused afterwards)")
            folder = job.parent.parent / ".models" / f"{arch}-{dataset}"
            train_and_save(arch=arch, dataset=dataset, out=folder, progress=False, reuse=True)
            spec["model"] = {"path": str(folder), "name": f"{arch}-{dataset}"}
        uploaded = _check_uploaded_model(job, spec)
        cfg = AuditConfig.model_validate(
            {
                k: spec[k]
                for k in ("model", "data", "checks", "budget", "seed", "device", "policy")
                if spec.get(k) is not None
            }
        )
        _write_status(job, check="loading the model and data")

        def progress(done: int, total: int, check: str) -> None:
            _write_status(job, done=done, total=total, check=check)

        report = audit_from_config(
            cfg,
            out=spec["out"],
            command=f"dashboard job {job.name}",
            progress=False,
            on_progress=progress,
            trust_by="job spec model.trust",
            allow_torchscript=torchscript_allowed() or not uploaded,
        )
    except BaseException as exc:
        (job / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        _write_status(job, state="failed", error=f"{type(exc).__name__}: {exc}", finished=_now())
        return 1
    _write_status(
        job, state="done", verdict=report.verdict, run_id=report.manifest.run_id, finished=_now()
    )
    return 0


if __name__ == "__main__":
    sys.exit(work(Path(sys.argv[1])))
