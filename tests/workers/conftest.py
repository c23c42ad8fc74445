"""Fixtures for the tests of mimocorb.workers: real buffers, always closed, and no shared memory left."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support import no_new_segments

from mimocorb.mimo_buffer import NewBuffer


@pytest.fixture(autouse=True)
def _no_shm_left() -> Iterator[None]:
    """Runs its check after every other fixture of the test has been torn down (autouse comes first).
    The buffers here are made and closed in this process: whatever is left at the end is a leak."""
    with no_new_segments(grace=0):
        yield


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
