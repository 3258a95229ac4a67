"""Contract tests over the check registry: every registered check must pass these."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rai_audit.audit.core.checks import BUDGETS, all_checks
from rai_audit.audit.performance.check import PerformanceCheck
from rai_audit.audit.testing import RULES, ContractViolation, check_contract

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
    """Every registered check keeps the conformance suite plugin authors run
    (:func:`audit.testing.check_contract`), every rule of it."""
    check = dataclasses.replace(all_checks()[name].for_budget("smoke"), **TINY.get(name, {}))
    # image checks run on LeNet/digits; checks that need sensitive features on the MLP/German
    target = request.getfixturevalue("digits_target")
    if check.skip_reason(target) is not None:
        target = request.getfixturevalue("german_target")
    assert check_contract(check, target, tmp_path) == list(RULES)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Broken(PerformanceCheck):
    """A performance check with one planted flaw, chosen by ``flaw``."""

    flaw: str = "none"

    def run(self, target, *, seed, artifacts):
        module = target.model.module
        if self.flaw == "eval":
            module.eval()  # leaves the model in another mode
        if self.flaw == "hook":
            module.register_forward_hook(lambda *a: None)  # never removed
        if self.flaw == "random":
            seed = int(torch.randint(0, 10_000, ()).item())  # ignores the seed
        if self.flaw == "weights":
            with torch.no_grad():
                next(module.parameters()).add_(1e-3)  # the second run sees another model
        if self.flaw == "grad":
            next(module.parameters()).requires_grad_(False)
        return super().run(target, seed=seed, artifacts=artifacts)


@pytest.mark.parametrize(
    ("flaw", "rule"),
    [
        ("eval", "model left as found"),
        ("hook", "no hook left behind"),
        ("random", "same seed, same metrics"),
        ("weights", "same seed, same metrics"),
        ("grad", "model left as found"),
    ],
)
def test_the_contract_catches_each_planted_flaw(flaw, rule, lenet, digits, tmp_path):
    """Planted: a check that leaves the model in eval mode, leaves a hook, ignores its seed,
    changes a weight (so its second run sees another model) or a requires_grad flag: the
    contract names the broken rule. The twin is the next test. Each runs on its own copy of
    the model."""
    import copy

    from rai_audit.audit.core.target import AuditTarget

    target = AuditTarget.from_bundle(copy.deepcopy(lenet.module), digits, device="cpu")
    with pytest.raises(ContractViolation, match=f"breaks the rule '{rule}'"):
        check_contract(_Broken(flaw=flaw, max_samples=60), target, tmp_path)


def test_the_contract_passes_the_flawless_twin(lenet, digits, tmp_path):
    import copy

    from rai_audit.audit.core.target import AuditTarget

    target = AuditTarget.from_bundle(copy.deepcopy(lenet.module), digits, device="cpu")
    assert check_contract(_Broken(max_samples=60), target, tmp_path) == list(RULES)
