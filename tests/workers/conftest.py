"""Fixtures for the tests of mimocorb.workers: real buffers, always closed, and no shared memory left."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mimocorb.mimo_buffer import NewBuffer


def _our_shm() -> set[str]:
    """Segments and semaphores of buffers made by this process (names carry the creator's pid)."""
    tag = f"mimocorb_{os.getpid()}_"
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir() if tag in p.name} if shm.is_dir() else set()


@pytest.fixture(autouse=True)
def _no_shm_left() -> Iterator[None]:
    """Runs its check after every other fixture of the test has been torn down (autouse comes first)."""
    before = _our_shm()
    yield
    left = _our_shm() - before
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"


@pytest.fixture
def make_buffer() -> Iterator[Callable[..., NewBuffer]]:
    """``make_buffer(slots, values_per_slot, dtype, name=...)``; every buffer is shut down and closed."""
    made: list[NewBuffer] = []

    def make(slots: int, values_per_slot: int, dtype, name: str | None = None) -> NewBuffer:
        buf = NewBuffer(slots, values_per_slot, dtype, name=name)
        made.append(buf)
        return buf

    yield make
    for buf in made:
        buf.shutdown(timeout=0.2)  # tests that need a full drain do their own shutdown
        buf.close()
