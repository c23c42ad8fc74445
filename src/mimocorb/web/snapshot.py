"""The status snapshot: what ``GET /api/status`` returns and the page shows, as a plain JSON-able dict.

The controller builds it from what it holds anyway (its buffer samples, its worker slots, its state and
clock) and sends it to the server process. The builder takes plain values and duck-typed objects, so
this module imports nothing of the run controller and the server can be tested without one.

Schema (every key always present)::

    {"state": str, "active_time": float, "progress": float | None, "events": int,
     "end_reason": str | None, "limits": {"runtime_s": float, "runevents": int},
     "setup": str, "run_directory": str | None, "time": float (Unix time of the snapshot),
     "buffers": [{"name", "events", "rate_hz", "fill", "slots", "deadtime", "lost",
                  "consumers": [{"label", "pending"}]}],
     "workers": [{"name", "function", "state", "pid", "restarts"}],
     "links": [],
     "series": None | {"name", "step", "steps", "run", "overrides"} (the step of a run series),
     "alarms": [{"alarm", "state", "severity", "value", "values", "condition", "time", "acknowledged"}]}

``alarms`` lists the raised alarms (the page shows them in a banner with an acknowledge button).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol


class BufferNumbers(Protocol):
    """One buffer's numbers at one moment (the controller's ``BufferSample`` has these)."""

    name: str
    events: int
    fill: int
    slots: int
    rate: float
    deadtime: float
    lost: int


class WorkerFacts(Protocol):
    """One worker process slot (the controller's ``WorkerProcess`` has these)."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    state: str
    restarts: int


def build_snapshot(
    *,
    state: str,
    active_time: float,
    samples: Iterable[BufferNumbers],
    workers: Iterable[WorkerFacts] = (),
    consumers: Mapping[str, Sequence[tuple[str, int]]] | None = None,
    events: int | None = None,
    progress: float | None = None,
    runtime: float = 0.0,
    runevents: int = 0,
    end_reason: str | None = None,
    setup: str = "",
    run_directory: str | None = None,
    links: Sequence[Mapping[str, Any]] = (),
    series: Mapping[str, Any] | None = None,
    alarms: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The snapshot (see the module docstring); ``consumers`` maps a buffer name to (label, pending).

    ``events`` defaults to the events of the first buffer, the number the end condition counts.
    """
    consumers = consumers or {}
    buffers = [_buffer(s, consumers.get(s.name, ())) for s in samples]
    if events is None:
        events = buffers[0]["events"] if buffers else 0
    return {
        "state": str(state),
        "active_time": round(float(active_time), 3),
        "progress": None if progress is None else round(float(progress), 4),
        "events": int(events),
        "end_reason": None if end_reason is None else str(end_reason),
        "limits": {"runtime_s": float(runtime), "runevents": int(runevents)},
        "setup": str(setup),
        "run_directory": None if run_directory is None else str(run_directory),
        "time": round(time.time(), 3),
        "buffers": buffers,
        "workers": [_worker(w) for w in workers],
        "links": [dict(link) for link in links],
        "series": None if series is None else dict(series),
        "alarms": [dict(alarm) for alarm in alarms],
    }


def _buffer(s: BufferNumbers, consumers: Sequence[tuple[str, int]]) -> dict[str, Any]:
    return {
        "name": str(s.name),
        "events": int(s.events),
        "rate_hz": round(float(s.rate), 3),
        "fill": int(s.fill),
        "slots": int(s.slots),
        "deadtime": round(float(s.deadtime), 6),
        "lost": int(s.lost),
        "consumers": [{"label": str(label), "pending": int(pending)} for label, pending in consumers],
    }


def _worker(w: WorkerFacts) -> dict[str, Any]:
    return {
        "name": str(w.name),
        "function": str(w.key),
        "state": str(w.state),
        "pid": None if w.pid is None else int(w.pid),
        "restarts": int(getattr(w, "restarts", 0)),
    }


def empty_snapshot(state: str = "waiting") -> dict[str, Any]:
    """What the server shows before the first snapshot arrives."""
    return build_snapshot(state=state, active_time=0.0, samples=())
