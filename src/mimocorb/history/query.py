"""Reading the history: which variables there are, their values over a span of time, the runs and pauses.

A span is read from one tier: the finest one that holds the whole span (from the first sample in the
history on) in at most ``max_points`` points per variable — a few hours in full resolution, days in
minutes, months in hours. Where no run wrote (between runs, or while the controller could not sample),
a series has a gap: a point with the value NaN, wherever two points are further apart than
``GAP_STEPS`` sample intervals in full resolution (samples come a little late when the controller is
busy), or than one and a half buckets in minutes and hours (a bucket without a sample is missing).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .tables import has_tables

# points per variable a span is read in at most, unless a resolution is asked for
MAX_POINTS = 3000
GAP_STEPS = 3.0
GAP_BUCKETS = 1.5


@dataclass(frozen=True)
class Tier:
    name: str
    table: str
    step: float  # s between points (full resolution: the runs' sample interval)
    scale: float  # units of ``t`` per second


FULL = Tier("full", "history_samples", 1.0, 1000.0)
MINUTE = Tier("minute", "history_minutes", 60.0, 1.0)
HOUR = Tier("hour", "history_hours", 3600.0, 1.0)
TIERS = {t.name: t for t in (FULL, MINUTE, HOUR)}


@dataclass
class Series:
    """One variable over time: times (Unix s) and per point mean, min and max (equal in full resolution)."""

    t: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    min: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)

    def add(self, t: float, mean: float, low: float, high: float) -> None:
        self.t.append(t)
        self.mean.append(mean)
        self.min.append(low)
        self.max.append(high)

    def values(self) -> list[float]:
        """The means without the gaps."""
        return [v for v in self.mean if not math.isnan(v)]


@dataclass
class Selection:
    """What ``select`` read: the tier (``resolution``, ``step`` in s), the span and one series per name."""

    resolution: str
    step: float
    since: float
    until: float
    series: dict[str, Series]


def variables(db: sqlite3.Connection) -> list[str]:
    """The names of all variables ever written, sorted."""
    if not has_tables(db):
        return []
    return [name for (name,) in db.execute("SELECT name FROM history_variables ORDER BY name")]


def select(
    db: sqlite3.Connection,
    names: list[str],
    since: float,
    until: float,
    resolution: str = "auto",
    max_points: int = MAX_POINTS,
) -> Selection:
    """The series of ``names`` from ``since`` to ``until`` (Unix s) at ``resolution`` (``full``,
    ``minute``, ``hour`` or ``auto``, see the module docstring). Unknown names give empty series."""
    if not has_tables(db):
        return Selection(resolution, 0.0, since, until, {name: Series() for name in names})
    tier = choose_tier(db, since, until, max_points) if resolution == "auto" else TIERS[resolution]
    step = _interval(db, since, until) if tier is FULL else tier.step
    ids = dict(db.execute("SELECT name, id FROM history_variables"))
    wanted = {ids[name]: name for name in names if name in ids}
    series = {name: Series() for name in names}
    gap = (GAP_STEPS if tier is FULL else GAP_BUCKETS) * step
    if wanted:
        marks = ",".join("?" * len(wanted))
        lo, hi = since * tier.scale, until * tier.scale
        columns = "v, v, v" if tier is FULL else "mean, min, max"
        sql = f"SELECT t, var, {columns} FROM {tier.table} WHERE t BETWEEN ? AND ? AND var IN ({marks})"
        for t, var, mean, low, high in db.execute(sql + " ORDER BY t", (lo, hi, *wanted)):
            _add_with_gap(series[wanted[var]], t / tier.scale, mean, low, high, gap, step)
    return Selection(tier.name, step, since, until, series)


def _add_with_gap(
    series: Series, t: float, mean: float, low: float, high: float, gap: float, step: float
) -> None:
    if series.t and t - series.t[-1] > gap:
        series.add(series.t[-1] + step, math.nan, math.nan, math.nan)
    series.add(t, mean, low, high)


def choose_tier(db: sqlite3.Connection, since: float, until: float, max_points: int) -> Tier:
    """The finest tier that holds the span from its start (or from the first sample on) in at most
    ``max_points`` points."""
    oldest = {tier.name: _oldest(db, tier) for tier in TIERS.values()}
    (first_sample,) = db.execute("SELECT min(start) FROM history_runs").fetchone()
    start = since if first_sample is None else max(since, first_sample)
    interval = _interval(db, since, until)
    for tier, coarser_step in ((FULL, MINUTE.step), (MINUTE, HOUR.step)):
        first = oldest[tier.name]
        step = interval if tier is FULL else tier.step
        if first is not None and first <= start + coarser_step and (until - start) / step <= max_points:
            return tier
    return HOUR


def extent(db: sqlite3.Connection) -> dict[str, float | None]:
    """The first and the last point in time the history holds (None: it is empty)."""
    if not has_tables(db):
        return {"first": None, "last": None}
    first, last = db.execute("SELECT min(start), max(end) FROM history_runs").fetchone()
    return {"first": first, "last": last}


def _oldest(db: sqlite3.Connection, tier: Tier) -> float | None:
    (t,) = db.execute(f"SELECT min(t) FROM {tier.table}").fetchone()
    return None if t is None else t / tier.scale


def _interval(db: sqlite3.Connection, since: float, until: float) -> float:
    """The sample interval of the runs in the span (the longest, so that no sample counts as a gap)."""
    (interval,) = db.execute(
        "SELECT max(interval) FROM history_runs WHERE coalesce(end, start) >= ? AND start <= ?",
        (since, until),
    ).fetchone()
    return float(interval) if interval else FULL.step


def runs(db: sqlite3.Connection, since: float, until: float) -> list[dict[str, Any]]:
    """The runs that sampled within the span: run directory, setup, first and last sample, and their
    pauses as [start, end] (Unix s)."""
    if not has_tables(db):
        return []
    rows = db.execute(
        "SELECT id, name, setup, start, end FROM history_runs "
        "WHERE start IS NOT NULL AND end >= ? AND start <= ? ORDER BY start",
        (since, until),
    ).fetchall()
    found = []
    for run, name, setup, start, end in rows:
        states = db.execute("SELECT t, state FROM history_states WHERE run = ? ORDER BY t", (run,)).fetchall()
        found.append(
            {"name": name, "setup": setup, "start": start, "end": end, "pauses": _pauses(states, end)}
        )
    return found


def _pauses(states: list[tuple[float, str]], end: float) -> list[list[float]]:
    pauses = []
    for k, (t, state) in enumerate(states):
        if state == "paused":
            pauses.append([t, states[k + 1][0] if k + 1 < len(states) else end])
    return pauses
