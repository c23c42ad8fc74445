"""The history of real runs: three runs of one output directory, a user variable, a pause, the command."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from histkit import run_for, start_steered
from support import finish, mimocorb_command, wait_until
from support import run as run_command

from mimocorb.history import connect, runs, select, variables

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("history-runs")]


def _count(output: Path, sql: str) -> int:
    if not (output / "history.sqlite").exists():
        return 0
    db = connect(output, create=False)
    try:
        return db.execute(sql).fetchone()[0] if _has_samples(db) else 0
    finally:
        db.close()


def _has_samples(db) -> bool:
    return db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'history_states'").fetchone()[0] == 1


def _within(series, a: float, b: float) -> list[float]:
    """The values of the series from ``a`` to ``b``, gaps left out."""
    return [v for t, v in zip(series.t, series.mean, strict=True) if a <= t <= b and v == v]


def _send(proc, command: str) -> None:
    proc.stdin.write(command)
    proc.stdin.flush()


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """Three runs into one output directory: 2 s at 20 °C, one paused in the middle at 21 °C, 2 s at
    22 °C. Returns the output directory and the time before the first run."""
    base = tmp_path_factory.mktemp("history-runs")
    output = base / "runs"
    began = time.time()
    run_for(base, 20.0)
    proc = start_steered(base, 21.0)
    paused = "SELECT count(*) FROM history_states WHERE state = 'paused'"
    after_pause = (
        "SELECT count(*) FROM history_samples WHERE t > 1000 * (SELECT max(t) FROM history_states "
        "WHERE state = 'paused') AND var = (SELECT id FROM history_variables WHERE name = 'RB_1.events')"
    )
    running = "SELECT count(*) FROM history_states WHERE state = 'running'"
    wait_until(lambda: _count(output, running) >= 2, 60, "the second run's first samples")
    _send(proc, "P\n")
    wait_until(
        lambda: _count(output, paused) == 1 and _count(output, after_pause) >= 2, 60, "samples while paused"
    )
    _send(proc, "R\n")
    wait_until(lambda: _count(output, running) >= 3, 60, "the resumed run's samples")
    _send(proc, "E\n")
    proc.stdin.close()
    out = finish(proc, 60.0)
    assert proc.returncode == 0, out
    run_for(base, 22.0)
    return output, began


def test_the_history_spans_three_runs_and_answers_a_query_over_them(three_runs) -> None:
    output, began = three_runs
    db = connect(output, create=False)
    found = runs(db, began, time.time())
    assert [r["setup"] for r in found] == ["weather.yaml"] * 3
    assert len({r["name"] for r in found}) == 3  # three run directories
    assert [len(r["pauses"]) for r in found] == [0, 1, 0]
    ((a, b),) = found[1]["pauses"]
    assert found[1]["start"] < a < b <= found[1]["end"]
    selection = select(db, ["RB_1.events", "RB_1.rate_hz", "Fkt_1.cpu", "disk_free_gb"], began, time.time())
    assert selection.resolution == "full"
    events = selection.series["RB_1.events"]
    for r in found:  # each run's events rise from its own start
        inside = _within(events, r["start"], r["end"])
        assert len(inside) >= 2 and inside == sorted(inside) and inside[-1] > 0, r
    paused = _within(events, a + 0.001, b - 0.001)
    assert len(paused) >= 2 and len(set(paused)) == 1  # nothing written while paused
    assert max(selection.series["Fkt_1.cpu"].values()) > 0
    assert min(selection.series["disk_free_gb"].values()) > 0
    names = variables(db)
    for name in ("RB_1.fill", "RB_1.deadtime", "RB_1.lost", "Fkt_2.memory_mb", "Fkt_1.restarts"):
        assert name in names
    db.close()


def test_a_user_variable_published_by_a_worker_is_in_the_history_of_every_run(three_runs) -> None:
    output, began = three_runs
    db = connect(output, create=False)
    found = runs(db, began, time.time())
    selection = select(db, ["temperature", "source.accepted"], began, time.time())
    db.close()
    temperature = selection.series["temperature"]
    by_run = [set(_within(temperature, r["start"], r["end"])) for r in found]
    assert by_run == [{20.0}, {21.0}, {22.0}]
    assert max(selection.series["source.accepted"].values()) > 10


def _history(output: Path, cwd: Path, *args: str):
    """``mimocorb history --dir OUTPUT ARGS``, run to its end."""
    return run_command(mimocorb_command("history", "--dir", str(output), *args), cwd)


def test_the_history_command_lists_the_runs_and_prints_the_values_as_csv(three_runs, tmp_path) -> None:
    output, _ = three_runs
    overview = _history(output, tmp_path, "--since", "1h")
    assert overview.returncode == 0, overview.stdout
    assert "3 run(s)" in overview.stdout and "1 pause(s)" in overview.stdout
    assert "temperature" in overview.stdout and "RB_1.rate_hz" in overview.stdout
    table = _history(output, tmp_path, "--since", "1h", "RB_1.*", "temperature")
    assert table.returncode == 0, table.stdout
    for name in ("RB_1.events", "RB_1.fill", "RB_1.rate_hz", "temperature"):
        assert name in table.stdout
    result = _history(output, tmp_path, "--since", "1h", "temperature", "--csv")
    assert result.returncode == 0, result.stdout
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {float(r["temperature"]) for r in rows} == {20.0, 21.0, 22.0}
    picture = tmp_path / "t.png"
    drawn = _history(output, tmp_path, "temperature", "--png", str(picture))
    assert drawn.returncode == 0, drawn.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_the_history_command_names_what_is_wrong(three_runs, tmp_path) -> None:
    output, _ = three_runs
    missing = _history(tmp_path, tmp_path)
    assert missing.returncode == 1 and "no run history in" in missing.stdout
    unknown = _history(output, tmp_path, "nothing.like.this")
    assert unknown.returncode == 1 and "no variable matches nothing.like.this" in unknown.stdout
    bad = _history(output, tmp_path, "--since", "yesterday", "RB_1.events")
    assert bad.returncode == 1 and "'yesterday' is neither a span" in bad.stdout


def test_a_history_that_cannot_be_opened_is_reported_and_the_run_goes_on(tmp_path) -> None:
    (tmp_path / "runs" / "history.sqlite").mkdir(parents=True)  # no database can be opened there
    out = run_for(tmp_path, 20.0, runtime=1.0)
    assert "WARNING: no history for this run:" in out and "history.sqlite" in out
