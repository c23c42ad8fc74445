"""What a run shows while it runs: console output, the status line, and the periodic stats.csv.

On a terminal the status is one line rewritten in place (carriage return); anything else printed in the
meantime — controller messages, worker output — first clears that line and then redraws it, so the two
never garble each other. Without a terminal (a pipe, a file, CI) a plain status line is printed every
few seconds instead.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

SPINNER = "|/-\\"
CLEAR = "\r\x1b[K"


class Console:
    """Controller messages, worker output and the status line on one stream.

    ``verbose``: 0 only warnings and errors, 1 also start/end messages and the summary, 2 (default) also
    the status line, 3 also the steps of the end sequence.
    """

    def __init__(self, stream: TextIO | None = None, verbose: int = 2, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.verbose = verbose
        if live is None:
            try:
                live = self.stream.isatty()
            except (AttributeError, ValueError):
                live = False
        self.live = bool(live)
        self._status = ""

    def message(self, text: str, level: int = 1) -> None:
        if self.verbose >= level:
            self._print(text)

    def worker_line(self, name: str, text: str) -> None:
        self._print(f"[{name}] {text}")

    def status(self, text: str) -> None:
        """Show the status: in place on a terminal, as a printed line otherwise."""
        if self.verbose < 2:
            return
        if self.live:
            self._status = text
            self._write(CLEAR + self._fit(text))
        else:
            self._print(text)

    def end_status(self) -> None:
        """Leave the status line as it is and continue below it."""
        if self.live and self._status:
            self._write("\n")
            self._status = ""

    def _print(self, text: str) -> None:
        if self.live and self._status:
            self._write(CLEAR + text + "\n" + self._fit(self._status))
        else:
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal must not break the run
            pass

    @staticmethod
    def _fit(text: str) -> str:
        width = shutil.get_terminal_size((100, 24)).columns - 1
        return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


class ConsoleLogHandler(logging.Handler):
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


@dataclass
class BufferSample:
    """One buffer's numbers at one moment."""

    name: str
    events: int
    fill: int
    slots: int
    rate: float
    deadtime: float
    lost: int

    @classmethod
    def from_stats(cls, name: str, stats: Mapping[str, Any]) -> BufferSample:
        return cls(
            name=name,
            events=int(stats["committed"]),
            fill=int(stats["fill"]),
            slots=int(stats["slots"]),
            rate=float(stats.get("rate", 0.0)),
            deadtime=float(stats.get("mean_deadtime", 0.0)),
            lost=int(stats.get("lost", 0)),
        )


def progress(active: float, events: int, runtime: float, runevents: int) -> float | None:
    """Fraction of the run done, when an end condition with a known end is set (the nearer one)."""
    parts = []
    if runtime > 0:
        parts.append(active / runtime)
    if runevents > 0:
        parts.append(events / runevents)
    return min(1.0, max(parts)) if parts else None


def status_text(
    state: str, active: float, samples: list[BufferSample], done: float | None, tick: int, live: bool
) -> str:
    """The status line: spinner (terminal only), state, active time, per buffer events/fill/rate, progress."""
    head = f"{SPINNER[tick % len(SPINNER)]} " if live else ""
    parts = [f"{head}{state:<8} {active:7.1f}s"]
    for s in samples:
        parts.append(f"{s.name}: {s.events} ({s.fill}/{s.slots}) {_rate(s.rate)}")
    line = "  ".join(parts)
    if done is not None:
        line += f"  {_bar(done)} {100 * done:3.0f}%"
    return line


def _rate(rate: float) -> str:
    if rate >= 1e4:
        return f"{rate / 1e3:.0f}kHz"
    if rate >= 10:
        return f"{rate:.0f}Hz"
    return f"{rate:.1f}Hz"


def _bar(done: float, width: int = 10) -> str:
    filled = round(done * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class StatsRecorder:
    """``stats.csv``: one row per buffer per sample (time since start, active time, state, numbers)."""

    HEADER = (
        "time_s",
        "active_s",
        "state",
        "buffer",
        "events",
        "rate_hz",
        "fill",
        "slots",
        "deadtime",
        "lost",
    )

    def __init__(
        self,
        path: Path,
        extra_columns: tuple[str, ...] = (),
        extra: Callable[[str], tuple[Any, ...]] | None = None,
    ) -> None:
        """``extra_columns`` follow the fixed ones, with ``extra(buffer)`` as values (the link columns)."""
        self.path = path
        self._extra = extra if extra_columns else None
        self._file: TextIO | None = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow(self.HEADER + extra_columns)
        self._file.flush()

    def record(self, elapsed: float, active: float, state: str, samples: list[BufferSample]) -> None:
        if self._file is None:
            return
        for s in samples:
            self._csv.writerow(
                (
                    f"{elapsed:.3f}",
                    f"{active:.3f}",
                    state,
                    s.name,
                    s.events,
                    f"{s.rate:.3f}",
                    s.fill,
                    s.slots,
                    f"{s.deadtime:.6f}",
                    s.lost,
                    *(self._extra(s.name) if self._extra is not None else ()),
                )
            )
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
