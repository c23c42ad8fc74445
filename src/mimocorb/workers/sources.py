"""Sources: put events from outside (a device, a simulation, a file) into the first buffer of a chain.

``rbImport`` pulls from a user generator, ``rbPut`` is pushed by user code. Both stamp events with
counter, timestamp and deadtime as mimoCoRB 1.0.2 does unless the user supplies them, and commit every
event as soon as it is stored: the original held each event back until the next one came, which delays a
slow source and keeps the last event of a pause hidden.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..loggers import Gen_logger
from ..ring import EndOfStream, Writer
from .arguments import (
    OBSERVE,
    READ,
    WRITE,
    buffer_labels,
    config_mapping,
    field_names,
    first_of,
    only_role,
    require_callable,
)

PAUSE_STEP = 0.1  # seconds between looks at the paused flag, as in the original

_ns = time.perf_counter_ns  # intervals: monotonic, nanoseconds
_epoch_ns = time.time_ns  # timestamps: epoch seconds from a nanosecond clock


class _Source:
    """What rbImport and rbPut share: validation, attributes and storing one event."""

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, rb_info: dict[str, Any]):
        owner = type(self).__name__
        self.logger = Gen_logger(owner)
        sinks = only_role(owner, rb_info, sink_list, WRITE, (READ, OBSERVE))
        self.config_dict = config_mapping(owner, config_dict)
        setup = first_of(owner, sinks, WRITE, self.logger)
        self._label = buffer_labels(rb_info, WRITE, sinks)[0]
        self.chnams: list[str] = list(field_names(owner, setup, self._label))
        self.number_of_channels: int = len(self.chnams)
        self.event_count: int = 0
        self.sink = Writer(setup)
        self._channels = tuple(enumerate(self.chnams))
        self._t_filled = _ns()  # the first event's deadtime interval starts at construction

    def _store(self, data: Any, metadata: Any, t_ready: int, timestamp: float) -> bool:
        """Store one event and commit it; False if the writers were deactivated (nothing stored).

        Counters start at 1, as the original counted (its docstrings said 0): output files of existing
        runs show 1-based event numbers, and ``event_count`` is then the number of events stored.
        """
        sink = self.sink
        try:
            slot = sink.get_new_buffer()
        except EndOfStream:
            return False
        try:
            self._fill(slot, data)
            t_filled = _ns()
            count = self.event_count + 1
            if metadata is None:
                sink.set_metadata(count, timestamp, self._deadtime(t_ready, t_filled))
            else:
                self._set_user_metadata(metadata)
        except BaseException:
            sink.discard()  # never commit half an event
            raise
        sink.process_buffer()
        self.event_count, self._t_filled = count, t_filled
        return True

    def _deadtime(self, t_ready: int, t_filled: int) -> float:
        """Fraction of the time since the previous event spent waiting for and filling a slot.

        The extra nanosecond in the denominator keeps the value strictly below 1 even if the clock did
        not advance between two events.
        """
        busy = t_filled - t_ready
        return busy / (max(busy, t_filled - self._t_filled) + 1)

    def _fill(self, slot: np.ndarray, data: Any) -> None:
        try:
            for i, name in self._channels:
                slot[name] = data[i]
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{type(self).__name__}: cannot store the data in buffer {self._label}: expected "
                f"{self.number_of_channels} channels {self.chnams} of {slot.shape[0]} values each, "
                f"got {type(data).__name__} of shape {_shape(data)}: {exc}"
            ) from exc

    def _set_user_metadata(self, metadata: Any) -> None:
        try:
            counter, timestamp, deadtime = metadata
        except (TypeError, ValueError):
            raise ValueError(
                f"{type(self).__name__}: metadata must be None or (counter, timestamp, deadtime), "
                f"got {metadata!r:.80}"
            ) from None
        self.sink.set_metadata(counter, timestamp, deadtime)


def _shape(data: Any) -> str:
    try:
        return str(np.shape(data))
    except Exception:  # ragged lists and the like: the type is enough for the message
        return "?"


class rbImport(_Source):
    """Pull-style source: fills the buffer from a user generator of ``(data, metadata)`` pairs.

    The generator is created once, here, so that a device it opens is ready before the run starts.
    ``__call__()`` returns when the generator is exhausted (``data is None`` or the generator ends)
    or the buffer's writers are deactivated at the end of the run.

    Args:
        sink_list: the setup dicts of the function's 'write' buffers, as mimocorb passes them.
        config_dict: the function's configuration.
        ufunc: a generator function (called once, without arguments) yielding ``(data, metadata)``:
            ``data`` one entry per buffer field, ``metadata`` ``None`` (stamped here) or
            ``(counter, timestamp, deadtime)``.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling the object fills the buffer until the source is exhausted or the run ends, then returns
    ``None``.

    Raises:
        ValueError: at once for wiring mistakes (no 'write' buffer, ``ufunc`` not callable or not making
            an iterator, a buffer without named fields); while running for an item that is not a pair or
            data that does not fit the fields.

    Example:
        In a user module named by the setup::

            def my_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
                def events():
                    while True:
                        yield [read_device()], None
                rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=events, **rb_info)()
    """

    def __init__(
        self,
        sink_list: list[dict] | None = None,
        config_dict: dict | None = None,
        ufunc: Callable[[], Iterator] | None = None,
        **rb_info: Any,
    ):
        make_items = require_callable("rbImport", ufunc)
        super().__init__(sink_list, config_dict, rb_info)
        produced = make_items()
        try:
            self._items: Iterator = iter(produced)
        except TypeError:
            raise ValueError(
                "rbImport: ufunc() must return an iterator of (data, metadata) pairs (normally ufunc is "
                f"a generator function), got {type(produced).__name__}"
            ) from None

    def __call__(self) -> None:
        active, paused = self.sink.active, self.sink.paused
        while active.is_set():
            if paused.is_set():
                time.sleep(PAUSE_STEP)  # the generator is not advanced while paused
                continue
            item = self._next_item()
            if item is None:
                self.logger.info("rbImport: source exhausted after %d events", self.event_count)
                return
            data, metadata = item
            t_ready, timestamp = _ns(), _epoch_ns() * 1e-9
            if not self._store(data, metadata, t_ready, timestamp):
                return

    def _next_item(self) -> tuple[Any, Any] | None:
        """The next ``(data, metadata)``, or None once the source is exhausted."""
        try:
            item = next(self._items)
        except StopIteration:
            return None
        if item is None:
            return None
        try:
            data, metadata = item
        except (TypeError, ValueError):
            raise ValueError(
                f"rbImport: the generator must yield (data, metadata) pairs, got {item!r:.80}"
            ) from None
        return None if data is None else (data, metadata)


class rbPut(_Source):
    """Push-style source: user code calls the object with each event.

    Returns True while the run goes on, False once it has ended (the event was not stored), and None
    if the run is paused (the event is dropped; the source decides whether to keep it).

    Args:
        sink_list: the setup dicts of the function's 'write' buffers.
        config_dict: the function's configuration.
        ufunc: not used; accepted for the calling convention of mimoCoRB 1.0.2.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling ``obj(data, metadata=None)`` stores one event: ``data`` has one entry per buffer field,
    ``metadata`` is ``None`` (stamped here) or ``(counter, timestamp, deadtime)``.

    Raises:
        ValueError: at once for wiring mistakes (no 'write' buffer, a buffer without named fields); per
            call for data that does not fit the fields.
    """

    def __init__(
        self,
        sink_list: list[dict] | None = None,
        config_dict: dict | None = None,
        ufunc: Any = None,
        **rb_info: Any,
    ):
        super().__init__(sink_list, config_dict, rb_info)

    def __call__(self, data: Any = None, metadata: Any = None) -> bool | None:
        t_ready, timestamp = _ns(), _epoch_ns() * 1e-9
        sink = self.sink
        # the original committed a held-back slot when called with None; events are committed at once here
        if data is not None and sink.active.is_set():
            if sink.paused.is_set():
                time.sleep(PAUSE_STEP)
                return None
            self._store(data, metadata, t_ready, timestamp)
        return sink.active.is_set()
