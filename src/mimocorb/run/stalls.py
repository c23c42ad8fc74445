"""A warning when a buffer stays full while none of its consumers makes progress.

Nothing ends such a run by itself (a stuck worker is alive, so supervision cannot tell), but the
operator should learn which function holds the chain up rather than watch rates of 0 Hz.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..ring import Monitor


class StallWatch:
    """Warns once per stall: ``limit`` seconds full without a commit or a consumed event (0: never)."""

    def __init__(
        self,
        limit: float,
        monitors: Mapping[str, Monitor],
        waiting_for: Callable[[str], list[tuple[str, int]]],
        note: Callable[[str, int], None],
    ) -> None:
        self.limit = limit
        self.monitors = monitors
        self.waiting_for = waiting_for  # the consumers a buffer waits for, as (label, events pending)
        self.note = note
        self._progress: dict[str, tuple[Any, float, bool]] = {}  # buffer -> (mark, since, warned)

    def check(self, now: float) -> None:
        if not self.limit:
            return
        for name, monitor in self.monitors.items():
            stats = monitor.stats()
            mark = (stats["committed"], tuple(g["consumed"] for g in stats["groups"]))
            seen = self._progress.get(name)
            if seen is None or seen[0] != mark or stats["fill"] < stats["slots"]:
                self._progress[name] = (mark, now, False)
                continue
            if not seen[2] and now - seen[1] >= self.limit:
                self._progress[name] = (mark, seen[1], True)
                held = [label for label, _ in self.waiting_for(name)] or ["no live consumer"]
                self.note(
                    f"WARNING: {name} has been full for {now - seen[1]:.0f} s and nothing moves; "
                    f"waiting for {', '.join(held)}",
                    0,
                )
