"""Which code runs the per-event critical sections: the compiled module ``_fastring`` (C11 atomics) when
it was built and matches this layout, else the pure-Python code.

``MIMOCORB_PURE_RING=1`` in the environment forces the pure-Python path (the test suite runs the ring
tests both ways). The two paths keep the same protocol in the same shared memory, so processes of a
run may use either.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from . import _controlblock as cb

PURE_ENV = "MIMOCORB_PURE_RING"
BUSY = -3  # a compiled critical section's result: its lock was taken, nothing was done

# the words the compiled module has built in, in the order of its WORDS tuple
_EXPECTED = (
    cb.LINE,
    cb.WACT,
    cb.RACT,
    cb.NGROUPS,
    cb.WCLAIM,
    cb.PUBLISH,
    cb.W_SLEEP,
    cb.DEADSUM,
    cb.CLAIM_LIMIT,
    cb.GROUPS,
    cb.GROUP_WORDS,
    cb.G_ACT,
    cb.G_RCLAIM,
    cb.G_REL,
    cb.G_SKIPPED,
    cb.G_SLEEP,
    cb.G_NMEM,
    cb.R_HELD,
    cb.R_LOCK,
    cb.LOCK_W,
    BUSY,
)


def _load() -> ModuleType | None:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        module = importlib.import_module("mimocorb.ring._fastring")
    except ImportError:
        return None
    return module if tuple(module.WORDS) == _EXPECTED else None


fastring = _load()
# a full memory barrier on the compiled path; None on the pure path, which pairs lock operations instead
fence = None if fastring is None else fastring.fence


def fast_path() -> str:
    """Which path this process runs: "compiled" or "pure Python" (and why)."""
    if fastring is not None:
        return "compiled"
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return f"pure Python ({PURE_ENV} is set)"
    return "pure Python (the compiled module is not built)"
