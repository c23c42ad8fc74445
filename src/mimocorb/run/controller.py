"""The run controller: buffers, worker processes, the state machine and the main loop.

The states and their transitions are in ``states``. The controller builds the buffers and the worker
slots, starts them, and then runs one loop, without busy waiting: each iteration waits (≤ 0.1 s,
≤ 0.02 s while stopping) on the worker sentinels, their output and error pipes and stdin, then

* passes worker output to run.log and the console, reports worker exceptions at once (``supervisor``);
* executes commands (keyboard, pipe, GUI, dashboard) and signals (SIGINT/SIGTERM end the run in order);
* reacts to ended workers: reclaim what they held in every buffer, then source exhaustion, restart
  (``on_error: restart``) or the end of the run; groups left without processes are skipped
  (``consumers``);
* checks the end conditions — runtime (active time, pauses excluded, ``clock``) and runevents (events
  in the first buffer) on every iteration;
* advances the end sequence (``ending``) while stopping;
* samples the buffers for the status line, stats.csv, the GUI and the dashboard (``dashboard``), and
  watches for stalls (``stalls``).

When the run has ended, ``finish_up`` closes everything and writes the report (``summary``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from ..config import ValidatedSetup
from ..ring import Monitor, RingBuffer
from .child import WorkerError, WorkerSpec
from .clock import RunClock
from .commands import BY_KEY, BY_NAME, HELP, Command
from .consumers import ConsumerGroups
from .dashboard import PUBLISH_INTERVAL, Dashboard
from .ending import EndSequence
from .gui import GuiLink, RatesPicture, gui_unavailable_reason
from .inputs import KeyboardInput, SignalInput, parse_command
from .links import CSV_COLUMNS, LINK_END, LINK_STATS, LinkBoard, link_id, link_specs
from .options import EXIT_FAILED, EXIT_OK, RunOptions, RunResult
from .plan import RunPlan, serve_key
from .rundir import RunLog, RunLogHandler, write_json
from .stalls import StallWatch
from .states import ACTIVE, ENDABLE, RunState, StateHistory, WorkerState
from .status import BufferSample, Console, ConsoleLogHandler, StatsRecorder, progress, status_text
from .summary import RunFacts, print_summary, run_summary
from .supervisor import Supervisor, WorkerProcess
from .wiring import connect, make_buffer, worker_spec

TICK = 0.1  # longest wait of one loop iteration
TICK_STOPPING = 0.02
EMERGENCY_WAIT = 2.0  # how long terminated workers get after a failure of the controller itself


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
        self.options = opt = options or RunOptions()
        self.console = console or Console(verbose=opt.verbose)
        self.run_dir = run_dir
        self.runlog = runlog if runlog is not None else (RunLog(run_dir / "run.log") if run_dir else None)
        if directory_prefix is None:
            directory_prefix = str(run_dir) + "/" if run_dir is not None else ""
        self.directory_prefix = directory_prefix
        self.context = opt.context()
        self.start_method = self.context.get_start_method()
        self.runtime = float(opt.runtime if opt.runtime is not None else setup.runtime)
        self.runevents = int(opt.runevents if opt.runevents is not None else setup.runevents)
        self.plan = RunPlan.of_setup(setup)
        # the parts of the run; buffers and monitors are filled by create_buffers()
        self.buffers: dict[str, RingBuffer] = {}
        self.monitors: dict[str, Monitor] = {}
        self.supervisor = Supervisor(self.context, self._on_output, self._on_worker_error, self._on_message)
        self.links = LinkBoard(self.note, {b.name: b.connect.address for b in setup.buffers if b.connect})
        self.consumers = ConsumerGroups(
            self.plan, self.supervisor, self.buffers, self.monitors, self.note, self._log
        )
        self.ending = EndSequence(
            self.plan,
            self.supervisor,
            self.buffers,
            self.note,
            pending_for_live_consumers=self.consumers.pending_for_live,
            skip_abandoned=self.skip_abandoned,
            group_label=self.consumers.label,
            grace=opt.grace,
        )
        self.stalls = StallWatch(opt.stall_warning, self.monitors, self.consumers.pending_for_live, self.note)
        self.states = StateHistory()
        self.clock = RunClock()
        # how the run goes
        self.end_reason: str | None = None
        self.failures: list[str] = []
        self.restarted: list[str] = []
        self.watched: WorkerProcess | None = None  # Fkt_1's first process: its exit = source exhausted
        self.wall_start: _dt.datetime | None = None
        self.wall_end: _dt.datetime | None = None
        # inputs
        self.signals = SignalInput()
        self.keyboard: KeyboardInput | None = None
        self.gui: GuiLink | None = None
        self.web: Dashboard | None = None
        self._hold = False  # S was given by code (buffer_control.stop): wait in "stopped" for E
        # outputs while running
        self.samples: list[BufferSample] = []
        self.stats_file: StatsRecorder | None = None
        self.rates: RatesPicture | None = None
        self._next_sample = 0.0
        self._next_csv = 0.0
        self._next_status = 0.0
        self._tick = 0
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._finished = False
        self.result: RunResult | None = None

    @property
    def state(self) -> RunState:
        """The run's state now (``configured``, ``running``, ``paused``, ...)."""
        return self.states.current

    # ================================================================================== set-up ====
    def create_buffers(self) -> dict[str, RingBuffer]:
        """The ring buffers RB_1, RB_2, ... of the setup (before any worker exists)."""
        if not self.buffers:
            for layout in self.setup.buffers:
                buffer = make_buffer(layout, self.options.debug)
                self.buffers[layout.name] = buffer
                self.monitors[layout.name] = Monitor(buffer.new_observer())
        return self.buffers

    def create_workers(self) -> list[WorkerProcess]:
        """One process slot per ``num_process`` of every function, connected as its ``RB_assign`` says."""
        if self.supervisor.workers:
            return self.supervisor.workers
        self.create_buffers()
        first = self.plan.first_buffer
        if first is not None and self.runevents > 0:
            self.buffers[first].set_claim_limit(self.runevents)  # exact, for any number of writers
        log_level = logging.DEBUG if self.options.debug else logging.WARNING
        serving, connecting = self._link_specs(log_level)
        for spec in connecting:  # started last, after everything that reads what they write
            worker = self.supervisor.add(spec, "restart")
            if spec.sink_list and first is not None and spec.config_dict["buffer"] == first:
                self.watched = worker  # the first buffer's source: its end of stream ends the run
        for function in self.setup.functions:
            connections = connect(function, self.buffers)
            for name, group in connections.groups.items():
                self.consumers.add(function.key, name, group)
            for instance in range(function.num_process):
                spec = worker_spec(function, instance, connections, self.directory_prefix, log_level)
                worker = self.supervisor.add(spec, function.on_error)
                if self.watched is None:
                    self.watched = worker
        for spec in serving:  # started first, so its reader groups are served from the start
            self.supervisor.add(spec, "restart")  # the ring gives its restart what it held
        return self.supervisor.workers

    def _link_specs(self, log_level: int) -> tuple[list[WorkerSpec], list[WorkerSpec]]:
        """The network workers' specs, with their reader groups, observers and writers made now."""
        serving: list[WorkerSpec] = []
        connecting: list[WorkerSpec] = []
        for layout in self.setup.buffers:
            buffer = self.buffers[layout.name]
            setups: dict[str, Any] = {}
            if layout.serve is not None:
                setups["groups"] = [buffer.new_reader_group(redeliver=True) for _ in layout.serve.groups]
                setups["observer"] = buffer.new_observer()
                roles = [r for r in self.plan.functions if r.processes == serve_key(layout.name)]
                for role, group in zip(roles, setups["groups"], strict=True):
                    self.consumers.add(role.key, layout.name, group["_group"])
            if layout.connect is not None:
                setups["writer"] = buffer.new_writer()
            link = link_id(str(self.setup.setup_file), layout.name)
            for spec in link_specs(layout, setups, link, log_level, self.run_dir):
                (serving if spec.source_list else connecting).append(spec)
        return serving, connecting

    # ================================================================================ starting ====
    def start(self) -> None:
        """Start every worker (last function first, Fkt_1's first process last), then listen for input."""
        if self.state != RunState.CONFIGURED:
            return
        self.create_workers()
        self._attach_logging()
        if self.options.handle_signals:
            self.signals.install()
        if self.run_dir is not None:
            linked = any(b.serve or b.connect for b in self.setup.buffers)
            self.stats_file = StatsRecorder(
                self.run_dir / "stats.csv", CSV_COLUMNS if linked else (), self.links.csv_values
            )
            self.rates = RatesPicture(self.run_dir / "stats.csv", self.run_dir / "rates.png")
        self._announce_limits()
        self.wall_start = _dt.datetime.now()
        self.states.started(self.clock.start())
        failed = [w for w in reversed(self.supervisor.workers) if not self.supervisor.start(w)]
        self._set_state(RunState.RUNNING)
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

    def _announce_limits(self) -> None:
        if self.runtime > 0:
            self.note(f"Run ends after {self.runtime:g} s", 1)
        if self.runevents > 0:
            self.note(f"Run ends after {self.runevents} events", 1)

    def _start_inputs(self) -> None:
        """Keyboard, GUI and dashboard, only after the workers are started: no worker is forked while
        they run."""
        kbd = self.options.kbd if self.options.kbd is not None else self.setup.kbd_control
        if kbd:
            self._start_keyboard()
        gui = self.options.gui if self.options.gui is not None else self.setup.gui_control
        if gui:
            self._start_gui()
        web = self.options.web if self.options.web is not None else self.setup.web
        if web is not None:
            self._start_web(web)

    def _start_keyboard(self) -> None:
        keyboard = KeyboardInput(0)
        if keyboard.open:
            self.keyboard = keyboard
            if keyboard.is_terminal:
                self.note(HELP, 1)

    def _start_gui(self) -> None:
        reason = gui_unavailable_reason()
        if reason is not None:
            self.note(f"GUI_control: running without the buffer-info window: {reason}", 1)
            return
        try:
            self.gui = GuiLink(self.context, list(self.buffers))
            self.note("Graphical User Interface active", 1)
        except Exception as exc:  # a GUI problem must never cost the run
            self.note(f"GUI_control: the buffer-info window could not be started: {exc}", 0)

    def _start_web(self, address: tuple[str, int]) -> None:
        self.web = Dashboard.start(
            self.context, self.setup, self.buffers, self.run_dir, address, self.options.web_token, self.note
        )
        if self.web is not None:
            self.console.message(f"Dashboard: {self.web.url}", 0)

    def _attach_logging(self) -> None:
        """Log records of this process (ring, controller) go to run.log; warnings also to the console."""
        logger = logging.getLogger("mimocorb")
        handlers: list[logging.Handler] = []
        if self.runlog is not None:
            runlog = RunLogHandler(self.runlog)
            runlog.setLevel(logging.DEBUG if self.options.debug else logging.INFO)
            handlers.append(runlog)
        handlers.append(ConsoleLogHandler(self.console))
        for handler in handlers:
            logger.addHandler(handler)
            self._handlers.append((logger, handler))

    # ================================================================================ the loop ====
    def run(self) -> RunResult:
        """Start (if not yet started), run until the run has ended, and return how it ended."""
        return self._until_ended(self.start)

    def end(self, reason: str = "end requested") -> RunResult:
        """End the run in order from wherever it is (used by ``run_mimoDAQ.end`` and ``buffer_control``)."""

        def begin() -> None:
            if self.state == RunState.CONFIGURED:
                self.end_reason = self.end_reason or reason
                self._set_state(RunState.ENDED)
            else:
                self.begin_end(reason)

        return self._until_ended(begin)

    def _until_ended(self, first: Callable[[], None]) -> RunResult:
        """Do ``first``, loop until the run has ended, then finish up — also when the controller fails."""
        try:
            first()
            while self.state != RunState.ENDED:
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
        if self.state in (RunState.CONFIGURED, RunState.ENDED):
            return
        self._take_inputs(self._wait())
        for worker in self.supervisor.reap():
            self._on_exit(worker)
        now = time.monotonic()
        if self.consumers.abandoned:
            self.skip_abandoned()
        self._check_end_conditions()
        if self.state == RunState.STOPPED and not (self._hold or self._has_interactive_input()):
            self.begin_end(self.end_reason or "stop command")
        if self.state == RunState.STOPPING and self.ending.step():
            self._set_state(RunState.ENDED)
        self._periodic(now)

    def _wait(self) -> list[Any]:
        """Wait for worker output, worker ends or a keyboard line, at most one tick."""
        timeout = TICK_STOPPING if self.state == RunState.STOPPING else TICK
        waitables = self.supervisor.waitables()
        if self.keyboard is not None:
            waitables += self.keyboard.waitables()
        if self.web is not None:
            waitables += self.web.waitables()
        if not waitables:
            time.sleep(timeout)
            return []
        return wait(waitables, timeout)

    def _take_inputs(self, ready: list[Any]) -> None:
        self.supervisor.dispatch(ready)
        if self.keyboard is not None and self.keyboard.fd in ready:
            for line in self.keyboard.read_lines():
                self.command(line, "keyboard")
        if self.gui is not None:
            for line in self.gui.commands():
                self.command(line, "GUI")
        if self.web is not None:
            for letter in self.web.commands():
                self.command(letter, "web")
        for name in self.signals.take():
            self._on_signal(name)

    # =============================================================================== commands ====
    def command(self, line: str, origin: str = "keyboard") -> None:
        """Execute one command line (a key of ``commands.TABLE``); anything else is echoed and ignored."""
        letter = parse_command(line)
        if letter is None:
            if line.strip():
                self.note(f"unknown command '{line.strip()}' ({', '.join(BY_KEY)} expected)", 1)
            return
        command = BY_KEY[letter]
        self._log(f"command {command.key} ({command.name}) from {origin}")
        if not self._refuses(command):
            getattr(self, command.method)()

    def _refuses(self, command: Command) -> bool:
        """The table says in which states a command acts; in any other it is noted and ignored."""
        if self.state in command.states:
            return False
        self.note(command.refusal(self.state), 1)
        return True

    def pause(self) -> None:
        """Sources pause (the paused flag of the buffers they write; rbImport/rbPut honour it)."""
        if self._refuses(BY_NAME["pause"]):
            return
        for name in self._pause_buffers():
            self.buffers[name].pause()
        self.clock.pause()
        self._set_state(RunState.PAUSED)
        self.note("run paused (R resumes)", 1)

    def resume(self) -> None:
        """Only from ``paused``: R in any other state would start sources that were meant to stay stopped."""
        if self._refuses(BY_NAME["resume"]):
            return
        for name in self._pause_buffers():
            self.buffers[name].resume()
        self.clock.resume()
        self._set_state(RunState.RUNNING)
        self.note("run resumed", 1)

    def stop(self, reason: str = "stop command", hold: bool | None = None) -> None:
        """Stop data taking: sources stop, the chain drains.

        The run then waits in ``stopped`` for E if ``hold`` (default: somebody is at a terminal or a
        GUI), else it goes on to its end at once.
        """
        if self._refuses(BY_NAME["stop"]):
            return
        self.end_reason = self.end_reason or reason
        self.clock.freeze()
        self.ending.stop_sources()
        if hold:
            self._hold = True
        if hold or (hold is None and self._has_interactive_input()):
            self._set_state(RunState.STOPPED)
            self.note("data taking stopped, the buffers drain; E<ret> ends the run", 1)
        else:
            self.begin_end(reason)

    def request_end(self) -> None:
        """The E command: a run stopped by S keeps "stop command" as the reason it ended."""
        if not self._refuses(BY_NAME["end"]):
            self.begin_end(self.end_reason or "end command")

    def begin_end(self, reason: str) -> None:
        """Enter ``stopping``: the orderly end starts, bounded by the grace period."""
        if self.state in (RunState.STOPPING, RunState.ENDED):
            return
        self.end_reason = self.end_reason or reason
        self.clock.freeze()
        self._set_state(RunState.STOPPING)
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
        windows = (self.gui is not None and self.gui.alive) or (self.web is not None and self.web.alive)
        return keyboard or windows

    def _on_signal(self, name: str) -> None:
        if self.state in ENDABLE:
            if name == "SIGINT":
                self.note("keyboard interrupt - closing down cleanly (Ctrl-C again to hurry)", 1)
            else:
                self.note(f"{name} received - closing down cleanly", 1)
            self.begin_end(name)
        elif self.state == RunState.STOPPING:
            self.note(f"{name} again: terminating what is still running", 1)
            self.ending.hurry()

    # ========================================================================= end conditions ====
    def events(self) -> int:
        """Events that entered the first buffer so far."""
        first = self.plan.first_buffer
        return self.buffers[first].cumulative_event_count if first in self.buffers else 0

    def active_time(self, now: float | None = None) -> float:
        """Seconds of running time: pauses excluded, frozen from the moment data taking stops."""
        return self.clock.active(now)

    def _check_end_conditions(self) -> None:
        if self.state not in ACTIVE:
            return
        if self.runevents > 0 and self.events() >= self.runevents:
            self.note(f"{self.runevents} events reached", 1)
            self.begin_end("runevents")
        elif self.runtime > 0 and self.state == RunState.RUNNING and self.active_time() >= self.runtime:
            self.note(f"run time of {self.runtime:g} s reached", 1)
            self.begin_end("runtime")

    # ============================================================================ supervision ====
    def _on_output(self, worker: WorkerProcess, line: str) -> None:
        if self.runlog is not None:
            self.runlog.write(f"{worker.name}:{worker.pid}", line)
        if self.console.verbose >= 1:
            self.console.worker_line(worker.name, line)
        if self.web is not None:
            self.web.log(line, worker.name)

    def _on_worker_error(self, worker: WorkerProcess, error: WorkerError) -> None:
        """A user function raised: say so at once, with the function name and the traceback."""
        worker.reported = True
        if _refused(error):
            self.note(f"ERROR: {error.key}: {error.message}", 0)
            return
        text = (
            f"ERROR in worker {error.key} '{error.fkt_name}' (pid {error.pid}): {error.summary()}\n"
            f"{error.traceback.rstrip()}"
        )
        self.note(text, 0)

    def _on_message(self, worker: WorkerProcess, item: Any) -> None:
        """A network worker's link report, or why its link ended."""
        if not (isinstance(item, tuple) and len(item) == 3):
            return
        kind, buffer, payload = item
        if kind == LINK_STATS:
            self.links.update(buffer, payload, self.state in ACTIVE)
        elif kind == LINK_END:
            self._on_link_end(buffer, payload)

    def _on_link_end(self, buffer: str, reason: str) -> None:
        """end-of-stream: the serving run ended and all it sent is committed (the exit that follows is a
        source's exhaustion); peer-timeout: the serving run vanished, the run ends with what came."""
        address = self.links.addresses.get(buffer, "?")
        if reason == "end-of-stream":
            self.note(f"{buffer}: the serving run at {address} ended; every event it sent is here", 1)
        elif reason in ("peer-timeout", "connect-timeout"):
            received = self.buffers[buffer].cumulative_event_count if buffer in self.buffers else 0
            self.note(self.links.gone_message(buffer, received), 0)
            if self.state in ENDABLE:
                self.begin_end("serving run gone")

    def _on_exit(self, worker: WorkerProcess) -> None:
        """A worker process ended: reclaim what it held, then decide what it means for the run."""
        self._reclaim(worker)
        if worker.state == WorkerState.EXITED:
            self._log(f"{worker.label} finished (exit code 0)")
            self._on_normal_exit(worker)
            self._abandon_if_gone(worker.key)
        elif worker.state == WorkerState.TERMINATED:
            self._log(f"{worker.label} terminated ({worker.exit_text()})")
            self._abandon_if_gone(worker.key)
        elif not self._restarted_after_failure(worker):
            self._abandon_if_gone(worker.key)
            if self.state in ENDABLE:
                self.begin_end(f"worker failed: {worker.key} {worker.name}")

    def _reclaim(self, worker: WorkerProcess) -> None:
        """Slots the process held in any buffer go back to the ring; events lost with it are counted."""
        if worker.pid is None:
            return
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
            returned = sum(r.get("returned_events", 0) for r in reports)
            if returned and self.ending.aborted:  # terminated after the grace period: no next process
                self.note(f"{name}: {returned} event(s) {worker.label} held were not delivered", 0)
            elif returned:
                self.note(f"{name}: {returned} event(s) {worker.label} held go to its next process", 1)

    def _restarted_after_failure(self, worker: WorkerProcess) -> bool:
        """Report the failure; restart the process if its function asks for it (else count the failure)."""
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
                return True
            self.note(f"ERROR: {worker.label} {worker.start_error}", 0)
        elif worker.on_error == "restart" and worker.restarts >= self.options.max_restarts:
            self.note(
                f"ERROR: {worker.key} {worker.name} is not restarted again: "
                f"its {worker.restarts} restart(s) are used up",
                0,
            )
        self.failures.append(f"{worker.label}: {what}")
        return False

    def _on_normal_exit(self, worker: WorkerProcess) -> None:
        if self.state not in ACTIVE:
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
        if role.reads and not any(w.alive for w in self.supervisor.workers_of(worker.key)):
            self.note(
                f"{role.label} ended while the run was going on; "
                f"{', '.join(role.reads)} would have no consumer left - ending the run",
                0,
            )
            self.begin_end(f"consumer ended: {role.key} {role.fkt_name}")

    def _may_restart(self, worker: WorkerProcess) -> bool:
        return (
            worker.on_error == "restart"
            and not any(_refused(e) and e.pid == worker.pid for e in worker.errors)
            and worker.restarts < self.options.max_restarts
            and not self.ending.aborted
            and self.state != RunState.ENDED
        )

    def _abandon_if_gone(self, key: str) -> None:
        self.consumers.abandon_if_gone(key, self.ending.shut_down)

    def skip_abandoned(self, only: str | None = None) -> None:
        """Release, for groups without processes, what was published (so writers are not blocked)."""
        self.consumers.skip_abandoned(self.ending.shut_down, only)

    # ============================================================================== reporting ====
    def note(self, text: str, level: int = 1) -> None:
        """A controller message: always to run.log, to the console if ``verbose >= level``."""
        self._log(text)
        self.console.message(text, level)
        if self.gui is not None and level <= 1:
            self.gui.log(text)
        if self.web is not None:
            self.web.log(text)

    def _log(self, text: str) -> None:
        if self.runlog is not None:
            self.runlog.write("controller", text)

    def _set_state(self, state: RunState) -> None:
        self.states.move(state)
        self._log(f"state: {state}")
        self._next_status = 0.0  # show the new state at once

    def _periodic(self, now: float) -> None:
        """Samples for stats.csv, rates.png and the GUI, the stall watch, and the status line, when due."""
        if self.state == RunState.ENDED:
            return
        status_every = self.options.status_interval or (0.5 if self.console.live else 5.0)
        if now >= self._next_sample:
            every = min(status_every, self.options.stats_interval)
            self._next_sample = now + (min(every, PUBLISH_INTERVAL) if self.web is not None else every)
            self._sample(now)
        if now >= self._next_status and self.console.verbose >= 2:
            self._next_status = now + status_every
            self._show_status(now)

    def _sample(self, now: float) -> None:
        stats = self._buffer_stats()
        self.samples = [BufferSample.from_stats(name, s) for name, s in stats.items()]
        if now >= self._next_csv and self.stats_file is not None:
            self._next_csv = now + self.options.stats_interval
            self.stats_file.record(self.clock.elapsed(now), self.active_time(now), self.state, self.samples)
            if self.rates is not None and not (self.gui is not None and self.gui.alive):
                self.rates.snapshot(now)
        if self.gui is not None:
            self.gui.info(self.state, self.active_time(), self.samples, not self.failures)
        if self.web is not None:
            self._publish(stats, now)
        if self.state == RunState.RUNNING:
            self.stalls.check(now)

    def _publish(self, stats: dict[str, dict], now: float | None = None) -> None:
        """The dashboard's snapshot, from the samples just taken."""
        assert self.web is not None
        active = self.active_time(now)
        self.web.publish(
            state=self.state,
            active_time=active,
            samples=self.samples,
            workers=self.supervisor.workers,
            consumers={name: self.consumers.pending(name, s) for name, s in stats.items()},
            events=self.events(),
            progress=progress(active, self.events(), self.runtime, self.runevents),
            runtime=self.runtime,
            runevents=self.runevents,
            end_reason=self.end_reason,
            setup=self.setup.setup_file.name,
            run_directory=None if self.run_dir is None else str(self.run_dir),
            links=self.links.summary(),
        )

    def _show_status(self, now: float) -> None:
        self._tick += 1
        active = self.active_time(now)
        done = progress(active, self.events(), self.runtime, self.runevents)
        text = status_text(self.state, active, self.samples, done, self._tick, self.console.live)
        links = self.links.status({s.name for s in self.samples if s.fill >= s.slots})
        self.console.status(f"{text}  {links}" if links else text)

    def _buffer_stats(self) -> dict[str, dict]:
        return {name: b.stats() for name, b in self.buffers.items()}

    def _buffer_samples(self) -> list[BufferSample]:
        return [BufferSample.from_stats(name, s) for name, s in self._buffer_stats().items()]

    # ================================================================================= ending ====
    def _emergency(self, exc: BaseException) -> None:
        """The controller itself failed: end every process and record why; the caller re-raises."""
        self.end_reason = self.end_reason or f"controller error: {type(exc).__name__}: {exc}"
        self.note(f"ERROR: the run controller failed ({type(exc).__name__}: {exc}); ending all workers", 0)
        for worker in self.supervisor.alive():
            self.supervisor.terminate(worker)
        deadline = time.monotonic() + EMERGENCY_WAIT
        while self.supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
            for worker in self.supervisor.reap():
                self._on_exit(worker)
        for worker in self.supervisor.alive():
            self.supervisor.kill(worker)
        self.ending.shut_down_at_once()

    def finish_up(self) -> RunResult:
        """After the end: close everything, write run_summary.json, print the summary. Idempotent."""
        if self._finished:
            assert self.result is not None
            return self.result
        self._finished = True
        if self.state != RunState.ENDED:
            self._set_state(RunState.ENDED)
        self.clock.freeze()  # already frozen unless the controller failed: closing up is not active time
        self.wall_end = _dt.datetime.now()
        self._close_workers()
        self._close_stats()
        final_stats = self._final_stats()
        summary = self.summary(final_stats)
        self._close_inputs_and_buffers()
        exit_code = EXIT_OK if not (self.failures or self.ending.survivors) else EXIT_FAILED
        summary["exit_code"] = exit_code
        summary["clean"] = exit_code == EXIT_OK
        if self.run_dir is not None:
            write_json(self.run_dir / "run_summary.json", summary)
        self._close_web(final_stats)
        self.console.end_status()
        print_summary(self.console, summary, self.directory_prefix)
        self._detach_logging()
        self.result = RunResult(
            end_reason=self.end_reason or "ended",
            exit_code=exit_code,
            run_dir=self.run_dir,
            summary=summary,
            failures=list(self.failures),
            survivors=list(self.ending.survivors),
        )
        return self.result

    def _close_workers(self) -> None:
        for worker in self.supervisor.alive():  # only after an emergency
            self.supervisor.kill(worker)
            if worker.process is not None:
                worker.process.join(2.0)
        self.supervisor.reap()
        self.supervisor.close()

    def _close_stats(self) -> None:
        """The last row of stats.csv (state ``ended``) and the final rates.png."""
        if self.stats_file is None or not self.buffers:
            return
        now = time.monotonic()
        self.samples = self._buffer_samples()
        self.stats_file.record(self.clock.elapsed(now), self.active_time(), RunState.ENDED, self.samples)
        self.stats_file.close()
        if self.rates is not None:
            problem = self.rates.final()
            if problem is not None:
                self.note(f"rates.png not written: {problem}", 1)

    def _close_inputs_and_buffers(self) -> None:
        for buffer in self.buffers.values():
            with contextlib.suppress(Exception):
                buffer.close()
        self.signals.restore()
        if self.gui is not None:
            self.gui.close()
        self.keyboard = None

    def _close_web(self, final_stats: dict[str, dict]) -> None:
        """The last snapshot (state ``ended``, with run_summary.json written), then the server's end."""
        if self.web is None:
            return
        self._publish(final_stats)
        self.web.close()

    def _detach_logging(self) -> None:
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        self._handlers.clear()
        if self.runlog is not None:
            self.runlog.close()

    def summary(self, stats: dict[str, dict] | None = None) -> dict[str, Any]:
        """The content of run_summary.json (see ``summary.run_summary``); ``stats``: the buffers' final
        statistics, if already taken."""
        facts = RunFacts(
            setup_file=self.setup.setup_file,
            run_dir=self.run_dir,
            start_method=self.start_method,
            wall_start=self.wall_start,
            wall_end=self.wall_end,
            active_time=self.active_time(),
            pauses=self.clock.pauses,
            end_reason=self.end_reason,
            runtime=self.runtime,
            runevents=self.runevents,
            states=self.states.changes,
            failures=self.failures,
            restarts=self.restarted,
            abandoned=list(self.consumers.abandoned.values()),
        )
        summary = run_summary(
            facts,
            self.plan,
            self._final_stats() if stats is None else stats,
            self.consumers.groups,
            self.supervisor.workers,
            self.ending.record,
        )
        summary["links"] = self.links.summary()
        return summary

    def _final_stats(self) -> dict[str, dict]:
        stats = {}
        for name, monitor in self.monitors.items():
            with contextlib.suppress(Exception):  # the buffer may be closed after an emergency
                stats[name] = monitor.stats()
        return stats


def _refused(error: WorkerError) -> bool:
    """A link refused by its peer (layout, key, group): a restart would be refused again."""
    return error.exc_type == "NetError"
