"""Membership-inference cost: shadow models, a whole LiRA run, and scoring against ART.

- Time per shadow model: the target's architecture and recipe (``train_shadows``), for the
  demo's LeNet-5 on digits and MLP on Adult.
- A whole privacy section at the smoke budget (4 shadows, every attack tier, defenses off): cold
  (shadows trained) and warm (shadows from the cache).
- Scoring 2,000 members and non-members: our threshold attacks (loss, confidence and
  per-class; one batched forward pass, the same on a GPU) against ART's learned
  MembershipInferenceBlackBox (random forest), with the bare limit of one forward pass.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import Row, Variant
from rai_audit.attacks._art import art_membership_blackbox
from rai_audit.attacks.membership import confidence_scores, loss_scores, per_class_scores
from rai_audit.attacks.shadows import train_shadows
from rai_audit.audit.core.adapters import TorchAdapter
from rai_audit.audit.core.checks import Artifacts
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.privacy.check import PrivacyCheck
from rai_audit.models.pipeline import train_and_save
from rai_audit.models.training import TrainConfig


def _target(arch: str, dataset: str, tmp: Path):
    loaded, _ = train_and_save(
        arch=arch, dataset=dataset, out=tmp / f"{arch}-{dataset}", progress=False
    )
    return loaded, AuditTarget.from_loaded(loaded, loaded.load_data(), device="cpu")


def shadow_times() -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for arch, ds in (("lenet5", "digits"), ("mlp", "adult")):
            loaded, target = _target(arch, ds, tmp)
            data = loaded.load_data()
            recipe = TrainConfig(**loaded.meta["train_config"])
            pool = np.arange(len(data.splits["train"]) + len(data.splits["holdout"]))
            t0 = time.perf_counter()
            _, mask, trained = train_shadows(
                arch=arch,
                arch_kwargs={},
                recipe=recipe,
                data=data,
                pool=pool,
                n_shadows=2,
                seed=0,
                cache_dir=tmp / "cache",
                progress=False,
            )
            per = (time.perf_counter() - t0) / trained
            check = PrivacyCheck.for_budget(
                "smoke", compare_defenses=False, cache_dir=str(tmp / "cache2")
            )
            times = []
            for _ in ("cold", "warm"):
                t0 = time.perf_counter()
                check.run(target, seed=0, artifacts=Artifacts(tmp / "run", "privacy"))
                times.append(time.perf_counter() - t0)
            rows.append(
                {
                    "model": f"{arch} on {ds}",
                    "shadow_train_rows": int(mask[0].sum()),
                    "s_per_shadow": per,
                    "section_cold_s": times[0],
                    "section_warm_s": times[1],
                }
            )
    return rows


def rows(quick: bool = False) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="rai-bench-priv-"))
    loaded, target = _target("mlp", "adult", tmp)
    tr, ho, te = (target.split(s) for s in ("train", "holdout", "test"))
    n = 1000
    X = np.concatenate([tr.X[:n], ho.X[:n]])
    y = np.concatenate([tr.y[:n], ho.y[:n]])
    adapter = TorchAdapter(loaded.module, device="cpu")
    ref_p = adapter.predict_proba(te.X)

    def ours():
        p = adapter.predict_proba(X)
        loss_scores(p, y), confidence_scores(p, y)
        per_class_scores(loss_scores(p, y), y, loss_scores(ref_p, te.y), te.y)

    half = n // 2

    def art_rf():
        art_membership_blackbox(
            adapter.predict_proba,
            target.input_shape,
            2,
            (X[:half], y[:half], X[n : n + half], y[n : n + half]),
            (
                np.concatenate([X[half:n], X[n + half :]]),
                np.concatenate([y[half:n], y[n + half :]]),
            ),
        )

    return [
        Row(
            title=f"membership scoring, MLP on Adult, {2 * n} rows",
            unit="row",
            per=2 * n,
            variants=[
                Variant("rai-audit threshold attacks (3 tiers)", ours, "ours"),
                Variant("ART MembershipInferenceBlackBox (rf, fit + infer)", art_rf, "reference"),
                Variant("bare: one forward pass", lambda: adapter.predict_proba(X), "bare"),
            ],
        )
    ]
