"""What each exporter wrote, for run_summary.json: a small JSON file per exporter process.

The exporters run in worker processes and the controller writes the summary, so the facts travel through
the run directory: every exporter keeps ``<run dir>/.mimocorb/files/<format>-<name>-<pid>.json`` up to
date (atomically replaced after every part, member or line batch) and the controller folds them into the
summary's ``files`` section. A manifest of a killed exporter therefore still states what was safely on
disk at its last update.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(".mimocorb") / "files"


class Manifest:
    """The manifest of one exporter process writing one file (or dataset)."""

    def __init__(self, directory: str | os.PathLike[str], file: str, fmt: str, buffer: str) -> None:
        self.path = Path(directory) / MANIFEST_DIR / f"{fmt}-{Path(file).name}-{os.getpid()}.json"
        self.entry: dict[str, Any] = {
            "file": file,
            "format": fmt,
            "buffer": buffer,
            "pid": os.getpid(),
            "events": 0,
            "complete": False,
        }

    def update(self, **values: Any) -> None:
        """Record new values and replace the file atomically (a reader never sees half of it)."""
        self.entry.update(values)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.entry, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def collect(run_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The ``files`` section of run_summary.json: per output file its format, events and writers.

    Several processes of one exporter function write the same file (txt, tar) or dataset; their counts are
    added. ``complete`` is true only if every writer closed its file in order.
    """
    files: dict[str, dict[str, Any]] = {}
    for path in sorted((Path(run_dir) / MANIFEST_DIR).glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a manifest being replaced right now, or damaged: the others still count
        merged = files.setdefault(
            entry["file"],
            {
                "format": entry["format"],
                "buffer": entry["buffer"],
                "events": 0,
                "complete": True,
                "writers": [],
            },
        )
        merged["events"] += int(entry.get("events", 0))
        merged["complete"] = merged["complete"] and bool(entry.get("complete"))
        writer = {
            "pid": entry.get("pid"),
            "events": entry.get("events", 0),
            "complete": entry.get("complete"),
        }
        if "parts" in entry:
            writer["parts"] = entry["parts"]
        if "error" in entry:
            writer["error"] = entry["error"]
        merged["writers"].append(writer)
    return files
