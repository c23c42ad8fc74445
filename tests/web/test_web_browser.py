"""The page in a real browser (headless chromium at phone width): the run browser of `mimocorb serve`
and the live dashboard of a run, with markup in names, log lines and file names shown as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import wait_until
from webkit import INJECTION, LiveRun, Served, not_blank

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
# evaluated through the browser's debugging protocol: the page's own policy forbids eval (waiting with
# Playwright's wait_for_function would need it)
PICTURE_LOADED = "document.querySelector('#run-pictures img').naturalWidth > 0"
RATE_SPAN = (
    "(r => new Date(r[1]) - new Date(r[0]))(document.getElementById('rate-chart')._fullLayout.xaxis.range)"
)


def assert_no_injection(page: Any) -> None:
    """Markup from the run never became elements: no script ran, no foreign image exists."""
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('main script, img[src=\"x\"]').length") == 0


def test_serve_lists_two_runs_and_opens_one(page: Any, finished_runs: list[Path]) -> None:
    served = Served(finished_runs[0].parent)
    try:
        page.goto(served.url)
        rows = page.locator("#runs tbody tr")
        rows.nth(1).wait_for()
        assert rows.count() == 2
        table = page.inner_text("#runs")
        assert "ticks.yaml" in table and "runtime" in table
        assert "inj<img src=x onerror=window.__xss=3>.yaml" in table  # the name, as text

        page.locator("#runs tbody tr", has_text="inj<img").locator("a").click()
        page.locator("#run-files li").first.wait_for()
        files = page.inner_text("#run-files")
        assert "run_summary.json" in files and "rates.png" in files
        assert f"note {INJECTION.replace('/', '')}.txt" in files
        assert "end reason" in page.inner_text("#run-summary")
        page.locator("#run-chart .main-svg").first.wait_for()
        picture = page.locator("#run-pictures img").first
        picture.wait_for()
        page.locator("#run-pictures img").first.scroll_into_view_if_needed()  # pictures load when seen
        wait_until(lambda: page.evaluate(PICTURE_LOADED), 20.0, "the picture to load")
        assert_no_injection(page)
        assert not_blank(page.screenshot(full_page=True))
        assert page.errors == [], page.errors

        page.goto(served.base + "/api/file?run=..&name=etc/passwd")
        assert "not found" in page.inner_text("body")
    finally:
        served.close()


def end_of_run(run_dir: Path) -> None:
    """What a run leaves at its end: the summary and a picture (drawn by matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 0])
    fig.savefig(run_dir / "rates.png")
    plt.close(fig)
    summary = {
        "start": "2026-01-01T00:00:00",
        "end_reason": "end command",
        "events": 5,
        "setup_file": "live.yaml",
    }
    (run_dir / "run_summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_live_dashboard_shows_the_run_and_steers_it(page: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "live_run"
    run_dir.mkdir()
    run = LiveRun(run_dir=run_dir)
    try:
        run.link.log(INJECTION, source=INJECTION)
        run.run_for(0.3)
        page.goto(run.url)
        page.locator("#buffers tbody tr").first.wait_for()
        assert page.inner_text("#buffers tbody tr td >> nth=0") == "RB_1"

        def events_shown() -> int:
            return int(page.inner_text("#events"))

        first = events_shown()
        run.until(lambda: events_shown() > first, 20.0, "growing counts on the page")
        assert page.inner_text("#state") == "running"
        assert f"reader {INJECTION}" in page.inner_text("#workers")

        # the views: a scope trace and histogram bars drawn by plotly from the observer's samples
        run.until(lambda: page.locator("#view-v0 .scatterlayer .trace").count() >= 1, 15.0, "the scope trace")
        run.until(lambda: page.locator("#view-v1 .barlayer .trace").count() >= 1, 15.0, "the histogram")
        run.until(lambda: page.evaluate(RATE_SPAN) > 1000, 20.0, "the rate chart to span more than 1 s")
        assert "Scope <b>of</b> RB_1" in page.inner_text("#views")

        # the log: the line and its source as text, and the filter by source
        run.until(lambda: INJECTION in page.inner_text("#log"), 20.0, "the log line")
        page.select_option("#log-source", INJECTION)
        run.link.log("another line", "Fkt_1")
        run.until(lambda: "Fkt_1" in page.inner_text("#log-source"), 20.0, "the second source")
        assert "another line" not in page.inner_text("#log")
        page.select_option("#log-source", "")
        assert "another line" in page.inner_text("#log")

        page.click("#btn-pause")
        run.until(lambda: "P" in run.commands, 20.0, "pause through commands()")
        run.state = "paused"
        run.until(lambda: page.inner_text("#state") == "paused", 20.0, "the paused state on the page")
        assert page.is_enabled("#btn-resume") and not page.is_enabled("#btn-pause")
        page.click("#btn-resume")
        run.until(lambda: "R" in run.commands, 20.0, "resume through commands()")

        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#btn-end")
        run.run_for(0.5)
        assert "E" not in run.commands  # End asks first; dismissed, nothing is sent
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#btn-end")
        run.until(lambda: "E" in run.commands, 20.0, "end through commands()")
        assert run.commands == ["P", "R", "E"]

        assert_no_injection(page)
        assert not_blank(page.screenshot(full_page=True))

        # the end as the controller makes it: summary written, last snapshot, then the server closes
        # after a moment in which the page fetches the summary, pictures and files of the run directory
        end_of_run(run_dir)
        run.state = "ended"
        run.step()
        run.link.close(linger=3.0)
        wait_until(lambda: page.inner_text("#connection") == "server ended", 20.0, "the page to see the end")
        assert "end command" in page.inner_text("#run-summary")
        assert "run_summary.json" in page.inner_text("#run-files")
        assert page.evaluate(PICTURE_LOADED)
        assert not page.is_enabled("#btn-end")
        assert page.errors == [], page.errors
    finally:
        run.close()
