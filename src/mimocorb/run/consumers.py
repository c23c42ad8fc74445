"""The reader groups of the buffers, by function, and what becomes of a group whose function is gone.

Every function reading a buffer has one reader group there, shared by its processes. A group whose
function has no process left (it failed, or ended early) would hold the buffer's writers up for ever:
the controller *abandons* it — from then on it skips, on every loop iteration, what was published for
that group, and says so once. The other consumers of the buffer are not held up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ring import Monitor, RingBuffer
from .plan import RunPlan
from .supervisor import Supervisor


@dataclass
class ConsumerGroups:
    """Which reader group of which buffer belongs to which function; abandoned groups and their skips."""

    plan: RunPlan
    supervisor: Supervisor
    buffers: Mapping[str, RingBuffer]
    monitors: Mapping[str, Monitor]
    note: Callable[[str, int], None]
    log: Callable[[str], None]
    groups: dict[tuple[str, str], int] = field(default_factory=dict)  # (Fkt key, buffer) -> group index
    abandoned: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def add(self, key: str, buffer: str, group: int) -> None:
        self.groups[(key, buffer)] = group

    def label(self, buffer: str, group: Any) -> str:
        """The function reading ``buffer`` through ``group``, as the ring's reports name it by number."""
        for (key, name), g in self.groups.items():
            if name == buffer and str(g) == str(group):
                return self.plan.function(key).label
        return f"group {group}"

    def pending(self, buffer: str, stats: Mapping[str, Any]) -> list[tuple[str, int]]:
        """Every reader group of ``buffer`` with its events still pending, from the buffer's ``stats``."""
        groups = stats["groups"]
        return [
            (self.plan.function(key).label, int(groups[g]["pending"]))
            for (key, name), g in self.groups.items()
            if name == buffer and g < len(groups)
        ]

    def pending_for_live(self, buffer: str) -> list[tuple[str, int]]:
        """Reader groups of ``buffer`` whose function has live processes and events still pending."""
        groups = self.monitors[buffer].stats()["groups"]
        out = []
        for role in self.plan.readers_of(buffer):
            g = self.groups.get((role.key, buffer))
            if g is None or g >= len(groups):
                continue
            if any(w.alive for w in self.supervisor.workers_of(role.processes)) and groups[g]["pending"] > 0:
                out.append((role.label, groups[g]["pending"]))
        return out

    def abandon_if_gone(self, key: str, closed: Collection[str]) -> None:
        """A reading function without any live process: its groups must not block the buffers."""
        if any(w.alive for w in self.supervisor.workers_of(key)):
            return
        for role in self.plan.functions:
            if role.processes == key:
                self._abandon(role, closed)
        self.skip_abandoned(closed)

    def _abandon(self, role: Any, closed: Collection[str]) -> None:
        for name in role.reads:
            group = self.groups.get((role.key, name))
            if group is None or name in closed or (name, group) in self.abandoned:
                continue
            self.abandoned[(name, group)] = {"buffer": name, "function": role.label, "unread": 0}
            self.log(f"{name}: {role.label} has no process left; the controller skips its events")

    def skip_abandoned(self, closed: Collection[str], only: str | None = None) -> None:
        """Release, for groups without processes, what was published (so writers are not blocked).

        ``closed`` are the buffers already shut down: there is nothing to release any more.
        """
        for (name, group), record in self.abandoned.items():
            if (only is None or name == only) and name not in closed:
                skipped = self.buffers[name].skip_unread(group)
                if skipped:
                    if not record["unread"]:
                        self.note(
                            f"{name}: events for {record['function']} are skipped (it has no process left); "
                            "the other consumers of the buffer are not held up",
                            0,
                        )
                    record["unread"] += skipped
