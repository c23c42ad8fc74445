"""The History page in a real browser (headless chromium at phone width): it shows variables of the
runs of `mimocorb serve`'s directory, follows a zoom, and downloads what it shows as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from support import wait_until
from webkit import Served, not_blank

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
# the names of the charts' lines (the bands between minimum and maximum are named "<name> min|max")
TRACES = (
    "(document.getElementById('history-chart').data || [])"
    ".filter(t => t.name.indexOf(' ') < 0).map(t => t.name)"
)
POINTS = "Number(document.getElementById('history-chart').dataset.points || 0)"


@pytest.mark.xdist_group("web-finished-runs")  # one pair of finished runs for the run-browser tests
def test_the_history_page_shows_variables_of_the_runs_and_downloads_them_as_csv(
    page: Any, finished_runs: list[Path]
) -> None:
    served = Served(finished_runs[0].parent)
    try:
        page.goto(f"{served.base}/history?token={served.token}#vars=RB_1.events&span=6h")
        wait_until(lambda: page.evaluate(TRACES) == ["RB_1.events"], 20.0, "the chart of RB_1.events")
        wait_until(lambda: "2 run(s)" in page.inner_text("#history-info"), 20.0, "both runs in the span")
        assert "full resolution" in page.inner_text("#history-info")
        assert page.evaluate(POINTS) >= 2
        assert page.locator("#history-runs tbody tr").count() == 2

        page.locator("#var-filter").fill("rate")
        page.locator("#var-list label", has_text="RB_1.rate_hz").locator("input").check()
        wait_until(lambda: page.evaluate(TRACES) == ["RB_1.events", "RB_1.rate_hz"], 20.0, "a second chart")
        assert "vars=RB_1.events%2CRB_1.rate_hz" in page.url

        with page.expect_download() as download:
            page.click("#csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
        assert rows and list(rows[0]) == ["time", "unix_time", "RB_1.events", "RB_1.rate_hz"]
        events = [float(r["RB_1.events"]) for r in rows if r["RB_1.events"]]
        assert max(events) > 0

        first, last = float(rows[0]["unix_time"]), float(rows[-1]["unix_time"])
        page.evaluate(
            "([a, b]) => Plotly.relayout('history-chart', {'xaxis.range': [new Date(a), new Date(b)]})",
            [first * 1000, (first + (last - first) / 2) * 1000],
        )
        wait_until(lambda: "since=" in page.url, 20.0, "the zoomed span in the address")
        wait_until(lambda: 0 < page.evaluate(POINTS) < 2 * len(events), 20.0, "fewer points when zoomed")
        assert not_blank(page.screenshot(full_page=True))
        assert page.errors == [], page.errors
    finally:
        served.close()


def test_the_history_page_says_when_there_is_no_history(page: Any, tmp_path: Path) -> None:
    served = Served(tmp_path)
    try:
        page.goto(f"{served.base}/history?token={served.token}")
        page.locator("#notice").wait_for()
        assert "no run history in" in page.inner_text("#notice")
        assert page.inner_text("#connection") == "no history"
    finally:
        served.close()
