"""The live dashboard of a run (``--web`` or the setup's ``web`` key), seen from the controller.

The web server is a process of its own (``mimocorb.web.WebLink``): it reads the buffers only through
observers and gets everything else from the snapshots the controller publishes here. Nothing here ever
waits for a browser: a snapshot or log line the server cannot take at once is dropped, and a server that
cannot start or dies is reported once while the run goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import ValidatedSetup
from ..ring import RingBuffer
from ..web import WebLink, build_snapshot, web_unavailable_reason
from ..web.access import url_of
from ..web.views import find_views, observed_buffers
from .commands import as_json
from .supervisor import start_guard

PUBLISH_INTERVAL = 0.25  # s between snapshots: the page's numbers lag the run by well under 1 s
READY_TIMEOUT = 10.0  # s the server may take to listen
LINGER = 3.0  # s the server stays after the end, so open pages can load the summary and pictures


def setup_views(setup: ValidatedSetup) -> list[dict]:
    """The oscilloscope and histogram views of the setup's own display functions."""
    return find_views(
        (f"{f.key} ({f.fkt_name})", f.config_dict, f.observes, f.reads) for f in setup.functions
    )


class Dashboard:
    """One run's web server: started by ``start``, fed by ``publish`` and ``log``, asked by ``commands``."""

    def __init__(self, link: WebLink, note: Callable[[str, int], None]) -> None:
        self.link = link
        self.note = note
        self._reported = False

    @classmethod
    def start(
        cls,
        context: Any,
        setup: ValidatedSetup,
        buffers: Mapping[str, RingBuffer],
        run_dir: Path | None,
        address: tuple[str, int],
        token: str | None,
        note: Callable[[str, int], None],
    ) -> Dashboard | None:
        """The dashboard, listening; None (and a note saying why) if it cannot run."""
        reason = web_unavailable_reason()
        if reason is not None:
            note(f"web: running without the dashboard: {reason}", 0)
            return None
        views = setup_views(setup)
        observers = {n: buffers[n].new_observer() for n in observed_buffers(views) if n in buffers}
        host, port = address
        guard = start_guard(context)
        link = WebLink(context, host, port, token, views, observers, run_dir, guard, commands=as_json())
        url = link.wait_ready(READY_TIMEOUT)
        if url is None:
            note(f"web: the dashboard could not be started: {link.exit_reason() or 'no answer'}", 0)
            link.close()
            return None
        # run.log gets the address without the token: the log is readable wherever the run directory is
        note(f"web: dashboard at {url_of(host, link.port or port, None)} (server pid {link.process.pid})", 2)
        return cls(link, note)

    @property
    def url(self) -> str:
        """The address with the access token, for the operator's console."""
        return self.link.url or ""

    @property
    def alive(self) -> bool:
        return self.link.alive

    def waitables(self) -> list[int]:
        return self.link.waitables()

    def commands(self) -> list[str]:
        """Command letters from authorised pages; reports once when the server has gone away."""
        letters = self.link.commands()
        if not self._reported and not self.link.alive:
            self._reported = True
            reason = self.link.exit_reason() or "ended"
            self.note(f"WARNING: web: the dashboard server is gone ({reason}); the run goes on", 0)
        return letters

    def publish(self, **facts: Any) -> None:
        """A snapshot of the run (``web.build_snapshot``'s keywords)."""
        if self.link.alive:
            self.link.publish(build_snapshot(**facts))

    def log(self, text: str, source: str = "controller") -> None:
        if self.link.alive:
            self.link.log(text, source)

    def close(self, linger: float = LINGER) -> None:
        """End the server, after ``linger`` s for pages to fetch the end of the run; bounded."""
        with contextlib.suppress(Exception):
            self.link.close(linger=linger if self.link.alive else 0.0)
