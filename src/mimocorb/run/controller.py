"""The run controller: builds the buffers and the worker slots, starts them, and runs the main loop.

The loop runs without busy waiting: each iteration waits (≤ 0.1 s, ≤ 0.02 s while stopping) on the
worker sentinels, their output and error pipes, stdin and the dashboard (``channels``), then

* passes worker output to run.log and the console, reports worker exceptions at once (``supervisor``);
* executes commands (``commands``: keyboard, pipe, GUI, dashboard) and signals (SIGINT/SIGTERM end the
  run in order);
* reacts to ended workers: reclaim what they held in every buffer, then source exhaustion, restart or
  failure (``restarts``); groups left without processes are skipped (``consumers``);
* checks the end conditions — runtime (active time, pauses excluded, ``clock``) and runevents (events
  in the first buffer) on every iteration;
* advances the end sequence (``ending``) while stopping;
* samples the buffers for the status line, stats.csv, the GUI and the dashboard (``sampling``).

Every way a run ends — a command, a signal, an end condition, a worker's end, ``end()`` from code — goes
through ``end_run(reason)``, which records the first reason given. After the end, ``close_and_report``
closes everything and writes the report (``summary``).
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
from .alarms import RunAlarms
from .catalog import complete_run, register_run
from .channels import Channels
from .child import WorkerSpec
from .clock import RunClock
from .commands import BY_KEY, BY_NAME, Command
from .consumers import ConsumerGroups
from .dashboard import Dashboard
from .ending import EndSequence
from .historian import Historian
from .inputs import SignalInput, split_command
from .links import LinkBoard, link_id, link_specs
from .options import EXIT_FAILED, EXIT_OK, RunOptions, RunResult
from .plan import RunPlan, serve_key
from .restarts import RestartPolicy, reclaim_slots
from .rundir import RunLog, route_logging, write_json
from .sampling import Sampler, final_stats
from .stalls import StallWatch
from .states import ACTIVE, ENDABLE, RunState, StateHistory, WorkerState
from .status import Console, progress
from .summary import RunFacts, print_summary, run_summary
from .supervisor import Supervisor, WorkerProcess
from .variables import RunVariables
from .wiring import connect, make_buffer, worker_spec

TICK = 0.1  # longest wait of one loop iteration
TICK_STOPPING = 0.02


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
        self.states = StateHistory()
        self.clock = RunClock()
        # the parts of the run; buffers and monitors are filled by create_buffers()
        self.buffers: dict[str, RingBuffer] = {}
        self.monitors: dict[str, Monitor] = {}
        self.restarts = RestartPolicy(
            opt.max_restarts,
            start=lambda worker: self.supervisor.start(worker),
            run_going_on=lambda: not self.ending.aborted and self.state != RunState.ENDED,
            note=self.note,
        )
        self.supervisor = Supervisor(
            self.context, self._on_output, self.restarts.report_error, self._on_message
        )
        self.links = LinkBoard(self.note, {b.name: b.connect.address for b in setup.buffers if b.connect})
        self.consumers = ConsumerGroups(
            self.plan, self.supervisor, self.buffers, self.monitors, self.note, self._log
        )
        self.ending = EndSequence(
            self.plan, self.supervisor, self.buffers, self.consumers, self.note, grace=opt.grace
        )
        self.channels = Channels(self.console, self.note)
        self.sampler = Sampler(
            self.buffers,
            self.clock,
            self.console,
            self.channels,
            StallWatch(opt.stall_warning, self.monitors, self.consumers.pending_for_live, self.note),
            self.links,
            (opt.status_interval, opt.stats_interval),
            state=lambda: self.state,
            progress=lambda active: progress(active, self.events(), self.runtime, self.runevents),
            healthy=lambda: not self.restarts.failures,
            pending=self.consumers.pending,
            run_facts=self._dashboard_facts,
            variables=RunVariables(
                lambda: self.supervisor.workers, None if run_dir is None else run_dir.parent
            ).current,
            variables_interval=setup.history.interval,
            note=self.note,
        )
        self.alarms = RunAlarms(
            setup.alarms,
            self.context,
            run_dir,
            self.note,
            pause=self.pause,
            stop=lambda reason: self.stop(reason),
            state=lambda: self.state,
        )
        self.historian: Historian | None = None
        self.signals = SignalInput()
        # how the run goes
        self.end_reason: str | None = None
        self.watched: WorkerProcess | None = None  # Fkt_1's first process: its exit = source exhausted
        self.wall_start: _dt.datetime | None = None
        self.wall_end: _dt.datetime | None = None
        self._hold = False  # S was given by code (buffer_control.stop): wait in "stopped" for E
        self.signals_received: list[str] = []  # also those that only hurried the end
        self._unroute_logging: Callable[[], None] = lambda: None
        self._closed = False
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
        self._unroute_logging = route_logging(self.runlog, self.console, self.options.debug)
        if self.options.handle_signals:
            self.signals.install()
        self.sampler.start(self.run_dir, linked=any(b.serve or b.connect for b in self.setup.buffers))
        if self.run_dir is not None:
            self.historian = Historian.open(
                self.setup.history, self.run_dir, self.setup.setup_file.name, self.note
            )
            if self.historian is not None:
                self.sampler.add_consumer(self.historian)
        if self.setup.alarms:  # after the history: a sample is stored before an alarm acts on it
            self.sampler.add_consumer(self.alarms.take_sample)
        self._announce_limits()
        self.wall_start = _dt.datetime.now()
        register_run(self.run_dir, self.setup.setup_file, self.wall_start, self.options.tags, self.note)
        self.states.started(self.clock.start())
        failed = [w for w in reversed(self.supervisor.workers) if not self.supervisor.start(w)]
        self._set_state(RunState.RUNNING)
        self.note(
            f"{len(self.supervisor.workers)} workers started ({self.start_method}) - "
            f"{self.wall_start:%Y-%m-%d %H:%M:%S}",
            1,
        )
        self._start_channels()
        self.sampler.due_now()
        for worker in failed:
            self._on_exit(worker)

    def _announce_limits(self) -> None:
        if self.runtime > 0:
            self.note(f"Run ends after {self.runtime:g} s", 1)
        if self.runevents > 0:
            self.note(f"Run ends after {self.runevents} events", 1)

    def _start_channels(self) -> None:
        """Keyboard, GUI and dashboard, only after the workers are started: no worker is forked while
        they run."""
        opt, setup = self.options, self.setup
        if opt.kbd if opt.kbd is not None else setup.kbd_control:
            self.channels.start_keyboard()
        if opt.gui if opt.gui is not None else setup.gui_control:
            self.channels.start_gui(self.context, list(self.buffers))
        web = opt.web if opt.web is not None else setup.web
        if web is not None:
            dashboard = Dashboard.start(
                self.context, setup, self.buffers, self.run_dir, web, opt.web_token, self.note
            )
            self.channels.use_web(dashboard)

    # ================================================================================ the loop ====
    def run(self) -> RunResult:
        """Start (if not yet started), run until the run has ended, and return how it ended."""
        return self._until_ended(self.start)

    def end(self, reason: str = "end requested") -> RunResult:
        """End the run in order from wherever it is (``end_run``) and wait until it has ended; used by
        ``run_mimoDAQ.end`` and ``buffer_control.shutdown``."""
        return self._until_ended(lambda: self.end_run(reason))

    def _until_ended(self, first: Callable[[], None]) -> RunResult:
        """Do ``first``, loop until the run has ended, then close up — also when the controller fails."""
        try:
            first()
            while self.state != RunState.ENDED:
                self.step()
        except BaseException as exc:
            self._end_after_own_failure(exc)
            raise
        finally:
            self.close_and_report()
        assert self.result is not None
        return self.result

    def step(self) -> None:
        """One loop iteration (see the module docstring)."""
        if self.state in (RunState.CONFIGURED, RunState.ENDED):
            return
        self._take_inputs(self._wait())
        self.supervisor.read_published()
        for worker in self.supervisor.reap():
            self._on_exit(worker)
        now = time.monotonic()
        if self.consumers.abandoned:
            self.consumers.skip_abandoned(self.ending.shut_down)
        self._check_end_conditions()
        if self.state == RunState.STOPPED and not (self._hold or self.channels.interactive()):
            self.end_run("stop command")
        if self.state == RunState.STOPPING and self.ending.step():
            self._set_state(RunState.ENDED)
        self.sampler.sample_when_due(now)

    def _wait(self) -> list[Any]:
        """Wait for worker output, worker ends or a command, at most one tick."""
        timeout = TICK_STOPPING if self.state == RunState.STOPPING else TICK
        waitables = self.supervisor.waitables() + self.channels.waitables()
        if not waitables:
            time.sleep(timeout)
            return []
        return wait(waitables, timeout)

    def _take_inputs(self, ready: list[Any]) -> None:
        self.supervisor.dispatch(ready)
        for line, origin in self.channels.commands(ready):
            self.command(line, origin)
        for name in self.signals.take():
            self._on_signal(name)

    # =============================================================================== commands ====
    def command(self, line: str, origin: str = "keyboard") -> None:
        """Execute one command line (a key of ``commands.TABLE``); anything else is echoed and ignored."""
        letter, argument = split_command(line)
        if letter is None:
            if line.strip():
                self.note(f"unknown command '{line.strip()}' ({', '.join(BY_KEY)} expected)", 1)
            return
        command = BY_KEY[letter]
        given = f" {argument}" if argument else ""
        self._log(f"command {command.key}{given} ({command.name}) from {origin}")
        if not self._refuses(command):
            arguments = (argument,) if command.argument is not None else ()
            getattr(self, command.method)(*arguments)

    def _refuses(self, command: Command) -> bool:
        """The table says in which states a command acts; in any other it is noted and ignored."""
        if self.state in command.states:
            return False
        self.note(command.refusal(self.state), 1)
        return True

    def pause(self) -> None:
        """Sources pause (the paused flag of the buffers they write; rbImport/rbPut honour it)."""
        self._set_paused(True)

    def resume(self) -> None:
        """Only from ``paused``: R in any other state would start sources that were meant to stay stopped;
        and not while a raised ``pause_run`` alarm (the disk guard) waits for acknowledgement."""
        refusal = self.alarms.holding_pause() if self.state == RunState.PAUSED else None
        if refusal is not None:
            self.note(refusal, 0)
            return
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        """P and R: the paused flag of the buffers sources write (and of the first buffer, whoever
        writes it), the clock and the state, in the states the command table allows."""
        if self._refuses(BY_NAME["pause" if paused else "resume"]):
            return
        names = list(self.plan.source_buffers)
        first = self.plan.first_buffer
        if first is not None and first not in names:
            names.insert(0, first)
        for name in names:
            (self.buffers[name].pause if paused else self.buffers[name].resume)()
        (self.clock.pause if paused else self.clock.resume)()
        self._set_state(RunState.PAUSED if paused else RunState.RUNNING)
        self.note("run paused (R resumes)" if paused else "run resumed", 1)

    def acknowledge(self, alarm: str = "") -> None:
        """A: the raised alarm ``alarm`` (every raised one if empty) is acknowledged; an acknowledged
        ``pause_run`` alarm no longer keeps the run paused."""
        self.alarms.acknowledge(alarm)

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
        if hold or (hold is None and self.channels.interactive()):
            self._set_state(RunState.STOPPED)
            self.note("data taking stopped, the buffers drain; E<ret> ends the run", 1)
        else:
            self.end_run(reason)

    def end_run(self, reason: str = "end command") -> None:
        """The one way a run ends: the orderly end begins (``stopping``), bounded by the grace period.

        The first reason given is the one the run ended for (a run stopped by S keeps "stop command" when
        E follows). A run that never started goes to ``ended`` at once; one that is ending already goes on
        as it was. The default reason is the E command's, which the command table calls this for.
        """
        if self.state in (RunState.STOPPING, RunState.ENDED):
            return
        self.end_reason = self.end_reason or reason
        self.clock.freeze()
        if self.state == RunState.CONFIGURED:
            self._set_state(RunState.ENDED)
            return
        self._set_state(RunState.STOPPING)
        self.note(f"ending the run ({self.end_reason}) ...", 1)
        self.ending.begin()

    def _end_after_own_failure(self, exc: BaseException) -> None:
        """The controller itself failed: no orderly end can be relied on, every process and buffer is
        ended at once and the reason recorded; the caller re-raises."""
        self.end_reason = self.end_reason or f"controller error: {type(exc).__name__}: {exc}"
        self.note(f"ERROR: the run controller failed ({type(exc).__name__}: {exc}); ending all workers", 0)
        self.ending.end_at_once(self._on_exit)

    def _on_signal(self, name: str) -> None:
        self.signals_received.append(name)
        if self.state in ENDABLE:
            if name == "SIGINT":
                self.note("keyboard interrupt - closing down cleanly (Ctrl-C again to hurry)", 1)
            else:
                self.note(f"{name} received - closing down cleanly", 1)
            self.end_run(name)
        elif self.state == RunState.STOPPING:
            self.note(f"{name} again: terminating what is still running", 1)
            self.ending.hurry()

    # ========================================================================= end conditions ====
    def events(self) -> int:
        """Events that entered the first buffer so far."""
        return self._events_in(self.plan.first_buffer)

    def _sampled_events(self) -> int:
        """The first buffer's events in the sample the snapshot shows (a count read now could be ahead
        of the buffers' figures beside it)."""
        first = self.plan.first_buffer
        return next((s.events for s in self.sampler.samples if s.name == first), self.events())

    def _events_in(self, buffer: str | None) -> int:
        return self.buffers[buffer].cumulative_event_count if buffer in self.buffers else 0

    def active_time(self, now: float | None = None) -> float:
        """Seconds of running time: pauses excluded, frozen from the moment data taking stops."""
        return self.clock.active(now)

    def _check_end_conditions(self) -> None:
        if self.state not in ACTIVE:
            return
        if self.runevents > 0 and self.events() >= self.runevents:
            self.note(f"{self.runevents} events reached", 1)
            self.end_run("runevents")
        elif self.runtime > 0 and self.state == RunState.RUNNING and self.active_time() >= self.runtime:
            self.note(f"run time of {self.runtime:g} s reached", 1)
            self.end_run("runtime")

    # ============================================================================ supervision ====
    def _on_output(self, worker: WorkerProcess, line: str) -> None:
        if self.runlog is not None:
            self.runlog.write(f"{worker.name}:{worker.pid}", line)
        if self.console.verbose >= 1:
            self.console.worker_line(worker.name, line)
        self.channels.show_worker_line(worker.name, line)

    def _on_message(self, worker: WorkerProcess, item: Any) -> None:
        """A network worker's link report, or why its link ended (``links``)."""
        gone = self.links.take_message(item, self.state in ACTIVE, self._events_in)
        if gone and self.state in ENDABLE:
            self.end_run("serving run gone")

    def _on_exit(self, worker: WorkerProcess) -> None:
        """A worker process ended: reclaim what it held, then decide what it means for the run."""
        reclaim_slots(worker, self.buffers, not self.ending.aborted, self.note)
        failed = worker.state not in (WorkerState.EXITED, WorkerState.TERMINATED)
        if worker.state == WorkerState.EXITED:
            self._log(f"{worker.label} finished (exit code 0)")
            self._on_normal_exit(worker)
        elif worker.state == WorkerState.TERMINATED:
            self._log(f"{worker.label} terminated ({worker.exit_text()})")
        elif self.restarts.restart_or_record_failure(worker):
            return  # it runs again, so its reader groups are still served
        self.consumers.abandon_if_gone(worker.key, self.ending.shut_down)
        if failed and self.state in ENDABLE:
            self.end_run(f"worker failed: {worker.key} {worker.name}")

    def _on_normal_exit(self, worker: WorkerProcess) -> None:
        if self.state not in ACTIVE:
            return
        if worker is self.watched:
            if self.runevents > 0 and self.events() >= self.runevents:
                self.note(f"{self.runevents} events reached", 1)
                self.end_run("runevents")
            else:
                self.note("Input source exhausted", 1)
                self.end_run("source exhausted")
            return
        role = self.plan.function(worker.key)
        if role.reads and not any(w.alive for w in self.supervisor.workers_of(worker.key)):
            self.note(
                f"{role.label} ended while the run was going on; "
                f"{', '.join(role.reads)} would have no consumer left - ending the run",
                0,
            )
            self.end_run(f"consumer ended: {role.key} {role.fkt_name}")

    # ============================================================================== reporting ====
    def note(self, text: str, level: int = 1) -> None:
        """A controller message: always to run.log, to the console if ``verbose >= level``."""
        self._log(text)
        self.console.message(text, level)
        self.channels.show(text, level)

    def _log(self, text: str) -> None:
        if self.runlog is not None:
            self.runlog.write("controller", text)

    def _set_state(self, state: RunState) -> None:
        self.states.move(state)
        self._log(f"state: {state}")
        self.sampler.show_status_soon()

    def _dashboard_facts(self) -> dict[str, Any]:
        """What the dashboard's snapshot shows besides the samples: the controller's own facts."""
        return {
            "workers": self.supervisor.workers,
            "events": self._sampled_events(),
            "runtime": self.runtime,
            "runevents": self.runevents,
            "end_reason": self.end_reason,
            "setup": self.setup.setup_file.name,
            "run_directory": None if self.run_dir is None else str(self.run_dir),
            "series": self.options.series,
            "alarms": self.alarms.active(),
        }

    # ============================================================================= closing up ====
    def close_and_report(self) -> RunResult:
        """After the end: close everything, write run_summary.json, print the summary. Idempotent."""
        if self._closed:
            assert self.result is not None
            return self.result
        self._closed = True
        if self.state != RunState.ENDED:
            self._set_state(RunState.ENDED)
        self.clock.freeze()  # already frozen unless the controller failed: closing up is not active time
        self.wall_end = _dt.datetime.now()
        self._close_workers()
        self.alarms.close()
        self.sampler.record_last_row(self.note)
        if self.historian is not None:
            self.historian.close()
        stats = final_stats(self.monitors)
        summary = self.summary(stats)
        self._close_buffers_and_inputs()
        exit_code = EXIT_OK if not (self.restarts.failures or self.ending.survivors) else EXIT_FAILED
        summary["exit_code"] = exit_code
        summary["clean"] = exit_code == EXIT_OK
        if self.run_dir is not None:
            write_json(self.run_dir / "run_summary.json", summary)
        complete_run(self.run_dir, summary, self.note)
        self.sampler.publish(stats)  # the last snapshot: state ``ended``, run_summary.json written
        self.channels.close_web()
        self.console.end_status()
        print_summary(self.console, summary, self.directory_prefix)
        self._unroute_logging()
        if self.runlog is not None:
            self.runlog.close()
        self.result = RunResult(
            end_reason=self.end_reason or "ended",
            exit_code=exit_code,
            run_dir=self.run_dir,
            summary=summary,
            failures=list(self.restarts.failures),
            survivors=list(self.ending.survivors),
            signals=list(self.signals_received),
        )
        return self.result

    def _close_workers(self) -> None:
        for worker in self.supervisor.alive():  # only after a failure of the controller
            self.supervisor.kill(worker)
            if worker.process is not None:
                worker.process.join(2.0)
        self.supervisor.reap()
        self.supervisor.close()

    def _close_buffers_and_inputs(self) -> None:
        for buffer in self.buffers.values():
            with contextlib.suppress(Exception):
                buffer.close()
        self.signals.restore()
        self.channels.close_inputs()

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
            failures=self.restarts.failures,
            restarts=self.restarts.restarted,
            abandoned=list(self.consumers.abandoned.values()),
        )
        summary = run_summary(
            facts,
            self.plan,
            final_stats(self.monitors) if stats is None else stats,
            self.consumers.groups,
            self.supervisor.workers,
            self.ending.record,
        )
        summary["links"] = self.links.summary()
        summary["tags"] = list(self.options.tags)
        summary["alarms"] = self.alarms.summary()
        return summary
