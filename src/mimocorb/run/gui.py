"""The optional buffer-info window (``GUI_control``), run in its own process.

The controller imports nothing graphical, so it runs without a display. The window
(``mimocorb.display.monitor``) is started only when a display is available; otherwise the run continues
without it after a warning. The window talks to the controller through the three queues of
mimoCoRB 1.0.2: command keys from its buttons (the controller reads them by ``commands.TABLE``, as it
reads the keyboard), log lines to show, and a status tuple
``(status, time_active, events, deadtime, RBinfo, workers_ok)`` kept at most one deep.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .._optional import dependency_missing
from .._processes import terminate_then_kill
from .status import BufferSample

MAX_RATE = 4500.0
INTERVAL_MS = 1000.0
RATES_INTERVAL = 60.0  # s between rates.png snapshots while no monitor window is shown
RATES_TIMEOUT = 30.0  # longest wait for the final rates.png


def gui_unavailable_reason() -> str | None:
    """Why the window cannot be shown, or None if it can."""
    from ..display.backend import display_reason  # imports nothing graphical

    return display_reason()


def _gui_main(cmd_q: Any, log_q: Any, info_q: Any, names: list[str]) -> None:
    """Target of the GUI process: the only place where graphics libraries are imported."""
    from ..display.monitor import bufferinfoGUI

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

    def info(self, state: str, active: float, samples: list[BufferSample], workers_ok: bool) -> None:
        """Offer the newest status; the window takes it when it redraws (an older one is not replaced)."""
        if self.info_q.empty():
            first = samples[0] if samples else None
            rbinfo = {s.name: [s.events, s.fill, s.rate] for s in samples}
            events, deadtime = (first.events, first.deadtime) if first else (0, 0.0)
            item = (str(state), active, events, deadtime, rbinfo, workers_ok)
            with contextlib.suppress(queue.Full, OSError, ValueError):
                self.info_q.put_nowait(item)

    def close(self) -> None:
        terminate_then_kill(self.process, 2.0)
        for q in (self.cmd_q, self.log_q, self.info_q):
            with contextlib.suppress(Exception):
                q.close()
                q.cancel_join_thread()


class RatesPicture:
    """``rates.png`` in the run directory, drawn from stats.csv by a short-lived process.

    The controller must not import matplotlib (it needs no display), and drawing takes a moment, so the
    picture is made by ``python -m mimocorb.display.rates``: every ``RATES_INTERVAL`` seconds while no
    monitor window shows the rates (``snapshot``, never waits), and once at the end (``final``, bounded wait).
    """

    def __init__(self, stats: Path, picture: Path) -> None:
        self.stats, self.picture = stats, picture
        self.enabled = importlib.util.find_spec("matplotlib") is not None
        self.process: subprocess.Popen | None = None
        self._next = time.monotonic() + RATES_INTERVAL

    def snapshot(self, now: float) -> None:
        if not self.enabled or now < self._next or self._busy():
            return
        self._next = now + RATES_INTERVAL
        self._start(subprocess.DEVNULL)

    def final(self) -> str | None:
        """Draw the final picture; returns why it could not be drawn, or None."""
        if not self.enabled:
            return dependency_missing("matplotlib")
        if self._busy():
            assert self.process is not None
            self.process.kill()
            self.process.wait()
        self._start(subprocess.PIPE)
        assert self.process is not None
        try:
            _, err = self.process.communicate(timeout=RATES_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return f"drawing took longer than {RATES_TIMEOUT:g} s"
        if self.process.returncode != 0:
            lines = (err or b"").decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else f"exit code {self.process.returncode}"
        return None

    def _busy(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start(self, errors: int) -> None:
        # the child must find this very mimocorb, also when it was put on sys.path by hand
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mimocorb.display.rates", str(self.stats), str(self.picture)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
        )
