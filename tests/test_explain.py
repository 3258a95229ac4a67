"""Explanation methods against their reference libraries and independent computations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from rai_audit.audit.core.adapters import SklearnAdapter, TorchAdapter
from rai_audit.explain import (
    EXPLAINERS,
    ExpectedGradients,
    GradCAM,
    GradCAMPlusPlus,
    IntegratedGradients,
    Lime,
    ModelView,
    ShapPermutation,
)
from rai_audit.explain._lime import grid_segments
from rai_audit.explain._shap import shap_gradient_reference
from rai_audit.explain.expected_gradients import expected_gradients
from rai_audit.explain.gradcam import find_target_layer, get_layer
from rai_audit.explain.metrics import (
    deletion_insertion,
    feature_scores,
    marker_share,
    masked_spearman,
    model_randomization,
    not_tied_at_zero,
    rowwise_spearman,
    ssim,
)
from rai_audit.models.architectures import build_model
from rai_audit.models.errors import IncompatibleModelError, InvalidConfigError, InvalidDataError


def _view(module, data, n_bg=32, kind=None):
    bg = data.splits["train"].X[:n_bg]
    adapter = TorchAdapter(module, device="cpu")
    return ModelView(
        predict_proba=adapter.predict_proba,
        module=module,
        background=bg,
        kind=kind or data.kind,
        feature_names=data.feature_names,
    )


@pytest.fixture()
def batch(lenet, digits):
    X = digits.splits["test"].X[:24]
    with torch.no_grad():
        t = lenet.module(torch.as_tensor(X)).argmax(1).numpy()
    return X, t


def test_gradcam_matches_captum_layer_gradcam(lenet, digits, batch):
    X, t = batch
    ours = GradCAM(batch_size=7).explain(_view(lenet.module, digits), X, t)
    layer = get_layer(lenet.module, ours.extras["layer"])
    ref = LayerGradCam(lenet.module, layer).attribute(
        torch.as_tensor(X), target=torch.as_tensor(t), relu_attributions=True
    )
    ref = LayerAttribution.interpolate(ref, (8, 8), "bilinear").detach().numpy()
    np.testing.assert_allclose(ours.attributions, ref, rtol=1e-5, atol=1e-6)


def test_gradcam_plus_plus_matches_the_paper_formula(lenet, digits, batch):
    X, t = batch
    module = lenet.module
    ours = GradCAMPlusPlus(upsample=False).explain(_view(module, digits), X, t)
    layer = get_layer(module, ours.extras["layer"])
    store = {}
    h = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        x = torch.as_tensor(X).requires_grad_(True)
        logits = module(x)
        a = store["a"]
        a.retain_grad()
        logits.gather(1, torch.as_tensor(t)[:, None]).sum().backward()
    finally:
        h.remove()
        module.zero_grad(set_to_none=True)
    A, g = a.detach().numpy(), a.grad.numpy()
    expected = np.zeros((len(X), *A.shape[2:]))
    for n in range(len(X)):
        for k in range(A.shape[1]):
            num = g[n, k] ** 2
            den = 2 * g[n, k] ** 2 + A[n, k].sum() * g[n, k] ** 3
            alpha = np.where(den != 0, num / np.where(den != 0, den, 1), 0)
            w = (alpha * np.maximum(g[n, k], 0)).sum()
            expected[n] += w * A[n, k]
    expected = np.maximum(expected, 0)
    got = ours.attributions[:, 0, ::2, ::2]  # nearest upsampling 4x4 -> 8x8
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("arch", "shape", "expected"),
    [
        ("lenet5", (1, 8, 8), "net.features.4"),
        ("vgg11", (3, 32, 32), "net.features.27"),  # the ReLU after the last conv
        ("resnet18", (3, 32, 32), "net.layer4"),
    ],
)
def test_target_layer_is_the_last_conv_block(arch, shape, expected):
    torch.manual_seed(0)
    model = build_model(arch, shape, 10)
    assert find_target_layer(model, torch.rand(2, *shape)) == expected
    view = ModelView(
        predict_proba=None, module=model, background=np.zeros((1, *shape)), kind="image"
    )
    attr = (
        GradCAM()
        .explain(
            view,
            np.random.default_rng(0).random((3, *shape)).astype(np.float32),
            np.array([0, 1, 2]),
        )
        .attributions
    )
    assert attr.shape == (3, *shape) and (attr >= 0).all()


def test_gradcam_bad_inputs_name_the_fix(lenet, digits, german, batch):
    X, t = batch
    mlp = build_model("mlp", (1, 8, 8), 10)
    with pytest.raises(IncompatibleModelError, match="has none; use integrated_gradients"):
        GradCAM().explain(_view(mlp, digits), X, t)
    with pytest.raises(InvalidConfigError, match=r"no layer 'net.conv9'.*convolutional layers are"):
        GradCAM(target_layer="net.conv9").explain(_view(lenet.module, digits), X, t)
    with pytest.raises(IncompatibleModelError, match="not a .N, C, H, W. feature map"):
        GradCAM(target_layer="net.classifier.1").explain(_view(lenet.module, digits), X, t)
    sk = ModelView(predict_proba=lambda z: z, module=None, background=X, kind="image")
    with pytest.raises(IncompatibleModelError, match="use the model-agnostic methods"):
        GradCAM().explain(sk, X, t)


def test_hooks_are_removed_and_model_restored_even_when_the_method_raises(lenet, digits, batch):
    X, t = batch
    module = lenet.module
    module.train()
    bomb = {"armed": True}

    def explode(m, i, o):
        if bomb["armed"]:
            raise RuntimeError("boom in the classifier")

    h = module.net.classifier.register_forward_hook(explode)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            GradCAM(target_layer="net.features.4").explain(_view(module, digits), X, t)
    finally:
        h.remove()
    assert all(not m._forward_hooks for m in module.modules())
    assert module.training and all(p.requires_grad for p in module.parameters())


@pytest.mark.parametrize("chunk", [4096, 50])
def test_integrated_gradients_match_captum(lenet, digits, german, mlp_checkpoint, batch, chunk):
    from rai_audit.explain._captum import captum_integrated_gradients
    from rai_audit.models.checkpoint import load_model

    X, t = batch
    ours = IntegratedGradients(n_steps=24, chunk=chunk).explain(_view(lenet.module, digits), X, t)
    ref = captum_integrated_gradients(lenet.module, X, np.zeros_like(X), t, n_steps=24)
    np.testing.assert_allclose(ours.attributions, ref, rtol=1e-4, atol=1e-5)
    mlp = load_model(mlp_checkpoint).module
    Xt = german.splits["test"].X[:10]
    view = _view(mlp, german)
    tab = IntegratedGradients(n_steps=16).explain(view, Xt, np.ones(10, dtype=int))
    assert tab.extras["baseline"] == "mean"
    ref = captum_integrated_gradients(
        mlp, Xt, tab.extras["baseline_inputs"], np.ones(10, int), n_steps=16
    )
    np.testing.assert_allclose(tab.attributions, ref, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_completeness(lenet, digits, batch):
    X, t = batch
    exp = IntegratedGradients(n_steps=64).explain(_view(lenet.module, digits), X, t)
    with torch.no_grad():
        fx = lenet.module(torch.as_tensor(X)).gather(1, torch.as_tensor(t)[:, None]).squeeze(1)
        f0 = lenet.module(torch.zeros_like(torch.as_tensor(X)))[:, torch.as_tensor(t)].diagonal()
    total = exp.attributions.reshape(len(X), -1).sum(1)
    np.testing.assert_allclose(total, (fx - f0).numpy(), rtol=0.02, atol=0.05)
    np.testing.assert_allclose(
        exp.extras["completeness_delta"], total - (fx - f0).numpy(), atol=1e-3
    )


def test_expected_gradients_agree_with_shap_gradient_explainer(mlp_checkpoint, german):
    from rai_audit.models.checkpoint import load_model

    module = load_model(mlp_checkpoint).module
    X = german.splits["test"].X[:20]
    t = module(torch.as_tensor(X)).argmax(1).numpy()
    view = _view(module, german, n_bg=40)
    ours = ExpectedGradients(n_samples=2000).explain(view, X, t, seed=1).attributions
    ref = shap_gradient_reference(module, X, view.background, t, n_samples=2000, seed=1)
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.97
    assert np.abs(ours - ref).sum() / np.abs(ref).sum() < 0.15


def test_expected_gradients_exact_on_a_linear_model(rng):
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    X = rng.normal(size=(4, 5)).astype(np.float32)
    bg = rng.normal(size=(6, 5)).astype(np.float32)
    cls = torch.tensor([[0, 1, 2]] * 4)
    gen = torch.Generator().manual_seed(0)
    with torch.enable_grad():
        attr = expected_gradients(
            lin, torch.as_tensor(X), torch.as_tensor(bg), cls, n_samples=20000, generator=gen
        )
    W = lin.weight.detach().numpy()
    exact = (X - bg.mean(0))[:, None, :] * W[None]  # E[(x - x') * w] for a linear model
    np.testing.assert_allclose(attr.detach().numpy(), exact, atol=0.05)


def test_expected_gradients_batch_classes_and_chunks_without_changing_results(lenet, digits, batch):
    X, _ = batch
    X = X[:6]
    module = lenet.module.eval()
    bg = torch.as_tensor(digits.splits["train"].X[:20])
    classes = torch.tensor([[1, 4, 7]] * 6)

    def run(cls, chunk):
        with torch.enable_grad():
            return expected_gradients(
                module,
                torch.as_tensor(X),
                bg,
                cls,
                n_samples=16,
                generator=torch.Generator().manual_seed(3),
                chunk=chunk,
            )

    together = run(classes, 4096)
    for j in range(3):
        alone = run(classes[:, j : j + 1], 4096)[:, 0]
        torch.testing.assert_close(together[:, j], alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(run(classes, 16), together, rtol=1e-5, atol=1e-6)


def test_expected_gradients_rejects_a_background_of_the_wrong_shape(lenet, digits, batch):
    X, t = batch
    view = _view(lenet.module, digits)
    view.background = np.zeros((10, 64), dtype=np.float32)
    with pytest.raises(InvalidDataError, match=r"background shaped \(10, 64\) does not match"):
        ExpectedGradients().explain(view, X, t)


def test_permutation_shap_is_exactly_additive_on_a_sklearn_model(german):
    tr = german.splits["train"]
    clf = LogisticRegression(max_iter=2000).fit(tr.X, tr.y)
    adapter = SklearnAdapter(clf)
    view = ModelView(
        predict_proba=adapter.predict_proba,
        module=None,
        background=tr.X[:30],
        kind="tabular",
        feature_names=german.feature_names,
    )
    X = german.splits["test"].X[:8]
    t = clf.predict(X)
    exp = ShapPermutation(n_background=30).explain(view, X, t, seed=0)
    total = exp.attributions.sum(axis=1) + exp.extras["base_values"]
    np.testing.assert_allclose(total, clf.predict_proba(X)[np.arange(8), t], atol=1e-6)
    with pytest.raises(IncompatibleModelError, match="explains tabular rows"):
        ShapPermutation().explain(view, np.zeros((2, 1, 8, 8), np.float32), np.zeros(2, int))


def test_lime_is_deterministic_with_a_seed(lenet, digits, german, batch, mlp_checkpoint):
    from rai_audit.models.checkpoint import load_model

    X, t = batch
    view = _view(lenet.module, digits)
    a = Lime(num_samples=150).explain(view, X[:3], t[:3], seed=5)
    b = Lime(num_samples=150).explain(view, X[:3], t[:3], seed=5)
    c = Lime(num_samples=150).explain(view, X[:3], t[:3], seed=6)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert not np.array_equal(a.attributions, c.attributions)
    assert a.extras["segments"] == 16
    tab = _view(load_model(mlp_checkpoint).module, german)
    Xt = german.splits["test"].X[:3]
    ta = Lime(num_samples=200).explain(tab, Xt, np.array([0, 1, 1]), seed=1)
    tb = Lime(num_samples=200).explain(tab, Xt, np.array([0, 1, 1]), seed=1)
    np.testing.assert_array_equal(ta.attributions, tb.attributions)
    assert ((ta.extras["score"] > 0) & (ta.extras["score"] <= 1)).all()


def test_grid_segments_suit_the_image_size():
    seg8 = grid_segments(8, 8, 2)
    assert seg8.max() + 1 == 16 and np.bincount(seg8.ravel()).tolist() == [4] * 16
    assert grid_segments(32, 32, 4).max() + 1 == 64


def test_deletion_curve_of_a_linear_model_by_hand():
    w = np.array([3.0, -1.0, 2.0, 0.5])

    def predict(Z):
        logit = Z.reshape(len(Z), -1) @ w
        p1 = 1 / (1 + np.exp(-logit))
        return np.stack([1 - p1, p1], axis=1)

    x = np.array([[1.0, 1.0, 1.0, 1.0]])
    scores = np.array([[3.0, -1.0, 2.0, 0.5]])  # w * x: order 0, 2, 3, 1
    curves = deletion_insertion(predict, x, scores, np.array([1]), np.zeros_like(x), steps=4)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    np.testing.assert_allclose(
        curves.deletion[0], [sig(4.5), sig(1.5), sig(-0.5), sig(-1.0), sig(0.0)]
    )
    np.testing.assert_allclose(
        curves.insertion[0], [sig(0.0), sig(3.0), sig(5.0), sig(5.5), sig(4.5)]
    )
    expected_auc = np.trapezoid(curves.deletion[0], [0, 0.25, 0.5, 0.75, 1.0])
    assert curves.deletion_auc == pytest.approx(expected_auc)


def test_feature_scores_and_marker_share():
    attr = np.zeros((2, 3, 4, 4))
    attr[0, :, 0, 0] = 1.0
    attr[1, 0, 3, 3] = 2.0
    attr[1, 0, 0, 0] = -2.0
    assert feature_scores(attr).shape == (2, 16)
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    np.testing.assert_allclose(marker_share(attr, mask), [1.0, 0.5])


def test_rowwise_spearman_matches_scipy(rng):
    a, b = rng.normal(size=(5, 30)), rng.normal(size=(5, 30))
    b[2] = a[2] * 2 + 1
    ours = rowwise_spearman(a, b)
    ref = [spearmanr(a[i], b[i]).statistic for i in range(5)]
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert rowwise_spearman(np.ones((1, 4)), a[:1, :4])[0] == 0.0


def _saliency(X, t):
    def explain(m):
        x = torch.as_tensor(X).requires_grad_(True)
        m(x).gather(1, torch.as_tensor(t)[:, None]).sum().backward()
        return x.grad.abs().numpy()

    return explain


def test_model_randomization_leaves_the_model_alone_and_has_both_curves(lenet, batch):
    X, t = batch
    module = lenet.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    rnd = model_randomization(module, _saliency(X[:8], t[:8]), seed=0)
    top_down = ["net.classifier.5", "net.classifier.3", "net.classifier.1"]
    top_down += ["net.features.3", "net.features.0"]
    assert [n for n, _ in rnd.cascading] == top_down
    assert [n for n, _ in rnd.independent] == top_down
    assert rnd.cascading[-1][1] < 0.5
    assert rnd.trained_vs_random.shape == (3, 8) and rnd.ssim_trained_vs_random.shape == (3, 8)
    assert rnd.random_vs_random.shape == (3, 8) and rnd.pairs == ((0, 1), (0, 2), (1, 2))
    assert rnd.excess().shape == (3, 8)
    # the excess's grand mean is the trained-vs-random mean minus the null's
    assert rnd.excess().mean() == pytest.approx(
        rnd.trained_vs_random.mean() - rnd.random_vs_random.mean()
    )
    with pytest.raises(InvalidDataError, match="at least 3 randomized copies"):
        model_randomization(module, _saliency(X[:8], t[:8]), randomizations=2)
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k])
    module.zero_grad(set_to_none=True)


def _sensitive(rnd) -> bool:
    from rai_audit.audit.core.stats import crossed_mean_interval
    from rai_audit.audit.explainability.check import SANITY_MARGIN

    est = crossed_mean_interval(rnd.excess())
    return est is not None and est[2] < -SANITY_MARGIN


def test_noise_and_input_only_explainers_are_never_sensitive_a_weight_dependent_one_is(
    lenet, batch
):
    """Planted: a model-independent noise explainer (fresh noise each call) and an input-only
    one (Adebayo et al.'s edge detector) are 'not sensitive' in at least 95% of randomization
    seeds (noise: at most 1 of 20; input-only: 0 of 20; over inputs and randomizations, no floor). Twin: an explanation that
    the trained weights move away from what the input alone shows (|x| on a randomized copy,
    |x| on the trained model's own support only) is sensitive for every seed."""
    X, _ = batch
    X = X[:12]
    module = lenet.module
    trained = [p.detach().clone() for p in module.parameters()]
    calls = iter(range(10**6))

    def noise(m):
        return np.random.default_rng(next(calls)).normal(size=X.shape)

    def input_only(m):
        return np.abs(X)

    support = np.zeros(X.shape[1:], bool)
    support[:, 2:6, 2:6] = True

    def weight_dependent(m):
        same = all(torch.equal(p, q) for p, q in zip(m.parameters(), trained))
        return np.abs(X) * (support if same else 1.0)

    seeds = range(20)
    assert (
        sum(_sensitive(model_randomization(module, noise, seed=s, curves=False)) for s in seeds)
        <= 1
    )
    assert not any(
        _sensitive(model_randomization(module, input_only, seed=s, curves=False)) for s in seeds
    )
    assert all(
        _sensitive(model_randomization(module, weight_dependent, seed=s, curves=False))
        for s in range(5)
    )


def test_integrated_gradients_on_lenet_gets_one_outcome_whatever_the_seed(
    demo_lenet_checkpoint, digits
):
    """IG on the demo LeNet, at the check's default budget (8 inputs, 3 randomized copies),
    comes out the same way for at least 9 of 10 randomization seeds: its explanation resembles
    a randomized model's as much as two randomized models resemble each other (0.38 against
    0.36 measured), so it is not shown sensitive."""

    from rai_audit.models.checkpoint import load_model

    module = load_model(demo_lenet_checkpoint).module.eval()
    te = digits.splits["test"]
    outcomes = []
    for seed in range(10):
        rows = np.random.default_rng(seed).choice(len(te), 8, replace=False)
        X = te.X[rows]
        with torch.no_grad():
            t = module(torch.as_tensor(X)).argmax(1).numpy()
        ig = IntegratedGradients(n_steps=16)

        def explain(m, X=X, t=t, seed=seed, ig=ig):
            view = ModelView(
                predict_proba=None,
                module=m,
                background=X,
                kind="image",
                device=torch.device("cpu"),
                feature_names=(),
            )
            return ig.explain(view, X, t, seed=seed).attributions

        outcomes.append(
            _sensitive(
                model_randomization(module, explain, seed=seed, randomizations=3, curves=False)
            )
        )
    assert max(outcomes.count(True), outcomes.count(False)) >= 9, outcomes


def test_ties_at_zero_are_left_out_of_the_rank_correlation(rng):
    """Two unrelated explanations that are both 0 on the same half of the features (inputs at
    the baseline): the rank correlation over all features is high, over the rest about 0."""
    a = rng.random((40, 64))
    b = rng.random((40, 64))
    a[:, :32] = 0.0
    b[:, :32] = 0.0
    keep = not_tied_at_zero(a, b)
    assert keep[:, :32].sum() == 0 and keep[:, 32:].all()
    assert rowwise_spearman(a, b).mean() > 0.6
    assert abs(np.nanmean(masked_spearman(a, b, keep))) < 0.1
    ref = [spearmanr(a[i, 32:], b[i, 32:]).statistic for i in range(40)]
    np.testing.assert_allclose(masked_spearman(a, b, keep), ref, atol=1e-12)
    few = np.zeros((1, 64), bool)
    few[0, :2] = True
    assert np.isnan(masked_spearman(a[:1], b[:1], few))[0]


@pytest.mark.parametrize("size", [8, 28])
def test_ssim_matches_scikit_image(rng, size):
    from skimage.metrics import structural_similarity

    a = rng.random((4, size, size))
    b = a + rng.normal(scale=0.3, size=a.shape)
    ours = ssim(a, b)
    win = 7 if size >= 14 else 3
    ref = [
        structural_similarity(
            np.abs(a[i]) / np.abs(a[i]).max(),
            np.abs(b[i]) / np.abs(b[i]).max(),
            data_range=1.0,
            win_size=win,
        )
        for i in range(4)
    ]
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    np.testing.assert_allclose(ssim(a, a), 1.0)


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_every_method_is_deterministic_and_leaves_the_model_unchanged(
    name, lenet, digits, german, mlp_checkpoint
):
    from rai_audit.models.checkpoint import load_model

    if name == "shap_permutation":
        module, data = load_model(mlp_checkpoint).module, german
    else:
        module, data = lenet.module, digits
    X = data.splits["test"].X[:4]
    with torch.no_grad():
        t = module(torch.as_tensor(X)).argmax(1).numpy()
    module.train()
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    view = _view(module, data)
    cls = EXPLAINERS[name]
    small = {"lime": {"num_samples": 60}, "shap_permutation": {"n_background": 10}}
    a = cls(**small.get(name, {})).explain(view, X, t, seed=3)
    b = cls(**small.get(name, {})).explain(view, X, t, seed=3)
    assert a.attributions.shape == X.shape and a.attributions.dtype == np.float32
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert module.training and all(p.requires_grad for p in module.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in module.modules())
    for k, v in module.state_dict().items():
        assert torch.equal(v, weights[k]), k


EXPLAINER_OPTIONS = [
    (name, f.name) for name, cls in EXPLAINERS.items() for f in dataclasses.fields(cls)
]


@pytest.mark.parametrize(("method", "option"), EXPLAINER_OPTIONS)
def test_invalid_method_option_is_refused_with_the_template(method, option):
    from rai_audit.models.options import rules_of

    cls = EXPLAINERS[method]
    rule = rules_of(cls)[option]
    with pytest.raises(InvalidConfigError) as info:
        cls(**{option: rule.invalid()})
    assert str(info.value).startswith(
        f"option {option!r} of explanation method {method!r} must be {rule.text()}; got "
    )


@pytest.mark.parametrize("method", sorted(EXPLAINERS))
def test_methods_declare_their_capabilities(method):
    """What the audit reads from a method instead of a list of names."""
    from rai_audit.audit.explainability.check import ExplainabilityCheck

    cls = EXPLAINERS[method]
    assert cls.name == method and cls.title
    assert cls.requires in ("gradients", "conv", "predict")
    assert set(cls.data_kinds) <= {"image", "tabular"} and cls.data_kinds
    assert cls.shap_space in (None, "probability", "logit")
    from rai_audit.audit.explainability.check import METHOD_SETTINGS

    check_fields = {f.name for f in dataclasses.fields(ExplainabilityCheck)}
    own_fields = {f.name for f in dataclasses.fields(cls)}
    for own, ours in METHOD_SETTINGS.get(method, {}).items():  # the audit maps its options
        assert own in own_fields and ours in check_fields
    configured = ExplainabilityCheck()._explainer(method, n_features=10)
    assert isinstance(configured, cls)
    if cls.requires == "conv":
        assert cls.data_kinds == ("image",)


def test_shap_permutation_budget_is_raised_to_its_minimum():
    from rai_audit.audit.explainability.check import ExplainabilityCheck

    e = ExplainabilityCheck(shap_max_evals=0, n_background=500)._explainer(
        "shap_permutation", n_features=20
    )
    assert e.max_evals == 41 and e.n_background == 50
