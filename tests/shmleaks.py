"""The shared-memory leak check of the test directories that start whole runs (run, io, display, example).

Each directory keeps its own set of tracked controller pids (the runs its tests started); segments and
semaphores whose names carry this process's pid or one of those are "ours". Other people's runs on the
same machine are none of the tests' business.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

SHM = Path("/dev/shm")
GRACE = 3.0  # a killed controller's segments are removed by its resource tracker, which needs a moment


def _owner(name: str) -> int:
    try:
        return int(name.removeprefix("sem.").split("_")[1])
    except (IndexError, ValueError):
        return -1


def ours(tracked: Iterable[int]) -> set[str]:
    """mimocorb segments and semaphores made by this process or by one of the ``tracked`` controllers."""
    if not SHM.is_dir():
        return set()
    owners = {os.getpid(), *tracked}
    return {p.name for p in SHM.iterdir() if "mimocorb_" in p.name and _owner(p.name) in owners}


@contextlib.contextmanager
def no_new_segments(tracked: Iterable[int]) -> Iterator[None]:
    """Fail if the body leaves new shared memory of ours behind (after a short grace period)."""
    before = ours(tracked)
    yield
    deadline = time.monotonic() + GRACE
    left = ours(tracked) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = ours(tracked) - before
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"
