"""Filters: read events from one buffer, let a user function select or transform them, write to sinks.

``rbTransfer`` keeps the original's implicit return-value rules, on which existing filters such as
``lifetime_filter`` rely; ``rbProcess`` maps results to sinks explicitly. Both validate the whole
result of an event before writing any of it, so a bad result never leaves half an event in the sinks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..loggers import Gen_logger
from ..ring import EndOfStream, Reader
from .arguments import (
    READ,
    WRITE,
    buffer_labels,
    config_mapping,
    field_names,
    first_of,
    require_callable,
    require_list,
)
from .outputs import Metadata, Output

RAW = object()  # marks a planned raw copy of the input (an element is never this object)

# one planned write: (output, RAW or the processed element)
Write = tuple[Output, Any]


class _Filter:
    """Construction and the read-select-write loop shared by rbTransfer and rbProcess."""

    def __init__(
        self,
        source_list: list[dict] | None = None,
        sink_list: list[dict] | None = None,
        config_dict: dict | None = None,
        ufunc: Callable[[np.ndarray], Any] | None = None,
        **rb_info: Any,
    ):
        owner = type(self).__name__
        self.logger = Gen_logger(owner)
        self.ufunc = require_callable(owner, ufunc)
        sources = require_list(owner, source_list, READ)
        sinks = require_list(owner, sink_list, WRITE)
        self.config_dict = config_mapping(owner, config_dict)
        source = first_of(owner, sources, READ, self.logger)
        field_names(owner, source, buffer_labels(rb_info, READ, sources)[0])
        labels = buffer_labels(rb_info, WRITE, sinks)
        for setup, label in zip(sinks, labels, strict=True):
            field_names(owner, setup, label)
        self.source = Reader(source)
        pairs = zip(sinks, labels, strict=True)
        self._outputs = [Output(owner, setup, label, source) for setup, label in pairs]
        self.sinks = [o.writer for o in self._outputs]

    def __call__(self) -> None:
        """Run until the source buffer shuts down (or a sink is shut down under us)."""
        metadata, ufunc, plan = self.source.get_metadata, self.ufunc, self._plan
        for event in self.source:
            result = ufunc(event)
            if result is None:
                continue
            writes = plan(result)
            if not self._write(writes, event, metadata()):
                return

    def _write(self, writes: list[Write], event: np.ndarray, metadata: Metadata) -> bool:
        """Perform the planned writes in sink order; False if a sink was deactivated (event dropped)."""
        try:
            for output, element in writes:
                if element is RAW:
                    output.put_raw(event, metadata)
                else:
                    output.put_element(element, metadata)
        except EndOfStream:
            self.logger.warning(
                "%s: a sink was shut down while event %s was being written; stopping",
                type(self).__name__,
                metadata[0],
            )
            return False
        return True

    def _plan(self, result: Any) -> list[Write]:
        raise NotImplementedError


class rbTransfer(_Filter):
    """Filter with the original's implicit mapping of results to sinks.

    ``ufunc(event)`` returns ``None`` (reject), a list/tuple of processed elements (with a raw copy to
    sink 0 when there are more sinks than elements), or anything else (raw copy to sink 0 only).

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is read.
        sink_list: the setup dicts of the 'write' buffers, in ``RB_assign`` order.
        config_dict: the function's configuration.
        ufunc: ``ufunc(event)``: see above; ``event`` is the slot, valid only during the call.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling the object processes events until the input buffer shuts down, then returns ``None``; the
    function's processes share the events of their reader group.

    Raises:
        ValueError: at once for wiring mistakes (no 'read' or 'write' buffer, ``ufunc`` not callable, a
            buffer without named fields); while running for a result that does not fit its sink.
    """

    def _plan(self, result: Any) -> list[Write]:
        outputs = self._outputs
        if not isinstance(result, (list, tuple)):
            writes: list[Write] = [(outputs[0], RAW)]
        elif len(outputs) > len(result):
            writes = [(outputs[0], RAW)]
            writes += [(outputs[k + 1], e) for k, e in enumerate(result) if e is not None]
        else:
            self._check_overflow(result)
            writes = [(outputs[k], e) for k, e in enumerate(result[: len(outputs)]) if e is not None]
        for output, element in writes:
            if element is RAW:
                output.check_raw()
            else:
                output.check_element(element)
        return writes

    def _check_overflow(self, result: list | tuple) -> None:
        n = len(self._outputs)
        beyond = [k for k in range(n, len(result)) if result[k] is not None]
        if beyond:
            raise ValueError(
                f"rbTransfer: ufunc returned {len(result)} elements but there are only {n} sinks; "
                f"element(s) {beyond} have no sink (return None there, or add sinks)"
            )


def _is_true(value: Any) -> bool:
    """Exactly ``True`` (or ``numpy.True_``): any other truthy value is a processed element."""
    return value is True or (isinstance(value, np.bool_) and bool(value))


class rbProcess(_Filter):
    """Filter with an explicit result per sink.

    ``ufunc(event)`` returns ``None`` (reject) or one entry per sink: ``None`` (nothing), ``True`` (raw
    copy), a list/tuple of processed elements (one slot each) or one processed element.

    The arguments, the call and the errors are those of ``rbTransfer``; only the reading of ``ufunc``'s
    result differs.
    """

    def _plan(self, result: Any) -> list[Write]:
        outputs = self._outputs
        n = len(outputs)
        try:
            length = len(result)
        except TypeError:
            length = -1
        if length < n:
            got = f"{length} entries" if length >= 0 else type(result).__name__
            raise ValueError(
                f"rbProcess: ufunc must return None or a sequence with one entry per sink "
                f"({n} sinks), got {got}"
            )
        writes: list[Write] = []
        for k in range(n):
            writes += self._plan_sink(outputs[k], result[k])
        return writes

    @staticmethod
    def _plan_sink(output: Output, entry: Any) -> list[Write]:
        if entry is None:
            return []
        if _is_true(entry):
            output.check_raw()
            return [(output, RAW)]
        elements = list(entry) if isinstance(entry, (list, tuple)) else [entry]
        planned = [(output, e) for e in elements if e is not None]
        for _, element in planned:
            output.check_element(element)
        return planned
