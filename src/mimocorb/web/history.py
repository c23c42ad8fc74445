"""The History page's routes: the variables of the output directory's history, their values over a span
(as JSON for the chart and as CSV), and the runs and pauses of the span.

The history is ``history.sqlite`` in the directory the server shows: the output directory of the live
run, or the directory of ``mimocorb serve``. Each request opens the database for reading only as long as
it takes, so a run writing it at the same time is never held up.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from .. import history

DEFAULT_SPAN = 86400.0  # s shown when the page asks for no span


class NoHistory(Exception):
    """The directory has no history database."""


def add_history_routes(app: FastAPI, directory: Callable[[], Path | None]) -> None:
    """The History page (``/history``) and its API on ``app``; ``directory()`` holds history.sqlite."""

    @contextmanager
    def database() -> Iterator[sqlite3.Connection]:
        where = directory()
        if where is None:
            raise NoHistory("this server shows no output directory")
        try:
            db = history.connect(where, create=False)
        except FileNotFoundError as exc:
            raise NoHistory(str(exc)) from None
        try:
            yield db
        finally:
            db.close()

    def answer(job: Callable[[sqlite3.Connection], Response]) -> Response:
        try:
            with database() as db:
                return job(db)
        except NoHistory as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/history", include_in_schema=False)
    def page() -> Response:
        text = (resources.files("mimocorb.web") / "static" / "history.html").read_bytes()
        return Response(text, media_type="text/html; charset=utf-8")

    @app.get("/api/history/variables", summary="the variables of the history and the span it covers")
    def variables() -> Response:
        return answer(lambda db: JSONResponse({"variables": history.variables(db), **history.extent(db)}))

    @app.get(
        "/api/history/data",
        summary="values of variables (comma-separated `vars`) from `since` to `until` (Unix s), with runs "
        "and pauses; `resolution` auto, full, minute or hour",
    )
    def data(
        vars: str = "", since: float | None = None, until: float | None = None, resolution: str = "auto"
    ) -> Response:
        def job(db: sqlite3.Connection) -> Response:
            selection, runs = _select(db, vars, since, until, resolution)
            series = {name: _jsonable(s) for name, s in selection.series.items()}
            body = {
                "resolution": selection.resolution,
                "step": selection.step,
                "since": selection.since,
                "until": selection.until,
                "series": series,
                "runs": runs,
            }
            return JSONResponse(body)

        return _checked(lambda: answer(job))

    @app.get("/api/history/csv", summary="the same values as CSV (one column per variable)")
    def csv(
        vars: str = "", since: float | None = None, until: float | None = None, resolution: str = "auto"
    ) -> Response:
        def job(db: sqlite3.Connection) -> Response:
            selection, _ = _select(db, vars, since, until, resolution)
            stamp = time.strftime("%Y%m%d-%H%M", time.localtime(selection.until))
            disposition = f'attachment; filename="history-{stamp}.csv"'
            return Response(
                history.to_csv(selection),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )

        return _checked(lambda: answer(job))


def _select(
    db: sqlite3.Connection, names: str, since: float | None, until: float | None, resolution: str
) -> tuple[history.Selection, list[dict[str, Any]]]:
    if resolution not in ("auto", "full", "minute", "hour"):
        raise ValueError(f"resolution {resolution!r}: expected auto, full, minute or hour")
    until = time.time() if until is None else until
    since = until - DEFAULT_SPAN if since is None else since
    if not since < until:
        raise ValueError("since must lie before until")
    wanted = [n for n in names.split(",") if n]
    return history.select(db, wanted, since, until, resolution), history.runs(db, since, until)


def _checked(job: Callable[[], Response]) -> Response:
    try:
        return job()
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)


def _jsonable(series: history.Series) -> dict[str, list[Any]]:
    """The series with its gaps (NaN, which JSON does not know) as null."""

    def clean(values: list[float]) -> list[float | None]:
        return [None if math.isnan(v) else v for v in values]

    return {"t": series.t, "mean": clean(series.mean), "min": clean(series.min), "max": clean(series.max)}
