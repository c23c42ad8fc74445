"""The access classes: how user functions read, filter and write events of the ring buffers.

Users get them from ``mimocorb.buffer_control``, as in mimoCoRB 1.0.2; they live here so that importing them
costs numpy and the ring only — no GUI, plotting or YAML libraries. See docs/workers.md.
"""

from .filters import rbProcess, rbTransfer
from .observers import rbObserver, rbWSObserver
from .sinks import rbDrain, rbExport
from .sources import rbImport, rbPut

__all__ = [
    "rbDrain",
    "rbExport",
    "rbImport",
    "rbObserver",
    "rbProcess",
    "rbPut",
    "rbTransfer",
    "rbWSObserver",
]
