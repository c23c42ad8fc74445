"""Fixtures of the display tests: a project directory, and no shared memory left behind."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from displaykit import TRACKED_PIDS, Xvfb, x_tools_missing  # noqa: E402

SHM = Path("/dev/shm")


def _ours() -> set[str]:
    if not SHM.is_dir():
        return set()
    owners = {os.getpid(), *TRACKED_PIDS}
    out = set()
    for p in SHM.iterdir():
        name = p.name[4:] if p.name.startswith("sem.") else p.name
        parts = name.split("_")
        if "mimocorb_" in p.name and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) in owners:
            out.add(p.name)
    return out


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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def xserver() -> Iterator[Xvfb]:
    reason = x_tools_missing()
    if reason:
        pytest.skip(f"needs a virtual X server: {reason}")
    server = Xvfb()
    try:
        yield server
    finally:
        server.close()
