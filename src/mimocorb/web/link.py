"""The web server process seen from its owner (the run controller): start, feed, ask, close.

Nothing here waits for the server except ``wait_ready`` (bounded, once at the start) and ``close``
(bounded): ``publish`` and ``log`` send one message if the socket takes it now and drop it otherwise,
``commands`` returns what has arrived. The controller process gets no thread from this link.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from .._processes import terminate_then_kill
from . import channel
from .access import make_token

LOG_LINE_MAX = 8000  # characters of one log line sent to the page
CLOSE_WAIT = 2.0


def web_unavailable_reason() -> str | None:
    """Why the web server cannot run here (its packages are missing), or None if it can."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "plotly") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed (pip install 'mimocorb[web]')"
    return None


class WebLink:
    """The web server of a run (see the module docstring).

    ``context``: the multiprocessing context of the run; ``views`` and ``observers``: what the oscilloscope
    and histogram views show (``views.find_views``) and an observer setup dict of each buffer they need;
    ``run_dir``: the run directory, whose files the page offers; ``guard``: a context manager held while
    the process is started (the controller's ``start_guard``); ``commands``: the commands the run takes
    (``mimocorb.run.commands.as_json``), which the server accepts and the page draws as buttons. They
    come from the owner because the web server knows nothing of the run controller; without them the
    page can watch but not steer.
    """

    def __init__(
        self,
        context: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        views: Sequence[Mapping[str, Any]] = (),
        observers: Mapping[str, dict] | None = None,
        run_dir: str | Path | None = None,
        guard: contextlib.AbstractContextManager | None = None,
        commands: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.token = token or make_token()
        self.url: str | None = None
        self.port: int | None = None
        self._fatal: str | None = None
        self._pending: list[str] = []
        self._closed = False
        self._gone = False  # the server's end of the socket is closed
        self._keys = {str(c["key"]) for c in commands}
        self._sock, child = channel.socket_pair()
        opts = {
            "host": host,
            "port": int(port),
            "token": self.token,
            "views": [dict(v) for v in views],
            "observers": dict(observers or {}),
            "run_dir": None if run_dir is None else str(run_dir),
            "commands": [dict(c) for c in commands],
            "owner_pid": os.getpid(),
            "close_fd": self._sock.fileno() if context.get_start_method() == "fork" else -1,
        }
        from .server import serve_live

        self.process = context.Process(
            target=serve_live, args=(child, opts), name="mimocorb-web", daemon=True
        )
        try:
            with guard if guard is not None else contextlib.nullcontext():
                self.process.start()
        finally:
            child.close()

    # -- state ----------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self._closed and self.process.is_alive()

    def waitables(self) -> list[int]:
        """What the owner may wait on (``multiprocessing.connection.wait``) to see commands at once.

        Empty once the server is gone: its end of the socket would then be readable for ever.
        """
        return [] if self._closed or self._gone else [self._sock.fileno()]

    def exit_reason(self) -> str | None:
        """Why the server is gone (its own last word, a signal or an exit code), or None while it runs."""
        self._poll()
        if self.process.is_alive() and self._fatal is None:
            return None
        code = self.process.exitcode
        if self._fatal is not None:
            return self._fatal
        if code is None:
            return "not running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
        return f"exit code {code}"

    def wait_ready(self, timeout: float = 10.0) -> str | None:
        """The URL once the server listens; None if it failed or took longer than ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.url is None and self._fatal is None and self.process.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait([self._sock, self.process.sentinel], min(left, 0.2))
            self._poll()
        self._poll()
        return self.url

    # -- to the server --------------------------------------------------------------------------
    def publish(self, snapshot: Mapping[str, Any]) -> bool:
        """Send the newest status snapshot; False if it was dropped (server busy or gone)."""
        return self._send({"t": "status", "d": dict(snapshot)})

    def log(self, text: str, source: str = "controller", when: float | None = None) -> bool:
        line = str(text)
        if len(line) > LOG_LINE_MAX:
            line = line[:LOG_LINE_MAX] + " …"
        return self._send({"t": "log", "d": [time.time() if when is None else when, str(source), line]})

    def _send(self, message: dict[str, Any]) -> bool:
        return not self._closed and channel.send(self._sock, message)

    # -- from the server ------------------------------------------------------------------------
    def commands(self) -> list[str]:
        """The command lines (a key, and its argument if it takes one) that authorised pages sent since
        the last call."""
        self._poll()
        out, self._pending = self._pending, []
        return out

    def _poll(self) -> None:
        if self._closed:
            return
        messages, gone = channel.receive(self._sock)
        self._gone = self._gone or gone
        for m in messages:
            kind = m.get("t")
            if kind == "command" and str(m.get("c")) in self._keys:
                argument = str(m.get("a") or "").split()
                self._pending.append(" ".join([str(m["c"]), *argument[:1]]))
            elif kind == "ready":
                self.url, self.port = str(m.get("url")), int(m.get("port") or 0)
            elif kind == "fatal":
                self._fatal = str(m.get("error"))

    # -- end ------------------------------------------------------------------------------------
    def close(self, timeout: float = CLOSE_WAIT, linger: float = 0.0) -> None:
        """Ask the server to end after ``linger`` s (pages may fetch the run's summary and pictures
        meanwhile), then terminate and kill it if needed; bounded by about ``linger + timeout`` s."""
        if self._closed:
            return
        self._send({"t": "close", "linger": float(linger)})
        self._poll()
        self._closed = True
        self.process.join(linger + timeout)
        terminate_then_kill(self.process)
        self._sock.close()
