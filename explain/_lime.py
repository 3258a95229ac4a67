"""LIME (Ribeiro et al., 2016) for tabular rows and images (the only module importing lime).

Images are segmented into a regular grid of square cells sized to the image (lime's default
quickshift gives 1 to 3 segments on 32x32 digits, which makes explanations meaningless); the
segment count is reported. The same seed gives the same explanation. The local surrogate's
weighted R^2 (``score``) is reported per row as its fidelity. Tabular attributions are the
surrogate's additive contributions ``w_j * (x_j - mean_j) / scale_j`` in lime's scaled space
(the raw coefficients are kept in ``extras['coefficients']``); image attributions are the
weights of the segments, spread over their pixels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rai_audit.explain.base import (
    Diagnostic,
    Explainer,
    Explanation,
    ModelView,
    Requirement,
    check_inputs,
    register,
)
from rai_audit.models.options import Int, Real, option


def grid_segments(height: int, width: int, cell: int) -> np.ndarray:
    """Label image ``(H, W)`` of square cells of ``cell`` pixels, numbered row by row."""
    rows = np.arange(height) // cell
    cols = np.arange(width) // cell
    n_cols = (width + cell - 1) // cell
    return (rows[:, None] * n_cols + cols[None, :]).astype(np.int64)


def default_cell(height: int, width: int) -> int:
    """Cells giving about 16 to 64 segments: 2 px on 8x8, 4 px on 32x32."""
    return max(1, min(height, width) // 8) if min(height, width) >= 16 else 2


@contextlib.contextmanager
def _quiet_lime() -> Iterator[None]:
    """lime_image draws a tqdm bar per explanation that only TQDM_DISABLE at import silences."""
    import lime.lime_image as li  # noqa: PLC0415

    original = li.tqdm
    li.tqdm = lambda iterable, *a, **k: iterable
    try:
        yield
    finally:
        li.tqdm = original


@register
@dataclass(frozen=True, kw_only=True)
class Lime(Explainer):
    """LIME with a seeded sampler; tabular rows or images (grid segmentation).

    Attributes:
        num_samples: perturbed samples per explained input.
        cell: grid cell size in pixels for images (0: chosen from the image size).
        kernel_width: tabular kernel width (0: lime's default, 0.75 * sqrt(D)).
    """

    name: ClassVar[str] = "lime"
    title: ClassVar[str] = "LIME"
    requires: ClassVar[Requirement] = "predict"
    stochastic: ClassVar[bool] = True
    overlay_rank: ClassVar[int | None] = 3

    num_samples: int = option(500, Int(10))
    cell: int = option(0, Int(0))
    kernel_width: float = option(0.0, Real(0.0))

    def diagnostics(
        self, exp: Explanation, model: ModelView, X: np.ndarray, targets: np.ndarray
    ) -> list[Diagnostic]:
        return [
            Diagnostic(
                "surrogate_r2",
                float(np.mean(exp.extras["score"])),
                True,
                "weighted R^2 of LIME's local linear surrogate (its fidelity)",
            )
        ]

    def details(self, exp: Explanation) -> dict[str, Any]:
        if "segments" not in exp.extras:
            return {}
        return {"segments": exp.extras["segments"], "cell_px": exp.extras["cell"]}

    def explain(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, *, seed: int = 0
    ) -> Explanation:
        check_inputs(X, targets)
        if X.ndim == 4:
            return self._images(model, X, targets, seed)
        return self._tabular(model, X.reshape(len(X), -1), targets, seed)

    def _tabular(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, seed: int
    ) -> Explanation:
        from lime.lime_tabular import LimeTabularExplainer  # noqa: PLC0415

        names = list(model.feature_names) or [f"x{i}" for i in range(X.shape[1])]
        explainer = LimeTabularExplainer(
            model.background.reshape(len(model.background), -1),
            mode="classification",
            feature_names=names,
            discretize_continuous=False,
            sample_around_instance=True,
            kernel_width=self.kernel_width or None,
            random_state=seed,
        )
        # lime fits its surrogate on z = (x - mean) / scale with its own StandardScaler; the
        # additive contribution of feature j to row x is then w_j * z_j (as for a linear model).
        mean, scale = explainer.scaler.mean_, explainer.scaler.scale_
        attrs = np.zeros_like(X, dtype=np.float32)
        coefs = np.zeros_like(X, dtype=np.float32)
        scores = np.zeros(len(X))
        for i, (row, t) in enumerate(zip(X, targets)):
            exp = explainer.explain_instance(
                row,
                model.predict_proba,
                labels=(int(t),),
                num_features=X.shape[1],
                num_samples=self.num_samples,
            )
            for j, w in exp.local_exp[int(t)]:
                coefs[i, j] = w
            attrs[i] = coefs[i] * (row - mean) / scale
            scores[i] = exp.score
        return Explanation(
            self.name, attrs, np.asarray(targets), {"score": scores, "coefficients": coefs}
        )

    def _images(
        self, model: ModelView, X: np.ndarray, targets: np.ndarray, seed: int
    ) -> Explanation:
        from lime.lime_image import LimeImageExplainer  # noqa: PLC0415

        n, c, h, w = X.shape
        cell = self.cell or default_cell(h, w)
        segments = grid_segments(h, w, cell)

        def classify(images: np.ndarray) -> np.ndarray:
            batch = np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2)
            return model.predict_proba(batch[:, :c] if c == 1 else batch)

        attrs = np.zeros_like(X, dtype=np.float32)
        scores = np.zeros(n)
        with _quiet_lime():
            for i in range(n):
                explainer = LimeImageExplainer(random_state=seed)
                image = (
                    X[i, 0].astype(np.float64)
                    if c == 1
                    else X[i].transpose(1, 2, 0).astype(np.float64)
                )
                exp = explainer.explain_instance(
                    image,
                    classify,
                    labels=(int(targets[i]),),
                    top_labels=None,
                    hide_color=0.0,
                    num_features=int(segments.max()) + 1,
                    num_samples=self.num_samples,
                    batch_size=max(10, self.num_samples),
                    segmentation_fn=lambda _img: segments,
                    random_seed=seed,
                )
                weights = np.zeros(int(segments.max()) + 1)
                for seg, w in exp.local_exp[int(targets[i])]:
                    weights[seg] = w
                attrs[i] = weights[segments][None].astype(np.float32)
                scores[i] = exp.score
        return Explanation(
            self.name,
            attrs,
            np.asarray(targets),
            {"score": scores, "segments": int(segments.max()) + 1, "cell": cell},
        )
