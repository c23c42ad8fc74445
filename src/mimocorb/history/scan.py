"""Bringing the catalog up to date with the run directories: runs it does not know, runs that died.

``update`` runs before every listing. It adds a row for each run directory that has none (from its
run_summary.json, or as ``crashed`` when there is none: a run without a summary and without a row never
registered, so it ran before the catalog existed and did not end in order), with the notes of its notes
file; and it turns rows still ``running`` into ``ended`` (the summary is there) or ``crashed`` (its
process is gone). ``everything=True`` (``mimocorb runs --scan``) also reads every summary again and
takes the notes of the notes files that the database lacks.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from . import catalog, notefile
from .liveness import process_gone


def update(connection: sqlite3.Connection, output_directory: Path, everything: bool = False) -> list[str]:
    """Catalog rows for the run directories of ``output_directory``; returns the names added."""
    known = catalog.names(connection)
    added: list[str] = []
    for directory in run_directories(output_directory):
        if directory.name in known and not everything:
            continue
        take(connection, directory)
        if directory.name not in known:
            added.append(directory.name)
    refresh(connection, output_directory)
    return added


def take(connection: sqlite3.Connection, directory: Path) -> None:
    """The row of one run directory from its summary (or as crashed, unless it has a row), and its notes."""
    summary = read_summary(directory)
    if summary is not None:
        catalog.store_summary(connection, directory.name, summary)
    else:
        catalog.insert_missing(connection, crashed_row(directory))
    take_notes(connection, directory)


def run_directories(output_directory: Path) -> list[Path]:
    try:
        children = sorted(p for p in output_directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [p for p in children if catalog.is_run_directory(p)]


def refresh(connection: sqlite3.Connection, output_directory: Path) -> None:
    """Rows still ``running``: ended if the summary is there, crashed if the process is gone."""
    query = "SELECT name, pid, host, pid_start FROM runs WHERE state = ?"
    for row in connection.execute(query, (catalog.RUNNING,)).fetchall():
        directory = output_directory / row["name"]
        summary = read_summary(directory)
        if summary is not None:
            catalog.store_summary(connection, row["name"], summary)
        elif process_gone(row["pid"], row["host"], row["pid_start"]):
            crashed = crashed_row(directory)
            connection.execute(
                'UPDATE runs SET state = ?, "end" = ?, events = ? WHERE name = ? AND state = ?',
                (crashed["state"], crashed["end"], crashed["events"], row["name"], catalog.RUNNING),
            )


def crashed_row(directory: Path) -> dict[str, Any]:
    """What a run directory without a summary tells: the setup copy, the last signs of life."""
    log = directory / catalog.RUN_LOG
    return {
        "name": directory.name,
        "setup": _setup_copy(directory),
        "start": _start_of(directory.name),
        "end": _modified(log),
        "state": catalog.CRASHED,
        "events": _last_events(directory / "stats.csv"),
    }


def read_summary(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / catalog.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def take_notes(connection: sqlite3.Connection, directory: Path) -> None:
    """The notes of the directory's notes file that the database does not hold yet."""
    held = {(n["time"], n["text"]) for n in catalog.notes_of(connection, directory.name)}
    for note in notefile.read(directory):
        if (note["time"], note["text"]) not in held:
            catalog.insert_note(connection, directory.name, note)


def _setup_copy(directory: Path) -> str | None:
    """The run directory keeps a copy of the setup file; the first YAML file whose name says setup."""
    yamls = sorted(p.name for p in directory.glob("*.y*ml"))
    return next((n for n in yamls if "setup" in n), yamls[0] if yamls else None)


def _start_of(name: str) -> str | None:
    """The start as the run directory's name carries it (``<setup>_YYYY-MM-DD_HHMMSS[_n]``)."""
    for part in range(len(name)):
        try:
            when = _dt.datetime.strptime(name[part : part + 17], "%Y-%m-%d_%H%M%S")
        except ValueError:
            continue
        return when.isoformat(timespec="milliseconds")
    return None


def _modified(path: Path) -> str | None:
    try:
        return _dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="milliseconds")
    except OSError:
        return None


def _last_events(stats: Path) -> int | None:
    """The first buffer's events in the last complete row of stats.csv, if the run wrote one."""
    try:
        with stats.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if None not in r.values()]
    except OSError:
        return None
    first = rows[0].get("buffer") if rows else None
    mine = [r for r in rows if r.get("buffer") == first]
    try:
        return int(float(mine[-1]["events"])) if mine else None
    except (KeyError, TypeError, ValueError):
        return None


def from_directory(directory: Path) -> dict[str, Any]:
    """What the run directory alone tells, in the catalog's form: for a catalog that cannot be read."""
    summary = read_summary(directory)
    entry = catalog.from_summary(directory.name, summary) if summary is not None else crashed_row(directory)
    notes = notefile.read(directory)
    tags = summary.get("tags") if summary is not None else None
    tags = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    tags += [t for note in notes for t in note["tags"]]
    entry.update(directory=str(directory), tags=sorted(set(tags)), notes=notes)
    return entry
