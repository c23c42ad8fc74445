"""Fixtures of the ring tests: start methods, child processes, and a leak check of /dev/shm.

Helpers live in ``ringtools`` (parent side) and ``ringworkers`` (child side), names no other test
directory uses. This directory is put on sys.path, so spawn and forkserver children, which receive
the parent's sys.path, import ``ringworkers`` by that name (pytest's default import mode does this
too; the explicit insert also covers ``--import-mode=importlib``).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import shm

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import ringtools  # noqa: E402

START_METHODS = ["fork", "spawn", "forkserver"]
LEAK_GRACE = 5.0  # seconds a child may take to exit and its creator's finalizer to run

_forkserver_prepared = False


def _prepare_forkserver() -> None:
    """Preload numpy and mimocorb in the fork server (if it is not running yet), so that its children
    start fast. (Not ringworkers: Python < 3.12 ignores the parent's sys.path in the fork server.)"""
    global _forkserver_prepared
    if not _forkserver_prepared:
        _forkserver_prepared = True
        mp.get_context("forkserver").set_forkserver_preload(["numpy", "mimocorb.mimo_buffer"])


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    """Run the test under every multiprocessing start method."""
    if request.param == "forkserver":
        _prepare_forkserver()
    return request.param


@pytest.fixture
def procs(request: pytest.FixtureRequest) -> Iterator[ringtools.ProcessGroup]:
    """Children of the test (start method of ``start_method`` if the test uses it, else fork);
    whatever is still alive at the end is killed."""
    method = request.getfixturevalue("start_method") if "start_method" in request.fixturenames else "fork"
    group = ringtools.ProcessGroup(method)
    try:
        yield group
    finally:
        group.cleanup()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember the outcome of each phase on the item (the leak check needs to know)."""
    report = yield
    if item.path.parent == Path(_HERE):
        setattr(item, f"_ring_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def no_shm_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves new ``mimocorb_*`` entries of its own processes in /dev/shm.

    A test that already failed is not failed twice: its leftovers (e.g. a buffer kept alive by the
    traceback) are only removed.
    """
    start = shm.before()
    yield
    # buffers of the test that only wait for the garbage collector are collected first
    leaked = shm.leftovers(start, LEAK_GRACE, collect=True)
    if leaked:
        shm.unlink_entries(leaked)  # do not let the next test trip over them
        call = getattr(request.node, "_ring_call", None)
        if call is None or not call.failed:
            pytest.fail(f"the test left shared memory behind in /dev/shm: {sorted(leaked)}")
