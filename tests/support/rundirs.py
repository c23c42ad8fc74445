"""What a run leaves in its run directory (output_directory/<setup>_<time>/), read back by the tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from support.waiting import wait_until


def run_dirs(output: Path) -> list[Path]:
    """The run directories in ``output`` (none while the run has not made its own yet)."""
    return sorted(p for p in output.iterdir() if p.is_dir()) if output.is_dir() else []


def only_run_dir(output: Path) -> Path:
    dirs = run_dirs(output)
    assert len(dirs) == 1, f"expected one run directory in {output}, found {dirs}"
    return dirs[0]


def wait_for_run_dir(output: Path, timeout: float = 20.0, holding: str = "") -> Path:
    """The run directory of a run that has just been started (and, with ``holding``, has made that file)."""

    def made() -> Path | None:
        dirs = run_dirs(output)
        return dirs[0] if dirs and (not holding or (dirs[0] / holding).exists()) else None

    wait_until(made, timeout, f"a run directory in {output}" + (f" holding {holding}" if holding else ""))
    return only_run_dir(output)


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run_summary.json").read_text(encoding="utf-8"))


def read_log(run_dir: Path) -> str:
    """run.log so far ("" before the run has written any)."""
    path = run_dir / "run.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def stats_rows(run_dir: Path, buffer: str = "RB_1") -> list[dict[str, str]]:
    """The rows of stats.csv for one buffer, oldest first (none before the first sample)."""
    path = run_dir / "stats.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        # a row the run is writing right now lacks its last fields: it is not counted yet
        return [row for row in csv.DictReader(file) if row["buffer"] == buffer and None not in row.values()]


def events_in_stats(run_dir: Path, buffer: str = "RB_1") -> int:
    """The buffer's event count in the newest stats.csv row (0 before the first)."""
    rows = stats_rows(run_dir, buffer)
    return int(rows[-1]["events"]) if rows else 0
