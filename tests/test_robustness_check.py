"""The robustness section: masking checks, defenses, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from rai_audit.audit.core.checks import Artifacts
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.gate.policy import Policy
from rai_audit.audit.robustness.check import RobustnessCheck
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.pipeline import train_and_save

FAST = {"n_eval": 64, "max_iter": 8, "blackbox_queries": 60, "defenses": ()}


def _run(target, tmp_path, **kw):
    check = RobustnessCheck(**{**FAST, **kw})
    return check.run(target, seed=0, artifacts=Artifacts(tmp_path, "robustness"))


class Quantized(torch.nn.Module):
    """A gradient-masking model: inputs rounded to 4 levels (zero gradient almost everywhere)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(torch.round(x * 3) / 3)


def test_plain_model_is_verified(digits_target, tmp_path):
    res = _run(digits_target, tmp_path)
    assert res.verified, res.unverified_reasons
    acc = res.metric("robust_accuracy")
    assert acc.ci_low <= acc.value <= acc.ci_high
    assert res.metric("clean_accuracy").value >= acc.value
    pgd_curve = [p.y for p in res.curves["PGD"]]
    assert all(b <= a + 0.03 for a, b in zip(pgd_curve, pgd_curve[1:]))  # monotone in eps
    assert pgd_curve[-1] < 0.2
    assert {f.path.rsplit("/", 1)[1] for f in res.figures} == {
        "robust_accuracy.png",
        "examples.png",
    }
    assert 0 < res.metric("ssim").value <= 1
    judged = Policy.default().apply_to_result(res)
    verdicts = {m.name: m.verdict for m in judged.metrics}
    assert verdicts["verified"] == "pass"
    assert judged.verdict != "fail"  # the clean twin of the masked model below is not blocked


def test_planted_gradient_masking_is_flagged(lenet, digits, tmp_path):
    target = AuditTarget.from_bundle(Quantized(lenet.module), digits, device="cpu")
    res = _run(target, tmp_path)
    assert not res.verified
    failed = {c.name for c in res.masking if not c.passed}
    assert "gradients_nonzero_finite" in failed
    assert "blackbox_not_stronger" in failed or "large_eps_collapses" in failed
    assert "UNVERIFIED" in res.summary and "UNVERIFIED" in res.metric("robust_accuracy").description
    judged = Policy.default().apply_to_result(res)
    assert judged.metric("verified").verdict == "fail"
    assert judged.verdict == "fail"  # a blocking finding about the model


def test_randomized_model_needs_eot(lenet, digits, tmp_path):
    class Noisy(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m((x + 0.05 * torch.randn_like(x)).clamp(0, 1))

    target = AuditTarget.from_bundle(Noisy(lenet.module), digits, device="cpu")
    res = _run(target, tmp_path)
    check = next(c for c in res.masking if c.name == "deterministic_output")
    assert not check.passed and check.value > 0.5


def test_input_transformation_defenses_naive_vs_adaptive(digits_target, tmp_path):
    res = _run(digits_target, tmp_path, defenses=("feature_squeezing", "spatial_smoothing"))
    rows = {r.model: r for r in res.defenses}
    assert set(rows) == {"undefended", "feature_squeezing", "spatial_smoothing"}
    fs = rows["feature_squeezing"]
    assert fs.naive_robust_accuracy >= fs.adaptive_robust_accuracy
    assert fs.naive_robust_accuracy == pytest.approx(fs.clean_accuracy)  # masked
    assert "masking" in fs.note
    assert (
        res.metric("defense.feature_squeezing.adaptive_robust_accuracy").value
        == fs.adaptive_robust_accuracy
    )


@pytest.fixture(scope="module")
def defended(tmp_path_factory, digits, lenet_checkpoint):
    """The session's plain LeNet, an adversarially trained one and a distilled one (T = 20)."""
    root = tmp_path_factory.mktemp("defended")
    adv, _ = train_and_save(
        arch="lenet5",
        dataset=digits,
        out=root / "adv",
        progress=False,
        defense="adversarial",
        overrides={"epochs": 10},
    )
    distilled, _ = train_and_save(
        arch="lenet5",
        dataset=digits,
        out=root / "distilled",
        progress=False,
        defense="distillation",
        overrides={"epochs": 15},
    )
    return lenet_checkpoint, adv, distilled


def test_defensive_distillation_is_caught_by_the_masking_checks(defended, digits, tmp_path):
    _, _, distilled = defended
    assert distilled.meta["defense"] == "distillation"
    assert distilled.meta["train_config"]["temperature"] == 20.0
    assert distilled.meta["metrics"]["test_accuracy"] > 0.9
    target = AuditTarget.from_loaded(distilled, digits, device="cpu")
    res = _run(target, tmp_path)
    assert not res.verified
    assert "gradients_nonzero_finite" in {c.name for c in res.masking if not c.passed}


def test_adversarial_training_before_and_after(defended, digits, tmp_path):
    plain, adv, _ = defended
    assert adv.meta["train_config"]["adv_eps"] == pytest.approx(8 / 255)
    target = AuditTarget.from_loaded(adv, digits, device="cpu")
    res = _run(target, tmp_path, eps=16 / 255, n_eval=128, compare_with=(f"undefended={plain}",))
    rows = {r.model: r for r in res.defenses}
    assert (
        rows["audited model"].adaptive_robust_accuracy
        > rows["undefended"].adaptive_robust_accuracy + 0.05
    )
    assert res.verified


def test_tabular_attack_stays_in_feature_bounds(german_target, tmp_path):
    res = _run(german_target, tmp_path)
    assert res.input_space.startswith("standardized features")
    assert res.metric("blackbox_robust_accuracy").description.startswith(
        "accuracy under the random search"
    )
    assert res.metric("perturbation_linf").value <= 0.1 + 1e-6
    assert {f.path.rsplit("/", 1)[1] for f in res.figures} == {
        "robust_accuracy.png",
        "feature_shift.png",
    }


def test_probability_outputs_are_flagged(lenet, digits, tmp_path):
    model = torch.nn.Sequential(lenet.module, torch.nn.Softmax(dim=1))
    target = AuditTarget.from_bundle(model, digits, device="cpu")
    res = _run(target, tmp_path)
    assert any("returns probabilities, not logits" in w for w in res.warnings)


def test_bad_epsilons(digits_target, tmp_path):
    with pytest.raises(
        InvalidConfigError,
        match="option 'eps' of check 'robustness' must be None .* or a number > 0; got -0.1",
    ):
        RobustnessCheck(eps=-0.1)
    with pytest.raises(
        InvalidConfigError,
        match=r"option \'epsilons\' of check \'robustness\' must be a list of numbers > 0; got \(0.1, 0.0\)",
    ):
        RobustnessCheck(epsilons=(0.1, 0.0))
    with pytest.raises(InvalidConfigError, match="beyond the input range"):
        _run(digits_target, tmp_path, eps=2.0)
    with pytest.raises(
        InvalidConfigError,
        match="option 'defenses' of check 'robustness' must be a list of distinct names from feature_squeezing, spatial_smoothing, jpeg",
    ):
        RobustnessCheck(defenses=("blur",))
    with pytest.raises(
        InvalidConfigError,
        match="option 'norm' of check 'robustness' must be one of 'inf', '2'; got '1'",
    ):
        RobustnessCheck(norm="1")


def test_non_torch_model_is_skipped_with_a_reason(german):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=1000).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    assert "differentiable torch model" in RobustnessCheck().skip_reason(target)


def test_same_seed_same_numbers(digits_target, tmp_path):
    a = _run(digits_target, tmp_path / "a", num_random_init=1)
    b = _run(digits_target, tmp_path / "b", num_random_init=1)
    assert a.metrics == b.metrics
    np.testing.assert_equal([c.value for c in a.masking], [c.value for c in b.masking])


def test_a_newly_registered_attack_is_planned_and_run(digits_target, tmp_path):
    """Planted: a further white-box attack registered after import (random signs at eps) runs in
    the audit and reports its accuracy, which an independent computation on the audited rows
    reproduces. Twin: without it the result has no such metric and the same others."""
    from rai_audit.attacks.evasion import EVASION_ATTACKS, EvasionAttack, EvasionOutcome, register

    def signs_of(x, seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, 2, x.shape, generator=gen).float() * 2 - 1

    class RandomSigns(EvasionAttack):
        name = "random_signs"
        title = "random signs (planted)"
        threat = "white-box"

        def perturb(self, module, x, y, b):
            adv = torch.clamp(x + b.eps * signs_of(x, b.seed), b.low, b.high)
            with torch.no_grad():
                hit = (module(adv).argmax(1) == y).cpu().numpy()
            return EvasionOutcome(adv, hit, float(hit.mean()))

    twin = _run(digits_target, tmp_path / "twin")
    assert not any(m.name.startswith("attacks.") for m in twin.metrics)
    register(RandomSigns)
    try:
        res = _run(digits_target, tmp_path / "planted")
        m = RobustnessCheck(**FAST).measure(digits_target, seed=0)
    finally:
        EVASION_ATTACKS.pop("random_signs")
    metric = res.metric("attacks.random_signs.robust_accuracy")
    assert metric.description.startswith("accuracy under the random signs (planted)")
    assert (
        metric.n == res.metric("robust_accuracy").n
        and metric.ci_low <= metric.value <= metric.ci_high
    )
    x = torch.as_tensor(m.X)
    adv = torch.clamp(x + m.eps * signs_of(x, 0), 0.0, 1.0)
    with torch.no_grad():
        expected = (digits_target.model.module(adv).argmax(1).numpy() == m.y).mean()
    assert metric.value == pytest.approx(expected)
    assert m.others == (("random_signs", "random signs (planted)", metric.value),)
    assert metric.value >= res.metric("robust_accuracy").value  # weaker than PGD: no warning
    assert not any("not the worst case" in w for w in res.warnings)
    assert [x.name for x in twin.metrics] == [x.name for x in res.metrics if x is not metric]


def test_judging_warns_when_a_further_attack_beats_the_headline():
    """Planted: a further attack 20 points below PGD is named in a warning (the headline is
    not the worst case); twin: one at PGD's level is not."""
    rc = RobustnessCheck()
    strong = rc.judge(_measurement(others=(("x", "attack X", 0.3),)))
    assert any("not the worst case" in w and "attack X reaches 30%" in w for w in strong.warnings)
    assert {m.name: m.value for m in strong.metrics}["attacks.x.robust_accuracy"] == 0.3
    level = rc.judge(_measurement(others=(("x", "attack X", 0.5),)))
    assert not any("not the worst case" in w for w in level.warnings)


def _measurement(**changes):
    from rai_audit.audit.robustness.check import RobustnessMeasurement

    n = 100
    X = np.zeros((n, 3), np.float32)
    base = dict(
        kind="tabular",
        class_names=("a", "b"),
        feature_names=("f0", "f1", "f2"),
        input_space="standardized features",
        n=n,
        eps=0.1,
        large_eps=2.0,
        X=X,
        y=np.zeros(n, int),
        adv=X + 0.1,
        p_clean=np.full((n, 2), 0.5),
        p_adv=np.full((n, 2), 0.5),
        by_eps={0.05: (0.7, 0.75), 0.1: (0.5, 0.6), 0.2: (0.2, 0.3)},
        clean=0.9,
        robust=0.5,
        fgsm=0.6,
        strong=0.49,
        large=0.0,
        other_loss="margin",
        other=0.5,
        zero_gradient_share=0.0,
        nondeterministic_share=0.0,
        blackbox=0.7,
        blackbox_name="random search",
        blackbox_n=n,
        wrong_confidence=0.8,
        linf=0.1,
        l2=0.17,
        image_quality=None,
        defense_rows=[],
        warnings=[],
    )
    return RobustnessMeasurement(**{**base, **changes})


@pytest.mark.parametrize(
    ("flaw", "check"),
    [
        (
            {"robust": 0.7, "strong": 0.7, "other": 0.7, "by_eps": {0.1: (0.7, 0.6)}},
            "iterative_at_least_single_step",
        ),
        ({"large": 0.4}, "large_eps_collapses"),
        ({"strong": 0.3}, "stronger_attack_no_gain"),
        ({"blackbox": 0.3}, "blackbox_not_stronger"),
        ({"other": 0.2}, "other_loss_not_stronger"),
        ({"zero_gradient_share": 0.5}, "gradients_nonzero_finite"),
        ({"nondeterministic_share": 0.1}, "deterministic_output"),
    ],
)
def test_judging_flags_each_planted_masking_sign_and_passes_the_clean_twin(flaw, check):
    """Judging needs no model: a measurement with one planted sign of masking fails exactly
    that check; its clean twin passes all of them."""
    rc = RobustnessCheck()
    clean = rc.judge(_measurement())
    assert clean.verified and not clean.reasons
    flawed = rc.judge(_measurement(**flaw))
    assert not flawed.verified
    assert [c.name for c in flawed.masking if not c.passed] == [check]
    assert any("UNVERIFIED" in w for w in flawed.warnings)
    by = {m.name: m for m in flawed.metrics}
    assert by["verified"].value == 0.0 and by["robust_accuracy"].ci_method == "wilson"
