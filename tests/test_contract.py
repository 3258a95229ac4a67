"""Contract tests over the check registry: every registered check must pass these."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from pydantic import TypeAdapter

from audit.core.checks import BUDGETS, Artifacts, all_checks
from reports.schema import CheckResult

CHECKS = sorted(all_checks())

# The contract is about behaviour (round trip, determinism, a model left as found), not about
# the figures' precision, so the built-in checks run it on their smallest valid sizes. Every code
# path of the smoke budget still runs: the mitigations refit, the defenses train, the attacks
# iterate. A check not listed here (a plugin) runs at its smoke budget.
TINY: dict[str, dict[str, object]] = {
    "explainability": dict(
        n_explain=2,
        n_background=4,
        ig_steps=4,
        eg_samples=4,
        lime_samples=20,
        deletion_steps=4,
        sanity_inputs=2,
        sanity_layers=1,
        stability_inputs=2,
    ),
    "fairness": dict(
        n_boot=50,
        proxy_rows=200,
        mitigation_rows=400,
        refit_epochs=1,
        eg_max_iter=1,
    ),
    "privacy": dict(n_eval=60, n_shadows=2, dp_epochs=1),
    "robustness": dict(n_eval=16, max_iter=2, blackbox_queries=8, batch_size=16),
}


@pytest.mark.parametrize("name", CHECKS)
def test_check_is_a_frozen_keyword_only_dataclass(name):
    cls = all_checks()[name]
    assert dataclasses.is_dataclass(cls)
    check = cls.for_budget("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(check, dataclasses.fields(check)[0].name, None)
    for budget in BUDGETS:
        assert isinstance(cls.for_budget(budget), cls)


@pytest.mark.parametrize("name", CHECKS)
def test_json_round_trip_determinism_and_model_untouched(name, request, tmp_path):
    check = dataclasses.replace(all_checks()[name].for_budget("smoke"), **TINY.get(name, {}))
    # image checks run on LeNet/digits; checks that need sensitive features on the MLP/German
    digits_target = request.getfixturevalue("digits_target")
    if check.skip_reason(digits_target) is not None:
        digits_target = request.getfixturevalue("german_target")
    assert check.skip_reason(digits_target) is None
    module = digits_target.model.module
    module.train()  # the check must restore whatever mode it found
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    grads = [p.requires_grad for p in module.parameters()]
    hooks_before = sum(
        len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
        for m in module.modules()
    )

    r1 = check.run(digits_target, seed=7, artifacts=Artifacts(tmp_path / "a", name))
    r2 = check.run(digits_target, seed=7, artifacts=Artifacts(tmp_path / "b", name))

    assert r1.kind == name and r1.status == "ok"
    assert r1.metrics == r2.metrics
    leaves = all_checks()[name].metric_leaves  # what a policy may name (built-ins declare it)
    if leaves is not None:
        assert {m.name.rsplit(".", 1)[-1] for m in r1.metrics} <= leaves
    adapter = TypeAdapter(CheckResult)
    assert adapter.validate_json(adapter.dump_json(r1)) == r1
    assert module.training
    assert [p.requires_grad for p in module.parameters()] == grads
    for k, v in module.state_dict().items():
        assert torch.equal(v, weights[k]), k
    hooks_after = sum(
        len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
        for m in module.modules()
    )
    assert hooks_after == hooks_before
    for f in r1.figures:
        assert (tmp_path / "a" / f.path).is_file()
