"""Does a setup's shared memory fit the machine? Checked before anything is created.

Every ring buffer reserves all of its shared memory when the run starts. A setup that asks for more than
the machine has (a typo of a few zeros in ``number_of_slots`` is enough) is refused by ``mimocorb
validate`` and ``mimocorb run`` with the sizes, rather than failing once the run has started; a setup that
takes more than half of what is there is warned about, because the rest of the machine needs memory too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..ring import RingBuffer, shared_memory_free
from .errors import Severity

WARN_FRACTION = 0.5


@dataclass(frozen=True)
class MemoryIssue:
    severity: Severity
    loc: tuple[Any, ...]  # where in the setup file: the number_of_slots of the largest buffer
    message: str


def memory_issues(ring_buffers: Any, dtypes: Mapping[str, Any]) -> list[MemoryIssue]:
    """The issues of the ``RingBuffer`` list of a setup file, whose fields have the numpy ``dtypes``.
    Buffers the schema refuses (a size that is not a positive integer, an unknown type) are left out:
    they are reported already."""
    sizes = dict(_sizes(ring_buffers, dtypes))
    if not sizes:
        return []
    total = sum(sizes.values())
    largest = max(sizes, key=lambda loc: sizes[loc])
    shares = ", ".join(f"{loc[2]} {size_text(size)}" for loc, size in sizes.items())
    for what, limit in _limits():
        if total > limit:
            need = f"the ring buffers need {size_text(total)} of shared memory ({shares})"
            has = f"but the machine has {size_text(limit)} of {what}"
            return [MemoryIssue("error", largest, f"{need}, {has}")]
        if total > WARN_FRACTION * limit:
            message = (
                f"the ring buffers take {size_text(total)} of shared memory ({shares}), more than half of "
                f"the {size_text(limit)} of {what}"
            )
            return [MemoryIssue("warning", largest, message)]
    return []


def _sizes(ring_buffers: Any, dtypes: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], int]]:
    for position, item in enumerate(ring_buffers if isinstance(ring_buffers, list) else []):
        if not (isinstance(item, dict) and len(item) == 1):
            continue
        name, body = next(iter(item.items()))
        dtype = dtypes.get(name) if isinstance(name, str) else None
        if not isinstance(body, dict) or dtype is None:
            continue
        slots, values = body.get("number_of_slots"), body.get("channel_per_slot")
        if not (isinstance(slots, int) and isinstance(values, int)):
            continue
        try:
            size = RingBuffer.segment_size(slots, values, dtype)
        except ValueError:
            continue
        yield ("RingBuffer", position, name, "number_of_slots"), size


def _limits() -> Iterator[tuple[str, int]]:
    """What shared memory may take here, smallest first: free /dev/shm (Linux), the RAM."""
    limits = []
    free = shared_memory_free()
    if free is not None:
        limits.append(("free space in /dev/shm", free))
    ram = _ram()
    if ram is not None:
        limits.append(("RAM", ram))
    yield from sorted(limits, key=lambda item: item[1])


def _ram() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n: int) -> str:
    """Bytes in decimal units, as disks and ``df -H`` count them: ``13.6 TB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"
