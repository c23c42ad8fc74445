"""The tests' own check for shared memory left behind (``support.shm``) counts what the checked test's
processes made, and nothing of other programs on the machine, even when one of them got the pid of a
child of an earlier test (pid numbers come round again: pid_max is often 32768)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import shm
from support.children import finish, start

pytestmark = pytest.mark.skipif(not shm.SHM.is_dir(), reason="no /dev/shm on this system")


def _child_pid(cwd: Path) -> int:
    return int(finish(start([sys.executable, "-c", "import os; print(os.getpid())"], cwd)))


@contextlib.contextmanager
def _entry_of(pid: int) -> Iterator[str]:
    """A /dev/shm entry named as mimocorb names a buffer of ``pid``."""
    name = f"{shm.PREFIX}{pid}_leakck"
    (shm.SHM / name).write_bytes(b"")
    try:
        yield name
    finally:
        shm.unlink_entries([name])


def test_an_entry_of_a_pid_an_earlier_test_used_is_not_counted(tmp_path) -> None:
    earlier = _child_pid(tmp_path)
    since = shm.before()
    with _entry_of(earlier):  # another program, which got that pid meanwhile, makes a buffer
        assert shm.leftovers(since, grace=0) == set()


def test_an_entry_of_a_child_started_during_the_check_is_counted(tmp_path) -> None:
    since = shm.before()
    child = _child_pid(tmp_path)
    with _entry_of(child) as name:
        assert shm.leftovers(since, grace=0) == {name}
