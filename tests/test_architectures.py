from __future__ import annotations

import re

import pytest
import torch

from rai_audit.models.architectures import (
    ARCHITECTURES,
    Normalize,
    available_architectures,
    build_model,
)
from rai_audit.models.errors import InvalidConfigError, MissingDependencyError

SHAPES = {
    "mlp": [(104,), (1, 8, 8)],
    "lenet5": [(1, 8, 8), (1, 32, 32), (3, 28, 28)],
    "vgg11": [(1, 8, 8), (3, 32, 32)],
    "resnet18": [(1, 8, 8), (3, 32, 32)],
}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_builds_for_its_shapes(arch):
    assert set(SHAPES) == set(ARCHITECTURES), "add shapes for the new architecture"
    for shape in SHAPES[arch]:
        torch.manual_seed(0)
        model = build_model(arch, shape, 7)
        out = model(torch.rand(3, *shape))
        assert out.shape == (3, 7)
        assert torch.isfinite(out).all()
        assert isinstance(model.normalize, Normalize)


def test_normalization_is_the_first_layer():
    model = build_model("lenet5", (1, 8, 8), 10, mean=[0.5], std=[0.25])
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(model.normalize(x), (x - 0.5) / 0.25)
    assert "normalize.mean" in model.state_dict()


def test_architecture_options_are_applied():
    model = build_model("mlp", (10,), 2, hidden=[32, 16, 8], dropout=0.0)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [32, 16, 8, 2]
    wide = build_model("resnet18", (3, 32, 32), 10, width=8)
    assert wide.net.fc.in_features == 64


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("nope", (1, 8, 8), 10), {}, "unknown architecture 'nope'"),
        (("lenet5", (64,), 10), {}, "needs image inputs shaped"),
        (("lenet5", (1, 8, 8), 1), {}, "num_classes must be an integer >= 2"),
        (("mlp", (10,), 2), {"depth": 3}, "has no option(s) depth"),
        (("mlp", (10,), 2), {"dropout": 1.5}, "dropout must be in [0, 1)"),
        (("vgg11", (1, 8, 8), 2), {"width": 0}, "width must be positive"),
        (("lenet5", (3, 8, 8), 2), {"mean": [0.5], "std": [0.2]}, "normalization has 1 values"),
        (("lenet5", (1, 8, 8), 2), {"mean": [0.5], "std": [0.0]}, "std must be positive"),
    ],
)
def test_bad_architecture_arguments_name_the_problem(args, kwargs, message):
    with pytest.raises(InvalidConfigError, match=re.escape(message)):
        build_model(*args, **kwargs)


def test_torchvision_is_optional_and_guarded():
    try:
        import torchvision.models  # noqa: F401
    except Exception:
        with pytest.raises(MissingDependencyError, match="vision"):
            build_model("tv:resnet18", (3, 32, 32), 10)
        assert not any(n.startswith("tv:") for n in available_architectures())
    else:
        model = build_model("tv:resnet18", (3, 32, 32), 10)
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
