"""What a run reports when it is over: the content of run_summary.json, and the summary on the console.

Built from plain facts handed over by the controller — how the run went (``RunFacts``), the plan, the
buffers' final numbers, the worker slots and the end sequence's record — so that the report can be read
(and changed) without reading the controller.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..io.manifest import collect as collect_files
from .ending import EndRecord
from .plan import RunPlan
from .status import Console
from .supervisor import WorkerProcess


@dataclass(frozen=True)
class RunFacts:
    """How the run went, as the controller saw it."""

    setup_file: Path
    run_dir: Path | None
    start_method: str
    wall_start: _dt.datetime | None
    wall_end: _dt.datetime | None
    active_time: float
    pauses: int
    end_reason: str | None
    runtime: float
    runevents: int
    states: Sequence[tuple[float, str]]
    failures: Sequence[str]
    restarts: Sequence[str]
    abandoned: Sequence[Mapping[str, Any]]


def run_summary(
    facts: RunFacts,
    plan: RunPlan,
    buffer_stats: Mapping[str, Mapping[str, Any]],
    groups: Mapping[tuple[str, str], int],
    workers: Sequence[WorkerProcess],
    ending: EndRecord,
) -> dict[str, Any]:
    """The content of run_summary.json (without the exit code, which the caller adds).

    ``buffer_stats`` are the final ``Monitor.stats()`` of the buffers still readable, in setup order;
    ``groups`` maps (function key, buffer) to the function's reader group in that buffer.
    """
    active = facts.active_time
    buffers = {
        name: _buffer_summary(name, stats, plan, groups, active, ending.reports.get(name))
        for name, stats in buffer_stats.items()
    }
    wall = (
        (facts.wall_end - facts.wall_start).total_seconds()
        if facts.wall_start is not None and facts.wall_end is not None
        else 0.0
    )
    return {
        "mimocorb_version": __version__,
        "setup_file": str(facts.setup_file),
        "run_directory": str(facts.run_dir) if facts.run_dir is not None else None,
        "start_method": facts.start_method,
        "pid": os.getpid(),
        "start": _timestamp(facts.wall_start),
        "end": _timestamp(facts.wall_end),
        "wall_time_s": round(wall, 3),
        "active_time_s": round(active, 3),
        "pauses": facts.pauses,
        "end_reason": facts.end_reason,
        "limits": {"runtime_s": facts.runtime, "runevents": facts.runevents},
        "events": buffers.get(plan.first_buffer or "", {}).get("events", 0),
        "states": [list(item) for item in facts.states],
        "buffers": buffers,
        "workers": [_worker_summary(w) for w in workers],
        "failures": list(facts.failures),
        "restarts": list(facts.restarts),
        "abandoned_consumers": list(facts.abandoned),
        "end_sequence": _end_sequence_summary(ending),
        "files": collect_files(facts.run_dir) if facts.run_dir is not None else {},
    }


def print_summary(console: Console, summary: Mapping[str, Any], directory_prefix: str) -> None:
    """The end of the console output: times, per buffer events and rates, files, what went wrong."""
    c = console
    c.message(f"Execution time: {summary['wall_time_s']:.1f}s -  Events processed: {summary['events']}", 1)
    c.message(f"run ended ({summary['end_reason']}) after {summary['active_time_s']:.1f} s of active time", 1)
    for name, b in summary["buffers"].items():
        extra = f", lost {b['lost']}" if b["lost"] else ""
        c.message(
            f"  {name}: {b['events']} events, {b['mean_rate_hz']:.1f} Hz, "
            f"deadtime {100 * max(b['mean_deadtime'], 0):.2f}%{extra}",
            1,
        )
    for name, f in summary.get("files", {}).items():
        state = "" if f["complete"] else " (not closed in order)"
        c.message(f"  {name}: {f['events']} events written{state}", 1)
    for failure in summary["failures"]:
        c.message(f"  failed: {failure}", 0)
    for survivor in summary["end_sequence"]["survivors"]:
        c.message(f"  terminated after the grace period: {survivor}", 0)
    if summary["run_directory"] is not None:
        c.message(f"run directory: {directory_prefix}", 1)


def _buffer_summary(
    name: str,
    stats: Mapping[str, Any],
    plan: RunPlan,
    groups: Mapping[tuple[str, str], int],
    active: float,
    shutdown: Any,
) -> dict[str, Any]:
    committed = int(stats["committed"])
    consumers = [
        {
            "function": plan.function(key).label,
            "consumed": int(stats["groups"][g]["consumed"]),
            "pending": int(stats["groups"][g]["pending"]),
        }
        for (key, buffer), g in groups.items()
        if buffer == name and g < len(stats["groups"])
    ]
    return {
        "slots": int(stats["slots"]),
        "events": committed,
        "lost": int(stats["lost"]),
        "discarded": int(stats["discarded"]),
        "mean_rate_hz": round(committed / active, 3) if active > 0 else 0.0,
        "mean_deadtime": round(float(stats["deadtime_sum"]) / committed, 6) if committed else 0.0,
        "consumers": consumers,
        "shutdown": shutdown,
    }


def _worker_summary(w: WorkerProcess) -> dict[str, Any]:
    return {
        "function": w.key,
        "fkt_name": w.fkt_name,
        "instance": w.spec.instance,
        "pid": w.pid,
        "pids": list(w.pids),
        "status": w.state,
        "exit": w.exit_text(),
        "exitcode": w.exitcode,
        "restarts": w.restarts,
        "lost_events": w.lost_events,
        "errors": [
            {"pid": e.pid, "type": e.exc_type, "message": e.message, "traceback": e.traceback}
            for e in w.errors
        ],
    }


def _end_sequence_summary(record: EndRecord) -> dict[str, Any]:
    duration = None if record.t_begin is None or record.t_done is None else record.t_done - record.t_begin
    return {
        "grace_s": record.grace,
        "duration_s": None if duration is None else round(duration, 3),
        "order": list(record.order),
        "aborted": record.aborted,
        "survivors": list(record.survivors),
        "terminated_unconnected": list(record.detached),
        "shutdown_reports": {k: _plain(v) for k, v in record.reports.items()},
    }


def _timestamp(moment: _dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


def _plain(value: Any) -> Any:
    """JSON keys must be strings: the ring reports undelivered events by group number."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
