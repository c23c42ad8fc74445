"""The page in a real browser (headless chromium at phone width): the run browser of `mimocorb serve`
and the live dashboard of a run, with markup in names, log lines and file names shown as text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support import wait_until
from webkit import INJECTION, PICTURE_LOADED, LiveRun, Served, assert_no_injection, not_blank

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
RATE_SPAN = (
    "(r => new Date(r[1]) - new Date(r[0]))(document.getElementById('rate-chart')._fullLayout.xaxis.range)"
)
# what plotly drew of a chart's traces: the segments of its lines (straight or steps)
DRAWN = """sel => {
  let n = 0;
  for (const line of document.querySelectorAll(sel + ' .scatterlayer .trace path.js-line')) {
    n += ((line.getAttribute('d') || '').match(/[LHV]/g) || []).length;
  }
  return n;
}"""
SCOPE_LINE = "(document.querySelector('#view-v0 .scatterlayer .trace path.js-line') || {}).outerHTML"


@pytest.mark.xdist_group("web-finished-runs")  # one pair of finished runs for both
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


def test_live_views_log_filter_and_markup_in_worker_names(page: Any) -> None:
    """What a real run of the tick setup cannot show: scope and histogram views, a worker whose name
    carries markup, and the log filtered by its source; steering a real run is in test_web_run.py."""
    run = LiveRun()
    try:
        run.link.log(INJECTION, source=INJECTION)
        run.run_for(0.3)
        page.goto(run.url)
        page.locator("#buffers tbody tr").first.wait_for()
        run.until(lambda: f"reader {INJECTION}" in page.inner_text("#workers"), 20.0, "the workers")

        # the views: a scope trace and histogram bars drawn from the observer's samples, and drawn again
        # as new events come while they are in sight: the scope's event number and the histogram's
        # entries grow on the page
        for chart, least in (("#view-v0", 50), ("#view-v1", 3), ("#rate-chart", 2)):
            page.locator(chart).scroll_into_view_if_needed()
            run.until(lambda c=chart, n=least: page.evaluate(DRAWN, c) >= n, 15.0, f"the traces of {chart}")
        page.locator("#view-v0").scroll_into_view_if_needed()
        first, line = _scope_event(page), page.evaluate(SCOPE_LINE)
        run.until(lambda: _scope_event(page) > first, 15.0, "a newer event in the scope")
        run.until(lambda: page.evaluate(SCOPE_LINE) != line, 15.0, "a newer waveform drawn in the scope")
        page.locator("#view-v1").scroll_into_view_if_needed()
        first = _histogram_entries(page)
        run.until(lambda: _histogram_entries(page) > first, 15.0, "more entries in the histogram")
        page.locator("#rate-chart").scroll_into_view_if_needed()
        span = page.evaluate(RATE_SPAN)
        run.until(lambda: page.evaluate(RATE_SPAN) > span + 1000, 20.0, "the rate chart to span 1 s more")
        assert "Scope <b>of</b> RB_1" in page.inner_text("#views")

        # the log: the line and its source as text, and the filter by source
        run.until(lambda: INJECTION in page.inner_text("#log"), 20.0, "the log line")
        page.select_option("#log-source", INJECTION)
        run.link.log("another line", "Fkt_1")
        run.until(lambda: "Fkt_1" in page.inner_text("#log-source"), 20.0, "the second source")
        assert "another line" not in page.inner_text("#log")
        page.select_option("#log-source", "")
        assert "another line" in page.inner_text("#log")

        assert_no_injection(page)
        assert not_blank(page.screenshot(full_page=True))
        assert page.errors == [], page.errors
    finally:
        run.close()


def _scope_event(page: Any) -> int:
    """The number of the event the scope view shows (0 before the first)."""
    found = re.search(r"event (\d+)", page.inner_text("#view-info-v0"))
    return int(found.group(1)) if found else 0


def _histogram_entries(page: Any) -> int:
    found = re.search(r"(\d+) sampled", page.inner_text("#view-info-v1"))
    return int(found.group(1)) if found else 0
