"""Native FGSM/PGD against adversarial-robustness-toolbox, and the attack's guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rai_audit.attacks._art import art_pgd, art_preprocessor
from rai_audit.attacks.defenses import TransformDefense
from rai_audit.attacks.pgd import PGDConfig, fgsm_config, input_gradient, pgd
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.training import frozen_eval


@pytest.fixture()
def attack_data(lenet, digits):
    X = digits.splits["test"].X[:200]
    y = digits.splits["test"].y[:200]
    return lenet.module.eval(), X, y


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(1) == torch.as_tensor(y)).float().mean())


@pytest.mark.parametrize(
    ("norm", "eps"),
    [("inf", 4 / 255), ("inf", 16 / 255), ("inf", 32 / 255), ("2", 0.5), ("2", 1.5)],
)
def test_pgd_matches_art_within_one_point(attack_data, norm, eps):
    model, X, y = attack_data
    cfg = PGDConfig(eps=eps, eps_step=eps / 4, max_iter=10, norm=norm)
    with frozen_eval(model):
        ours = pgd(model, torch.as_tensor(X), torch.as_tensor(y), cfg).numpy()
        theirs = art_pgd(model, X, y, cfg, low=0.0, high=1.0, num_classes=10)
    assert abs(_acc(model, ours, y) - _acc(model, theirs, y)) <= 0.01
    assert _acc(model, ours, y) < _acc(model, X, y)


def test_fgsm_is_identical_to_art(attack_data):
    model, X, y = attack_data
    cfg = fgsm_config(8 / 255)
    with frozen_eval(model):
        ours = pgd(model, torch.as_tensor(X), torch.as_tensor(y), cfg).numpy()
        theirs = art_pgd(model, X, y, cfg, low=0.0, high=1.0, num_classes=10)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_restarts_with_art_within_one_point(attack_data):
    model, X, y = attack_data
    cfg = PGDConfig(eps=16 / 255, eps_step=4 / 255, max_iter=10, num_random_init=2)
    with frozen_eval(model):
        ours = pgd(
            model,
            torch.as_tensor(X),
            torch.as_tensor(y),
            cfg,
            generator=torch.Generator().manual_seed(0),
        ).numpy()
        theirs = art_pgd(model, X, y, cfg, low=0.0, high=1.0, num_classes=10)
    # different random starts, same attack: robust accuracies agree closely
    assert abs(_acc(model, ours, y) - _acc(model, theirs, y)) <= 0.02


@settings(max_examples=15, deadline=None)
@given(
    eps=st.floats(0.001, 0.4),
    norm=st.sampled_from(["inf", "2"]),
    restarts=st.integers(0, 2),
    steps=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_perturbation_respects_eps_and_the_domain(eps, norm, restarts, steps, seed):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
    x = torch.rand(9, 12, generator=torch.Generator().manual_seed(seed))
    y = torch.randint(0, 3, (9,), generator=torch.Generator().manual_seed(seed))
    low = torch.linspace(0.0, 0.2, 12)
    high = torch.linspace(0.8, 1.0, 12)
    x = torch.max(torch.min(x, high), low)
    cfg = PGDConfig(eps=eps, eps_step=eps / 2, max_iter=steps, norm=norm, num_random_init=restarts)
    adv = pgd(model, x, y, cfg, low=low, high=high, generator=torch.Generator().manual_seed(seed))
    delta = adv - x
    if norm == "inf":
        assert float(delta.abs().max()) <= eps + 1e-6
    else:
        assert float(delta.norm(dim=1).max()) <= eps + 1e-5
    assert bool((adv >= low - 1e-7).all()) and bool((adv <= high + 1e-7).all())


def test_targeted_attack_reaches_the_target(attack_data):
    model, X, y = attack_data
    target = (torch.as_tensor(y) + 1) % 10
    cfg = PGDConfig(eps=0.3, eps_step=0.03, max_iter=30, targeted=True)
    with frozen_eval(model):
        before = float((model(torch.as_tensor(X)).argmax(1) == target).float().mean())
        adv = pgd(model, torch.as_tensor(X), target, cfg)
        hit = float((model(adv).argmax(1) == target).float().mean())
    assert before < 0.05 and hit > 0.95


def test_random_starts_are_seeded(attack_data):
    model, X, y = attack_data
    cfg = PGDConfig(eps=8 / 255, eps_step=2 / 255, max_iter=3, num_random_init=1)
    xt, yt = torch.as_tensor(X[:20]), torch.as_tensor(y[:20])
    with frozen_eval(model):
        a = pgd(model, xt, yt, cfg, generator=torch.Generator().manual_seed(1))
        b = pgd(model, xt, yt, cfg, generator=torch.Generator().manual_seed(1))
        c = pgd(model, xt, yt, cfg, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_margin_loss_breaks_a_saturated_model(attack_data):
    model, X, y = attack_data

    class Saturated(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return 1000.0 * self.m(x)  # distillation-like over-confidence

    sat = Saturated(model).eval()
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    with frozen_eval(sat):
        g, _ = input_gradient(sat, xt, yt, loss="ce")
        zero = float((g.flatten(1).abs().sum(1) == 0).float().mean())
        ce = _acc(sat, pgd(sat, xt, yt, PGDConfig(eps=16 / 255, eps_step=4 / 255)).numpy(), y)
        margin = _acc(
            sat,
            pgd(sat, xt, yt, PGDConfig(eps=16 / 255, eps_step=4 / 255, loss="margin")).numpy(),
            y,
        )
    assert zero > 0.5  # cross-entropy gradients vanish on saturated softmax outputs
    assert margin < ce - 0.1


def test_bpda_breaks_a_transformation_defense_that_masks_naive_gradients(attack_data):
    model, X, y = attack_data
    squeeze = art_preprocessor("feature_squeezing", low=0.0, high=1.0, bit_depth=3)
    naive = TransformDefense(model, squeeze, "none")
    bpda = TransformDefense(model, squeeze, "bpda")
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    cfg = PGDConfig(eps=16 / 255, eps_step=4 / 255, max_iter=10)
    with frozen_eval(model):
        clean = _acc(bpda, X, y)
        masked = _acc(bpda, pgd(naive, xt, yt, cfg).numpy(), y)
        adaptive = _acc(bpda, pgd(bpda, xt, yt, cfg).numpy(), y)
    assert masked == clean  # zero gradients: the naive attack does nothing
    assert adaptive < clean - 0.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"eps": -0.1, "eps_step": 0.1},
            "option 'eps' of attack 'pgd' must be a number >= 0; got -0.1",
        ),
        (
            {"eps": float("nan"), "eps_step": 0.1},
            "option 'eps' of attack 'pgd' must be a number >= 0; got nan",
        ),
        (
            {"eps": 0.1, "eps_step": 0},
            "option 'eps_step' of attack 'pgd' must be a number > 0; got 0",
        ),
        (
            {"eps": 0.1, "eps_step": 0.1, "max_iter": 0},
            "option 'max_iter' of attack 'pgd' must be an integer >= 1; got 0",
        ),
        (
            {"eps": 0.1, "eps_step": 0.1, "norm": "1"},
            "option 'norm' of attack 'pgd' must be one of 'inf', '2'; got '1'",
        ),
        (
            {"eps": 0.1, "eps_step": 0.1, "loss": "hinge"},
            "option 'loss' of attack 'pgd' must be one of 'ce', 'margin'; got 'hinge'",
        ),
        (
            {"eps": 0.1, "eps_step": 0.1, "eot_samples": 0},
            "option 'eot_samples' of attack 'pgd' must be an integer >= 1; got 0",
        ),
    ],
)
def test_invalid_attack_config(kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        PGDConfig(**kwargs)


def test_unknown_defense():
    with pytest.raises(InvalidConfigError, match="unknown defense 'blur'"):
        art_preprocessor("blur", low=0, high=1)


# ---------------------------------------------------------------------- the evasion registry


def _linear_tabular(seed=0, n=64, d=4):
    torch.manual_seed(seed)
    model = torch.nn.Linear(d, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
        model.bias.zero_()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g) * 2 - 1
    x[:, 0] = torch.where(x[:, 0].abs() < 0.05, torch.full_like(x[:, 0], 0.3), x[:, 0])
    y = (x[:, 0] < 0).long()  # class 0 iff x0 > 0: every row is classified correctly
    return model.eval().requires_grad_(False), x, y


@pytest.mark.parametrize("name", ["pgd", "fgsm", "corner_search"])
def test_evasion_attacks_break_a_thin_margin_and_not_a_wide_one(name):
    """Every row sits at least 0.05 from the boundary x0 = 0. Planted: an eps wider than every
    margin breaks every row. Clean twin: an eps inside every margin breaks none."""
    from rai_audit.attacks.evasion import EVASION_ATTACKS, AttackBudget

    model, x, y = _linear_tabular()
    low, high = torch.full((4,), -2.0), torch.full((4,), 2.0)
    attack = EVASION_ATTACKS[name]()
    for eps, expect in ((1.5, 0.0), (0.01, 1.0)):
        b = AttackBudget(eps=eps, norm="inf", low=low, high=high, seed=0, queries=50)
        out = attack.perturb(model, x, y, b)
        assert out.adv.shape == x.shape
        assert float((out.adv - x).abs().max()) <= eps + 1e-6
        assert bool((out.adv >= low).all() and (out.adv <= high).all())
        with torch.no_grad():
            again = (model(out.adv).argmax(1) == y).numpy()
        np.testing.assert_array_equal(again, out.robust)
        assert out.accuracy == pytest.approx(out.robust.mean()) == pytest.approx(expect)
        same = attack.perturb(model, x, y, b)
        assert torch.equal(same.adv, out.adv)


def test_each_data_kind_has_its_attacks_planned_by_role():
    """The robustness audit's plan comes from what each registered attack declares: the
    headline iterative attack, the single-step and black-box references, and the others."""
    from rai_audit.attacks.evasion import EVASION_ATTACKS, plan_attacks

    image, tabular = plan_attacks("image", "inf"), plan_attacks("tabular", "2")
    assert (image.iterative.name, image.single_step.name, image.black_box.name) == (
        "pgd",
        "fgsm",
        "square",
    )
    assert tabular.black_box.name == "corner_search" and tabular.iterative.name == "pgd"
    assert image.others == tabular.others == ()
    saved = dict(EVASION_ATTACKS)
    del EVASION_ATTACKS["fgsm"]
    try:
        with pytest.raises(ValueError, match="no registered white-box single-step attack"):
            plan_attacks("image", "inf")
    finally:
        EVASION_ATTACKS.clear()
        EVASION_ATTACKS.update(saved)
    for name, cls in EVASION_ATTACKS.items():
        assert cls.name == name and cls.title and cls.threat in ("white-box", "black-box")
        assert set(cls.data_kinds) <= {"image", "tabular"} and set(cls.norms) <= {"inf", "2"}
