"""The run catalog: one row per run of an output directory, in its history database.

A run registers itself when it starts (state ``running``, with the pid and host of its controller) and
completes its row from run_summary.json when it ends (state ``ended``). A row still ``running`` whose
process is gone is shown, and written back, as ``crashed`` (``scan.refresh``): the catalog never lists a
dead run as running for ever. Run directories without a row (runs of older versions, a database that was
deleted) are added by ``scan``. A run's tags are those given at its start and those of its notes.

Rows are plain dicts (``Entry``) with the keys of ``COLUMNS`` plus ``directory``, ``tags`` and ``notes``,
so that the command line prints them as JSON and the run browser sends them as they are.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .database import connect
from .liveness import process_start, this_host

SUMMARY = "run_summary.json"
RUN_LOG = "run.log"
RUNNING, ENDED, CRASHED = "running", "ended", "crashed"
TAG = re.compile(r"[\w.:+/-]{1,40}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,      -- the run directory's name, unique in its output directory
    setup TEXT,                 -- the setup file's name
    start TEXT,                 -- local time, ISO 8601, as in run_summary.json
    "end" TEXT,
    state TEXT NOT NULL,        -- running, ended, crashed
    end_reason TEXT,
    events INTEGER,             -- events of the first buffer
    rate_hz REAL,               -- mean rate of the first buffer
    active_time_s REAL,
    exit_code INTEGER,
    rates TEXT,                 -- JSON: buffer -> mean rate in Hz
    files TEXT,                 -- JSON: file -> events written
    series TEXT,                -- the series the run belongs to, if any
    pid INTEGER,                -- the controller's process, while the run is running
    host TEXT,
    pid_start TEXT              -- when that process started (Linux), to tell a pid used again
);
CREATE TABLE IF NOT EXISTS run_tags (
    run TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (run, tag)
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    time TEXT NOT NULL,         -- local time, ISO 8601 to the second
    text TEXT NOT NULL,
    tags TEXT NOT NULL,         -- JSON list
    source TEXT NOT NULL        -- where it was written: command line, dashboard, run browser
);
CREATE INDEX IF NOT EXISTS notes_of_run ON notes (run);
"""
COLUMNS = (
    "name",
    "setup",
    "start",
    "end",
    "state",
    "end_reason",
    "events",
    "rate_hz",
    "active_time_s",
    "exit_code",
    "rates",
    "files",
    "series",
)
JSON_COLUMNS = ("rates", "files")

Entry = dict[str, Any]


def check_tag(tag: str) -> str:
    """``tag`` if it is one: 1 to 40 letters, digits or ``_ . : + / -``; ValueError naming it otherwise."""
    if not isinstance(tag, str) or not TAG.fullmatch(tag):
        raise ValueError(
            f"bad tag {tag!r}: expected 1 to 40 letters, digits or _ . : + / - (no spaces or commas)"
        )
    return tag


@contextlib.contextmanager
def open_catalog(output_directory: Path | str, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    """The history database of ``output_directory`` with the catalog's tables, as one transaction:
    committed at the end of the block, rolled back on an error, closed in either case."""
    connection = connect(output_directory, create=create)
    try:
        connection.row_factory = sqlite3.Row
        connection.executescript(SCHEMA)
        with connection:
            yield connection
    finally:
        connection.close()


def now() -> str:
    """Local time to the second, as the notes carry it."""
    return _dt.datetime.now().isoformat(timespec="seconds")


def register(run_dir: Path, setup_file: Path, start: _dt.datetime, tags: Iterable[str] = ()) -> None:
    """The run of ``run_dir`` has started in this process: its row says ``running``, with pid and host."""
    pid = os.getpid()
    row = {
        "name": run_dir.name,
        "setup": setup_file.name,
        "start": start.isoformat(timespec="milliseconds"),
        "state": RUNNING,
        "pid": pid,
        "host": this_host(),
        "pid_start": process_start(pid),
    }
    with open_catalog(run_dir.parent) as connection:
        _upsert(connection, row)
        add_tags(connection, run_dir.name, tags)


def complete(run_dir: Path, summary: Mapping[str, Any]) -> None:
    """The run of ``run_dir`` has ended and written ``summary``: its row takes the summary's figures."""
    with open_catalog(run_dir.parent) as connection:
        store_summary(connection, run_dir.name, summary)


def store_summary(connection: sqlite3.Connection, name: str, summary: Mapping[str, Any]) -> None:
    """Fill the row of run ``name`` (made if missing) from its run_summary.json; the run has ended."""
    row = from_summary(name, summary)
    row.update(pid=None, host=None, pid_start=None)
    _upsert(connection, row)
    tags = summary.get("tags")
    add_tags(connection, name, [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [])


def from_summary(name: str, summary: Mapping[str, Any]) -> Entry:
    """The catalog's columns of a finished run, from its run_summary.json."""
    buffers = summary.get("buffers")
    buffers = buffers if isinstance(buffers, dict) else {}
    rates = {str(b): v.get("mean_rate_hz") for b, v in buffers.items() if isinstance(v, dict)}
    files = summary.get("files")
    files = files if isinstance(files, dict) else {}
    setup = summary.get("setup_file")
    series = summary.get("series")
    return {
        "name": name,
        "setup": Path(str(setup)).name if setup else None,
        "start": summary.get("start"),
        "end": summary.get("end"),
        "state": ENDED,
        "end_reason": summary.get("end_reason"),
        "events": summary.get("events"),
        "rate_hz": next(iter(rates.values()), None),
        "active_time_s": summary.get("active_time_s"),
        "exit_code": summary.get("exit_code"),
        "rates": rates,
        "files": {str(f): v.get("events") for f, v in files.items() if isinstance(v, dict)},
        "series": series if isinstance(series, str) else None,
    }


def _upsert(connection: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    """Insert the row, or set the given columns of the row of that name."""
    updates = ", ".join(f'"{k}" = excluded."{k}"' for k in row if k != "name")
    _insert(connection, row, f"ON CONFLICT(name) DO UPDATE SET {updates}")


def insert_missing(connection: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    """Insert the row unless the run has one already (a run registering at this moment wins)."""
    _insert(connection, row, "ON CONFLICT(name) DO NOTHING")


def _insert(connection: sqlite3.Connection, row: Mapping[str, Any], conflict: str) -> None:
    """The column names come from this module only; the values are parameters."""
    values = [json.dumps(v) if k in JSON_COLUMNS and v is not None else v for k, v in row.items()]
    names = ", ".join(f'"{k}"' for k in row)
    marks = ", ".join("?" for _ in row)
    connection.execute(f"INSERT INTO runs ({names}) VALUES ({marks}) {conflict}", values)


def add_tags(connection: sqlite3.Connection, name: str, tags: Iterable[str]) -> None:
    connection.executemany(
        "INSERT OR IGNORE INTO run_tags (run, tag) VALUES (?, ?)", [(name, check_tag(t)) for t in tags]
    )


def entries(connection: sqlite3.Connection, output_directory: Path) -> list[Entry]:
    """Every run of the catalog, oldest first, with its tags and notes."""
    tags: dict[str, list[str]] = {}
    for run, tag in connection.execute("SELECT run, tag FROM run_tags ORDER BY tag"):
        tags.setdefault(run, []).append(tag)
    notes: dict[str, list[dict[str, Any]]] = {}
    for note in connection.execute("SELECT run, time, text, tags, source FROM notes ORDER BY time, id"):
        notes.setdefault(note["run"], []).append(note_dict(note))
    out: list[Entry] = []
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    for row in connection.execute(f"SELECT {columns}, pid, host FROM runs ORDER BY start, name"):
        entry = {c: row[c] for c in COLUMNS}
        for c in JSON_COLUMNS:
            entry[c] = json.loads(entry[c]) if entry[c] else {}
        entry["directory"] = str(output_directory / row["name"])
        entry["host"] = row["host"]
        entry["tags"] = tags.get(row["name"], [])
        entry["notes"] = notes.get(row["name"], [])
        out.append(entry)
    return out


def note_dict(row: sqlite3.Row | Mapping[str, Any]) -> dict[str, Any]:
    tags = row["tags"]
    return {
        "time": row["time"],
        "text": row["text"],
        "tags": json.loads(tags) if isinstance(tags, str) else list(tags),
        "source": row["source"],
    }


def names(connection: sqlite3.Connection) -> set[str]:
    return {name for (name,) in connection.execute("SELECT name FROM runs")}


def insert_note(connection: sqlite3.Connection, name: str, note: Mapping[str, Any]) -> None:
    connection.execute(
        "INSERT INTO notes (run, time, text, tags, source) VALUES (?, ?, ?, ?, ?)",
        (name, note["time"], note["text"], json.dumps(list(note["tags"])), note["source"]),
    )
    add_tags(connection, name, note["tags"])


def notes_of(connection: sqlite3.Connection, name: str) -> list[dict[str, Any]]:
    query = "SELECT time, text, tags, source FROM notes WHERE run = ? ORDER BY time, id"
    return [note_dict(row) for row in connection.execute(query, (name,))]


def is_run_directory(path: Path) -> bool:
    """A run directory holds the summary of a finished run, or the log of one that ran."""
    return (path / SUMMARY).is_file() or (path / RUN_LOG).is_file()
