"""An exact ``runevents`` limit: writers of the first buffer stop at the N-th event themselves.

The controller looks at the event count every loop iteration (≤ 0.1 s, D12), but a fast source commits
thousands of events in that time, so a limit enforced by the controller alone overshoots. The limit is
therefore enforced where the events are made: in each process that writes the first buffer, a claim of
a new slot is refused (``SystemExit``, exactly as when the run ends) once the buffer's claim cursor has
reached the limit. With one writing process the count is exact; with k processes writing the first
buffer at the same time it can exceed the limit by at most k - 1 events (the check and the claim are
not one atomic step).

WORKAROUND, local to mimocorb.run: the ring has no public "claim limit" yet, so this wraps
``Writer.get_new_buffer`` in the worker process and reads the claim cursor from the ring's control block.
A ring-side limit (checked under the writer lock) would make it exact for any number of writers and
remove this module; see the note in docs/running.md.
"""

from __future__ import annotations

import functools

from ..ring import Writer
from ..ring._layout import WCLAIM


def install(segment: str, limit: int) -> None:
    """In this process, make writers of buffer ``segment`` raise SystemExit after ``limit`` claims."""
    original = Writer.get_new_buffer
    if getattr(original, "_mimocorb_limits", None) is None:

        @functools.wraps(original)
        def get_new_buffer(self, timeout=None):
            cap = limits.get(self._base)
            if cap is not None and self._ctl[WCLAIM] >= cap:
                if self._slot >= 0:
                    self.process_buffer()  # the slot in hand was claimed within the limit
                raise SystemExit
            return original(self, timeout)

        limits: dict[str, int] = {}
        get_new_buffer._mimocorb_limits = limits  # type: ignore[attr-defined]
        Writer.get_new_buffer = get_new_buffer  # type: ignore[method-assign]
    Writer.get_new_buffer._mimocorb_limits[segment] = int(limit)  # type: ignore[attr-defined]
