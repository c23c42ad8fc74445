"""``mimocorb.buffer_control``: the run controller with the interface of mimoCoRB 1.0.2.

What user code imports from here:

* the access classes ``rbImport``, ``rbPut``, ``rbExport``, ``rbTransfer``, ``rbProcess``, ``rbDrain``,
  ``rbObserver``, ``rbWSObserver`` (they live in ``mimocorb.workers``), and the exporters ``rb_toTxtfile``
  / ``rb_toParquetfile`` (they live in ``mimocorb.io``);
* ``run_mimoDAQ`` — the driver of ``run_daq.py``: ``run_mimoDAQ()`` with no argument takes the setup file
  and ``-v N`` / ``-d`` from the command line;
* ``buffer_control`` — buffers and workers of a setup, with the original's methods and status strings.

Both classes are thin: the work is done by ``mimocorb.run`` (see docs/running.md). Importing this module
neither touches other processes nor imports anything graphical (tkinter, matplotlib).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import rb_toParquetfile, rb_toTxtfile
from .loggers import Gen_logger
from .run.inputs import keyboard_input as _keyboard_input
from .run.states import RunState
from .workers import rbDrain, rbExport, rbImport, rbObserver, rbProcess, rbPut, rbTransfer, rbWSObserver

if TYPE_CHECKING:
    from .run.controller import RunController
    from .run.options import RunResult

# The run machinery (and through it the validation with pydantic) is imported when a run is set up, not
# here: worker modules import this module for the access classes, also in spawned worker processes.

__all__ = [
    "buffer_control",
    "rbDrain",
    "rbExport",
    "rbImport",
    "rbObserver",
    "rbProcess",
    "rbPut",
    "rbTransfer",
    "rbWSObserver",
    "rb_toParquetfile",
    "rb_toTxtfile",
    "run_mimoDAQ",
    "tc",
]

DEFAULT_SETUP = "demo_setup.yaml"


class tc:
    """ANSI terminal colour codes, as in the original (cosmetic)."""

    k = "\033[1;30m"
    r = "\033[1;31m"
    g = "\033[1;32m"
    y = "\033[1;33m"
    b = "\033[1;34m"
    p = "\033[1;35m"
    c = "\033[1;36m"
    B = "\033[1m"
    U = "\033[4m"
    E = "\033[0m"


_STATUS = {
    RunState.RUNNING: "Running",
    RunState.PAUSED: "Paused",
    RunState.STOPPED: "Stopped",
    RunState.STOPPING: "Stopped",
    RunState.ENDED: "Shutdown",
}


class buffer_control:
    """Buffers and worker processes of one setup, with the methods of mimoCoRB 1.0.2.

    ``status`` is one of ``"Initialized"``, ``"BuffersSet"``, ``"WorkersSet"``, ``"Running"``,
    ``"Paused"``, ``"Stopped"``, ``"Shutdown"``. Differences to the original (see docs/compatibility.md):
    ``stop()`` stops the sources only and lets the chain drain (the original deactivated every buffer at
    once and lost events), ``shutdown()`` is the orderly, bounded end of docs/running.md, and worker
    processes exist from ``start_workers()`` on (``process_list`` is empty before).
    """

    def __init__(
        self,
        buffers_dict: list,
        functions_dict: list,
        function_config_dict: dict | None,
        output_directory: str,
        *,
        controller: RunController | None = None,
    ) -> None:
        if controller is None:
            from .run.controller import RunController
            from .run.options import RunOptions

            setup = _validate_parts(buffers_dict, functions_dict, function_config_dict)
            run_dir = Path(output_directory)
            run_dir.mkdir(parents=True, exist_ok=True)
            prefix = output_directory if str(output_directory).endswith("/") else f"{output_directory}/"
            controller = RunController(setup, run_dir, RunOptions(), directory_prefix=prefix)
        self._controller = controller
        self._status = "Initialized"
        self.buffers_dict = buffers_dict
        self.functions_dict = functions_dict
        self.function_config_dict = function_config_dict or {}
        self.output_directory = output_directory
        self.runtime = controller.runtime
        self.runevents = controller.runevents
        self.ringbuffers: dict[str, Any] = {}
        self.ringbuffer_names: list[str] = []
        self.parallel_functions: dict[str, tuple[str, int, dict]] = {}
        self.start_time: float | None = None

    @property
    def controller(self) -> RunController:
        return self._controller

    @property
    def status(self) -> str:
        return _STATUS.get(self._controller.state, self._status)

    @property
    def process_list(self) -> list:
        return [w.process for w in self._controller.supervisor.workers if w.process is not None]

    @property
    def cumulative_pause_time(self) -> float:
        return self._controller.clock.paused_total

    def setup_buffers(self) -> dict:
        """Create RB_1, RB_2, ... (names and layout were validated already)."""
        self.ringbuffers = self._controller.create_buffers()
        self.ringbuffer_names = list(self.ringbuffers)
        if self._status == "Initialized":
            self._status = "BuffersSet"
        return self.ringbuffers

    def setup_workers(self) -> None:
        """Copy config files into the run directory, connect the functions, create their process slots."""
        if self._status == "WorkersSet":
            print("setup_workers: workers are set up already")
            return
        if not self.ringbuffers:
            self.setup_buffers()
        from .run.rundir import copy_into

        c = self._controller
        if c.run_dir is not None:
            copy_into(c.run_dir, [f for f in c.setup.config_files if not (c.run_dir / f.name).exists()])
        c.create_workers()
        self.parallel_functions = {
            f.key.upper(): (f.fkt_name, f.num_process, dict(f.rb_assign)) for f in c.setup.functions
        }
        self._status = "WorkersSet"

    def start_workers(self) -> list:
        """Start every worker process (last function first); returns the process list."""
        if self._controller.state != RunState.CONFIGURED:
            print("start_workers: workers are started already")
            return self.process_list
        if self._status != "WorkersSet":
            self.setup_workers()
        self._controller.start()
        self.start_time = time.time()
        return list(reversed(self.process_list))

    def display_layout(self) -> None:
        """Print every buffer with its slots and values per slot."""
        print("List of buffers")
        for layout in self._controller.setup.buffers:
            print(
                f"  {layout.name}: {layout.number_of_slots} slots, {layout.values_per_slot} values per slot"
            )

    def display_functions(self) -> None:
        """Print every function with its process count and ``RB_assign``."""
        print("List of functions")
        for f in self._controller.setup.functions:
            print(f"  {f.key.upper()}: {f.fkt_name} ({f.num_process}) {dict(f.rb_assign)}")

    def pause(self) -> None:
        """Pause data taking (the P command): sources hold back, the chain goes on."""
        self._controller.pause()

    def resume(self) -> None:
        """Resume after ``pause()`` (the R command)."""
        self._controller.resume()

    def stop(self) -> None:
        """Stop data taking: the sources stop, the chain drains; processes stay until ``shutdown()``."""
        self._controller.stop(hold=True)

    def shutdown(self) -> RunResult:
        """End the run in order (bounded by the grace period) and close the buffers."""
        return self._controller.end("shutdown")


def _validate_parts(buffers: list, functions: list, function_configs: dict | None) -> Any:
    """Validate setup parts given as Python objects, as if they were a setup file in the current directory."""
    import yaml

    from .config import validate_setup

    document: dict[str, Any] = {"RingBuffer": buffers, "Functions": functions}
    if function_configs:
        document["FunctionConfigs"] = function_configs
    with tempfile.TemporaryDirectory(prefix="mimocorb-setup-") as tmp:
        path = Path(tmp) / "setup.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return validate_setup(path, cwd=os.getcwd())


def _parse_command_line(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="run a mimocorb data acquisition described by a setup file")
    parser.add_argument(
        "filename", nargs="?", default=DEFAULT_SETUP, help=f"setup file (default {DEFAULT_SETUP})"
    )
    parser.add_argument("-v", "--verbose", type=int, default=2, help="verbosity 0..3 (default 2)")
    parser.add_argument("-d", "--debug", action="store_true", help="debug output")
    return parser.parse_args(argv)


class run_mimoDAQ:
    """Set up and run the DAQ a setup file describes, as mimoCoRB 1.0.2's ``run_mimoDAQ`` does.

    ``run_mimoDAQ()`` without a file name reads ``[setup.yaml] [-v N] [-d]`` from the command line, so
    the four-line ``run_daq.py`` works. An invalid setup raises ``ConfigError`` (a ValueError) listing
    every problem — in command-line mode the list is printed and the process exits with status 1 —
    before anything is created.

    Args:
        setup_filename: the setup YAML file; ``None`` reads it and the options from ``sys.argv``.
        verbose: 0 quiet ... 3 chatty.
        debug: debug logging.

    Raises:
        ConfigError: the setup is invalid (in command-line mode: printed, then ``SystemExit(1)``).
        FileNotFoundError: the setup file does not exist.

    Example:
        ::

            daq = run_mimoDAQ("demo_setup.yaml", verbose=1)
            daq.setup()
            daq.run()          # returns when the run has ended
            print(daq.exit_code)
    """

    def __init__(self, setup_filename: str | None = None, verbose: int = 2, debug: bool = False) -> None:
        from .config import ConfigError, validate_setup
        from .run.launch import prepare_directory
        from .run.options import RunOptions
        from .run.rundir import RunLog
        from .run.status import Console

        from_command_line = setup_filename is None
        if from_command_line:
            args = _parse_command_line(sys.argv[1:])
            setup_filename, verbose, debug = args.filename, args.verbose, args.debug
        self.verbose = verbose
        self.debug = debug
        Gen_logger.set_level(logging.DEBUG if debug else logging.WARNING)
        self.setup_filename = str(setup_filename)
        if not os.path.isfile(self.setup_filename):
            message = f"Setup YAML file '{self.setup_filename}' does not exist!"
            if from_command_line:
                print(message, file=sys.stderr)
                sys.exit(1)
            raise FileNotFoundError(message)
        try:
            self._setup = validate_setup(self.setup_filename)
        except ConfigError as exc:
            if from_command_line:
                print(exc, file=sys.stderr)
                sys.exit(1)
            raise
        self.options = RunOptions(verbose=verbose, debug=debug)
        self.console = Console(verbose=verbose)
        for warning in self._setup.warnings:
            self.console.message(str(warning), 0)
        self.setup_dict = self._setup.setup_dict
        self.output_directory = self._setup.output_directory.given
        self.kbdcontrol = self._setup.kbd_control
        self.GUIcontrol = self._setup.gui_control
        run_dir, self.directory_prefix, copies = prepare_directory(self._setup, self.options)
        self.run_directory = run_dir
        self._runlog = RunLog(run_dir / "run.log")
        self._runlog.write(
            "controller", f"run of {self._setup.setup_file}; copied {[p.name for p in copies]}"
        )
        self.bc: buffer_control | None = None
        self.ringbuffers: dict[str, Any] = {}
        self.RBnames: list[str] = []
        self.result: RunResult | None = None
        self._run_started = False

    tc = tc

    @property
    def status(self) -> str:
        """The compat status string of the run (see ``buffer_control.status``)."""
        return self.bc.status if self.bc is not None else "Initialized"

    @property
    def state(self) -> str:
        """The controller state: configured, running, paused, stopped, stopping, ended."""
        return self.bc.controller.state if self.bc is not None else RunState.CONFIGURED

    @property
    def exit_code(self) -> int | None:
        """0 for a clean run, 3 if a worker failed or had to be terminated; None before the end."""
        return self.result.exit_code if self.result is not None else None

    def setup(self) -> None:
        """Create the buffers and connect the workers (processes start in ``run()``)."""
        if self.bc is not None:
            print("setup: done already")
            return
        from .run.controller import RunController

        controller = RunController(
            self._setup, self.run_directory, self.options, self.console, self._runlog, self.directory_prefix
        )
        self.bc = buffer_control(
            self.setup_dict["RingBuffer"],  # both are required keys of a valid setup
            self.setup_dict["Functions"],
            self.setup_dict.get("FunctionConfigs") or {},
            self.directory_prefix,
            controller=controller,
        )
        self.ringbuffers = self.bc.setup_buffers()
        self.RBnames = list(self.ringbuffers)
        if self.verbose > 0:
            print(f"{len(self.ringbuffers)} buffers created...  ", end="")
        self.bc.setup_workers()
        if self.verbose > 0:
            print()
            self.display_layout()
            self.display_functions()

    def display_layout(self) -> None:
        """Print the buffers (after ``setup()``)."""
        if self.bc is not None:
            self.bc.display_layout()

    def display_functions(self) -> None:
        """Print the functions (after ``setup()``)."""
        if self.bc is not None:
            self.bc.display_functions()

    def run(self) -> None:
        """Run until the run has ended (end condition, command, signal, failure); returns None."""
        if self._run_started:
            print("run: this run has been started already")
            return
        if self.bc is None:
            self.setup()
        assert self.bc is not None
        self._run_started = True
        if self.verbose > 0:
            print("-" * 60)
        self.result = self.bc.controller.run()
        if self.verbose > 0:
            print("Finished, good bye !")

    def end(self, twait: float = 3.0) -> None:
        """End the run in order; only useful when ``run()`` was not used (``twait`` is not needed)."""
        if self.bc is None or self.result is not None:
            print("end: nothing to end")
            return
        self.result = self.bc.controller.end("end() called")

    def keyboard_input(self, cmd_queue: Any) -> None:
        """Read command lines from stdin into ``cmd_queue`` until EOF (the original's stdin thread)."""
        _keyboard_input(cmd_queue)


# ``python -m mimocorb.buffer_control setup.yaml [-v N] [-d]`` runs a setup (in mimoCoRB 1.0.2 it failed)
if __name__ == "__main__":
    _daq = run_mimoDAQ()
    _daq.setup()
    _daq.run()
    sys.exit(_daq.exit_code or 0)
