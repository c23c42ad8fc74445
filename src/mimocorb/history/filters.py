"""Which runs a listing shows: started since, setup, tags, and a search through names and notes.

The command line (``mimocorb runs --since --setup --tag --grep``) and the run browser's search use the
same ``RunFilter``, so that both find the same runs.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: _dt.datetime | None = None) -> _dt.datetime:
    """A date (``2026-12-01``), a date and time (``2026-12-01 14:00``) or an age (``90m``, ``12h``,
    ``7d``, ``2w``) as the local time it means; ValueError with what is expected otherwise.

    Example:
        >>> parse_since("2d", now=_dt.datetime(2026, 12, 7, 12, 0))
        datetime.datetime(2026, 12, 5, 12, 0)
    """
    text = text.strip()
    age = _AGE.fullmatch(text)
    if age is not None:
        amount, unit = age.groups()
        return (now or _dt.datetime.now()) - _dt.timedelta(**{_UNITS[unit]: float(amount)})
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected a date (2026-12-01), a date and time (2026-12-01 14:00) or an age (90m, 12h, 7d, 2w), "
            f"got {text!r}"
        ) from None
    # the catalog keeps local times without an offset: a time given with one is taken to local time
    return when if when.tzinfo is None else when.astimezone().replace(tzinfo=None)


def compile_grep(text: str) -> re.Pattern[str]:
    """A regular expression, case-insensitive; ValueError naming the mistake."""
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {text!r}: {exc}") from None


@dataclass(frozen=True)
class RunFilter:
    """``since``: started then or later; ``setup``: part of the setup file's name, or a pattern with
    ``*`` and ``?``; ``tags``: has all of them; ``grep``: found in the name, setup, state, end reason,
    tags or notes."""

    since: _dt.datetime | None = None
    setup: str | None = None
    tags: tuple[str, ...] = ()
    grep: re.Pattern[str] | None = None

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return (
            self._started_since(entry.get("start"))
            and self._setup_fits(entry.get("setup"))
            and set(self.tags) <= set(entry.get("tags") or ())
            and (self.grep is None or self.grep.search(searched_text(entry)) is not None)
        )

    def _started_since(self, start: Any) -> bool:
        if self.since is None:
            return True
        try:
            return _dt.datetime.fromisoformat(str(start)) >= self.since
        except ValueError:
            return False

    def _setup_fits(self, setup: Any) -> bool:
        if not self.setup:
            return True
        name, wanted = str(setup or "").lower(), self.setup.lower()
        if any(c in wanted for c in "*?["):
            return fnmatch.fnmatchcase(name, wanted) or fnmatch.fnmatchcase(name.rsplit(".", 1)[0], wanted)
        return wanted in name


def searched_text(entry: Mapping[str, Any]) -> str:
    """Everything ``grep`` looks through, one field a line."""
    fields = [entry.get(k) for k in ("name", "setup", "state", "end_reason", "series")]
    fields += list(entry.get("tags") or ())
    fields += [note.get("text") for note in entry.get("notes") or ()]
    return "\n".join(str(f) for f in fields if f)
