"""Which run a name given on the command line means: a run directory's path, or its name in DIR."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from .catalog import is_run_directory
from .scan import run_directories

SHOWN = 5  # candidates named in an error


class UnknownRun(LookupError):
    """The name fits no run directory, or several; ``str()`` says which and what would fit."""


def find_run(run: str, directory: Path | str) -> Path:
    """The run directory ``run`` names: a path of a run directory, else the name of a run below
    ``directory`` or the start of exactly one such name. Raises UnknownRun saying why not."""
    path = Path(run).expanduser()
    if path.is_dir():
        if is_run_directory(path):
            return path.resolve()
        raise UnknownRun(
            f"{run} is a directory but not a run directory (it holds no run.log or run_summary.json)"
        )
    if os.sep in run or run in ("", ".", ".."):
        raise UnknownRun(f"no run directory {run}")
    base = Path(directory)
    if not base.is_dir():
        raise UnknownRun(f"no run {run!r}: the directory {base} does not exist")
    names = [p.name for p in run_directories(base)]
    if run in names:
        return (base / run).resolve()
    starting = [name for name in names if name.startswith(run)]
    if len(starting) == 1:
        return (base / starting[0]).resolve()
    if starting:
        listed = ", ".join(starting[:SHOWN]) + (" ..." if len(starting) > SHOWN else "")
        raise UnknownRun(
            f"{len(starting)} runs in {base} start with {run!r} ({listed}); give more of the name"
        )
    close = difflib.get_close_matches(run, names, n=3, cutoff=0.5)
    if close:
        hint = "; did you mean " + " or ".join(close) + "?"
    else:
        count = f"{len(names)} run" + ("s" if len(names) != 1 else "")
        hint = f"; it holds {count} (mimocorb runs {base} lists them)" if names else "; it holds no runs"
    raise UnknownRun(f"no run {run!r} in {base}{hint}")
