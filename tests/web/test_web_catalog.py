"""The run catalog on the web: notes of a running and a finished run through the API (with the token)
and `mimocorb note`, the run browser listing, searching and showing the catalog in a real browser, the
notes box of the dashboard, and /metrics of a real run read by prometheus-client's own parser."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support import mimocorb_command, run, summary, wait_until
from webkit import TOKEN, DashboardRun, LiveRun, Served, command, get_json, make_run, request, tick_setup

from mimocorb.history import DATABASE_NAME
from mimocorb.history.notefile import NOTES_FILE, read

pytestmark = [pytest.mark.timeout(180)]
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def mimocorb(directory: Path, *args: str) -> Any:
    return run(mimocorb_command(*args), directory)


def catalog_entry(directory: Path) -> dict[str, Any]:
    """The one run `mimocorb runs --json` lists in ``directory``."""
    done = mimocorb(directory, "runs", "--json")
    assert done.returncode == 0, done.stdout
    (entry,) = json.loads(done.stdout)
    return entry


def post_note(base: str, note: Any, headers: dict[str, str] | None = AUTH) -> tuple[int, Any]:
    status, body = request(base + "/api/note", "POST", note, headers or {"Content-Type": "application/json"})
    return status, json.loads(body)


@pytest.mark.slow
def test_notes_of_a_running_run_and_of_the_same_run_finished(tmp_path: Path) -> None:
    dash = DashboardRun(tmp_path, tick_setup(tmp_path), "--runtime", "60", "--tag", "live")
    base, name = dash.base, dash.run_dir.name
    assert post_note(base, {"text": "no token"}, headers=None)[0] == 401
    assert post_note(base, {"text": "wrong token"}, {**AUTH, "Authorization": "Bearer nope"})[0] == 403
    status, body = post_note(base, {"text": "x", "tags": ["two words"]})
    assert status == 400 and "bad tag 'two words'" in body["detail"]
    assert post_note(base, {"text": "  "})[1]["detail"] == "a note needs a text or a tag"
    assert post_note(base, ["not", "an", "object"])[0] == 400

    status, added = post_note(base, {"text": "from the dashboard API", "tags": ["hv"]})
    assert status == 201 and added["source"] == "dashboard" and added["tags"] == ["hv"]
    cli = mimocorb(tmp_path, "note", name, "from the command line")
    assert cli.returncode == 0, cli.stdout
    expected = ["from the dashboard API", "from the command line"]
    assert [n["text"] for n in get_json(base + "/api/notes")] == expected
    entry = catalog_entry(tmp_path)
    assert entry["state"] == "running" and entry["tags"] == ["hv", "live"]
    assert [n["text"] for n in entry["notes"]] == expected
    assert any(
        line["source"] == "note" and "from the dashboard API" in line["text"] for line in dash_log(base)
    )

    assert command(base, "end", TOKEN) == 202
    dash.finish()
    assert summary(dash.run_dir)["end_reason"] == "end command"
    assert mimocorb(tmp_path, "note", str(dash.run_dir), "after the end", "--tag", "done").returncode == 0
    entry = catalog_entry(tmp_path)
    assert entry["state"] == "ended" and entry["events"] == summary(dash.run_dir)["events"]
    assert [n["text"] for n in entry["notes"]] == [*expected, "after the end"]
    assert [n["text"] for n in read(dash.run_dir)] == [*expected, "after the end"]
    with sqlite3.connect(tmp_path / "target" / DATABASE_NAME) as db:
        assert db.execute("SELECT count(*) FROM notes WHERE run = ?", (name,)).fetchone() == (3,)
        tags = {t for (t,) in db.execute("SELECT tag FROM run_tags WHERE run = ?", (name,))}
    assert tags == {"hv", "live", "done"}


def dash_log(base: str) -> list[dict[str, Any]]:
    return get_json(base + "/api/log")


@pytest.mark.slow
def test_metrics_of_a_real_run_match_its_status_and_its_summary(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    dash = DashboardRun(tmp_path, tick_setup(tmp_path), "--runtime", "60")

    def scrape() -> dict[str, dict[tuple, float]]:
        status, body = request(dash.base + "/metrics")
        assert status == 200, body
        values: dict[str, dict[tuple, float]] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                values.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
        return values

    def same_snapshot() -> tuple[dict, dict] | None:
        """A scrape between two equal snapshots of /api/status: the figures of that snapshot."""
        before, metrics, after = dash.status(), scrape(), dash.status()
        stamp = metrics["mimocorb_snapshot_timestamp_seconds"][()]
        return (before, metrics) if before["time"] == after["time"] == stamp and before["events"] else None

    status, metrics = wait_until(same_snapshot, 30.0, "a scrape of one snapshot with events")
    rb1 = (("buffer", "RB_1"),)
    (buffer,) = status["buffers"]
    assert metrics["mimocorb_run_state"] == {(("state", "running"),): 1.0}
    assert metrics["mimocorb_run_events_total"][()] == status["events"] == buffer["events"] > 0
    assert metrics["mimocorb_run_active_seconds"][()] == status["active_time"]
    assert metrics["mimocorb_buffer_events_total"][rb1] == buffer["events"]
    assert metrics["mimocorb_buffer_rate_hz"][rb1] == buffer["rate_hz"]
    assert metrics["mimocorb_buffer_fill_slots"][rb1] == buffer["fill"]
    assert metrics["mimocorb_buffer_slots"][rb1] == 8  # number_of_slots of the setup
    assert metrics["mimocorb_buffer_lost_events_total"][rb1] == 0
    pending = metrics["mimocorb_buffer_pending_events"]
    assert pending == {
        (("buffer", "RB_1"), ("consumer", "Fkt_2 (tick_sink)")): buffer["consumers"][0]["pending"]
    }
    alive = metrics["mimocorb_worker_alive"]
    assert sorted(dict(k)["function"] for k, v in alive.items() if v == 1.0) == ["Fkt_1", "Fkt_2"]
    assert set(metrics["mimocorb_worker_restarts_total"].values()) == {0.0}
    (info,) = metrics["mimocorb_run_info"]
    assert dict(info)["setup"] == "ticks.yaml" and dict(info)["run_directory"] == str(dash.run_dir)

    # the last snapshot of the ended run, while the server lingers: the figures of run_summary.json
    assert command(dash.base, "end", TOKEN) == 202
    dash.wait_for_state("ended")
    final = scrape()
    facts = summary(dash.run_dir)
    assert final["mimocorb_run_state"] == {(("state", "ended"),): 1.0}
    assert (
        final["mimocorb_run_events_total"][()]
        == facts["events"]
        == final["mimocorb_buffer_events_total"][rb1]
    )
    assert set(final["mimocorb_worker_alive"].values()) == {0.0}
    dash.finish()


def test_metrics_off_loopback_need_the_token_and_the_run_browser_has_none(tmp_path: Path) -> None:
    live = LiveRun(host="0.0.0.0")
    try:
        live.run_for(0.3)
        assert request(live.base + "/metrics")[0] == 401
        assert request(live.base + "/metrics", headers={"Authorization": "Bearer nope"})[0] == 403
        status, body = request(live.base + "/metrics", headers={"Authorization": f"Bearer {live.link.token}"})
        assert status == 200 and b'mimocorb_buffer_events_total{buffer="RB_1"}' in body
    finally:
        live.close()
    served = Served(tmp_path)
    try:
        assert request(served.base + "/metrics")[0] == 404
    finally:
        served.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_run_browser_lists_searches_and_shows_the_catalog_and_takes_notes(
    page: Any, tmp_path: Path
) -> None:
    first = make_run(tmp_path, "ticks.yaml")
    second = make_run(tmp_path, "spin_setup.yaml")
    mimocorb(tmp_path, "note", str(second), "a muon <b>shower</b>", "--tag", "cosmics")
    crashed = second.parent / (first.name + "_1")
    shutil.copytree(first, crashed)
    (crashed / "run_summary.json").unlink()  # a run that died: listed as crashed from its directory
    served = Served(tmp_path / "runs")
    try:
        page.goto(served.url)
        rows = page.locator("#runs tbody tr")
        rows.nth(2).wait_for()
        table = page.inner_text("#runs")
        assert "crashed" in table and "ended" in table and "cosmics" in table
        assert page.locator("#runs tbody tr.crashed").count() == 1

        page.fill("#runs-grep", "shower")
        wait_until(
            lambda: rows.count() == 1 and "spin_setup.yaml" in rows.first.inner_text(), 20.0, "one match"
        )
        page.fill("#runs-grep", "")
        page.fill("#runs-tag", "cosmics")
        wait_until(
            lambda: rows.count() == 1 and "spin_setup.yaml" in rows.first.inner_text(), 20.0, "the tag"
        )
        page.fill("#runs-tag", "nothing")
        wait_until(lambda: "no run matches" in page.inner_text("#runs"), 20.0, "no match")
        page.fill("#runs-tag", "")
        wait_until(lambda: rows.count() == 3, 20.0, "all runs again")

        page.locator("#runs tbody tr", has_text="spin_setup.yaml").locator("a").click()
        page.locator("#run-notes li").first.wait_for()
        assert "a muon <b>shower</b>" in page.inner_text("#run-notes")  # as text
        assert "cosmics" in page.inner_text("#run-summary")
        page.fill("#run-notes-text", "checked in the run browser")
        page.fill("#run-notes-tags", "checked, ok")
        page.click("#run-notes-add")
        wait_until(lambda: "note added" in page.inner_text("#run-notes-result"), 20.0, "the note added")
        wait_until(lambda: page.locator("#run-notes li").count() == 2, 20.0, "the new note in the list")
        assert page.evaluate("document.querySelectorAll('#run-notes b').length") == 0
        assert page.errors == [], page.errors
    finally:
        served.close()
    notes = read(second)
    assert [(n["text"], n["tags"], n["source"]) for n in notes][1] == (
        "checked in the run browser",
        ["checked", "ok"],
        "run browser",
    )
    listing = mimocorb(tmp_path / "runs", "runs", "--tag", "ok")
    assert second.name in listing.stdout and "checked in the run browser" in listing.stdout


@pytest.mark.browser
@pytest.mark.slow
def test_the_dashboard_notes_box_writes_into_the_logbook_of_the_running_run(
    page: Any, tmp_path: Path
) -> None:
    dash = DashboardRun(tmp_path, tick_setup(tmp_path), "--runtime", "60")
    page.goto(dash.url)
    page.locator("#live-notes textarea").wait_for()
    page.fill("#live-notes-text", "noise burst at the start")
    page.fill("#live-notes-tags", "noise")
    page.click("#live-notes-add")
    wait_until(lambda: "noise burst" in page.inner_text("#live-notes ul"), 20.0, "the note on the page")
    # a note written elsewhere while the page is open comes in too
    assert mimocorb(tmp_path, "note", dash.run_dir.name, "written in the lab's terminal").returncode == 0
    wait_until(
        lambda: "lab's terminal" in page.inner_text("#live-notes ul"), 30.0, "the other note on the page"
    )
    entry = catalog_entry(tmp_path)
    assert entry["state"] == "running" and entry["tags"] == ["noise"]
    assert [(n["text"], n["source"]) for n in entry["notes"]] == [
        ("noise burst at the start", "dashboard"),
        ("written in the lab's terminal", "command line"),
    ]
    assert (dash.run_dir / NOTES_FILE).read_text().count("[dashboard]") == 1
    assert page.errors == [], page.errors

    # the run browser lists the running run with its notes
    served = Served(tmp_path / "target")
    try:
        page.goto(served.url)
        row = page.locator("#runs tbody tr").first
        row.wait_for()
        assert row.inner_text().split("\t")[2:3] == ["running"] and "noise" in row.inner_text()
        row.locator("a").click()
        wait_until(
            lambda: "lab's terminal" in page.inner_text("#run-notes"), 20.0, "the notes in the run browser"
        )
        assert "noise burst at the start" in page.inner_text("#run-notes")
        assert page.errors == [], page.errors
    finally:
        served.close()
    assert command(dash.base, "end", TOKEN) == 202
    dash.finish()
