"""The CUDA path: the whole audit on a GPU. Skipped, with the reason, where there is none."""

from __future__ import annotations

import json

import pytest
import torch

from rai_audit.audit.cli import main

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


@pytest.mark.parametrize("recipe", [("lenet5", "digits"), ("mlp", "german_credit")])
def test_whole_audit_runs_on_cuda(tmp_path, recipe):
    arch, dataset = recipe
    model = tmp_path / "m"
    assert (
        main(
            [
                "train",
                "--arch",
                arch,
                "--dataset",
                dataset,
                "--out",
                str(model),
                "--device",
                "cuda",
                "--epochs",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    out = tmp_path / "run"
    assert main(
        ["run", "--model", str(model), "--device", "cuda", "--out", str(out), "--quiet"]
    ) in (0,)
    report = json.loads((out / "report.json").read_text())
    assert report["manifest"]["device"].startswith("cuda")
    assert not [r for r in report["results"] if r["kind"] == "error"], report["results"]
