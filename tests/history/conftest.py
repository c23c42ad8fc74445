"""Fixtures of the history tests: runs started by a test leave no shared memory behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import child_runs_leave_nothing


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with child_runs_leave_nothing():
        yield
