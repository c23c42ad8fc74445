"""The ring protocol: participants attached to one shared-memory segment, no threads, no pickling.

Positions (0, 1, 2, ...) are handed out in *commit* order: a writer claims a free slot, fills it and
publishes it at the next position; every reader group walks the positions in order, its processes
sharing them; a slot is recycled when every group released its position and all older positions
(strict FIFO). The slot for the k-th claim is the one published at position k - N, so one queue of
slot indices (``pubq``) serves both delivery order and recycling order.

Counts live in shared memory and are changed under short binary-semaphore locks (one for writers,
one per group). Nobody sleeps on a semaphore unless there is nothing to do; sleepers announce
themselves in shared memory and are woken by a counted wake-up semaphore, so the common path makes
no system call. Every lock holder is recorded in its participant record, which lets a supervisor
reclaim what a killed process held (``reclaim_dead``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

from . import _shm
from ._controlblock import (
    ADMIN_HOLDER,
    BREAKER,
    CLAIM_LIMIT,
    DATA_OFF_W,
    DEADSUM,
    DISCARDED,
    G_ACT,
    G_NMEM,
    G_RCLAIM,
    G_REL,
    G_SKIPPED,
    G_SLEEP,
    G_START,
    LINE,
    LOCK_ADMIN,
    LOCK_W,
    LOST,
    MAGIC,
    MAGIC_W,
    MAXG_W,
    MAXM_W,
    MAXP_W,
    METADATA_DTYPE,
    NGROUPS,
    NSLOTS_W,
    OACT,
    PAUSED,
    PUBLISH,
    R_BCOUNT,
    R_BFIRST,
    R_GROUP,
    R_HELD,
    R_LOCK,
    R_PID,
    R_ROLE,
    R_SLEEP,
    RACT,
    REDELIVER,
    ROLE_OWNER,
    ROLE_READER,
    ROLE_WRITER,
    STATE,
    STRIDE_W,
    VPS_W,
    W_POSTED,
    W_SLEEP,
    WACT,
    WCLAIM,
    Layout,
    batch_mark,
    lock_of_group,
    wakeup_of_group,
)
from ._fastpath import fastring, fence

log = logging.getLogger("mimocorb.ring")

SLEEP_SLICE = 0.1  # a sleeper re-checks its condition at least this often (lost wake-ups heal)
LOCK_PATIENCE = 0.5  # waiting this long for a µs-long critical section means its holder may be dead
DEAD_CHECK = 1.0  # a blocked writer looks for dead participants this often

_ROLE_NAMES = {ROLE_OWNER: "owner", ROLE_WRITER: "writer", ROLE_READER: "reader"}
META_NP = np.dtype(METADATA_DTYPE)

_DEFERRED_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Signals that arrive inside are delivered when it is left (their handlers, KeyboardInterrupt among
    them, run then): what it holds is not torn apart by them. Only the calling thread's signals are held
    back, which is where Python runs its handlers when it is the main thread."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def writer_wake_batch(nslots: int) -> int:
    """Free slots a writer waiting for space sleeps for (readers wake it then, or when they run dry): a
    writer that took every slot as soon as it was free would keep both sides changing the same words at
    every event, and pay a sleep and a wake-up every few events."""
    return max(1, nslots // WAKE_FRACTION)


WAKE_FRACTION = 2

STOP = -2  # a claim's result: writers are deactivated or the claim limit is reached
FULL = -1  # a claim's result: no slot is free yet

T = TypeVar("T")


class RingTimeout(TimeoutError):
    """A blocking ring call ran out of its ``timeout``."""


class EndOfStream(SystemExit):
    """The buffer's stream ended for the caller: writers were deactivated (``set_ending()``, the claim
    limit) or readers (``shutdown()``).

    A ``SystemExit``, so that code written for mimoCoRB 1.0.2, which catches ``SystemExit``, keeps
    working, and so that a worker function that does not catch it ends its process normally (exit
    code 0). It carries no argument: a message would become the process's exit status.
    """


def until_end(call: Callable[[], T]) -> Iterator[T]:
    """Yield ``call()`` until the stream ends: the one loop that turns ``EndOfStream`` into the end of
    an iteration, for ``Reader`` and for consumers that call something else each time (a timeout)."""
    try:
        while True:
            yield call()
    except EndOfStream:
        return


def deadline(timeout: float | None) -> float | None:
    """When a call with ``timeout`` must give up (``time.monotonic``); None: never."""
    return None if timeout is None else time.monotonic() + timeout


def time_left(until: float | None, what: str, name: str) -> float:
    """How long the next sleep of ``what`` may last: one ``SLEEP_SLICE`` at most, so that a lost
    wake-up heals; RingTimeout once ``until`` has passed."""
    if until is None:
        return SLEEP_SLICE
    left = until - time.monotonic()
    if left <= 0:
        raise RingTimeout(f"buffer '{name}': {what} timed out")
    return min(SLEEP_SLICE, left)


class Flag:
    """A process-shared flag living in the control block, with the ``is_set()`` of multiprocessing.Event."""

    __slots__ = ("_ctl", "_word")

    def __init__(self, ctl: memoryview, word: int):
        self._ctl = ctl
        self._word = word

    def is_set(self) -> bool:
        """Whether the flag is set, as every process sees it at once."""
        return self._ctl[self._word] != 0

    def set(self) -> None:
        """Set the flag for every process."""
        self._ctl[self._word] = 1

    def clear(self) -> None:
        """Clear the flag for every process."""
        self._ctl[self._word] = 0

    def __repr__(self) -> str:
        return f"<Flag {'set' if self.is_set() else 'clear'}>"


SETUP_KEY = "_mimocorb"


def check_setup(setup: object, kind: str | None) -> dict:
    """Refuse anything that is not a setup dict of the expected kind, before touching shared memory."""
    if not isinstance(setup, dict) or SETUP_KEY not in setup:
        raise ValueError(
            f"expected a mimocorb setup dict (from RingBuffer.new_writer/new_reader_group/new_observer), "
            f"got {type(setup).__name__}"
        )
    if kind is not None and setup[SETUP_KEY] != kind:
        raise ValueError(
            f"this is a {setup[SETUP_KEY]} setup dict of buffer '{setup.get('name')}', "
            f"but a {kind} setup dict is needed here"
        )
    return setup


class Attachment:
    """One process's view of a buffer: the mapped segment, the control words, lazily opened semaphores."""

    role = 0

    def __init__(self, setup: dict, kind: str | None):
        check_setup(setup, kind)
        self.name: str = setup.get("name") or ""
        self._base: str = setup["_segment"]
        self._pid = os.getpid()
        self._mm = _shm.attach_segment(self._base)
        c = memoryview(self._mm).cast("q")
        if c[MAGIC_W] != MAGIC:
            raise RuntimeError(f"segment '{self._base}' is not a mimocorb ring buffer")
        self._ctl = c
        self._ctlf = memoryview(self._mm).cast("d")
        self._raw = memoryview(self._mm)  # the segment's bytes
        self._npdtype = np.dtype(setup["dtype"])
        self.slot_bytes: int = c[VPS_W] * self._npdtype.itemsize
        self._L = L = Layout(c[NSLOTS_W], c[MAXG_W], c[MAXP_W], c[MAXM_W], self.slot_bytes)
        if L.stride != c[STRIDE_W] or L.data_offset != c[DATA_OFF_W]:
            raise RuntimeError(f"setup dict of buffer '{self.name}' does not match its shared memory layout")
        self._N = L.nslots
        self._stride_w = L.stride // 8
        self._meta0 = L.data_offset // 8
        self._pubq, self._slotpos, self._slotver = L.pubq, L.slotpos, L.slotver
        self.number_of_slots: int = self._N
        self.values_per_slot: int = c[VPS_W]
        self.dtype = setup["dtype"]
        self.debug: bool = bool(setup.get("debug", False))
        self.metadata_dtype = list(METADATA_DTYPE)
        self._views: list = [None] * self._N
        self._sems: dict[str, object] = {}
        self._gsems: dict[int, tuple] = {}
        self._rec = -1
        self._recw = -1
        self._core = None  # the compiled critical sections of a writer or reader (see _fastpath)
        self._safe_top = 0  # pure path: a publish cursor read under the writers' lock (see _sync_top)

    # ---- semaphores (opened by name on first use) ------------------------------------------
    def _sem(self, suffix: str, maxvalue: int):
        s = self._sems.get(suffix)
        if s is None:
            s = self._sems[suffix] = _shm.open_semaphore(f"{self._base}_{suffix}", maxvalue)
        return s

    def _lock(self, lid: int):
        if lid == LOCK_ADMIN:
            return self._sem("a", 1)
        if lid == LOCK_W:
            return self._sem("w", 1)
        return self._sem(f"l{lid - 2}", 1)

    def _wakeup(self, wake_id: int):
        """The counted semaphore sleepers of ``wake_id`` wait on (0: writers, 1 + g: group g)."""
        return self._sem("wd" if wake_id == 0 else f"d{wake_id - 1}", _shm.SEM_VALUE_MAX)

    # ---- data access ----------------------------------------------------------------------
    def _view(self, i: int) -> np.ndarray:
        v = self._views[i]
        if v is None:
            v = self._views[i] = np.ndarray(
                (self.values_per_slot,), self._npdtype, self._mm, self._L.data_offset_of(i)
            )
        return v

    def _meta_record(self, i: int) -> np.ndarray:
        m = (self._meta0 + i * self._stride_w) * 8
        return np.ndarray((), META_NP, self._mm, m)

    # ---- memory ordering --------------------------------------------------------------------
    # A reader must never see a published position before the slot's data. The compiled path stores
    # the publish cursor with release and loads it with acquire. The pure path cannot: it reads the
    # cursor only under the writers' lock (every publication happens under it, and a lock's release
    # and acquire order the memory of the two processes), and trusts that value until it has used up
    # the positions below it.

    def _new_core(self, wlock, glock):
        """The compiled critical sections of this writer or reader."""
        assert fastring is not None
        L = self._L
        group = [getattr(self, k, -1) for k in ("_gb", "_glid", "_group")]  # a reader's group
        words: tuple[int, ...] = (self._N, L.pubq, L.slotpos, L.slotver, self._meta0, self._stride_w)
        words = (*words, L.members, L.max_members, L.records, self._recw, *group, writer_wake_batch(self._N))
        return fastring.Core(self._mm, words, wlock.handle, None if glock is None else glock.handle)

    def _bind_core(self, cls: type, hooks: tuple, names: tuple[str, ...]) -> None:
        """Let the compiled calls ``names`` of the core stand in for the methods of ``cls`` on this
        object (unless a subclass overrides them); ``hooks``: the functions they leave the rest to."""
        core = self._core
        if core is None:
            return
        core.bind(self, self._views, hooks)
        for name in names:
            if getattr(type(self), name) is getattr(cls, name):
                setattr(self, name, getattr(core, name))

    def _sync_top(self, want: int) -> None:
        """Pure path, outside any group lock: if position ``want`` lies at or beyond the cursor read
        under the writers' lock, read it there anew."""
        if self._core is None and want >= self._safe_top:
            lk = self._acquire(LOCK_W)
            self._safe_top = self._ctl[PUBLISH]
            self._release(lk)

    def _top(self) -> int:
        """The publish cursor below which every slot's data is visible here."""
        core = self._core
        return self._safe_top if core is None else core.load_top()

    # ---- locks ------------------------------------------------------------------------------
    # A participant marks the lock it holds in its record (R_LOCK) before a non-blocking attempt and
    # clears the mark after releasing, so every live holder is marked: a lock that stays taken while no
    # live participant marks it belongs to a dead one and may be broken (under the admin lock).

    def _acquire(self, lid: int):
        lk = self._lock(lid)
        self._ctl[self._recw + R_LOCK] = lid
        if not lk.acquire(False):
            self._acquire_slow(lk, lid)
        if fence is not None:  # what this process did before is seen before what it stores now
            fence()
        return lk

    def _release(self, lk) -> None:
        lk.release()
        self._ctl[self._recw + R_LOCK] = -1

    def _acquire_slow(self, lk, lid: int) -> None:
        c, mark = self._ctl, self._recw + R_LOCK
        c[mark] = -1  # a waiter is not a holder
        rounds = 0
        while not lk.acquire(True, LOCK_PATIENCE):
            rounds += 1
            self.reclaim_dead()
            if rounds % 10 == 0:  # its holder may have died between acquiring and marking
                with self._admin():
                    self._break_lock(lk, lid)
        c[mark] = lid

    def _live_marks(self, lid: int) -> bool:
        c, L = self._ctl, self._L
        for r in range(L.max_procs):
            b = L.record(r)
            if c[b + R_LOCK] == lid and (pid := c[b + R_PID]) > 0 and _shm.pid_alive(pid):
                return True
        return False

    def _break_lock(self, lk, lid: int) -> None:
        """Free a lock that no live participant holds (caller holds the admin lock)."""
        if lk.acquire(True, LOCK_PATIENCE):
            lk.release()
            return
        if not self._live_marks(lid):
            log.warning("buffer %s: freeing lock %d held by a dead process", self.name, lid)
            lk.release()

    @contextlib.contextmanager
    def _admin(self):
        """The administration lock (registration, groups, reclaim); rare, so its holder is a header word.

        While a process waits for it and holds it, its signals are held back and delivered once the lock
        is given back: a Ctrl-C between taking the lock and naming the holder, or between leaving the
        block and giving it back, would leave it taken for ever (by no one anybody can name, or by this
        process itself, whose exit would then wait for its own lock).
        """
        lk = self._lock(LOCK_ADMIN)
        c = self._ctl
        with _signals_deferred():
            while not lk.acquire(True, LOCK_PATIENCE):
                holder = c[ADMIN_HOLDER]
                if holder and holder != self._pid and not _shm.pid_alive(holder):
                    self._break_admin(lk, holder)
            c[ADMIN_HOLDER] = self._pid
            try:
                yield
            finally:
                c[ADMIN_HOLDER] = 0
                lk.release()

    def _break_admin(self, lk, holder: int) -> None:
        """Free the admin lock of a dead holder; a token in shared memory lets only one waiter do it."""
        c = self._ctl
        c[BREAKER] = self._pid
        time.sleep(0.02)
        if c[BREAKER] != self._pid or c[ADMIN_HOLDER] != holder:
            return
        if lk.acquire(False):  # it was released after all
            lk.release()
            return
        c[ADMIN_HOLDER] = 0
        c[BREAKER] = 0
        log.warning("buffer %s: freeing the admin lock held by dead process %d", self.name, holder)
        lk.release()

    # ---- participants ----------------------------------------------------------------------
    def _register(self, role: int, group: int = -1) -> None:
        c, L = self._ctl, self._L
        for attempt in range(2):
            with self._admin():
                for r in range(L.max_procs):
                    b = L.record(r)
                    if c[b + R_PID] == 0:
                        for k in range(LINE):
                            c[b + k] = -1
                        c[b + R_ROLE] = role
                        c[b + R_GROUP] = group
                        c[b + R_PID] = self._pid
                        self._rec, self._recw = r, b
                        if role == ROLE_READER:
                            self._join_group(r, group)
                        return
            if attempt == 0:
                self.reclaim_dead()
        raise RuntimeError(
            f"buffer '{self.name}': more than {L.max_procs} processes attached (raise max_procs)"
        )

    def _join_group(self, r: int, g: int) -> None:
        c, L = self._ctl, self._L
        gb = L.group(g)
        n = c[gb + G_NMEM]
        if n >= L.max_members:
            c[L.record(r) + R_PID] = 0
            raise RuntimeError(f"buffer '{self.name}': reader group {g} has {n} processes already")
        c[L.members + g * L.max_members + n] = r
        c[gb + G_NMEM] = n + 1

    def _leave_group(self, r: int, g: int) -> None:
        c, L = self._ctl, self._L
        gb, mb = L.group(g), L.members + g * L.max_members
        n = c[gb + G_NMEM]
        for j in range(n):
            if c[mb + j] == r:
                c[mb + j] = c[mb + n - 1]
                c[gb + G_NMEM] = n - 1
                return

    def _unregister(self) -> None:
        if self._rec < 0 or os.getpid() != self._pid:
            return
        c = self._ctl
        with self._admin():
            if self._ctl[self._recw + R_ROLE] == ROLE_READER:
                g = c[self._recw + R_GROUP]
                lk = self._acquire(lock_of_group(g))
                try:
                    c[self._recw + R_HELD] = -1
                    self._leave_group(self._rec, g)
                    self._recompute_rel(g)
                finally:
                    self._release(lk)
            c[self._recw + R_PID] = 0
        self._rec = self._recw = -1

    # ---- cursors ----------------------------------------------------------------------------
    def _recompute_rel(self, g: int) -> None:
        """Group release cursor = oldest position still held by a member, or the claim cursor."""
        c, L = self._ctl, self._L
        gb, mb = L.group(g), L.members + g * L.max_members
        m = c[gb + G_RCLAIM]
        rec0 = L.records
        for j in range(c[gb + G_NMEM]):
            h = c[rec0 + c[mb + j] * LINE + R_HELD]
            if 0 <= h < m:
                m = h
        c[gb + G_REL] = m

    def _minrel(self) -> int:
        """Oldest position some active group still needs; nothing is recycled while no group exists."""
        c, L = self._ctl, self._L
        m = -1
        for g in range(c[NGROUPS]):
            gb = L.group(g)
            if c[gb + G_ACT]:
                v = c[gb + G_REL]
                if m < 0 or v < m:
                    m = v
        return max(m, 0)

    def _publish(self, entry: int) -> None:
        """Put slot ``entry`` (or ``~slot`` for one readers must skip) at the next position.

        The caller holds the writers' lock.
        """
        c = self._ctl
        p = c[PUBLISH]
        c[self._pubq + p % self._N] = entry
        c[self._slotpos + (entry if entry >= 0 else ~entry)] = p
        c[PUBLISH] = p + 1

    def _wake_readers(self) -> None:
        """Post one token to every group with an unwoken sleeper (a new event is there for it)."""
        c, rw = self._ctl, self._recw
        for g in range(c[NGROUPS]):
            ws = self._L.group(g) + G_SLEEP
            if not c[ws]:
                continue
            lid = 2 + g
            lk, wakeup = self._group_sems(g)
            c[rw + R_LOCK] = lid
            if not lk.acquire(False):
                self._acquire_slow(lk, lid)
            wake = c[ws] > c[ws + 1]  # G_POSTED follows G_SLEEP
            if wake:
                c[ws + 1] += 1
            lk.release()
            c[rw + R_LOCK] = -1
            if wake:
                wakeup.release()

    def _group_sems(self, g: int) -> tuple:
        t = self._gsems.get(g)
        if t is None:
            t = self._gsems[g] = (self._lock(lock_of_group(g)), self._wakeup(wakeup_of_group(g)))
        return t

    def _post(self, lid: int, w_sleep: int, w_posted: int, wake_id: int, n: int) -> None:
        """Post up to n tokens, never more than there are unwoken sleepers.

        The tokens go out after the lock is released, so the woken process does not find it taken.
        """
        c = self._ctl
        lk = self._acquire(lid)
        k = min(n, c[w_sleep] - c[w_posted])
        if k > 0:
            c[w_posted] += k
        self._release(lk)
        if k > 0:
            wakeup = self._wakeup(wake_id)
            for _ in range(k):
                wakeup.release()

    def _sleep_announce(self, lid: int, w_sleep: int, wake_id: int) -> None:
        c = self._ctl
        lk = self._acquire(lid)
        c[w_sleep] += 1
        c[self._recw + R_SLEEP] = wake_id
        self._release(lk)  # a full barrier: our mark is visible before we look at the condition

    def _sleep_end(self, lid: int, w_sleep: int, w_posted: int, got: bool) -> None:
        c = self._ctl
        lk = self._acquire(lid)
        c[w_sleep] -= 1
        if got:
            c[w_posted] -= 1
        c[self._recw + R_SLEEP] = -1
        self._release(lk)

    def _sleep(self, lid: int, w_sleep: int, w_posted: int, wake_id: int, ready, timeout: float) -> None:
        """Announce, re-check ``ready()``, then wait for a token (or the timeout)."""
        self._sleep_announce(lid, w_sleep, wake_id)
        got = False
        try:
            if not ready():
                got = self._wakeup(wake_id).acquire(True, max(0.0, timeout))
        finally:
            self._sleep_end(lid, w_sleep, w_posted, got)

    def _wake_all(self, lid: int, w_sleep: int, w_posted: int, wake_id: int) -> None:
        self._post(lid, w_sleep, w_posted, wake_id, 1 << 30)

    # ---- fault recovery ---------------------------------------------------------------------
    def reclaim_dead(self, pids=None) -> list[dict]:
        """Release whatever dead processes held (slots, locks, sleeper marks); returns one report each.

        A supervisor calls this when a child's sentinel fires, naming the ``pids`` it knows are dead
        (a zombie still looks alive to the system); blocked writers and ``shutdown()`` call it too, so a
        killed reader or writer never stalls the ring for ever.
        """
        c, L = self._ctl, self._L
        known = set(pids or ())

        def is_dead(pid: int) -> bool:
            return pid not in (0, self._pid) and (pid in known or not _shm.pid_alive(pid))

        dead = [r for r in range(L.max_procs) if is_dead(c[L.record(r) + R_PID])]
        if not dead:
            return []
        reports = []
        with self._admin():
            for r in dead:
                if is_dead(c[L.record(r) + R_PID]):
                    reports.append(self._reclaim_record(r))
        for rep in reports:  # workers that simply exited leave records too: only losses are news
            log.log(
                logging.WARNING if rep["lost_events"] else logging.DEBUG,
                "buffer %s: reclaimed %s process %d (%d event(s) lost)",
                self.name,
                rep["role"],
                rep["pid"],
                rep["lost_events"],
            )
        return reports

    def _reclaim_record(self, r: int) -> dict:
        c, L = self._ctl, self._L
        b = L.record(r)
        pid, role, g = c[b + R_PID], c[b + R_ROLE], c[b + R_GROUP]
        rep = {"pid": pid, "role": _ROLE_NAMES.get(role, "?"), "group": g, "lost_events": 0}
        lid = c[b + R_LOCK]
        if lid >= 0:
            self._break_lock(self._lock(lid), lid)
            c[b + R_LOCK] = -1
        if c[b + R_SLEEP] >= 0:
            wake_id = c[b + R_SLEEP]
            if wake_id == 0:
                lk, ws = self._acquire(LOCK_W), W_SLEEP
            else:
                lk, ws = self._acquire(lock_of_group(wake_id - 1)), L.group(wake_id - 1) + G_SLEEP
            c[ws] -= 1
            c[b + R_SLEEP] = -1
            self._release(lk)
        if role == ROLE_WRITER:
            rep["lost_events"] = self._reclaim_writer_slot(r)
        elif role == ROLE_READER:
            rep["lost_events"], returned = self._reclaim_reader_slot(r, g)
            if returned:
                rep["returned_events"] = returned
        c[b + R_PID] = 0
        return rep

    def _reclaim_writer_slot(self, r: int) -> int:
        c, L = self._ctl, self._L
        b = L.record(r)
        held = c[b + R_HELD]
        k, i = divmod(held, self._N)
        lost = 0
        lk = self._acquire(LOCK_W)
        try:
            # the claim completed (WCLAIM passed it) and nobody else made the same claim afterwards
            others = any(
                c[L.record(q) + R_HELD] == held
                for q in range(L.max_procs)
                if q != r and c[L.record(q) + R_PID]
            )
            if held >= 0 and c[WCLAIM] > k and c[self._slotpos + i] == -1 and not others:
                self._publish(~i)
                c[LOST] += 1
                lost = 1
            c[b + R_HELD] = -1
            lost += self._reclaim_writer_batch(r)
        finally:
            self._release(lk)
        if lost:
            self._wake_readers()
        return lost

    def _reclaim_writer_batch(self, r: int) -> int:
        """Publish as lost the slots of a dead writer's batch claim (caller holds the writers' lock).

        A claim that did not complete (the claim cursor did not move past it) gets its marks cleared:
        the slots go to the writer that makes that claim again.
        """
        c, b = self._ctl, self._L.record(r)
        first, count = c[b + R_BFIRST], c[b + R_BCOUNT]
        if first < 0:
            return 0
        done = c[WCLAIM] >= first + count
        mark, lost = batch_mark(r), 0
        for i in range(self._N):
            if c[self._slotpos + i] == mark:
                if done:
                    self._publish(~i)
                    c[LOST] += 1
                    lost += 1
                else:
                    c[self._slotpos + i] = -1
        c[b + R_BFIRST] = -1
        return lost

    def _reclaim_reader_slot(self, r: int, g: int) -> tuple[int, int]:
        """(events lost, events returned to the group) of a dead reader's record."""
        c, L = self._ctl, self._L
        b, gb = L.record(r), L.group(g)
        lk = self._acquire(lock_of_group(g))
        try:
            held = c[b + R_HELD]
            lost = returned = 0
            if 0 <= held < c[gb + G_RCLAIM]:
                if c[REDELIVER] >> g & 1 and c[gb + G_NMEM] == 1:
                    returned = self._rewind_group(gb, held)
                else:  # a batch counts all its events
                    batch = held == c[b + R_BFIRST] and c[b + R_BCOUNT] > 0
                    lost = c[b + R_BCOUNT] if batch else 1
            c[b + R_HELD] = -1
            self._leave_group(r, g)
            self._recompute_rel(g)
        finally:
            self._release(lk)
        if c[W_SLEEP]:
            self._post(LOCK_W, W_SLEEP, W_POSTED, 0, c[W_SLEEP])
        return lost, returned

    def _rewind_group(self, gb: int, held: int) -> int:
        """The group's only process died holding positions from ``held`` on: they are handed out again
        (nothing from ``held`` on was recycled, the group's release cursor is there); returns how many
        events that gives back. The caller holds the group's lock."""
        c = self._ctl
        end = c[gb + G_RCLAIM]
        skipped = sum(c[self._pubq + p % self._N] < 0 for p in range(held, end))
        c[gb + G_SKIPPED] -= skipped
        c[gb + G_RCLAIM] = held
        return end - held - skipped

    # ---- statistics -------------------------------------------------------------------------
    def counters(self) -> dict:
        """Raw counters, readable from any process without taking a lock."""
        c, L = self._ctl, self._L
        published = c[PUBLISH]
        groups = []
        for g in range(c[NGROUPS]):
            gb = L.group(g)
            groups.append(
                {
                    "group": g,
                    "active": bool(c[gb + G_ACT]),
                    "consumed": c[gb + G_RCLAIM] - c[gb + G_START] - c[gb + G_SKIPPED],
                    "pending": published - c[gb + G_RCLAIM],
                    "released": c[gb + G_REL] - c[gb + G_START],
                    "processes": c[gb + G_NMEM],
                }
            )
        lost, discarded = c[LOST], c[DISCARDED]
        return {
            "name": self.name,
            "slots": self._N,
            "committed": published - lost - discarded,
            "lost": lost,
            "discarded": discarded,
            "claimed": c[WCLAIM],
            "claim_limit": c[CLAIM_LIMIT] or None,
            "fill": published - min(self._minrel(), published) if c[NGROUPS] else published,
            "deadtime_sum": self._ctlf[DEADSUM],
            "groups": groups,
            "writers_active": bool(c[WACT]),
            "readers_active": bool(c[RACT]),
            "observers_active": bool(c[OACT]),
            "paused": bool(c[PAUSED]),
            "state": c[STATE],
        }

    @property
    def segment(self) -> str:
        """The name of the buffer's shared-memory segment: it tells this buffer from any other, also
        from a later one of the same name."""
        return self._base

    def close(self) -> None:
        """Detach: give back what this handle holds and free its participant record."""
        self._unregister()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
