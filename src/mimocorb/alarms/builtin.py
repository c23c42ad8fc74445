"""The built-in alarms every run has unless the setup turns them off: a buffer full for too long, a
worker restarting again and again, the disk filling up (the run pauses before it is full), no events
into the first buffer.

The setup changes one by naming it in ``Alarms`` with the keys to change (``- disk_low: {below_gb: 5}``)
or turns it off (``- no_events: off``). ``DEFAULTS`` lists each one's keys and values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .expression import parse
from .spec import Action, AlarmSpec, ConditionTest, Evaluator, Values, action_of

#: Each built-in alarm's settings; a setup entry of the same name replaces the keys it gives.
DEFAULTS: dict[str, dict[str, Any]] = {
    "buffer_full": {"for": 60.0, "severity": "warning", "actions": ["log"]},
    "worker_restarts": {
        "restarts": 3,
        "within": 600.0,
        "for": 0.0,
        "severity": "warning",
        "actions": ["log"],
    },
    "disk_low": {"below_gb": 1.0, "for": 0.0, "severity": "error", "actions": ["log", "pause_run"]},
    "no_events": {"for": 60.0, "severity": "warning", "actions": ["log"]},
}
#: The keys only a built-in alarm has (a user alarm has ``when`` instead).
THRESHOLDS: dict[str, tuple[str, ...]] = {
    "buffer_full": (),
    "worker_restarts": ("restarts", "within"),
    "disk_low": ("below_gb",),
    "no_events": (),
}


@dataclass(frozen=True)
class RestartBurst:
    """A worker's restart count grew by ``count`` or more within ``within`` s."""

    variable: str
    count: int
    within: float

    @property
    def text(self) -> str:
        return f"{self.variable} grew by {self.count} within {self.within:g} s"

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def start(self) -> Evaluator:
        seen: deque[tuple[float, float]] = deque()

        def holds(values: Values, now: float) -> bool | None:
            restarts = values.get(self.variable)
            if restarts is None:
                return None
            seen.append((now, restarts))
            while seen and seen[0][0] < now - self.within:
                seen.popleft()
            return restarts - seen[0][1] >= self.count

        return holds


@dataclass(frozen=True)
class Unchanged:
    """A counter (the first buffer's events) did not grow since the last sample."""

    variable: str

    @property
    def text(self) -> str:
        return f"no new {self.variable}"

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def start(self) -> Evaluator:
        last: list[float] = []

        def holds(values: Values, now: float) -> bool | None:
            count = values.get(self.variable)
            if count is None:
                return None
            before = last[0] if last else None
            last[:] = [count]
            return None if before is None else count <= before

        return holds


def builtin_alarms(
    settings: Mapping[str, Mapping[str, Any] | None],
    buffers: Sequence[str],
    first_buffer: str | None,
    workers: Sequence[str],
) -> list[AlarmSpec]:
    """The built-in alarms of a setup: ``settings`` maps a built-in name to the keys the setup changed,
    or to None where the setup turned it off; the others keep their ``DEFAULTS``."""
    out: list[AlarmSpec] = []
    for name, defaults in DEFAULTS.items():
        given = settings.get(name, {})
        if given is None:
            continue
        s = {**defaults, **given}
        if name == "buffer_full":
            out += [_spec(f"{name}:{b}", ConditionTest(parse(f"{b}.fill >= 1")), s) for b in buffers]
        elif name == "worker_restarts":
            out += [
                _spec(f"{name}:{w}", RestartBurst(f"{w}.restarts", int(s["restarts"]), float(s["within"])), s)
                for w in workers
            ]
        elif name == "disk_low":
            test = ConditionTest(parse(f"disk_free_gb < {float(s['below_gb'])!r}"))
            out.append(_spec(name, test, s, while_paused=True))
        elif first_buffer is not None:
            out.append(_spec(name, Unchanged(f"{first_buffer}.events"), s))
    return out


def _spec(name: str, test: Any, settings: Mapping[str, Any], while_paused: bool = False) -> AlarmSpec:
    actions: tuple[Action, ...] = tuple(action_of(a) for a in settings["actions"])
    return AlarmSpec(
        name, test, float(settings["for"]), str(settings["severity"]), actions, while_paused, builtin=True
    )
