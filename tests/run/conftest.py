"""Fixtures of the run-controller tests: a project directory, and no shared memory left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runkit import write_tag_configs
from support import child_runs_leave_nothing


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with child_runs_leave_nothing():
        yield


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory for setup files, with the sink tag configs final.yaml and rb1.yaml.

    It is also the current directory, so runs in the test process put their run directories there.
    """
    write_tag_configs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path
