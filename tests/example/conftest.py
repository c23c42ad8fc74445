"""Fixtures of the example tests: the example modules, simulated events, and no shared memory left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from examplekit import TRACKED_PIDS

SHM = Path("/dev/shm")


def _ours() -> set[str]:
    """mimocorb shared memory created by this process or by a run the tests started."""
    if not SHM.is_dir():
        return set()
    owners = {str(pid) for pid in (os.getpid(), *TRACKED_PIDS)}
    names = set()
    for path in SHM.iterdir():
        parts = path.name.removeprefix("sem.").split("_")
        if "mimocorb" in path.name and len(parts) > 1 and parts[1] in owners:
            names.add(path.name)
    return names


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    before = _ours()
    yield
    left = _ours() - before
    deadline = time.monotonic() + 3.0
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _ours() - before
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"
