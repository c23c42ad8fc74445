"""Observers: consistent copies under heavy writing, independent channels, the final None."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import ringworkers as rw
from support import poll_until

from mimocorb import mimo_buffer as bm
from mimocorb.ring import RingTimeout

MIN_CHECKED = 150  # copies each observer must have verified before the writer stops


def _heavy_run(procs, tmp_path: Path, vps: int, nslots: int) -> list[dict]:
    """A writer filling slots as fast as it can, one fast reader, two observers with min_interval=0."""
    buf = bm.NewBuffer(nslots, vps, rw.HEAVY_DTYPE)
    try:
        group, wsetup = buf.new_reader_group(), buf.new_writer()
        stop = procs.ctx.Event()
        counters = [procs.ctx.Value("q", 0, lock=False) for _ in range(2)]
        outs = [tmp_path / f"observer_{k}.json" for k in range(2)]
        observers = [
            procs.start(rw.heavy_observer, buf.new_observer(0.0), counters[k], outs[k]) for k in (0, 1)
        ]
        reader = procs.start(rw.heavy_reader, group, tmp_path / "reader.json")
        writer = procs.start(rw.heavy_writer, wsetup, stop, tmp_path / "writer.json")
        # the test is observing under heavy writing for a while: ~2 s, and on a busy machine until each
        # observer verified enough copies (the assertions below say which one fell short)
        time.sleep(2.0)
        poll_until(lambda: min(c.value for c in counters) >= MIN_CHECKED or not writer.is_alive(), 60, 0.1)
        stop.set()
        procs.join([writer], timeout=60)
        buf.shutdown(timeout=30)
        procs.join([reader, *observers], timeout=30)
        assert buf.shutdown_report["drained"]
    finally:
        procs.cleanup()
        buf.close()
    written = rw.load(tmp_path / "writer.json")["written"]
    read = rw.load(tmp_path / "reader.json")
    assert read == {"read": written, "in_order": True}
    assert written > 2 * nslots, "the ring never lapped: the test proves nothing"
    return [rw.load(out) for out in outs]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("vps", "nslots"),
    [
        pytest.param(4250, 4, id="4x4250xf8"),
        pytest.param(1, 2, id="4x1xf8"),
    ],
)
def test_observer_copies_never_torn_under_heavy_writing(procs, tmp_path: Path, vps: int, nslots: int) -> None:
    results = _heavy_run(procs, tmp_path, vps, nslots)
    for k, r in enumerate(results):
        assert r["end"] == "none", f"observer {k} got no end-of-run None"
        assert r["bad"] == 0, f"observer {k}: {r['bad']} of {r['checked']} copies torn, e.g. {r['first_bad']}"
        assert r["increasing"], f"observer {k}: copies not in commit order"
        assert r["checked"] >= MIN_CHECKED
    assert sum(r["checked"] for r in results) >= 2 * MIN_CHECKED


@pytest.mark.timeout(60)
def test_two_observers_both_get_data_and_their_own_none(procs, tmp_path: Path) -> None:
    """Every new_observer() is an independent channel, each ends with its own None."""
    buf = bm.NewBuffer(8, 4, rw.EVENT_DTYPE)
    try:
        group = buf.new_reader_group()
        outs = [tmp_path / f"obs{k}.json" for k in range(2)]
        obs = [procs.start(rw.counting_observer, buf.new_observer(min_interval=0.0), out) for out in outs]
        reader = procs.start(rw.seq_reader, group, tmp_path / "reader.json")
        writer = procs.start(rw.seq_writer, buf.new_writer(), 0, 200, tmp_path / "writer.json", 0.002)
        procs.join([writer], timeout=45)
        buf.shutdown(timeout=20)
        procs.join([reader, *obs], timeout=20)
    finally:
        procs.cleanup()
        buf.close()
    for out in outs:
        r = rw.load(out)
        assert r["end"] == "none"
        assert r["rows"], "an observer starved"
        seqs = [seq for _, seq, _ in r["rows"]]
        assert seqs == sorted(set(seqs)), "an observer got duplicates or copies out of order"
        assert all(intact for *_, intact in r["rows"])


@pytest.mark.timeout(60)
def test_final_none_reaches_an_observer_that_did_not_take_its_copies(procs, tmp_path: Path) -> None:
    """An observer that let copies pile up still gets its end-of-run None (and no stale copy)."""
    buf = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    try:
        go = procs.ctx.Event()
        lazy = procs.start(rw.lazy_observer, buf.new_observer(), go, tmp_path / "lazy.json")
        busy = procs.start(rw.counting_observer, buf.new_observer(), tmp_path / "busy.json")
        r = bm.Reader(buf.new_reader_group())
        w = bm.Writer(buf.new_writer())
        for seq in range(20):
            rw.fill_event(w.get_new_buffer(timeout=5), 0, seq)
            w.process_buffer()
            assert rw.decode(r.get(timeout=5)) == (0, seq, True)
            time.sleep(0.01)
        w.close()
        r.close()
        buf.shutdown(timeout=5)
        go.set()
        procs.join([lazy, busy], timeout=30)
    finally:
        procs.cleanup()
        buf.close()
    assert rw.load(tmp_path / "lazy.json") == {"first": "None"}
    busy = rw.load(tmp_path / "busy.json")
    assert busy["end"] == "none" and busy["rows"]


@pytest.mark.timeout(60)
def test_observer_rate_limit(procs, tmp_path: Path) -> None:
    """At most one copy per min_interval (an upper bound on the count: robust on a busy machine)."""
    buf = bm.NewBuffer(8, 4, rw.EVENT_DTYPE)
    interval = 0.2
    try:
        group = buf.new_reader_group()
        obs = procs.start(rw.counting_observer, buf.new_observer(min_interval=interval), tmp_path / "o.json")
        reader = procs.start(rw.seq_reader, group, tmp_path / "r.json")
        writer = procs.start(rw.seq_writer, buf.new_writer(), 0, 300, tmp_path / "w.json", 0.005)
        procs.join([writer], timeout=45)
        buf.shutdown(timeout=20)
        procs.join([reader, obs], timeout=20)
    finally:
        procs.cleanup()
        buf.close()
    r = rw.load(tmp_path / "o.json")
    assert r["end"] == "none"
    assert 1 <= len(r["rows"]) <= r["seconds"] / interval + 1, (len(r["rows"]), r["seconds"])


def test_observer_gets_nothing_before_the_first_event_and_copies() -> None:
    buf = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    try:
        r = bm.Reader(buf.new_reader_group())
        o = bm.Observer(buf.new_observer(min_interval=0.0))
        with pytest.raises(RingTimeout):
            o.get(timeout=0.2)
        w = bm.Writer(buf.new_writer())
        rw.fill_event(w.get_new_buffer(timeout=1), 0, 0)
        with pytest.raises(RingTimeout):  # claimed but not committed: still nothing to see
            o.get(timeout=0.2)
        w.process_buffer()
        data, meta = o.get(timeout=5)
        assert rw.decode(data) == (0, 0, True)
        assert meta.shape == (1,) and meta[0]["counter"] == 0 and meta[0][0] == 0
        assert data.dtype == np.dtype(rw.EVENT_DTYPE) and data.shape == (4,)
        data[:] = 0  # a copy: the slot is untouched
        assert rw.decode(r.get(timeout=1)) == (0, 0, True)
        with pytest.raises(RingTimeout):  # nothing new since
            o.get(timeout=0.2)
        buf.shutdown(timeout=0.5)
        assert o.dataQ.get(timeout=0.3) is None  # rbObserver reads dataQ.get() directly
        assert o.get() is None
        r.close()
        w.close()
    finally:
        buf.close()
