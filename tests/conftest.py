"""Settings for the whole suite."""

from __future__ import annotations

import os
import signal

import pytest

ANSWERED = (signal.SIGINT, signal.SIGTERM)


def pytest_configure(config: pytest.Config) -> None:
    """Every test process answers Ctrl-C as a program started from a terminal does, whatever it inherited.

    A suite started in the background of a script (``cmd &`` without job control, as some CI runners and
    shells do) inherits SIGINT ignored, and an ignored signal stays ignored through fork and exec: every
    child of every test would then ignore Ctrl-C, and the tests that interrupt a child would wait for it in
    vain. A blocked SIGINT or SIGTERM is inherited the same way. Both are undone here, in the pytest process
    and in each xdist worker, before any test starts a child. (An ignored SIGHUP, as nohup leaves it, is
    kept: it is meant to outlive the terminal.)
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, ANSWERED)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one test process more than there are cores. Most tests spend their time waiting for
    the runs they started (paced sources, grace periods, children starting up), so on two cores a third
    process finishes the suite sooner, although each test that computes takes longer.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when it is set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own reading of it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1
