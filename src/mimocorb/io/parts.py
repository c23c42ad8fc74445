"""Long runs in several files: when a recorder starts its next part, what the parts are called, and
finding every part of a recording again.

A week-long run in one file is hard to copy, to check and to analyse in pieces, and a damaged file would
take everything with it. So a recorder may end its file and start the next one after ``rollover_events``
events, ``rollover_mb`` megabytes of event data (before compression) or ``rollover_minutes`` minutes,
whichever comes first. The parts of ``<stem><ext>`` are ``<stem>_00000<ext>``, ``<stem>_00001<ext>``, ...;
when several processes of one function record the same buffer, the first one to start gets these names
and each other one writes ``<stem>_<pid>_00000<ext>``, ... beside them, so that no two processes ever share
a file and every process's parts sort in the order they were written.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .manifest import Manifest

ROLLOVER_KEYS = ("rollover_events", "rollover_mb", "rollover_minutes")
NO_ROLLOVER: Mapping[str, float | None] = {}
FILE_ROLLOVER: Mapping[str, float | None] = {"rollover_mb": 2000.0, "rollover_minutes": 60.0}  # ROOT, HDF5


@dataclass(frozen=True)
class Rollover:
    """When a part is full: after ``events`` events or ``seconds`` seconds (``None``: never)."""

    events: int | None = None
    seconds: float | None = None

    @classmethod
    def from_config(
        cls, owner: str, cfg: Mapping[str, Any], event_bytes: int, defaults: Mapping[str, float | None]
    ) -> Rollover:
        """The policy of a config: its keys, else ``defaults``; ``null`` (or 0) turns a criterion off.

        Megabytes become events (every event of a buffer has the same size), so that a part ends on an
        event boundary that a reader can tell from the counters alone.
        """
        values = {key: _limit(owner, cfg, key, defaults.get(key)) for key in ROLLOVER_KEYS}
        limits = []
        if values["rollover_events"] is not None:
            limits.append(int(values["rollover_events"]))
        if values["rollover_mb"] is not None:
            limits.append(max(1, int(values["rollover_mb"] * 1e6 // max(1, event_bytes))))
        minutes = values["rollover_minutes"]
        return cls(min(limits) if limits else None, None if minutes is None else 60.0 * minutes)

    @property
    def active(self) -> bool:
        return self.events is not None or self.seconds is not None

    def due(self, events: int, started: float) -> bool:
        """Whether a part that holds ``events`` events and began at ``started`` (monotonic) is full."""
        if self.events is not None and events >= self.events:
            return True
        return self.seconds is not None and time.monotonic() - started >= self.seconds


def check_rollover_config(owner: str, cfg: Mapping[str, Any]) -> None:
    """The rollover keys of a config, for ``mimocorb validate`` (ValueError naming the key)."""
    for key in ROLLOVER_KEYS:
        _limit(owner, cfg, key, None)


def _limit(owner: str, cfg: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = cfg.get(key, default)
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"{owner}: config key '{key}' must be a positive number, or null to turn it off, got {value!r}"
        )
    if key == "rollover_events" and int(value) != value:
        raise ValueError(f"{owner}: config key '{key}' must be a whole number of events, got {value!r}")
    return float(value)


# -- names ---------------------------------------------------------------------------------------


def part_path(base: Path, seq: int, pid: int | None = None) -> Path:
    """``<stem>_<seq><ext>`` (the first process) or ``<stem>_<pid>_<seq><ext>`` beside ``base``."""
    middle = f"_{pid}" if pid is not None else ""
    return base.with_name(f"{base.stem}{middle}_{seq:05d}{base.suffix}")


class PartNames:
    """The file names of one process's parts; the first process of a function gets the plain series.

    Each part is created exclusively (a sibling process or an earlier run in the same directory is never
    overwritten); if part 0 of the plain series is taken, this process switches to its own series.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.pid: int | None = None
        self.seq = 0

    def claim(self) -> Path:
        """The next part's path, created empty; the caller writes it from the start."""
        while True:
            path = part_path(self.base, self.seq, self.pid)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                if self.seq != 0 or self.pid is not None:
                    raise
                self.pid = os.getpid()
                continue
            self.seq += 1
            return path


_PART = re.compile(r"_(?:\d+_)?\d{5}$")


def parts_of(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a recording: ``path`` itself if it exists, else the parts of ``<stem><ext>``.

    The parts come in name order, which is the order each process wrote them in (the first process's
    series first).
    """
    p = Path(path)
    if p.exists():
        return [p]
    if p.suffix and p.parent.is_dir():
        found = sorted(
            f
            for f in p.parent.glob(f"{glob_escape(p.stem)}_*{p.suffix}")
            if _PART.fullmatch(f.stem[len(p.stem) :])
        )
        if found:
            return found
    raise FileNotFoundError(
        f"no recorded file or directory at {str(p)!r} (nor parts {p.stem}_00000{p.suffix}, …)"
    )


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# -- the record of parts --------------------------------------------------------------------------


class PartLog:
    """The parts a process wrote, kept in its manifest: files, events and counters of each part.

    A part is listed as soon as its first events are readable, with ``complete: false`` until its file is
    closed, so that after a crash the summary says which files hold what.
    """

    def __init__(self, manifest: Manifest | None = None) -> None:
        self.manifest = manifest
        self.parts: list[dict[str, Any]] = []
        self.events = 0
        self.open: dict[str, Any] | None = None

    def add(self, file: str, n: int, first_counter: int, last_counter: int) -> None:
        """``n`` more events are readable in ``file`` (a new part if it is not the open one)."""
        part = self.open
        if part is None or part["file"] != file:
            part = {"file": file, "events": 0, "first_counter": first_counter, "complete": False}
            self.parts.append(part)
            self.open = part
        part["events"] += n
        part["last_counter"] = last_counter
        self.events += n
        self.save()

    def close(self) -> None:
        """The open part's file is complete."""
        if self.open is not None:
            self.open["complete"] = True
            self.open = None
            self.save()

    def save(self, **values: Any) -> None:
        """Bring the manifest (if any: a conversion has none) up to date."""
        if self.manifest is not None:
            self.manifest.update(events=self.events, parts=self.parts, **values)


class StreamParts:
    """The parts of an exporter that writes event by event (text, tar): counts the events of the open
    part and reports them to the ``PartLog`` every ``every`` events, not after each one (a manifest
    update costs more than a line of text).
    """

    def __init__(self, log: PartLog, every: int) -> None:
        self.log = log
        self.every = every
        self.file = ""
        self.events = 0  # in the open part
        self.started = 0.0
        self._pending = 0
        self._first = self._last = 0

    def begin(self, file: str) -> None:
        self.file, self.events, self.started = file, 0, time.monotonic()

    def count(self, counter: int) -> None:
        if self._pending == 0:
            self._first = counter
        self._last = counter
        self._pending += 1
        self.events += 1
        if self._pending >= self.every:
            self.report()

    def report(self) -> None:
        if self._pending:
            self.log.add(self.file, self._pending, self._first, self._last)
            self._pending = 0

    def end(self) -> None:
        """The open part's file is complete."""
        self.report()
        self.log.close()
