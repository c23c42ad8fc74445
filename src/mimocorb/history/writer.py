"""A run writes its samples into the history: every sample, and per minute and hour their aggregates.

The aggregates are summed up in memory while the samples come, never read back from the database: when
a minute is over, its mean, minimum and maximum go into ``history_minutes`` and are merged into the
hour's row of ``history_hours`` (so the hour tier is never more than a minute behind), and what has
outlived its span is deleted. A run that ends in the middle of a minute writes that minute's part; the
next run in the same minute merges its own part into it.

The writer lives in the run controller's loop, so it must never hold it up: it waits at most
``WRITE_WAIT`` for a database another process is writing, and keeps what it could not write for the
next sample (at most ``MAX_PENDING`` rows; the oldest samples go first, the aggregates are kept).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .database import connect
from .settings import HistorySettings
from .tables import MERGE, create_tables

WRITE_WAIT = 0.2  # s the writer waits for another writer of the database
MAX_PENDING = 500_000  # sample rows kept while the database cannot be written


class Accumulator:
    """Count, sum, minimum and maximum of one variable in one bucket."""

    __slots__ = ("high", "low", "n", "total")

    def __init__(self, value: float) -> None:
        self.n, self.total, self.low, self.high = 1, value, value, value

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        if value < self.low:
            self.low = value
        elif value > self.high:
            self.high = value


class HistoryWriter:
    """Writes one run's samples into ``<output_directory>/history.sqlite`` (see the module docstring).

    Call it with each ``VariableSample`` (``time``, ``state``, ``values``), or ``record`` with explicit
    values; ``close`` at the end of the run.
    """

    def __init__(
        self, output_directory: Path | str, settings: HistorySettings, run_name: str, setup_name: str
    ) -> None:
        self.settings = settings
        self.db = connect(output_directory)
        create_tables(self.db)
        self.db.execute(f"PRAGMA busy_timeout = {int(WRITE_WAIT * 1000)}")
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO history_runs (name, setup, interval) VALUES (?, ?, ?)",
                (run_name, setup_name, settings.interval),
            )
        self.run_id = cursor.lastrowid
        self._ids: dict[str, int] = {}
        self._minute: int | None = None  # start (s) of the minute being summed up
        self._sums: dict[str, Accumulator] = {}
        self._samples: list[tuple[int, str, float]] = []  # (ms, name, value) not yet written
        self._buckets: list[tuple[int, str, Accumulator]] = []  # finished minutes not yet written
        self._states: list[tuple[float, str]] = []
        self._state: str | None = None
        self._first: float | None = None
        self._last: float | None = None
        self._prune_before: float | None = None

    def __call__(self, sample: Any) -> None:
        self.record(sample.time, sample.state, sample.values)

    def record(self, time: float, state: str, values: Mapping[str, float], commit: bool = True) -> None:
        """One sample at ``time`` (Unix s). ``commit=False`` leaves the writing to a later ``flush``
        (many samples at once, as when a month is written in seconds)."""
        ms = round(time * 1000)
        time = ms / 1000  # as stored: the runs' first and last sample are those of the samples
        minute = int(time // 60) * 60
        if self._minute != minute:
            self._finish_minute()
            self._minute = minute
        sums = self._sums
        rows = self._samples
        for name, value in values.items():
            if not math.isfinite(value):
                continue
            rows.append((ms, name, value))
            acc = sums.get(name)
            if acc is None:
                sums[name] = Accumulator(value)
            else:
                acc.add(value)
        if state != self._state:
            self._states.append((time, state))
            self._state = state
        if self._first is None:
            self._first = time
        self._last = time
        if commit:
            self.flush()

    def close(self) -> None:
        """The run ended: its last, partial minute and everything pending are written."""
        self._finish_minute()
        self._minute = None
        self.flush()
        self.db.close()

    def _finish_minute(self) -> None:
        if self._minute is not None and self._sums:
            self._buckets += [(self._minute, name, acc) for name, acc in self._sums.items()]
            self._prune_before = self._minute + 60
        self._sums = {}

    # -- writing ----------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Write what is pending; False if the database stayed busy (it is tried again next time)."""
        try:
            with self.db:
                self._write()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            self._ids.clear()  # names numbered in the transaction just undone are numbered again
            del self._samples[: max(0, len(self._samples) - MAX_PENDING)]
            return False
        return True

    def _write(self) -> None:
        db, ids = self.db, self._ids
        for name in {name for _, name, _ in self._samples} - ids.keys():
            self._id(name)
        for _, name, _ in self._buckets:
            if name not in ids:
                self._id(name)
        db.executemany(
            "INSERT OR REPLACE INTO history_samples (t, var, v) VALUES (?, ?, ?)",
            [(ms, ids[name], value) for ms, name, value in self._samples],
        )
        for table, size in (("history_minutes", 60), ("history_hours", 3600)):
            db.executemany(
                MERGE.format(table=table),
                [
                    (t // size * size, ids[name], a.n, a.total / a.n, a.low, a.high)
                    for t, name, a in self._buckets
                ],
            )
        db.executemany(
            "INSERT INTO history_states (t, run, state) VALUES (?, ?, ?)",
            [(t, self.run_id, state) for t, state in self._states],
        )
        db.execute(
            "UPDATE history_runs SET start = ?, end = ? WHERE id = ?", (self._first, self._last, self.run_id)
        )
        if self._prune_before is not None:
            self._prune(self._prune_before)
        self._samples, self._buckets, self._states, self._prune_before = [], [], [], None

    def _id(self, name: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO history_variables (name) VALUES (?)", (name,))
        (var,) = self.db.execute("SELECT id FROM history_variables WHERE name = ?", (name,)).fetchone()
        self._ids[name] = var
        return int(var)

    def _prune(self, now: float) -> None:
        """Delete what is older than its tier's span, measured from ``now`` (the samples' own time)."""
        s = self.settings
        self.db.execute("DELETE FROM history_samples WHERE t < ?", (round((now - s.full_resolution) * 1000),))
        self.db.execute("DELETE FROM history_minutes WHERE t < ?", (now - s.minutes,))
        if s.hours is not None:
            self.db.execute("DELETE FROM history_hours WHERE t < ?", (now - s.hours,))
