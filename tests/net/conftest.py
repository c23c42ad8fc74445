"""Fixtures of the network tests: child processes that never outlive a test, and a /dev/shm leak check."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

pytest.importorskip("zmq", reason="the network tests need pyzmq (pip install mimocorb[net])")

import netkit  # noqa: E402
from support import shm  # noqa: E402


@pytest.fixture
def procs() -> Iterator[netkit.Procs]:
    group = netkit.Procs()
    try:
        yield group
    finally:
        group.cleanup()


@pytest.fixture(autouse=True)
def no_shm_leak() -> Iterator[None]:
    """Fail a test that leaves shared memory of its own processes in /dev/shm."""
    start = shm.before()
    yield
    left = shm.leftovers(start, 5.0, collect=True)
    shm.unlink_entries(left)
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"
