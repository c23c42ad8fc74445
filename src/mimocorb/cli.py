"""The ``mimocorb`` command.

Each subcommand is registered by a small ``_add_<name>(subparsers)`` function listed in ``_SUBCOMMANDS``
and runs through the handler it sets as ``handler``; a new subcommand needs only those two pieces.
Handlers import what they need themselves, so that ``mimocorb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mimocorb import __version__


def _add_validate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a setup file and everything it refers to, without running",
        description="Check a setup file, its config files and user functions (modules are imported). "
        "Exit code 0 if it can be run (warnings are printed), 1 otherwise.",
    )
    parser.add_argument("setup", help="setup YAML file")
    parser.set_defaults(handler=_validate)


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


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_validate,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimocorb", description="mimocorb data acquisition")
    parser.add_argument("--version", action="version", version=f"mimocorb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (usage errors exit with 2)."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
