"""The series file: what it may say, and the list of steps it stands for.

A series names one setup, the limits of each run, what to do when a run fails, and its steps: a list
(``steps``), a grid (``scan``: every combination of the values given per key), or both (every listed
step at every point of the grid). Everything wrong with the file is collected and reported together,
with the line in the series file, before any step is checked against the setup.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, Issue, YamlMapping, load_yaml, to_plain
from ..config.diagnostics import describe, suggest
from ..config.loader import locate
from .keys import parse_key

TOP_KEYS = ("setup", "runtime", "runevents", "on_failure", "scan", "steps")
LIMITS = ("runtime", "runevents")
THEN = ("skip", "stop")
RANGE_KEYS = ("from", "to", "step")
MAX_STEPS = 10000  # more is a mistyped range rather than a plan


@dataclass(frozen=True)
class Override:
    """One key of one file set to one value, as a step says; ``line`` is where the series file says it."""

    file: str
    key: str
    value: Any
    line: int | None = None

    @property
    def name(self) -> str:
        """How tables and messages name the key: the file and the key path."""
        return f"{self.file} {self.key}"


@dataclass(frozen=True)
class Step:
    """One run of the series (and its repetitions, should it fail): the overrides and the limits."""

    number: int
    overrides: tuple[Override, ...]
    runtime: float | None
    runevents: int | None
    line: int | None = None

    def label(self) -> str:
        """The step in a few words: the last part of each key with its value (``threshold=30``)."""
        if not self.overrides:
            return "the setup as it is"
        return ", ".join(f"{_short(o.key)}={_text(o.value)}" for o in self.overrides)

    def record(self) -> dict[str, Any]:
        """The step as series.json keeps it, and as a resumed series compares it."""
        return {
            "step": self.number,
            "overrides": {o.name: o.value for o in self.overrides},
            "runtime": self.runtime,
            "runevents": self.runevents,
        }


@dataclass(frozen=True)
class Policy:
    """What follows a failed run: up to ``retries`` more runs of the step, then ``then`` (skip or stop)."""

    retries: int = 0
    then: str = "stop"

    def text(self) -> str:
        again = f"run again up to {self.retries} time(s), then " if self.retries else ""
        return again + ("skip the step" if self.then == "skip" else "stop the series")


@dataclass(frozen=True)
class Series:
    """A checked series file: its setup and its steps, in the order they run."""

    file: Path
    shown: str
    setup: Path
    steps: tuple[Step, ...]
    policy: Policy = field(default_factory=Policy)

    @property
    def name(self) -> str:
        return self.file.stem

    @property
    def keys(self) -> list[str]:
        """The names of all keys any step changes, in the order they first appear."""
        return list(dict.fromkeys(o.name for s in self.steps for o in s.overrides))


def load_series(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> Series:
    """Read and check the series file ``path``; raise ``ConfigError`` naming every problem in it.

    The setup is found as config files are: relative to ``cwd`` (default: the current directory) first,
    then to the series file's directory. The steps are not checked against the setup here
    (``check.check_series`` does that).
    """
    base = Path(os.path.abspath(cwd or Path.cwd()))
    file = Path(os.path.abspath(base / path))
    shown = str(path)
    data = load_yaml(file, shown)
    reader = _Reader(shown, data if isinstance(data, dict) else YamlMapping())
    if not isinstance(data, dict):
        reader.problem((), f"expected a mapping with setup and steps or scan, found {describe(data)}")
        raise ConfigError(reader.issues)
    series = reader.series(file, base)
    if reader.issues:
        raise ConfigError(sorted(reader.issues, key=lambda issue: issue.line or 0))
    assert series is not None
    return series


class _Reader:
    """Reads the parts of a series file, collecting what is wrong."""

    def __init__(self, shown: str, data: dict[Any, Any]) -> None:
        self.shown = shown
        self.data = data
        self.issues: list[Issue] = []

    def problem(self, where: tuple[Any, ...], message: str, line: int | None = None) -> None:
        key = ".".join(str(p) for p in where)
        self.issues.append(Issue("error", self.shown, key, message, line or _line(self.data, where)))

    def series(self, file: Path, cwd: Path) -> Series | None:
        for key in self.data:
            if key not in TOP_KEYS:
                guess = suggest(str(key), TOP_KEYS)
                hint = f"did you mean '{guess}'?" if guess else f"expected one of {', '.join(TOP_KEYS)}"
                self.problem((key,), f"unknown key; {hint}")
        setup = self.setup(file, cwd)
        limits = self.limits(self.data, ())
        policy = self.policy()
        listed = self.listed_steps(limits)
        grid = self.grid()
        self.check_twice(listed, grid)
        if "steps" not in self.data and "scan" not in self.data:
            self.problem((), "expected steps (a list of runs) or scan (values to run every combination of)")
        count = len(listed) * math.prod(len(axis) for axis in grid)
        if count > MAX_STEPS:
            self.problem(
                ("scan",), f"{count} steps; expected at most {MAX_STEPS} (a range's step too small?)"
            )
        if self.issues or setup is None:
            return None
        points = list(itertools.product(*grid))  # [()] without a scan
        steps = tuple(
            Step(n, (*overrides, *point), runtime, runevents, line)
            for n, ((overrides, runtime, runevents, line), point) in enumerate(
                itertools.product(listed, points), start=1
            )
        )
        return Series(file, self.shown, setup, steps, policy)

    def setup(self, file: Path, cwd: Path) -> Path | None:
        given = self.data.get("setup")
        if not isinstance(given, str) or not given:
            self.problem(("setup",), f"expected the setup file's name, found {describe(given)}")
            return None
        for folder in (cwd, file.parent):
            candidate = Path(os.path.abspath(folder / Path(given).expanduser()))
            if candidate.is_file():
                return candidate
        places = " and ".join(dict.fromkeys([str(cwd), str(file.parent)]))
        self.problem(("setup",), f"setup file '{given}' not found (looked in {places})")
        return None

    def limits(self, block: Any, where: tuple[Any, ...]) -> tuple[float | None, int | None]:
        runtime = self.number(block, "runtime", where, float)
        runevents = self.number(block, "runevents", where, int)
        return (None if runtime is None else float(runtime)), (None if runevents is None else int(runevents))

    def number(self, block: Any, key: str, where: tuple[Any, ...], kind: type) -> float | int | None:
        value = block.get(key) if isinstance(block, dict) else None
        if value is None:
            return None
        good = isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool)
        if not good or value < 0 or (kind is float and not math.isfinite(value)):
            what = "a whole number" if kind is int else "a number of seconds"
            self.problem(
                (*where, key), f"expected {what} >= 0, found {describe(value)}", _line(block, (key,))
            )
            return None
        return kind(value)

    def policy(self) -> Policy:
        given = self.data.get("on_failure", "stop")
        if isinstance(given, str) and given in THEN:
            return Policy(0, given)
        if not isinstance(given, dict):
            self.problem(
                ("on_failure",), f"expected skip, stop or {{retry: N, then: skip}}, found {describe(given)}"
            )
            return Policy()
        for key in given:
            if key not in ("retry", "then"):
                self.problem(
                    ("on_failure", key), "unknown key; expected retry and then", _line(given, (key,))
                )
        retries, then = given.get("retry", 0), given.get("then", "stop")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            self.problem(("on_failure", "retry"), f"expected a whole number >= 0, found {describe(retries)}")
            retries = 0
        if then not in THEN:
            self.problem(("on_failure", "then"), f"expected skip or stop, found {describe(then)}")
            then = "stop"
        return Policy(retries, then)

    def listed_steps(
        self, limits: tuple[float | None, int | None]
    ) -> list[tuple[tuple[Override, ...], float | None, int | None, int | None]]:
        """The ``steps`` list as (overrides, runtime, runevents, line); one empty step without it."""
        items = self.data.get("steps")
        if items is None:
            return [((), *limits, None)]
        if not isinstance(items, list) or not items:
            self.problem(("steps",), f"expected a list of steps, found {describe(items)}")
            return []
        listed = []
        for position, item in enumerate(items):
            where = ("steps", position)
            line = _line(self.data, where)
            if not isinstance(item, dict):
                self.problem(
                    where,
                    f"expected a mapping (file: {{key: value}}, runtime, runevents), found {describe(item)}",
                )
                continue
            runtime, runevents = self.limits(item, where)
            overrides = [
                Override(name, key, to_plain(value), key_line)
                for name, key, value, key_line in self.file_keys(item, where, skip=LIMITS)
            ]
            listed.append(
                (
                    tuple(overrides),
                    limits[0] if runtime is None else runtime,
                    limits[1] if runevents is None else runevents,
                    line,
                )
            )
        return listed

    def check_twice(
        self, listed: list[tuple[tuple[Override, ...], Any, Any, Any]], grid: list[list[Override]]
    ) -> None:
        """A key both listed and scanned would have two values in one step; which one is meant?"""
        scanned = {axis[0].name for axis in grid}
        for overrides, *_ in listed:
            for override in overrides:
                if override.name in scanned:
                    self.problem(
                        ("steps", override.file, override.key),
                        "set by scan as well; expected each key in steps or in scan, not both",
                        override.line,
                    )

    def grid(self) -> list[list[Override]]:
        """One list of overrides per key of ``scan``, each with every value of that key."""
        scan = self.data.get("scan")
        if scan is None:
            return []
        if not isinstance(scan, dict) or not scan:
            self.problem(
                ("scan",), f"expected a mapping of files to keys and their values, found {describe(scan)}"
            )
            return []
        axes = []
        for name, key, given, line in self.file_keys(scan, ("scan",)):
            values = self.values(given, ("scan", name, key), line)
            if values:
                axes.append([Override(name, key, value, line) for value in values])
        return axes

    def file_keys(
        self, block: dict, where: tuple[Any, ...], skip: tuple[str, ...] = ()
    ) -> Iterator[tuple[str, str, Any, int | None]]:
        """(file, key path, value, line) of a mapping of files to mappings of key paths."""
        for name, keys in block.items():
            if name in skip:
                continue
            here = (*where, name)
            if not isinstance(name, str) or not isinstance(keys, dict) or not keys:
                self.problem(
                    here,
                    "expected a file of the setup with a mapping of its keys to values, "
                    f"found {describe(keys)}",
                    _line(block, (name,)),
                )
                continue
            for key, value in keys.items():
                line = _line(keys, (key,))
                if not isinstance(key, str) or parse_key(key) is None:
                    self.problem(
                        (*here, key), "expected a key path such as threshold or general.runtime", line
                    )
                    continue
                yield name, key, value, line

    def values(self, given: Any, where: tuple[Any, ...], line: int | None) -> list[Any]:
        """The values of one scan key: a list, or a range {from, to, step} that includes ``to``."""
        if isinstance(given, list) and given:
            return [to_plain(v) for v in given]
        if not isinstance(given, dict) or set(given) != set(RANGE_KEYS):
            self.problem(
                where,
                f"expected a list of values or {{from: A, to: B, step: S}}, found {describe(given)}",
                line,
            )
            return []
        start, stop, step = (given[k] for k in RANGE_KEYS)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop, step))
        if not numbers or step == 0 or (stop - start) * step < 0:
            self.problem(
                where,
                f"expected numbers with a step that leads from {start} to {stop}, found step {step}",
                line,
            )
            return []
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_STEPS:
            self.problem(where, f"{count} values; expected at most {MAX_STEPS}", line)
            return []
        whole = all(isinstance(v, int) for v in (start, stop, step))
        return [start + i * step if whole else round(start + i * step, 10) for i in range(count)]


def _line(data: Any, where: tuple[Any, ...]) -> int | None:
    """The line of the deepest part of ``where`` found in ``data``."""
    return locate(data, where)[1] or getattr(data, "line", None)


def _short(key: str) -> str:
    parts = parse_key(key) or [key]
    return str(parts[-1])


def _text(value: Any) -> str:
    return str(value) if not isinstance(value, str) else value
