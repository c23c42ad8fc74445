"""The routes of the run catalog and of monitoring: notes of a run, and ``/metrics`` for Prometheus.

Notes are read like everything else (on loopback without the token) and written like commands: a note
needs the token in an ``Authorization: Bearer`` header, so a page of another site cannot write into the
logbook. ``/metrics`` follows the rule of reading: open on loopback, the token (a bearer token in the
scrape configuration) on any other address. It exists on the live dashboard only; the run browser has
no run to measure.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..history import RunFilter, check_tag, compile_grep, parse_since

if TYPE_CHECKING:
    from .app import Hub

MAX_BODY = 64_000  # bytes of a note's request


def run_filter(query: Any) -> RunFilter:
    """The filter of ``/api/runs``'s query (``since``, ``setup``, ``tag`` repeated, ``grep``);
    ValueError naming the bad parameter."""
    try:
        since = parse_since(query["since"]) if query.get("since") else None
    except ValueError as exc:
        raise ValueError(f"since: {exc}") from None
    grep = compile_grep(query["grep"]) if query.get("grep") else None
    tags = tuple(check_tag(t) for t in query.getlist("tag") if t)
    return RunFilter(since=since, setup=query.get("setup") or None, tags=tags, grep=grep)


def add_routes(app: FastAPI, hub: Hub, steering_refused: Callable[[Request], JSONResponse | None]) -> None:
    """The routes, on ``app`` over ``hub``; ``steering_refused`` checks the token of what writes."""

    @app.get("/api/notes", summary="the notes of a run (`run`: an id of /api/runs; the live run without)")
    def notes(run: str | None = None) -> JSONResponse:
        store = hub.store
        directory = None if store is None else (store.only if run is None else store.find(run))
        if store is None or directory is None:
            return JSONResponse({"detail": "no such run"}, status_code=404)
        return JSONResponse(store.entry(directory)["notes"])

    @app.post(
        "/api/note",
        summary='add a note: body {"text": ..., "tags": [...], "run": id (none for the live run)}; '
        "needs the token",
        status_code=201,
    )
    async def note(request: Request) -> JSONResponse:
        refused = steering_refused(request)
        if refused is not None:
            return refused
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"detail": f"a note's request has at most {MAX_BODY} bytes"}, status_code=413)
        try:
            text, tags, run = _note_request(json.loads(body or b"null"))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        if hub.store is None:
            return JSONResponse({"detail": "no such run"}, status_code=404)
        source = "dashboard" if hub.live else "run browser"
        try:
            added = hub.store.add_note(run, text, tags, source)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        except (OSError, sqlite3.Error) as exc:
            return JSONResponse({"detail": f"the note could not be stored: {exc}"}, status_code=503)
        if added is None:
            return JSONResponse({"detail": "no such run"}, status_code=404)
        if hub.live:
            hub.add_log(
                time.time(), "note", " ".join([*(f"#{t}" for t in added["tags"]), added["text"]]).strip()
            )
        return JSONResponse(added, status_code=201)

    @app.get("/metrics", summary="the live run's figures in the Prometheus text format")
    def metrics() -> Response:
        if not hub.live:
            return PlainTextResponse("this server shows no running run", 404)
        try:
            from .metrics import exposition
        except ImportError:
            return PlainTextResponse("prometheus-client is not installed (pip install 'mimocorb[web]')", 503)
        body, content_type = exposition(hub.status)
        return Response(body, media_type=content_type)


def _note_request(body: Any) -> tuple[str, list[str], str | None]:
    """Text, tags and run of a note's JSON body; ValueError saying what is expected."""
    expected = 'expected a JSON body {"text": "...", "tags": ["..."]} (and "run": an id of /api/runs)'
    if not isinstance(body, Mapping):
        raise ValueError(expected)
    text, tags, run = body.get("text", ""), body.get("tags", []), body.get("run")
    if not isinstance(text, str) or not isinstance(tags, list) or not isinstance(run, (str, type(None))):
        raise ValueError(expected)
    return text, [str(t) for t in tags], run
