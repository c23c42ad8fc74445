"""Helpers shared by the tests of mimocorb.workers (a module name no other test directory uses)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from mimocorb.mimo_buffer import NewBuffer, Reader, RingTimeout, Writer


def shutdown_in_background(*buffers: NewBuffer) -> threading.Thread:
    """Shut buffers down while this thread goes on reading: shutdown waits for the readers to drain."""

    def run() -> None:
        for buf in buffers:
            buf.shutdown(timeout=10.0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run_until_shutdown(worker: Any, *buffers: NewBuffer) -> None:
    """Call a reading worker here while its source buffer is shut down behind it (it must return)."""
    thread = shutdown_in_background(*buffers)
    worker()
    thread.join(15)
    assert not thread.is_alive()


def collect(reader: Reader) -> list[tuple[np.ndarray, tuple]]:
    """Copies and metadata of everything pending for this reader; then the last slot is given back."""
    out = []
    while reader.data_available():
        try:
            view = reader.get(timeout=0.3)
        except RingTimeout:  # data_available() also counts discarded slots, which get() skips
            break
        out.append((view.copy(), reader.get_metadata()))
    reader.release()
    return out


def write_events(setup: dict, events: list[tuple[dict, tuple]]) -> None:
    """Commit events given as ({field: value}, (counter, timestamp, deadtime))."""
    writer = Writer(setup)
    for fields, metadata in events:
        slot = writer.get_new_buffer(timeout=5)
        for name, value in fields.items():
            slot[name] = value
        writer.set_metadata(*metadata)
        writer.process_buffer()
    writer.close()


def dirty(buf: NewBuffer, reader: Reader, value: float = 99) -> None:
    """Fill every slot of ``buf`` once with ``value`` and consume it, so slots come back with old content."""
    writer = Writer(buf.new_writer())
    for _ in range(buf.number_of_slots):
        slot = writer.get_new_buffer(timeout=5)
        slot.view(np.uint8).fill(0)
        for name in slot.dtype.names:
            slot[name] = value
        writer.process_buffer()
    writer.close()
    collect(reader)
