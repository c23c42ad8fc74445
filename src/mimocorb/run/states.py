"""The states of a run, the only transitions between them, and the states of a worker process.

``configured`` → ``running`` ⇄ ``paused`` → (``stopped``) → ``stopping`` → ``ended``.

``stopped`` is entered only by the S command with somebody at a terminal (or a GUI): the sources are
stopped and the chain drains, but buffers and displays stay until E. Any state may go to ``ended``
directly: that is how a run ends that never started, or whose controller failed.

The values are the words written to run.log, stats.csv, run_summary.json and the status line; a
state compares equal to its word, so code outside the package may go on comparing strings.
"""

from __future__ import annotations

import time
from enum import Enum


class Word(str, Enum):
    """A state that behaves as its word everywhere: in formatting, in ``str()``, as a key among strings."""

    __str__ = str.__str__
    __hash__ = str.__hash__

    def __format__(self, spec: str) -> str:
        return str.__format__(self.value, spec)


class RunState(Word):
    """One state of a run."""

    CONFIGURED = "configured"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    STOPPING = "stopping"
    ENDED = "ended"


TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.CONFIGURED: frozenset({RunState.RUNNING, RunState.ENDED}),
    RunState.RUNNING: frozenset({RunState.PAUSED, RunState.STOPPED, RunState.STOPPING, RunState.ENDED}),
    RunState.PAUSED: frozenset({RunState.RUNNING, RunState.STOPPED, RunState.STOPPING, RunState.ENDED}),
    RunState.STOPPED: frozenset({RunState.STOPPING, RunState.ENDED}),
    RunState.STOPPING: frozenset({RunState.ENDED}),
    RunState.ENDED: frozenset(),
}

ACTIVE = frozenset({RunState.RUNNING, RunState.PAUSED})  # data taking is on (the sources write)
ENDABLE = frozenset(s for s, following in TRANSITIONS.items() if RunState.STOPPING in following)


class IllegalTransition(RuntimeError):
    """The controller tried a change of state that ``TRANSITIONS`` does not allow: a bug, not bad input."""


class StateHistory:
    """The current state and every change so far, as (seconds since the start, state).

    ``move`` is the one place where a run changes state; it refuses what ``TRANSITIONS`` does not allow.
    """

    def __init__(self) -> None:
        self.current = RunState.CONFIGURED
        self.changes: list[tuple[float, RunState]] = [(0.0, RunState.CONFIGURED)]
        self.t_start: float | None = None

    def started(self, t_start: float) -> None:
        """From now on changes are timed from ``t_start`` (a ``time.monotonic()`` value)."""
        self.t_start = t_start

    def move(self, state: RunState) -> None:
        if state not in TRANSITIONS[self.current]:
            raise IllegalTransition(f"run state {self.current.value} cannot change to {state.value}")
        self.current = state
        t = 0.0 if self.t_start is None else time.monotonic() - self.t_start
        self.changes.append((round(t, 3), state))


class WorkerState(Word):
    """One state of a worker process slot; ``RUNNING`` is the only one with a live process."""

    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"  # exit code 0
    FAILED = "failed"  # exit code > 0, or the process could not be started
    KILLED = "killed"  # ended by a signal nobody here sent
    TERMINATED = "terminated"  # ended after the controller sent SIGTERM or SIGKILL
