"""The web server process of a run, and the run browser of ``mimocorb serve``.

The live server runs uvicorn in its own process with one asyncio loop and no threads of its own. Next
to the HTTP server the loop

* reads the controller's messages (snapshots, log lines, ``close``) whenever the socket is readable;
* samples the observed buffers for the oscilloscope and histogram views (each buffer at most every
  ``SCOPE_EVERY`` or ``HISTOGRAM_EVERY`` s, a copy of the newest event, never a lock);
* ends the server when the controller says so, closes its end of the socket, or is gone.

SIGINT and SIGHUP are ignored: Ctrl-C and a closed terminal are the controller's business, which ends
the run in order and then closes the server. SIGTERM ends the server at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._hosts import is_loopback_host
from . import channel
from .access import Access, url_of

SAMPLE_TICK = 0.02  # s between two looks at the observed buffers
SCOPE_EVERY = 0.15  # s between two waveforms taken per scope view: one per push
HISTOGRAM_EVERY = 0.02  # s between two sampled events per histogram buffer
PUSH_EVERY = 0.15  # s between two view updates sent to the pages: smooth enough, and cheap to draw
OWNER_CHECK = 0.5  # s between two checks that the controller still lives
GRACEFUL = 1.0  # s the server gives open event streams when it shuts down


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening, so that the port (also a free one for port 0) is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_server(app: Any) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its signal handlers: the owner of the process decides when it ends."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(GRACEFUL),
        ws="none",
    )
    return Server(config)


# ================================================================================ live dashboard ====
class Sampler:
    """Observers of the viewed buffers and the views they feed."""

    def __init__(self, views: list[dict[str, Any]], observers: dict[str, dict]) -> None:
        from ..ring import Observer
        from .views import make_view

        self.views: list[Any] = []
        self.observers: dict[str, Any] = {}
        self.every: dict[str, float] = {}
        self.next: dict[str, float] = {}
        self.problems: list[str] = []
        for view in views:
            setup = observers.get(str(view["buffer"]))
            if setup is None:
                continue
            try:
                built = make_view(view, setup["dtype"], int(setup["values_per_slot"]))
                if built.buffer not in self.observers:
                    self.observers[built.buffer] = Observer(setup, min_interval=0.0)
            except Exception as exc:  # a view that cannot be shown must not cost the dashboard
                self.problems.append(f"view of {view.get('buffer')} ({view.get('function')}): {exc}")
                continue
            self.views.append(built)
            every = SCOPE_EVERY if built.kind == "scope" else HISTOGRAM_EVERY
            self.every[built.buffer] = min(every, self.every.get(built.buffer, every))
            self.next[built.buffer] = 0.0

    @property
    def layouts(self) -> list[dict[str, Any]]:
        return [v.layout for v in self.views]

    def sample(self, now: float) -> None:
        from ..ring import RingTimeout

        for name, observer in list(self.observers.items()):
            if now < self.next[name]:
                continue
            self.next[name] = now + self.every[name]
            try:
                item = observer.get(timeout=0.0)
            except RingTimeout:
                continue
            if item is None:  # the buffer has ended
                del self.observers[name]
                continue
            for view in self.views:
                if view.buffer == name:
                    view.add(*item)

    def updates(self) -> list[dict[str, Any]]:
        return [d for d in (v.data() for v in self.views) if d is not None]


async def _live(sock: socket.socket, opts: dict[str, Any]) -> None:
    from ..ring import pid_alive
    from .app import Hub, create_app
    from .runs import RunStore

    host, port, token = str(opts["host"]), int(opts["port"]), str(opts["token"])
    run_dir = opts.get("run_dir")
    store = RunStore(Path(run_dir).parent, only=run_dir) if run_dir else None
    sampler = Sampler(list(opts.get("views") or []), dict(opts.get("observers") or {}))
    hub = Hub(
        store,
        sampler.layouts,
        command=lambda letter, argument: channel.send(sock, {"t": "command", "c": letter, "a": argument}),
        commands=list(opts.get("commands") or []),
    )
    for problem in sampler.problems:
        hub.add_log(time.time(), "web", f"not shown: {problem}")
    listener = listening_socket(host, port)
    port = listener.getsockname()[1]
    server = _uvicorn_server(create_app(hub, Access(token, open_reading=is_loopback_host(host))))

    def stop() -> None:
        hub.close()
        server.should_exit = True

    def readable() -> None:
        messages, gone = channel.receive(sock)
        for m in messages:
            kind = m.get("t")
            if kind == "status" and isinstance(m.get("d"), dict):
                hub.set_status(m["d"])
            elif kind == "log":
                when, source, text = m.get("d") or (time.time(), "", "")
                hub.add_log(float(when), str(source), str(text))
            elif kind == "close":  # after ``linger`` s: pages may still fetch the end of the run
                loop.call_later(max(0.0, float(m.get("linger") or 0.0)), stop)
        if gone:
            stop()

    loop = asyncio.get_running_loop()
    loop.add_reader(sock.fileno(), readable)
    owner = int(opts.get("owner_pid") or 0)

    async def background() -> None:
        next_push = next_owner = 0.0
        while not server.should_exit:
            now = time.monotonic()
            sampler.sample(now)
            if now >= next_push:  # on a fixed beat, so that the sampling tick does not lengthen it
                next_push = max(next_push + PUSH_EVERY, now)
                for data in sampler.updates():
                    hub.set_view(data)
            if owner and now >= next_owner:
                next_owner = now + OWNER_CHECK
                if not pid_alive(owner):
                    stop()
            await asyncio.sleep(SAMPLE_TICK)

    task = asyncio.ensure_future(background())
    channel.send(sock, {"t": "ready", "port": port, "url": url_of(host, port, token)})
    try:
        await server.serve(sockets=[listener])
    finally:
        task.cancel()
        loop.remove_reader(sock.fileno())
        listener.close()


def serve_live(sock: socket.socket, opts: dict[str, Any]) -> None:
    """Target of the web server process (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the owner's handler, inherited through fork
    close_fd = int(opts.get("close_fd", -1))
    if close_fd >= 0:  # the controller's end, inherited through fork: without it, its end is seen
        with contextlib.suppress(OSError):
            os.close(close_fd)
    try:
        asyncio.run(_live(sock, opts))
    except BaseException as exc:
        channel.send(sock, {"t": "fatal", "error": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from None
    finally:
        sock.close()


# ================================================================================== run browser ====
def serve_directory(directory: str | Path, host: str, port: int, token: str) -> int:
    """``mimocorb serve``: the run browser over the run directories below ``directory``, until Ctrl-C."""
    from .app import Hub, create_app
    from .runs import RunStore

    root = Path(directory)
    if not root.is_dir():
        print(f"mimocorb serve: {directory} is not a directory", file=sys.stderr)
        return 1
    try:
        listener = listening_socket(host, port)
    except OSError as exc:
        print(f"mimocorb serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    port = listener.getsockname()[1]
    hub = Hub(RunStore(root))
    server = _uvicorn_server(create_app(hub, Access(token, open_reading=is_loopback_host(host))))

    def on_signal(signum: int, frame: Any) -> None:
        hub.close()
        server.should_exit = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"mimocorb serve: runs below {root.resolve()} at {url_of(host, port, token)}", flush=True)
    try:
        asyncio.run(server.serve(sockets=[listener]))
    finally:
        listener.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    return 0
