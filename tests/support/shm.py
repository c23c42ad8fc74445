"""Shared memory of the tests in /dev/shm: which entries are ours, and the checks that none is left.

mimocorb names its segments and semaphores ``mimocorb_<creator pid>_...`` (semaphores with the prefix
``sem.``). Entries whose creator is this process or one of the children started during the check are
ours; other people's runs on the same machine are none of the tests' business, even when one of them
got the pid of a child of an earlier test.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from support.children import TRACKED_PIDS, stop_leftovers, tracked_since

SHM = Path("/dev/shm")
PREFIX = "mimocorb_"
GRACE = 3.0  # a killed controller's segments are removed by its resource tracker, which needs a moment


def entries() -> set[str]:
    """Names of all mimocorb segments and semaphores in /dev/shm."""
    if not SHM.is_dir():
        return set()
    return {p.name for p in SHM.iterdir() if p.name.removeprefix("sem.").startswith(PREFIX)}


def owner_pid(entry: str) -> int:
    try:
        return int(entry.removeprefix("sem.")[len(PREFIX) :].split("_", 1)[0])
    except ValueError:
        return -1


@dataclass(frozen=True)
class Before:
    """What /dev/shm held, and how many children were tracked, when a check began."""

    entries: frozenset[str]
    mark: int


def before() -> Before:
    return Before(frozenset(entries()), len(TRACKED_PIDS))


def entries_of(pid: int) -> set[str]:
    return {e for e in entries() if owner_pid(e) == pid}


def entries_named(base: str) -> set[str]:
    return {e for e in entries() if e.removeprefix("sem.").startswith(base)}


def unlink_entries(names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (SHM / name).unlink()


def leftovers(since: Before, grace: float, collect: bool = False) -> set[str]:
    """Entries new since ``since``, made by this process or a child started since, that are still there
    after up to ``grace`` s; with ``collect``, buffers that only wait for the garbage collector are
    collected first."""
    deadline = time.monotonic() + grace
    while True:
        if collect:
            gc.collect()
        owners = tracked_since(since.mark)
        left = {e for e in entries() - since.entries if owner_pid(e) in owners}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@contextlib.contextmanager
def no_new_segments(grace: float = GRACE) -> Iterator[None]:
    """Fail if the body leaves new shared memory of ours behind."""
    start = before()
    yield
    left = leftovers(start, grace)
    assert not left, f"shared memory left behind in /dev/shm: {sorted(left)}"


@contextlib.contextmanager
def child_runs_leave_nothing() -> Iterator[None]:
    """For tests that start whole runs: a run the test left running (it failed before ending it) is
    killed first, then no new shared memory of ours may be left."""
    with no_new_segments():
        yield
        stop_leftovers()


def remove_shared_memory_of(pid: int) -> None:
    """What ``mimocorb cleanup`` does, limited to one killed controller (others' leftovers are not ours)."""
    from mimocorb.ring import _shm

    for entry in _shm._registry_dir().glob(f"{_shm.PREFIX}{pid}_*.json"):
        try:  # a run started meanwhile (another suite on the machine) may clean up dead owners first
            data = json.loads(entry.read_text())
        except FileNotFoundError:
            continue
        for segment in data.get("segments", []):
            _shm.unlink_segment(segment)
        for semaphore in data.get("semaphores", []):
            _shm.unlink_semaphore(semaphore)
        entry.unlink(missing_ok=True)
    unlink_entries(entries_of(pid))
