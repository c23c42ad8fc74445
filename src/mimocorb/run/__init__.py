"""The run controller: turns a validated setup into a data-acquisition run (docs/running.md).

Modules, by what they hold (docs/architecture.md shows how they fit together):

* ``launch``     — from a setup file to a controller: validation, run directory, copies, run.log
* ``controller`` — the main loop: builds buffers and workers, executes commands, reacts to ended workers;
  ``end_run(reason)`` is the one way a run ends
* ``states``     — the run states, the table of allowed transitions, worker process states
* ``clock``      — active time (pauses excluded), frozen when data taking stops
* ``consumers``  — reader groups per function; groups without processes are skipped
* ``ending``     — the orderly end: sources first, then buffers drained in data-flow order, bounded
* ``restarts``   — a dead process's slots back to the ring, then a restart or a recorded failure
* ``sampling``   — periodic samples for stats.csv, rates.png, the status line, the GUI and the dashboard
* ``summary``    — run_summary.json and the summary printed at the end
* ``stalls``     — the warning about a full buffer that nothing drains
* ``plan``       — the data-flow plan: sources, writers/readers per buffer, data-flow order
* ``wiring``     — buffers from their layouts, each function's setup dicts, one spec per worker process
* ``supervisor`` — worker processes: start, output/error pipes, end detection, terminate
* ``child``      — what runs inside a worker process around the user function
* ``published``  — ``publish(name, value)``: user variables from any worker process, never blocking
* ``variables``  — the run's variables by name (buffers, workers, disk, user), one dict per sample
* ``rundir``     — run directory naming, file copies, run.log, JSON output
* ``status``     — console, status line, stats.csv
* ``commands``   — the one table of commands: key, name, what each does, the states that take it
* ``inputs``     — keyboard/pipe commands and signals
* ``channels``   — keyboard, buffer-info window and dashboard: the commands they give, what they show
* ``dashboard``  — the live dashboard's web server, seen from the controller
* ``links``      — the network workers of ``serve`` and ``connect`` buffers and their link reports
* ``gui``        — the optional buffer-info window process, and rates.png
* ``options``    — run options, start method, results and exit codes

Importing this package has no side effects and imports neither GUI libraries nor user modules, so it
works without a display. The public names
are loaded on first use, so that a worker process, which needs only ``child``, starts fast under spawn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .controller import RunController
    from .launch import open_run, prepare_directory, run_setup
    from .options import EXIT_FAILED, EXIT_OK, EXIT_SETUP, RunOptions, RunResult, resolve_start_method
    from .published import publish

_LAZY = {
    "RunController": "controller",
    "open_run": "launch",
    "prepare_directory": "launch",
    "run_setup": "launch",
    "EXIT_FAILED": "options",
    "EXIT_OK": "options",
    "EXIT_SETUP": "options",
    "RunOptions": "options",
    "RunResult": "options",
    "resolve_start_method": "options",
    "publish": "published",
}

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_SETUP",
    "RunController",
    "RunOptions",
    "RunResult",
    "open_run",
    "prepare_directory",
    "publish",
    "resolve_start_method",
    "run_setup",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
