"""The orderly end of a run: stop the sources, then drain and shut down every buffer in data-flow order.

This is where the zero-loss promise is kept. In order:

1. **Stop the sources**: writers of the buffers that only sources write (normally RB_1) are deactivated
   (``set_ending``). A source's next ``get_new_buffer`` raises EndOfStream, ``rbImport`` returns; what
   was committed stays in the buffer.
2. **For each buffer B in data-flow order** (``RunPlan.order``):
   a. wait until every process writing B that is not a source has exited — these are the filters whose
      inputs were all shut down in earlier steps, committing their last outputs to B on the way out;
   b. deactivate B's remaining writers (``set_ending``; sources sharing B with a filter stop here);
   c. wait until every writer of B has exited;
   d. wait until every reader group of B whose function still has live processes has nothing pending;
   e. ``B.shutdown()``: the ring waits until those groups released the events in hand, then wakes every
      reader of B with EndOfStream. B's consumers now finish and exit — which is step (a) of the buffers
      after B.
3. **Wait for the remaining processes** (pure sinks, observers). Functions connected to no buffer are
   terminated here; nothing else could end them.

Everything is bounded by one grace period that starts when the end begins and starts again whenever the
end makes progress (a process it waits for ended, a consumer read events, the run's processes computed
for a while, or waited for a busy processor to compute on): a slow machine, on which the workers of a
short run are still importing their libraries when it ends, is not cut off while it drains.
However it progresses, the end gives up after ``PATIENCE`` grace periods. When the grace period runs out,
every process still alive is terminated (SIGTERM, SIGKILL one second later) and named in the report, and
the remaining buffers are shut down without waiting. The sequence never blocks: ``step()`` does what can be
done now and returns, so the controller's loop keeps reading worker output and noticing deaths while
the chain drains.

The sequence knows the run only through what it is given: the plan, the supervisor, the buffers and the
reader groups (``consumers``), never the controller.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..ring import RingBuffer
from .consumers import ConsumerGroups
from .plan import RunPlan
from .supervisor import Supervisor, WorkerProcess

TERM_WAIT = 1.0  # seconds between SIGTERM and SIGKILL for survivors
KILL_WAIT = 2.0  # seconds to wait for SIGKILLed processes to be reaped
MAX_SHUTDOWN_WAIT = 5.0  # the ring's own drain wait per buffer (normally instant: we drained already)
EMERGENCY_WAIT = 2.0  # how long terminated workers get after a failure of the controller itself
PATIENCE = 3  # the end gives up after this many grace periods, however it progresses
WORK_DONE = 0.2  # seconds the run's processes must compute together (or wait to) to count as progress
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Phase(Enum):
    """Where the end sequence is; ``step()`` goes through them in this order (``terminating`` may come
    early, when the grace period runs out)."""

    IDLE = "idle"  # not begun (``stop_sources`` may have run)
    BUFFERS = "buffers"  # step 2: buffer after buffer in data-flow order
    WORKERS = "workers"  # step 3: the remaining processes
    TERMINATING = "terminating"  # SIGTERM sent, SIGKILL after TERM_WAIT
    KILLING = "killing"  # SIGKILL sent, given up after KILL_WAIT
    DONE = "done"


@dataclass
class EndRecord:
    """What the end sequence did, for run_summary.json and the exit code."""

    grace: float
    order: tuple[str, ...]
    t_begin: float | None = None
    t_done: float | None = None
    aborted: bool = False
    survivors: list[str] = field(default_factory=list)  # named after the grace period ran out
    detached: list[str] = field(default_factory=list)  # terminated because connected to no buffer
    reports: dict[str, Any] = field(default_factory=dict)  # buffer -> its shutdown report


class EndSequence:
    """The steps above as a resumable state machine (see the module docstring).

    ``consumers`` says which reader groups a buffer still waits for, releases what groups without
    processes left unread, and names a group's function in the reports.
    """

    def __init__(
        self,
        plan: RunPlan,
        supervisor: Supervisor,
        buffers: Mapping[str, RingBuffer],
        consumers: ConsumerGroups,
        note: Callable[[str, int], None],
        grace: float,
    ) -> None:
        self.plan = plan
        self.supervisor = supervisor
        self.buffers = buffers
        self.consumers = consumers
        self.note = note
        self.record = EndRecord(max(0.0, float(grace)), plan.order)
        self.sources_stopped = False
        self.phase = Phase.IDLE
        self.deadline: float | None = None
        self._last_call = 0.0  # the deadline never moves past this (PATIENCE grace periods)
        self._waiting_for: tuple[str, ...] = ()
        self._work_mark = 0.0  # CPU seconds of the run's processes at the last progress
        self._hurried = False
        self.index = 0
        self.ending_set: set[str] = set()
        self.shut_down: list[str] = []
        self._kill_at = 0.0
        self._give_up_at = 0.0
        self._noted: str | None = None

    # -- control --------------------------------------------------------------------------------
    def stop_sources(self) -> None:
        """Step 1; also what the S command does (the rest follows on E, or at once without a terminal)."""
        if self.sources_stopped:
            return
        self.sources_stopped = True
        for name in self.plan.source_buffers:
            self._set_ending(name)
        names = ", ".join(f.label for f in self.plan.sources) or "none"
        self.note(f"sources stopped ({names})", 3)

    def begin(self) -> None:
        """Start the bounded part of the end (the grace period runs from here)."""
        self.stop_sources()
        if self.phase == Phase.IDLE:
            now = time.monotonic()
            self.record.t_begin = now
            self.deadline = now + self.record.grace
            self._last_call = now + PATIENCE * self.record.grace
            self.phase = Phase.BUFFERS

    def hurry(self) -> None:
        """A second Ctrl-C: give up waiting now."""
        self._hurried = True
        if self.deadline is not None:
            self.deadline = min(self.deadline, time.monotonic())

    def end_at_once(self, on_exit: Callable[[WorkerProcess], None]) -> None:
        """The controller itself failed, so no orderly end can be relied on: every process is terminated
        (killed after ``EMERGENCY_WAIT``), each end passed to ``on_exit``, and every buffer goes down
        now, whatever it holds."""
        for worker in self.supervisor.alive():
            self.supervisor.terminate(worker)
        deadline = time.monotonic() + EMERGENCY_WAIT
        while self.supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
            for worker in self.supervisor.reap():
                on_exit(worker)
        for worker in self.supervisor.alive():
            self.supervisor.kill(worker)
        for name, buffer in self.buffers.items():
            with contextlib.suppress(Exception):
                buffer.shutdown(0.1)
            self.shut_down.append(name)

    @property
    def aborted(self) -> bool:
        return self.record.aborted

    @property
    def survivors(self) -> list[str]:
        return self.record.survivors

    # -- the machine ----------------------------------------------------------------------------
    def step(self) -> bool:
        """Do what can be done now; True once the end is complete."""
        if self.phase in (Phase.IDLE, Phase.DONE):
            return self.finished()
        now = time.monotonic()
        if self.phase == Phase.BUFFERS:
            self._end_buffers(now)
        if self.phase == Phase.WORKERS:
            self._end_workers(now)
        if self.phase == Phase.TERMINATING:
            self._kill_survivors(now)
        if self.phase == Phase.KILLING:
            self._give_up(now)
        return self.finished()

    def finished(self) -> bool:
        """A call, not a comparison in ``step``: the phase methods change the phase, which mypy cannot see."""
        return self.phase == Phase.DONE

    def _end_buffers(self, now: float) -> None:
        """Step 2, buffer after buffer, as far as their blockers allow."""
        assert self.deadline is not None
        order = self.plan.order
        while self.index < len(order):
            name = order[self.index]
            blockers = self._blockers(name)
            self._progress(now, blockers)
            if blockers:
                if now >= self.deadline:
                    self._abort(now)
                else:
                    self._note_once(f"{name}: waiting for {', '.join(blockers)}")
                return
            self._shutdown(name, min(MAX_SHUTDOWN_WAIT, max(0.2, self.deadline - now)))
            self.index += 1
        self.phase = Phase.WORKERS

    def _end_workers(self, now: float) -> None:
        """Step 3: detached functions are terminated, everything else must finish by itself."""
        assert self.deadline is not None
        for worker in self.supervisor.alive():
            if self.plan.function(worker.key).is_detached and not worker.terminated:
                self.record.detached.append(worker.label)
                self.note(f"terminating {worker.label} (connected to no buffer)", 3)
                self.supervisor.terminate(worker)
        alive = [w for w in self.supervisor.alive() if not w.terminated]
        self._progress(now, [w.label for w in alive])
        if alive:
            if now < self.deadline:
                self._note_once(f"waiting for {', '.join(w.label for w in alive)} to finish")
            else:
                self._abort(now)
        elif self.supervisor.alive():  # only terminated detached ones left
            self.phase = Phase.TERMINATING
            self._kill_at = now + TERM_WAIT
        else:
            self._finish(now)

    def _kill_survivors(self, now: float) -> None:
        if self.supervisor.alive() and now < self._kill_at:
            return
        for worker in self.supervisor.alive():
            self.note(f"killing {worker.label} (did not end after SIGTERM)", 1)
            self.supervisor.kill(worker)
        self.phase = Phase.KILLING
        self._give_up_at = now + KILL_WAIT

    def _give_up(self, now: float) -> None:
        """Whatever could be ended is: the remaining buffers go down without waiting."""
        if self.supervisor.alive() and now < self._give_up_at:
            return
        for name in self.plan.order[self.index :]:
            self._shutdown(name, 0.1)
        self.index = len(self.plan.order)
        self._finish(now)

    def _finish(self, now: float) -> None:
        self.phase = Phase.DONE
        self.record.t_done = now

    def _progress(self, now: float, waiting_for: list[str]) -> None:
        """What the end waits for changed (a process ended, a consumer read events), or the run's
        processes did some work (a worker still importing its libraries on a busy machine): the grace
        period starts again from now, but never past the last call, nor after a second Ctrl-C."""
        waiting = tuple(waiting_for)
        work = sum(_busy_seconds(w.pid) for w in self.supervisor.alive())
        if waiting == self._waiting_for and work < self._work_mark + WORK_DONE:
            return
        self._waiting_for, self._work_mark = waiting, work
        if self.deadline is not None and not self._hurried:
            self.deadline = max(self.deadline, min(now + self.record.grace, self._last_call))

    def _blockers(self, name: str) -> list[str]:
        """Who B is still waiting for (steps 2a-2d); empty once B can be shut down."""
        writers = self.plan.writers_of(name)
        waiting = [
            w for f in writers if not f.is_source for w in self.supervisor.workers_of(f.key) if w.alive
        ]
        if waiting:
            return [f"{w.label} to finish" for w in waiting]
        self._set_ending(name)
        waiting = [w for f in writers for w in self.supervisor.workers_of(f.key) if w.alive]
        if waiting:
            return [f"{w.label} to finish" for w in waiting]
        pending = self.consumers.pending_for_live(name)
        return [f"{label} to read {n} event(s)" for label, n in pending]

    def _set_ending(self, name: str) -> None:
        if name not in self.ending_set:
            self.ending_set.add(name)
            self.buffers[name].set_ending()

    def _shutdown(self, name: str, timeout: float) -> None:
        buffer = self.buffers[name]
        self.ending_set.add(name)
        self.consumers.skip_abandoned(self.shut_down, name)
        buffer.shutdown(timeout)
        report = getattr(buffer, "shutdown_report", None)
        self.record.reports[name] = report
        self.shut_down.append(name)
        self._noted = None
        if report and not report.get("drained", True):
            undelivered = {self.consumers.label(name, g): n for g, n in report.get("undelivered", {}).items()}
            self.note(f"{name}: shut down with events undelivered: {undelivered}", 0)
        else:
            self.note(f"{name}: drained and shut down", 3)

    def _abort(self, now: float) -> None:
        """The grace period is over: terminate whatever is still alive and name it."""
        self.record.aborted = True
        alive = self.supervisor.alive()
        named = [w for w in alive if not self.plan.function(w.key).is_detached]
        survivors = self.record.survivors
        survivors += [w.label for w in named if w.label not in survivors]
        if named:
            self.note(
                f"grace period of {self.record.grace:g} s over: "
                f"terminating {', '.join(w.label for w in named)}",
                0,
            )
        for worker in alive:
            self.supervisor.terminate(worker)
        self.phase = Phase.TERMINATING
        self._kill_at = now + TERM_WAIT

    def _note_once(self, text: str) -> None:
        if text != self._noted:
            self._noted = text
            self.note(text, 3)


def _busy_seconds(pid: int | None) -> float:
    """How long a process's threads have computed or waited for a processor to compute on, from Linux's
    /proc (0 elsewhere: there only ends and reads count as progress).

    On a machine busier than its cores, a computing worker gets a fraction of a core, so its CPU time
    alone would grow too slowly to count as progress; the time it waited in the run queue counts too. A
    worker blocked on a lock or a socket does neither."""
    if pid is None:
        return 0.0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process is gone, or there is no /proc
        return 0.0
    times = [t for t in map(_scheduled_seconds, tasks) if t is not None]
    return sum(times) if times else _cpu_seconds(pid)


def _scheduled_seconds(task: Path) -> float | None:
    """A thread's time on a processor and in the run queue; None if the kernel keeps no such record
    (or the thread just ended)."""
    try:
        ran, waited = (task / "schedstat").read_bytes().split()[:2]
        return (int(ran) + int(waited)) / 1e9
    except (OSError, ValueError):
        return None


def _cpu_seconds(pid: int) -> float:
    """The CPU time a process has used (kernels without scheduler statistics)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0
