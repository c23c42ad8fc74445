"""The core: a shared-memory ring buffer with writers, reader groups and observers (numpy only).

``RingBuffer`` creates a buffer and hands out setup dicts; ``Writer``, ``Reader`` and ``Observer``
attach to it from any process with such a dict; ``Monitor`` reads its statistics from anywhere.
``cleanup_stale()`` removes shared memory left behind by killed processes.
"""

from ._buffer import RingBuffer
from ._core import Flag, RingTimeout
from ._handles import Monitor, Observer, Reader, Writer
from ._ipc import cleanup_stale
from ._layout import METADATA_DTYPE

__all__ = [
    "METADATA_DTYPE",
    "Flag",
    "Monitor",
    "Observer",
    "Reader",
    "RingBuffer",
    "RingTimeout",
    "Writer",
    "cleanup_stale",
]
