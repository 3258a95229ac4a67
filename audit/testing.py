"""Helpers for tests: assertions on a model's audit, and a conformance suite for checks.

Assertion helpers for audit tests written in plain pytest (see ``audit.pytest_plugin``) raise
``AssertionError`` with the metric, its value and interval, and the bound, so a failing audit
test reads like a finding::

    def test_accuracy(rai_report):
        assert_metric(rai_report, "performance.accuracy", min=0.9, use_ci=True)

:func:`check_contract` is the conformance suite for checks, built-in or plugin, in the spirit of
scikit-learn's ``parametrize_with_checks``: one call runs every rule a check must keep, and names
the first one it breaks::

    from rai_audit.audit.testing import check_contract

    def test_my_check_keeps_the_contract(my_target, tmp_path):
        check_contract(MyCheck.for_budget("smoke"), my_target, tmp_path)

The rules (:data:`RULES`): the check is a frozen keyword-only dataclass that every budget can
build and whose ``config()`` is JSON and rebuilds it; it applies to the target given; two runs
with one seed give the same metrics; the model is left as it was found (weights, training flag,
``requires_grad`` flags, no hook left behind); the result round-trips through JSON; its metric
names are the ones the check declares; its figures exist; and, for a
:class:`~rai_audit.audit.core.checks.MeasuredCheck` (``measure``, ``judge``, ``render``), judging is a pure function of the measurement: it holds no model and
gives the same findings twice.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rai_audit.reports.schema import AuditReport, Metric, ResultBase

if TYPE_CHECKING:  # the contract needs torch and the checks; the assertions need neither
    from rai_audit.audit.core.adapters import ModelAdapter
    from rai_audit.audit.core.checks import Check
    from rai_audit.audit.core.target import AuditTarget


def get_metric(report: AuditReport, name: str) -> Metric:
    """``<section>.<metric>`` of a report (AssertionError naming what exists if absent)."""
    if "." not in name:
        raise AssertionError(f"metric names are <section>.<metric>, got {name!r}")
    section, metric = name.split(".", 1)
    for r in report.results:
        if r.kind == section or getattr(r, "check", None) == section:
            if r.status != "ok":
                raise AssertionError(f"section {section!r} did not run: {r.error or r.summary}")
            for m in r.metrics:
                if m.name == metric:
                    return m
            names = ", ".join(m.name for m in r.metrics[:20])
            raise AssertionError(f"section {section!r} has no metric {metric!r} (it has {names})")
    kinds = ", ".join(r.kind for r in report.results)
    raise AssertionError(f"the report has no section {section!r} (it has {kinds})")


def assert_metric(
    report: AuditReport,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    use_ci: bool = False,
) -> Metric:
    """Assert ``min <= metric <= max``; with ``use_ci`` the whole interval must satisfy it."""
    m = get_metric(report, name)
    if m.value is None:
        raise AssertionError(f"{name} is undefined in this run ({m.description})")
    low = m.ci_low if use_ci and m.ci_low is not None else m.value
    high = m.ci_high if use_ci and m.ci_high is not None else m.value
    ci = f" (CI [{m.ci_low:.4g}, {m.ci_high:.4g}])" if m.ci_low is not None else ""
    if min is not None and low < min:
        what = "its interval reaches" if use_ci and low != m.value else "it is"
        raise AssertionError(f"{name} = {m.value:.4g}{ci}: {what} {low:.4g}, below {min:g}")
    if max is not None and high > max:
        what = "its interval reaches" if use_ci and high != m.value else "it is"
        raise AssertionError(f"{name} = {m.value:.4g}{ci}: {what} {high:.4g}, above {max:g}")
    return m


def assert_verdict(
    report: AuditReport, section: str, allowed: Iterable[str] = ("pass", "warn")
) -> None:
    """Assert a section's verdict (or the run's, with ``section='overall'``) is allowed."""
    allowed = tuple(allowed)
    if section == "overall":
        if report.verdict not in allowed:
            raise AssertionError(f"overall verdict {report.verdict!r} not in {allowed}")
        return
    for r in report.results:
        if r.kind == section or getattr(r, "check", None) == section:
            if r.verdict not in allowed:
                bad = [f"{m.name}={m.value}" for m in r.metrics if m.verdict in ("fail", "error")]
                raise AssertionError(
                    f"section {section!r} verdict {r.verdict!r} not in {allowed}"
                    + (f"; failing: {', '.join(bad[:5])}" if bad else f": {r.error or r.summary}")
                )
            return
    raise AssertionError(f"the report has no section {section!r}")


def assert_no_regression(
    report: AuditReport, baseline: AuditReport, *, tolerance: float = 0.01
) -> None:
    """Assert no metric got worse than in ``baseline`` by more than ``tolerance``."""
    from rai_audit.audit.gate.compare import compare_reports  # noqa: PLC0415

    changes, sections = compare_reports(baseline, report, tolerance=tolerance)
    bad = [f"{c.section}.{c.metric}: {c.before} -> {c.after}" for c in changes if c.regression] + [
        f"section {s}" for s in sections
    ]
    if bad:
        raise AssertionError(
            f"{len(bad)} regression(s) against {baseline.manifest.run_id} "
            f"(tolerance {tolerance:g}): " + "; ".join(bad[:10])
        )


# ---------------------------------------------------------------------------- check contract

#: the rules :func:`check_contract` runs, in order
RULES = (
    "frozen keyword-only dataclass",
    "built for every budget",
    "config is JSON and rebuilds the check",
    "applies to the target given",
    "same seed, same metrics",
    "model left as found",
    "no hook left behind",
    "JSON round trip",
    "metric names declared",
    "figures written",
    "judge is pure",
)


class ContractViolation(AssertionError):
    """A check broke a rule of the contract; the message names the rule and what was seen."""


def _require(ok: bool, check: Check, rule: str, detail: str) -> None:
    if not ok:
        raise ContractViolation(f"check {check.name!r} breaks the rule '{rule}': {detail}")


def _torch_state(adapter: ModelAdapter) -> tuple[Any, Any, Any, int] | None:
    module = getattr(adapter, "module", None)
    if module is None:
        return None
    hooks = sum(
        len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
        for m in module.modules()
    )
    return module, module.training, [p.requires_grad for p in module.parameters()], hooks


def _holds_a_model(value: Any, depth: int = 0) -> bool:
    from rai_audit.audit.core.adapters import ModelAdapter  # noqa: PLC0415
    from rai_audit.audit.core.target import AuditTarget  # noqa: PLC0415

    if depth > 3:
        return False
    if isinstance(value, ModelAdapter | AuditTarget):
        return True
    try:
        import torch  # noqa: PLC0415

        if isinstance(value, torch.nn.Module):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(
            _holds_a_model(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        )
    if isinstance(value, dict):
        return any(_holds_a_model(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_a_model(v, depth + 1) for v in value[:50])
    return False


def _rebuild(check: Check) -> Check:
    kwargs = {}
    for f in dataclasses.fields(check):
        value = check.config()[f.name]
        kwargs[f.name] = tuple(value) if isinstance(getattr(check, f.name), tuple) else value
    return type(check)(**kwargs)


def check_contract(
    check: Check, target: AuditTarget, workdir: str | Path, *, seed: int = 7
) -> list[str]:
    """Run every rule of :data:`RULES` on ``check`` with ``target``.

    Args:
        check: a configured check (e.g. ``MyCheck.for_budget("smoke")``, at small sizes).
        target: a target the check applies to; a torch model is put in training mode first,
            to see that the check restores the mode it found.
        workdir: an empty folder for the runs' artifacts.
        seed: the seed of both runs.

    Returns:
        The rules that held (all of :data:`RULES`; "judge is pure" only for a check with
        ``measure`` and ``judge`` methods).

    Raises:
        ContractViolation: the first rule broken, named, with what was seen.
    """
    from rai_audit.audit.core.checks import BUDGETS, Artifacts, MeasuredCheck  # noqa: PLC0415

    held: list[str] = []
    cls = type(check)
    frozen = dataclasses.is_dataclass(check) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    kw_only = all(f.kw_only for f in dataclasses.fields(check)) if frozen else False
    _require(bool(frozen and kw_only), check, RULES[0], f"{cls.__name__} is not one")
    held.append(RULES[0])
    for budget in BUDGETS:
        _require(isinstance(cls.for_budget(budget), cls), check, RULES[1], budget)
    held.append(RULES[1])
    try:
        json.dumps(check.config())
        rebuilt = _rebuild(check)
    except (TypeError, ValueError) as exc:
        raise ContractViolation(f"check {check.name!r} breaks '{RULES[2]}': {exc}") from exc
    _require(rebuilt == check, check, RULES[2], f"{rebuilt!r} != {check!r}")
    held.append(RULES[2])
    reason = check.skip_reason(target)
    _require(reason is None, check, RULES[3], f"it skips it ({reason}); pass one it applies to")
    held.append(RULES[3])

    torch_state = _torch_state(target.model)
    if torch_state is not None:
        torch_state[0].train()
        torch_state = _torch_state(target.model)
    before = target.model.state_fingerprint()
    work = Path(workdir)
    r1 = check.run(target, seed=seed, artifacts=Artifacts(work / "first", check.name))
    r2 = check.run(target, seed=seed, artifacts=Artifacts(work / "second", check.name))
    _require(r1.status == "ok", check, RULES[4], f"the run's status is {r1.status}: {r1.error}")
    _require(r1.metrics == r2.metrics, check, RULES[4], "two runs with one seed differ")
    held.append(RULES[4])
    after = target.model.state_fingerprint()
    _require(before == after, check, RULES[5], "the weights or flags changed")
    if torch_state is not None:
        module, training, grads, hooks = torch_state
        _require(module.training == training, check, RULES[5], "the training flag changed")
        now = [p.requires_grad for p in module.parameters()]
        _require(now == grads, check, RULES[5], "requires_grad flags changed")
        held.append(RULES[5])
        left = _torch_state(target.model)
        _require(left is not None and left[3] == hooks, check, RULES[6], "a hook survived")
        held.append(RULES[6])
    else:
        held += [RULES[5], RULES[6]]
    held += _result_rules(check, r1, work / "first")
    if isinstance(check, MeasuredCheck):
        measurement = check.measure(target, seed=seed)
        _require(not _holds_a_model(measurement), check, RULES[10], "the measurement holds a model")
        first, second = check.judge(measurement), check.judge(measurement)
        _require(
            getattr(first, "metrics", first) == getattr(second, "metrics", second),
            check,
            RULES[10],
            "judging one measurement twice gives different metrics",
        )
        held.append(RULES[10])
    return held


def _result_rules(check: Check, r1: ResultBase, folder: Path) -> list[str]:
    """The rules about a result alone: it round-trips through JSON, its metric names are the
    declared ones, and its figures exist under ``folder``."""
    again = type(r1).model_validate_json(r1.model_dump_json())
    _require(again == r1, check, RULES[7], "the result read back from JSON differs")
    leaves = type(check).metric_leaves
    names = {m.name.rsplit(".", 1)[-1] for m in r1.metrics}
    if leaves is not None:
        _require(names <= leaves, check, RULES[8], f"undeclared {sorted(names - leaves)}")
    missing = [f.path for f in r1.figures if not (folder / f.path).is_file()]
    _require(not missing, check, RULES[9], f"missing {missing}")
    return [RULES[7], RULES[8], RULES[9]]


def check_all(
    checks: Iterable[Check], target: AuditTarget, workdir: str | Path, *, seed: int = 7
) -> dict[str, list[str]]:
    """:func:`check_contract` for each check, each in its own subfolder of ``workdir``."""
    return {c.name: check_contract(c, target, Path(workdir) / c.name, seed=seed) for c in checks}
