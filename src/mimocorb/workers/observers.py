"""Observers: copies of the newest events for displays, which must never slow the data flow.

An observer is not a consumer: it gets a copy of whatever was committed last, at most a few times per
second, and nothing waits for it. Displays (``plot_buffer``) call ``next(obj())`` on a fresh generator
for each refresh, so every generator works on the same underlying observer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..loggers import Gen_logger
from ..ring import Observer
from .arguments import OBSERVE, config_mapping, first_of, require_list

ObserverItem = tuple[np.ndarray, np.ndarray] | None


class rbObserver:
    """Copies ``(data, mdata)`` of the newest events; ``None`` once the run has ended.

    ``mdata`` is a structured array of shape (1,): ``mdata[0][0]`` is the counter, ``mdata[0][1]`` the
    timestamp. ``min_sleeptime`` (default 1.0) is kept as an attribute for the caller; the original
    did not use it either.

    Args:
        observe_list: the setup dicts of the 'observe' buffers; the first one is observed.
        config_dict: the function's configuration; ``min_sleeptime`` is read from it.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Calling the object returns a generator of the copies, which yields ``None`` at the end of the run.

    Raises:
        SystemExit: there is no 'observe' buffer (logged first, as mimoCoRB 1.0.2 did).
    """

    def __init__(
        self, observe_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ):
        owner = type(self).__name__
        self.logger = Gen_logger(owner)
        observers = require_list(owner, observe_list, OBSERVE)
        if OBSERVE not in rb_info.values():
            # the original ends the (display) process here instead of raising; exit code 1 says why not 0
            self.logger.error(
                "%s: no buffer is marked 'observe' in RB_assign (got %s)", owner, rb_info or "nothing"
            )
            raise SystemExit(1)
        self.config_dict = config_mapping(owner, config_dict)
        self.min_sleeptime: float = float(self.config_dict.get("min_sleeptime", 1.0))
        self.source = self._attach(first_of(owner, observers, OBSERVE, self.logger))

    def _attach(self, setup: dict) -> Observer:
        return Observer(setup)

    def __call__(self) -> Iterator[ObserverItem]:
        """A fresh generator on the same observer: blocks for the next copy, ends with ``None``."""
        return self._items()

    def _items(self) -> Iterator[ObserverItem]:
        get = self.source.dataQ.get
        while True:
            item = get()
            yield item
            if item is None:
                return


class rbWSObserver(rbObserver):
    """``rbObserver`` that delivers at most one item per ``min_sleeptime`` seconds.

    The original did this with a thread that slept between items; here the observer itself is asked
    not to offer a copy sooner, which needs no thread and still delivers the newest event each time.
    """

    def _attach(self, setup: dict) -> Observer:
        interval = max(self.min_sleeptime, float(setup.get("min_interval", 0.0)))
        return Observer(setup, min_interval=interval)
