"""The alarms of a run, seen from the controller: each sample's variables in, what the alarms ask for out.

The watch (``mimocorb.alarms.AlarmWatch``) decides; this module acts. Every raised or cleared alarm is
logged (console, run.log, the dashboard's log and its banner of active alarms) and kept for
run_summary.json. ``pause_run`` and ``stop_run`` are the controller's own verbs and act at once; while a
raised ``pause_run`` alarm is not acknowledged, the run refuses to resume (``holding_pause``): the disk
guard must not be overridden by accident. Webhooks, e-mails, commands and the history rows go to the
action process (``mimocorb.alarms.ActionLink``), started when the first alarm is raised; its reports
come back here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..alarms import ActionLink, AlarmEvent, AlarmSpec, AlarmWatch
from ..alarms.spec import OFF_LOOP_ACTIONS
from ..alarms.watch import RAISED
from .states import ACTIVE, RunState
from .supervisor import start_guard
from .variables import VariableSample

UNSEEN_AFTER = 30.0  # s of running after which a variable no sample had is reported
_SEVERITY_LEVEL = {"info": 1, "warning": 0, "error": 0}  # console verbosity at which each is shown


class RunAlarms:
    """Watches ``specs`` for one run (see the module docstring).

    ``note(text, level)``: the controller's message (console, run.log, dashboard); ``pause()`` and
    ``stop(reason)``: its verbs; ``state()``: the run's state; ``output_directory``: where the history
    database is (None: no history, as for a run without a run directory).
    """

    def __init__(
        self,
        specs: Sequence[AlarmSpec],
        context: Any,
        run_dir: Path | None,
        note: Callable[[str, int], None],
        pause: Callable[[], None],
        stop: Callable[[str], None],
        state: Callable[[], RunState],
    ) -> None:
        self.specs = tuple(specs)
        self.watch = AlarmWatch(self.specs)
        self.context = context
        self.run_dir = run_dir
        self.note = note
        self.pause = pause
        self.stop = stop
        self.state = state
        self.link: ActionLink | None = None
        self._running_since: float | None = None
        self._unseen_reported = False

    def take_sample(self, sample: VariableSample) -> None:
        """The Sampler's consumer: one sample of the run's variables (``variables``)."""
        self.take(sample.values, time.monotonic())

    def take(self, values: Mapping[str, float], now: float) -> None:
        """One sample's variables (``now``: its monotonic time): raise, clear and act."""
        state = self.state()
        if state not in ACTIVE or not self.specs:
            return
        running = state == RunState.RUNNING
        for spec, event in self.watch.evaluate(values, now, running):
            self._act(spec, event)
        if running:
            self._report_unseen(now)
        self._take_reports()

    def _act(self, spec: AlarmSpec, event: AlarmEvent) -> None:
        self.note(event.message(), _SEVERITY_LEVEL.get(spec.severity, 0))
        self._hand_on(spec, event)
        if event.state != RAISED:
            return
        if spec.has("stop_run") and self.state() in ACTIVE:
            self.note(f"alarm {spec.name}: stopping the run", 0)
            self.stop(f"alarm {spec.name}")
        elif spec.has("pause_run") and self.state() == RunState.RUNNING:
            self.pause()
            self.note(f"run paused by alarm {spec.name}; A {spec.name} acknowledges it, then R resumes", 0)

    def holding_pause(self) -> str | None:
        """Why the run may not resume now (a raised, unacknowledged ``pause_run`` alarm), or None."""
        holding = self.watch.holding("pause_run")
        if not holding:
            return None
        names = ", ".join(holding)
        return (
            f"R refused: alarm {names} holds the run paused; A {holding[0]} acknowledges it, then R resumes"
        )

    def _hand_on(self, spec: AlarmSpec, event: AlarmEvent) -> None:
        """Webhooks, e-mails, commands and the history row, in the action process."""
        actions = [a.plain() for a in spec.actions if a.kind in OFF_LOOP_ACTIONS]
        record = None
        if self.run_dir is not None:
            record = {"output_directory": str(self.run_dir.parent), "run": self.run_dir.name}
        if not actions and record is None:
            return
        if self.link is None:
            try:
                self.link = ActionLink(self.context, start_guard(self.context))
            except Exception as exc:  # no process: the alarm is still logged, the run goes on
                self.note(f"WARNING: alarms: the action process could not start ({exc})", 0)
                return
        run_directory = None if self.run_dir is None else str(self.run_dir)
        if not self.link.submit(event.plain(run_directory), actions, record):
            self.note(f"WARNING: alarm {spec.name}: the action process did not take the event", 0)

    def _take_reports(self) -> None:
        if self.link is not None:
            for level, text in self.link.reports():
                self.note(text, level)

    def _report_unseen(self, now: float) -> None:
        """Once per run: variables of conditions that no sample had (not published, or misspelt)."""
        if self._unseen_reported:
            return
        self._running_since = now if self._running_since is None else self._running_since
        if now - self._running_since < UNSEEN_AFTER:
            return
        self._unseen_reported = True
        unseen = self.watch.unseen()
        if unseen:
            self.note(
                f"WARNING: alarms: no value so far for {', '.join(unseen)}; "
                "conditions reading them cannot be raised",
                0,
            )

    # -- commands and reports -------------------------------------------------------------------
    def acknowledge(self, name: str | None) -> None:
        """The acknowledge command: one alarm by name, or every raised one."""
        done = self.watch.acknowledge(name or None)
        if done:
            self.note(f"alarm acknowledged: {', '.join(done)}", 1)
        elif name:
            self.note(f"A ignored: no raised alarm named '{name}' waits for acknowledgement", 1)
        else:
            self.note("A ignored: no raised alarm waits for acknowledgement", 1)

    def active(self) -> list[dict[str, Any]]:
        """The raised alarms (for the dashboard's banner)."""
        return self.watch.active()

    def summary(self) -> dict[str, Any]:
        """For run_summary.json: every alarm of the run, every event, and what was raised at the end."""
        run_directory = None if self.run_dir is None else str(self.run_dir)
        return {
            "alarms": [
                {
                    "name": s.name,
                    "condition": s.condition,
                    "for_s": s.hold,
                    "severity": s.severity,
                    "actions": [a.plain() for a in s.actions],
                    "builtin": s.builtin,
                }
                for s in self.specs
            ],
            "events": [e.plain(run_directory) for e in self.watch.events],
            "active_at_end": self.watch.active(),
        }

    def close(self) -> None:
        """The actions under way get a few seconds to finish; their last reports are noted."""
        if self.link is not None:
            with contextlib.suppress(Exception):
                for level, text in self.link.close():
                    self.note(text, level)
