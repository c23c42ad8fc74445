"""``mimocorb runs``: the catalog of an output directory, brought up to date, filtered, as a table."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from . import catalog, scan
from .catalog import Entry
from .database import DATABASE_NAME
from .filters import RunFilter

NOTE_WIDTH = 100  # characters of a note's line in the table


def list_runs(
    output_directory: Path | str, run_filter: RunFilter | None = None, everything: bool = False
) -> list[Entry]:
    """The runs of ``output_directory``, oldest first, after ``scan.update``; a directory without
    catalog and without run directories lists none (and gets no database). FileNotFoundError if the
    directory does not exist or is a run directory itself."""
    base = Path(output_directory)
    if not base.is_dir():
        raise FileNotFoundError(f"no directory {base}")
    if catalog.is_run_directory(base):
        raise FileNotFoundError(f"{base} is a run directory: mimocorb runs {base.parent} lists it")
    if not (base / DATABASE_NAME).is_file() and not scan.run_directories(base):
        return []
    with catalog.open_catalog(base) as connection:
        scan.update(connection, base, everything)
        found = catalog.entries(connection, base.resolve())
    return [entry for entry in found if run_filter is None or run_filter.matches(entry)]


def table(entries: Sequence[Entry]) -> str:
    """One line per run, its notes indented below it."""
    header = ("run", "state", "events", "rate", "end reason", "tags")
    rows = [
        (
            e["name"],
            e["state"],
            "-" if e["events"] is None else str(e["events"]),
            "-" if e["rate_hz"] is None else f"{e['rate_hz']:.1f} Hz",
            e["end_reason"] or "-",
            ", ".join(e["tags"]) or "-",
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3}  # numbers

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(header)]
    for entry, row in zip(entries, rows, strict=True):
        out.append(line(row))
        out += [_note_line(note) for note in entry["notes"]]
    return "\n".join(out)


def _note_line(note: dict) -> str:
    tags = "".join(f" #{t}" for t in note["tags"])
    head = f"    {str(note['time']).replace('T', ' ')} [{note['source']}]{tags} "
    text = " / ".join(note["text"].splitlines())
    return head + textwrap.shorten(text, NOTE_WIDTH, placeholder=" ...") if text else head.rstrip()


def default_directory() -> Path:
    """Where ``mimocorb runs`` and ``mimocorb note`` look without DIR: the current directory if it holds
    a catalog or run directories, else ``./target``, the setups' default ``output_directory``."""
    here = Path(".")
    if (here / DATABASE_NAME).is_file() or scan.run_directories(here):
        return here
    return Path("target")
