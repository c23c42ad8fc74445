"""Fixtures of the alarm tests: a project directory, and no shared memory left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import child_runs_leave_nothing


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with child_runs_leave_nothing():
        yield


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory for setup files; the current directory, so run directories go below it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
