"""Fixtures of the run-controller tests: a project directory, and no shared memory left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runkit import TRACKED_PIDS, write_tag_configs

SHM = Path("/dev/shm")


def _owner(name: str) -> int:
    name = name[4:] if name.startswith("sem.") else name
    try:
        return int(name.split("_")[1])
    except (IndexError, ValueError):
        return -1


def _ours() -> set[str]:
    """mimocorb segments and semaphores created by this process or a controller the tests started.

    Other people's runs on the same machine are none of these tests' business.
    """
    if not SHM.is_dir():
        return set()
    owners = {os.getpid(), *TRACKED_PIDS}
    return {p.name for p in SHM.iterdir() if "mimocorb_" in p.name and _owner(p.name) in owners}


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    before = _ours()
    yield
    left = _ours() - before
    deadline = time.monotonic() + 3.0  # a killed controller's resource tracker may need a moment
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _ours() - before
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory for setup files, with the sink tag configs final.yaml and rb1.yaml.

    It is also the current directory, so runs in the test process put their run directories there.
    """
    write_tag_configs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path
