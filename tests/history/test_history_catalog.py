"""The run catalog of real runs: registered at the start, completed at the end, listed and filtered by
`mimocorb runs`, notes and tags by `mimocorb note`, runs from before the catalog found by the scan, a
killed run shown as crashed, and clear errors for names that fit no run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest
from catalogkit import finished_run, listed, mimocorb, runs_json, tick_setup
from support import finish, mimocorb_command, start, summary, wait_for_run_dir, wait_until
from support.shm import remove_shared_memory_of

from mimocorb.history import DATABASE_NAME, RunFilter, parse_since
from mimocorb.history.notefile import NOTES_FILE, append, read

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Two runs of ticks.yaml (the second tagged cosmics and calib), then one of spin_setup.yaml."""
    here = tmp_path_factory.mktemp("catalog")
    ticks, spin = tick_setup(here), tick_setup(here, "spin_setup.yaml")
    first = finished_run(here, ticks)
    second = finished_run(here, ticks, "--tag", "cosmics", "--tag", "calib")
    third = finished_run(here, spin)
    return here, [first, second, third]


def test_every_run_is_in_the_catalog_with_the_figures_of_its_summary(three_runs) -> None:
    here, dirs = three_runs
    entries = {e["name"]: e for e in runs_json(here)}
    assert list(entries) == [d.name for d in dirs]  # oldest first
    for directory in dirs:
        entry, facts = entries[directory.name], summary(directory)
        assert entry["state"] == "ended" and entry["directory"] == str(directory)
        assert (entry["start"], entry["end"], entry["end_reason"]) == (
            facts["start"],
            facts["end"],
            "runtime",
        )
        assert entry["events"] == facts["events"] > 0
        assert entry["rate_hz"] == facts["buffers"]["RB_1"]["mean_rate_hz"] == entry["rates"]["RB_1"]
        assert entry["exit_code"] == 0 and entry["notes"] == []
    assert entries[dirs[1].name]["tags"] == ["calib", "cosmics"]
    assert summary(dirs[1])["tags"] == ["cosmics", "calib"]  # as given
    assert entries[dirs[2].name]["setup"] == "spin_setup.yaml"
    table = mimocorb(here, "runs").stdout
    assert table.splitlines()[0].split() == ["run", "state", "events", "rate", "end", "reason", "tags"]
    assert dirs[1].name in table and "calib, cosmics" in table


def test_the_filters_of_mimocorb_runs(three_runs) -> None:
    here, dirs = three_runs
    names = [d.name for d in dirs]
    third_start = runs_json(here)[2]["start"]
    assert listed(here, "--setup", "spin") == names[2:]
    assert listed(here, "--setup", "ticks.yaml") == names[:2]
    assert listed(here, "--setup", "t*s") == names[:2]  # a pattern matches the name or the stem
    assert listed(here, "--tag", "cosmics") == names[1:2]
    assert listed(here, "--tag", "cosmics", "--tag", "nope") == []
    assert listed(here, "--since", third_start) == names[2:]
    assert listed(here, "--since", "1d") == names
    assert listed(here, "--since", "2999-01-01") == []
    assert listed(here, "--grep", "SPIN_") == names[2:]  # case-insensitive
    assert listed(here, "--grep", "calib|spin") == names[1:]
    assert listed(here, "target") == names  # DIR given
    assert "no runs in target that match" in mimocorb(here, "runs", "--tag", "nope").stdout
    done = mimocorb(here, "runs", str(dirs[0]))
    assert (
        done.returncode == 1 and f"is a run directory: mimocorb runs {dirs[0].parent} lists it" in done.stdout
    )
    for bad, says in (("--since", "yesterday"), ("--grep", "(open"), ("--tag", "two words")):
        done = mimocorb(here, "runs", bad, says)
        assert done.returncode == 2 and f"argument {bad}" in done.stdout, done.stdout


def test_notes_to_a_finished_run_by_name_prefix_and_path(tmp_path: Path) -> None:
    run_dir = finished_run(tmp_path, tick_setup(tmp_path))
    by_name = mimocorb(tmp_path, "note", run_dir.name, "first note\n  indented second line")
    by_prefix = mimocorb(tmp_path, "note", run_dir.name[:8], "--tag", "calib", "--tag", "HV:1.2kV")
    by_path = mimocorb(tmp_path, "note", str(run_dir), "third <note>", "--tag", "calib")
    for done in (by_name, by_prefix, by_path):
        assert done.returncode == 0 and f"note added to {run_dir.name}" in done.stdout, done.stdout

    (entry,) = runs_json(tmp_path)
    texts = [n["text"] for n in entry["notes"]]
    assert texts == ["first note\n  indented second line", "", "third <note>"]
    assert [n["tags"] for n in entry["notes"]] == [[], ["calib", "HV:1.2kV"], ["calib"]]
    assert {n["source"] for n in entry["notes"]} == {"command line"}
    assert entry["tags"] == ["HV:1.2kV", "calib"]
    table = mimocorb(tmp_path, "runs").stdout
    assert "first note / indented second line" in table and "#calib #HV:1.2kV" in table

    # the catalog's own table, and the run directory's notes file, hold the same notes
    with sqlite3.connect(tmp_path / "target" / DATABASE_NAME) as db:
        rows = db.execute("SELECT run, text FROM notes ORDER BY id").fetchall()
    assert rows == [(run_dir.name, text) for text in texts]
    assert [(n["text"], n["tags"]) for n in read(run_dir)] == [(n["text"], n["tags"]) for n in entry["notes"]]
    assert "  third <note>" in (run_dir / NOTES_FILE).read_text()


def test_names_that_fit_no_run_are_clear_errors(three_runs) -> None:
    here, dirs = three_runs
    (here / "target" / "plain").mkdir(exist_ok=True)
    cases = {
        "nothing_like_it": "no run 'nothing_like_it' in target; it holds 3 runs (mimocorb runs target lists",
        "tikcs" + dirs[0].name[5:]: f"did you mean {dirs[0].name}",
        "ticks_": "2 runs in target start with 'ticks_'",
        str(here / "target" / "plain"): "is a directory but not a run directory",
        str(here / "no" / "such"): f"no run directory {here / 'no' / 'such'}",
    }
    for name, says in cases.items():
        done = mimocorb(here, "note", name, "text")
        assert done.returncode == 1 and says in done.stdout and done.stdout.startswith("mimocorb note: "), (
            done.stdout
        )
    done = mimocorb(here, "note", "x", "text", "--dir", "missing")
    assert done.returncode == 1 and "the directory missing does not exist" in done.stdout
    done = mimocorb(here, "note", dirs[0].name)
    assert done.returncode == 1 and "a note needs a text or a tag" in done.stdout
    done = mimocorb(here, "note", dirs[0].name, "x", "--tag", "a,b")
    assert done.returncode == 2 and "bad tag 'a,b'" in done.stdout
    assert all(entry["notes"] == [] for entry in runs_json(here))


def test_run_directories_from_before_the_catalog_are_found_by_the_scan(tmp_path: Path) -> None:
    setup = tick_setup(tmp_path)
    old = finished_run(tmp_path, setup)
    mimocorb(tmp_path, "note", old.name, "written before the catalog was lost", "--tag", "old")
    died = finished_run(tmp_path, setup)
    (died / "run_summary.json").unlink()  # as a run that was killed leaves its directory
    output = tmp_path / "target"
    for path in output.glob(DATABASE_NAME + "*"):
        path.unlink()

    entries = {e["name"]: e for e in runs_json(tmp_path)}  # listing scans by itself
    assert entries[old.name]["state"] == "ended" and entries[old.name]["events"] == summary(old)["events"]
    assert [(n["text"], n["tags"]) for n in entries[old.name]["notes"]] == [
        ("written before the catalog was lost", ["old"])
    ]
    assert entries[old.name]["tags"] == ["old"]
    assert entries[died.name]["state"] == "crashed" and entries[died.name]["setup"] == "ticks.yaml"
    assert entries[died.name]["events"] and entries[died.name]["start"][:10] == dt.date.today().isoformat()

    # --scan reads the directories again: a note appended to the file by hand comes in, once
    append(old, {"time": "2026-01-02T03:04:05", "text": "by hand", "tags": [], "source": "editor"})
    done = mimocorb(tmp_path, "runs", "--scan")
    assert done.returncode == 0 and "by hand" in done.stdout
    assert [n["text"] for n in runs_json(tmp_path, "--scan")[0]["notes"]] == [
        "by hand",
        "written before the catalog was lost",
    ]


def test_a_killed_run_is_listed_as_crashed_not_running(tmp_path: Path) -> None:
    setup = tick_setup(tmp_path)
    command = mimocorb_command("run", str(setup), "--runtime", "60", "--no-kbd", "-v", "0", "--tag", "long")
    proc = start(command, tmp_path, start_new_session=True)  # its own process group: workers included
    try:
        run_dir = wait_for_run_dir(tmp_path / "target", 30.0, holding="stats.csv")
        wait_until(lambda: runs_json(tmp_path)[0]["state"] == "running", 30.0, "the run listed as running")
        mimocorb(tmp_path, "note", run_dir.name, "while it runs")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        finish(proc, 30)
        remove_shared_memory_of(proc.pid)
    (entry,) = runs_json(tmp_path)
    assert entry["state"] == "crashed" and entry["tags"] == ["long"]
    assert [n["text"] for n in entry["notes"]] == ["while it runs"]
    assert entry["end"] is not None and entry["end_reason"] is None
    assert "crashed" in mimocorb(tmp_path, "runs").stdout


def test_a_catalog_that_cannot_be_written_costs_a_warning_not_the_run(tmp_path: Path) -> None:
    (tmp_path / "target" / DATABASE_NAME).mkdir(parents=True)  # in the way of the database file
    done = mimocorb(tmp_path, "run", str(tick_setup(tmp_path)), "--runtime", "0.5", "--no-kbd", "-v", "0")
    assert done.returncode == 0, done.stdout
    assert "WARNING: run catalog:" in done.stdout and "the run goes on without its entry" in done.stdout
    listing = mimocorb(tmp_path, "runs")
    assert listing.returncode == 1 and listing.stdout.startswith("mimocorb runs: "), listing.stdout
    shutil.rmtree(tmp_path / "target" / DATABASE_NAME)
    assert [e["state"] for e in runs_json(tmp_path)] == ["ended"]  # and the scan brings it in


def test_the_notes_file_reads_back_what_was_appended(tmp_path: Path) -> None:
    notes = [
        {
            "time": "2026-12-07T14:20:05",
            "text": "two lines\n\nand an empty one",
            "tags": ["a", "b:c"],
            "source": "x",
        },
        {"time": "2026-12-07T14:21:00", "text": "", "tags": ["only-a-tag"], "source": "command line"},
    ]
    for note in notes:
        append(tmp_path, note)
    with (tmp_path / NOTES_FILE).open("a") as f:
        f.write("a stray line someone typed\n")
    assert read(tmp_path) == notes


def test_since_takes_dates_times_and_ages() -> None:
    now = dt.datetime(2026, 12, 7, 12, 0)
    assert parse_since("90m", now) == dt.datetime(2026, 12, 7, 10, 30)
    assert parse_since("1w", now) == dt.datetime(2026, 11, 30, 12, 0)
    assert parse_since("2026-12-01 14:00", now) == dt.datetime(2026, 12, 1, 14, 0)
    entry = {"start": "2026-12-01T14:00:00.000", "setup": "a.yaml", "tags": []}
    assert RunFilter(since=dt.datetime(2026, 12, 1, 14, 0)).matches(entry)
    assert not RunFilter(since=dt.datetime(2026, 12, 1, 14, 0, 1)).matches(entry)
    with pytest.raises(ValueError, match="expected a date"):
        parse_since("soon")
