"""The web application: the page, the JSON API, the event stream and the files of run directories.

One ``Hub`` holds what the page shows (newest snapshot, recent log, view layouts and newest view data)
and fans every change out to the connected event streams. Each stream has a short queue of its own; a
slow browser loses old updates, it never holds up the hub or the other browsers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse

from .. import __version__
from .._hosts import is_loopback_host
from . import catalog_api
from .access import COOKIE, Access
from .history import add_history_routes
from .runs import RunStore
from .snapshot import empty_snapshot

LOG_KEEP = 2000  # log lines kept for pages that connect later
LOG_HELLO = 500  # of which a new page gets these
STREAM_QUEUE = 64  # updates queued per event stream before the oldest are dropped
KEEPALIVE = 10.0  # s between comment lines on an idle event stream
STATIC = {
    "app.js": "text/javascript",
    "notes.js": "text/javascript",
    "history.js": "text/javascript",
    "style.css": "text/css",
    "index.html": "text/html",
}
INLINE_TEXT = (".txt", ".log", ".csv", ".json", ".yaml", ".yml", ".md")
INLINE_PICTURES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
ARGUMENT = re.compile(r"^[A-Za-z0-9_:.-]{0,100}$")  # one word: an alarm's name
CACHED = {"Cache-Control": "max-age=3600"}  # the charting library is large and does not change
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Hub:
    """What the page shows, and the event streams it is sent to."""

    def __init__(
        self,
        store: RunStore | None,
        layouts: list[dict[str, Any]] | None = None,
        command: Callable[[str, str], bool] | None = None,
        commands: list[dict[str, Any]] | None = None,
    ) -> None:
        self.store = store
        self.live = command is not None
        self.command = command
        # the run controller's command table: what the page may send, and when (``run/commands.py``)
        self.commands = list(commands or [])
        self.status: dict[str, Any] = empty_snapshot()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_KEEP)
        self.seq = 0
        self.layouts = list(layouts or [])
        self.view_data: dict[str, dict[str, Any]] = {}
        self.streams: set[asyncio.Queue] = set()
        self.closing = False

    # -- changes --------------------------------------------------------------------------------
    def set_status(self, snapshot: dict[str, Any]) -> None:
        self.status = snapshot
        self._send("status", snapshot)

    def add_log(self, when: float, source: str, text: str) -> None:
        self.seq += 1
        line = {"seq": self.seq, "time": when, "source": source, "text": text}
        self.log.append(line)
        self._send("log", line)

    def set_view(self, data: dict[str, Any]) -> None:
        self.view_data[str(data["id"])] = data
        self._send("view", data)

    def close(self) -> None:
        self.closing = True
        self._send("closing", {})

    def hello(self) -> dict[str, Any]:
        return {
            "mode": "live" if self.live else "browse",
            "version": __version__,
            "status": self.status,
            "log": list(self.log)[-LOG_HELLO:],
            "layouts": self.layouts,
            "views": list(self.view_data.values()),
        }

    def _send(self, kind: str, data: Any) -> None:
        for q in self.streams:
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait((kind, data))

    # -- event stream ---------------------------------------------------------------------------
    async def stream(self, request: Request) -> AsyncIterator[str]:
        q: asyncio.Queue = asyncio.Queue(STREAM_QUEUE)
        self.streams.add(q)
        try:
            yield _event("hello", self.hello())
            while not self.closing and not await request.is_disconnected():
                try:
                    kind, data = await asyncio.wait_for(q.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield _event(kind, data)
                if kind == "closing":
                    return
        finally:
            self.streams.discard(q)


def _event(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _static_file(name: str) -> bytes:
    return (resources.files("mimocorb.web") / "static" / name).read_bytes()


def plotly_bundle() -> Path | None:
    """plotly.js as the ``plotly`` package ships it, or None if that package is not installed."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _loopback_host(header: str) -> bool:
    """The Host header names this machine by a loopback name or address (with or without a port)."""
    if header.startswith("["):
        host = header[1:].split("]", 1)[0]
    else:
        host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return is_loopback_host(host)


def _refusal(code: int) -> JSONResponse:
    text = "an access token is needed" if code == 401 else "wrong access token"
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    return JSONResponse({"detail": text}, status_code=code, headers=headers)


def create_app(hub: Hub, access: Access) -> FastAPI:
    """The application over ``hub``; ``access`` decides who may read and steer."""
    app = FastAPI(
        title="mimocorb",
        version=__version__,
        description="Watch and steer a mimocorb run, and browse finished runs.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        """Reading needs the token unless the server is on loopback; the valid one is kept in a cookie."""
        given = request.query_params.get("token")
        if access.open_reading and not _loopback_host(request.headers.get("host", "")):
            # a page of another site whose name was pointed at 127.0.0.1 must not read the run
            return _with_headers(JSONResponse({"detail": "unknown host"}, status_code=403))
        if not access.open_reading:
            presented = _bearer(request) or given or request.cookies.get(COOKIE)
            verdict = access.verdict(presented)
            if verdict != 200:
                return _with_headers(_refusal(verdict))
        response = await call_next(request)
        if given and access.verdict(given) == 200:
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return _with_headers(response)

    def steering_refused(request: Request) -> JSONResponse | None:
        """What changes something (a command, a note) needs the token in an Authorization header."""
        verdict = access.verdict(_bearer(request))
        return None if verdict == 200 else _refusal(verdict)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response(_static_file("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            bundle = plotly_bundle()
            if bundle is None:
                return PlainTextResponse("plotly is not installed (pip install 'mimocorb[web]')", 404)
            return FileResponse(bundle, media_type="text/javascript", headers=CACHED)
        if name not in STATIC:
            return PlainTextResponse("not found", 404)
        return Response(_static_file(name), media_type=STATIC[name] + "; charset=utf-8")

    @app.get("/api/info", summary="what this server shows: a live run or a directory of runs")
    def info() -> dict[str, Any]:
        return {
            "mode": "live" if hub.live else "browse",
            "version": __version__,
            "layouts": hub.layouts,
            "notes": hub.store is not None,  # runs with a run directory, which keeps their notes
        }

    @app.get("/api/status", summary="the newest status snapshot of the run")
    def status() -> dict[str, Any]:
        return hub.status

    @app.get("/api/log", summary="recent log lines, after sequence number `since`")
    def log(since: int = 0) -> list[dict[str, Any]]:
        return [line for line in hub.log if line["seq"] > since]

    @app.get("/api/views", summary="oscilloscope and histogram views: layouts and newest data")
    def views() -> dict[str, Any]:
        return {"layouts": hub.layouts, "views": list(hub.view_data.values())}

    @app.get("/api/events", summary="server-sent events: hello, status, log, view, closing")
    def events(request: Request) -> StreamingResponse:
        return StreamingResponse(
            hub.stream(request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/commands", summary="the commands the run takes: name, key, what it does, in which states")
    def commands() -> list[dict[str, Any]]:
        return hub.commands

    @app.post(
        "/api/command",
        summary='steer the run: body {"command": NAME}, a name of /api/commands, with "argument": WORD for '
        "a command that takes one (acknowledge: the alarm's name); needs the token",
        status_code=202,
    )
    async def command(request: Request) -> JSONResponse:
        refused = steering_refused(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        word = body.get("command") if isinstance(body, dict) else None
        if not isinstance(word, str):
            return _bad_command(hub.commands)
        if hub.command is None:
            return JSONResponse({"detail": "this server shows no running run"}, status_code=409)
        known = {c["name"]: c for c in hub.commands}
        entry = known.get(word.lower())
        if entry is None:
            return _bad_command(hub.commands)
        argument = body.get("argument") or "" if isinstance(body, dict) else ""
        if argument and not (
            entry.get("argument") and isinstance(argument, str) and ARGUMENT.match(argument)
        ):
            return JSONResponse({"detail": f"{entry['name']} takes no such argument"}, status_code=400)
        if not hub.command(entry["key"], argument):
            return JSONResponse({"detail": "the run controller does not answer"}, status_code=503)
        return JSONResponse({"command": word.lower(), "accepted": time.time()}, status_code=202)

    @app.get(
        "/api/runs",
        summary="the runs: date, setup, state, end reason, events, rate, files, tags, notes; "
        "filtered by since, setup, tag (repeatable) and grep as mimocorb runs does",
    )
    def runs(request: Request) -> JSONResponse:
        try:
            run_filter = catalog_api.run_filter(request.query_params)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse(hub.store.runs(run_filter) if hub.store is not None else [])

    @app.get("/api/run", summary="one run: its summary, statistics (stats.csv) and files")
    def run(id: str) -> JSONResponse:
        directory = hub.store.find(id) if hub.store is not None else None
        if directory is None:
            return JSONResponse({"detail": "no such run"}, status_code=404)
        store = hub.store
        assert store is not None
        return JSONResponse(
            {
                "run": store.describe(directory),
                "summary": store.summary(directory),
                "stats": store.stats(directory),
                "files": store.files(directory),
                "catalog": store.entry(directory),
            }
        )

    catalog_api.add_routes(app, hub, steering_refused)

    @app.get("/api/file", summary="a file of a run directory (nothing outside run directories)")
    def file(run: str, name: str) -> Response:
        path = hub.store.file(run, name) if hub.store is not None else None
        if path is None:
            return PlainTextResponse("not found", 404)
        suffix = path.suffix.lower()
        if suffix in INLINE_PICTURES:
            return FileResponse(path, media_type=INLINE_PICTURES[suffix])
        if suffix in INLINE_TEXT:
            return FileResponse(path, media_type="text/plain; charset=utf-8")
        return FileResponse(path, media_type="application/octet-stream", filename=path.name)

    add_history_routes(app, lambda: hub.store.root if hub.store is not None else None)
    return app


def _one_word(argument: Any) -> bool:
    return isinstance(argument, str) and ARGUMENT.match(argument) is not None


def _bad_command(commands: list[dict[str, Any]]) -> JSONResponse:
    names = ", ".join(c["name"] for c in commands)
    return JSONResponse({"detail": f'expected a JSON body {{"command": ...}} with one of {names}'}, 400)


def _with_headers(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response
