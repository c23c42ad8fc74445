"""What an alarm is: a name, a test of the sampled variables, how long it must hold, how bad it is, and
what is done when it is raised or cleared.

The setup declares user alarms by a condition (``expression``); the built-in alarms (``builtin``) are
made here from the setup's buffers and functions. Both end as ``AlarmSpec``: the run watches them the
same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .expression import Condition

SEVERITIES = ("info", "warning", "error")
SIMPLE_ACTIONS = ("log", "pause_run", "stop_run")  # written as a bare word
TARGET_ACTIONS = ("webhook", "email", "exec")  # written as a one-key mapping {kind: target}
OFF_LOOP_ACTIONS = TARGET_ACTIONS  # carried out by the action process, never by the run's loop

Values = Mapping[str, float]
Evaluator = Callable[[Values, float], "bool | None"]  # (the variables, monotonic time) -> holds


class Test(Protocol):
    """What an alarm tests: its text for people, the variables it reads, and a fresh evaluator per run
    (a built-in test may keep state between samples, such as the last event count)."""

    @property
    def text(self) -> str: ...

    @property
    def variables(self) -> tuple[str, ...]: ...

    def start(self) -> Evaluator: ...


@dataclass(frozen=True)
class ConditionTest:
    """A condition of the expression language as a test: it keeps no state."""

    condition: Condition

    @property
    def text(self) -> str:
        return self.condition.text

    @property
    def variables(self) -> tuple[str, ...]:
        return self.condition.variables

    def start(self) -> Evaluator:
        holds = self.condition.holds
        return lambda values, now: holds(values)


@dataclass(frozen=True)
class Action:
    """One action: ``kind`` of SIMPLE_ACTIONS or TARGET_ACTIONS, ``target`` the URL, address or command."""

    kind: str
    target: str | tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.target is None:
            return self.kind
        target = " ".join(self.target) if isinstance(self.target, tuple) else self.target
        return f"{self.kind} {target}"

    def plain(self) -> Any:
        """The action as the setup writes it (for run_summary.json)."""
        return self.kind if self.target is None else {self.kind: self.target}


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm of a run. ``hold``: s the test must hold before the alarm is raised; ``while_paused``:
    also tested while the run is paused (the disk fills then too); ``builtin``: made by mimocorb."""

    name: str
    test: Test
    hold: float
    severity: str
    actions: tuple[Action, ...]
    while_paused: bool = False
    builtin: bool = False

    @property
    def condition(self) -> str:
        return self.test.text

    def has(self, kind: str) -> bool:
        return any(action.kind == kind for action in self.actions)


def action_of(raw: Any) -> Action:
    """An action as written in the setup (``log`` or ``{webhook: URL}``); ValueError saying what is
    expected if it is none."""
    if isinstance(raw, str) and raw in SIMPLE_ACTIONS:
        return Action(raw)
    if isinstance(raw, dict) and len(raw) == 1:
        kind, target = next(iter(raw.items()))
        if kind in TARGET_ACTIONS:
            return Action(kind, _target(kind, target))
    raise ValueError(
        f"expected one of {', '.join(SIMPLE_ACTIONS)} or a mapping "
        "{webhook: URL}, {email: ADDRESS}, {exec: COMMAND}"
    )


def _target(kind: str, target: Any) -> str | tuple[str, ...]:
    if kind == "exec" and isinstance(target, list) and target and all(isinstance(t, str) for t in target):
        return tuple(target)
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"expected {kind}: {_TARGET_TEXT[kind]}, found {target!r}")
    target = target.strip()
    if kind == "webhook" and not target.startswith(("http://", "https://")):
        raise ValueError(f"expected webhook: {_TARGET_TEXT[kind]}, found '{target}'")
    if kind == "email" and ("@" not in target or any(c.isspace() for c in target)):
        raise ValueError(f"expected email: {_TARGET_TEXT[kind]}, found '{target}'")
    return target


_TARGET_TEXT = {
    "webhook": "an http:// or https:// URL",
    "email": "an address such as lab@example.org",
    "exec": "a command (a string, or a list of the program and its arguments)",
}

#: The variables sampled of every buffer and of every function (``<name>.<variable>``); a function's
#: worker may publish more of its own.
BUFFER_VARIABLES = ("events", "rate_hz", "fill", "deadtime", "lost")
WORKER_VARIABLES = ("cpu", "memory_mb", "restarts")
