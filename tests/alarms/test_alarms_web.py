"""Raised alarms on the dashboard: in the status snapshot, acknowledged through the API with the token
(like every command), and in the page's banner with its acknowledge button (a real chromium)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from alarmkit import Run, write_setup

from mimocorb.web.headless import CHROMIUM_FLAGS

pytestmark = pytest.mark.slow
TOKEN = "alarm-test-token"
ALARMS = """  - many: {when: "RB_1.events > 30", actions: [log, pause_run], severity: error}
  - no_events: off"""
DASHBOARD = re.compile(r"web: dashboard at (http://127\.0\.0\.1:\d+)/")


def post(base: str, body: dict[str, Any], token: str | None = TOKEN) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + "/api/command", json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def status(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/api/status", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def dashboard_run(project: Path) -> Iterator[tuple[Run, str]]:
    """A run with its dashboard, paused by the alarm ``many`` (not yet acknowledged)."""
    write_setup(project, ALARMS)
    run = Run(project, "--no-kbd", "--web", "127.0.0.1:0", "--web-token", TOKEN)
    found = support.wait_until(lambda: DASHBOARD.search(run.log()), 60.0, "the dashboard in run.log")
    base = found.group(1)
    support.wait_until(lambda: status(base)["alarms"], 60.0, "the raised alarm in the snapshot")
    yield run, base
    if run.proc.poll() is None:
        post(base, {"command": "end"})
        support.finish(run.proc, 60.0)


def test_the_snapshot_shows_the_raised_alarm_and_the_api_acknowledges_it_with_the_token(
    dashboard_run: tuple[Run, str],
) -> None:
    run, base = dashboard_run
    (alarm,) = status(base)["alarms"]
    assert alarm["alarm"] == "many" and alarm["severity"] == "error" and alarm["acknowledged"] is False
    assert alarm["condition"] == "RB_1.events > 30" and alarm["values"]["RB_1.events"] > 30
    assert post(base, {"command": "acknowledge", "argument": "many"}, token=None) == 401
    assert post(base, {"command": "acknowledge", "argument": "many"}, token="wrong") == 403
    assert post(base, {"command": "acknowledge", "argument": "two words"}) == 400
    assert post(base, {"command": "pause", "argument": "many"}) == 400  # pause takes no argument
    assert post(base, {"command": "resume"}) == 202
    run.wait_for_log("R refused: alarm many holds the run paused")
    assert post(base, {"command": "acknowledge", "argument": "many"}) == 202
    support.wait_until(lambda: status(base)["alarms"][0]["acknowledged"], 30.0, "the acknowledgement")
    assert "command A many (acknowledge) from web" in run.log()
    assert post(base, {"command": "resume"}) == 202
    support.wait_until(lambda: status(base)["state"] == "running", 30.0, "the run resumed")
    assert post(base, {"command": "end"}) == 202
    support.finish(run.proc, 60.0)
    assert support.summary(run.run_dir)["alarms"]["active_at_end"][0]["acknowledged"] is True


def test_the_page_shows_the_alarm_in_its_banner_and_its_button_acknowledges_it(
    dashboard_run: tuple[Run, str],
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    run, base = dashboard_run
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_FLAGS), timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/?token={TOKEN}")
            banner = page.locator("#alarm-many")
            banner.wait_for()
            assert "many error since" in banner.inner_text() and "RB_1.events > 30" in banner.inner_text()
            page.locator("#ack-many").click()
            page.locator("#alarm-many.acknowledged").wait_for()
            assert "(acknowledged)" in banner.inner_text()
        finally:
            browser.close()
    assert "command A many (acknowledge) from web" in run.log()
