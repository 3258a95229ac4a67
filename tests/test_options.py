"""Options are declared once (models.options) and refused with one message format."""

from __future__ import annotations

import math
import re
from dataclasses import fields

import pytest

from rai_audit.attacks.pgd import PGDConfig, madry_step
from rai_audit.audit.core.checks import BUDGETS, all_checks
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.options import (
    AnyOf,
    Bool,
    Choice,
    Int,
    Maybe,
    Names,
    Real,
    Reals,
    Strings,
    Text,
    rules_of,
)
from rai_audit.models.training import TrainConfig

TEMPLATE = re.compile(r"^option '(\w+)' of (.+) must be (.+); got (.+)$")

CHECK_OPTIONS = [(name, f.name) for name, cls in all_checks().items() for f in fields(cls)]


@pytest.mark.parametrize(("check", "option"), CHECK_OPTIONS)
def test_every_check_option_has_a_rule_and_refuses_with_the_template(check, option):
    cls = all_checks()[check]
    rule = rules_of(cls)[option]
    bad = rule.invalid()
    with pytest.raises(InvalidConfigError) as info:
        cls(**{option: bad})
    message = str(info.value)
    assert "\n" not in message
    m = TEMPLATE.match(message)
    assert m, message
    assert m.group(1) == option and m.group(2) == f"check {check!r}"
    assert m.group(3) == rule.text()


@pytest.mark.parametrize("check", sorted(all_checks()))
def test_defaults_and_budgets_satisfy_the_rules(check):
    cls = all_checks()[check]
    assert all("rule" in f.metadata for f in fields(cls)), "built-in options declare their rule"
    assert cls().budget == "smoke"
    for b in BUDGETS:
        assert cls.for_budget(b).budget == b


@pytest.mark.parametrize("cls", [PGDConfig, TrainConfig])
def test_method_configs_declare_every_option(cls):
    assert all("rule" in f.metadata for f in fields(cls))


@pytest.mark.parametrize(
    ("rule", "good", "canonical", "bad"),
    [
        (Int(2, 100), [2, 100, 50], [2, 100, 50], [1, 101, 2.0, True, "3", None]),
        (Int(2, even=True), [2, 4], [2, 4], [3, 0, 5]),
        (Real(0.0, 1.0, lo_open=True), [1, 0.5], [1.0, 0.5], [0, 0.0, 1.5, math.nan, True, "0.5"]),
        (Real(0.0), [0, math.pi], [0.0, math.pi], [-1e-9, math.inf, -math.inf]),
        (Choice(("inf", "2")), ["inf", "2"], ["inf", "2"], [2, "1", None]),
        (Bool(), [True, False], [True, False], [0, 1, "true", None]),
        (Text(nonempty=True), ["a"], ["a"], ["", 3, None]),
        (
            Names(("a", "b")),
            [["a"], ("a", "b"), []],
            [("a",), ("a", "b"), ()],
            ["a", ["c"], ["a", "a"], [1]],
        ),
        (Names(lambda: ["x"]), [["x"]], [("x",)], [["y"]]),
        (
            Reals(Real(0.0, lo_open=True)),
            [[1, 0.5], ()],
            [(1.0, 0.5), ()],
            [[0], ["x"], "1", [math.nan]],
        ),
        (Strings(), ["p", ["p", "q"]], [("p",), ("p", "q")], [[""], [3], 3]),
        (Maybe(Int(10)), [None, 10], [None, 10], [5, "x"]),
        (AnyOf((Int(0), Text(nonempty=True))), [0, "yes"], [0, "yes"], [-1, "", 1.5]),
    ],
)
def test_rules_accept_canonicalize_and_refuse(rule, good, canonical, bad):
    from rai_audit.models.options import check_value

    for v, c in zip(good, canonical, strict=True):
        out = check_value("thing 't'", "o", rule, v)
        assert out == c and type(out) is type(c)
    for v in bad:
        with pytest.raises(InvalidConfigError, match=r"^option 'o' of thing 't' must be "):
            check_value("thing 't'", "o", rule, v)
    with pytest.raises(InvalidConfigError):
        check_value("thing 't'", "o", rule, rule.invalid())


def test_rule_texts_read_as_sentences():
    assert Int(2, 100).text() == "an integer in [2, 100]"
    assert Int(2, even=True).text() == "an even integer >= 2"
    assert Real(0.0, 0.5, hi_open=True).text() == "a number in [0, 0.5)"
    assert Real(0.0, lo_open=True).text() == "a number > 0"
    assert Maybe(Int(10), "every row").text() == "None (every row) or an integer >= 10"
    assert Choice(("ce", "margin")).text() == "one of 'ce', 'margin'"


def test_values_are_stored_canonical():
    from rai_audit.audit.robustness.check import RobustnessCheck

    c = RobustnessCheck(epsilons=[1, 0.5], compare_with="a/b", defenses=["jpeg"], tolerance=0)
    assert c.epsilons == (1.0, 0.5) and c.compare_with == ("a/b",) and c.defenses == ("jpeg",)
    assert type(c.tolerance) is float
    assert RobustnessCheck(epsilons=[1, 0.5]) == RobustnessCheck(epsilons=(1.0, 0.5))


def test_one_step_rule():
    cfg = PGDConfig.madry(0.1, 10)
    assert cfg.eps_step == pytest.approx(2.5 * 0.1 / 10) == madry_step(0.1, 10)
    assert cfg.max_iter == 10


@pytest.mark.parametrize(
    ("section", "yaml_value", "message"),
    [
        (
            "robustness",
            "{tolerance: x}",
            "option 'tolerance' of check 'robustness' must be a number in [0, 0.5); got 'x'",
        ),
        (
            "explainability",
            "{noise: abc}",
            "option 'noise' of check 'explainability' must be a number in [0, 0.5]; got 'abc'",
        ),
        (
            "performance",
            "{n_bins: true}",
            "option 'n_bins' of check 'performance' must be an integer in [2, 100]; got True",
        ),
    ],
)
def test_a_bad_option_in_a_config_is_one_line_and_exit_2(
    tmp_path, capsys, section, yaml_value, message
):
    """Options are checked before the model is loaded: the model here does not even exist."""
    from rai_audit.audit.cli import main

    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"model: {{path: nowhere}}\nchecks:\n  {section}: {yaml_value}\n")
    code = main(["run", "--config", str(cfg), "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "r").exists()


# (option, value, the one message) for the audit's own options and a data set's options
TOP_LEVEL = [
    ("seed", -1, "option 'seed' of the audit must be an integer in [0, 2**63); got -1"),
    ("seed", "abc", "option 'seed' of the audit must be an integer in [0, 2**63); got 'abc'"),
    (
        "budget",
        "huge",
        "option 'budget' of the audit must be one of 'smoke', 'standard', 'thorough'; got 'huge'",
    ),
    (
        "device",
        "tpu",
        "option 'device' of the audit must be one of 'auto', 'cpu', 'cuda', 'mps' "
        "(or 'cuda:N'); got 'tpu'",
    ),
]
DATA_OPTIONS = [
    ({"sise": 3}, "data set 'adult' has no option(s) sise; its options are include_sensitive"),
    (
        {"include_sensitive": "maybe"},
        "option 'include_sensitive' of data set 'adult' must be true or false; got 'maybe'",
    ),
]


def _refusals(tmp_path, model, cases, *, jobs_too):
    """Each case as the CLI, a config file and (``jobs_too``) a dashboard job see it: (cli,
    config, job), None where a door does not take it."""
    import contextlib
    import io
    import json
    import time

    import yaml

    from rai_audit.audit.cli import main
    from rai_audit.audit.service import jobs

    out = []
    for i, (flag, value, data) in enumerate(cases):
        base = {"model": {"path": str(model)}, "checks": ["performance"]}
        if data is not None:
            base["data"] = {"name": "adult", "options": data}
        spec = {**base, **({flag: value} if flag else {})}
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(yaml.safe_dump(spec))
        cli_args = ["run", "--model", str(model), "--out", str(tmp_path / f"r{i}"), "--quiet"]
        cli = None
        if flag:
            buf = io.StringIO()
            with contextlib.redirect_stderr(buf):
                assert main([*cli_args, f"--{flag}", str(value)]) == 2
            cli = buf.getvalue().strip().removeprefix("rai-audit: error: ")
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            assert (
                main(["run", "--config", str(cfg), "--out", str(tmp_path / f"r{i}"), "--quiet"])
                == 2
            )
        config = buf.getvalue().strip().removeprefix("rai-audit: error: ")
        if not jobs_too:
            out.append((cli, config, config))
            continue
        job = jobs.submit(
            tmp_path / "runs", {**spec, "name": f"j{i}", "out": str(tmp_path / f"j{i}")}
        )
        deadline = time.time() + 120
        while jobs.read_status(job)["state"] in ("queued", "running") and time.time() < deadline:
            time.sleep(0.2)
        status = json.loads((job / "status.json").read_text())
        assert status["state"] == "failed", status
        jobs.wait_for_workers()
        dashboard = status["error"].removeprefix("InvalidConfigError: ")
        out.append((cli, config, dashboard))
        assert not (tmp_path / f"r{i}").exists() and not (tmp_path / "runs" / f"j{i}").exists()
    return out


@pytest.mark.parametrize("jobs_too", [False, pytest.param(True, marks=pytest.mark.e2e)])
def test_the_audits_own_options_read_the_same_from_the_cli_a_config_and_the_dashboard(
    tmp_path, mlp_checkpoint, jobs_too
):
    """Planted: a bad seed, budget, device and data-set option, each from the three doors (the
    dashboard's job process in the e2e set); each gives the one template, word for word the
    same. Twin: the good values run (see the CLI and dashboard tests), and a good data-set
    option is accepted below."""
    cases = [(flag, value, None) for flag, value, _ in TOP_LEVEL]
    cases += [(None, None, data) for data, _ in DATA_OPTIONS]
    got = _refusals(tmp_path, mlp_checkpoint, cases, jobs_too=jobs_too)
    expected = [m for *_, m in TOP_LEVEL] + [m for _, m in DATA_OPTIONS]
    for (cli, config, dashboard), message in zip(got, expected, strict=True):
        assert config == dashboard == message
        assert cli in (None, message)
    from rai_audit.models.datasets import load_dataset

    assert load_dataset("adult").sensitive_in_features["sex"]
    assert not load_dataset("adult", include_sensitive=False).sensitive_in_features["sex"]
