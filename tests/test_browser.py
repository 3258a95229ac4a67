"""End to end in a real headless Chromium: start the dashboard on localhost, run an audit from the
New audit page, open its report and download the PDF. A screenshot is kept as a test artifact
(in ``$RAI_TEST_ARTIFACTS`` if set, else the test's temporary folder).

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` package (a
dev extra); without the browser the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # the dashboard in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APP = Path(__file__).resolve().parents[1] / "app.py"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def dashboard(tmp_path):
    port = _free_port()
    runs = tmp_path / "runs"
    env = {**os.environ, "RAI_AUDIT_RUNS": str(runs), "TQDM_DISABLE": "1"}
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    try:
        yield url, runs
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)"
)
def test_dashboard_runs_an_audit_and_downloads_the_pdf(dashboard, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, runs = dashboard
    artifacts = Path(os.environ.get("RAI_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("New audit", exact=True).click()
        page.get_by_role("button", name="Start audit").wait_for(timeout=60_000)
        # the built-in MLP on German credit; performance and fairness at the smoke budget
        page.get_by_role("combobox", name="Model and data").click()
        page.get_by_role("option", name="mlp on german_credit").click()
        for section in ("explainability", "robustness", "privacy"):
            page.get_by_role("button", name=f"Remove {section}").click()
            page.get_by_role("button", name=f"Remove {section}").wait_for(state="detached")
        name = page.get_by_label("Run name")
        name.fill("browser-audit")
        name.press("Enter")
        page.get_by_role("button", name="Start audit").click()
        page.get_by_text("Started audit 'browser-audit'").wait_for(timeout=60_000)
        deadline = time.time() + 420
        while not (runs / "browser-audit" / "report.pdf").is_file():
            assert time.time() < deadline, "the audit did not finish in 7 minutes"
            time.sleep(2)
        # a fresh load, as a reviewer opening the dashboard later would
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_role("radio", name="Report").check(force=True)
        try:
            page.get_by_text("Overall verdict").first.wait_for(timeout=90_000)
        except Exception:
            page.screenshot(path=str(artifacts / "dashboard-failure.png"), full_page=True)
            raise
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Download PDF").click()
        pdf = artifacts / "dashboard-report.pdf"
        info.value.save_as(pdf)
        page.screenshot(path=str(artifacts / "dashboard-report.png"), full_page=True)
        browser.close()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert (artifacts / "dashboard-report.png").stat().st_size > 10_000
