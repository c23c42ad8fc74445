"""Word offsets of the control block at the start of every buffer segment.

The control block is an array of int64 words (a few are read as float64). Words written by
different parties live on different 64-byte cache lines so that a writer and a reader running on
two cores do not fight over one line. Per-slot metadata and data follow the control block; each
slot is ``[counter, timestamp, deadtime, spare | data ...]`` padded to a multiple of 64 bytes.
"""

from __future__ import annotations

import numpy as np

MAGIC = 0x6D696D6F636F7262  # "mimocorb"
LAYOUT_VERSION = 2
LINE = 8  # words per cache line
META_WORDS = 4  # counter, timestamp, deadtime, spare
META_BYTES = META_WORDS * 8

# line 0: constants
MAGIC_W, VERSION_W, NSLOTS_W, MAXG_W, MAXP_W, STRIDE_W, DATA_OFF_W, CREATOR_W = range(8)
# line 1: flags, rarely written
WACT, RACT, OACT, PAUSED, STATE, NGROUPS, T_CREATED, MAXM_W = range(8, 16)
# line 2: written by writers when they commit, read by readers when they run out of positions they
# know to be published (words 16, 18 and 19 are free)
PUBLISH, LOST, DISCARDED, DEADSUM, VPS_W = 17, 20, 21, 22, 23  # DEADSUM: float
# line 3: administration, and the writers' claim cursor: only writers read it on the hot path, so that
# readers polling PUBLISH do not take the line away from a writer between its claim and its commit.
# CLAIM_LIMIT (0: none) is read by writers on every claim; REDELIVER: bit g set for a group g whose
# events held by a killed process go to the group's next process instead of being lost
ADMIN_HOLDER, BREAKER, CLAIM_LIMIT, REDELIVER, WCLAIM = 24, 25, 26, 27, 28
# line 4: sleeping writers, read by readers at every claim, written only when a writer sleeps or wakes
W_SLEEP, W_POSTED = 32, 33
# two lines per group: the first written by its readers at every claim, the second rarely (a writer
# reads G_SLEEP at every commit without fetching a line the readers keep changing)
GROUPS = 40
GROUP_WORDS = 2 * LINE
G_RCLAIM, G_REL, G_SKIPPED = range(3)
G_ACT, G_START, G_SLEEP, G_POSTED, G_NMEM = range(LINE, LINE + 5)  # G_POSTED follows G_SLEEP

# participant record (one line each)
R_PID, R_ROLE, R_GROUP, R_HELD, R_LOCK, R_SLEEP, R_BFIRST, R_BCOUNT = range(8)
# R_HELD: writer: claim number * nslots + slot; reader: position; -1: nothing held
# R_BFIRST, R_BCOUNT: a batch call in flight. Writer: first claim number and number of claims (its slots
# carry the mark ``batch_mark(record)`` in slotpos until published). Reader: the position R_HELD had when
# the batches were claimed and the number of events they hold (what a reclaim reports as lost).
ROLE_OWNER, ROLE_WRITER, ROLE_READER = 1, 2, 3

# a lost or discarded slot is published as ~slot (negative): readers skip it

# buffer life-cycle state
ST_RUNNING, ST_ENDING, ST_SHUTDOWN, ST_CLOSED = range(4)

# lock ids: admin, writers, then one per group; wake-up semaphore ids: writers, then one per group
LOCK_ADMIN, LOCK_W = 0, 1


def batch_mark(record: int) -> int:
    """The slotpos value of a slot claimed by a writer's batch call (-1 marks a single claim)."""
    return -2 - record


def lock_of_group(g: int) -> int:
    return 2 + g


def wakeup_of_group(g: int) -> int:
    return 1 + g


class Layout:
    """Offsets of one buffer's control block, computed once (they are read on every hot call)."""

    def __init__(self, nslots: int, max_groups: int, max_procs: int, max_members: int, slot_bytes: int):
        self.nslots, self.max_groups, self.max_procs = nslots, max_groups, max_procs
        self.max_members, self.slot_bytes = max_members, slot_bytes
        self.members = GROUPS + max_groups * GROUP_WORDS  # member record indices per group
        self.pubq = self.members + max_groups * max_members  # slot of each position; ~slot if skipped
        self.slotpos = self.pubq + nslots  # position of a slot's published content, -1 while written
        self.slotver = self.slotpos + nslots  # changes whenever a slot is claimed (observer check)
        self.records = (self.slotver + nslots + LINE - 1) // LINE * LINE
        self.control_words = self.records + max_procs * LINE
        self.stride = (META_BYTES + slot_bytes + 63) // 64 * 64
        self.data_offset = (self.control_words * 8 + 63) // 64 * 64
        self.size = self.data_offset + nslots * self.stride

    def group(self, g: int) -> int:
        return GROUPS + g * GROUP_WORDS

    def record(self, r: int) -> int:
        return self.records + r * LINE

    def data_offset_of(self, slot: int) -> int:
        return self.data_offset + slot * self.stride + META_BYTES


METADATA_DTYPE = [("counter", np.int64), ("timestamp", np.float64), ("deadtime", np.float64)]
