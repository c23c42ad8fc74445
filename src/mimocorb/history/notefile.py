"""``notes.txt`` in a run directory: every note of the run, so that the directory alone keeps them.

Written for people and read back by ``scan``: one block per note, a header line with the time, where it
was written and its tags, then the text indented by two spaces, then an empty line::

    2026-12-07 14:20:05  [command line]  #cosmics #threshold
      Raised the threshold to -40 mV after the noise burst.

"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NOTES_FILE = "notes.txt"
INDENT = "  "
_HEADER = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)  \[([^\]]*)\](.*)")


def append(run_dir: Path, note: Mapping[str, Any]) -> None:
    """Add one note at the end of the file (made if missing); one write, so that notes never mix."""
    header = f"{str(note['time']).replace('T', ' ')}  [{note['source']}]"
    if note["tags"]:
        header += "  " + " ".join(f"#{tag}" for tag in note["tags"])
    lines = [header] + [INDENT + line for line in str(note["text"]).splitlines()]
    with (run_dir / NOTES_FILE).open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


def read(run_dir: Path) -> list[dict[str, Any]]:
    """The notes of the file, oldest first; lines that are not part of a note are left out."""
    try:
        text = (run_dir / NOTES_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    notes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        header = _HEADER.fullmatch(line)
        if header is not None:
            date, clock, source, rest = header.groups()
            tags = [word[1:] for word in rest.split() if word.startswith("#") and len(word) > 1]
            current = {"time": f"{date}T{clock}", "text": "", "tags": tags, "source": source}
            notes.append(current)
        elif current is not None and line.startswith(INDENT):
            current["text"] += ("\n" if current["text"] else "") + line[len(INDENT) :]
        elif not line.strip():
            current = None
    return notes
