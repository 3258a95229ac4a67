"""Loading scikit-learn models from .skops files: our three-gate loader against skops alone.

Ours (:func:`models._skops.load`) reviews ``schema.json`` statically, runs skops' own audit,
loads, and bounds-checks every tree. The reference is skops' documented path
(``get_untrusted_types`` then ``load(trusted=...)``); the bare limit is ``skops.io.load`` with
the trusted list already known, the least work that yields the estimator.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.harness import Row, Variant
from rai_audit.models import _skops

_TMP = tempfile.TemporaryDirectory(prefix="rai-bench-skops-")


def _models(quick: bool) -> dict[str, object]:
    n = 20 if quick else 100
    return {
        f"RandomForest, {n} trees": RandomForestClassifier(n_estimators=n, random_state=0),
        f"HistGradientBoosting, {n} iterations": HistGradientBoostingClassifier(
            max_iter=n, random_state=0
        ),
        "Pipeline(StandardScaler, LogisticRegression)": make_pipeline(
            StandardScaler(), LogisticRegression()
        ),
    }


def rows(quick: bool = False) -> list[Row]:
    rs = np.random.RandomState(0)
    X = rs.randn(2000, 20)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    out = []
    for i, (title, model) in enumerate(_models(quick).items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        path = Path(_TMP.name) / f"m{i}.skops"
        sio.dump(model, path)
        trusted = sio.get_untrusted_types(file=path)

        def ours(p: Path = path) -> object:
            return _skops.load(p)[0]

        def reference(p: Path = path) -> object:
            return sio.load(p, trusted=sio.get_untrusted_types(file=p))

        def bare(p: Path = path, t: list[str] = trusted) -> object:
            return sio.load(p, trusted=t)

        out.append(
            Row(
                title=f"load {title} from .skops ({path.stat().st_size / 2**20:.1f} MB)",
                unit="file",
                per=1,
                variants=[
                    Variant("rai-audit three gates (review, skops audit, load, tree checks)", ours),
                    Variant("skops get_untrusted_types + load", reference, role="reference"),
                    Variant("bare: skops load with the list known", bare, role="bare"),
                ],
            )
        )
    return out
