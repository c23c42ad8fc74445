"""The history store: a synthetic month written with explicit times, its tiers, spans, gaps and merges."""

from __future__ import annotations

import csv
import io
import math
import sqlite3

import pytest

from mimocorb.history import HistorySettings, HistoryWriter, connect, runs, select, to_csv

DAY = 86400
START = 1_700_000_000 // DAY * DAY  # midnight UTC
MONTH = 30 * DAY
STEP = 10  # s between samples of the synthetic month
GAP = (10 * DAY + 3600, 10 * DAY + 3 * 3600)  # no run wrote in these two hours


def saw(k: int) -> float:
    """Rises from 0 to 1 within every hour."""
    return (k % 3600) / 3600


def month(directory, settings: HistorySettings) -> None:
    """30 days of a sample every 10 s: 'saw', 'day' (the day's number) and 'const', paused on day 5."""
    writer = HistoryWriter(directory, settings, "month_run", "month.yaml")
    for k in range(0, MONTH, STEP):
        if GAP[0] <= k < GAP[1]:
            continue
        state = "paused" if 5 * DAY <= k < 5 * DAY + 600 else "running"
        writer.record(START + k, state, {"saw": saw(k), "day": k // DAY, "const": 2.5}, commit=False)
        if k % (6 * 3600) == 0:
            writer.flush()
    writer.close()


@pytest.fixture(scope="module")
def history_of_a_month(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("month")
    month(directory, HistorySettings(interval=STEP, full_resolution=DAY, minutes=7 * DAY, hours=None))
    db = connect(directory, create=False)
    yield db
    db.close()


def _span(db, table: str, scale: float = 1.0) -> tuple[int, float, float]:
    n, first, last = db.execute(f"SELECT count(*), min(t), max(t) FROM {table}").fetchone()
    return n, first / scale, last / scale


def test_each_tier_keeps_its_span_and_no_more(history_of_a_month) -> None:
    db = history_of_a_month
    end = START + MONTH - STEP
    n, first, last = _span(db, "history_samples", 1000.0)
    assert last == end and end - DAY - 60 <= first <= end - DAY + 60
    assert n == 3 * (end - first) / STEP + 3  # every sample of the last day, of all three variables
    n, first, last = _span(db, "history_minutes")
    assert end - 7 * DAY - 60 <= first <= end - 7 * DAY + 60 and last == end // 60 * 60
    n, first, last = _span(db, "history_hours")
    assert first == START and last == end // 3600 * 3600
    assert n == 3 * (MONTH // 3600 - 2)  # every hour but the two of the gap


def test_the_aggregates_are_mean_minimum_and_maximum_of_their_samples(history_of_a_month) -> None:
    db = history_of_a_month
    hours = select(db, ["saw", "day", "const"], START, START + MONTH, "hour")
    per_hour = [saw(k) for k in range(0, 3600, STEP)]
    s = hours.series["saw"]
    assert s.min[0] == 0 and s.max[0] == max(per_hour)
    assert s.mean[0] == pytest.approx(sum(per_hour) / len(per_hour))
    day = hours.series["day"]
    assert day.mean[0] == 0 and day.mean[-1] == 29 and set(day.values()) == set(range(30))
    assert set(hours.series["const"].values()) == {2.5}
    minutes = select(db, ["saw"], START + MONTH - DAY, START + MONTH, "minute").series["saw"]
    first_minute = [saw(k) for k in range(0, 60, STEP)]
    k0 = int(minutes.t[0]) - START
    assert minutes.mean[0] == pytest.approx(sum(saw(k0 + k) for k in range(0, 60, STEP)) / 6)
    assert minutes.max[0] - minutes.min[0] == pytest.approx(max(first_minute) - min(first_minute))


def test_a_span_is_read_at_the_finest_resolution_that_holds_it(history_of_a_month) -> None:
    db = history_of_a_month
    end = START + MONTH
    assert select(db, ["saw"], end - 3 * 3600, end).resolution == "full"  # 1080 samples
    two_days = select(db, ["saw"], end - 2 * DAY, end)
    assert two_days.resolution == "minute" and len(two_days.series["saw"].t) == 2 * 24 * 60
    assert select(db, ["saw"], START, end).resolution == "hour"  # minutes are kept 7 days only
    assert select(db, ["saw"], START + 3 * DAY, START + 4 * DAY).resolution == "hour"
    assert select(db, ["saw"], START - 9 * DAY, START + 2 * 3600).resolution == "hour"  # a month ago


def test_the_time_no_run_wrote_is_a_gap_and_pauses_are_listed(history_of_a_month) -> None:
    db = history_of_a_month
    around = select(db, ["const"], START + 9 * DAY, START + 12 * DAY, "hour").series["const"]
    gaps = [t for t, v in zip(around.t, around.mean, strict=True) if math.isnan(v)]
    assert len(gaps) == 1 and START + GAP[0] - 3600 < gaps[0] < START + GAP[1]
    samples = select(db, ["const"], START + GAP[0] - 600, START + GAP[1] + 600, "full").series["const"]
    assert [t for t, v in zip(samples.t, samples.mean, strict=True) if math.isnan(v)] == []  # pruned
    recent = select(db, ["const"], START + MONTH - 3600, START + MONTH, "full").series["const"]
    assert not any(math.isnan(v) for v in recent.mean) and len(recent.t) == 360
    (run,) = runs(db, START, START + MONTH)
    assert run["pauses"] == [[START + 5 * DAY, START + 5 * DAY + 600]]


def test_the_csv_has_a_column_per_variable_and_the_extremes_when_aggregated(history_of_a_month) -> None:
    db = history_of_a_month
    selection = select(db, ["day", "saw"], START + MONTH - 2 * 3600, START + MONTH - 3600, "minute")
    rows = list(csv.DictReader(io.StringIO(to_csv(selection))))
    assert list(rows[0]) == ["time", "unix_time", "day", "day.min", "day.max", "saw", "saw.min", "saw.max"]
    assert len(rows) == 61 and {r["day"] for r in rows} == {"29"}
    assert float(rows[0]["unix_time"]) == START + MONTH - 2 * 3600


def test_runs_writing_one_minute_one_after_the_other_merge_their_parts(tmp_path) -> None:
    settings = HistorySettings()
    first = HistoryWriter(tmp_path, settings, "a", "a.yaml")
    for k in range(3):
        first.record(START + k, "running", {"x": 1.0})
    first.close()
    second = HistoryWriter(tmp_path, settings, "b", "b.yaml")
    for k in range(30, 33):
        second.record(START + k, "running", {"x": 4.0})
    second.record(START + 60, "running", {"x": 0.0})  # the next minute: the first is complete
    second.close()
    db = connect(tmp_path, create=False)
    assert db.execute("SELECT n, mean, min, max FROM history_minutes WHERE t = ?", (START,)).fetchone() == (
        6,
        2.5,
        1.0,
        4.0,
    )
    assert db.execute("SELECT n, mean FROM history_hours WHERE t = ?", (START,)).fetchone() == (7, 15 / 7)
    assert [r["name"] for r in runs(db, START, START + 3600)] == ["a", "b"]
    # a span reaching back before the first sample is read from the first sample on: in full resolution
    everything = select(db, ["x"], START - 30 * 86400, START + 61)
    assert everything.resolution == "full" and everything.series["x"].values() == [1.0] * 3 + [4.0] * 3 + [
        0.0
    ]
    db.close()


def test_a_busy_database_delays_the_writing_and_loses_nothing(tmp_path) -> None:
    writer = HistoryWriter(tmp_path, HistorySettings(), "run", "s.yaml")
    other = sqlite3.connect(tmp_path / "history.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database
    writer.record(START, "running", {"x": 1.0}, commit=False)
    assert writer.flush() is False
    other.execute("ROLLBACK")
    other.close()
    writer.record(START + 1, "running", {"x": 2.0})
    writer.close()
    db = connect(tmp_path, create=False)
    assert db.execute("SELECT count(*) FROM history_samples").fetchone() == (2,)
    db.close()


def test_values_that_are_not_numbers_are_left_out(tmp_path) -> None:
    writer = HistoryWriter(tmp_path, HistorySettings(), "run", "s.yaml")
    writer.record(START, "running", {"x": math.nan, "y": math.inf, "z": 1.0})
    writer.close()
    db = connect(tmp_path, create=False)
    assert db.execute("SELECT count(*) FROM history_samples").fetchone() == (1,)
    db.close()
