"""Finishing an output file when the process is terminated with SIGTERM.

Worker processes take the default action for SIGTERM (the controller's last resort after the grace
period, or an operator's ``kill``), which would leave a tar archive without its end blocks or a Parquet
part without its footer. An exporter therefore installs this guard: on SIGTERM it finishes the file, then
dies of SIGTERM as before, so the controller still sees a terminated process.

The handler never raises into the interrupted code (which may be inside the ring's critical sections);
if the signal arrives while the exporter is itself writing (``busy``), finishing is deferred until that
write is complete, so the file is never finished in the middle of a member or a part.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class TerminationGuard:
    def __init__(self, finish: Callable[[], None]) -> None:
        self._finish = finish
        self._busy = False
        self._pending = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        """Take over SIGTERM while the exporter runs (only the main thread can; elsewhere nothing to do)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_term)
            self._installed = True

    @contextmanager
    def busy(self) -> Iterator[None]:
        """A write that must not be interrupted by finishing the file."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
            if self._pending:
                self._die()

    def uninstall(self) -> None:
        """Give SIGTERM back to its previous handler (only possible from the main thread)."""
        if self._installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    def _on_term(self, signum: int, frame: Any) -> None:
        if self._busy:
            self._pending = True
            return
        self._die()

    def _die(self) -> None:
        try:
            self._finish()
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
