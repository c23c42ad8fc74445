"""Adding a note to a run, running or finished: the logbook of the lab.

A note is a timestamped text with tags, written where it came from (the command line, the dashboard, the
run browser). It goes into the catalog and, in the same step, at the end of the run directory's
``notes.txt`` (``notefile``): when the file cannot be written, the database keeps nothing either. Its
tags become tags of the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import catalog, notefile, scan

MAX_TEXT = 10_000  # characters of one note


def add_note(
    run_dir: Path, text: str, tags: Iterable[str] = (), source: str = "command line"
) -> dict[str, Any]:
    """Add a note to the run of ``run_dir`` and return it; ValueError for an empty or too long note or
    a bad tag, sqlite3.Error or OSError when it cannot be stored."""
    text = str(text).strip()
    tags = [catalog.check_tag(tag) for tag in dict.fromkeys(tags)]
    if not text and not tags:
        raise ValueError("a note needs a text or a tag")
    if len(text) > MAX_TEXT:
        raise ValueError(f"a note has at most {MAX_TEXT} characters, this one has {len(text)}")
    note = {"time": catalog.now(), "text": text, "tags": tags, "source": source}
    with catalog.open_catalog(run_dir.parent) as connection:
        if run_dir.name not in catalog.names(connection):
            scan.take(connection, run_dir)
        catalog.insert_note(connection, run_dir.name, note)
        notefile.append(run_dir, note)
    return note
