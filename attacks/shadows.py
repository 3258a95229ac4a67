"""Shadow models for membership inference (Shokri et al., 2017; Carlini et al., 2022).

Shadow models copy the target's architecture and training recipe and are trained on random
halves of a data pool the attacker controls, so every pool example is IN for about half of them
and OUT for the others. They are cached under ``cache_dir`` by a hash of architecture, recipe,
data, pool, assignment and seed: a rerun does not retrain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from rai_audit.models.architectures import build_model
from rai_audit.models.checkpoint import load_model, save_checkpoint
from rai_audit.models.datasets import DataBundle, Split
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.pipeline import image_normalization
from rai_audit.models.training import TrainConfig, predict_logits, seed_everything, train_model


def assignments(n_examples: int, n_shadows: int, seed: int, in_share: float = 0.5) -> np.ndarray:
    """``(S, E)`` IN masks: each example IN for the same number of shadows,
    ``round(S * in_share)`` (at least 1, at most S - 1), so every shadow trains on about
    ``in_share`` of the pool and every example has IN and OUT shadows."""
    if n_shadows < 2 or n_shadows % 2:
        raise InvalidConfigError(f"n_shadows must be an even number >= 2, got {n_shadows!r}")
    k = int(np.clip(round(n_shadows * in_share), 1, n_shadows - 1))
    rng = np.random.default_rng(seed)
    mask = np.zeros((n_shadows, n_examples), dtype=bool)
    for e in range(n_examples):
        mask[rng.permutation(n_shadows)[:k], e] = True
    return mask


def _key(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :24
    ]


def train_shadows(
    *,
    arch: str,
    arch_kwargs: Mapping[str, Any],
    recipe: TrainConfig,
    data: DataBundle,
    pool: np.ndarray,
    n_shadows: int,
    seed: int,
    cache_dir: Path,
    device: str = "auto",
    progress: bool = True,
) -> tuple[list[nn.Module], np.ndarray, int]:
    """Train (or load from the cache) ``n_shadows`` models on random halves of ``pool``.

    Args:
        pool: ``(P, *shape)``-row indices into ``data`` of the examples shadows may train on
            (pass them as positions in the concatenated train+holdout arrays, see
            :func:`pool_arrays`).

    Returns:
        the shadow models (eval mode, CPU), the ``(S, P)`` IN masks, and how many were trained
        now (the rest came from the cache).
    """
    X, y = pool_arrays(data)
    X, y = X[pool], y[pool]
    # shadows train on as many rows as the target did (at most half the pool), as LiRA assumes
    in_share = min(0.5, len(data.splits["train"]) / len(pool))
    mask = assignments(len(pool), n_shadows, seed, in_share)
    models, trained = [], 0
    base = {
        "arch": arch,
        "arch_kwargs": dict(arch_kwargs),
        "recipe": recipe.to_json(),
        "data": data.sha256,
        "pool": hashlib.sha256(np.asarray(pool).tobytes()).hexdigest(),
        "seed": seed,
        "n_shadows": n_shadows,
        "in_share": round(in_share, 6),
    }
    for s in tqdm(range(n_shadows), desc="shadow models", disable=not progress, leave=False):
        folder = Path(cache_dir) / _key({**base, "shadow": s})
        if (folder / "model.json").is_file():
            try:
                models.append(load_model(folder).module.eval())
                continue
            except Exception:  # a damaged cache entry is retrained and replaced atomically
                pass
        train = Split(X=X[mask[s]], y=y[mask[s]], indices=np.asarray(pool)[mask[s]])
        shadow_data = dataclasses.replace(data, splits={"train": train, "val": data.splits["val"]})
        seed_everything(seed * 1000 + s)
        mean, std = image_normalization(shadow_data) if data.kind == "image" else (None, None)
        model = build_model(
            arch, data.input_shape, data.num_classes, mean=mean, std=std, **dict(arch_kwargs)
        )
        cfg = dataclasses.replace(recipe, seed=seed * 1000 + s)
        train_model(model, shadow_data, cfg, device=device, progress=False)
        model.cpu().eval()
        save_checkpoint(
            folder,
            model,
            arch=arch,
            arch_kwargs=arch_kwargs,
            data=shadow_data,
            train_config=cfg.to_json(),
            extra={"shadow_of": base, "shadow": s},
        )
        models.append(model)
        trained += 1
    return models, mask, trained


def pool_arrays(data: DataBundle) -> tuple[np.ndarray, np.ndarray]:
    """Train rows then holdout rows: the population an auditor-attacker may train shadows on."""
    tr, ho = data.splits["train"], data.splits["holdout"]
    return np.concatenate([tr.X, ho.X]), np.concatenate([tr.y, ho.y])


def shadow_logits(models: list[nn.Module], X: np.ndarray) -> np.ndarray:
    """``(S, N, K)`` float64 logits of every shadow on ``X``."""
    return np.stack([predict_logits(m, X).astype(np.float64) for m in models])


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)
