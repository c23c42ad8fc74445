"""rbImport and rbPut in one process (the cross-process ends are in test_workers_processes.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support import poll_until
from workers_helpers import collect

from mimocorb.mimo_buffer import Reader
from mimocorb.workers import rbImport, rbPut

DT = [("ch1", np.float32), ("ch2", np.int32)]
VPS = 3  # 24 bytes per slot


def make_source(make_buffer, slots: int = 16):
    buf = make_buffer(slots, VPS, DT, name="RB_1")
    return buf, Reader(buf.new_reader_group())


def numbered(n: int, log: list | None = None):
    """Generator function of n events; event k has ch1 = k + 0.75 everywhere and ch2 = [k, k+1, k+2]."""

    def events():
        for k in range(1, n + 1):
            if log is not None:
                log.append(k)
            yield [np.float64(k + 0.75), np.arange(k, k + VPS)], None

    return events


def test_import_counts_from_1_and_stamps_time_and_deadtime(make_buffer):
    buf, reader = make_source(make_buffer)
    imp = rbImport([buf.new_writer()], {}, numbered(5), RB_1="write")
    t0 = time.time()
    assert imp() is None
    t1 = time.time()
    assert imp.event_count == 5
    got = collect(reader)
    assert [meta[0] for _, meta in got] == [1, 2, 3, 4, 5]
    stamps = [meta[1] for _, meta in got]
    assert all(t0 <= t <= t1 for t in stamps) and stamps == sorted(stamps)
    assert all(0.0 <= meta[2] < 1.0 for _, meta in got)
    for k, (data, _) in enumerate(got, start=1):
        np.testing.assert_array_equal(data["ch1"], np.float32(k + 0.75))
        np.testing.assert_array_equal(data["ch2"], np.arange(k, k + VPS))


def test_import_attributes(make_buffer):
    buf, _ = make_source(make_buffer)
    imp = rbImport([buf.new_writer()], {"x": 1}, numbered(1), RB_1="write")
    assert imp.chnams == ["ch1", "ch2"] and imp.number_of_channels == 2 and imp.event_count == 0
    assert imp.logger.name == "rbImport" and imp.sink.values_per_slot == VPS
    assert imp.config_dict == {"x": 1}


def test_import_generator_is_made_once_in_the_constructor(make_buffer):
    buf, _ = make_source(make_buffer)
    calls = []

    def ufunc():
        calls.append(1)
        yield from numbered(2)()

    imp = rbImport([buf.new_writer()], {}, ufunc, RB_1="write")
    assert calls == []  # a generator function's body starts at the first next()
    imp()
    assert calls == [1] and imp.event_count == 2


def test_import_array_data_with_casting_and_broadcasting(make_buffer):
    buf, reader = make_source(make_buffer)

    def events():
        yield np.array([[1.9, 2.9, 3.9], [-1.7, 2.2, 9.9]]), None  # shape (n_fields, vps); float -> int32

    rbImport([buf.new_writer()], {}, events, RB_1="write")()
    ((data, _),) = collect(reader)
    np.testing.assert_array_equal(data["ch1"], np.float32([1.9, 2.9, 3.9]))
    np.testing.assert_array_equal(data["ch2"], [-1, 2, 9])


def test_import_user_metadata_is_used_verbatim(make_buffer):
    buf, reader = make_source(make_buffer)

    def events():
        yield [1, 2], (42, 1234.5, 0.5)
        yield [1, 2], np.array([7, 99.25, 0.0])

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    imp()
    assert [meta for _, meta in collect(reader)] == [(42, 1234.5, 0.5), (7, 99.25, 0.0)]
    assert imp.event_count == 2


def test_import_generator_that_returns_ends_cleanly(make_buffer):
    """StopIteration is exhaustion, not a crash."""
    buf, reader = make_source(make_buffer)
    imp = rbImport([buf.new_writer()], {}, numbered(3), RB_1="write")
    assert imp() is None
    assert len(collect(reader)) == 3


@pytest.mark.parametrize(
    "end", [(None, None), (None, (1, 2.0, 0.0)), None], ids=["(None, None)", "None data", "None"]
)
def test_import_none_data_ends_without_advancing_further(make_buffer, end):
    buf, reader = make_source(make_buffer)
    taken = []

    def events():
        for k in range(2):
            taken.append(k)
            yield [k, k], None
        taken.append("end")
        yield end
        taken.append("after end")  # must never run
        yield [9, 9], None

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    imp()
    assert taken == [0, 1, "end"] and imp.event_count == 2
    assert len(collect(reader)) == 2


def test_import_commits_each_event_at_once(make_buffer):
    """The first event is readable while the generator still waits for the second one."""
    buf, reader = make_source(make_buffer)
    go_on = threading.Event()

    def events():
        yield [1, 1], None
        go_on.wait(10)
        yield [2, 2], None

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    worker = threading.Thread(target=imp)
    worker.start()
    try:
        reader.get(timeout=10)
        assert reader.get_metadata()[0] == 1
    finally:
        go_on.set()
        worker.join(10)
    assert not worker.is_alive()
    assert [meta[0] for _, meta in collect(reader)] == [2]


def test_import_paused_does_not_advance_the_generator(make_buffer):
    buf, reader = make_source(make_buffer)
    taken = []

    def events():
        k = 0
        while True:
            k += 1
            taken.append(k)
            yield [k, k], None

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    buf.pause()
    worker = threading.Thread(target=imp)
    worker.start()
    try:
        # the sleeps are what is tested: for a few pause steps of rbImport nothing may be taken
        time.sleep(0.35)
        assert taken == []
        buf.resume()
        reader.get(timeout=10)  # events flow after resume
        buf.pause()
        time.sleep(0.25)  # the event in hand when the pause came may still be taken
        n = len(taken)
        time.sleep(0.35)
        assert len(taken) == n  # paused again: not advanced
    finally:
        buf.set_ending()
        worker.join(10)
    assert not worker.is_alive()


def test_import_returns_at_once_when_writers_are_inactive(make_buffer):
    buf, _ = make_source(make_buffer)
    taken = []
    imp = rbImport([buf.new_writer()], {}, numbered(3, taken), RB_1="write")
    buf.set_ending()
    assert imp() is None
    assert taken == [] and imp.event_count == 0


def test_import_blocked_on_a_full_buffer_returns_at_set_ending(make_buffer):
    buf, _ = make_source(make_buffer, slots=2)  # nobody reads: full after 2 events
    imp = rbImport([buf.new_writer()], {}, numbered(100), RB_1="write")
    worker = threading.Thread(target=imp)
    worker.start()
    poll_until(lambda: buf.cumulative_event_count >= 2, 10, 0.01)  # the assertions below tell a miss
    buf.set_ending()
    worker.join(10)
    assert not worker.is_alive()
    assert imp.event_count == 2


def test_import_bad_data_shape_is_a_clear_error_and_commits_nothing(make_buffer):
    buf, reader = make_source(make_buffer)

    def events():
        yield [np.zeros(VPS)], None  # one channel for two fields

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    with pytest.raises(ValueError, match=r"rbImport: cannot store .*expected 2 channels"):
        imp()
    assert collect(reader) == [] and imp.event_count == 0


@pytest.mark.parametrize("item", [(1, 2, 3), 5], ids=["triple", "int"])
def test_import_items_must_be_pairs(make_buffer, item):
    buf, _ = make_source(make_buffer)

    def events():
        yield item

    with pytest.raises(ValueError, match="rbImport: the generator must yield"):
        rbImport([buf.new_writer()], {}, events, RB_1="write")()


def test_import_metadata_must_be_three_values(make_buffer):
    buf, reader = make_source(make_buffer)

    def events():
        yield [1, 1], (1, 2.0)

    imp = rbImport([buf.new_writer()], {}, events, RB_1="write")
    with pytest.raises(ValueError, match=r"rbImport: metadata must be None or \(counter"):
        imp()
    assert collect(reader) == [] and imp.event_count == 0


# ---- rbPut ----------------------------------------------------------------------------------------


def test_put_stores_and_returns_true_while_running(make_buffer):
    buf, reader = make_source(make_buffer)
    put = rbPut([buf.new_writer()], {}, RB_1="write")
    assert put.chnams == ["ch1", "ch2"] and put.number_of_channels == 2 and put.logger.name == "rbPut"
    t0 = time.time()
    assert put([1.5, [1, 2, 3]], None) is True
    assert put([2.5, 7]) is True
    assert put([3.5, 8], (99, 5.0, 0.5)) is True
    t1 = time.time()
    got = collect(reader)
    assert [m[0] for _, m in got] == [1, 2, 99] and put.event_count == 3
    assert all(t0 <= m[1] <= t1 and 0 <= m[2] < 1 for _, m in got[:2]) and got[2][1] == (99, 5.0, 0.5)
    np.testing.assert_array_equal(got[1][0]["ch2"], 7)


def test_put_none_stores_nothing_and_reports_the_run_state(make_buffer):
    buf, reader = make_source(make_buffer)
    put = rbPut([buf.new_writer()], {}, RB_1="write")
    assert put(None) is True
    assert collect(reader) == [] and put.event_count == 0


def test_put_when_paused_drops_the_event_and_returns_none(make_buffer):
    buf, reader = make_source(make_buffer)
    put = rbPut([buf.new_writer()], {}, RB_1="write")
    buf.pause()
    assert put([1, 1]) is None
    buf.resume()
    assert put([2, 2]) is True
    got = collect(reader)
    assert [m[0] for _, m in got] == [1] and got[0][0]["ch2"][0] == 2


def test_put_after_the_end_returns_false_and_stores_nothing(make_buffer):
    buf, reader = make_source(make_buffer)
    put = rbPut([buf.new_writer()], {}, RB_1="write")
    buf.set_ending()
    assert put([1, 1]) is False
    assert put(None) is False
    assert collect(reader) == []


def test_put_ufunc_is_neither_checked_nor_used(make_buffer):
    buf, _ = make_source(make_buffer)
    assert rbPut([buf.new_writer()], {}, ufunc="not callable", RB_1="write")([1, 1]) is True
