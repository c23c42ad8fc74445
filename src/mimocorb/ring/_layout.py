"""Word offsets of the control block at the start of every buffer segment.

The control block is an array of int64 words (a few are read as float64). Words written by
different parties live on different 64-byte cache lines so that a writer and a reader running on
two cores do not fight over one line. Per-slot metadata and data follow the control block; each
slot is ``[counter, timestamp, deadtime, spare | data ...]`` padded to a multiple of 64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAGIC = 0x6D696D6F636F7262  # "mimocorb"
LAYOUT_VERSION = 1
LINE = 8  # words per cache line
META_WORDS = 4  # counter, timestamp, deadtime, spare
META_BYTES = META_WORDS * 8

# line 0: constants
MAGIC_W, VERSION_W, NSLOTS_W, MAXG_W, MAXP_W, STRIDE_W, DATA_OFF_W, CREATOR_W = range(8)
# line 1: flags, rarely written
WACT, RACT, OACT, PAUSED, STATE, NGROUPS, T_CREATED, MAXM_W = range(8, 16)
# line 2: written by writers
WCLAIM, PUBLISH, W_SLEEP, W_POSTED, LOST, DISCARDED, DEADSUM, VPS_W = range(16, 24)
# line 3: administration
ADMIN_HOLDER, BREAKER = 24, 25
GROUPS = 32  # one line per group:
G_ACT, G_RCLAIM, G_REL, G_START, G_CONSUMED, G_SLEEP, G_POSTED, G_NMEM = range(8)

# participant record (one line each)
R_PID, R_ROLE, R_GROUP, R_HELD, R_HELD2, R_LOCK, R_SLEEP, R_SPARE = range(8)
HOLD = 1 << 20  # R_LOCK = lock id while wanting it, lock id | HOLD while holding it
ROLE_OWNER, ROLE_WRITER, ROLE_READER = 1, 2, 3

# slot flags
SLOT_OK, SLOT_LOST, SLOT_DISCARDED = 0, 1, 2

# buffer life-cycle state
ST_RUNNING, ST_ENDING, ST_SHUTDOWN, ST_CLOSED = range(4)

# lock ids: admin, writers, then one per group; door ids: writers, then one per group
LOCK_ADMIN, LOCK_W = 0, 1


def lock_of_group(g: int) -> int:
    return 2 + g


def door_of_group(g: int) -> int:
    return 1 + g


@dataclass(frozen=True)
class Layout:
    nslots: int
    max_groups: int
    max_procs: int
    max_members: int
    slot_bytes: int

    @property
    def members(self) -> int:  # word offset of the group member lists
        return GROUPS + self.max_groups * LINE

    @property
    def pubq(self) -> int:  # slot index of each published position (mod nslots)
        return self.members + self.max_groups * self.max_members

    @property
    def slotpos(self) -> int:  # position of a slot's published content, -1 while being written
        return self.pubq + self.nslots

    @property
    def slotver(self) -> int:  # changes whenever a slot is claimed for writing (observer check)
        return self.slotpos + self.nslots

    @property
    def slotflag(self) -> int:
        return self.slotver + self.nslots

    @property
    def slotowner(self) -> int:  # participant record that claimed the slot
        return self.slotflag + self.nslots

    @property
    def records(self) -> int:
        off = self.slotowner + self.nslots
        return (off + LINE - 1) // LINE * LINE

    @property
    def control_words(self) -> int:
        return self.records + self.max_procs * LINE

    @property
    def stride(self) -> int:
        return (META_BYTES + self.slot_bytes + 63) // 64 * 64

    @property
    def data_offset(self) -> int:
        return (self.control_words * 8 + 63) // 64 * 64

    @property
    def size(self) -> int:
        return self.data_offset + self.nslots * self.stride

    def group(self, g: int) -> int:
        return GROUPS + g * LINE

    def record(self, r: int) -> int:
        return self.records + r * LINE

    def meta_word(self, slot: int) -> int:
        return (self.data_offset + slot * self.stride) // 8

    def data_offset_of(self, slot: int) -> int:
        return self.data_offset + slot * self.stride + META_BYTES


METADATA_DTYPE = [("counter", np.int64), ("timestamp", np.float64), ("deadtime", np.float64)]
