"""The RAI Audit pytest plugin (registered through the ``pytest11`` entry point).

``pytest --rai-run RUN_DIR [--rai-policy FILE] [--rai-baseline RUN_DIR]`` adds one test item per
policy rule and metric it gates (``rai::performance.accuracy``): a ``fail`` verdict fails the
item, a ``warn`` passes with a warning, a crashed section fails, a section that did not apply is
skipped, and a rule that matches no metric of a section that ran fails (likely a typo). With a
baseline, one more item fails on regressions.

Fixtures for audit tests in plain pytest: ``rai_report`` (the run's report, under the policy if
given), ``rai_policy``, and ``rai_target`` (the model and data rebuilt from the run's manifest).
Assertion helpers are in :mod:`audit.testing`. Without ``--rai-run`` the plugin adds nothing and
its fixtures skip.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest


class RaiAuditWarning(UserWarning):
    """A gated metric within a ``warn`` rule's bound was missed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rai-audit", "RAI Audit: gate a model audit run")
    group.addoption("--rai-run", metavar="RUN_DIR", help="an audit run folder to gate")
    group.addoption(
        "--rai-policy", metavar="FILE", help="policy YAML (default: the run's stored verdicts)"
    )
    group.addoption(
        "--rai-baseline", metavar="RUN_DIR", help="fail on regressions against this run"
    )
    group.addoption(
        "--rai-tolerance",
        metavar="X",
        type=float,
        default=0.01,
        help="allowed absolute worsening per metric against the baseline (default 0.01)",
    )


def _load(config: pytest.Config) -> tuple[Any, Any]:
    from rai_audit.audit.gate.policy import Policy  # noqa: PLC0415
    from rai_audit.reports.json_io import load_report  # noqa: PLC0415

    report = load_report(config.getoption("rai_run"))
    policy_file = config.getoption("rai_policy")
    policy = Policy.load(policy_file) if policy_file else None
    if policy is not None:
        report = policy.apply(report)
    return report, policy


class RaiItem(pytest.Item):
    """One gated metric (or a section that did not run, or a rule that matched nothing)."""

    def __init__(self, *, outcome: str, message: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.outcome = outcome
        self.message = message
        self.add_marker(pytest.mark.rai_audit)

    def runtest(self) -> None:
        if self.outcome == "skip":
            pytest.skip(self.message)
        if self.outcome == "warn":
            warnings.warn(RaiAuditWarning(self.message), stacklevel=1)
        if self.outcome == "fail":
            raise RaiFailure(self.message)

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, RaiFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"rai-audit: {self.name}"


class RaiFailure(Exception):
    """A policy verdict of fail or error."""


class RaiCollector(pytest.Collector):
    """The items of one audit run."""

    def collect(self) -> list[pytest.Item]:
        from rai_audit.audit.gate.policy import _wildcard  # noqa: PLC0415
        from rai_audit.reports import narrative  # noqa: PLC0415

        report, policy = _load(self.config)
        items: list[pytest.Item] = []

        def add(name: str, outcome: str, message: str) -> None:
            items.append(RaiItem.from_parent(self, name=name, outcome=outcome, message=message))

        ran = set()
        for r in report.results:
            section = narrative.section_name(r)
            if r.status == "skipped":
                add(f"{section}", "skip", f"{section} did not apply: {r.summary}")
                continue
            if r.status == "error":
                add(f"{section}", "fail", f"{section} crashed: {r.error}")
                continue
            ran.add(r.kind)
            for m in r.metrics:
                if m.verdict is None:
                    continue
                text = (
                    f"{r.kind}.{m.name} = {narrative.fmt(m.value)} {narrative.ci_text(m)} "
                    f"threshold {narrative.bound_text(m)}: {m.verdict}"
                )
                outcome = {"fail": "fail", "error": "fail", "warn": "warn"}.get(m.verdict, "pass")
                add(f"{r.kind}.{m.name}", outcome, text)
        if policy is not None:
            kinds = {r.kind: r for r in report.results}
            for rule in policy.rules:
                res = kinds.get(rule.section)
                if res is None or res.kind not in ran:
                    continue
                pattern = _wildcard(rule.metric)
                if not any(pattern.fullmatch(f"{res.kind}.{m.name}") for m in res.metrics):
                    add(
                        f"rule:{rule.metric}",
                        "fail",
                        f"policy rule {rule.metric} matches no metric of the {rule.section} "
                        "section (a typo, or a metric this version does not report)",
                    )
        baseline = self.config.getoption("rai_baseline")
        if baseline:
            from rai_audit.audit.gate.compare import compare_reports  # noqa: PLC0415
            from rai_audit.reports.json_io import load_report  # noqa: PLC0415

            tol = self.config.getoption("rai_tolerance")
            changes, sections = compare_reports(load_report(baseline), report, tolerance=tol)
            bad = [
                f"{c.section}.{c.metric}: {c.before} -> {c.after} ({c.direction})"
                for c in changes
                if c.regression
            ] + [f"section {s}" for s in sections]
            add(
                "no-regression",
                "fail" if bad else "pass",
                f"{len(bad)} regression(s) against {baseline} (tolerance {tol:g}): "
                + "; ".join(bad[:20]),
            )
        return items


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    run = config.getoption("rai_run")
    if not run:
        return
    collector = RaiCollector.from_parent(session, name=f"rai::{Path(run).name}")
    items.extend(collector.collect())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rai_audit: a policy gate of an RAI Audit run")


@pytest.fixture(scope="session")
def rai_report(request: pytest.FixtureRequest) -> Any:
    """The audit report of ``--rai-run`` (under ``--rai-policy`` if given)."""
    if not request.config.getoption("rai_run"):
        pytest.skip("no audit run given (--rai-run RUN_DIR)")
    return _load(request.config)[0]


@pytest.fixture(scope="session")
def rai_policy(request: pytest.FixtureRequest) -> Any:
    """The policy of ``--rai-policy``, else the default policy."""
    from rai_audit.audit.gate.policy import Policy  # noqa: PLC0415

    path = request.config.getoption("rai_policy")
    return Policy.load(path) if path else Policy.default()


@pytest.fixture(scope="session")
def rai_target(rai_report: Any) -> Any:
    """The audited model and its data, rebuilt from the run's manifest. A run of an in-memory
    model (no recorded path) skips with the reason; a recorded model that is gone, or that no
    longer loads, fails."""
    from rai_audit.audit.core.config import AuditConfig, ModelConfig  # noqa: PLC0415
    from rai_audit.audit.core.wiring import target_from_config  # noqa: PLC0415

    m = rai_report.manifest
    cfg = AuditConfig.model_validate(
        {k: v for k, v in (m.config or {}).items() if k in AuditConfig.model_fields}
    )
    if cfg.model is None:
        if not m.model.path:
            pytest.skip("the run audited an in-memory model: no model path is recorded")
        cfg.model = ModelConfig(path=m.model.path, name=m.model.name)
    try:
        return target_from_config(cfg)
    except Exception as exc:
        pytest.fail(f"cannot rebuild the audited model: {type(exc).__name__}: {exc}")
