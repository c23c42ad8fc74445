"""Fixtures of the display tests: a project directory, and no shared memory left behind."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import child_runs_leave_nothing

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from displaykit import Xvfb, x_tools_missing  # noqa: E402


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with child_runs_leave_nothing():
        yield


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
