"""How the code is built: cheap imports where every session pays for them, and one scorecard."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


HEAVY = {"torch", "pydantic", "yaml", "numpy", "sklearn", "matplotlib"}


def test_the_pytest_plugin_imports_nothing_heavy():
    """pytest loads the pytest11 entry point in every session of the environment."""
    assert not HEAVY & _loaded_after("import audit.pytest_plugin")


def test_errors_and_options_do_not_import_torch():
    assert not HEAVY & _loaded_after("import models.errors, models.options")


def test_reports_do_not_import_torch():
    assert "torch" not in _loaded_after("import reports.schema, reports.narrative, reports.html")


def test_package_roots_still_export_their_names():
    import audit
    import models

    assert audit.run_audit.__module__ == "audit.core.runner"
    assert "performance" in audit.CHECKS
    assert models.load_dataset.__module__ == "models.datasets"
    assert set(audit.__all__) <= set(dir(audit))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = audit.nope


def test_the_cli_prints_the_one_scorecard(tmp_path, capsys):
    """`rai-audit check` and the PDF, HTML and dashboard read the same rows."""
    from sklearn.linear_model import LogisticRegression

    from audit.cli import main
    from audit.core.runner import run_audit
    from audit.core.target import AuditTarget
    from audit.gate.policy import Policy
    from audit.performance.check import PerformanceCheck
    from models.datasets import load_dataset
    from reports.json_io import load_report
    from reports.narrative import scorecard

    data = load_dataset("german_credit")
    tr = data.splits["train"]
    clf = LogisticRegression(max_iter=500).fit(tr.X, tr.y)
    target = AuditTarget.from_bundle(clf, data)
    policy = Policy.from_mapping(
        {"rules": {"performance.accuracy": {"min": 0.5}, "performance.ece": {"max": 0.01}}}
    )
    run_audit(target, [PerformanceCheck()], out=tmp_path / "r", seed=0, policy=policy)
    capsys.readouterr()
    code = main(["check", str(tmp_path / "r")])
    out = capsys.readouterr().out
    rows = scorecard(load_report(tmp_path / "r"))
    assert {r.metric for r in rows} == {"accuracy", "ece"}
    for r in rows:
        assert r.metric in out and r.value in out and r.verdict in out
    assert code == (1 if any(r.verdict == "fail" for r in rows) else 0)
