"""Run directories seen from the web: the list, each run's summary, statistics and files.

A run directory is a directory holding ``run_summary.json`` (a finished run), a run directory of the
catalog of an output directory (``mimocorb.history``: running and crashed runs too) — or, for the
dashboard of a run still going on, the one directory it was given. Each run is shown with its catalog
entry: state, tags, notes. Every path that comes from a request is resolved
and must lie inside one of those directories; anything else (``..``, absolute paths, links pointing out,
hidden files) is not found.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..history import DATABASE_NAME, RunFilter, add_note, list_runs
from ..history.scan import from_directory, run_directories

SUMMARY = "run_summary.json"
MAX_DEPTH = 4  # levels below the root searched for run directories
MAX_FILES = 2000  # files listed per run
PICTURES = (".png", ".jpg", ".jpeg", ".svg", ".gif")


class RunStore:
    """The run directories below ``root`` (or just ``only``, a directory below or equal to root)."""

    def __init__(self, root: str | Path, only: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.only = None if only is None else Path(only).resolve()

    # -- finding runs ---------------------------------------------------------------------------
    def run_dirs(self) -> list[Path]:
        """Finished runs, and the runs of the output directories they are in or that hold a catalog
        (running and crashed ones, which have no summary); newest first."""
        if self.only is not None:
            return [self.only] if self.only.is_dir() else []
        found: list[Path] = []
        outputs: set[Path] = set()
        self._search(self.root, 0, found, outputs)
        outputs.update(d.parent for d in found if d != self.root)
        known = set(found)
        for output in outputs:
            found += [d for d in run_directories(output) if d not in known and not d.is_symlink()]
        return sorted(found, key=lambda p: p.name, reverse=True)

    def _search(self, directory: Path, depth: int, found: list[Path], outputs: set[Path]) -> None:
        if (directory / SUMMARY).is_file():
            found.append(directory)
            return
        if (directory / DATABASE_NAME).is_file():
            outputs.add(directory)
        if depth >= MAX_DEPTH:
            return
        try:
            children = sorted(p for p in directory.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        for child in children:
            if not child.name.startswith("."):
                self._search(child, depth + 1, found, outputs)

    def run_id(self, directory: Path) -> str:
        rel = directory.relative_to(self.root).as_posix()
        return rel if rel != "." else directory.name

    def find(self, run_id: str) -> Path | None:
        """The run directory of an id, or None; ids are the ones ``runs()`` lists, nothing else."""
        for directory in self.run_dirs():
            if self.run_id(directory) == run_id:
                return directory
        return None

    # -- the catalog ----------------------------------------------------------------------------
    @staticmethod
    def catalog(directories: Iterable[Path]) -> dict[Path, dict[str, Any]]:
        """The catalog entries of these run directories (brought up to date), by directory; the runs of
        an output directory whose catalog can be neither read nor written have none."""
        out: dict[Path, dict[str, Any]] = {}
        for output in {d.parent for d in directories}:
            try:
                entries = list_runs(output)
            except (OSError, sqlite3.Error):
                continue
            out.update((output / e["name"], e) for e in entries)
        return out

    def entry(self, directory: Path) -> dict[str, Any]:
        """One run's catalog entry, or what its directory alone tells."""
        return self.catalog([directory]).get(directory) or from_directory(directory)

    def add_note(
        self, run_id: str | None, text: str, tags: Iterable[str], source: str
    ) -> dict[str, Any] | None:
        """A note added to the run of ``run_id`` (the only run, if the store has one); None if there is
        no such run. ValueError for a bad note, OSError or sqlite3.Error when it cannot be stored."""
        directory = self.only if run_id is None else self.find(run_id)
        if directory is None:
            return None
        return add_note(directory, text, tags, source)

    # -- what is shown --------------------------------------------------------------------------
    def runs(self, run_filter: RunFilter | None = None) -> list[dict[str, Any]]:
        directories = self.run_dirs()
        entries = self.catalog(directories)
        shown = []
        for directory in directories:
            entry = entries.get(directory) or from_directory(directory)
            if run_filter is None or run_filter.matches(entry):
                shown.append(self.describe(directory, entry))
        return shown

    def describe(self, directory: Path, entry: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = entry if entry is not None else self.entry(directory)
        summary = self.summary(directory) or {}
        buffers = summary.get("buffers") or {}
        first: Any = next(iter(buffers.values()), {}) if isinstance(buffers, dict) else {}
        setup = summary.get("setup_file")
        return {
            "id": self.run_id(directory),
            "name": directory.name,
            "date": summary.get("start"),
            "setup": Path(str(setup)).name if setup else None,
            "end_reason": summary.get("end_reason"),
            "events": summary.get("events"),
            "rate_hz": first.get("mean_rate_hz") if isinstance(first, dict) else None,
            "active_time_s": summary.get("active_time_s"),
            "clean": summary.get("clean"),
            "files": len(self.files(directory)),
            "finished": bool(summary),
            "state": entry["state"],
            "tags": entry["tags"],
            "notes": len(entry["notes"]),
        }

    @staticmethod
    def summary(directory: Path) -> dict[str, Any] | None:
        try:
            data = json.loads((directory / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def stats(directory: Path) -> dict[str, dict[str, list[float]]]:
        """stats.csv as one series per buffer: time, rate, fill and events."""
        series: dict[str, dict[str, list[float]]] = {}
        try:
            with open(directory / "stats.csv", newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    s = series.setdefault(
                        str(row.get("buffer")), {"time_s": [], "rate_hz": [], "fill": [], "events": []}
                    )
                    try:
                        values = [float(row[k] or 0) for k in ("time_s", "rate_hz", "fill", "events")]
                    except (KeyError, TypeError, ValueError):
                        continue
                    for key, value in zip(("time_s", "rate_hz", "fill", "events"), values, strict=True):
                        s[key].append(value)
        except OSError:
            pass
        return series

    @staticmethod
    def files(directory: Path) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for path in sorted(directory.rglob("*")):
            rel = path.relative_to(directory)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file() or path.is_symlink():
                continue
            kind = "picture" if path.suffix.lower() in PICTURES else "file"
            out.append({"name": rel.as_posix(), "size": path.stat().st_size, "kind": kind})
            if len(out) >= MAX_FILES:
                break
        return out

    def file(self, run_id: str, name: str) -> Path | None:
        """The file ``name`` of a run, if it really lies inside that run directory; else None."""
        directory = self.find(run_id)
        if directory is None or not name or name.startswith("/") or "\\" in name:
            return None
        parts = Path(name).parts
        if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            return None
        path = directory.joinpath(*parts)
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if path.is_symlink() or not resolved.is_file() or not resolved.is_relative_to(directory):
            return None
        return resolved
