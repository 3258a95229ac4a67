"""Membership inference: metrics against independent computations, and the privacy section."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from rai_audit.attacks.membership import (
    evaluate_scores,
    lira_scores,
    logit_confidence,
    loss_scores,
    per_class_scores,
)
from rai_audit.attacks.shadows import assignments
from rai_audit.audit.core.checks import Artifacts
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.privacy.analysis import attack_report
from rai_audit.audit.privacy.check import PrivacyCheck
from rai_audit.models.datasets import Split
from rai_audit.models.errors import InvalidConfigError, InvalidDataError
from rai_audit.models.pipeline import train_and_save


def test_metrics_match_an_independent_roc(rng):
    scores = np.r_[rng.normal(1, 1, 400), rng.normal(0, 1, 1200)]
    member = np.r_[np.ones(400, bool), np.zeros(1200, bool)]
    m = evaluate_scores(scores, member)
    assert m.auc == pytest.approx(roc_auc_score(member, scores))
    fpr, tpr, _ = roc_curve(member, scores)
    assert m.advantage == pytest.approx(np.max(tpr - fpr))
    # independent TPR at 1 % FPR: best threshold whose false-positive share is at most 1 %
    best = 0.0
    for t in np.unique(scores):
        called = scores >= t
        if called[~member].mean() <= 0.01:
            best = max(best, called[member].mean())
    assert m.tpr_at_fpr[0.01] == pytest.approx(best)
    assert m.tpr_at_fpr[0.001] is not None  # 1,200 non-members resolve 0.1 %
    small = evaluate_scores(scores[:600], member[:600])
    assert small.tpr_at_fpr[0.001] is None and small.min_resolvable_fpr == pytest.approx(1 / 200)


def test_logit_confidence_is_exact_and_stable():
    z = np.array([[2.0, 0.0, -1.0], [800.0, 0.0, 0.0]])
    y = np.array([0, 0])
    p = np.exp(z[0]) / np.exp(z[0]).sum()
    assert logit_confidence(z, y)[0] == pytest.approx(np.log(p[0] / (1 - p[0])))
    assert np.isfinite(logit_confidence(z, y)).all() and logit_confidence(z, y)[1] > 700


def test_lira_separates_in_from_out_examples(rng):
    n_sh, n_ex = 16, 200
    mask = assignments(n_ex, n_sh, seed=0)
    assert (mask.sum(0) == n_sh // 2).all()
    assert (assignments(n_ex, n_sh, seed=0, in_share=0.25).sum(0) == 4).all()
    stats = rng.normal(0, 1, (n_sh, n_ex)) + 2.0 * mask  # IN models are more confident
    member = rng.random(n_ex) < 0.5
    target = rng.normal(0, 1, n_ex) + 2.0 * member
    for online in (True, False):
        auc = evaluate_scores(lira_scores(target, stats, mask, online=online), member).auc
        assert auc > 0.85
    with pytest.raises(InvalidConfigError, match="even"):
        assignments(10, 3, 0)


def test_per_class_calibration_removes_class_offsets(rng):
    y = np.repeat([0, 1], 200)
    raw = rng.normal(0, 1, 400) + np.where(y == 1, 5.0, 0.0)
    cal = per_class_scores(raw, y, raw, y)
    assert abs(cal[y == 0].mean() - cal[y == 1].mean()) < 1e-9


@pytest.fixture(scope="module")
def overfit(tmp_path_factory, digits):
    """A deliberately overfit LeNet: 120 train rows, many epochs, no early stopping."""
    tr = digits.splits["train"]
    small = dataclasses.replace(tr, X=tr.X[:120], y=tr.y[:120], indices=tr.indices[:120])
    data = dataclasses.replace(
        digits, splits={**digits.splits, "train": small}, sha256="overfit-" + digits.sha256[:20]
    )
    out = tmp_path_factory.mktemp("overfit") / "m"
    loaded, _ = train_and_save(
        arch="lenet5",
        dataset=data,
        out=out,
        progress=False,
        overrides={"epochs": 150, "patience": 0, "lr": 3e-3},
    )
    return loaded, data


def test_overfit_model_is_found_vulnerable(overfit, tmp_path):
    loaded, data = overfit
    target = AuditTarget.from_loaded(loaded, data, device="cpu")
    check = PrivacyCheck(
        n_eval=120, n_shadows=4, cache_dir=str(tmp_path / "cache"), compare_defenses=False
    )
    res = check.run(target, seed=0, artifacts=Artifacts(tmp_path, "privacy"))
    assert res.metric("loss.auc").value > 0.7
    strongest = res.metric("strongest.tpr_at_fpr_1pct").value
    assert strongest >= 0.03  # at least 3x the 1 % false-positive rate
    assert res.metric("generalization_gap").value > 0.1
    assert res.metric("loss.tpr_at_fpr_0_1pct").value is None  # 120 non-members cannot resolve it
    assert any("1,000 non-members" in w for w in res.warnings)
    names = {r[0] for r in res.tables[0].rows}
    assert {"loss", "lira_online", "lira_offline", "shadow", "art_blackbox", "label_only"} <= names
    assert res.shadow["trained_now"] == 4
    again = check.run(target, seed=0, artifacts=Artifacts(tmp_path / "b", "privacy"))
    assert again.shadow["trained_now"] == 0 and again.shadow["from_cache"] == 4
    assert again.metrics == res.metrics


def test_two_disjoint_non_member_sets_give_chance(lenet, digits, tmp_path):
    # "members" that are really non-members (the test split): no attack can tell them apart
    fake = dict(digits.splits)
    fake["train"] = digits.splits["test"]
    target = AuditTarget.from_bundle(
        lenet.module, dataclasses.replace(digits, splits=fake), device="cpu"
    )
    res = PrivacyCheck(
        attacks=("loss", "confidence", "label_only"), assume_members=True, compare_defenses=False
    ).run(target, seed=0, artifacts=Artifacts(tmp_path, "p"))
    for a in ("loss", "confidence", "label_only"):
        assert abs(res.metric(f"{a}.auc").value - 0.5) < 0.08


def test_overlapping_members_and_non_members_are_refused(lenet, digits, tmp_path):
    splits = dict(digits.splits)
    tr = splits["train"]
    splits["holdout"] = Split(X=tr.X[:50], y=tr.y[:50], indices=tr.indices[:50])
    target = AuditTarget.from_loaded(
        lenet, dataclasses.replace(digits, splits=splits), device="cpu"
    )
    with pytest.raises(InvalidDataError, match="in both the train .members. and holdout"):
        PrivacyCheck(attacks=("loss",), compare_defenses=False).run(
            target, seed=0, artifacts=Artifacts(tmp_path, "p")
        )


def test_model_without_recorded_split_needs_explicit_members(german, tmp_path):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=1000).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    with pytest.raises(InvalidDataError, match="assume_members: true"):
        PrivacyCheck().run(target, seed=0, artifacts=Artifacts(tmp_path, "p"))
    res = PrivacyCheck(assume_members=True).run(target, seed=0, artifacts=Artifacts(tmp_path, "q"))
    assert any("shadow models copy the target's architecture" in w for w in res.warnings)
    assert any("defense comparison did not run" in w for w in res.warnings)
    groups = {r[0] for r in res.tables[-1].rows}
    assert {"class", "sex", "age_group"} <= groups  # per-class and per-group breakdown


def test_invalid_privacy_config():
    with pytest.raises(
        InvalidConfigError,
        match="option 'attacks' of check 'privacy' must be a list of distinct names from loss",
    ):
        PrivacyCheck(attacks=("magic",))
    with pytest.raises(
        InvalidConfigError,
        match="option 'n_shadows' of check 'privacy' must be an even integer >= 2; got 3",
    ):
        PrivacyCheck(n_shadows=3)
    with pytest.raises(
        InvalidConfigError,
        match="option 'n_eval' of check 'privacy' must be an integer >= 10; got 5",
    ):
        PrivacyCheck(n_eval=5)


def test_loss_scores_rank_like_the_loss(rng):
    proba = rng.dirichlet(np.ones(4), 50)
    y = rng.integers(0, 4, 50)
    ce = -np.log(proba[np.arange(50), y])
    np.testing.assert_allclose(loss_scores(proba, y), -ce)


def test_defense_comparison_reports_the_privacy_utility_trade_off(german_target, tmp_path):
    res = PrivacyCheck(attacks=("loss", "confidence"), n_eval=150, dp_epochs=2).run(
        german_target, seed=0, artifacts=Artifacts(tmp_path, "p")
    )
    table = res.tables[-1]
    assert table.title.startswith("Privacy-utility trade-off")
    models = [r[0] for r in table.rows]
    assert models[0] == "target (as audited)"
    assert models[1].startswith("regularized") and "dropout 0.5" in models[1]
    assert models[2].startswith("dp-sgd")
    eps = res.metric("defense.dp-sgd.epsilon").value
    assert 0 < eps < 50
    for key in ("target", "regularized", "dp-sgd"):
        assert 0 <= res.metric(f"defense.{key}.test_accuracy").value <= 1
        assert 0 <= res.metric(f"defense.{key}.loss_auc").value <= 1


def test_dp_refuses_batch_norm(digits):
    from rai_audit.models.architectures import build_model
    from rai_audit.models.dp import train_dp
    from rai_audit.models.errors import IncompatibleModelError
    from rai_audit.models.training import TrainConfig

    with pytest.raises(IncompatibleModelError, match="batch normalization"):
        train_dp(build_model("vgg11", (1, 8, 8), 10), digits, TrainConfig(epochs=1))


# ---------------------------------------------------------------------- the attack registry


def _evidence(rng, leak: float, n: int = 300, k: int = 3, shadows: bool = True):
    """Members' true-class probability is raised by ``leak`` (0: members and non-members are
    drawn alike, the clean twin)."""
    from rai_audit.attacks.membership_attacks import MembershipEvidence, ShadowOutputs

    y = rng.integers(0, k, 2 * n)
    logits = rng.normal(0, 1, (2 * n, k))
    logits[np.arange(2 * n), y] += 1.0
    logits[:n][np.arange(n), y[:n]] += leak
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    X = logits.astype(np.float32)
    ref_logits = rng.normal(0, 1, (n, k))
    ref_y = rng.integers(0, k, n)
    ref_logits[np.arange(n), ref_y] += 1.0
    ref_p = np.exp(ref_logits) / np.exp(ref_logits).sum(1, keepdims=True)
    sh = None
    if shadows:
        S = 8
        in_mask = assignments(2 * n, S, seed=0)  # every example IN half the shadows
        sl = rng.normal(0, 1, (S, 2 * n, k))
        sl[:, np.arange(2 * n), y] += 1.0 + leak * in_mask
        sp = np.exp(sl) / np.exp(sl).sum(2, keepdims=True)
        sh = ShadowOutputs(
            proba=sp,
            stats=np.stack([logit_confidence(z, y) for z in sl]),
            in_mask=in_mask,
            target_stat=logit_confidence(logits, y),
        )

    def predict_proba(x):
        z = np.asarray(x, np.float64)
        return np.exp(z) / np.exp(z).sum(1, keepdims=True)

    return MembershipEvidence(
        X=X,
        y=y,
        proba=proba,
        n_members=n,
        predict_proba=predict_proba,
        input_shape=(k,),
        num_classes=k,
        seed=0,
        rng=np.random.default_rng(0),
        reference=(ref_p, ref_y),
        shadows=sh,
    )


@pytest.mark.parametrize(
    "name",
    [
        "loss",
        "confidence",
        "loss_per_class",
        "lira_online",
        "lira_offline",
        "shadow",
        "art_blackbox",
    ],
)
def test_each_attack_finds_a_planted_leak_and_not_its_clean_twin(name):
    """A planted flaw (members more confident) is caught; a clean twin stays at chance."""
    from rai_audit.attacks.membership_attacks import MEMBERSHIP_ATTACKS

    attack = MEMBERSHIP_ATTACKS[name]()
    for leak, lo, hi in ((2.5, 0.75, 1.0), (0.0, 0.4, 0.6)):
        ev = _evidence(np.random.default_rng(1), leak)
        out = attack.score(ev)
        labels = ev.member if out.labels is None else out.labels
        auc = roc_auc_score(labels, out.scores)
        assert lo <= auc <= hi, (name, leak, auc)


def test_the_registry_declares_tiers_and_needs():
    from rai_audit.attacks.membership_attacks import MEMBERSHIP_ATTACKS

    assert list(MEMBERSHIP_ATTACKS)[:3] == ["loss", "confidence", "loss_per_class"]
    for name, cls in MEMBERSHIP_ATTACKS.items():
        assert cls.name == name and cls.title
        assert cls.tier in ("threshold", "learned", "label_only", "shadow", "lira")
        assert set(cls.needs) <= {"reference", "shadows"}
    assert MEMBERSHIP_ATTACKS["lira_online"].needs == ("shadows",)
    ev = dataclasses.replace(_evidence(np.random.default_rng(0), 1.0), shadows=None)
    with pytest.raises(ValueError, match="needs shadows"):
        MEMBERSHIP_ATTACKS["lira_online"]().score(ev)


def test_judging_needs_no_model():
    """The judge step turns measured scores into metrics, warnings and the strongest attack."""
    from rai_audit.audit.privacy.check import PrivacyMeasurement

    rng = np.random.default_rng(0)
    n = 200
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    strong = np.r_[rng.normal(2, 1, n), rng.normal(0, 1, n)]
    weak = np.r_[rng.normal(0.2, 1, n), rng.normal(0, 1, n)]
    y = rng.integers(0, 2, 2 * n)
    proba = np.full((2 * n, 2), 0.5)
    m = PrivacyMeasurement(
        y=y,
        member=member,
        proba=proba,
        scores={"loss": weak, "confidence": strong},
        labels={"loss": member, "confidence": member},
        skipped={"lira_online": "no shadows here"},
        shadow={},
        groups={"sex": np.where(rng.random(2 * n) < 0.5, "a", "b")},
        class_names=("no", "yes"),
        defense_rows=[],
        defense_warnings=[],
    )
    j = PrivacyCheck(min_group=20).judge(m)
    assert j.strongest == "confidence"
    by = {x.name: x.value for x in j.metrics}
    assert by["confidence.auc"] == pytest.approx(roc_auc_score(member, strong))
    assert by["strongest.auc"] == by["confidence.auc"]
    pred = proba.argmax(1)
    gap = (pred[member] == y[member]).mean() - (pred[~member] == y[~member]).mean()
    assert by["generalization_gap"] == pytest.approx(gap)
    assert any("lira_online did not run: no shadows here" in w for w in j.warnings)
    assert any("can resolve FPRs down to" in w for w in j.warnings)
    assert {r[0] for r in j.breakdown} == {"class", "sex"}


def test_the_strongest_attack_headline_is_not_assessable_when_no_attack_resolves_it(rng):
    """Planted: 50 non-members cannot resolve a 1% FPR, so no attack has a TPR there and the
    headline is not assessable (it used to read 0 and pass). Twin: 400 non-members resolve it,
    and the headline is the worst case over the attacks."""
    from rai_audit.attacks.membership import evaluate_scores
    from rai_audit.audit.gate.policy import Policy
    from rai_audit.reports.schema import ResultBase

    def headline(n_non):
        member = np.r_[np.ones(n_non, bool), np.zeros(n_non, bool)]
        results = {
            "weak": evaluate_scores(rng.normal(size=2 * n_non), member),
            "strong": evaluate_scores(rng.normal(size=2 * n_non) + 2.0 * member, member),
        }
        metrics, _ = attack_report(results)
        section = ResultBase(kind="privacy", title="P", metrics=metrics)
        judged = Policy.default().apply_to_result(section)
        return results, judged.metric("strongest.tpr_at_fpr_1pct")

    results, planted = headline(50)
    assert all(r.tpr_at_fpr[0.01] is None for r in results.values())
    assert planted.value is None and planted.outcome == "not_assessable"
    assert planted.verdict == "warn"  # never pass
    results, twin = headline(400)
    assert twin.value == max(r.tpr_at_fpr[0.01] for r in results.values())
    assert twin.outcome in ("pass", "fail")


def test_the_summary_reads_the_gated_headline_and_cannot_contradict_it(rng):
    """Planted: the attack strongest by AUC was scored on 50 non-members (its TPR at 1% FPR is
    undefined) while another, on 400, resolves it. The summary used to call the figure
    unresolvable while the gate judged 'strongest.tpr_at_fpr_1pct'; now it gives that same
    figure and its attack. Twin: no attack resolves it, the summary says so and the gate finds
    it not assessable."""
    from rai_audit.attacks.membership import evaluate_scores
    from rai_audit.audit.gate.policy import Policy
    from rai_audit.audit.privacy.check import PrivacyCheck
    from rai_audit.reports.schema import ResultBase

    def scored(n, shift):
        member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        return evaluate_scores(rng.normal(size=2 * n) + shift * member, member)

    check = PrivacyCheck(compare_defenses=False)
    for results, resolved in (
        ({"sharp": scored(50, 3.0), "broad": scored(400, 1.0)}, True),
        ({"sharp": scored(50, 3.0), "other": scored(60, 1.0)}, False),
    ):
        metrics, _ = attack_report(results)
        text = check._summary(results, metrics, 400, 0.1)
        gated = (
            Policy.default()
            .apply_to_result(ResultBase(kind="privacy", title="P", metrics=metrics))
            .metric("strongest.tpr_at_fpr_1pct")
        )
        assert "Strongest attack by AUC: sharp" in text
        if resolved:
            assert gated.value == results["broad"].tpr_at_fpr[0.01]
            assert f"{gated.value:.1%} of members are found at 1% FPR (broad" in text
            assert "unresolvable" not in text and gated.outcome in ("pass", "fail")
        else:
            assert gated.value is None and gated.outcome == "not_assessable"
            assert "unresolvable with this holdout for every attack" in text


def test_unknown_members_are_not_assessed_never_blocking(german, tmp_path):
    """Planted: a scikit-learn model with no recorded members. Privacy used to crash into an
    error result, which counts as fail, so every such run was 'blocking findings'. Now the
    section is not assessed, with the reason and the fix in the decision's 'not assessed'
    line, and blocks nothing. Twin: with assume_members the section is assessed and the line
    is gone."""
    from rai_audit.audit.core.runner import run_audit
    from rai_audit.audit.gate.policy import Policy
    from rai_audit.audit.performance.check import PerformanceCheck
    from rai_audit.reports import narrative

    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=1000).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    lenient = Policy.from_mapping({"rules": {"performance.accuracy": {"min": 0.5}}})
    planted = run_audit(
        target,
        [PerformanceCheck(), PrivacyCheck(attacks=("loss",), compare_defenses=False)],
        out=tmp_path / "planted",
        policy=lenient,
        progress=False,
        history=False,
    )
    d = planted.decision
    assert planted.results[1].status == "skipped" and d.level == "no_blocking_findings"
    assert len(d.not_assessed) == 1 and d.not_assessed[0].startswith("privacy: ")
    assert "assume_members: true" in d.not_assessed[0]
    kinds = [k for k, _ in narrative.decision_lines(planted)[2]]
    assert "not assessed" in kinds
    twin = run_audit(
        target,
        [PrivacyCheck(attacks=("loss",), compare_defenses=False, assume_members=True)],
        out=tmp_path / "twin",
        policy=lenient,
        progress=False,
        history=False,
    )
    assert twin.results[0].status == "ok" and twin.decision.not_assessed == []
