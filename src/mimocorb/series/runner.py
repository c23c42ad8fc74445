"""A series run: its steps one after another, each an ordinary run of the setup with the step's values.

Each run is made as ``mimocorb run`` makes one (``open_run``), in the series directory, after its step
was checked once more with the files as they are now; the run directory's copies of the files the step
changed are then replaced by those files as the step used them. What a run's end means for the series:

* it ended by its end condition, its source, or an End command: the step is done;
* a worker failed or had to be terminated (exit code 3), or the step could not be started: the run
  failed, and the series' policy decides (run the step again, then skip it or stop the series);
* Ctrl-C, SIGTERM or SIGHUP: the run ends in order, is marked interrupted, and the series stops; the
  same command later runs that step again, as it does after a kill or a power cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import ConfigError, ValidatedSetup
from ..ring import cleanup_stale
from ..run import EXIT_OK, RunOptions, open_run
from .check import validate_step
from .lock import SeriesLock
from .record import SeriesRecord, outcome_of
from .spec import Series, Step

EXIT_FAILED = 3  # a step failed: it was skipped, or it stopped the series
EXIT_STOPPED = 4  # a signal stopped the series before its end; the same command goes on with it
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def series_directory(series: Series, first: ValidatedSetup, output: str | None, cwd: Path) -> Path:
    """``<output>/<series name>``; ``output`` defaults to the setup's output directory."""
    parent = Path(os.path.abspath(cwd / Path(output).expanduser())) if output else first.output_directory.path
    return parent / series.name


def run_series(
    series: Series, directory: Path, template: RunOptions, cwd: Path, say: Callable[[str], None] = print
) -> int:
    """Run or resume the series in ``directory``; the exit code (0, ``EXIT_FAILED``, ``EXIT_STOPPED``).

    Raises ``SeriesBusy`` if another command holds the directory and ``SeriesChanged`` if the series
    file no longer says what the directory was begun with; nothing runs then.
    """
    with SeriesLock(directory), _signals_noted() as signals:
        record = SeriesRecord.open(directory, series)
        cut = record.take_over()
        for run in cut:
            name = run.get("run_directory") or "(not yet made)"
            say(f"series {series.name}: run {name} was interrupted; it is kept as it is")
        if cut:
            cleanup_stale()  # the shared memory of the killed run
        return _Steps(series, record, template, cwd, say, signals).run()


@dataclasses.dataclass
class _Steps:
    """The loop over the steps, with what it needs at hand; ``signals`` are those noted so far."""

    series: Series
    record: SeriesRecord
    template: RunOptions
    cwd: Path
    say: Callable[[str], None]
    signals: list[str]

    def run(self) -> int:
        failed = any(s["status"] == "skipped" for s in self.record.steps)
        left = [
            s for s in self.series.steps if self.record.step(s.number)["status"] not in ("done", "skipped")
        ]
        if not left:
            return self.end(
                "complete",
                "every step has run already, nothing is left to run",
                EXIT_FAILED if failed else EXIT_OK,
            )
        for step in left:
            verdict = self.run_step(step)
            if verdict == "stopped by signal":
                return self.end(
                    "stopped",
                    f"stopped by {self.signals[0] if self.signals else 'a signal'}; "
                    "the same command goes on with step " + str(step.number),
                    EXIT_STOPPED,
                )
            if verdict == "stopped":
                return self.end("stopped", f"step {step.number} failed; the series stops there", EXIT_FAILED)
            failed = failed or verdict == "skipped"
        code = EXIT_FAILED if failed else EXIT_OK
        return self.end("complete", "every step ran" + (" (some were skipped)" if failed else ""), code)

    def end(self, state: str, text: str, code: int) -> int:
        self.record.end(state)
        self.say(f"series {self.series.name}: {text}; table: {self.record.directory / 'series.md'}")
        return code

    def run_step(self, step: Step) -> str:
        """Runs of one step until it is done or given up: done, skipped, stopped, stopped by signal."""
        policy = self.series.policy
        failures = 0
        while True:
            if self.signals:
                return "stopped by signal"
            run = self.record.begin(step)
            self.say(
                f"series {self.series.name}: step {step.number} of {len(self.series.steps)} "
                f"({step.label()}), run {run['run']}"
            )
            outcome = self.one_run(step, run)
            if outcome["status"] == "ok":
                self.record.finish(step, run, outcome, None)
                return "done"
            if outcome["status"] == "interrupted":
                self.record.finish(step, run, outcome, "pending")
                return "stopped by signal"
            failures += 1
            then = None if failures <= policy.retries else ("skipped" if policy.then == "skip" else "stopped")
            self.record.finish(step, run, outcome, then or "running")
            self.say(f"series {self.series.name}: step {step.number} failed ({_reason(outcome)})")
            if then is not None:
                return then

    def options(self, step: Step, run: int) -> RunOptions:
        """The run's options: the command's, with the step's limits, in the series directory."""
        facts = {
            "name": self.series.name,
            "step": step.number,
            "steps": len(self.series.steps),
            "run": run,
            "overrides": step.label(),
        }
        return dataclasses.replace(
            self.template,
            runtime=step.runtime,
            runevents=step.runevents,
            output=str(self.record.directory),
            series=facts,
        )

    def one_run(self, step: Step, run: dict[str, Any]) -> dict[str, Any]:
        try:
            setup, edit = validate_step(self.series, step, self.cwd)
        except (ConfigError, FileNotFoundError) as exc:
            return {"status": "failed", "error": f"the step is no longer valid: {exc}"}
        try:
            controller = open_run(self.series.setup, self.options(step, run["run"]), setup=setup)
        except OSError as exc:
            return {"status": "failed", "error": f"the run could not be prepared: {exc}"}
        assert controller.run_dir is not None
        run["run_directory"] = controller.run_dir.name
        self.record.save()
        title = f"step {step.number} of series {self.series.name}"
        edit.write_as_used(controller.run_dir, [setup.setup_file, *setup.config_files], title)
        if controller.runlog is not None:
            controller.runlog.write("series", f"{title} ({self.series.file}): {step.label()}")
        try:
            # a signal while the run was prepared: it ends before it begins, and says why
            result = controller.end(self.signals[0]) if self.signals else controller.run()
        except MemoryError:  # reported by the run already
            return {"status": "failed", "error": "no room for the buffers"}
        self.signals.extend(result.signals)  # one that came while the run was ending stops the series next
        return outcome_of(result.summary)


def _reason(outcome: dict[str, Any]) -> str:
    failures = outcome.get("failures") or []
    return outcome.get("error") or (failures[0] if failures else f"exit code {outcome.get('exit_code')}")


@contextlib.contextmanager
def _signals_noted() -> Iterator[list[str]]:
    """SIGINT, SIGTERM and SIGHUP between runs are noted (the series stops before the next run); during
    a run, the run's own handlers take them, and the run ends in order."""
    noted: list[str] = []
    saved = {}
    for sig in SIGNALS:
        if sig == signal.SIGHUP and signal.getsignal(sig) is not signal.SIG_DFL:
            continue  # started with nohup: keep ignoring it
        saved[sig] = signal.signal(sig, lambda signum, _frame: noted.append(signal.Signals(signum).name))
    try:
        yield noted
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
