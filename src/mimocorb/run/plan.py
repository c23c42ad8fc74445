"""The data-flow plan of a setup: who writes and reads which buffer, and the order to end them in.

The orderly end of a run (docs/running.md) needs three facts the setup file states only implicitly:

* the **sources** — functions that write but read nothing; they are stopped first;
* the **data-flow order** of the buffers — a buffer comes after every buffer that feeds a function writing
  it, so shutting buffers down in this order lets every stage finish its input before its output closes;
* for each buffer, its **writers** and its **readers** (obligatory consumers; observers do not count).

Everything here is plain data computed once from the validated setup; nothing touches a buffer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import ValidatedSetup


@dataclass(frozen=True)
class FunctionRole:
    """How one ``Fkt_<i>`` block is connected to the buffers."""

    key: str
    fkt_name: str
    num_process: int
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    observes: tuple[str, ...]
    process_key: str = ""  # whose processes do this role's reading, if not its own (a served group)

    @property
    def processes(self) -> str:
        return self.process_key or self.key

    @property
    def is_source(self) -> bool:
        """Writes but reads nothing: nothing upstream will ever tell it to stop, the controller must."""
        return bool(self.writes) and not self.reads

    @property
    def is_detached(self) -> bool:
        """Connected to no buffer at all: only the final termination ends it, as in mimoCoRB 1.0.2."""
        return not (self.reads or self.writes or self.observes)

    @property
    def label(self) -> str:
        return f"{self.key} ({self.fkt_name})"


@dataclass(frozen=True)
class RunPlan:
    """Buffers in setup order and in data-flow order, with their writers and readers."""

    buffers: tuple[str, ...]
    order: tuple[str, ...]
    functions: tuple[FunctionRole, ...]

    @classmethod
    def build(cls, buffers: Sequence[str], functions: Iterable[FunctionRole]) -> RunPlan:
        functions = tuple(functions)
        return cls(tuple(buffers), data_flow_order(buffers, functions), functions)

    @classmethod
    def of_setup(cls, setup: ValidatedSetup) -> RunPlan:
        own = [
            FunctionRole(f.key, f.fkt_name, f.num_process, f.reads, f.writes, f.observes)
            for f in setup.functions
        ]
        return cls.build([b.name for b in setup.buffers], [*own, *link_roles(setup)])

    def function(self, key: str) -> FunctionRole:
        for f in self.functions:
            if f.key == key:
                return f
        raise KeyError(key)

    def writers_of(self, buffer: str) -> tuple[FunctionRole, ...]:
        return tuple(f for f in self.functions if buffer in f.writes)

    def readers_of(self, buffer: str) -> tuple[FunctionRole, ...]:
        return tuple(f for f in self.functions if buffer in f.reads)

    @property
    def sources(self) -> tuple[FunctionRole, ...]:
        return tuple(f for f in self.functions if f.is_source)

    @property
    def source_buffers(self) -> tuple[str, ...]:
        """Buffers written only by sources: deactivating their writers stops the sources and nothing else.

        A buffer that a source shares with a filter is left alone here; it is ended in its turn, after
        the filter has finished (see ``order``).
        """
        return tuple(b for b in self.order if (w := self.writers_of(b)) and all(f.is_source for f in w))

    @property
    def first_buffer(self) -> str | None:
        return self.buffers[0] if self.buffers else None


def serve_key(buffer: str) -> str:
    return f"serve {buffer}"


def connect_key(buffer: str) -> str:
    return f"connect {buffer}"


def link_roles(setup: ValidatedSetup) -> list[FunctionRole]:
    """The run's own network workers: a served buffer is read by one serve process (one role per served
    group, all done by that process), a connected buffer is written by one connect process (a source)."""
    roles = []
    for b in setup.buffers:
        if b.connect is not None:
            roles.append(FunctionRole(connect_key(b.name), "connect_worker", 1, (), (b.name,), ()))
        if b.serve is not None:
            key = serve_key(b.name)
            for k, group in enumerate(b.serve.groups):
                own = key if k == 0 else f"{key} {group}"
                roles.append(FunctionRole(own, f"group {group}", 1, (b.name,), (), (), key))
    return roles


def data_flow_order(buffers: Sequence[str], functions: Sequence[FunctionRole]) -> tuple[str, ...]:
    """Buffers so that each comes after every buffer read by a function that writes it.

    Kahn's algorithm; among buffers that are ready at the same time the setup order decides, so a plain
    chain RB_1 -> RB_2 -> RB_3 keeps its order. Buffers on a cycle (a function writing a buffer
    upstream of its input — legal, if odd) are appended in setup order.
    """
    position = {name: k for k, name in enumerate(buffers)}
    upstream: dict[str, set[str]] = {name: set() for name in buffers}
    for f in functions:
        for out in f.writes:
            if out in upstream:
                upstream[out].update(b for b in f.reads if b in position and b != out)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(buffers):
        ready = [b for b in buffers if b not in done and upstream[b] <= done]
        if not ready:  # a cycle: take the rest as written
            order += [b for b in buffers if b not in done]
            break
        nxt = min(ready, key=position.__getitem__)
        order.append(nxt)
        done.add(nxt)
    return tuple(order)
