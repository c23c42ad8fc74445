"""Sinks: the last stage of a chain, where events leave the buffers (to user code, or nowhere).

``rbExport`` hands events to user code as a generator; ``rbDrain`` throws them away (a buffer that nobody
reads would fill up and block its writers, so a chain end without consumer needs one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..loggers import Gen_logger
from ..ring import Reader
from .arguments import (
    OBSERVE,
    READ,
    WRITE,
    config_mapping,
    first_of,
    only_role,
    require_list,
    require_role,
    warn_roles,
)

ExportItem = tuple[np.ndarray, np.ndarray] | None


class rbExport:
    """Events of one reader group as ``(data_view, metadata)`` pairs for user code.

    ``data_view`` is the slot itself (zero-copy), valid until the next item is fetched; ``metadata`` is a
    float64 array ``[counter, timestamp, deadtime]``. At the end of the run the generator yields ``None``
    and stops, so that user code gets a chance to write its summary instead of being cut off by
    the end of the stream (``EndOfStream``).

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is read.
        config_dict: the function's configuration.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling the object returns the generator of ``(data_view, metadata)`` items.

    Raises:
        ValueError: the function has no 'read' buffer.

    Example:
        ::

            for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
                if item is None:       # end of the run: every event has been delivered
                    break
                data, metadata = item
    """

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ):
        owner = type(self).__name__
        self.logger = Gen_logger(owner)
        sources = only_role(owner, rb_info, source_list, READ, (WRITE, OBSERVE))
        self.config_dict = config_mapping(owner, config_dict)
        self.source = Reader(first_of(owner, sources, READ, self.logger))

    def __call__(self) -> Iterator[ExportItem]:
        """A fresh generator on the same reader; ``next(obj())`` on a new one each time is fine.

        The slot of the last item stays held until the next item is fetched, also when a generator is
        dropped after one ``next()``: releasing it on generator close would recycle the view that the
        caller has only just received.
        """
        return self._events()

    def _events(self) -> Iterator[ExportItem]:
        metadata = self.source.get_metadata
        for view in self.source:  # blocks; no polling
            yield view, np.array(metadata(), dtype=np.float64)
        yield None


class rbDrain:
    """Reads and discards every event of its reader group until the buffer shuts down.

    A buffer that must be read but whose events nobody needs (one only observed by a display, say) gets
    an ``rbDrain`` reader, so that its writers never wait for space.

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is read.
        config_dict: the function's configuration.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling the object returns once the buffer has shut down.

    Raises:
        ValueError: the function has no 'read' buffer.
    """

    MESSAGE = "rbDrain: events of this buffer are read and discarded; rbDrain writes no output\n"

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ):
        owner = type(self).__name__
        self.logger = Gen_logger(owner)
        require_role(owner, rb_info, READ)
        warn_roles(owner, rb_info, (WRITE, OBSERVE), self.logger)
        sources = require_list(owner, source_list, READ)
        self.config_dict = config_mapping(owner, config_dict)
        self._write_message(self.config_dict.get("directory_prefix"))
        self.source = Reader(first_of(owner, sources, READ, self.logger))

    def _write_message(self, directory: str | None) -> None:
        """Tell whoever looks into the run directory why this stage left no file there."""
        if directory is None:
            self.logger.debug("rbDrain: no directory_prefix in config_dict, no message.txt written")
            return
        with open(os.path.join(directory, "message.txt"), "w", encoding="utf-8") as f:
            f.write(self.MESSAGE)

    def __call__(self) -> None:
        for _ in self.source:
            pass
