"""How much history is kept, and spans of time written the way people say them (``90s``, ``6h``, ``14d``).

Every sample is kept at full resolution for ``full_resolution``; averages, minima and maxima per minute
for ``minutes``; per hour for ``hours`` (``None``: for ever). The defaults keep a month of 50 variables
sampled every second within about 50 MB (BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0}
SPAN = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdwy]?)\s*")
SPAN_TEXT = "a number of seconds or a number with a unit s, m, h, d, w or y (e.g. 90s, 6h, 14d)"


def parse_span(text: str | float | int) -> float:
    """Seconds of a span: a number (seconds) or a text like ``6h``. ValueError names what is expected."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a span of time: expected {SPAN_TEXT}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = SPAN.fullmatch(str(text))
        if match is None:
            raise ValueError(f"{text!r} is not a span of time: expected {SPAN_TEXT}")
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    if seconds < 0:
        raise ValueError(f"{text!r} is negative: expected {SPAN_TEXT}")
    return seconds


def parse_time(text: str, now: float) -> float:
    """A moment (Unix s): a span before ``now`` (``7d``) or a local date and time (``2024-03-05``,
    ``2024-03-05T22:00``). ValueError names what is expected."""
    try:
        return now - parse_span(text)
    except ValueError:
        pass
    try:
        return _dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a span before now ({SPAN_TEXT}) nor a date and time like 2024-03-05T22:00"
        ) from None


def span_text(seconds: float) -> str:
    """The largest unit that writes ``seconds`` as a whole number (``21600`` → ``6h``)."""
    for unit in ("y", "w", "d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class HistorySettings:
    """The setup's ``history`` block (docs/configuration.md); spans in seconds."""

    enabled: bool = True
    interval: float = 1.0
    full_resolution: float = 6 * 3600.0
    minutes: float = 7 * 86400.0
    hours: float | None = None

    @classmethod
    def of(cls, block: Mapping[str, Any] | None) -> HistorySettings:
        """The settings of a checked ``history`` block (all keys present, spans valid); None: defaults."""
        if block is None:
            return cls()
        hours = block["hours"]
        return cls(
            enabled=bool(block["enabled"]),
            interval=float(block["interval"]),
            full_resolution=parse_span(block["full_resolution"]),
            minutes=parse_span(block["minutes"]),
            hours=None if hours is None else parse_span(hours),
        )


DEFAULTS = HistorySettings()
