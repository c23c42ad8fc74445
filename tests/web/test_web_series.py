"""The dashboard of a run series (`mimocorb sequence ... --web`): each step's run shows which step of the
series it is and the values the step sets, in the API's snapshot and on the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import finish, mimocorb_command, read_log, start, wait_until
from webkit import DASHBOARD_LINE, TOKEN, command, get_json, tick_setup

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SERIES = """\
setup: ticks.yaml
runtime: 60
steps:
  - ticks.yaml: {FunctionConfigs.tick_source.sleep: 0.005}
  - ticks.yaml: {FunctionConfigs.tick_source.sleep: 0.01}
"""


class SeriesOnTheWeb:
    """`mimocorb sequence scan.yaml --web 127.0.0.1:0` in a child process; each step's run ends by the
    dashboard's End."""

    def __init__(self, directory: Path) -> None:
        tick_setup(directory)
        (directory / "scan.yaml").write_text(SERIES, encoding="utf-8")
        self.directory = directory / "target" / "scan"
        args = ["sequence", "scan.yaml", "--no-kbd", "--web", "127.0.0.1:0", "--web-token", TOKEN]
        self.proc = start(mimocorb_command(*args), directory)

    def dashboard_of_step(self, number: int) -> str:
        """The address of the dashboard of the step's run, once it is up."""

        def found() -> str | None:
            path = self.directory / "series.json"
            runs = (
                json.loads(path.read_text(encoding="utf-8"))["steps"][number - 1]["runs"]
                if path.exists()
                else []
            )
            name = runs[-1]["run_directory"] if runs else None
            match = DASHBOARD_LINE.search(read_log(self.directory / name)) if name else None
            return match.group(1) if match else None

        return wait_until(found, 30.0, f"the dashboard of step {number}")

    def series_facts(self, base: str) -> dict[str, Any]:
        return wait_until(
            lambda: get_json(base + "/api/status")["series"], 20.0, "the series in the snapshot"
        )


def test_the_snapshot_of_each_step_says_which_step_it_is(tmp_path: Path) -> None:
    series = SeriesOnTheWeb(tmp_path)
    for number, sleep in ((1, 0.005), (2, 0.01)):
        base = series.dashboard_of_step(number)
        facts = series.series_facts(base)
        assert facts == {"name": "scan", "step": number, "steps": 2, "run": 1, "overrides": f"sleep={sleep}"}
        assert command(base, "end", TOKEN) == 202
    output = finish(series.proc, 60)
    assert series.proc.returncode == 0, output
    steps = json.loads((series.directory / "series.json").read_text(encoding="utf-8"))["steps"]
    assert [s["runs"][0]["end_reason"] for s in steps] == ["end command", "end command"]


@pytest.mark.browser
def test_the_page_shows_the_step_of_the_series(page: Any, tmp_path: Path) -> None:
    series = SeriesOnTheWeb(tmp_path)
    base = series.dashboard_of_step(1)
    page.goto(f"{base}/?token={TOKEN}")
    expected = "series scan: step 1 of 2 — sleep=0.005"
    wait_until(lambda: page.inner_text("#series") == expected, 20.0, "the series line on the page")
    assert page.is_visible("#series")
    for number in (1, 2):
        assert command(series.dashboard_of_step(number), "end", TOKEN) == 202
    finish(series.proc, 60)
    assert series.proc.returncode == 0
    assert page.errors == [], page.errors
