"""The orderly end of a run: stop the sources, then drain and shut down every buffer in data-flow order.

This is where the zero-loss promise is kept. In order:

1. **Stop the sources**: writers of the buffers that only sources write (normally RB_1) are deactivated
   (``set_ending``). A source's next ``get_new_buffer`` raises SystemExit, ``rbImport`` returns; what
   was committed stays in the buffer.
2. **For each buffer B in data-flow order** (``RunPlan.order``):
   a. wait until every process writing B that is not a source has exited — these are the filters whose
      inputs were all shut down in earlier steps, committing their last outputs to B on the way out;
   b. deactivate B's remaining writers (``set_ending``; sources sharing B with a filter stop here);
   c. wait until every writer of B has exited;
   d. wait until every reader group of B whose function still has live processes has nothing pending;
   e. ``B.shutdown()``: the ring waits until those groups released the events in hand, then wakes every
      reader of B with SystemExit. B's consumers now finish and exit — which is step (a) of the buffers
      after B.
3. **Wait for the remaining processes** (pure sinks, observers). Functions connected to no buffer are
   terminated here; nothing else could end them (compat-api §4.2).

Everything is bounded by one grace period that starts when the end begins: when it runs out, every
process still alive is terminated (SIGTERM, SIGKILL one second later) and named in the report, and the
remaining buffers are shut down without waiting. The sequence never blocks: ``step()`` does what can be
done now and returns, so the controller's loop keeps reading worker output and noticing deaths while
the chain drains.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .controller import RunController

TERM_WAIT = 1.0  # seconds between SIGTERM and SIGKILL for survivors
KILL_WAIT = 2.0  # seconds to wait for SIGKILLed processes to be reaped
MAX_SHUTDOWN_WAIT = 5.0  # the ring's own drain wait per buffer (normally instant: we drained already)


class EndSequence:
    """The steps above as a resumable state machine (see the module docstring)."""

    def __init__(self, controller: RunController, grace: float) -> None:
        self.ctl = controller
        self.grace = max(0.0, float(grace))
        self.sources_stopped = False
        self.phase = "idle"  # idle, buffers, workers, terminating, killing, done
        self.t_begin: float | None = None
        self.t_done: float | None = None
        self.deadline: float | None = None
        self.index = 0
        self.ending_set: set[str] = set()
        self.shut_down: list[str] = []
        self.reports: dict[str, Any] = {}
        self.survivors: list[str] = []
        self.detached: list[str] = []
        self.aborted = False
        self._kill_at = 0.0
        self._give_up_at = 0.0
        self._noted: str | None = None

    # -- control --------------------------------------------------------------------------------
    def stop_sources(self) -> None:
        """Step 1; also what the S command does (the rest follows on E, or at once without a terminal)."""
        if self.sources_stopped:
            return
        self.sources_stopped = True
        for name in self.ctl.plan.source_buffers:
            self._set_ending(name)
        names = ", ".join(f.label for f in self.ctl.plan.sources) or "none"
        self.ctl.note(f"sources stopped ({names})", 3)

    def begin(self) -> None:
        """Start the bounded part of the end (the grace period runs from here)."""
        self.stop_sources()
        if self.phase == "idle":
            now = time.monotonic()
            self.t_begin = now
            self.deadline = now + self.grace
            self.phase = "buffers"

    def hurry(self) -> None:
        """A second Ctrl-C: give up waiting now."""
        if self.deadline is not None:
            self.deadline = min(self.deadline, time.monotonic())

    @property
    def done(self) -> bool:
        return self.phase == "done"

    # -- the machine ----------------------------------------------------------------------------
    def step(self) -> bool:
        """Do what can be done now; True once the end is complete."""
        if self.phase in ("idle", "done"):
            return self.phase == "done"
        now = time.monotonic()
        assert self.deadline is not None
        if self.phase == "buffers":
            order = self.ctl.plan.order
            while self.index < len(order):
                name = order[self.index]
                blockers = self._blockers(name)
                if blockers:
                    if now >= self.deadline:
                        self._abort(now)
                        break
                    self._note_once(f"{name}: waiting for {', '.join(blockers)}")
                    return False
                self._shutdown(name, min(MAX_SHUTDOWN_WAIT, max(0.2, self.deadline - now)))
                self.index += 1
            else:
                self.phase = "workers"
        if self.phase == "workers":
            for worker in self.ctl.supervisor.alive():
                if self.ctl.plan.function(worker.key).is_detached and not worker.terminated:
                    self.detached.append(worker.label)
                    self.ctl.note(f"terminating {worker.label} (connected to no buffer)", 3)
                    self.ctl.supervisor.terminate(worker)
            alive = [w for w in self.ctl.supervisor.alive() if not w.terminated]
            if alive:
                if now < self.deadline:
                    self._note_once(f"waiting for {', '.join(w.label for w in alive)} to finish")
                    return False
                self._abort(now)
            elif self.ctl.supervisor.alive():  # only terminated detached ones left
                self.phase = "terminating"
                self._kill_at = now + TERM_WAIT
            else:
                return self._finish(now)
        if self.phase == "terminating":
            if self.ctl.supervisor.alive() and now < self._kill_at:
                return False
            for worker in self.ctl.supervisor.alive():
                self.ctl.note(f"killing {worker.label} (did not end after SIGTERM)", 1)
                self.ctl.supervisor.kill(worker)
            self.phase = "killing"
            self._give_up_at = now + KILL_WAIT
        if self.phase == "killing":
            if self.ctl.supervisor.alive() and now < self._give_up_at:
                return False
            for name in self.ctl.plan.order[self.index :]:
                self._shutdown(name, 0.1)
            self.index = len(self.ctl.plan.order)
            return self._finish(now)
        return self.phase == "done"

    def _finish(self, now: float) -> bool:
        self.phase = "done"
        self.t_done = now
        return True

    def _blockers(self, name: str) -> list[str]:
        """Who B is still waiting for (steps 2a-2d); empty once B can be shut down."""
        plan, ctl = self.ctl.plan, self.ctl
        writers = plan.writers_of(name)
        waiting = [w for f in writers if not f.is_source for w in ctl.workers_of(f.key) if w.alive]
        if waiting:
            return [f"{w.label} to finish" for w in waiting]
        self._set_ending(name)
        waiting = [w for f in writers for w in ctl.workers_of(f.key) if w.alive]
        if waiting:
            return [f"{w.label} to finish" for w in waiting]
        pending = ctl.pending_for_live_consumers(name)
        return [f"{label} to read {n} event(s)" for label, n in pending]

    def _set_ending(self, name: str) -> None:
        if name not in self.ending_set:
            self.ending_set.add(name)
            self.ctl.buffers[name].set_ending()

    def _shutdown(self, name: str, timeout: float) -> None:
        buffer = self.ctl.buffers[name]
        self.ending_set.add(name)
        self.ctl.skip_abandoned(name)
        buffer.shutdown(timeout)
        report = getattr(buffer, "shutdown_report", None)
        self.reports[name] = report
        self.shut_down.append(name)
        self._noted = None
        if report and not report.get("drained", True):
            undelivered = {self.ctl.group_label(name, g): n for g, n in report.get("undelivered", {}).items()}
            self.ctl.note(f"{name}: shut down with events undelivered: {undelivered}", 0)
        else:
            self.ctl.note(f"{name}: drained and shut down", 3)

    def _abort(self, now: float) -> None:
        """The grace period is over: terminate whatever is still alive and name it."""
        self.aborted = True
        alive = self.ctl.supervisor.alive()
        named = [w for w in alive if not self.ctl.plan.function(w.key).is_detached]
        self.survivors += [w.label for w in named if w.label not in self.survivors]
        if named:
            self.ctl.note(
                f"grace period of {self.grace:g} s over: terminating {', '.join(w.label for w in named)}", 0
            )
        for worker in alive:
            self.ctl.supervisor.terminate(worker)
        self.phase = "terminating"
        self._kill_at = now + TERM_WAIT

    def _note_once(self, text: str) -> None:
        if text != self._noted:
            self._noted = text
            self.ctl.note(text, 3)

    def summary(self) -> dict[str, Any]:
        return {
            "grace_s": self.grace,
            "duration_s": None
            if self.t_begin is None or self.t_done is None
            else round(self.t_done - self.t_begin, 3),
            "order": list(self.ctl.plan.order),
            "aborted": self.aborted,
            "survivors": list(self.survivors),
            "terminated_unconnected": list(self.detached),
            "shutdown_reports": {k: _plain(v) for k, v in self.reports.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
