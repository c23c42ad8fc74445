"""Alarms in the history database of the output directory: one row per alarm raised or cleared.

The table ``alarms`` belongs to this part; it is created on first use. Rows are written by the action
process, so a busy database (another run writing) never holds up the run's loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..history import connect

TABLE = """CREATE TABLE IF NOT EXISTS alarms (
    run TEXT NOT NULL,          -- the run directory's name
    time REAL NOT NULL,         -- Unix time the alarm was raised or cleared
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,        -- raised | cleared
    severity TEXT NOT NULL,     -- info | warning | error
    value REAL,                 -- the first variable of the condition, if it had a value
    condition TEXT NOT NULL,
    "values" TEXT NOT NULL      -- every variable of the condition, as JSON
)"""


def record_event(output_directory: str | Path, run: str, event: Mapping[str, Any]) -> None:
    """Append one alarm event (``AlarmEvent.plain()``) of the run ``run``."""
    connection = connect(output_directory)
    try:
        with connection:
            connection.execute(TABLE)
            connection.execute(
                "INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run,
                    float(event["time"]),
                    str(event["alarm"]),
                    str(event["state"]),
                    str(event["severity"]),
                    event.get("value"),
                    str(event["condition"]),
                    json.dumps(event.get("values") or {}),
                ),
            )
    finally:
        connection.close()


def alarm_rows(output_directory: str | Path, run: str | None = None) -> list[dict[str, Any]]:
    """The recorded events (of one run, or of all), oldest first; none if nothing was recorded."""
    try:
        connection = connect(output_directory, create=False)
    except FileNotFoundError:  # no run of this directory has a history yet
        return []
    connection.row_factory = sqlite3.Row
    try:
        exists = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'alarms'").fetchone()
        if exists is None:
            return []
        where, args = ("WHERE run = ?", (run,)) if run is not None else ("", ())
        rows = connection.execute(f"SELECT * FROM alarms {where} ORDER BY time, rowid", args).fetchall()
        return [{**dict(row), "values": json.loads(row["values"])} for row in rows]
    finally:
        connection.close()
