"""Fixtures of the recording tests: a project directory as CWD, and no shared memory left behind."""

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
    """An empty directory for setup files; also the current directory of the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
