"""The ``mimocorb`` command.

Each subcommand is registered by a small ``_add_<name>(subparsers)`` function listed in ``_SUBCOMMANDS``
and runs through the handler it sets as ``handler``; a new subcommand needs only those two pieces.
Handlers import what they need themselves, so that ``mimocorb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mimocorb import __version__

if TYPE_CHECKING:
    from mimocorb.run import RunController


def _subcommand(
    subparsers: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """The subcommand's parser, with ``handler`` as the function that runs it."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(handler=handler)
    return parser


def _reports(
    command: str, *errors: type[Exception]
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """The handler's ``errors`` become one line ``mimocorb COMMAND: error`` on stderr and exit code 1."""

    def wrap(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except errors as exc:
                print(f"mimocorb {command}: {exc}", file=sys.stderr)
                return 1

        return run

    return wrap


def _add_validate(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "validate",
        _validate,
        help="check a setup file and everything it refers to, without running",
        description="Check a setup file, its config files and user functions (modules are imported). "
        "Exit code 0 if it can be run (warnings are printed), 1 otherwise.",
    )
    parser.add_argument("setup", help="setup YAML file")


def _validate(args: argparse.Namespace) -> int:
    from mimocorb.config import ConfigError, validate_setup

    try:
        setup = validate_setup(args.setup)
    except (ConfigError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 1
    for warning in setup.warnings:
        print(warning, file=sys.stderr)
    print(f"OK: {args.setup}")
    print(setup.summary())
    return 0


def _add_run(subparsers: argparse._SubParsersAction) -> None:
    from mimocorb.run.commands import TABLE

    keys = ", ".join(f"{c.key} {c.name}" for c in TABLE)
    parser = _subcommand(
        subparsers,
        "run",
        _run,
        help="run the data acquisition a setup file describes",
        description="Validate the setup, start its buffers and workers and run until an end condition, "
        f"a command ({keys} on stdin) or SIGINT/SIGTERM ends it in order. "
        "Exit code 0 for a clean run, 1 if the setup is invalid (nothing started), 3 if a worker failed "
        "or had to be terminated.",
    )
    parser.add_argument("setup", help="setup YAML file")
    _add_end_options(parser, "end after S s of active time")
    parser.add_argument("--no-gui", action="store_true", help="never start the buffer-info window")
    parser.add_argument("--no-kbd", action="store_true", help="do not read commands from stdin")
    parser.add_argument("--output", metavar="DIR", help="parent directory of the run directory")
    parser.add_argument(
        "--grace",
        type=_non_negative(float),
        default=10.0,
        metavar="S",
        help="bound of the orderly end in seconds (default 10)",
    )
    parser.add_argument(
        "--start-method",
        choices=("fork", "spawn", "forkserver"),
        help="how worker processes are started (default: $MIMOCORB_START_METHOD, else fork on Linux)",
    )
    _add_report_options(parser, debug=True)


def _add_end_options(parser: argparse.ArgumentParser, runtime_help: str) -> None:
    """The end conditions of ``run`` and ``demo``."""
    parser.add_argument("--runtime", type=_non_negative(float), metavar="S", help=runtime_help)
    parser.add_argument("--events", type=_non_negative(int), metavar="N", help="end after N events in RB_1")


def _add_report_options(parser: argparse.ArgumentParser, debug: bool) -> None:
    """How ``run`` and ``demo`` report: the console's verbosity, debug logging, the live dashboard."""
    parser.add_argument("-v", "--verbose", type=int, default=2, metavar="N", help="0 quiet ... 3 chatty (2)")
    if debug:
        parser.add_argument("-d", "--debug", action="store_true", help="debug logging")
    _add_web_options(parser)


def _add_web_options(
    parser: argparse.ArgumentParser,
    where: str = "serve a live dashboard of the run (address default 127.0.0.1; see docs/web.md)",
    token: str = "access token of the dashboard (default: a random one)",
    default: tuple[str, int] | None = None,
) -> None:
    parser.add_argument("--web", type=_web_address, default=default, metavar="[ADDRESS:]PORT", help=where)
    parser.add_argument("--web-token", metavar="TOKEN", help=token)


def _web_address(text: str) -> tuple[str, int]:
    from mimocorb.web.access import parse_address

    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(kind: type) -> Callable[[str], float | int]:
    def convert(text: str) -> float | int:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a value >= 0, got {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _run(args: argparse.Namespace) -> int:
    from mimocorb.config import ConfigError
    from mimocorb.run import EXIT_SETUP, RunOptions, open_run

    options = RunOptions(
        runtime=args.runtime,
        runevents=args.events,
        grace=args.grace,
        start_method=args.start_method,
        verbose=args.verbose,
        debug=args.debug,
        gui=False if args.no_gui else None,
        kbd=False if args.no_kbd else None,
        output=args.output,
        web=args.web,
        web_token=args.web_token,
    )
    try:
        controller = open_run(args.setup, options)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_SETUP
    except OSError as exc:  # no setup file, or the run directory cannot be created
        where = "" if not os.path.isfile(args.setup) else "cannot prepare the run: "
        print(f"{where}{exc}", file=sys.stderr)
        return EXIT_SETUP
    return _run_to_end(controller)


def _run_to_end(controller: RunController) -> int:
    """The run's exit code; a buffer the machine had no room for was reported by the run already."""
    from mimocorb.run import EXIT_FAILED

    try:
        return int(controller.run().exit_code)
    except MemoryError:
        return EXIT_FAILED


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "serve",
        _serve,
        help="browse finished runs in a web browser",
        description="Serve a run browser over the run directories below DIR (those holding "
        "run_summary.json): a table of the runs and, per run, its summary, rate chart, pictures and "
        "files. Runs until Ctrl-C. Needs the web extra (pip install 'mimocorb[web]').",
    )
    parser.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where to look (default .)")
    _add_web_options(
        parser,
        "where to listen (default 127.0.0.1:8080; on loopback reading needs no token)",
        "access token (default: a random one)",
        default=("127.0.0.1", 8080),
    )


def _serve(args: argparse.Namespace) -> int:
    from mimocorb.web import make_token, web_unavailable_reason

    reason = web_unavailable_reason()
    if reason is not None:
        print(f"mimocorb serve: {reason}", file=sys.stderr)
        return 1
    from mimocorb.web.server import serve_directory

    host, port = args.web
    return serve_directory(args.directory, host, port, args.web_token or make_token())


def _add_cleanup(subparsers: argparse._SubParsersAction) -> None:
    _subcommand(
        subparsers,
        "cleanup",
        _cleanup,
        help="remove shared memory left behind by killed runs",
        description="Remove ring-buffer shared memory and semaphores whose creating process is dead.",
    )


def _cleanup(args: argparse.Namespace) -> int:
    from mimocorb.ring import cleanup_stale

    removed = cleanup_stale()
    for name in removed:
        print(f"removed {name}")
    print(f"{len(removed)} stale shared-memory object(s) removed")
    return 0


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "inspect",
        _inspect,
        help="show what a recorded file holds (events, fields, time span, rate)",
        description="Summarise a recording: a Parquet dataset directory or part file of the recorder, "
        "a tar archive of rb_toParquetfile (or a directory of them), a text file of rb_toTxtfile, a ROOT "
        "or HDF5 file; RB_1.root names all parts RB_1_00000.root, ... of a recording.",
    )
    parser.add_argument("file", help="recorded file or dataset directory")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")


@_reports("inspect", OSError, ValueError)
def _inspect(args: argparse.Namespace) -> int:
    from mimocorb.io.contents import main_inspect

    print(main_inspect(args.file, as_json=args.json))
    return 0


def _add_convert(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "convert",
        _convert,
        help="write a recording in another format (Parquet, ROOT, HDF5)",
        description="Read every event of IN (any format inspect reads, all parts) and write OUT, whose "
        "name says the format: .parquet (a dataset directory), .root or .h5/.hdf5. Values, types and "
        "the run's metadata are kept.",
    )
    parser.add_argument("source", metavar="IN", help="recorded file, dataset directory or name of the parts")
    parser.add_argument("target", metavar="OUT", help="new file or dataset directory")


@_reports("convert", OSError, ValueError)
def _convert(args: argparse.Namespace) -> int:
    from mimocorb.io.convert import main_convert

    print(main_convert(args.source, args.target))
    return 0


def _add_keys(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "keys",
        _keys,
        help="write a key pair for served and connected buffers (CURVE)",
        description="Write NAME.key (public: give it to the other side) and NAME.key_secret (keep it).",
    )
    parser.add_argument("name", help="name of the key pair, e.g. the host")
    parser.add_argument("--dir", default=".", help="directory to write to (default: the current one)")


def _keys(args: argparse.Namespace) -> int:
    try:
        from mimocorb.net import write_keys

        public, secret = write_keys(args.name, args.dir)
    except (ImportError, OSError) as exc:
        print(f"mimocorb keys: {exc}", file=sys.stderr)
        return 1
    print(f"public key {public}\nsecret key {secret}")
    return 0


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "demo",
        _demo,
        help="run the muon-lifetime example (simulated detector) from anywhere",
        description="Run one of the examples shipped with mimocorb (see docs/example.md): simulated muon "
        "waveforms, a double-pulse filter in two processes, text and parquet output, live displays (PNG "
        "files without a display) and, for the lifetime example, a fit of the muon lifetime at the end. "
        "The run directory is created under --output.",
    )
    parser.add_argument(
        "example",
        nargs="?",
        default="lifetime",
        choices=sorted(_DEMO_SETUPS),
        help="lifetime (default): the mimoCoRB 1.0.2 example's simulsource_setup.yaml; spin: up/down decays; "
        "spectrum: pulse heights (demo_setup.yaml); spectroscopy: gamma lines from a simulated Red Pitaya",
    )
    _add_end_options(parser, "end after S s (default: the example's, 60 s)")
    parser.add_argument(
        "--output", default="target", metavar="DIR", help="parent of the run directory (default: ./target)"
    )
    parser.add_argument("--no-gui", action="store_true", help="never start the buffer-info window")
    _add_report_options(parser, debug=False)


_DEMO_SETUPS = {
    "lifetime": "simulsource_setup.yaml",
    "spin": "spin_setup.yaml",
    "spectrum": "demo_setup.yaml",
    "spectroscopy": "spectroscopy/spectroscopy_setup.yaml",
}
# examples that read a Red Pitaya: the demo runs a simulated one with these options
_DEMO_BOARDS = {"spectroscopy": ("--spectrum", "cs137+co60", "--rate", "3000")}


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mimocorb.config import ConfigError, validate_setup
    from mimocorb.devices import simulated_board
    from mimocorb.run import EXIT_SETUP, RunOptions, open_run

    # shipped inside the package (src/mimocorb/examples links to the repository's examples/)
    examples = Path(__file__).resolve().parent / "examples"
    setup = examples / _DEMO_SETUPS[args.example]
    if not setup.is_file():
        print(f"mimocorb demo: the examples are not installed ({setup} is missing)", file=sys.stderr)
        return EXIT_SETUP
    output = os.path.abspath(args.output)
    options = RunOptions(
        runtime=args.runtime,
        runevents=args.events,
        verbose=args.verbose,
        gui=False if args.no_gui else None,
        output=output,
        web=args.web,
        web_token=args.web_token,
    )
    # run from the example directory, so that its modules/ and config/ are used whatever the current one holds
    os.chdir(setup.parent)
    with contextlib.ExitStack() as stack:
        try:
            validated = validate_setup(setup)
            if args.example in _DEMO_BOARDS:
                address = stack.enter_context(simulated_board(*_DEMO_BOARDS[args.example]))
                for function in validated.functions:
                    if function.fkt_name == "redpitaya":
                        function.config_dict["address"] = address
            controller = open_run(setup, options, setup=validated)
        except (ConfigError, OSError, RuntimeError) as exc:
            print(exc, file=sys.stderr)
            return EXIT_SETUP
        print(f"mimocorb demo: {setup.name}; results in {controller.run_dir}")
        return _run_to_end(controller)


def _add_simulate(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "simulate",
        _simulate,
        help="serve a simulated instrument to develop and test against",
        description="Serve a simulated instrument until Ctrl-C; the first line printed says where it is. "
        "redpitaya: Pavel Demin's MCPHA server on a TCP port (address: 127.0.0.1:PORT); cosmicwatch: a "
        "CosmicWatch muon detector on a pseudo-terminal (port: PATH); scpi: a SCPI oscilloscope on a TCP "
        "port (resource: TCPIP::127.0.0.1::PORT::SOCKET).",
    )
    parser.add_argument("device", choices=["redpitaya", "cosmicwatch", "scpi"], help="the instrument")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, help="TCP port (redpitaya 10001, scpi 5025; 0: any free one)")
    parser.add_argument(
        "--rate",
        type=float,
        help="redpitaya: pulses/s (1000); cosmicwatch: events/s (5); scpi: acquisitions/s (1000)",
    )
    parser.add_argument(
        "--spectrum", help="redpitaya: pulse amplitudes, a file of 4096 counts or sources such as cs137+co60"
    )
    parser.add_argument("--noise", type=float, default=4.0, help="redpitaya: noise in ADC counts (default 4)")
    parser.add_argument(
        "--pattern", action="store_true", help="redpitaya: known test pattern instead of pulses"
    )
    parser.add_argument("--format", choices=["v2", "v3x"], default="v2", help="cosmicwatch: its version (v2)")
    parser.add_argument("--count", type=int, help="cosmicwatch: stop printing after N events")
    parser.add_argument("--seed", type=int, default=0, help="cosmicwatch: the random numbers' seed (0)")
    parser.add_argument("--profile", default="rigol", help="scpi: rigol, keysight or tektronix (rigol)")


@_reports("simulate", OSError, ValueError)
def _simulate(args: argparse.Namespace) -> int:
    from mimocorb import devices

    if args.device == "cosmicwatch":
        devices.run_cosmicwatch_simulator(args.rate or 5.0, args.format, args.count, args.seed)
    elif args.device == "scpi":
        port = 5025 if args.port is None else args.port
        devices.run_scpi_simulator(args.profile, port, args.rate or 1000.0, args.host)
    else:
        port = 10001 if args.port is None else args.port
        rate = args.rate or 1000.0
        devices.run_simulator(args.host, port, args.spectrum, rate, args.noise, args.pattern)
    return 0


def _add_devices(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "devices",
        _devices,
        help="list connected instruments and the source that reads each",
        description="List serial ports, VISA instruments and PicoScopes, and which source of "
        "mimocorb.devices fits each (with the config key to set). Needs the devices extra.",
    )
    parser.add_argument(
        "--serial",
        action="append",
        default=[],
        metavar="PATH",
        help="also open this port and listen (repeatable)",
    )
    parser.add_argument(
        "--visa",
        action="append",
        default=[],
        metavar="RESOURCE",
        help="also ask this resource *IDN? (repeatable)",
    )
    parser.add_argument("--network", action="store_true", help="look for VXI-11 and HiSLIP instruments too")
    parser.add_argument("--timeout", type=float, default=3.0, help="bound of the VISA discovery in s (3)")


def _devices(args: argparse.Namespace) -> int:
    from mimocorb.devices import describe, find_devices

    print(describe(*find_devices(args.serial, args.visa, args.network, args.timeout)))
    return 0


def _add_history(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers,
        "history",
        _history,
        help="what the runs of an output directory recorded over days and months",
        description="Show the run history of an output directory (history.sqlite, written by every run "
        "there): without VAR the variables and runs of the span, with VAR (names or patterns like "
        "'RB_1.*') a table of their figures, their values as CSV (--csv) or a picture (--png). The "
        "resolution follows the span: every sample for hours, minutes for days, hours for months.",
    )
    parser.add_argument("variables", nargs="*", metavar="VAR", help="variable names or patterns (fnmatch)")
    parser.add_argument(
        "--dir", default="target", metavar="DIR", help="the output directory (default target, as a run's)"
    )
    parser.add_argument(
        "--since", default="1d", help="from when: a span before now (90m, 7d) or a date (2024-03-05T22:00)"
    )
    parser.add_argument("--until", default="0s", help="until when, written like --since (default now)")
    parser.add_argument(
        "--resolution", choices=("auto", "full", "minute", "hour"), default="auto", help="default auto"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print the values as CSV")
    output.add_argument("--png", metavar="FILE", help="draw the values into a PNG file")


@_reports("history", ValueError, FileNotFoundError)
def _history(args: argparse.Namespace) -> int:
    import fnmatch
    import time
    from pathlib import Path

    from mimocorb import history

    now = time.time()
    since, until = history.parse_time(args.since, now), history.parse_time(args.until, now)
    db = history.connect(args.dir, create=False)
    known = history.variables(db)
    if not args.variables:
        print(history.overview(db, known, since, until))
        return 0
    names = [n for pattern in args.variables for n in known if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        raise ValueError(f"no variable matches {' '.join(args.variables)} (mimocorb history lists them)")
    selection = history.select(db, list(dict.fromkeys(names)), since, until, args.resolution)
    if args.csv:
        sys.stdout.write(history.to_csv(selection))
    elif args.png:
        history.picture(selection, Path(args.png), history.runs(db, since, until))
        print(f"{args.png}: {len(selection.series)} variable(s), {selection.resolution} resolution")
    else:
        print(history.table(selection))
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_validate,
    _add_run,
    _add_cleanup,
    _add_inspect,
    _add_convert,
    _add_demo,
    _add_serve,
    _add_keys,
    _add_simulate,
    _add_devices,
    _add_history,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimocorb", description="mimocorb data acquisition")
    parser.add_argument("--version", action="version", version=f"mimocorb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (usage errors exit with 2).

    A missing module that mimocorb knows (an extra not installed, tkinter, a dependency removed after
    installing) is reported in one line with what to install, and the exit code is 1.
    """
    from mimocorb._optional import missing_message

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ImportError as exc:
        message = missing_message(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 1
