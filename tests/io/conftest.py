"""Fixtures of the recording tests: a project directory as CWD, and no shared memory left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from iokit import TRACKED_PIDS

SHM = Path("/dev/shm")


def _owner(name: str) -> int:
    name = name[4:] if name.startswith("sem.") else name
    try:
        return int(name.split("_")[1])
    except (IndexError, ValueError):
        return -1


def _ours() -> set[str]:
    """Segments created by this process or by a controller these tests started (not other people's)."""
    if not SHM.is_dir():
        return set()
    owners = {os.getpid(), *TRACKED_PIDS}
    return {p.name for p in SHM.iterdir() if "mimocorb_" in p.name and _owner(p.name) in owners}


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    before = _ours()
    yield
    left = _ours() - before
    deadline = time.monotonic() + 3.0  # a killed controller's segments are removed by its tracker
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _ours() - before
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory for setup files; also the current directory of the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
