"""The run controller: buffers, worker processes, the state machine and the main loop.

States: ``configured`` → ``running`` ⇄ ``paused`` → (``stopped``) → ``stopping`` → ``ended``.
``stopped`` is entered only by the S command with somebody at a terminal (or a GUI): the sources are
stopped and the chain drains, but buffers and displays stay until E; without an interactive input the
run goes on to ``stopping`` at once.

One loop, no busy waiting (D10): each iteration waits (≤ 0.1 s, ≤ 0.02 s while stopping) on the worker
sentinels, their output and error pipes and stdin, then

* passes worker output to run.log and the console, reports worker exceptions at once;
* executes commands (keyboard, pipe, GUI) and signals (SIGINT/SIGTERM end the run in order);
* reacts to ended workers: reclaim what they held in every buffer, then source exhaustion, restart
  (``on_error: restart``) or the end of the run;
* checks the end conditions — runtime (active time, pauses excluded) and runevents (events in the first
  buffer) on every iteration;
* advances the end sequence (``ending.EndSequence``) while stopping;
* samples the buffers for the status line and stats.csv.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import ValidatedSetup
from ..io.manifest import collect as collect_files
from ..ring import Monitor
from ..ring import RingBuffer as NewBuffer
from .child import WorkerError, WorkerSpec
from .ending import EndSequence
from .gui import GuiLink, RatesPicture, gui_unavailable_reason
from .inputs import COMMANDS, HELP, KeyboardInput, SignalInput, parse_command
from .options import EXIT_FAILED, EXIT_OK, RunOptions, RunResult
from .plan import FunctionRole, RunPlan
from .rundir import RunLog, RunLogHandler, write_json
from .status import BufferSample, Console, StatsRecorder, progress, status_text
from .supervisor import Supervisor, WorkerProcess

TICK = 0.1  # longest wait of one loop iteration
TICK_STOPPING = 0.02
ACTIVE_STATES = ("running", "paused")


class RunController:
    """Runs one validated setup (see the module docstring). Use ``run()``, or the steps it is made of."""

    def __init__(
        self,
        setup: ValidatedSetup,
        run_dir: Path | None = None,
        options: RunOptions | None = None,
        console: Console | None = None,
        runlog: RunLog | None = None,
        directory_prefix: str | None = None,
    ) -> None:
        self.setup = setup
        self.options = options or RunOptions()
        self.console = console or Console(verbose=self.options.verbose)
        self.run_dir = run_dir
        self.runlog = runlog if runlog is not None else (RunLog(run_dir / "run.log") if run_dir else None)
        if directory_prefix is None:
            directory_prefix = str(run_dir) + "/" if run_dir is not None else ""
        self.directory_prefix = directory_prefix
        self.context = self.options.context()
        self.start_method = self.context.get_start_method()
        opt = self.options
        self.runtime = float(opt.runtime if opt.runtime is not None else setup.runtime)
        self.runevents = int(opt.runevents if opt.runevents is not None else setup.runevents)
        self.plan = RunPlan.build(
            [b.name for b in setup.buffers],
            (
                FunctionRole(f.key, f.fkt_name, f.num_process, f.reads, f.writes, f.observes)
                for f in setup.functions
            ),
        )
        self.buffers: dict[str, NewBuffer] = {}
        self.monitors: dict[str, Monitor] = {}
        self.groups: dict[tuple[str, str], int] = {}  # (Fkt key, buffer) -> reader group index
        self.supervisor = Supervisor(self.context, self._on_output, self._on_worker_error)
        self.ending = EndSequence(self, opt.grace)
        self.state = "configured"
        self.end_reason: str | None = None
        self.failures: list[str] = []
        self.restarted: list[str] = []
        self.abandoned: dict[tuple[str, int], dict[str, Any]] = {}
        self.signals = SignalInput()
        self.keyboard: KeyboardInput | None = None
        self.gui: GuiLink | None = None
        self._hold = False
        self.t_start: float | None = None
        self.wall_start: _dt.datetime | None = None
        self.wall_end: _dt.datetime | None = None
        self._pause_total = 0.0
        self._pause_since: float | None = None
        self._frozen: float | None = None
        self.pauses = 0
        self.history: list[tuple[float, str]] = [(0.0, "configured")]
        self.samples: list[BufferSample] = []
        self._progress: dict[str, tuple[Any, float, bool]] = {}
        self._next_sample = 0.0
        self._next_csv = 0.0
        self._next_status = 0.0
        self._tick = 0
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._finished = False
        self.result: RunResult | None = None
        self.stats_file: StatsRecorder | None = None
        self.rates: RatesPicture | None = None
        self.watched: WorkerProcess | None = None  # Fkt_1's first process: its exit = source exhausted

    # ================================================================================== set-up ====
    def create_buffers(self) -> dict[str, NewBuffer]:
        """The ring buffers RB_1, RB_2, ... of the setup (before any worker exists)."""
        if self.buffers:
            return self.buffers
        for layout in self.setup.buffers:
            buffer = NewBuffer(
                layout.number_of_slots,
                layout.values_per_slot,
                layout.dtype,
                self.options.debug,
                name=layout.name,
            )
            self.buffers[layout.name] = buffer
            self.monitors[layout.name] = Monitor(buffer.new_observer())
        return self.buffers

    def create_workers(self) -> list[WorkerProcess]:
        """One process slot per ``num_process`` of every function, connected as compat-api §4.2 says."""
        if self.supervisor.workers:
            return self.supervisor.workers
        self.create_buffers()
        first = self.plan.first_buffer
        if first is not None and self.runevents > 0:
            self.buffers[first].set_claim_limit(self.runevents)  # exact, for any number of writers
        level = logging.DEBUG if self.options.debug else logging.WARNING
        for function in self.setup.functions:
            lists: dict[str, list[dict]] = {"read": [], "write": [], "observe": []}
            for name, role in function.rb_assign.items():
                buffer = self.buffers.get(name)
                if buffer is None or role not in lists:
                    continue  # passed on in rb_info only (validation warned)
                if role == "read":
                    setup_dict = buffer.new_reader_group()
                    self.groups[(function.key, name)] = setup_dict["_group"]
                elif role == "write":
                    setup_dict = buffer.new_writer()
                else:
                    setup_dict = buffer.new_observer()
                lists[role].append(setup_dict)
            config = dict(function.config_dict)
            config["directory_prefix"] = self.directory_prefix
            for instance in range(function.num_process):
                spec = WorkerSpec(
                    key=function.key,
                    fkt_name=function.fkt_name,
                    module_name=function.module_name,
                    module_file=str(function.module.path),
                    instance=instance,
                    source_list=lists["read"] or None,
                    sink_list=lists["write"] or None,
                    observe_list=lists["observe"] or None,
                    config_dict=config,
                    rb_info=dict(function.rb_assign),
                    log_level=level,
                )
                worker = self.supervisor.add(spec, function.on_error)
                if self.watched is None:
                    self.watched = worker
        return self.supervisor.workers

    # ================================================================================ starting ====
    def start(self) -> None:
        """Start every worker (last function first, Fkt_1's first process last), then listen for input."""
        if self.state != "configured":
            return
        self.create_workers()
        self._attach_logging()
        if self.options.handle_signals:
            self.signals.install()
        if self.run_dir is not None:
            self.stats_file = StatsRecorder(self.run_dir / "stats.csv")
            self.rates = RatesPicture(self.run_dir / "stats.csv", self.run_dir / "rates.png")
        limits = []
        if self.runtime > 0:
            limits.append(f"Run ends after {self.runtime:g} s")
        if self.runevents > 0:
            limits.append(f"Run ends after {self.runevents} events")
        for text in limits:
            self.note(text, 1)
        self.wall_start = _dt.datetime.now()
        self.t_start = time.monotonic()
        failed = [w for w in reversed(self.supervisor.workers) if not self.supervisor.start(w)]
        self._set_state("running")
        self.note(
            f"{len(self.supervisor.workers)} workers started ({self.start_method}) - "
            f"{self.wall_start:%Y-%m-%d %H:%M:%S}",
            1,
        )
        self._start_inputs()
        now = time.monotonic()
        self._next_sample = self._next_csv = self._next_status = now
        for worker in failed:
            self._on_exit(worker)

    def _start_inputs(self) -> None:
        """Keyboard and GUI, after the workers are started (D15)."""
        kbd = self.options.kbd if self.options.kbd is not None else self.setup.kbd_control
        if kbd:
            keyboard = KeyboardInput(0)
            if keyboard.open:
                self.keyboard = keyboard
                if keyboard.is_terminal:
                    self.note(HELP, 1)
        gui = self.options.gui if self.options.gui is not None else self.setup.gui_control
        if gui:
            reason = gui_unavailable_reason()
            if reason is not None:
                self.note(f"GUI_control: running without the buffer-info window: {reason}", 1)
            else:
                try:
                    self.gui = GuiLink(self.context, list(self.buffers))
                    self.note("Graphical User Interface active", 1)
                except Exception as exc:  # a GUI problem must never cost the run
                    self.note(f"GUI_control: the buffer-info window could not be started: {exc}", 0)

    def _attach_logging(self) -> None:
        """Log records of this process (ring, controller) go to run.log; warnings also to the console."""
        level = logging.DEBUG if self.options.debug else logging.INFO
        logger = logging.getLogger("mimocorb")
        if self.runlog is not None:
            handler = RunLogHandler(self.runlog)
            handler.setLevel(level)
            logger.addHandler(handler)
            self._handlers.append((logger, handler))
        console_handler = _ConsoleHandler(self.console)
        logger.addHandler(console_handler)
        self._handlers.append((logger, console_handler))

    # ================================================================================ the loop ====
    def run(self) -> RunResult:
        """Start (if not yet started), run until the run has ended, and return how it ended."""
        try:
            self.start()
            while self.state != "ended":
                self.step()
        except BaseException as exc:
            self._emergency(exc)
            raise
        finally:
            self.finish_up()
        assert self.result is not None
        return self.result

    def end(self, reason: str = "end requested") -> RunResult:
        """End the run in order from wherever it is (used by ``run_mimoDAQ.end`` and ``buffer_control``)."""
        try:
            if self.state == "configured":
                self.state = "ended"
                self.end_reason = self.end_reason or reason
            else:
                self.begin_end(reason)
                while self.state != "ended":
                    self.step()
        except BaseException as exc:
            self._emergency(exc)
            raise
        finally:
            self.finish_up()
        assert self.result is not None
        return self.result

    def step(self) -> None:
        """One loop iteration (see the module docstring)."""
        if self.state in ("configured", "ended"):
            return
        timeout = TICK_STOPPING if self.state == "stopping" else TICK
        waitables = self.supervisor.waitables()
        if self.keyboard is not None:
            waitables += self.keyboard.waitables()
        ready = wait(waitables, timeout) if waitables else _sleep(timeout)
        self.supervisor.dispatch(ready)
        if self.keyboard is not None and self.keyboard.fd in ready:
            for line in self.keyboard.read_lines():
                self.command(line, "keyboard")
        if self.gui is not None:
            for line in self.gui.commands():
                self.command(line, "GUI")
        for name in self.signals.take():
            self._on_signal(name)
        for worker in self.supervisor.reap():
            self._on_exit(worker)
        now = time.monotonic()
        if self.abandoned:
            self.skip_abandoned()
        self._check_end_conditions()
        if self.state == "stopped" and not (self._hold or self._has_interactive_input()):
            self.begin_end(self.end_reason or "stop command")
        if self.state == "stopping" and self.ending.step():
            self._set_state("ended")
        self._periodic(now)

    # =============================================================================== commands ====
    def command(self, line: str, origin: str = "keyboard") -> None:
        """Execute one command line (P, R, S, E); anything else is echoed and ignored."""
        letter = parse_command(line)
        if letter is None:
            if line.strip():
                self.note(f"unknown command '{line.strip()}' ({', '.join(COMMANDS)} expected)", 1)
            return
        self._log(f"command {letter} ({COMMANDS[letter]}) from {origin}")
        if letter == "P":
            self.pause()
        elif letter == "R":
            self.resume()
        elif letter == "S":
            self.stop("stop command")
        elif self.state in (*ACTIVE_STATES, "stopped"):
            self.begin_end(self.end_reason or "end command")
        else:
            self.note(f"E ignored: the run is {self.state}", 1)

    def pause(self) -> None:
        """Sources pause (the paused flag of the buffers they write; rbImport/rbPut honour it)."""
        if self.state != "running":
            self.note(f"P ignored: the run is {self.state}", 1)
            return
        for name in self._pause_buffers():
            self.buffers[name].pause()
        self._pause_since = time.monotonic()
        self.pauses += 1
        self._set_state("paused")
        self.note("run paused (R resumes)", 1)

    def resume(self) -> None:
        """Only from ``paused`` (D13)."""
        if self.state != "paused":
            self.note(f"R ignored: the run is {self.state}, not paused", 1)
            return
        for name in self._pause_buffers():
            self.buffers[name].resume()
        self._account_pause()
        self._set_state("running")
        self.note("run resumed", 1)

    def stop(self, reason: str = "stop command", hold: bool | None = None) -> None:
        """Stop data taking: sources stop, the chain drains.

        The run then waits in ``stopped`` for E if ``hold`` (default: somebody is at a terminal or a
        GUI), else it goes on to its end at once.
        """
        if self.state not in ACTIVE_STATES:
            self.note(f"S ignored: the run is {self.state}", 1)
            return
        self.end_reason = self.end_reason or reason
        self._freeze_clock()
        self.ending.stop_sources()
        if hold:
            self._hold = True
        if hold or (hold is None and self._has_interactive_input()):
            self._set_state("stopped")
            self.note("data taking stopped, the buffers drain; E<ret> ends the run", 1)
        else:
            self.begin_end(reason)

    def begin_end(self, reason: str) -> None:
        """Enter ``stopping``: the orderly end starts, bounded by the grace period."""
        if self.state in ("stopping", "ended"):
            return
        self.end_reason = self.end_reason or reason
        self._freeze_clock()
        self._set_state("stopping")
        self.note(f"ending the run ({self.end_reason}) ...", 1)
        self.ending.begin()

    def _pause_buffers(self) -> list[str]:
        names = list(self.plan.source_buffers)
        first = self.plan.first_buffer
        if first is not None and first not in names:
            names.insert(0, first)
        return names

    def _has_interactive_input(self) -> bool:
        keyboard = self.keyboard is not None and self.keyboard.open and self.keyboard.is_terminal
        return keyboard or (self.gui is not None and self.gui.alive)

    def _on_signal(self, name: str) -> None:
        if self.state in (*ACTIVE_STATES, "stopped"):
            if name == "SIGINT":
                self.note("keyboard interrupt - closing down cleanly (Ctrl-C again to hurry)", 1)
            else:
                self.note(f"{name} received - closing down cleanly", 1)
            self.begin_end(name)
        elif self.state == "stopping":
            self.note(f"{name} again: terminating what is still running", 1)
            self.ending.hurry()

    # ========================================================================= end conditions ====
    def events(self) -> int:
        """Events that entered the first buffer so far."""
        first = self.plan.first_buffer
        return self.buffers[first].cumulative_event_count if first in self.buffers else 0

    def active_time(self, now: float | None = None) -> float:
        """Seconds of running time: pauses excluded, frozen from the moment data taking stops."""
        if self._frozen is not None:
            return self._frozen
        if self.t_start is None:
            return 0.0
        now = time.monotonic() if now is None else now
        paused = self._pause_total + (now - self._pause_since if self._pause_since is not None else 0.0)
        return max(0.0, now - self.t_start - paused)

    def _check_end_conditions(self) -> None:
        if self.state not in ACTIVE_STATES:
            return
        if self.runevents > 0 and self.events() >= self.runevents:
            self.note(f"{self.runevents} events reached", 1)
            self.begin_end("runevents")
        elif self.runtime > 0 and self.state == "running" and self.active_time() >= self.runtime:
            self.note(f"run time of {self.runtime:g} s reached", 1)
            self.begin_end("runtime")

    def _freeze_clock(self) -> None:
        if self._frozen is None:
            self._account_pause()
            self._frozen = self.active_time()

    def _account_pause(self) -> None:
        if self._pause_since is not None:
            self._pause_total += time.monotonic() - self._pause_since
            self._pause_since = None

    # ============================================================================ supervision ====
    def workers_of(self, key: str) -> list[WorkerProcess]:
        return [w for w in self.supervisor.workers if w.key == key]

    def _on_output(self, worker: WorkerProcess, line: str) -> None:
        if self.runlog is not None:
            self.runlog.write(f"{worker.name}:{worker.pid}", line)
        if self.console.verbose >= 1:
            self.console.worker_line(worker.name, line)

    def _on_worker_error(self, worker: WorkerProcess, error: WorkerError) -> None:
        """A user function raised: say so at once, with the function name and the traceback."""
        worker.reported = True
        text = (
            f"ERROR in worker {error.key} '{error.fkt_name}' (pid {error.pid}): {error.summary()}\n"
            f"{error.traceback.rstrip()}"
        )
        self.note(text, 0)

    def _on_exit(self, worker: WorkerProcess) -> None:
        """A worker process ended: reclaim what it held, then decide what it means for the run."""
        if worker.pid is not None:
            for name, buffer in self.buffers.items():
                try:
                    reports = buffer.reclaim_dead([worker.pid])
                except Exception as exc:  # reclaim is best effort; never let it stop the end
                    self.note(f"{name}: reclaiming {worker.label} failed: {exc}", 0)
                    continue
                lost = sum(r.get("lost_events", 0) for r in reports)
                if lost:
                    worker.lost_events += lost
                    self.note(f"{name}: {lost} event(s) lost with {worker.label}", 0)
        if worker.state == "exited":
            self._log(f"{worker.label} finished (exit code 0)")
            self._on_normal_exit(worker)
            self._abandon_if_gone(worker.key)
            return
        if worker.state == "terminated":
            self._log(f"{worker.label} terminated ({worker.exit_text()})")
            self._abandon_if_gone(worker.key)
            return
        own_error = any(e.pid == worker.pid for e in worker.errors)
        what = "raised an exception" if own_error else (worker.start_error or worker.exit_text())
        if not own_error or not worker.reported:
            self.note(f"ERROR: worker {worker.label} failed: {what}", 0)
        if self._may_restart(worker):
            worker.restarts += 1
            self.restarted.append(worker.label)
            self.note(
                f"restarting {worker.key} {worker.name} (restart {worker.restarts} of "
                f"{self.options.max_restarts})",
                0,
            )
            if self.supervisor.start(worker):
                return
            self.note(f"ERROR: {worker.label} {worker.start_error}", 0)
        self.failures.append(f"{worker.label}: {what}")
        self._abandon_if_gone(worker.key)
        if self.state in (*ACTIVE_STATES, "stopped"):
            self.begin_end(f"worker failed: {worker.key} {worker.name}")

    def _on_normal_exit(self, worker: WorkerProcess) -> None:
        if self.state not in ACTIVE_STATES:
            return
        if worker is self.watched:
            if self.runevents > 0 and self.events() >= self.runevents:
                self.note(f"{self.runevents} events reached", 1)
                self.begin_end("runevents")
            else:
                self.note("Input source exhausted", 1)
                self.begin_end("source exhausted")
            return
        role = self.plan.function(worker.key)
        if role.reads and not any(w.alive for w in self.workers_of(worker.key)):
            self.note(
                f"{role.label} ended while the run was going on; "
                f"{', '.join(role.reads)} would have no consumer left - ending the run",
                0,
            )
            self.begin_end(f"consumer ended: {role.key} {role.fkt_name}")

    def _abandon_if_gone(self, key: str) -> None:
        """A reading function without any live process: its groups must not block the buffers."""
        if any(w.alive for w in self.workers_of(key)):
            return
        role = self.plan.function(key)
        for name in role.reads:
            group = self.groups.get((key, name))
            if group is None or name in self.ending.shut_down or (name, group) in self.abandoned:
                continue
            self.abandoned[(name, group)] = {"buffer": name, "function": role.label, "unread": 0}
            self._log(f"{name}: {role.label} has no process left; the controller skips its events")
        self.skip_abandoned()

    def skip_abandoned(self, only: str | None = None) -> None:
        """Release, for groups without processes, what was published (so writers are not blocked)."""
        for (name, group), record in self.abandoned.items():
            if (only is None or name == only) and name not in self.ending.shut_down:
                skipped = self.buffers[name].skip_unread(group)
                if skipped:
                    if not record["unread"]:
                        self.note(
                            f"{name}: events for {record['function']} are skipped (it has no process left); "
                            "the other consumers of the buffer are not held up",
                            0,
                        )
                    record["unread"] += skipped

    def _may_restart(self, worker: WorkerProcess) -> bool:
        return (
            worker.on_error == "restart"
            and worker.restarts < self.options.max_restarts
            and not self.ending.aborted
            and self.state != "ended"
        )

    def pending_for_live_consumers(self, buffer: str) -> list[tuple[str, int]]:
        """Reader groups of ``buffer`` whose function has live processes and events still pending."""
        groups = self.monitors[buffer].stats()["groups"]
        out = []
        for role in self.plan.readers_of(buffer):
            g = self.groups.get((role.key, buffer))
            if g is None or g >= len(groups):
                continue
            if any(w.alive for w in self.workers_of(role.key)) and groups[g]["pending"] > 0:
                out.append((role.label, groups[g]["pending"]))
        return out

    def group_label(self, buffer: str, group: Any) -> str:
        for (key, name), g in self.groups.items():
            if name == buffer and str(g) == str(group):
                return self.plan.function(key).label
        return f"group {group}"

    # ============================================================================== reporting ====
    def note(self, text: str, level: int = 1) -> None:
        """A controller message: always to run.log, to the console if ``verbose >= level``."""
        self._log(text)
        self.console.message(text, level)
        if self.gui is not None and level <= 1:
            self.gui.log(text)

    def _log(self, text: str) -> None:
        if self.runlog is not None:
            self.runlog.write("controller", text)

    def _set_state(self, state: str) -> None:
        self.state = state
        t = 0.0 if self.t_start is None else time.monotonic() - self.t_start
        self.history.append((round(t, 3), state))
        self._log(f"state: {state}")
        self._next_status = 0.0  # show the new state at once

    def _periodic(self, now: float) -> None:
        if self.state == "ended":
            return
        live = self.console.live
        status_every = self.options.status_interval or (0.5 if live else 5.0)
        if now >= self._next_sample:
            self._next_sample = now + min(status_every, self.options.stats_interval)
            self.samples = self._sample()
            if now >= self._next_csv and self.stats_file is not None:
                self._next_csv = now + self.options.stats_interval
                elapsed = now - (self.t_start or now)
                self.stats_file.record(elapsed, self.active_time(now), self.state, self.samples)
                if self.rates is not None and not (self.gui is not None and self.gui.alive):
                    self.rates.snapshot(now)
            if self.gui is not None:
                self._gui_info()
            if self.state == "running":
                self._watch_stalls(now)
        if now >= self._next_status and self.console.verbose >= 2:
            self._next_status = now + status_every
            self._tick += 1
            done = progress(self.active_time(now), self.events(), self.runtime, self.runevents)
            self.console.status(
                status_text(self.state, self.active_time(now), self.samples, done, self._tick, live)
            )

    def _watch_stalls(self, now: float) -> None:
        """Warn once when a buffer stays full while none of its consumers makes progress.

        Nothing ends such a run by itself (a stuck worker is alive, so supervision cannot tell), but the
        operator should learn which function holds the chain up rather than watch rates of 0 Hz.
        """
        limit = self.options.stall_warning
        if not limit:
            return
        for name in self.buffers:
            stats = self.monitors[name].stats()
            mark = (stats["committed"], tuple(g["consumed"] for g in stats["groups"]))
            seen = self._progress.get(name)
            if seen is None or seen[0] != mark or stats["fill"] < stats["slots"]:
                self._progress[name] = (mark, now, False)
                continue
            if not seen[2] and now - seen[1] >= limit:
                self._progress[name] = (mark, seen[1], True)
                held = [label for label, _ in self.pending_for_live_consumers(name)] or ["no live consumer"]
                self.note(
                    f"WARNING: {name} has been full for {now - seen[1]:.0f} s and nothing moves; "
                    f"waiting for {', '.join(held)}",
                    0,
                )

    def _sample(self) -> list[BufferSample]:
        return [BufferSample.from_stats(name, b.stats()) for name, b in self.buffers.items()]

    def _gui_info(self) -> None:
        assert self.gui is not None
        first = self.samples[0] if self.samples else None
        info = {s.name: [s.events, s.fill, s.rate] for s in self.samples}
        ok = not self.failures
        self.gui.info(
            (
                self.state,
                self.active_time(),
                first.events if first else 0,
                first.deadtime if first else 0.0,
                info,
                ok,
            )
        )

    # ================================================================================= ending ====
    def _emergency(self, exc: BaseException) -> None:
        """The controller itself failed: end every process and record why; the caller re-raises."""
        self.end_reason = self.end_reason or f"controller error: {type(exc).__name__}: {exc}"
        self.note(f"ERROR: the run controller failed ({type(exc).__name__}: {exc}); ending all workers", 0)
        for worker in self.supervisor.alive():
            self.supervisor.terminate(worker)
        deadline = time.monotonic() + 2.0
        while self.supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
            for worker in self.supervisor.reap():
                self._on_exit(worker)
        for worker in self.supervisor.alive():
            self.supervisor.kill(worker)
        for name, buffer in self.buffers.items():
            with contextlib.suppress(Exception):
                buffer.shutdown(0.1)
            self.ending.shut_down.append(name)

    def finish_up(self) -> RunResult:
        """After the end: close everything, write run_summary.json, print the summary. Idempotent."""
        if self._finished:
            assert self.result is not None
            return self.result
        self._finished = True
        if self.state != "ended":
            self._set_state("ended")
        self.wall_end = _dt.datetime.now()
        for worker in self.supervisor.alive():  # only after an emergency
            self.supervisor.kill(worker)
            if worker.process is not None:
                worker.process.join(2.0)
        self.supervisor.reap()
        self.supervisor.close()
        if self.stats_file is not None and self.buffers:
            now = time.monotonic()
            self.samples = self._sample()
            self.stats_file.record(now - (self.t_start or now), self.active_time(), "ended", self.samples)
            self.stats_file.close()
            if self.rates is not None:
                problem = self.rates.final()
                if problem is not None:
                    self.note(f"rates.png not written: {problem}", 1)
        summary = self.summary()
        for buffer in self.buffers.values():
            with contextlib.suppress(Exception):
                buffer.close()
        self.signals.restore()
        if self.gui is not None:
            self.gui.close()
        self.keyboard = None
        exit_code = EXIT_OK if not (self.failures or self.ending.survivors) else EXIT_FAILED
        summary["exit_code"] = exit_code
        summary["clean"] = exit_code == EXIT_OK
        if self.run_dir is not None:
            write_json(self.run_dir / "run_summary.json", summary)
        self.console.end_status()
        self._print_summary(summary)
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        self._handlers.clear()
        if self.runlog is not None:
            self.runlog.close()
        self.result = RunResult(
            end_reason=self.end_reason or "ended",
            exit_code=exit_code,
            run_dir=self.run_dir,
            summary=summary,
            failures=list(self.failures),
            survivors=list(self.ending.survivors),
        )
        return self.result

    def summary(self) -> dict[str, Any]:
        """The content of run_summary.json."""
        active = self.active_time()
        wall = (
            (self.wall_end - self.wall_start).total_seconds()
            if self.wall_start is not None and self.wall_end is not None
            else 0.0
        )
        buffers = {}
        for name in self.buffers:
            try:
                c = self.monitors[name].stats()
            except Exception:  # the buffer may be closed after an emergency
                continue
            committed = int(c["committed"])
            groups = []
            for (key, bname), g in self.groups.items():
                if bname == name and g < len(c["groups"]):
                    groups.append(
                        {
                            "function": self.plan.function(key).label,
                            "consumed": int(c["groups"][g]["consumed"]),
                            "pending": int(c["groups"][g]["pending"]),
                        }
                    )
            buffers[name] = {
                "slots": int(c["slots"]),
                "events": committed,
                "lost": int(c["lost"]),
                "discarded": int(c["discarded"]),
                "mean_rate_hz": round(committed / active, 3) if active > 0 else 0.0,
                "mean_deadtime": round(float(c["deadtime_sum"]) / committed, 6) if committed else 0.0,
                "consumers": groups,
                "shutdown": self.ending.reports.get(name),
            }
        workers = [
            {
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
            for w in self.supervisor.workers
        ]
        return {
            "mimocorb_version": __version__,
            "setup_file": str(self.setup.setup_file),
            "run_directory": str(self.run_dir) if self.run_dir is not None else None,
            "start_method": self.start_method,
            "pid": os.getpid(),
            "start": self.wall_start.isoformat(timespec="milliseconds") if self.wall_start else None,
            "end": self.wall_end.isoformat(timespec="milliseconds") if self.wall_end else None,
            "wall_time_s": round(wall, 3),
            "active_time_s": round(active, 3),
            "pauses": self.pauses,
            "end_reason": self.end_reason,
            "limits": {"runtime_s": self.runtime, "runevents": self.runevents},
            "events": buffers.get(self.plan.first_buffer or "", {}).get("events", 0),
            "states": [list(item) for item in self.history],
            "buffers": buffers,
            "workers": workers,
            "failures": list(self.failures),
            "restarts": list(self.restarted),
            "abandoned_consumers": list(self.abandoned.values()),
            "end_sequence": self.ending.summary(),
            "files": collect_files(self.run_dir) if self.run_dir is not None else {},
        }

    def _print_summary(self, summary: dict[str, Any]) -> None:
        c = self.console
        c.message(
            f"Execution time: {summary['wall_time_s']:.1f}s -  Events processed: {summary['events']}", 1
        )
        c.message(
            f"run ended ({summary['end_reason']}) after {summary['active_time_s']:.1f} s of active time", 1
        )
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
        for failure in self.failures:
            c.message(f"  failed: {failure}", 0)
        for survivor in self.ending.survivors:
            c.message(f"  terminated after the grace period: {survivor}", 0)
        if self.run_dir is not None:
            c.message(f"run directory: {self.directory_prefix}", 1)


class _ConsoleHandler(logging.Handler):
    """Warnings and errors of this process's loggers (the ring's, say) on the console.

    The ring's reports of reclaimed and undelivered events are left to run.log: the controller reports
    the same facts on the console itself, with the names of the functions concerned.
    """

    RESTATED = ("buffer %s: reclaimed", "buffer %s: shutdown left events undelivered")

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith(self.RESTATED):
            return
        with contextlib.suppress(Exception):
            self.console.message(f"{record.levelname}: {record.getMessage()}", 0)


def _sleep(timeout: float) -> list[Any]:
    time.sleep(timeout)
    return []
