"""Fairness metrics on 100,000 rows: our engine against fairlearn and a bare bincount.

- Point estimates (every group rate and aggregate): ``audit.fairness.metrics.estimate(n_boot=1)``,
  fairlearn's ``MetricFrame`` plus ``demographic_parity_difference`` and
  ``equalized_odds_difference``, and the bare limit: group codes from the raw strings and one
  ``numpy.bincount`` of the (group, label, decision) cells.
- 1,000-resample bootstrap intervals for every group metric and aggregate: ours (multinomial
  draw of the cell counts). fairlearn's ``MetricFrame(n_boot=1000)`` resamples rows; its time is
  extrapolated from 10 resamples, since running it takes most of an hour.
"""

from __future__ import annotations

import time

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from bench.harness import Row, Variant
from rai_audit.audit.fairness.metrics import estimate

N = 100_000


def _data():
    r = np.random.default_rng(0)
    g = r.choice(["a", "b", "c", "d"], N)
    y = (r.random(N) < 0.3).astype(int)
    p = np.where(r.random(N) < 0.85, y, 1 - y)
    return y, p, g


def _fairlearn(y, p, g, n_boot=None):
    MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
        },
        y_true=y,
        y_pred=p,
        sensitive_features=g,
        n_boot=n_boot,
        ci_quantiles=[0.025, 0.975] if n_boot else None,
        random_state=0,
    )
    demographic_parity_difference(y, p, sensitive_features=g)
    equalized_odds_difference(y, p, sensitive_features=g)


def rows(quick: bool = False) -> list[Row]:
    y, p, g = _data()

    def bare() -> np.ndarray:  # group codes from the raw strings, then one bincount of cells
        _, idx = np.unique(g, return_inverse=True)
        return np.bincount(idx * 4 + y * 2 + p, minlength=16)

    return [
        Row(
            title=f"group metrics, {N:,} rows, 4 groups (point estimates)",
            unit="row",
            per=N,
            variants=[
                Variant(
                    "rai-audit estimate (n_boot=1)", lambda: estimate(y, p, g, n_boot=1), "ours"
                ),
                Variant(
                    "fairlearn MetricFrame + DPD + EOD", lambda: _fairlearn(y, p, g), "reference"
                ),
                Variant("bare: group codes + one numpy bincount", bare, "bare"),
            ],
        )
    ]


def bootstrap_times() -> dict[str, float]:
    y, p, g = _data()
    t0 = time.perf_counter()
    estimate(y, p, g, n_boot=1000)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    _fairlearn(y, p, g, n_boot=10)
    fl10 = time.perf_counter() - t0
    return {
        "ours_1000_s": ours,
        "fairlearn_10_s": fl10,
        "fairlearn_1000_s_extrapolated": fl10 * 100,
    }


def calibration_bootstrap_time() -> dict[str, float]:
    """Per-group score ECE with 1,000 stratified row resamples on 100,000 rows."""
    from rai_audit.audit.fairness.metrics import group_calibration  # noqa: PLC0415

    r = np.random.default_rng(0)
    s = r.random(N)
    y = (r.random(N) < s).astype(int)
    g = r.choice(["a", "b", "c", "d"], N)
    t0 = time.perf_counter()
    group_calibration(s, y, g, n_boot=1000)
    return {"group_ece_1000_s": time.perf_counter() - t0}


def refit_rows(quick: bool = False) -> list[Row]:
    """One refit of the Adult MLP for the mitigations (3 epochs on 6,000 rows, the smoke cap):
    our ``TorchRefit.fit`` (fresh init, weighted loss, validation pass per epoch for early
    stopping) against a bare loop of the same optimizer steps."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    from rai_audit.audit.fairness.mitigation import TorchRefit, _reinit  # noqa: PLC0415
    from rai_audit.models.architectures import build_model  # noqa: PLC0415
    from rai_audit.models.datasets import load_adult  # noqa: PLC0415
    from rai_audit.models.training import TrainConfig  # noqa: PLC0415

    d = load_adult()
    tr, va = d.splits["train"], d.splits["val"]
    n = 3000 if quick else 6000
    X, y = tr.X[:n], tr.y[:n]
    w = np.random.default_rng(0).uniform(0.5, 1.5, n)
    template = build_model("mlp", d.input_shape, 2)
    cfg = TrainConfig(epochs=3, batch_size=256, lr=1e-3, patience=3)
    est = TorchRefit(template, cfg, (va.X, va.y), 0, "cpu", d.input_shape)

    def bare() -> None:
        model = _reinit(template, 0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
        wt = torch.as_tensor(w, dtype=torch.float32)
        model.train()
        for _ in range(3):
            order = torch.randperm(n)
            for s in range(0, n, 256):
                idx = order[s : s + 256]
                loss = (
                    nn.functional.cross_entropy(model(Xt[idx]), yt[idx], reduction="none") * wt[idx]
                ).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

    return [
        Row(
            title=f"mitigation refit: Adult MLP, {n:,} weighted rows, 3 epochs",
            unit="row",
            per=3 * n,
            variants=[
                Variant(
                    "rai-audit TorchRefit.fit (with val pass)", lambda: est.fit(X, y, w), "ours"
                ),
                Variant("bare: weighted Adam loop", bare, "bare"),
            ],
        )
    ]


def check_times() -> list[dict[str, object]]:
    """The whole fairness check at the smoke budget on the two tabular demo models, with the
    share spent in mitigations (the issue's budget: at most 20 s per demo model)."""
    import os  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from rai_audit.audit.core.checks import Artifacts  # noqa: PLC0415
    from rai_audit.audit.core.target import AuditTarget  # noqa: PLC0415
    from rai_audit.audit.fairness.check import FairnessCheck  # noqa: PLC0415
    from rai_audit.models.pipeline import train_and_save  # noqa: PLC0415

    os.environ.setdefault("TQDM_DISABLE", "1")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in ("adult", "compas"):
            loaded, _ = train_and_save(arch="mlp", dataset=ds, out=Path(tmp) / ds, progress=False)
            target = AuditTarget.from_loaded(loaded, loaded.load_data())
            check = FairnessCheck.for_budget("smoke")
            t0 = time.perf_counter()
            res = check.run(
                target, seed=0, artifacts=Artifacts(Path(tmp) / f"run-{ds}", "fairness")
            )
            wall = time.perf_counter() - t0
            mit = sum(r.wall_time_s or 0 for r in res.mitigations)
            out.append(
                {
                    "model": f"mlp on {ds}",
                    "wall_s": wall,
                    "mitigations_s": mit,
                    "features": len(res.features),
                    "figures": len(res.figures),
                }
            )
    return out
