"""The one path from a configuration to a report: boundary validation, budgets, paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rai_audit.audit.cli import main
from rai_audit.audit.core.checks import all_checks, budget_of, check_seed
from rai_audit.audit.core.config import build_checks, load_config
from rai_audit.audit.core.runner import run_audit
from rai_audit.models.errors import InvalidConfigError


@pytest.mark.parametrize("name", sorted(all_checks()))
def test_field_defaults_are_the_smoke_budget(name):
    cls = all_checks()[name]
    assert cls.for_budget("smoke") == cls()
    assert cls().budget == "smoke" and cls.for_budget("standard").budget == "standard"
    assert "smoke" not in cls.budgets


def test_a_check_class_cannot_redefine_smoke():
    from dataclasses import dataclass
    from typing import ClassVar

    from rai_audit.audit.core.checks import Check

    with pytest.raises(TypeError, match="field defaults are the smoke budget"):

        @dataclass(frozen=True, kw_only=True)
        class Bad(Check):
            name: ClassVar[str] = "bad"
            title: ClassVar[str] = "Bad"
            budgets: ClassVar[dict] = {"smoke": {}}

            def run(self, target, *, seed, artifacts):
                raise NotImplementedError


def test_the_manifest_records_the_budget_the_checks_ran_at(digits_target, tmp_path):
    checks = build_checks({"performance": {"n_bins": 5}}, "standard")
    assert budget_of(checks) == "standard"
    report = run_audit(
        digits_target, checks, out=tmp_path / "a", progress=False, pdf=False, history=False
    )
    assert report.manifest.budget == "standard"
    with pytest.raises(InvalidConfigError, match="configured for 'smoke'"):
        run_audit(
            digits_target,
            build_checks(["performance"], "smoke"),
            budget="thorough",
            out=tmp_path / "b",
            progress=False,
        )
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("seed", [-1, 2**63, True, 1.5])
def test_bad_seeds_are_refused_before_any_work(seed, tmp_path, capsys, mlp_checkpoint):
    with pytest.raises(
        InvalidConfigError, match=r"option 'seed' of the audit must be an integer in \[0, 2\*\*63\)"
    ):
        check_seed(seed)
    if isinstance(seed, int) and not isinstance(seed, bool):
        code = main(
            [
                "run",
                "--model",
                str(mlp_checkpoint),
                "--checks",
                "performance",
                "--seed",
                str(seed),
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        assert (
            code == 2 and "option 'seed' of the audit must be an integer" in capsys.readouterr().err
        )
        assert not (tmp_path / "r").exists()


def test_checks_flag_keeps_the_configured_options(tmp_path, mlp_checkpoint):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        f"model: {{path: {mlp_checkpoint}}}\n"
        "checks:\n  performance: {n_bins: 7}\n  privacy: {n_shadows: 2}\n"
    )
    assert (
        main(
            [
                "run",
                "--config",
                str(cfg),
                "--checks",
                "performance",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["manifest"]["config"]["checks"] == {"performance": {"n_bins": 7}}
    assert report["results"][0]["config"]["n_bins"] == 7


def test_config_paths_resolve_against_the_config_file(tmp_path):
    sub = tmp_path / "configs"
    sub.mkdir()
    (sub / "audit.yaml").write_text(
        "model: {path: ../models/m}\ndata: {name: csv:data/x.csv}\npolicy: p.yaml\n"
        "checks:\n  robustness: {compare_with: [other=../models/o, ../models/plain]}\n"
    )
    cfg, base = load_config(sub / "audit.yaml")
    assert base == sub.resolve()
    assert cfg.model.path == str((tmp_path / "models" / "m").resolve())
    assert cfg.data.name == "csv:" + str((sub / "data" / "x.csv").resolve())
    assert cfg.policy == str((sub / "p.yaml").resolve())
    assert cfg.checks["robustness"]["compare_with"] == [
        "other=" + str((tmp_path / "models" / "o").resolve()),
        str((tmp_path / "models" / "plain").resolve()),
    ]


def test_the_manifest_stores_an_absolute_model_path(tmp_path, mlp_checkpoint, monkeypatch):
    shutil.copytree(mlp_checkpoint, tmp_path / "m")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--model", "m", "--checks", "performance", "--out", "r", "--quiet"]) == 0
    manifest = json.loads(Path("r/report.json").read_text())["manifest"]
    assert manifest["model"]["path"] == str((tmp_path / "m").resolve())
    assert manifest["config"]["model"]["path"] == str((tmp_path / "m").resolve())


def test_rai_target_fails_when_the_model_is_gone(pytester, tmp_path, mlp_checkpoint):
    shutil.copytree(mlp_checkpoint, tmp_path / "m")
    assert (
        main(
            [
                "run",
                "--model",
                str(tmp_path / "m"),
                "--checks",
                "performance",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    pytester.makepyfile(test_t="def test_target(rai_target):\n    assert rai_target.kind\n")
    args = ("--rai-run", str(tmp_path / "r"), "-p", "no:cacheprovider", "-k", "test_target")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    shutil.rmtree(tmp_path / "m")
    gone = pytester.runpytest(*args)
    gone.assert_outcomes(errors=1)  # the fixture fails; nothing is skipped
    assert "does not exist" in gone.stdout.str()


def test_a_check_with_its_own_budget_helper_still_knows_its_budget():
    """Planted: a subclass with a method named like the base's private state (the robustness
    check once had ``_budget``, and its reported budget became a bound method); twin: the
    built-in check. Both report the budget they were built for."""
    from dataclasses import dataclass

    from rai_audit.audit.performance.check import PerformanceCheck

    @dataclass(frozen=True, kw_only=True)
    class WithHelper(PerformanceCheck):
        def _budget(self):
            return "not a budget"

        def _rai_budget(self):
            return "not a budget either"

    for cls in (WithHelper, PerformanceCheck):
        assert cls.for_budget("standard").budget == "standard"
        assert cls().budget == "smoke"
