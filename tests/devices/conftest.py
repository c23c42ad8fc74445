"""Fixtures of the device tests: a project directory as CWD, a simulated Red Pitaya, the stand-in
PicoScope driver, no shared memory left behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from picokit import Stub, build_stub
from support import child_runs_leave_nothing

from mimocorb.devices import MCPHASimulator


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    with child_runs_leave_nothing():
        yield


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory for setup files; also the current directory of the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def pattern_sim() -> Iterator[MCPHASimulator]:
    """A simulator on a free loopback port sending the known pattern, keeping what it sent."""
    with MCPHASimulator(port=0, pattern=True, rate=2000, record=True) as sim:
        yield sim


@pytest.fixture(scope="session")
def stub_builds(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The directory of a family's stand-in library (libps4000a.so, ...), built once per test process."""
    built: dict[str, Path] = {}

    def library_dir(family: str) -> Path:
        if family not in built:
            built[family] = build_stub(tmp_path_factory.mktemp(f"picostub_{family}"), family).parent
        return built[family]

    return library_dir


@pytest.fixture(scope="session")
def stub_library_dir(stub_builds: Callable[[str], Path]) -> Path:
    """The stand-in libps4000a.so."""
    return stub_builds("ps4000a")


@pytest.fixture
def stub(stub_library_dir: Path, tmp_path: Path) -> Stub:
    """The stand-in driver with this test's call log and data file."""
    return Stub(stub_library_dir, tmp_path / "picostub.log", tmp_path / "picostub.data")
