"""The run's row in the catalog of its output directory (``mimocorb.history``): made when the run
starts, completed from run_summary.json when it ends.

The catalog is a record, not a part of the data taking: a database that cannot be written (a full disk,
a directory shared with an old version) costs a warning in run.log and on the console, never the run.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..history import catalog


def register_run(
    run_dir: Path | None,
    setup_file: Path,
    start: _dt.datetime,
    tags: Iterable[str],
    note: Callable[[str, int], None],
) -> None:
    if run_dir is not None:
        _warn_on_failure(lambda: catalog.register(run_dir, setup_file, start, tags), note)


def complete_run(run_dir: Path | None, summary: Mapping[str, Any], note: Callable[[str, int], None]) -> None:
    if run_dir is not None:
        _warn_on_failure(lambda: catalog.complete(run_dir, summary), note)


def _warn_on_failure(write: Callable[[], None], note: Callable[[str, int], None]) -> None:
    try:
        write()
    except (sqlite3.Error, OSError, ValueError) as exc:
        note(f"WARNING: run catalog: {exc}; the run goes on without its entry", 0)
