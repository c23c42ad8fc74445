"""The tables of the run history in ``history.sqlite``.

Three tiers of the same variables, each keyed by (time, variable) so that rows are appended in key order
and old rows leave from the front:

* ``history_samples``: every sample (``t`` in ms of Unix time, value ``v``), kept ``full_resolution``;
* ``history_minutes`` and ``history_hours``: per minute and per hour (``t`` in s, the bucket's start) the
  number of samples ``n`` and their ``mean``, ``min`` and ``max``.

``history_variables`` numbers the names; ``history_runs`` lists the runs that wrote (run directory,
setup, first and last sample, sample interval), ``history_states`` each change of a run's state, so that
pauses and the time between runs can be shown.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS history_variables (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS history_samples (
    t INTEGER NOT NULL, var INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY (t, var)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_minutes (
    t INTEGER NOT NULL, var INTEGER NOT NULL, n INTEGER NOT NULL, mean REAL NOT NULL, min REAL NOT NULL,
    max REAL NOT NULL, PRIMARY KEY (t, var)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_hours (
    t INTEGER NOT NULL, var INTEGER NOT NULL, n INTEGER NOT NULL, mean REAL NOT NULL, min REAL NOT NULL,
    max REAL NOT NULL, PRIMARY KEY (t, var)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_runs (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, setup TEXT NOT NULL, interval REAL NOT NULL,
    start REAL, end REAL);
CREATE TABLE IF NOT EXISTS history_states (
    t REAL NOT NULL, run INTEGER NOT NULL, state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_states_t ON history_states (t);
"""

AGGREGATES = ("history_minutes", "history_hours")

# merges a bucket's aggregate into a stored one (another run, or the rest of the bucket, wrote it first);
# every expression of SET sees the stored row as it was
MERGE = """
INSERT INTO {table} (t, var, n, mean, min, max) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (t, var) DO UPDATE SET
    n = n + excluded.n,
    mean = (mean * n + excluded.mean * excluded.n) / (n + excluded.n),
    min = min(min, excluded.min),
    max = max(max, excluded.max)
"""


def create_tables(connection: sqlite3.Connection) -> None:
    with connection:
        connection.executescript(SCHEMA)


def has_tables(connection: sqlite3.Connection) -> bool:
    """The database holds a run history (another part may have made the file)."""
    row = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'history_samples'"
    ).fetchone()
    return row is not None
