"""The optional buffer-info window (``GUI_control``), run in its own process.

The controller imports nothing graphical (D1, D26). The window is started only when the module
``mimocorb.bufferinfoGUI`` exists and a display is available; otherwise the run continues without it
after a warning. The window talks to the controller through three queues (compat-api §6.3, §9.1):
commands ``"P"/"R"/"S"/"E"`` from its buttons, log lines to show, and a status tuple
``(status, time_active, events, deadtime, RBinfo, workers_ok)`` kept at most one deep.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import sys
from typing import Any

MAX_RATE = 4500.0
INTERVAL_MS = 1000.0


def gui_unavailable_reason() -> str | None:
    """Why the window cannot be shown, or None if it can."""
    try:
        found = importlib.util.find_spec("mimocorb.bufferinfoGUI") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return "mimocorb.bufferinfoGUI is not available in this version"
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display (DISPLAY is not set)"
    return None


def _gui_main(cmd_q: Any, log_q: Any, info_q: Any, names: list[str]) -> None:
    """Target of the GUI process: the only place where graphics libraries are imported."""
    from mimocorb.bufferinfoGUI import bufferinfoGUI  # type: ignore[import-not-found]

    bufferinfoGUI(cmd_q, log_q, info_q, names, MAX_RATE, INTERVAL_MS)


class GuiLink:
    """The GUI process and its queues, seen from the controller."""

    def __init__(self, context: Any, names: list[str]) -> None:
        from .supervisor import start_guard

        self.cmd_q = context.Queue()
        self.log_q = context.Queue()
        self.info_q = context.Queue(1)
        self.process = context.Process(
            target=_gui_main, args=(self.cmd_q, self.log_q, self.info_q, names), name="bufferinfoGUI"
        )
        with start_guard(context):
            self.process.start()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def commands(self) -> list[str]:
        out = []
        with contextlib.suppress(queue.Empty, OSError, ValueError):
            while True:
                out.append(str(self.cmd_q.get_nowait()))
        return out

    def log(self, text: str) -> None:
        with contextlib.suppress(Exception):
            self.log_q.put_nowait(text)

    def info(self, item: tuple) -> None:
        if self.info_q.empty():
            with contextlib.suppress(queue.Full, OSError, ValueError):
                self.info_q.put_nowait(item)

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        for q in (self.cmd_q, self.log_q, self.info_q):
            with contextlib.suppress(Exception):
                q.close()
                q.cancel_join_thread()
