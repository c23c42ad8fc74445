"""Ring operations the controller needs and the ring does not offer (yet): reading for a dead group.

A reader group whose function has no live process left — it failed and is not restarted, or it simply
returned — still holds back slot recycling (strict FIFO over all groups, by design for obligatory
consumers). Its buffer fills up, the writers block for ever, and with them every stage upstream: the
whole chain stops, and the orderly end can only run into its grace period. Nothing will ever read that
group again, so the controller reads for it: on every loop iteration, everything published so far is
marked as taken and released by the group (and counted as skipped, so ``consumed`` stays true). Writers
continue, every *other* consumer still gets every event, and what the dead group missed is reported.

WORKAROUND, local to mimocorb.run: the ring has no public call for this. Clearing the group's "active"
word is not enough — with no active group left the ring stops recycling altogether (a buffer without
readers never recycles) — so this moves the group's cursors under the group's lock, as a ring-side
``RingBuffer.abandon_group(setup)`` would do once and for all. Remove this module when the ring offers it.
"""

from __future__ import annotations

from ..ring import RingBuffer
from ..ring._layout import (
    G_NMEM,
    G_RCLAIM,
    G_REL,
    G_SKIPPED,
    LOCK_W,
    PUBLISH,
    W_POSTED,
    W_SLEEP,
    lock_of_group,
)


def skip_unread(buffer: RingBuffer, group: int) -> int:
    """Mark every event published so far as read and released by ``group``; returns how many it skipped.

    Does nothing (returns 0) if a process is attached to the group (a restarted worker reads itself).
    """
    h = buffer._h
    c = h._ctl
    gb = h._L.group(group)
    lock = h._acquire(lock_of_group(group))
    try:
        if c[gb + G_NMEM]:
            return 0
        top = c[PUBLISH]
        skipped = max(0, top - c[gb + G_RCLAIM])
        c[gb + G_SKIPPED] += skipped
        c[gb + G_RCLAIM] = max(c[gb + G_RCLAIM], top)
        c[gb + G_REL] = max(c[gb + G_REL], top)
    finally:
        h._release(lock)
    if skipped and c[W_SLEEP]:
        h._wake_all(LOCK_W, W_SLEEP, W_POSTED, 0)
    return skipped
