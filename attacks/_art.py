"""adversarial-robustness-toolbox wrappers (the only module that imports ART).

- :func:`art_pgd`: ART's ``ProjectedGradientDescentPyTorch`` (FGSM with ``max_iter=1``), the
  reference our native PGD is tested against.
- :func:`art_square`: ART's ``SquareAttack`` (Andriushchenko et al., 2020), a gradient-free
  black-box attack: the masking checks compare it with the white-box attack.
- :func:`art_preprocessor`: ART's input-transformation defenses (feature squeezing, spatial
  smoothing, JPEG compression) as plain ``numpy -> numpy`` functions.

ART 1.20 fails on float64 inputs (trap 6), so everything is cast to float32.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rai_audit.attacks.pgd import PGDConfig
from rai_audit.models.errors import InvalidConfigError

logging.getLogger("art").setLevel(logging.WARNING)


def art_classifier(
    model: nn.Module, input_shape: tuple[int, ...], num_classes: int, low: float, high: float
):
    """ART ``PyTorchClassifier`` around ``model`` (logits) on the CPU or the model's GPU."""
    from art.estimators.classification import PyTorchClassifier  # noqa: PLC0415

    device = next(model.parameters()).device if any(True for _ in model.parameters()) else None
    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(input_shape),
        nb_classes=num_classes,
        clip_values=(float(low), float(high)),
        device_type="gpu" if device is not None and device.type == "cuda" else "cpu",
    )


def art_pgd(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    cfg: PGDConfig,
    *,
    low: float,
    high: float,
    num_classes: int,
    batch_size: int = 64,
) -> np.ndarray:
    """ART's PGD (or FGSM for one step) with the same settings as :func:`attacks.pgd.pgd`."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch  # noqa: PLC0415

    clf = art_classifier(model, x.shape[1:], num_classes, low, high)
    attack = ProjectedGradientDescentPyTorch(
        clf,
        norm=np.inf if cfg.norm == "inf" else 2,
        eps=cfg.eps,
        eps_step=cfg.eps_step,
        max_iter=cfg.max_iter,
        targeted=cfg.targeted,
        num_random_init=cfg.num_random_init,
        batch_size=batch_size,
        verbose=False,
    )
    onehot = np.eye(num_classes, dtype=np.float32)[y]
    return attack.generate(x.astype(np.float32), y=onehot).astype(np.float32)


def art_square(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    norm: str,
    max_iter: int,
    low: float,
    high: float,
    num_classes: int,
    seed: int,
    batch_size: int = 128,
) -> np.ndarray:
    """ART's Square attack: random square-shaped updates, model outputs only (no gradients)."""
    from art.attacks.evasion import SquareAttack  # noqa: PLC0415

    clf = art_classifier(model, x.shape[1:], num_classes, low, high)
    attack = SquareAttack(
        clf,
        norm=np.inf if norm == "inf" else 2,
        eps=eps,
        max_iter=max_iter,
        nb_restarts=1,
        batch_size=batch_size,
        verbose=False,
    )
    state = np.random.get_state()
    np.random.seed(seed % 2**32)  # ART draws its squares from numpy's global generator
    try:
        onehot = np.eye(num_classes, dtype=np.float32)[y]
        return attack.generate(x.astype(np.float32), y=onehot).astype(np.float32)
    finally:
        np.random.set_state(state)


DEFENSES = ("feature_squeezing", "spatial_smoothing", "jpeg")


def art_preprocessor(
    name: str, *, low: float, high: float, **options: float
) -> Callable[[np.ndarray], np.ndarray]:
    """An ART input-transformation defense as a function on ``(N, C, H, W)`` float32 arrays.

    Args:
        name: ``feature_squeezing`` (option ``bit_depth``, default 3), ``spatial_smoothing``
            (``window_size``, default 3) or ``jpeg`` (``quality``, default 50).
    """
    from art.defences.preprocessor import (  # noqa: PLC0415
        FeatureSqueezing,
        JpegCompression,
        SpatialSmoothing,
    )

    clip = (float(low), float(high))
    if name == "feature_squeezing":
        pre = FeatureSqueezing(clip_values=clip, bit_depth=int(options.get("bit_depth", 3)))
    elif name == "spatial_smoothing":
        pre = SpatialSmoothing(
            window_size=int(options.get("window_size", 3)), channels_first=True, clip_values=clip
        )
    elif name == "jpeg":
        pre = JpegCompression(
            clip_values=clip, quality=int(options.get("quality", 50)), channels_first=True
        )
    else:
        raise InvalidConfigError(f"unknown defense {name!r}: expected one of {', '.join(DEFENSES)}")

    def apply(x: np.ndarray) -> np.ndarray:
        out, _ = pre(np.ascontiguousarray(x, dtype=np.float32))
        return np.asarray(out, dtype=np.float32)

    return apply


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def art_membership_blackbox(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    input_shape: tuple[int, ...],
    num_classes: int,
    fit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    infer: tuple[np.ndarray, np.ndarray],
    *,
    attack_model_type: str = "rf",
    seed: int = 0,
) -> np.ndarray:
    """ART's ``MembershipInferenceBlackBox``: a learned attack model on the target's outputs.

    Args:
        fit: ``(x_members, y_members, x_nonmembers, y_nonmembers)`` with known membership to
            train the attack model on.
        infer: ``(x, y)`` to score.

    Returns:
        membership probabilities for ``infer`` rows.
    """
    from art.attacks.inference.membership_inference import (  # noqa: PLC0415
        MembershipInferenceBlackBox,
    )

    clf = _blackbox(predict_proba, input_shape, num_classes)
    attack = MembershipInferenceBlackBox(clf, attack_model_type=attack_model_type)
    xm, ym, xn, yn = fit
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        if attack_model_type == "rf":
            attack.attack_model.set_params(random_state=seed)
        attack.fit(x=xm.astype(np.float32), y=ym, test_x=xn.astype(np.float32), test_y=yn)
        x, y = infer
        return np.asarray(attack.infer(x.astype(np.float32), y, probabilities=True)).reshape(-1)
    finally:
        np.random.set_state(state)


def art_label_only(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    input_shape: tuple[int, ...],
    num_classes: int,
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """ART's ``LabelOnlyGapAttack``: member if and only if the label is predicted correctly."""
    from art.attacks.inference.membership_inference import LabelOnlyGapAttack  # noqa: PLC0415

    clf = _blackbox(predict_proba, input_shape, num_classes)
    return np.asarray(LabelOnlyGapAttack(clf).infer(x.astype(np.float32), y)).reshape(-1)


def _blackbox(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    input_shape: tuple[int, ...],
    num_classes: int,
):
    """ART ``BlackBoxClassifier`` over a probability function (float32 inputs, trap 6)."""
    from art.estimators.classification import BlackBoxClassifier  # noqa: PLC0415

    return BlackBoxClassifier(
        lambda x: predict_proba(np.asarray(x, np.float32)),
        input_shape=tuple(input_shape),
        nb_classes=num_classes,
    )
