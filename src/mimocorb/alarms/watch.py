"""Watching the alarms sample by sample: debounce, raise, clear, acknowledge.

An alarm is raised when its test has held on every sample for its ``for`` seconds, and cleared on the
first sample on which the test is false again. A test that cannot be evaluated (a variable without a
value) neither raises nor clears. While the run is paused only the alarms tested ``while_paused`` are
tested (no events is then no news); the others keep their state and start their ``for`` anew.

The watch only decides; what is done about an alarm (log, webhook, pause, ...) is the run's business.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .spec import AlarmSpec, Evaluator, Values

RAISED, CLEARED = "raised", "cleared"


@dataclass(frozen=True)
class AlarmEvent:
    """An alarm raised or cleared: what was true and when (Unix time)."""

    alarm: str
    state: str
    severity: str
    condition: str
    values: dict[str, float]
    time: float

    @property
    def value(self) -> float | None:
        """The value of the first variable the condition names (the one a message shows first)."""
        return next(iter(self.values.values()), None)

    def message(self) -> str:
        shown = ", ".join(f"{k} = {v:g}" for k, v in self.values.items())
        word = "ALARM" if self.state == RAISED else "alarm"
        return f"{word} {self.alarm} {self.state} ({self.severity}): {self.condition}" + (
            f" [{shown}]" if shown else ""
        )

    def plain(self, run_directory: str | None = None) -> dict[str, Any]:
        """The event as JSON: for the webhook, the action process and run_summary.json."""
        return {
            "alarm": self.alarm,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "values": dict(self.values),
            "condition": self.condition,
            "run_directory": run_directory,
            "time": round(self.time, 3),
        }


@dataclass
class _Alarm:
    spec: AlarmSpec
    holds: Evaluator
    since: float | None = None  # monotonic time since which the test holds
    raised: AlarmEvent | None = None
    acknowledged: bool = False


@dataclass
class AlarmWatch:
    """The alarms of one run and their states; ``evaluate`` once per sample."""

    specs: Iterable[AlarmSpec]
    events: list[AlarmEvent] = field(default_factory=list, init=False)
    seen: set[str] = field(default_factory=set, init=False)
    _alarms: list[_Alarm] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._alarms = [_Alarm(spec, spec.test.start()) for spec in self.specs]

    def evaluate(
        self, values: Values, now: float, running: bool = True
    ) -> list[tuple[AlarmSpec, AlarmEvent]]:
        """The alarms raised or cleared by this sample (``now``: monotonic time of the sample)."""
        self.seen.update(values)
        changes = []
        for alarm in self._alarms:
            if not (running or alarm.spec.while_paused):
                alarm.since = None
                continue
            event = self._step(alarm, values, now)
            if event is not None:
                self.events.append(event)
                changes.append((alarm.spec, event))
        return changes

    def _step(self, alarm: _Alarm, values: Values, now: float) -> AlarmEvent | None:
        holds = alarm.holds(values, now)
        if holds:
            alarm.since = now if alarm.since is None else alarm.since
            if alarm.raised is None and now - alarm.since >= alarm.spec.hold:
                alarm.raised, alarm.acknowledged = self._event(alarm.spec, RAISED, values), False
                return alarm.raised
            return None
        alarm.since = None
        if alarm.raised is not None and holds is False:
            alarm.raised = None
            return self._event(alarm.spec, CLEARED, values)
        return None

    @staticmethod
    def _event(spec: AlarmSpec, state: str, values: Values) -> AlarmEvent:
        shown = {name: float(values[name]) for name in spec.test.variables if name in values}
        return AlarmEvent(spec.name, state, spec.severity, spec.condition, shown, time.time())

    def acknowledge(self, name: str | None = None) -> list[str]:
        """Acknowledge the raised alarm ``name`` (all raised ones if None); the names acknowledged now."""
        done = []
        for alarm in self._alarms:
            if alarm.raised is not None and not alarm.acknowledged and name in (None, alarm.spec.name):
                alarm.acknowledged = True
                done.append(alarm.spec.name)
        return done

    def active(self) -> list[dict[str, Any]]:
        """The raised alarms, for the dashboard and run_summary.json."""
        return [
            {**a.raised.plain(), "acknowledged": a.acknowledged} for a in self._alarms if a.raised is not None
        ]

    def holding(self, kind: str) -> list[str]:
        """The raised, unacknowledged alarms with the action ``kind`` (``pause_run``: keep the run paused)."""
        return [
            a.spec.name
            for a in self._alarms
            if a.raised is not None and not a.acknowledged and a.spec.has(kind)
        ]

    def unseen(self) -> list[str]:
        """Variables some alarm reads that no sample had so far (a misspelt or unpublished name)."""
        wanted = dict.fromkeys(name for a in self._alarms for name in a.spec.test.variables)
        return [name for name in wanted if name not in self.seen]
