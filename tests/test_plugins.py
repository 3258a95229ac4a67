"""The public extension point: a check installed by another package, through the
``rai_audit.checks`` entry-point group, runs end to end and round-trips through every output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY = """
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from rai_audit.audit import Check
from rai_audit.models.options import Int, option
from rai_audit.reports.schema import Metric, PluginResult


class ToyResult(PluginResult):
    kind: Literal["toy"] = "toy"
    flavour: str = ""


@dataclass(frozen=True, kw_only=True)
class ToyCheck(Check):
    name: ClassVar[str] = "toy"
    title: ClassVar[str] = "Toy majority share"
    order: ClassVar[int] = 50
    budgets: ClassVar[dict] = {"standard": {"rows": 200}}

    rows: int = option(100, Int(10))  # declared with its rule
    flavour: str = "mint"  # a plain field: its rule is its default's type

    def run(self, target, *, seed, artifacts):
        test = target.splits["test"]
        pred = target.model.predict_proba(test.X[: self.rows]).argmax(1)
        share = float(np.bincount(pred, minlength=target.num_classes).max() / len(pred))
        return ToyResult(
            title=self.title, check=self.name, flavour=self.flavour, config=self.config(),
            summary=f"The most common predicted class takes {share:.0%} of {len(pred)} rows.",
            metrics=[Metric(name="majority_share", value=share, n=len(pred),
                            higher_is_better=False)],
        )
"""


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory) -> Path:
    """A toy plugin 'installed' the way pip lays one out: a package and its dist-info with an
    entry point, in a folder on the path."""
    site = tmp_path_factory.mktemp("site")
    (site / "rai_toy_plugin").mkdir()
    (site / "rai_toy_plugin" / "__init__.py").write_text(textwrap.dedent(TOY))
    info = site / "rai_toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rai-toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rai_audit.checks]\ntoy = rai_toy_plugin:ToyCheck\n")
    # its rules in the default policy, beside its module as the built-in checks keep theirs
    (site / "rai_toy_plugin" / "policy.yaml").write_text(
        "rules:\n  toy.majority_share: {max: 0.999, severity: warn}\n"
    )
    return site


_DRIVER = """
import contextlib, io, json, sys
from rai_audit.audit.cli import main
out = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(args)
    out.append([code, err.getvalue()])
print(json.dumps(out))
"""


def _cli(site: Path, *calls: list[str]) -> list[tuple[int, str]]:
    """Each call's (exit code, stderr) from ``rai-audit`` in one fresh process whose path holds
    ``site``: the plugin is discovered from its entry point as an installed package would be."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.getcwd()])}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps([list(c) for c in calls])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [(code, err) for code, err in json.loads(proc.stdout.strip().splitlines()[-1])]


@pytest.mark.e2e
def test_a_plugin_check_runs_end_to_end(toy_site, tmp_path, mlp_checkpoint):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  toy.majority_share: {max: 0.999, severity: fail}\n")
    out = tmp_path / "run"
    run = ["run", "--model", str(mlp_checkpoint), "--checks", "performance,toy"]
    run += ["--policy", str(policy), "--out", str(out), "--quiet"]
    (code, err), *gate = _cli(toy_site, run, ["report", str(out)], ["check", str(out)])
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    toy = report["results"][1]
    assert toy["kind"] == "toy" and toy["flavour"] == "mint" and toy["config"]["rows"] == 100
    assert toy["metrics"][0]["verdict"] == "pass"
    assert "Toy majority share" in (out / "report.html").read_text()
    # the stored record renders again and gates, with or without the plugin installed
    gate += _cli(tmp_path / "empty", ["report", str(out)], ["check", str(out)])
    assert [code for code, _ in gate] == [0, 0, 0, 0], gate
    from rai_audit.reports.json_io import load_report, report_to_json

    again = load_report(out)
    assert again.results[1].kind == "toy" and again.results[1].flavour == "mint"
    assert report_to_json(again) == (out / "report.json").read_text()


@pytest.mark.e2e  # a subprocess or the demo's model: the end-to-end set
def test_a_plugin_check_has_budgets_and_validated_options(toy_site, tmp_path, mlp_checkpoint):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"model: {{path: {mlp_checkpoint}}}\nbudget: standard\n"
        "checks: {toy: {flavour: lemon}}\n"
    )
    calls = [["run", "--config", str(cfg), "--out", str(tmp_path / "r"), "--quiet"]]
    cases = (
        ("{rows: 3}", "option 'rows' of check 'toy' must be an integer >= 10; got 3"),
        ("{flavour: 3}", "option 'flavour' of check 'toy' must be a string; got 3"),
    )
    for i, (options, _) in enumerate(cases):
        bad_cfg = tmp_path / f"bad{i}.yaml"
        bad_cfg.write_text(f"model: {{path: {mlp_checkpoint}}}\nchecks: {{toy: {options}}}\n")
        calls.append(["run", "--config", str(bad_cfg), "--out", str(tmp_path / "x"), "--quiet"])
    (code, err), *bad = _cli(toy_site, *calls)
    assert code == 0, err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    toy = report["results"][0]
    assert toy["config"] == {"rows": 200, "flavour": "lemon"}
    # no --policy: the default policy gates the plugin's metric with the plugin's own rule
    assert report["manifest"]["policy"]["rules"]["toy.majority_share"]["severity"] == "warn"
    assert toy["metrics"][0]["threshold"]["max"] == 0.999
    for (code, err), (_, message) in zip(bad, cases, strict=True):
        assert code == 2, err
        assert message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


@pytest.mark.e2e  # a subprocess or the demo's model: the end-to-end set
def test_a_broken_plugin_is_named_when_its_check_is_asked_for(tmp_path, mlp_checkpoint):
    site = tmp_path / "site"
    info = site / "rai_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rai-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rai_audit.checks]\nbroken = no_such_module:Check\n")
    run = ["run", "--model", str(mlp_checkpoint), "--quiet", "--out"]
    (code, err), (ok, ok_err) = _cli(
        site,
        [*run, str(tmp_path / "r"), "--checks", "broken"],
        [*run, str(tmp_path / "ok"), "--checks", "performance"],
    )
    assert code == 2
    assert "unknown check 'broken'" in err and "failed to load" in err
    assert ok == 0, ok_err  # the other checks are not affected


def test_checks_registry_is_complete_on_import():
    from rai_audit.audit import CHECKS

    assert {"performance", "explainability", "robustness", "privacy", "fairness"} <= set(CHECKS)


_CONTRACT_DRIVER = """
import json, sys
from rai_audit.audit.core.target import AuditTarget
from rai_audit.audit.testing import check_contract
from rai_audit.models.checkpoint import load_model
from rai_toy_plugin import ToyCheck
loaded = load_model(sys.argv[1])
target = AuditTarget.from_loaded(loaded, loaded.load_data(), device="cpu")
print(json.dumps(check_contract(ToyCheck.for_budget("smoke"), target, sys.argv[2])))
"""


@pytest.mark.e2e
def test_the_toy_plugin_keeps_the_check_contract(toy_site, tmp_path, mlp_checkpoint):
    """The conformance suite a plugin author runs (README: 'Writing a check'), on the toy
    plugin as installed, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy_site), os.getcwd()])}
    proc = subprocess.run(
        [sys.executable, "-c", _CONTRACT_DRIVER, str(mlp_checkpoint), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    held = json.loads(proc.stdout.strip().splitlines()[-1])
    from rai_audit.audit.testing import RULES

    assert held == list(RULES[:10])  # no measure/judge split: the last rule does not apply
