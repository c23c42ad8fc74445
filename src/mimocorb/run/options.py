"""Run options (what the command line and ``run_mimoDAQ`` may set beyond the setup file) and results."""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_START_METHOD = "MIMOCORB_START_METHOD"
START_METHODS = ("fork", "spawn", "forkserver")

EXIT_OK = 0
EXIT_SETUP = 1  # invalid setup: nothing was started (same code as ``mimocorb validate``)
EXIT_FAILED = 3  # the run ended, but a worker failed (not recovered by a restart) or had to be terminated


@dataclass
class RunOptions:
    """Everything about a run that is not in the setup file. ``None`` means "as the setup file says"."""

    runtime: float | None = None
    runevents: int | None = None
    grace: float = 10.0
    start_method: str | None = None
    verbose: int = 2
    debug: bool = False
    kbd: bool | None = None
    gui: bool | None = None
    output: str | None = None
    stats_interval: float = 1.0
    status_interval: float | None = None  # default: 0.5 s on a terminal, 5 s otherwise
    max_restarts: int = 3
    stall_warning: float = 10.0  # warn when a buffer is full and nothing moves for this long (0: never)
    handle_signals: bool = True
    web: tuple[str, int] | None = None  # (host, port) of the dashboard; None: as the setup's ``web`` says
    web_token: str | None = None  # the dashboard's access token; None: a random one
    series: dict[str, Any] | None = None  # the step of a run series this run is, for the dashboard
    tags: tuple[str, ...] = ()  # the run's tags in the catalog of its output directory

    def context(self) -> Any:
        """The ``multiprocessing`` context of the chosen start method."""
        return multiprocessing.get_context(resolve_start_method(self.start_method))


def resolve_start_method(requested: str | None) -> str:
    """The start method: as requested, else ``$MIMOCORB_START_METHOD``, else fork on Linux.

    fork is what mimoCoRB used (module-level state of user modules reaches the workers) and starts
    fastest; the controller keeps no threads of its own, so forking it is safe (docs/running.md).
    Elsewhere the platform default. Workers import their module themselves, so spawn and forkserver
    work as well.
    """
    method = requested or os.environ.get(ENV_START_METHOD) or None
    if method is None:
        available = multiprocessing.get_all_start_methods()
        method = "fork" if sys.platform.startswith("linux") and "fork" in available else None
        if method is None:
            method = multiprocessing.get_start_method(allow_none=True) or available[0]
    if method not in START_METHODS:
        raise ValueError(f"unknown start method {method!r}; expected one of {', '.join(START_METHODS)}")
    return method


@dataclass
class RunResult:
    """How a run ended: returned by ``run_setup`` and ``RunController.run``.

    Attributes:
        end_reason: what ended the run, in words (``runtime``, ``source exhausted``, ``stop command``, ...).
        exit_code: ``EXIT_OK`` (0) for a clean run, ``EXIT_FAILED`` (3) if a worker failed or had to be
            terminated.
        run_dir: the run directory, ``None`` if none was made.
        summary: the content of ``run_summary.json``.
        failures: the workers that failed, in words.
        survivors: the processes that had to be terminated at the end.
        signals: the signals the run received (SIGINT, SIGTERM, SIGHUP), also those that came when it
            was ending already and so did not end it (a run series stops after such a run).
    """

    end_reason: str
    exit_code: int
    run_dir: Path | None
    summary: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether the run ended cleanly (exit code 0)."""
        return self.exit_code == EXIT_OK
