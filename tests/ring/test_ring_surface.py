"""The ring's public names for code outside it: ``EndOfStream``, ``until_end``, ``Writer.put``,
``slot_bytes``."""

from __future__ import annotations

import numpy as np
import pytest

from mimocorb import mimo_buffer
from mimocorb.ring import EndOfStream, Reader, RingBuffer, RingTimeout, Writer, until_end

PAIR = [("a", np.int32), ("b", np.float64)]


def test_the_end_of_a_stream_is_a_system_exit_without_code() -> None:
    """Code of mimoCoRB 1.0.2 catches SystemExit; an uncaught one must end a worker with exit code 0."""
    ring = RingBuffer(4, 1, np.int64)
    writer = Writer(ring.new_writer())
    ring.set_ending()
    with pytest.raises(SystemExit) as caught:
        writer.get_new_buffer(timeout=1)
    assert type(caught.value) is EndOfStream and caught.value.code is None
    assert mimo_buffer.EndOfStream is EndOfStream
    writer.close()
    ring.close()


def test_a_reader_ends_with_end_of_stream_and_its_iteration_stops() -> None:
    ring = RingBuffer(4, 1, np.int64)
    reader, writer = Reader(ring.new_reader_group()), Writer(ring.new_writer())
    writer.put(np.array([3]))
    writer.put(np.array([4]))
    iterator = iter(reader)
    assert int(next(iterator)[0]) == 3
    ring.shutdown(timeout=0.2)  # the reader still holds its slot: shutdown gives up waiting
    assert [int(d[0]) for d in iterator] == []
    with pytest.raises(EndOfStream):
        reader.get(timeout=1)
    reader.close()
    writer.close()
    ring.close()


def test_until_end_yields_until_the_stream_ends_and_passes_other_errors_on() -> None:
    calls = iter([1, 2, EndOfStream(), 4])

    def call() -> int:
        item = next(calls)
        if isinstance(item, BaseException):
            raise item
        return item

    assert list(until_end(call)) == [1, 2]
    with pytest.raises(RingTimeout):
        next(until_end(_timeout))


def _timeout() -> int:
    raise RingTimeout("nothing came")


def test_put_commits_one_event_from_values_or_bytes() -> None:
    ring = RingBuffer(4, 2, PAIR)
    reader, writer = Reader(ring.new_reader_group()), Writer(ring.new_writer())
    assert writer.slot_bytes == reader.slot_bytes == 2 * np.dtype(PAIR).itemsize
    event = np.array([(1, 1.5), (2, 2.5)], dtype=PAIR)
    writer.put(event)  # counted like get_new_buffer: the writer's first event is 0, stamped now
    writer.put(event.tobytes(), 7, 100.0, 0.25, tag=42)
    first = reader.get(timeout=1)
    assert first.tolist() == event.tolist()
    counter, timestamp, deadtime = reader.get_metadata()
    assert counter == 0 and timestamp > 1e9 and deadtime == -1.0
    assert reader.get(timeout=1).tolist() == event.tolist()
    assert reader.get_metadata() == (7, 100.0, 0.25)
    assert writer.last_tag() == 42
    reader.close()
    writer.close()
    ring.close()


def test_put_into_a_full_ring_times_out_and_after_the_end_raises() -> None:
    ring = RingBuffer(2, 1, np.int64)
    reader, writer = Reader(ring.new_reader_group()), Writer(ring.new_writer())
    writer.put(np.array([1]))
    writer.put(np.array([2]))
    with pytest.raises(RingTimeout, match="put timed out"):
        writer.put(np.array([3]), timeout=0.05)
    ring.set_ending()
    with pytest.raises(EndOfStream):
        writer.put(np.array([3]))
    assert ring.stats()["committed"] == 2
    reader.close()
    writer.close()
    ring.close()
