"""How a filter puts an event into one of its sinks: a raw copy of the input, or a processed element.

Both kinds start from a clean slot (the ring hands out slots with old content, so a field the filter does
not set would otherwise carry a value of some earlier event), copy by field name, take over the input's
metadata unchanged (counter, timestamp and deadtime stay those of the source along the whole chain, as in
mimoCoRB 1.0.2) and commit at once. Checks that depend on the data are done once per dtype and then
cached, because they run for every event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ring import Writer
from .arguments import SetupDict

Metadata = tuple[Any, Any, Any]


class Output:
    """One sink of a filter, with the copy rules of ``rbTransfer`` (also used by ``rbProcess``)."""

    def __init__(self, owner: str, setup: SetupDict, label: str, source: SetupDict):
        self.owner, self.label = owner, label
        self.dtype = np.dtype(setup["dtype"])
        self.values_per_slot: int = setup["values_per_slot"]
        self._fields = frozenset(self.dtype.names or ())
        source_dtype = np.dtype(source["dtype"])
        self._raw_mode, self._raw_error = self._plan_raw_copy(source_dtype, source["values_per_slot"])
        self._source_names = source_dtype.names or ()
        self._good_dtypes: set[np.dtype] = set()
        self.writer = Writer(setup)

    def _plan_raw_copy(self, source: np.dtype, source_values: int) -> tuple[str, str]:
        """'same' copies the slot as a block; 'fields' copies by name, zeroing first if the sink has more.

        A sink that cannot take the input cannot take a raw copy, but it may still receive processed
        elements, so the error is kept and raised only if a raw copy is ever asked of this sink.
        """
        if source_values not in (1, self.values_per_slot):
            return "error", (
                f"{self.owner}: cannot copy the input event ({source_values} values per slot) to sink "
                f"{self.label} ({self.values_per_slot} values per slot)"
            )
        if source == self.dtype:
            return "same", ""
        missing = [n for n in source.names or () if n not in self._fields]
        if missing:
            return "error", (
                f"{self.owner}: cannot copy the input event to sink {self.label}: it has no field(s) "
                f"{missing} (its fields: {list(self.dtype.names or ())})"
            )
        extra = self._fields.difference(source.names or ())
        return ("fields_zeroed" if extra else "fields"), ""

    # ---- checks (before anything of an event is written) ------------------------------------
    def check_raw(self) -> None:
        if self._raw_error:
            raise ValueError(self._raw_error)

    def check_element(self, element: Any) -> None:
        """A processed element must be structured, fit one slot, and have only fields the sink has."""
        dtype = getattr(element, "dtype", None)
        if dtype in self._good_dtypes:
            self._check_shape(element)
            return
        names = getattr(dtype, "names", None)
        if dtype is None or not names:
            raise ValueError(
                f"{self.owner}: the result for sink {self.label} must be a structured numpy array or "
                f"record with field names, got {type(element).__name__} {element!r:.60} "
                "(None writes nothing; see the return-value rules in docs/workers.md)"
            )
        missing = [n for n in names if n not in self._fields]
        if missing:
            raise ValueError(
                f"{self.owner}: the result for sink {self.label} has field(s) {missing} that the sink does "
                f"not have (its fields: {list(self.dtype.names or ())})"
            )
        self._check_shape(element)
        self._good_dtypes.add(dtype)

    def _check_shape(self, element: Any) -> None:
        """One record, one value broadcast over the slot, or one value per slot position."""
        shape = element.shape
        if shape == () or shape == (1,) or shape == (self.values_per_slot,):
            return
        raise ValueError(
            f"{self.owner}: the result for sink {self.label} has shape {shape}; it must be a record "
            f"or an array of shape (1,) or ({self.values_per_slot},)"
        )

    # ---- writing ----------------------------------------------------------------------------
    def put_raw(self, event: np.ndarray, metadata: Metadata) -> None:
        """Raw copy of the input slot; EndOfStream if the sink was deactivated meanwhile."""
        self.check_raw()
        writer = self.writer
        slot = writer.get_new_buffer()
        try:
            mode = self._raw_mode
            if mode == "same":
                np.copyto(slot, event)
            else:
                if mode == "fields_zeroed":
                    slot.view(np.uint8).fill(0)
                for name in self._source_names:
                    slot[name] = event[name]
            writer.set_metadata(*metadata)
        except BaseException as exc:
            writer.discard()
            if isinstance(exc, (ValueError, TypeError)):
                raise ValueError(f"{self.owner}: raw copy to sink {self.label} failed: {exc}") from exc
            raise
        writer.process_buffer()

    def put_element(self, element: Any, metadata: Metadata) -> None:
        """One zeroed slot with the element's fields copied in by name, broadcast over the slot."""
        self.check_element(element)
        writer = self.writer
        slot = writer.get_new_buffer()
        try:
            slot.view(np.uint8).fill(0)
            for name in element.dtype.names:
                slot[name] = element[name]
            writer.set_metadata(*metadata)
        except BaseException as exc:
            writer.discard()
            if isinstance(exc, (ValueError, TypeError)):
                raise ValueError(
                    f"{self.owner}: writing the result to sink {self.label} failed "
                    f"(shape {np.shape(element)} into slots of {slot.shape[0]} values): {exc}"
                ) from exc
            raise
        writer.process_buffer()
