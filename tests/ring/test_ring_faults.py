"""Faults: processes killed while they hold slots, and a killed, terminated or interrupted creator.

Only the killed process's in-flight event may be missing, it is reported, nothing deadlocks, and no
shared memory is left behind (also checked for every test by the autouse fixture of conftest.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import ringtools
import ringworkers as rw
from support import poll_until, shm, wait_until

from mimocorb import mimo_buffer as bm
from mimocorb.ring import cleanup_stale
from mimocorb.ring._controlblock import ADMIN_HOLDER, LOCK_ADMIN

REPORT_KEYS = {"pid", "role", "group", "lost_events"}


def _attached(buf, group: int, n: int) -> bool:
    return buf.stats()["groups"][group]["processes"] == n


def _seqs(out: Path, wid: int | None = None) -> list[int]:
    rows = rw.load(out)["rows"]
    assert all(intact for *_, intact in rows), "a reader got a corrupt slot"
    return [seq for w, seq, _ in rows if wid is None or w == wid]


ADMIN_ROUNDS = 150


def _interrupted(process, tries: int = 10) -> bool:
    """Ctrl-C until the process ends (a KeyboardInterrupt raised inside a ``__del__`` is only printed,
    and the process goes on; a process that waits for a lock with its signals held back never ends)."""
    for _ in range(tries):
        os.kill(process.pid, signal.SIGINT)
        process.join(0.5)
        if process.exitcode is not None:
            return True
    return False


@pytest.mark.timeout(60)
def test_ctrl_c_while_the_admin_lock_changes_hands_never_leaves_it_taken(procs) -> None:
    """A Ctrl-C can reach a process just after it took the admin lock and before it wrote down that it
    holds it, or just before it gives it back; no one could then free the lock, and every later
    registration (and the interrupted process's own exit) would wait for ever. Interrupted at random
    moments while it takes and gives the lock back, the process ends and leaves the lock free or held by
    it, by name (then the next one frees it)."""
    buf = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    lock, control = buf._h._lock(LOCK_ADMIN), buf._h._ctl
    rng = random.Random(1)
    try:
        group = buf.new_reader_group()
        for k in range(ADMIN_ROUNDS):
            ready = procs.ctx.Event()
            churn = procs.start(rw.admin_churn, group, ready)
            assert ready.wait(30), "the churning reader did not start"
            time.sleep(rng.uniform(0.001, 0.01))
            assert _interrupted(churn), f"round {k}: the interrupted process does not end"
            if lock.acquire(True, 1.0):
                lock.release()
            else:
                named = control[ADMIN_HOLDER] == churn.pid
                if not named:
                    lock.release()  # by hand, so that the buffer can still be shut down
                assert named, f"round {k}: the admin lock is held by no one"
    finally:
        buf.shutdown(timeout=5)
        buf.close()


@pytest.mark.timeout(120)
def test_reader_killed_in_group_of_two_is_reclaimed_by_supervisor(start_method, procs, tmp_path) -> None:
    """SIGKILL of a reader holding a slot; the supervisor reclaims it when its sentinel fires."""
    n = 100
    buf = bm.NewBuffer(8, 4, rw.EVENT_DTYPE)
    try:
        ga, gb = buf.new_reader_group(), buf.new_reader_group()
        held, held_seq, gate = procs.ctx.Event(), procs.ctx.Value("q", -1), procs.ctx.Event()
        victim = procs.start(rw.holding_reader, ga, held, held_seq)
        other_group = procs.start(rw.seq_reader, gb, tmp_path / "b.json")
        wait_until(lambda: _attached(buf, 0, 1) and _attached(buf, 1, 1), 30, "both readers attached")
        writer = procs.start(rw.seq_writer, buf.new_writer(), 0, n, tmp_path / "w.json", 0.0, gate, 4)
        assert held.wait(30), "the victim never got an event"
        survivor = procs.start(rw.seq_reader, ga, tmp_path / "a.json")
        wait_until(lambda: _attached(buf, 0, 2), 30, "the second reader of group 0 attached")
        ringtools.kill_and_wait(victim)
        reports = buf.reclaim_dead([victim.pid])
        assert reports == [{"pid": victim.pid, "role": "reader", "group": 0, "lost_events": 1}]
        assert _attached(buf, 0, 1)
        assert buf.reclaim_dead([victim.pid]) == [], "reclaimed twice"
        gate.set()  # the writer goes on: more than a ring's worth, so the held slot must be free again
        procs.join([writer], timeout=60)
        buf.shutdown(timeout=30)
        procs.join([survivor, other_group], timeout=30)
        report = buf.shutdown_report
    finally:
        procs.cleanup()
        buf.close()
    assert rw.load(tmp_path / "w.json") == {"wid": 0, "committed": n, "how": "done"}
    lost = held_seq.value
    assert sorted(_seqs(tmp_path / "a.json")) == [s for s in range(n) if s != lost]
    assert _seqs(tmp_path / "b.json") == list(range(n))
    assert report["drained"], report


@pytest.mark.timeout(120)
def test_writer_killed_holding_a_claimed_slot(start_method, procs, tmp_path: Path) -> None:
    """SIGKILL of a writer holding a claimed, unfilled slot while another writer goes on."""
    n_before, n = 5, 300
    buf = bm.NewBuffer(16, 4, rw.EVENT_DTYPE)
    try:
        groups = [buf.new_reader_group() for _ in range(2)]
        readers = [procs.start(rw.seq_reader, g, tmp_path / f"r{k}.json") for k, g in enumerate(groups)]
        held = procs.ctx.Event()
        victim = procs.start(rw.holding_writer, buf.new_writer(), 1, n_before, held)
        assert held.wait(30), "the victim never claimed its slot"
        writer = procs.start(rw.seq_writer, buf.new_writer(), 0, n, tmp_path / "w.json", 0.0005)
        ringtools.kill_and_wait(victim)
        reports = buf.reclaim_dead([victim.pid])
        assert len(reports) == 1 and set(reports[0]) == REPORT_KEYS
        assert (reports[0]["pid"], reports[0]["role"], reports[0]["lost_events"]) == (victim.pid, "writer", 1)
        procs.join([writer], timeout=60)
        stats = buf.stats()
        buf.shutdown(timeout=30)
        procs.join(readers, timeout=30)
        report = buf.shutdown_report
    finally:
        procs.cleanup()
        buf.close()
    assert rw.load(tmp_path / "w.json")["committed"] == n
    assert stats["lost"] == 1
    assert stats["committed"] == n + n_before
    expected = Counter([(1, s) for s in range(n_before)] + [(0, s) for s in range(n)])
    for k in range(2):
        rows = rw.load(tmp_path / f"r{k}.json")["rows"]
        assert all(intact for *_, intact in rows), "the half-written slot (or another) reached a reader"
        assert Counter((w, s) for w, s, _ in rows) == expected
        assert [s for w, s, _ in rows if w == 0] == list(range(n))
    assert report["drained"], report


@pytest.mark.timeout(120)
def test_blocked_writer_recovers_from_killed_reader_without_supervisor(procs, tmp_path: Path) -> None:
    """A reader dies holding the oldest slot of a full ring; nobody calls reclaim_dead and the
    dead process is not even reaped (a zombie): the blocked writer must heal the ring itself."""
    n = 60
    buf = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    try:
        g = buf.new_reader_group()
        held, held_seq = procs.ctx.Event(), procs.ctx.Value("q", -1)
        victim = procs.start(rw.holding_reader, g, held, held_seq)
        wait_until(lambda: _attached(buf, 0, 1), 30, "the reader attached")
        writer = procs.start(rw.seq_writer, buf.new_writer(), 0, n, tmp_path / "w.json")
        assert held.wait(30)
        survivor = procs.start(rw.seq_reader, g, tmp_path / "a.json")
        # the ring fills up behind the held slot (strict FIFO): the writer blocks
        wait_until(lambda: buf.stats()["claimed"] == 4, 30, "all 4 slots claimed")
        ringtools.kill_and_wait(victim)
        procs.join([writer], timeout=30)  # recovers within DEAD_CHECK (1 s); 30 s is hang detection
        assert buf.reclaim_dead([victim.pid]) == [], "the ring should have reclaimed the victim itself"
        buf.shutdown(timeout=30)
        procs.join([survivor], timeout=30)
        report = buf.shutdown_report
    finally:
        procs.cleanup()
        buf.close()
    assert held_seq.value == 0
    assert _seqs(tmp_path / "a.json") == list(range(1, n))
    assert report["drained"], report


@pytest.mark.timeout(60)
def test_dead_reader_is_reclaimed_by_shutdown(procs, tmp_path: Path) -> None:
    """No writer is blocked and nobody reclaims: shutdown() itself clears the dead reader."""
    buf = bm.NewBuffer(8, 4, rw.EVENT_DTYPE)
    try:
        ga, gb = buf.new_reader_group(), buf.new_reader_group()
        held, held_seq = procs.ctx.Event(), procs.ctx.Value("q", -1)
        victim = procs.start(rw.holding_reader, ga, held, held_seq)
        other = procs.start(rw.seq_reader, gb, tmp_path / "b.json")
        w = bm.Writer(buf.new_writer())
        rw.fill_event(w.get_new_buffer(timeout=5), 0, 0)
        w.process_buffer()
        assert held.wait(30)
        ringtools.kill_and_wait(victim)
        buf.shutdown(timeout=20)
        procs.join([other], timeout=30)
        stats, report = buf.stats(), buf.shutdown_report
        assert buf.reclaim_dead([victim.pid]) == []
        w.close()
    finally:
        procs.cleanup()
        buf.close()
    assert stats["groups"][0]["processes"] == 0
    assert _seqs(tmp_path / "b.json") == [0]
    assert report["drained"] and report["undelivered"] == {}, report  # group 0's only event died with it


def _start_creator(tmp_path: Path, *, children: bool, no_tracker: bool):
    """Start a creator process in its own session (so that its process group can be signalled)."""
    report = tmp_path / "creator.json"
    p = ringtools.popen_python(
        f"import ringworkers; ringworkers.creator_main({str(report)!r}, {children!r}, {no_tracker!r})",
        log=tmp_path / "creator.log",
        start_new_session=True,
    )
    ok = poll_until(lambda: report.exists() or p.poll() is not None, 60)
    if not (ok and report.exists()):
        p.kill()
        p.wait(10)
        pytest.fail("creator did not start: " + (tmp_path / "creator.log").read_text())
    info = rw.load(report)
    assert info["pid"] == p.pid and info["entries"], info
    return p, info


def _end_all(p: subprocess.Popen, info: dict) -> None:
    """Kill what is left of a creator and its children (all started by this test)."""
    for pid in [p.pid, *info.get("children", [])]:
        if ringtools.pid_running(pid):
            os.kill(pid, signal.SIGKILL)
    p.wait(10)
    poll_until(lambda: not any(map(ringtools.pid_running, info.get("children", []))), 10)


def _registry_file(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"mimocorb-{os.getuid()}" / f"{name}.json"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("cleanup", ["cleanup_stale", "next NewBuffer in a fresh process"])
@pytest.mark.parametrize("kill", ["creator and its resource tracker", "creator only"])
def test_sigkill_of_the_creator_leaves_nothing_after_cleanup(tmp_path: Path, kill: str, cleanup: str) -> None:
    """The creator is SIGKILLed: no finalizer runs. Either multiprocessing's resource tracker
    (if it survived) or mimocorb's cleanup of segments whose creator is dead removes everything."""
    p, info = _start_creator(tmp_path, children=False, no_tracker=False)
    try:
        if kill == "creator only":
            os.kill(p.pid, signal.SIGKILL)
        else:
            os.killpg(p.pid, signal.SIGKILL)  # the creator leads its own session: tracker included
        assert p.wait(30) == -signal.SIGKILL
        if cleanup == "cleanup_stale":
            removed = cleanup_stale()
            assert isinstance(removed, list)
        else:
            done = ringtools.run_python(
                "import numpy as np\nfrom mimocorb import mimo_buffer as bm\n"
                "b = bm.NewBuffer(2, 1, np.int32)\nb.close()\n",
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        wait_until(lambda: not shm.entries_of(p.pid), 10, "the dead creator's shared memory to go")
        if cleanup == "cleanup_stale":
            assert not _registry_file(info["name"]).exists()
    finally:
        _end_all(p, info)


@pytest.mark.timeout(90)
def test_sigkill_of_the_creator_without_any_tracker(tmp_path: Path) -> None:
    """Only mimocorb's own cleanup can help (the resource tracker is out of the game): the
    segments stay until cleanup_stale() runs, then everything is gone."""
    p, info = _start_creator(tmp_path, children=False, no_tracker=True)
    try:
        os.kill(p.pid, signal.SIGKILL)
        assert p.wait(30) == -signal.SIGKILL
        cleanup_stale()
        assert not shm.entries_of(p.pid)
        assert not _registry_file(info["name"]).exists()
    finally:
        _end_all(p, info)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("sig", "target"),
    [
        (signal.SIGTERM, "creator"),
        (signal.SIGINT, "creator"),
        (signal.SIGINT, "process group"),  # Ctrl-C in a terminal
    ],
    ids=["SIGTERM", "SIGINT", "Ctrl-C"],
)
def test_terminated_creator_leaves_no_segment(tmp_path: Path, sig: int, target: str) -> None:
    """SIGTERM/SIGINT of the creator while its children read: once they ended, nothing is left
    (no cleanup_stale() here: the run itself must clean up)."""
    p, info = _start_creator(tmp_path, children=True, no_tracker=False)
    try:
        assert len(info["children"]) == 2
        if target == "creator":
            os.kill(p.pid, sig)
        else:
            os.killpg(p.pid, sig)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail("the creator did not end: " + (tmp_path / "creator.log").read_text())
        wait_until(
            lambda: not any(map(ringtools.pid_running, info["children"])), 30, "the creator's children to end"
        )
        gone = poll_until(lambda: not shm.entries_of(p.pid), 15, 0.1)
        assert gone, f"left behind: {sorted(shm.entries_of(p.pid))}"
    finally:
        _end_all(p, info)
        cleanup_stale()  # after SIGTERM the registry entry (not shared memory) of the dead creator remains
