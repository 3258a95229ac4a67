"""Shared fixtures: small seeded models and data, trained once per session on CPU."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
# shadow models and other caches go to a throw-away folder, never the user's home
os.environ["RAI_AUDIT_CACHE"] = tempfile.mkdtemp(prefix="rai-audit-test-cache-")
# one thread per xdist worker, for torch and for the BLAS and OpenMP pools of numpy, scipy and
# scikit-learn (two workers with two threads each oversubscribe two cores and run up to twice
# as slowly), and for the processes tests start; two threads otherwise
if os.environ.get("PYTEST_XDIST_WORKER"):
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    threadpool_limits(1)
    torch.set_num_threads(1)
else:
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def digits():
    from rai_audit.models.datasets import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def german():
    from rai_audit.models.datasets import load_german_credit

    return load_german_credit()


@pytest.fixture(scope="session")
def lenet_checkpoint(tmp_path_factory, digits) -> Path:
    """A LeNet-5 trained for a few epochs on digits, saved as a checkpoint folder."""
    from rai_audit.models.pipeline import train_and_save

    out = tmp_path_factory.mktemp("ckpt") / "lenet5-digits"
    train_and_save(
        arch="lenet5", dataset=digits, out=out, overrides={"epochs": 6, "seed": 0}, progress=False
    )
    return out


@pytest.fixture(scope="session")
def mlp_checkpoint(tmp_path_factory, german) -> Path:
    from rai_audit.models.pipeline import train_and_save

    out = tmp_path_factory.mktemp("ckpt") / "mlp-german"
    train_and_save(
        arch="mlp", dataset=german, out=out, overrides={"epochs": 10, "seed": 0}, progress=False
    )
    return out


@pytest.fixture(scope="session")
def adult_mlp_checkpoint(tmp_path_factory) -> Path:
    """The demo's tabular model: the MLP on Adult with its default recipe (about ten seconds).
    Tests that use it share the xdist group ``adult_mlp`` so that one worker trains it once."""
    from rai_audit.models.pipeline import train_and_save

    out = tmp_path_factory.mktemp("ckpt") / "mlp-adult"
    train_and_save(arch="mlp", dataset="adult", out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_lenet_checkpoint(tmp_path_factory, digits) -> Path:
    """The demo's image model: LeNet-5 on digits with its default recipe (about five seconds)."""
    from rai_audit.models.pipeline import train_and_save

    out = tmp_path_factory.mktemp("ckpt") / "lenet5-digits-demo"
    train_and_save(arch="lenet5", dataset=digits, out=out, progress=False)
    return out


@pytest.fixture()
def lenet(lenet_checkpoint):
    """A fresh copy of the trained LeNet per test (tests may not share mutable state)."""
    from rai_audit.models.checkpoint import load_model

    return load_model(lenet_checkpoint)


@pytest.fixture()
def digits_target(lenet, digits):
    from rai_audit.audit.core.target import AuditTarget

    return AuditTarget.from_loaded(lenet, digits, device="cpu")


@pytest.fixture()
def german_target(mlp_checkpoint, german):
    from rai_audit.audit.core.target import AuditTarget
    from rai_audit.models.checkpoint import load_model

    return AuditTarget.from_loaded(load_model(mlp_checkpoint), german, device="cpu")


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
