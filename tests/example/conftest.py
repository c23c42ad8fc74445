"""Fixtures of the example tests: no shared memory left behind by the runs they start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from examplekit import TRACKED_PIDS
from shmleaks import no_new_segments


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with no_new_segments(TRACKED_PIDS):
        yield
