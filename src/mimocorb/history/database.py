"""The database file and its connections.

Several processes use it at once (a run writing, ``mimocorb history`` or the run browser reading, a
second run in the same output directory), so it is opened in write-ahead-log mode: readers never block
the writer, and a writer waits up to ``BUSY_TIMEOUT`` s for another instead of failing at once. Each
part of the history (samples, the run catalog, ...) creates its own tables when it first connects.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATABASE_NAME = "history.sqlite"
BUSY_TIMEOUT = 10.0  # s a writer waits for another before sqlite3.OperationalError ("database is locked")


def connect(output_directory: Path | str, *, create: bool = True) -> sqlite3.Connection:
    """A connection to ``<output_directory>/history.sqlite``.

    ``create=False`` opens an existing database only (for commands that read: a missing file is an
    error naming it, not an empty database left behind). Raises FileNotFoundError then.
    """
    path = Path(output_directory) / DATABASE_NAME
    if not create and not path.is_file():
        raise FileNotFoundError(f"no run history in {Path(output_directory)}: {path.name} does not exist")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commit
    return connection
