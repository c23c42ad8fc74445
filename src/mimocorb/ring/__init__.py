"""The core: a shared-memory ring buffer with writers, reader groups and observers (numpy only).

``RingBuffer`` creates a buffer and hands out setup dicts; ``Writer``, ``Reader`` and ``Observer``
attach to it from any process with such a dict; ``Monitor`` reads its statistics from anywhere.
``cleanup_stale()`` removes shared memory left behind by killed processes; ``pid_alive()`` is the
liveness test it and the lock breaking use (a zombie counts as dead). ``RingBuffer.segment_size()`` and
``shared_memory_free()`` tell whether a buffer fits the machine before it is made. A stream's end
reaches writers and readers as ``EndOfStream`` (a ``SystemExit``); ``until_end`` turns it into the end
of a loop. ``fast_path()`` says whether this process runs the compiled critical sections or the
pure-Python ones.
"""

from ._batch import Batch
from ._controlblock import METADATA_DTYPE
from ._fastpath import fast_path
from ._participants import Monitor, Observer, Reader, Writer
from ._protocol import EndOfStream, Flag, RingTimeout, until_end
from ._ringbuffer import RingBuffer
from ._shm import cleanup_stale, pid_alive, shared_memory_free

__all__ = [
    "METADATA_DTYPE",
    "Batch",
    "EndOfStream",
    "Flag",
    "Monitor",
    "Observer",
    "Reader",
    "RingBuffer",
    "RingTimeout",
    "Writer",
    "cleanup_stale",
    "fast_path",
    "pid_alive",
    "shared_memory_free",
    "until_end",
]
