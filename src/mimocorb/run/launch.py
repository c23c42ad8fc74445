"""From a setup file to a ready controller: validate, make the run directory, copy files, open run.log.

Validation comes first and creates nothing: an invalid setup raises ``ConfigError`` (or
``FileNotFoundError``) before any directory, buffer or process exists.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import __version__
from ..config import ValidatedSetup, validate_setup
from ..loggers import Gen_logger
from .controller import RunController
from .options import RunOptions, RunResult
from .rundir import RunLog, copy_into, make_run_directory, relative_prefix
from .status import Console


def prepare_directory(
    setup: ValidatedSetup, options: RunOptions, cwd: Path | None = None
) -> tuple[Path, str, list[Path]]:
    """Create the run directory with copies of the setup and config files.

    Returns the directory, the ``directory_prefix`` handed to the workers, and the copies.
    """
    cwd = Path(os.path.abspath(cwd or Path.cwd()))
    if options.output is not None:
        given: str | None = options.output
        output = Path(os.path.abspath(cwd / Path(options.output).expanduser()))
    else:
        resolved = setup.output_directory
        given = resolved.given if resolved.base == "cwd" else None
        output = resolved.path
    run_dir = make_run_directory(output, setup.setup_file.stem)
    copies = copy_into(run_dir, [setup.setup_file, *setup.config_files])
    return run_dir, relative_prefix(run_dir, given, cwd), copies


def open_run(
    setup_file: str | os.PathLike[str],
    options: RunOptions | None = None,
    console: Console | None = None,
    setup: ValidatedSetup | None = None,
) -> RunController:
    """Validate ``setup_file`` (unless ``setup`` is given), prepare the run directory, return the controller.

    Buffers and processes are created by the controller (``create_buffers``, ``create_workers``,
    ``run``).

    Args:
        setup_file: the setup YAML file.
        options: the run's options (default: all as the setup file says).
        console: where messages go (default: the terminal).
        setup: an already validated setup of ``setup_file``, to skip validating it again.

    Returns:
        The ``RunController``, before any buffer or process exists.

    Raises:
        ConfigError: the setup is invalid.
        FileNotFoundError: ``setup_file`` does not exist.
    """
    options = options or RunOptions()
    Gen_logger.set_level(logging.DEBUG if options.debug else logging.WARNING)
    console = console or Console(verbose=options.verbose)
    setup = setup or validate_setup(setup_file)
    for warning in setup.warnings:
        console.message(str(warning), 0)
    run_dir, prefix, copies = prepare_directory(setup, options)
    runlog = RunLog(run_dir / "run.log")
    runlog.write("controller", f"mimocorb {__version__}: run of {setup.setup_file}")
    runlog.write("controller", f"run directory {run_dir}; copied {', '.join(p.name for p in copies)}")
    for warning in setup.warnings:
        runlog.write("controller", str(warning))
    return RunController(setup, run_dir, options, console, runlog, prefix)


def run_setup(
    setup_file: str | os.PathLike[str], options: RunOptions | None = None, **kw: object
) -> RunResult:
    """Run a setup file to its end and return the result (keyword arguments set ``RunOptions`` fields).

    Args:
        setup_file: the setup YAML file; relative paths in it resolve against the current directory.
        options: the run's options; or give their fields as keyword arguments instead.
        kw: fields of ``RunOptions`` (``runtime``, ``runevents``, ``gui``, ``kbd``, ``output``, ...).

    Returns:
        The ``RunResult``: ``end_reason``, ``exit_code`` (0 clean, 3 a worker failed or was terminated),
        ``run_dir``, the ``summary`` written to ``run_summary.json``.

    Raises:
        ConfigError: the setup is invalid; nothing was started.
        FileNotFoundError: ``setup_file`` does not exist.
        TypeError: both ``options`` and keyword arguments were given.

    Example:
        ::

            from mimocorb.run import run_setup
            result = run_setup("first_daq.yaml", runtime=3, gui=False, kbd=False, output="runs")
            print(result.end_reason, result.exit_code, result.run_dir)
    """
    if options is None:
        options = RunOptions(**kw)  # type: ignore[arg-type]
    elif kw:
        raise TypeError("give either options or keyword arguments, not both")
    controller = open_run(setup_file, options)
    return controller.run()
