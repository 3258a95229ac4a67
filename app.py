"""RAI Audit dashboard: ``streamlit run app.py``.

Pages: Runs (history, trends, comparison, running jobs), New audit (built-in model or uploads;
the audit runs in its own process), one page per section, and Report (scorecard and downloads).
The pages hold no audit logic: they call the functions the CLI calls and read the run folders
under the runs root (``RAI_AUDIT_RUNS``, default ``rai-audit-demo/runs``). No model is loaded in
the web server, so browser sessions cannot disturb each other's audits.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import streamlit as st

from rai_audit.audit.core import plotting
from rai_audit.audit.core.checks import BUDGETS, CHECKS
from rai_audit.audit.gate.compare import compare_reports, differences
from rai_audit.audit.gate.history import DB_NAME, list_runs, metric_trend
from rai_audit.audit.service import jobs, uploads
from rai_audit.reports import narrative
from rai_audit.reports.html import fmt_ci, fmt_number, fmt_threshold
from rai_audit.reports.json_io import load_report
from rai_audit.reports.schema import AuditReport, ResultBase

del plotting  # imported for its side effect: matplotlib's Agg backend

_ICON = {
    "pass": "✅",
    "warn": "⚠️",
    "fail": "❌",
    "error": "💥",
    "skipped": "⏭️",
    "not_assessable": "❔",
    None: "ℹ️",
}
# the built-in sections' report order; every other registered check (a plugin) follows them
SECTIONS = ("performance", "explainability", "robustness", "privacy", "fairness")
RECIPES = (("lenet5", "digits"), ("mlp", "adult"), ("mlp", "compas"), ("mlp", "german_credit"))


def section_names() -> list[str]:
    """The registered checks (names only: nothing is imported), built-in sections first."""
    names = CHECKS.names()
    return [s for s in SECTIONS if s in names] + [n for n in names if n not in SECTIONS]


def page_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ------------------------------------------------------------------ data access (cached)


def find_runs(root: Path, limit: int = 500) -> list[Path]:
    """Run folders under ``root`` (itself included), newest first."""
    if not root.is_dir():
        return []
    found = [
        p.parent
        for p in root.rglob("report.json")
        if not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    ]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


@st.cache_data(show_spinner=False, max_entries=64)
def _load(path: str, mtime: float) -> AuditReport:
    del mtime  # part of the cache key: a rewritten run is read again
    return load_report(path)


@st.cache_data(show_spinner=False, max_entries=32)
def _arrays(path: str, mtime: float) -> dict[str, np.ndarray]:
    del mtime
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@st.cache_data(show_spinner=False, max_entries=8)
def _model_preview(root: str, digest: str, _files: tuple[tuple[str, bytes], ...]) -> dict[str, Any]:
    """Describe an uploaded model once per content hash, without building or running it
    (:func:`audit.service.uploads.preview_model` reads only metadata and the skops review)."""
    return uploads.preview_model(Path(root) / ".previews" / digest[:16], dict(_files))


def _report(run: Path) -> AuditReport:
    return _load(str(run), (run / "report.json").stat().st_mtime)


def _readable(runs: list[Path]) -> list[tuple[Path, AuditReport]]:
    """Runs whose report loads; the others are shown as errors on the page."""
    out = []
    for p in runs:
        try:
            out.append((p, _report(p)))
        except (ValueError, FileNotFoundError) as exc:
            st.error(str(exc))
    return out


def _result(report: AuditReport, kind: str) -> ResultBase | None:
    for r in report.results:
        if r.kind == kind or getattr(r, "check", None) == kind:
            return r
    return None


def _artifact(run: Path, rel: str) -> Path | None:
    path = (run / rel).resolve()
    if run.resolve() in path.parents and path.is_file():
        return path
    return None


def _npz(run: Path, result: ResultBase, name: str) -> dict[str, np.ndarray] | None:
    for a in result.arrays:
        if a.path.endswith(f"/{name}.npz"):
            path = _artifact(run, a.path)
            if path is not None:
                return _arrays(str(path), path.stat().st_mtime)
    return None


# ------------------------------------------------------------------ shared widgets


def metrics_table(result: ResultBase, prefix: str = "") -> None:
    rows = [
        {
            "metric": m.name,
            "value": fmt_number(m.value),
            "CI": fmt_ci(m),
            "threshold": fmt_threshold(m),
            "verdict": f"{_ICON.get(m.verdict, '')} {m.verdict or ''}",
            "meaning": m.description,
        }
        for m in result.metrics
        if m.name.startswith(prefix)
    ]
    if rows:
        st.dataframe(rows, hide_index=True, use_container_width=True)


def tables(result: ResultBase, contains: str = "") -> None:
    for t in result.tables:
        if contains.lower() in t.title.lower():
            st.caption(t.title)
            st.dataframe([dict(zip(t.columns, row)) for row in t.rows], hide_index=True)


def figures(run: Path, result: ResultBase, names: tuple[str, ...] = ()) -> None:
    shown = [f for f in result.figures if not names or any(n in f.path for n in names)]
    cols = st.columns(2)
    for i, f in enumerate(shown):
        path = _artifact(run, f.path)
        if path is not None:
            cols[i % 2].image(str(path), caption=f.caption)


def section_header(result: ResultBase) -> None:
    st.subheader(
        f"{_ICON.get(result.verdict)} {result.title}: {narrative.verdict_text(result.verdict)}"
    )
    guide = narrative.section_guide(result)
    if guide:
        st.caption(f"What it measures: {guide[0]} Limits: {guide[1]}")
    if result.summary:
        st.markdown(result.summary)
    if result.error:
        st.error(result.error)
    for w in result.warnings:
        st.warning(w)


def _section(report: AuditReport, kind: str) -> ResultBase | None:
    """The section's result with its header shown, or None (and why) if it did not run."""
    r = _result(report, kind)
    if r is None:
        st.info(f"This run has no {kind} section.")
        return None
    if r.status != "ok":
        st.info(r.summary)
        return None
    section_header(r)
    return r


def _pick_run(root: Path, runs: list[Path], key: str = "run") -> Path | None:
    if not runs:
        st.info(
            f"No runs under `{root}`. Start one on the New audit page, or run `rai-audit demo`."
        )
        return None
    labels = [str(p.relative_to(root)) if p != root else p.name for p in runs]
    choice = st.sidebar.selectbox("Run", labels, key=key) or labels[0]
    return runs[labels.index(choice)]


# ------------------------------------------------------------------ pages


def page_runs(root: Path, runs: list[Path]) -> None:
    st.header("Runs")
    _jobs_panel(root)
    db = root / DB_NAME
    indexed = list_runs(db, limit=200)
    if indexed:
        st.dataframe(
            [
                {
                    "created": r["created_at"],
                    "run": Path(r["folder"]).name,
                    "model": r["model_name"],
                    "model sha256": (r["model_sha256"] or "")[:12],
                    "budget": r["budget"],
                    "verdict": f"{_ICON.get(r['verdict'])} {r['verdict']}",
                }
                for r in indexed
            ],
            hide_index=True,
            use_container_width=True,
        )
    loaded = _readable(runs)
    if not indexed and loaded:
        st.dataframe(
            [
                {
                    "run": p.name,
                    "verdict": f"{_ICON.get(r.verdict)} {narrative.verdict_text(r.verdict)}",
                }
                for p, r in loaded
            ],
            hide_index=True,
        )
    if not indexed and not loaded:
        st.info(
            f"No runs under `{root}`. Start one on the New audit page, or run `rai-audit demo`."
        )
        return
    if indexed:
        st.subheader("Trend of a key metric")
        metric = st.selectbox(
            "Metric",
            dict.fromkeys(
                [
                    "performance.accuracy",
                    "robustness.robust_accuracy",
                    "privacy.strongest.auc",
                    *sorted(
                        {
                            f"{r.kind}.{m.name}"
                            for _, rep in loaded[:20]
                            for r in rep.results
                            for m in r.metrics
                            if m.verdict
                        }
                    ),
                ]
            ),
            key="trend_metric",
        )
        section, name = metric.split(".", 1)
        trend = metric_trend(db, section, name)
        if trend:
            # one line per model: a trend across different models would compare unlike runs
            st.line_chart(
                {
                    "run": [t["created_at"] for t in trend],
                    "value": [t["value"] for t in trend],
                    "model": [t["model_name"] for t in trend],
                },
                x="run",
                y="value",
                color="model",
            )
        else:
            st.caption(f"No indexed run has {metric}.")
    if len(loaded) >= 2:
        st.subheader("Compare two runs")
        runs = [p for p, _ in loaded]
        labels = [p.name for p in runs]
        c1, c2 = st.columns(2)
        a = (
            c1.selectbox("Baseline", labels, index=min(1, len(labels) - 1), key="cmp_a")
            or labels[0]
        )
        b = c2.selectbox("Candidate", labels, index=0, key="cmp_b") or labels[0]
        tol = st.number_input("Tolerance", min_value=0.0, value=0.01, step=0.01, key="cmp_tol")
        before, after = _report(runs[labels.index(a)]), _report(runs[labels.index(b)])
        for line in differences(before, after):
            st.error(f"Not like with like: {line}. These metrics are not comparable.")
        changes, worse = compare_reports(before, after, tolerance=tol)
        for w in worse:
            st.error(f"Section verdict got worse: {w}")
        st.dataframe(
            [
                {
                    "section": c.section,
                    "metric": c.metric,
                    "before": c.before,
                    "after": c.after,
                    "change": c.delta,
                    "direction": ("🔴 " if c.regression else "") + c.direction,
                }
                for c in changes
                if c.direction != "same"
            ],
            hide_index=True,
            use_container_width=True,
        )


def _jobs_panel(root: Path) -> None:
    listed = jobs.list_jobs(root)[:10]
    if not listed:
        return
    running = any(j.get("state") in ("queued", "running") for j in listed)

    def show() -> None:
        st.subheader("Audits started here")
        for j in jobs.list_jobs(root)[:10]:
            state = j.get("state")
            label = f"{j.get('name', '?')} · {state}"
            if state in ("queued", "running"):
                total = max(int(j.get("total") or 1), 1)
                done = int(j.get("done") or 0)
                st.progress(
                    min(done / total, 1.0), text=f"{label}: {j.get('check', '')} ({done}/{total})"
                )
            elif state == "done":
                st.success(f"{label}: verdict {j.get('verdict')} · run {j.get('run_id')}")
            else:
                st.error(f"{label}: {j.get('error', '')}")

    if running:
        st.fragment(show, run_every=2)()
    else:
        show()


def page_new_audit(root: Path) -> None:
    st.header("New audit")
    st.caption(
        "The audit runs in its own process: you can leave or reload the page; progress shows "
        "on the Runs page. Uploads are checked and stored only under the runs folder, and are "
        "never unpickled."
    )
    source = st.radio("Model", ["Built-in model", "Upload a model"], horizontal=True, key="source")
    name = st.text_input("Run name", value="my-audit", key="run_name")
    names = section_names()
    checks = st.multiselect("Sections", names, default=names, key="sections")
    budget = st.selectbox("Budget", list(BUDGETS), key="budget")
    seed = int(st.number_input("Seed", min_value=0, value=0, step=1, key="seed"))
    spec: dict[str, Any] = {
        "name": name,
        "checks": ["performance", *[c for c in checks if c != "performance"]],
        "budget": budget,
        "seed": seed,
    }
    files: dict[str, Any] = {}
    if source == "Built-in model":
        labels = [f"{a} on {d}" for a, d in RECIPES]
        choice = st.selectbox("Model and data", labels, key="recipe") or labels[0]
        arch, dataset = RECIPES[labels.index(choice)]
        spec["train"] = {"arch": arch, "dataset": dataset}
    else:
        torchscript = uploads.torchscript_allowed()
        files["model"] = st.file_uploader(
            "Model: model.json + weights.safetensors (+ splits.npz), or a scikit-learn .skops "
            "file" + (", or a TorchScript file" if torchscript else ""),
            accept_multiple_files=True,
            key="model_files",
        )
        st.caption(
            "A .skops file is checked against a reviewed list of scikit-learn types before "
            "anything in it is built; the dashboard never widens that list. "
            + (
                "TorchScript is allowed on this server: a TorchScript file runs the code it "
                "contains, so upload only files from a source you trust."
                if torchscript
                else "TorchScript files run the code they contain, so this server refuses them "
                "(its operator can allow them; see SECURITY.md)."
            )
        )
        if files["model"]:
            import hashlib  # noqa: PLC0415

            blobs = tuple(sorted((f.name, f.getvalue()) for f in files["model"]))
            digest = hashlib.sha256(b"".join(n.encode() + d for n, d in blobs)).hexdigest()
            try:
                info = _model_preview(str(root), digest, blobs)
            except (ValueError, OSError) as exc:
                st.error(f"This model cannot be audited: {exc}")
            else:
                st.success(
                    f"Model checked: {info['source']} ({info['arch']}), "
                    f"{info['parameters'] or 'n/a'} weight values, sha256 {info['sha256'][:12]}..."
                    + (f"; trained on {info['dataset']}" if info["dataset"] else "")
                )
        files["data"] = st.file_uploader(
            "Data: a CSV file or a .zip of an image folder (optional for a checkpoint that "
            "records a built-in data set)",
            type=["csv", "zip"],
            key="data_file",
        )
        if files["data"] is not None and files["data"].name.endswith(".csv"):
            import pandas as pd  # noqa: PLC0415

            try:
                header = list(pd.read_csv(io.BytesIO(files["data"].getvalue()), nrows=0).columns)
            except (ValueError, UnicodeDecodeError) as exc:
                st.error(f"{files['data'].name} is not a readable CSV file: {exc}")
                header = []
            if header:
                files["target"] = st.selectbox("Label column", header, index=len(header) - 1)
                files["sensitive"] = st.multiselect(
                    "Sensitive columns", [h for h in header if h != files["target"]]
                )
                split = st.selectbox(
                    "Split column: which rows the model was trained on (train), is tested on "
                    "(test) and never saw (holdout)",
                    [uploads.NO_SPLIT, *[h for h in header if h != files["target"]]],
                    key="split_column",
                )
                files["split_column"] = None if split == uploads.NO_SPLIT else split
                files["encoding"] = st.selectbox(
                    "Encoding of the columns", uploads.ENCODINGS, key="encoding"
                )
                st.caption(
                    "A declared split's train rows are the model's members for membership "
                    "inference. Without one, every row is evaluation data, and the train-test "
                    "gap and privacy are not assessed. 'from the model' hands a scikit-learn "
                    "model the columns it was fit on; raw: columns as they are; none: numeric "
                    "columns as they are; standardize: one-hot and standardized (models this "
                    "suite trained)."
                )
        elif files["data"] is not None:
            files["image_size"] = int(
                st.number_input(
                    "Image size in pixels (0: the model's)", 0, 1024, 0, key="image_size"
                )
            )
            files["channels"] = st.radio(
                "Channels", uploads.CHANNELS, horizontal=True, key="channels"
            )
            st.caption(
                "train/, test/ and holdout/ folders at the top of the .zip declare your split; "
                "otherwise every image is evaluation data."
            )
    if not checks:
        st.warning("Choose at least one section.")
        return
    if st.button("Start audit", type="primary", key="start"):
        try:
            job = jobs.create_job(root)
            if source != "Built-in model":
                _stage_uploads(job, files, spec)
            jobs.start_job(job, spec)
        except (ValueError, uploads.UploadError) as exc:
            st.error(str(exc))
            return
        st.session_state["last_job"] = job.name
        st.success(f"Started audit '{name}' (job {job.name}). Follow it on the Runs page.")


def _stage_uploads(job: Path, files: dict[str, Any], spec: dict[str, Any]) -> None:
    model_files = files.get("model") or []
    if not model_files:
        raise uploads.UploadError("upload a model first")
    inputs = job / "inputs"
    path = uploads.save_model(inputs, {f.name: f.getvalue() for f in model_files})
    spec["model"] = {"path": str(path), "name": spec["name"]}
    data = files.get("data")
    if data is None:
        return
    if data.name.endswith(".csv"):
        import pandas as pd  # noqa: PLC0415

        csv = uploads.save_csv(inputs, data.name, data.getvalue())
        options = uploads.data_options(
            list(pd.read_csv(csv, nrows=0).columns),
            target=str(files.get("target") or ""),
            sensitive=list(files.get("sensitive") or []),
            split_column=files.get("split_column"),
            encoding=files.get("encoding"),
        )
        spec["data"] = {"name": f"csv:{csv}", "options": options}
    else:
        folder = uploads.save_image_zip(inputs, data.name, data.getvalue())
        options = uploads.image_options(
            files.get("image_size"), str(files.get("channels") or uploads.CHANNELS[0])
        )
        spec["data"] = {"name": f"folder:{folder}", "options": options}


def page_section(run: Path, report: AuditReport, name: str) -> None:
    """Any section, a plugin's included: its header, metrics, figures and tables."""
    r = _section(report, name)
    if r is None:
        return
    metrics_table(r)
    figures(run, r)
    tables(r)


def page_explainability(run: Path, report: AuditReport) -> None:
    r = _section(report, "explainability")
    if r is None:
        return
    data = _npz(run, r, "attributions")
    if data is not None:
        methods = sorted(k[5:] for k in data if k.startswith("attr_"))
        n = len(data["inputs"])
        i = st.slider("Input", 0, n - 1, 0, key="xai_input") if n > 1 else 0
        names = report.manifest.model.class_names
        label, pred = int(data["labels"][i]), int(data["targets"][i])
        st.markdown(
            f"Input {i}: true **{names[label] if label < len(names) else label}**, predicted "
            f"**{names[pred] if pred < len(names) else pred}**"
        )
        chosen = st.multiselect("Methods", methods, default=methods[:4], key="xai_methods")
        st.pyplot(_attribution_figure(data, i, chosen, report))
    st.caption("Quality of each method (faithfulness, sanity, stability)")
    tables(r, "method")
    metrics_table(r)
    figures(run, r)


def _attribution_figure(
    data: dict[str, np.ndarray], i: int, methods: list[str], report: AuditReport
) -> Any:
    x = data["inputs"][i]
    k = max(len(methods), 1)
    if x.ndim == 3:  # image: input, then one heat map per method
        fig, axes = plt.subplots(1, k + 1, figsize=(2.4 * (k + 1), 2.6))
        img = np.transpose(x, (1, 2, 0)) if x.shape[0] == 3 else x[0]
        axes[0].imshow(img, cmap=None if x.shape[0] == 3 else "gray")
        axes[0].set_title("input", fontsize=9)
        for ax, m in zip(axes[1:], methods):
            a = data[f"attr_{m}"][i]
            a = np.abs(a).sum(axis=0) if a.ndim == 3 else np.abs(a)
            ax.imshow(img, cmap=None if x.shape[0] == 3 else "gray")
            ax.imshow(a, cmap="inferno", alpha=0.6)
            ax.set_title(m, fontsize=9)
        for ax in axes:
            ax.axis("off")
    else:  # tabular: the top features per method
        fig, axes = plt.subplots(1, k, figsize=(4 * k, 3.6), squeeze=False)
        names = [str(v) for v in data.get("feature_names", [])] or [f"x{j}" for j in range(x.size)]
        for ax, m in zip(axes[0], methods):
            a = data[f"attr_{m}"][i].reshape(-1)
            top = np.argsort(-np.abs(a))[:10][::-1]
            ax.barh(
                [names[j] if j < len(names) else f"x{j}" for j in top],
                a[top],
                color=np.where(a[top] > 0, "#cf222e", "#0969da"),
            )
            ax.set_title(m, fontsize=9)
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def page_robustness(run: Path, report: AuditReport) -> None:
    r = _section(report, "robustness")
    if r is None:
        return
    curves = getattr(r, "curves", {})
    if curves:
        pgd = next(iter(curves.values()))
        eps_values = [p.x for p in pgd]
        eps = st.select_slider(
            "Epsilon",
            options=eps_values,
            value=eps_values[min(len(eps_values) - 1, len(eps_values) // 2)],
            key="eps",
        )
        cols = st.columns(len(curves))
        for col, (name, curve) in zip(cols, curves.items()):
            point = min(curve, key=lambda p: abs(p.x - eps))
            band = (
                f" ({fmt_number(point.low)}-{fmt_number(point.high)})"
                if point.low is not None
                else ""
            )
            col.metric(
                f"{name} accuracy at eps {eps:g}", f"{(point.y or 0):.1%}", help=f"band{band}"
            )
        st.line_chart({name: {p.x: p.y for p in c} for name, c in curves.items()})
    data = _npz(run, r, "examples")
    if data is not None and data["clean"].ndim == 4:
        names = report.manifest.model.class_names
        i = st.slider("Example", 0, len(data["clean"]) - 1, 0, key="adv_example")
        c1, c2 = st.columns(2)
        for col, key, p in ((c1, "clean", "p_clean"), (c2, "adversarial", "p_adversarial")):
            x = data[key][i]
            img = np.transpose(x, (1, 2, 0)) if x.shape[0] == 3 else x[0]
            pred = int(data[p][i].argmax())
            col.image(
                np.clip(img, 0, 1),
                caption=f"{key}: {names[pred]} ({data[p][i].max():.0%})",
                width=180,
                clamp=True,
            )
    metrics_table(r)
    tables(r)
    figures(run, r)


def page_privacy(run: Path, report: AuditReport) -> None:
    r = _section(report, "privacy")
    if r is None:
        return
    roc = getattr(r, "roc", {})
    if roc:
        fig, ax = plt.subplots(figsize=(5.5, 4.6))
        for name, pts in roc.items():
            xs = [max(p.x, 1e-4) for p in pts]
            ax.plot(xs, [max(p.y or 0, 1e-4) for p in pts], label=name, lw=1.2)
        ax.plot([1e-4, 1], [1e-4, 1], ls="--", color="grey", lw=1)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="false positive rate",
            ylabel="true positive rate",
            title="Membership ROC (log axes)",
        )
        ax.legend(fontsize=7)
        st.pyplot(fig)
    st.caption("Leakage per group")
    tables(r, "group")
    metrics_table(r)
    tables(r)


def page_fairness(run: Path, report: AuditReport) -> None:
    r = _section(report, "fairness")
    if r is None:
        return
    groups: dict[str, list[dict[str, Any]]] = getattr(r, "groups", {})
    feature = st.selectbox("Sensitive feature", list(groups), key="fair_feature") or ""
    metric = (
        st.selectbox(
            "Metric",
            ["selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "ece", "base_rate"],
            key="fair_metric",
        )
        or "selection_rate"
    )
    rows = sorted(groups.get(feature, []), key=lambda g: -g["n"])[:25]
    if rows:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
        vals = np.array([np.nan if g[metric] is None else g[metric] for g in rows], dtype=float)
        lo = np.array(
            [np.nan if g[f"{metric}_ci"][0] is None else g[f"{metric}_ci"][0] for g in rows],
            dtype=float,
        )
        hi = np.array(
            [np.nan if g[f"{metric}_ci"][1] is None else g[f"{metric}_ci"][1] for g in rows],
            dtype=float,
        )
        colors = ["#4c72b0" if g["compared"] else "#c7c7c7" for g in rows]
        y = np.arange(len(rows))
        ax.barh(y, np.nan_to_num(vals), color=colors)
        ok = np.isfinite(vals) & np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(
            vals[ok],
            y[ok],
            xerr=np.vstack([vals - lo, hi - vals])[:, ok],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
        ax.set_yticks(y, [f"{g['group']} (n={g['n']})" for g in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(
            f"{metric} with {int(100 * (r.metrics[0].ci_level or 0.95))}% interval (grey: too small to compare)"
        )
        fig.tight_layout()
        st.pyplot(fig)
    metrics_table(r, prefix=f"{feature}.")
    for c in getattr(r, "conflicts", []):
        st.info(c)
    mitigations = getattr(r, "mitigations", [])
    if mitigations:
        st.subheader(f"Mitigations on {getattr(r, 'mitigation_feature', '')}: before and after")
        st.dataframe(
            [
                {
                    "method": m.method,
                    "status": m.status,
                    "accuracy": m.accuracy,
                    "accuracy cost": m.accuracy_cost,
                    "equalized odds diff.": m.metrics.get("equalized_odds_difference"),
                    "demographic parity diff.": m.metrics.get("demographic_parity_difference"),
                    "disparate impact": m.metrics.get("disparate_impact_ratio"),
                    "note": m.note,
                }
                for m in mitigations
            ],
            hide_index=True,
            use_container_width=True,
        )
    tables(r, "definitions")
    figures(run, r, names=("mitigations",))


def page_report(run: Path, report: AuditReport) -> None:
    m = report.manifest
    st.header(f"{m.model.name} on {m.data.name}")
    level, headline, lines = narrative.decision_lines(report)
    show = {"blocking_findings": st.error, "conditions": st.warning}.get(level, st.success)
    show(f"**{headline}**" + "".join(f"\n- {kind}: {text}" for kind, text in lines[:12]))
    st.markdown(
        f"Overall verdict: {_ICON.get(report.verdict)} **{report.verdict}** · run "
        f"`{m.run_id}` · {m.created_at} · seed {m.seed} · budget {m.budget}"
    )
    st.dataframe(
        [
            {
                "section": s.section,
                "verdict": f"{_ICON.get(s.verdict)} {narrative.verdict_text(s.verdict)}",
                "pass": s.passed,
                "warn": s.warned,
                "fail": s.failed,
                "most severe finding": s.finding,
            }
            for s in narrative.section_scorecard(report)
        ],
        hide_index=True,
        use_container_width=True,
    )
    for line in narrative.executive_summary(report):
        st.markdown(f"- {line}")
    st.subheader("Scorecard")
    st.dataframe(
        [vars(row) for row in narrative.scorecard(report)],
        hide_index=True,
        use_container_width=True,
    )
    c1, c2, c3 = st.columns(3)
    pdf = run / "report.pdf"
    if not pdf.is_file() and c1.button("Render the PDF", key="render_pdf"):
        from rai_audit.reports.pdf import write_pdf  # noqa: PLC0415

        with st.spinner("Rendering the PDF"):
            write_pdf(report, run)
    if pdf.is_file():
        c1.download_button(
            "Download PDF",
            pdf.read_bytes(),
            file_name=f"{run.name}.pdf",
            mime="application/pdf",
            key="dl_pdf",
        )
    html = run / "report.html"
    if html.is_file():
        c2.download_button(
            "Download HTML",
            html.read_bytes(),
            file_name=f"{run.name}.html",
            mime="text/html",
            key="dl_html",
        )
    c3.download_button(
        "Download JSON",
        (run / "report.json").read_bytes(),
        file_name=f"{run.name}.json",
        mime="application/json",
        key="dl_json",
    )
    with st.expander("Reproducibility manifest"):
        st.json(m.model_dump(mode="json"), expanded=False)


def main() -> None:
    st.set_page_config(page_title="RAI Audit", layout="wide")
    st.title("RAI Audit")
    default = os.environ.get("RAI_AUDIT_RUNS", "rai-audit-demo/runs")
    root = Path(st.sidebar.text_input("Runs folder", value=default, key="root"))
    sections = {page_label(n): n for n in section_names()}
    pages = ["Runs", "New audit", *sections, "Report"]
    page = st.sidebar.radio("Page", pages, key="page") or pages[0]
    runs = find_runs(root)
    if page == "Runs":
        page_runs(root, runs)
        return
    if page == "New audit":
        page_new_audit(root)
        return
    run = _pick_run(root, runs)
    if run is None:
        return
    try:
        report = _report(run)
    except (ValueError, FileNotFoundError) as exc:
        st.error(str(exc))
        return
    if page == "Report":
        page_report(run, report)
        return
    name = sections[page]
    special = {
        "explainability": page_explainability,
        "robustness": page_robustness,
        "privacy": page_privacy,
        "fairness": page_fairness,
    }.get(name)
    if special is not None:
        special(run, report)
    else:
        page_section(run, report, name)


main()
