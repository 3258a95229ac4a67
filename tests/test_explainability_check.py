"""The explainability section of the audit."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from audit.core.checks import Artifacts
from audit.core.runner import run_audit
from audit.core.target import AuditTarget
from audit.explainability.check import ExplainabilityCheck
from audit.gate.policy import Policy
from models.architectures import build_model
from models.datasets import load_dataset
from models.errors import InvalidConfigError
from models.pipeline import train_and_save

FAST = dict(
    n_explain=8,
    n_background=16,
    ig_steps=8,
    eg_samples=32,
    lime_samples=60,
    deletion_steps=6,
    sanity_inputs=4,
    stability_inputs=4,
)


@pytest.fixture(scope="module")
def marker_data():
    return load_dataset("digits_marker")


@pytest.fixture(scope="module")
def marker_models(tmp_path_factory, marker_data, digits):
    root = tmp_path_factory.mktemp("marker")
    spurious, _ = train_and_save(
        arch="lenet5", dataset=marker_data, out=root / "spurious", progress=False
    )
    clean, _ = train_and_save(arch="lenet5", dataset=digits, out=root / "clean", progress=False)
    return spurious, clean


def _verdicts(result):
    return {m.name: m.verdict for m in Policy.default().apply_to_result(result).metrics}


def test_spurious_marker_is_caught_and_a_clean_model_stays_quiet(
    marker_models, marker_data, tmp_path
):
    """The planted shortcut blocks (a method sensitive to the model puts a third of its
    attribution on the marker); the clean twin passes on the methods that hold, and a method
    that does not hold is set aside rather than trusted."""
    spurious, clean = marker_models
    check = ExplainabilityCheck(
        methods=("gradcam", "integrated_gradients", "expected_gradients", "saliency"),
        **{**FAST, "sanity_inputs": 12},
    )
    shares = {}
    for name, model in (("spurious", spurious), ("clean", clean)):
        target = AuditTarget.from_bundle(model.module, marker_data, device="cpu")
        res = check.run(target, seed=0, artifacts=Artifacts(tmp_path / name, "explainability"))
        shares[name] = {m.name: m.value for m in res.metrics if m.name.endswith("marker_share")}
        judged = Policy.default().apply_to_result(res)
        share = {m.name: m for m in judged.metrics if m.name.endswith("marker_share")}
        assert all(m.about == "model" for m in share.values())
        assert all(m.about == "method" for m in judged.metrics if "sanity" in m.name)
        fired = [k for k, m in share.items() if m.verdict == "fail"]
        for m in share.values():  # a share is judged only through a method that holds
            assert (m.verdict is None) == (m.set_aside is not None)
        if name == "spurious":
            assert judged.verdict == "fail"
            assert "integrated_gradients.marker_share" in fired
            assert "marker" in res.summary
            assert any(f.path.endswith("marker.png") for f in res.figures)
        else:
            assert fired == [] and judged.verdict == "pass"
    for method in ("integrated_gradients", "expected_gradients"):
        key = f"{method}.marker_share"
        assert shares["spurious"][key] > 2 * shares["clean"][key]


def test_non_differentiable_model_gets_model_agnostic_methods(german, tmp_path):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=2000).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, german)
    res = ExplainabilityCheck(**FAST).run(target, seed=0, artifacts=Artifacts(tmp_path, "e"))
    status = {s.method: s for s in res.methods}
    assert status["shap_permutation"].status == "ok" and status["lime"].status == "ok"
    for name in ("integrated_gradients", "saliency", "expected_gradients"):
        assert status[name].status == "skipped"
        assert "the model-agnostic methods lime, shap_permutation apply" in status[name].error
    asked = ExplainabilityCheck(methods=("integrated_gradients", "lime"), **FAST).run(
        target, seed=0, artifacts=Artifacts(tmp_path, "asked")
    )
    by = {s.method: s for s in asked.methods}
    assert by["integrated_gradients"].status == "error" and by["lime"].status == "ok"
    assert any("integrated_gradients did not run" in w for w in asked.warnings)
    assert "gradcam" not in status  # not applicable to tabular data and not asked for
    assert res.metric("shap_permutation.additivity_error").value < 1e-6
    assert {f.path.rsplit("/", 1)[1] for f in res.figures} >= {
        "shap_beeswarm.png",
        "global_importance.png",
    }
    assert res.global_importance and res.tables[-1].title.startswith("Global feature importance")


def test_a_failing_method_does_not_stop_the_others(digits_target, tmp_path):
    check = ExplainabilityCheck(methods=("gradcam", "saliency"), target_layer="net.nope", **FAST)
    res = check.run(digits_target, seed=0, artifacts=Artifacts(tmp_path, "e"))
    status = {s.method: s for s in res.methods}
    assert status["gradcam"].status == "error" and "no layer 'net.nope'" in status["gradcam"].error
    assert status["saliency"].status == "ok"
    assert any("gradcam did not run" in w for w in res.warnings)


def test_mlp_on_images_reports_grad_cam_needs_a_convolution(digits, tmp_path):
    mlp = build_model("mlp", (1, 8, 8), 10)
    target = AuditTarget.from_bundle(mlp, digits, device="cpu")
    res = ExplainabilityCheck(methods=("gradcam", "integrated_gradients"), **FAST).run(
        target, seed=0, artifacts=Artifacts(tmp_path, "e")
    )
    status = {s.method: s for s in res.methods}
    assert "has none" in status["gradcam"].error
    assert status["integrated_gradients"].status == "ok"


def test_image_section_content(digits_target, tmp_path):
    report = run_audit(
        digits_target, [ExplainabilityCheck(**FAST)], out=tmp_path / "r", progress=False
    )
    res = report.results[0]
    names = {f.path.rsplit("/", 1)[1] for f in res.figures}
    assert names == {"overlays.png", "faithfulness.png", "sanity.png"}
    ok = [s.method for s in res.methods if s.status == "ok"]
    assert set(ok) == {
        "gradcam",
        "gradcam++",
        "integrated_gradients",
        "saliency",
        "expected_gradients",
        "lime",
    }
    lime = next(s for s in res.methods if s.method == "lime")
    assert lime.detail["segments"] == 16
    for m in ok:
        assert res.metric(f"{m}.deletion_gain").value is not None
        assert len(res.deletion[m]) == FAST["deletion_steps"] + 1
    # saliency and Grad-CAM change when the model is randomized: they pass the sanity check
    assert res.metric("saliency.sanity_rank_correlation").value < 0.5
    assert res.metric("gradcam.sanity_rank_correlation").value < 0.5
    assert res.metric("integrated_gradients.completeness_error").value < 0.2
    html = (tmp_path / "r" / "report.html").read_text()
    overlays = next(f for f in res.figures if f.path.endswith("overlays.png"))
    data = base64.b64encode((tmp_path / "r" / overlays.path).read_bytes()).decode()
    assert f"data:image/png;base64,{data}" in html  # inlined: the page stands alone


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"methods": ("magic",)},
            r"option 'methods' of check 'explainability' must be a list of distinct names from integrated_gradients, saliency, lime, .*; got \('magic',\)",
        ),
        ({"methods": "lime"}, "option 'methods' .* got 'lime'"),
        (
            {"n_explain": 0},
            "option 'n_explain' of check 'explainability' must be an integer >= 1; got 0",
        ),
        (
            {"ig_steps": 1},
            "option 'ig_steps' of check 'explainability' must be an integer >= 2; got 1",
        ),
        (
            {"noise": 0.9},
            r"option 'noise' of check 'explainability' must be a number in \[0, 0.5\]; got 0.9",
        ),
        (
            {"sanity_inputs": -1},
            "option 'sanity_inputs' of check 'explainability' must be an integer >= 0; got -1",
        ),
    ],
)
def test_invalid_explainability_config(kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        ExplainabilityCheck(**kwargs)


def test_marker_data_set_plants_the_marker_on_one_class(marker_data):
    region = marker_data.annotations["marker"]["region"]
    r0, r1, c0, c1 = region
    for split in marker_data.splits.values():
        marked = split.X[:, 0, r0:r1, c0:c1].min(axis=(1, 2)) == 1.0
        np.testing.assert_array_equal(marked, split.y == 8)
