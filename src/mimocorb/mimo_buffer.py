"""mimoCoRB 1.0.2's ring-buffer API (``NewBuffer``, ``Writer``, ``Reader``, ``Observer``) on mimocorb.ring.

Differences to mimoCoRB 1.0.2 that users may notice: no background threads (a process that made a
buffer always exits), reader groups and observers may be added while data flows, every blocking call
takes ``timeout=``, ``Reader.get_metadata()`` returns Python numbers, and ``shutdown()`` waits at most
``timeout`` seconds for the readers to drain. The end of a stream is ``EndOfStream``, a ``SystemExit``,
so code that catches ``SystemExit`` works as before.
"""

from .ring import METADATA_DTYPE, EndOfStream, Monitor, Observer, Reader, RingTimeout, Writer, cleanup_stale
from .ring import RingBuffer as NewBuffer

__all__ = [
    "METADATA_DTYPE",
    "EndOfStream",
    "Monitor",
    "NewBuffer",
    "Observer",
    "Reader",
    "RingTimeout",
    "Writer",
    "cleanup_stale",
]
