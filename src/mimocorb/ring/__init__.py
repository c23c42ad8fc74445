"""The core: a shared-memory ring buffer with writers, reader groups and observers (numpy only).

``RingBuffer`` creates a buffer and hands out setup dicts; ``Writer``, ``Reader`` and ``Observer``
attach to it from any process with such a dict; ``Monitor`` reads its statistics from anywhere.
``cleanup_stale()`` removes shared memory left behind by killed processes; ``pid_alive()`` is the
liveness test it and the lock breaking use (a zombie counts as dead). ``RingBuffer.segment_size()`` and
``shared_memory_free()`` tell whether a buffer fits the machine before it is made.
"""

from ._batch import Batch
from ._controlblock import METADATA_DTYPE
from ._participants import Monitor, Observer, Reader, Writer
from ._protocol import Flag, RingTimeout
from ._ringbuffer import RingBuffer
from ._shm import cleanup_stale, pid_alive, shared_memory_free

__all__ = [
    "METADATA_DTYPE",
    "Batch",
    "Flag",
    "Monitor",
    "Observer",
    "Reader",
    "RingBuffer",
    "RingTimeout",
    "Writer",
    "cleanup_stale",
    "pid_alive",
    "shared_memory_free",
]
