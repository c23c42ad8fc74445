"""Batch calls (``put_batch``, ``get_batch``, ``claim_batch``): the ring's guarantees, many slots a call.

Real processes on a real buffer: every event is stamped (writer id, sequence number) in its data and
counter, and each reader records what it got, so loss, duplicates and reordering show up exactly.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import ringtools
from support import wait_until

from mimocorb.ring import METADATA_DTYPE, Observer, Reader, RingBuffer, RingTimeout, Writer

VPS = 2  # (writer id, sequence number)


def _rows(wid: int, first: int, n: int) -> np.ndarray:
    seq = np.arange(first, first + n, dtype=np.int64)
    return np.stack([np.full(n, wid, np.int64), seq], axis=1)


def batch_writer(setup: dict, wid: int, n: int, batch: int) -> None:
    w = Writer(setup)
    rng = random.Random(wid)
    done = 0
    while done < n:
        k = min(n - done, rng.randint(1, batch))
        rows = _rows(wid, done, k)
        meta = np.zeros(k, METADATA_DTYPE)
        meta["counter"], meta["timestamp"] = rows[:, 1], -1.0
        assert w.put_batch(rows, meta, timeout=60) == k
        done += k
    w.close()


def single_writer(setup: dict, wid: int, n: int) -> None:
    w = Writer(setup)
    for seq in range(n):
        v = w.get_new_buffer(timeout=60)
        v[:] = (wid, seq)
        w.set_metadata(seq, time.time(), 0.0)
        w.process_buffer()
    w.close()


def _save(path, got: list[np.ndarray]) -> None:
    arr = np.concatenate(got) if got else np.empty((0, VPS + 1), np.int64)
    np.save(path, arr)


def batch_reader(setup: dict, out: str, max_n: int) -> None:
    """get_batch until shutdown; each row saved with its metadata counter (must equal the seq)."""
    r = Reader(setup)
    got = []
    try:
        while True:
            data, meta = r.get_batch(max_n, timeout=60)
            got.append(np.column_stack([data, meta["counter"]]))
    except SystemExit:
        pass
    _save(out, got)


def single_reader(setup: dict, out: str) -> None:
    r = Reader(setup)
    got = []
    for data in r:
        got.append(np.array([[data[0], data[1], r.get_metadata()[0]]]))
    _save(out, got)


def claiming_reader(setup: dict, out: str, max_n: int, window: int) -> None:
    """Keeps up to ``window`` claimed batches outstanding and releases them in random order (all of
    them when it runs dry, as a consumer must: shutdown waits for their release)."""
    r = Reader(setup)
    rng = random.Random(7)
    held, got = [], []
    try:
        while True:
            try:
                b = r.claim_batch(max_n, timeout=0.05)
            except RingTimeout:
                while held:
                    held.pop().release()
                continue
            got.append(np.column_stack([b.data, b.metadata["counter"]]))
            held.append(b)
            while len(held) > rng.randint(0, window):
                held.pop(rng.randrange(len(held))).release()
    except SystemExit:
        pass
    _save(out, got)


def holding_claimer(setup: dict, n: int, ready) -> None:
    r = Reader(setup)
    b = r.claim_batch(n, timeout=60)
    assert len(b) == n
    ready.set()
    time.sleep(600)


def claiming_writer(setup: dict, n: int, ready) -> None:
    """Stops between claiming a batch of slots and publishing it: the state of a writer killed there."""
    w = Writer(setup)
    assert w._claim_batch(n) is not None
    ready.set()
    time.sleep(600)


def _check(rows: np.ndarray, writers: dict[int, int], what: str) -> None:
    """Every (writer, seq) exactly once, each writer's events in order, metadata matching the data."""
    assert (rows[:, 1] == rows[:, 2]).all(), f"{what}: metadata does not belong to its event"
    for wid, n in writers.items():
        seq = rows[rows[:, 0] == wid, 1]
        assert sorted(seq.tolist()) == list(range(n)), f"{what}: writer {wid} events missing or doubled"


def _in_order(rows: np.ndarray, what: str) -> None:
    for wid in np.unique(rows[:, 0]):
        seq = rows[rows[:, 0] == wid, 1]
        assert (np.diff(seq) > 0).all(), f"{what}: writer {wid} events out of order"


@pytest.mark.timeout(180)
def test_exactly_once_and_order_across_groups_members_and_call_kinds(procs, tmp_path) -> None:
    """Batch and single writers; group 0 shared by a batch reader and a single reader; group 1 a
    claiming reader with outstanding batches released out of order; group 2 a lone batch reader."""
    n_batch, n_single = 20_000, 3_000
    buf = RingBuffer(64, VPS, np.int64)
    try:
        g0, g1, g2 = buf.new_reader_group(), buf.new_reader_group(), buf.new_reader_group()
        out = {k: str(tmp_path / f"{k}.npy") for k in ("a", "b", "c", "d")}
        readers = [
            procs.start(batch_reader, g0, out["a"], 50),
            procs.start(single_reader, g0, out["b"]),
            procs.start(claiming_reader, g1, out["c"], 40, 4),
            procs.start(batch_reader, g2, out["d"], 1000),
        ]
        wait_until(
            lambda: [g["processes"] for g in buf.stats()["groups"]] == [2, 1, 1], 30, "all readers attached"
        )
        writers = [
            procs.start(batch_writer, buf.new_writer(), 1, n_batch, 300),
            procs.start(single_writer, buf.new_writer(), 2, n_single),
        ]
        procs.join(writers, timeout=120)
        buf.shutdown(timeout=60)
        procs.join(readers, timeout=60)
        assert buf.shutdown_report["drained"], buf.shutdown_report
    finally:
        buf.close()
    expected = {1: n_batch, 2: n_single}
    a, b, c, d = (np.load(out[k]) for k in ("a", "b", "c", "d"))
    _check(np.concatenate([a, b]), expected, "group 0")
    assert len(a) and len(b), "both processes of group 0 got events"
    for rows, what in (
        (a, "group 0 batch reader"),
        (b, "group 0 single reader"),
        (c, "group 1"),
        (d, "group 2"),
    ):
        _in_order(rows, what)
    _check(c, expected, "group 1")
    _check(d, expected, "group 2")


@pytest.mark.timeout(120)
def test_killed_batch_holder_in_a_group_is_reclaimed(procs, tmp_path) -> None:
    """A reader holding a claimed batch of 10 is SIGKILLed: the reclaim reports 10 lost events, the
    other member of its group and the writer go on past a ring's worth of events."""
    buf = RingBuffer(32, VPS, np.int64)
    try:
        g = buf.new_reader_group()
        ready = procs.ctx.Event()
        victim = procs.start(holding_claimer, g, 10, ready)
        w = Writer(buf.new_writer())
        w.put_batch(_rows(0, 0, 10), timeout=10)
        assert ready.wait(30), "the victim never claimed its batch"
        survivor = procs.start(batch_reader, g, str(tmp_path / "s.npy"), 7)
        wait_until(lambda: buf.stats()["groups"][0]["processes"] == 2, 30, "both readers attached")
        ringtools.kill_and_wait(victim)
        reports = buf.reclaim_dead([victim.pid])
        assert reports == [{"pid": victim.pid, "role": "reader", "group": 0, "lost_events": 10}]
        assert w.put_batch(_rows(0, 10, 200), timeout=30) == 200, "the killed holder still blocks the ring"
        w.close()
        buf.shutdown(timeout=30)
        procs.join([survivor], timeout=30)
    finally:
        buf.close()
    got = np.load(tmp_path / "s.npy")
    assert got[:, 1].tolist() == list(range(10, 210))


def test_killed_sole_holder_of_a_redelivering_group_gives_its_events_to_the_next(procs, tmp_path) -> None:
    """A group made with ``redeliver``: its only process, holding claimed batches (one released out of
    order, a lost slot among them), is SIGKILLed; its next process gets everything from the oldest
    batch still held on, in order, nothing counted as lost, and the positions skip the lost slot."""
    buf = RingBuffer(32, VPS, np.int64)
    try:
        g = buf.new_reader_group(redeliver=True)
        w = Writer(buf.new_writer())
        w.put_batch(_rows(0, 0, 4), timeout=10)
        w.get_new_buffer(timeout=10)
        w.discard()  # position 4: a discarded slot, skipped by readers
        w.put_batch(_rows(0, 4, 8), timeout=10)
        ready = procs.ctx.Event()
        victim = procs.start(holding_claimer, g, 4, ready)  # holds positions 0..3
        assert ready.wait(30), "the victim never claimed its batch"
        ringtools.kill_and_wait(victim)
        reports = buf.reclaim_dead([victim.pid])
        assert reports == [
            {"pid": victim.pid, "role": "reader", "group": 0, "lost_events": 0, "returned_events": 4}
        ]
        r = Reader(g)
        first = r.claim_batch(100, timeout=10)
        assert first.data[:, 1].tolist() == list(range(12))
        assert first.positions().tolist() == [0, 1, 2, 3, *range(5, 13)]
        first.release()
        r.close()
        assert buf.stats()["lost"] == 0 and buf.stats()["groups"][0]["consumed"] == 12
        w.close()
        buf.shutdown(timeout=10)
    finally:
        buf.close()


@pytest.mark.timeout(120)
def test_killed_writer_with_a_claimed_batch_is_reclaimed(procs, tmp_path) -> None:
    """A writer killed between claiming 5 slots and publishing them: they are published as lost, so
    readers and other writers go on and nothing waits for them."""
    buf = RingBuffer(16, VPS, np.int64)
    try:
        g = buf.new_reader_group()
        ready = procs.ctx.Event()
        victim = procs.start(claiming_writer, buf.new_writer(), 5, ready)
        assert ready.wait(30)
        reader = procs.start(batch_reader, g, str(tmp_path / "r.npy"), 8)
        ringtools.kill_and_wait(victim)
        reports = buf.reclaim_dead([victim.pid])
        assert reports == [{"pid": victim.pid, "role": "writer", "group": -1, "lost_events": 5}]
        w = Writer(buf.new_writer())
        assert w.put_batch(_rows(0, 0, 100), timeout=30) == 100
        w.close()
        buf.shutdown(timeout=30)
        procs.join([reader], timeout=30)
        assert buf.stats()["lost"] == 5
    finally:
        buf.close()
    assert np.load(tmp_path / "r.npy")[:, 1].tolist() == list(range(100))


@pytest.mark.timeout(120)
def test_shutdown_delivers_everything_committed_to_slow_batch_readers(procs, tmp_path) -> None:
    buf = RingBuffer(128, VPS, np.int64)
    try:
        g0, g1 = buf.new_reader_group(), buf.new_reader_group()
        r0 = procs.start(batch_reader, g0, str(tmp_path / "a.npy"), 3)
        r1 = procs.start(claiming_reader, g1, str(tmp_path / "b.npy"), 5, 3)
        wait_until(
            lambda: [g["processes"] for g in buf.stats()["groups"]] == [1, 1], 30, "both readers attached"
        )
        w = Writer(buf.new_writer())
        for k in range(0, 120, 40):  # fills the ring while the readers are still starting
            w.put_batch(_rows(0, k, 40), timeout=30)
        w.close()
        buf.shutdown(timeout=30)  # at once: the readers still have most of the events to read
        procs.join([r0, r1], timeout=30)
        assert buf.shutdown_report == {"drained": True, "undelivered": {}, "uncommitted": 0}
    finally:
        buf.close()
    for name in ("a", "b"):
        assert np.load(tmp_path / f"{name}.npy")[:, 1].tolist() == list(range(120))


def test_outstanding_claims_hold_recycling_and_writer_timeout_commits_a_part() -> None:
    """Unreleased claimed batches keep their slots; put_batch then commits what fits and reports it,
    and a later call with nothing free raises RingTimeout."""
    buf = RingBuffer(16, VPS, np.int64)
    try:
        r = Reader(buf.new_reader_group())
        w = Writer(buf.new_writer())
        assert w.put_batch(_rows(0, 0, 12)) == 12
        b1, b2 = r.claim_batch(5), r.claim_batch(5)
        assert (b1.data[:, 1].tolist(), b2.data[:, 1].tolist()) == (list(range(5)), list(range(5, 10)))
        assert r.outstanding() == 10
        b2.release()  # the newer one first: nothing can be recycled yet
        assert w.put_batch(_rows(0, 12, 10), timeout=0.3) == 4
        with pytest.raises(RingTimeout):
            w.put_batch(_rows(0, 16, 1), timeout=0.2)
        b1.release()
        assert r.outstanding() == 0
        assert w.put_batch(_rows(0, 16, 10), timeout=5) == 10
        held = r.claim_batch(1, timeout=5)
        with pytest.raises(RuntimeError, match="outstanding"):
            r.get_batch(1)
        held.release()
        r.close()
        w.close()
    finally:
        buf.close()


def test_bad_batch_input_is_refused_without_effect() -> None:
    buf = RingBuffer(8, 3, np.float32)
    try:
        r = Reader(buf.new_reader_group())
        w = Writer(buf.new_writer())
        with pytest.raises(ValueError, match="rows of 3 values"):
            w.put_batch(np.zeros((4, 2), np.float32))
        with pytest.raises(ValueError, match="counter, timestamp, deadtime"):
            w.put_batch(np.zeros((2, 3), np.float32), metadata=np.zeros(2))
        with pytest.raises(ValueError, match="max_n"):
            r.get_batch(0)
        assert buf.stats()["claimed"] == 0
        w.put_batch(np.ones((2, 3), np.float32))
        data, meta = r.get_batch(10, timeout=5)
        assert data.dtype == np.float32 and data.shape == (2, 3) and meta.dtype == np.dtype(METADATA_DTYPE)
        assert meta["counter"].tolist() == [0, 1] and (meta["timestamp"] > 0).all()
        r.close()
        w.close()
    finally:
        buf.close()


def test_observer_sees_batch_committed_events_and_structured_dtypes() -> None:
    dt = [("a", np.float64), ("b", np.int32)]
    buf = RingBuffer(8, 4, dt)
    try:
        r = Reader(buf.new_reader_group())
        o = Observer(buf.new_observer(min_interval=0.0))
        w = Writer(buf.new_writer())
        rows = np.zeros((3, 4), dt)
        rows["a"], rows["b"] = np.arange(12).reshape(3, 4) * 0.5, np.arange(12).reshape(3, 4)
        w.put_batch(rows)
        data, meta = o.get(timeout=5)
        assert data.tolist() == rows[2].tolist() and meta["counter"][0] == 2
        got, _ = r.get_batch(5, timeout=5)
        assert got.dtype == np.dtype(dt) and got.tolist() == rows.tolist()
        r.close()
        w.close()
    finally:
        buf.close()


def test_tags_are_committed_with_the_events() -> None:
    """last_tag() is the tag of the newest committed event, skipping lost and discarded slots."""
    buf = RingBuffer(8, 1, np.int64)
    try:
        r = Reader(buf.new_reader_group())
        w = Writer(buf.new_writer())
        assert w.last_tag() == -1
        w.put_batch(np.arange(3), tags=np.array([10, 11, 12]))
        assert w.last_tag() == 12
        w.get_new_buffer()
        w.discard()
        assert w.last_tag() == 12
        w.put_batch(np.arange(2))
        assert w.last_tag() == -1
        r.close()
        w.close()
    finally:
        buf.close()


def test_one_event_calls_number_stamp_tag_and_copy_like_batches() -> None:
    """A batch of one event takes the single-slot calls: counters go on across single events and
    batches, the timestamp is set, the tag kept; a claimed one-event batch's copies stay as they were
    after its slot is written again, its view (copy=False) is the slot."""
    buf = RingBuffer(4, 2, np.int64)
    try:
        r = Reader(buf.new_reader_group())
        w = Writer(buf.new_writer())
        assert w.put_batch(_rows(0, 0, 1), tags=[7]) == 1
        assert w.last_tag() == 7
        assert w.put_batch(_rows(0, 1, 2)) == 2
        assert w.put_batch(_rows(0, 3, 1)) == 1
        assert w.last_tag() == -1
        data, meta = r.get_batch(4, timeout=5)
        assert data[:, 1].tolist() == [0, 1, 2, 3] and meta["counter"].tolist() == [0, 1, 2, 3]
        assert (meta["timestamp"] > 0).all() and (meta["deadtime"] == -1).all()
        r.release()
        meta1 = np.zeros(1, METADATA_DTYPE)
        meta1["counter"], meta1["timestamp"], meta1["deadtime"] = 40, 1.5, 0.25
        w.put_batch(_rows(1, 40, 1), meta1, tags=np.array([40]))
        kept = r.claim_batch(1, timeout=5)
        kept.release()
        for k in range(41, 45):  # every slot written again, the one of ``kept`` too
            w.put_batch(_rows(1, k, 1), timeout=5)
            view = r.claim_batch(1, timeout=5, copy=False)
            assert not view.data.flags.owndata and view.data.tolist() == [[1, k]]
            assert view.metadata["counter"].tolist() == [k - 36]  # the writer's 6th, 7th, ... event
            view.release()
        assert kept.data.tolist() == [[1, 40]] and kept.metadata.tolist() == [(40, 1.5, 0.25)]
        w.put_batch(_rows(1, 45, 4))
        with pytest.raises(RingTimeout):
            w.put_batch(_rows(1, 49, 1), timeout=0.1)
        r.close()
        w.close()
    finally:
        buf.close()


def test_views_of_claimed_slots_and_per_event_arrays() -> None:
    """claim_batch(copy=False) gives a view of consecutive slots, valid while held; put_batch takes a
    list of per-event arrays and refuses a wrong one before claiming anything."""
    buf = RingBuffer(8, 3, np.float64)
    try:
        r = Reader(buf.new_reader_group())
        w = Writer(buf.new_writer())
        rows = [np.full(3, k, np.float64) for k in range(5)]
        with pytest.raises(ValueError, match="arrays of 3"):
            w.put_batch([*rows[:2], np.zeros(2)])
        assert buf.stats()["claimed"] == 0
        assert w.put_batch(rows) == 5
        b = r.claim_batch(5, copy=False)
        assert not b.data.flags.owndata and b.data[:, 0].tolist() == [0, 1, 2, 3, 4]
        assert b.data.shape == (5, 3)
        b.release()
        c = r.claim_batch(5, timeout=0.1) if r.data_available() else None
        assert c is None
        r.close()
        w.close()
    finally:
        buf.close()
