"""Bad input raises the documented exception at once and corrupts nothing: the buffer keeps working."""

from __future__ import annotations

import numpy as np
import pytest
import ringworkers as rw
from support import shm

from mimocorb import mimo_buffer as bm
from mimocorb.ring import RingTimeout


def roundtrip(buf, wsetup: dict, rsetup: dict, seq: int) -> None:
    """One event through a fresh writer and reader: the buffer still works."""
    w, r = bm.Writer(wsetup), bm.Reader(rsetup)
    try:
        rw.fill_event(w.get_new_buffer(timeout=2), 7, seq)
        w.process_buffer()
        assert rw.decode(r.get(timeout=2)) == (7, seq, True)
        r.release()
    finally:
        w.close()
        r.close()


@pytest.fixture
def buf():
    b = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    try:
        yield b
    finally:
        b.shutdown(timeout=0.5)
        b.close()


@pytest.mark.parametrize(
    ("slots", "values", "dtype"),
    [
        (0, 4, np.int32),
        (-1, 4, np.int32),
        ("3", 4, np.int32),
        (True, 4, np.int32),
        (2.5, 4, np.int32),
        (None, 4, np.int32),
        (4, 0, np.int32),
        (4, -3, np.int32),
        (4, "4", np.int32),
        (4, False, np.int32),
        (4, 4, "no_such_type"),
        (4, 4, object),
        (4, 4, [("a", np.float64), ("b", object)]),
        (4, 4, [("a", "not a type")]),
        (4, 4, np.dtype("V0")),
    ],
)
def test_new_buffer_rejects_bad_arguments(slots, values, dtype) -> None:
    start = shm.before()
    with pytest.raises(ValueError):
        bm.NewBuffer(slots, values, dtype)
    assert shm.leftovers(start, grace=0) == set(), "a failed NewBuffer left memory"
    ok = bm.NewBuffer(2, 4, rw.EVENT_DTYPE)  # and a correct call still works
    try:
        roundtrip(ok, ok.new_writer(), ok.new_reader_group(), 0)
    finally:
        ok.close()


def test_numpy_integer_sizes_are_accepted() -> None:
    b = bm.NewBuffer(np.int64(3), np.int32(4), rw.EVENT_DTYPE)
    try:
        assert (b.number_of_slots, b.values_per_slot) == (3, 4)
        roundtrip(b, b.new_writer(), b.new_reader_group(), 0)
    finally:
        b.close()


@pytest.mark.parametrize(
    ("kind", "handle"),
    [
        (k, h)
        for k in ("writer", "reader", "observer")
        for h in ("Writer", "Reader", "Observer")
        if k != h.lower()
    ],
)
def test_setup_dict_of_another_kind_is_refused(buf, kind: str, handle: str) -> None:
    setups = {"writer": buf.new_writer(), "reader": buf.new_reader_group(), "observer": buf.new_observer()}
    with pytest.raises(ValueError):
        getattr(bm, handle)(setups[kind])
    roundtrip(buf, setups["writer"], setups["reader"], 1)


@pytest.mark.parametrize("handle", ["Writer", "Reader", "Observer", "Monitor"])
@pytest.mark.parametrize("setup", [{}, None, "setup", 42, {"number_of_slots": 4}], ids=repr)
def test_non_setup_dicts_are_refused(buf, handle: str, setup) -> None:
    w, g = buf.new_writer(), buf.new_reader_group()
    with pytest.raises(ValueError):
        getattr(bm, handle)(setup)
    roundtrip(buf, w, g, 2)


@pytest.mark.parametrize("what", ["new_writer", "new_reader_group", "new_observer"])
def test_new_setup_dicts_after_shutdown_raise_runtime_error(what: str) -> None:
    b = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    try:
        g = b.new_reader_group()
        w = bm.Writer(b.new_writer())
        r = bm.Reader(g)
        rw.fill_event(w.get_new_buffer(timeout=1), 0, 0)
        w.process_buffer()
        b.shutdown(timeout=0.3)
        with pytest.raises(RuntimeError):
            getattr(b, what)()
        # nothing changed: same groups, the committed event is still counted, shutdown twice is harmless
        s = b.stats()
        assert len(s["groups"]) == 1 and s["committed"] == 1
        b.shutdown(timeout=0.1)
        with pytest.raises(SystemExit):
            r.get(timeout=1)
        w.close()
        r.close()
    finally:
        b.close()


@pytest.mark.parametrize("handle", ["Writer", "Reader", "Observer", "Monitor"])
def test_attach_after_close_raises_runtime_error(handle: str) -> None:
    b = bm.NewBuffer(4, 4, rw.EVENT_DTYPE)
    setups = {"Writer": b.new_writer(), "Reader": b.new_reader_group(), "Observer": b.new_observer()}
    setups["Monitor"] = setups["Writer"]
    b.close()
    with pytest.raises(RuntimeError):
        getattr(bm, handle)(setups[handle])
    b.close()  # twice is harmless


def test_timeouts_raise_ring_timeout_and_change_nothing(buf) -> None:
    g, ws = buf.new_reader_group(), buf.new_writer()
    r, w = bm.Reader(g), bm.Writer(ws)
    with pytest.raises(RingTimeout):
        r.get(timeout=0.1)
    assert issubclass(RingTimeout, TimeoutError)
    for seq in range(4):  # fill the ring
        rw.fill_event(w.get_new_buffer(timeout=1), 0, seq)
    w.process_buffer()
    with pytest.raises(RingTimeout):
        w.get_new_buffer(timeout=0.1)
    with pytest.raises(RingTimeout):
        w.get_new_buffer(timeout=0)
    s = buf.stats()
    assert (s["committed"], s["claimed"], s["fill"]) == (4, 4, 4)
    # the ring still works: the events are all there, in order, and the writer goes on
    for seq in range(4):
        assert rw.decode(r.get(timeout=1)) == (0, seq, True)
    rw.fill_event(w.get_new_buffer(timeout=1), 0, 4)  # counter continues after the timeouts
    w.process_buffer()
    assert rw.decode(r.get(timeout=1)) == (0, 4, True)
    assert r.get_metadata()[0] == 4  # calls that timed out handed out no slot and do not count
    with pytest.raises(RingTimeout):
        r.get(timeout=0.1)
    r.close()
    w.close()
    roundtrip(buf, ws, g, 9)


def test_writer_after_set_ending_raises_system_exit(buf) -> None:
    g = buf.new_reader_group()
    w, r = bm.Writer(buf.new_writer()), bm.Reader(g)
    rw.fill_event(w.get_new_buffer(timeout=1), 0, 0)
    buf.set_ending()
    with pytest.raises(SystemExit) as e:
        w.get_new_buffer(timeout=1)
    assert e.value.code in (None, 0)
    assert rw.decode(r.get(timeout=1)) == (0, 0, True), "the slot held at set_ending was not committed"
    with pytest.raises(SystemExit):
        w.get_new_buffer(timeout=1)
    assert r.data_available() is False
    r.release()
    buf.shutdown(timeout=1)
    with pytest.raises(SystemExit):
        w.get_new_buffer(timeout=1)
    w.close()
    r.close()


def test_reader_after_shutdown_raises_system_exit(buf) -> None:
    g = buf.new_reader_group()
    r = bm.Reader(g)
    buf.shutdown(timeout=0.5)
    with pytest.raises(SystemExit) as e:
        r.get(timeout=1)
    assert e.value.code in (None, 0)
    with pytest.raises(SystemExit):  # and again
        r.get()
    assert r.data_available() is True  # get() returns at once (with SystemExit)
    r2 = bm.Reader(g)  # attaching is still possible, reading is not
    with pytest.raises(SystemExit):
        r2.get(timeout=1)
    r.close()
    r2.close()


def test_set_metadata_without_a_slot_is_a_no_op(buf) -> None:
    g = buf.new_reader_group()
    w, r = bm.Writer(buf.new_writer()), bm.Reader(g)
    w.set_metadata(5, 6.0, 0.5)  # nothing held: ignored
    w.process_buffer()  # nothing held: no-op
    w.discard()  # nothing held: no-op
    assert buf.stats()["committed"] == 0 and buf.stats()["discarded"] == 0
    assert r.get_metadata() == (0, -1, -1)
    rw.fill_event(w.get_new_buffer(timeout=1), 0, 0)
    w.process_buffer()
    r.get(timeout=1)
    assert r.get_metadata()[0] == 0
    w.close()
    r.close()
