"""rbExport, rbDrain, rbObserver and rbWSObserver on real buffers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from workers_helpers import shutdown_in_background, write_events

from mimocorb.mimo_buffer import Writer
from mimocorb.workers import rbDrain, rbExport, rbObserver, rbWSObserver

DT = [("ch1", np.float64), ("ch2", np.int32)]
VPS = 2  # 24 bytes per slot


def events(n: int, first: int = 1) -> list:
    return [({"ch1": [k + 0.5, k], "ch2": k}, (k, 1000.0 + k, k / 100)) for k in range(first, first + n)]


# ---- rbExport ---------------------------------------------------------------------------------------


def test_export_yields_views_and_float64_metadata_then_none(make_buffer):
    buf = make_buffer(8, VPS, DT, name="RB_1")
    exp = rbExport([buf.new_reader_group()], {}, RB_1="read")
    write_events(buf.new_writer(), events(3))
    gen = exp()
    for k in (1, 2, 3):
        data, meta = next(gen)
        assert data.shape == (VPS,) and data.dtype == np.dtype(DT) and not data.flags.owndata
        np.testing.assert_array_equal(data["ch1"], [k + 0.5, k])
        assert meta.dtype == np.float64 and meta.shape == (3,)
        np.testing.assert_array_equal(meta, [k, 1000.0 + k, k / 100])
    thread = shutdown_in_background(buf)  # its drain waits until next() below gives the last slot back
    assert next(gen) is None
    thread.join(15)
    assert not thread.is_alive()
    with pytest.raises(StopIteration):
        next(gen)


def test_export_view_is_the_slot_itself(make_buffer):
    """Zero-copy: what the exporter sees is the memory the writer filled (no copy in between)."""
    buf = make_buffer(4, VPS, DT, name="RB_1")
    exp = rbExport([buf.new_reader_group()], {}, RB_1="read")
    writer = Writer(buf.new_writer())
    slot = writer.get_new_buffer(timeout=5)
    slot["ch2"] = 5
    writer.process_buffer()
    data, _ = next(exp())
    assert data["ch2"][0] == 5
    slot["ch2"] = 6  # the writer must not touch a committed slot; here it proves the memory is shared
    assert data["ch2"][0] == 6
    writer.close()


def test_export_next_on_a_fresh_generator_each_time(make_buffer):
    """histogram_buffer calls next(obj()) for every event."""
    buf = make_buffer(8, VPS, DT, name="RB_1")
    exp = rbExport([buf.new_reader_group()], {}, RB_1="read")
    write_events(buf.new_writer(), events(4))
    assert [int(next(exp())[1][0]) for _ in range(4)] == [1, 2, 3, 4]
    thread = threading.Thread(target=buf.shutdown, daemon=True)
    thread.start()
    assert next(exp()) is None  # blocks in get() until the shutdown wakes it
    assert next(exp()) is None  # and stays at the end
    thread.join(15)
    assert not thread.is_alive()


def test_export_shares_a_group_between_two_objects(make_buffer):
    """Two exporters on one reader group split the events (load sharing), none twice."""
    buf = make_buffer(8, VPS, DT, name="RB_1")
    group = buf.new_reader_group()
    a, b = rbExport([group], {}, RB_1="read"), rbExport([group], {}, RB_1="read")
    write_events(buf.new_writer(), events(4))
    got = [int(next(x())[1][0]) for x in (a, b, a, b)]
    assert sorted(got) == [1, 2, 3, 4]


# ---- rbDrain ----------------------------------------------------------------------------------------


def test_drain_writes_message_and_discards_until_shutdown(make_buffer, tmp_path):
    buf = make_buffer(4, VPS, DT, name="RB_1")
    prefix = f"{tmp_path}/"
    drain = rbDrain([buf.new_reader_group()], {"directory_prefix": prefix}, RB_1="read")
    text = (tmp_path / "message.txt").read_text()
    assert text.count("\n") == 1 and "rbDrain" in text and "no output" in text
    other = make_buffer(4, VPS, DT, name="RB_2")
    rbDrain([other.new_reader_group()], {"directory_prefix": prefix}, RB_2="read")  # overwrites
    assert (tmp_path / "message.txt").read_text() == text
    worker = threading.Thread(target=drain)
    worker.start()
    write_events(buf.new_writer(), events(20))  # 5x the slots: only possible if drained
    buf.set_ending()
    worker.join(0.2)
    assert worker.is_alive()  # set_ending stops writers only; the drain goes on until shutdown
    buf.shutdown(timeout=10)
    worker.join(10)
    assert not worker.is_alive()
    assert buf.stats()["groups"][0]["consumed"] == 20


def test_drain_without_directory_prefix_writes_nothing(make_buffer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buf = make_buffer(4, VPS, DT, name="RB_1")
    rbDrain([buf.new_reader_group()], None, RB_1="read")
    assert list(tmp_path.iterdir()) == []


def test_drain_warns_about_write_and_observe_entries(make_buffer, tmp_path, caplog):
    buf = make_buffer(4, VPS, DT, name="RB_1")
    rbDrain([buf.new_reader_group()], {"directory_prefix": str(tmp_path)}, RB_1="read", RB_2="write")
    assert "RB_2" in caplog.text and "ignored" in caplog.text


# ---- rbObserver / rbWSObserver -------------------------------------------------------------------------


def test_observer_yields_copies_then_none(make_buffer):
    buf = make_buffer(8, VPS, DT, name="RB_1")
    obs = rbObserver([buf.new_observer()], {"min_sleeptime": 0.5}, RB_1="observe")
    assert obs.min_sleeptime == 0.5 and obs.source.active.is_set()
    write_events(buf.new_writer(), events(1))
    data, mdata = next(obs())
    assert data.flags.owndata and data.dtype == np.dtype(DT) and data.shape == (VPS,)
    assert mdata.shape == (1,) and mdata[0][0] == 1 and mdata[0][1] == 1001.0
    write_events(buf.new_writer(), events(1, first=2))
    data, mdata = next(obs())  # a fresh generator each time, as plot_buffer does
    assert mdata[0][0] == 2 and data["ch2"][0] == 2
    buf.shutdown(timeout=5)
    assert not obs.source.active.is_set()
    gen = obs()
    assert next(gen) is None
    with pytest.raises(StopIteration):
        next(gen)
    assert next(obs()) is None


def test_observer_waits_for_the_next_event(make_buffer):
    buf = make_buffer(8, VPS, DT, name="RB_1")
    obs = rbObserver([buf.new_observer()], None, RB_1="observe")
    assert obs.min_sleeptime == 1.0
    timer = threading.Timer(0.2, write_events, args=(buf.new_writer(), events(1, first=7)))
    timer.start()
    _, mdata = next(obs())
    assert mdata[0][0] == 7
    timer.join()


def test_ws_observer_delivers_at_most_one_item_per_min_sleeptime(make_buffer):
    """A lower bound only: it holds however slow the machine is."""
    buf = make_buffer(8, VPS, DT, name="RB_1")
    obs = rbWSObserver([buf.new_observer()], {"min_sleeptime": 0.3}, RB_1="observe")
    write_events(buf.new_writer(), events(1))
    gen = obs()
    next(gen)
    t0 = time.monotonic()
    write_events(buf.new_writer(), events(1, first=2))
    _, mdata = next(gen)
    assert time.monotonic() - t0 >= 0.29 and mdata[0][0] == 2
    buf.shutdown(timeout=5)
    assert next(gen) is None
