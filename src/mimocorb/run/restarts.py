"""A worker process ended: give back what it held, then restart it or record it as failed.

The slots a dead process held in any buffer go back to the ring first, so that no other process waits
for them, whatever is decided next. A failed process of a function with ``on_error: restart`` gets a new
process, ``max_restarts`` times at most, while the run is still going on; a link its peer refused
(layout, key, group) is never restarted, since the peer would refuse it again. Every failure a restart
does not recover is recorded: the failures decide the run's exit code and go into run_summary.json,
with the restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..ring import RingBuffer
from .child import WorkerError
from .supervisor import WorkerProcess


class RestartPolicy:
    """Restarts failed processes or records their failure (see the module docstring).

    ``start(worker)`` starts a process again (False if it could not be started); ``run_going_on()`` says
    whether a new process would still be of use (no restart once the end gave up waiting, or after it).
    """

    def __init__(
        self,
        max_restarts: int,
        start: Callable[[WorkerProcess], bool],
        run_going_on: Callable[[], bool],
        note: Callable[[str, int], None],
    ) -> None:
        self.max_restarts = max_restarts
        self.start = start
        self.run_going_on = run_going_on
        self.note = note
        self.failures: list[str] = []  # "<label>: <what happened>", one per failure not recovered
        self.restarted: list[str] = []  # the label of every process restarted, once per restart

    def report_error(self, worker: WorkerProcess, error: WorkerError) -> None:
        """A user function raised: say so at once, with the function name and the traceback."""
        worker.reported = True
        if refused(error):
            self.note(f"ERROR: {error.key}: {error.message}", 0)
            return
        text = (
            f"ERROR in worker {error.key} '{error.fkt_name}' (pid {error.pid}): {error.summary()}\n"
            f"{error.traceback.rstrip()}"
        )
        self.note(text, 0)

    def restart_or_record_failure(self, worker: WorkerProcess) -> bool:
        """Report the failure, then restart the process if allowed; True if it runs again."""
        own_error = any(e.pid == worker.pid for e in worker.errors)
        what = "raised an exception" if own_error else (worker.start_error or worker.exit_text())
        if not own_error or not worker.reported:
            self.note(f"ERROR: worker {worker.label} failed: {what}", 0)
        if self._may_restart(worker):
            worker.restarts += 1
            self.restarted.append(worker.label)
            self.note(
                f"restarting {worker.key} {worker.name} (restart {worker.restarts} of {self.max_restarts})", 0
            )
            if self.start(worker):
                return True
            self.note(f"ERROR: {worker.label} {worker.start_error}", 0)
        elif worker.on_error == "restart" and worker.restarts >= self.max_restarts:
            self.note(
                f"ERROR: {worker.key} {worker.name} is not restarted again: "
                f"its {worker.restarts} restart(s) are used up",
                0,
            )
        self.failures.append(f"{worker.label}: {what}")
        return False

    def _may_restart(self, worker: WorkerProcess) -> bool:
        return (
            worker.on_error == "restart"
            and not any(refused(e) and e.pid == worker.pid for e in worker.errors)
            and worker.restarts < self.max_restarts
            and self.run_going_on()
        )


def refused(error: WorkerError) -> bool:
    """A link refused by its peer (layout, key, group): a restart would be refused again."""
    return error.exc_type == "NetError"


def reclaim_slots(
    worker: WorkerProcess,
    buffers: Mapping[str, RingBuffer],
    delivered_later: bool,
    note: Callable[[str, int], None],
) -> None:
    """Slots the process held in any buffer go back to the ring; events lost with it are counted.

    ``delivered_later``: another process of the function will still read what this one held (False once
    the end gave up waiting and terminated everybody).
    """
    if worker.pid is None:
        return
    for name, buffer in buffers.items():
        try:
            reports = buffer.reclaim_dead([worker.pid])
        except Exception as exc:  # reclaim is best effort; never let it stop the end
            note(f"{name}: reclaiming {worker.label} failed: {exc}", 0)
            continue
        lost = sum(r.get("lost_events", 0) for r in reports)
        if lost:
            worker.lost_events += lost
            note(f"{name}: {lost} event(s) lost with {worker.label}", 0)
        returned = sum(r.get("returned_events", 0) for r in reports)
        if returned and not delivered_later:
            note(f"{name}: {returned} event(s) {worker.label} held were not delivered", 0)
        elif returned:
            note(f"{name}: {returned} event(s) {worker.label} held go to its next process", 1)
