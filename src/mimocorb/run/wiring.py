"""From the validated setup to what the worker processes get: ring buffers and one spec per process.

A function's ``RB_assign`` decides its setup dicts: one reader group per buffer it reads (shared by all
its processes, so each event goes to exactly one of them), a writer per buffer it writes, an observer
per buffer it observes. Everything else a worker needs travels in its ``WorkerSpec``: names, paths and
those setup dicts, so that it starts the same under fork, spawn and forkserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import BufferLayout, WorkerFunction
from ..ring import RingBuffer
from .child import WorkerSpec


@dataclass
class Connections:
    """One function's setup dicts by role, and its reader group in each buffer it reads."""

    read: list[dict] = field(default_factory=list)
    write: list[dict] = field(default_factory=list)
    observe: list[dict] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # buffer -> reader group index


def make_buffer(layout: BufferLayout, debug: bool) -> RingBuffer:
    return RingBuffer(layout.number_of_slots, layout.values_per_slot, layout.dtype, debug, name=layout.name)


def connect(function: WorkerFunction, buffers: dict[str, RingBuffer]) -> Connections:
    """The setup dicts of one function's buffers; its processes share them."""
    out = Connections()
    for name, role in function.rb_assign.items():
        buffer = buffers.get(name)
        if buffer is None:
            continue  # passed on in rb_info only (validation warned)
        if role == "read":
            setup_dict = buffer.new_reader_group()
            out.groups[name] = setup_dict["_group"]
            out.read.append(setup_dict)
        elif role == "write":
            out.write.append(buffer.new_writer())
        elif role == "observe":
            out.observe.append(buffer.new_observer())
    return out


def worker_spec(
    function: WorkerFunction, instance: int, connections: Connections, directory_prefix: str, log_level: int
) -> WorkerSpec:
    """Process ``instance`` of ``function``; ``directory_prefix`` joins the function's config dict."""
    config = dict(function.config_dict)
    config["directory_prefix"] = directory_prefix
    return WorkerSpec(
        key=function.key,
        fkt_name=function.fkt_name,
        module_name=function.module_name,
        module_file=str(function.module.path),
        instance=instance,
        source_list=connections.read or None,
        sink_list=connections.write or None,
        observe_list=connections.observe or None,
        config_dict=config,
        rb_info=dict(function.rb_assign),
        log_level=log_level,
        builtin=function.module.base == "import",
    )
