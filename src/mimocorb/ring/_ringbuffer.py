"""RingBuffer: creates a buffer's segment and semaphores and drives its life cycle.

There is no background thread: delivery happens in the workers themselves, so a process that
made a buffer can always exit, and shutdown is a plain, bounded function call.
"""

from __future__ import annotations

import errno
import logging
import operator
import os
import time
import weakref
from multiprocessing import resource_tracker

import numpy as np

from . import _controlblock as cb
from . import _shm
from ._controlblock import Layout, lock_of_group, wakeup_of_group
from ._protocol import Attachment, Flag

log = logging.getLogger("mimocorb.ring")

_stale_checked = False


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n}")
    return n


def _layout(number_of_slots, values_per_slot, dtype, max_groups, max_procs, max_members) -> Layout:
    vps = _positive_int(values_per_slot, "values_per_slot")
    max_procs = _positive_int(max_procs, "max_procs")
    return Layout(
        _positive_int(number_of_slots, "number_of_slots"),
        _positive_int(max_groups, "max_groups"),
        max_procs,
        min(_positive_int(max_members, "max_members"), max_procs),
        vps * _checked_dtype(dtype).itemsize,
    )


def _created_segment(base: str, size: int, name: str):
    """The buffer's segment, or a MemoryError that names the buffer and the sizes when the machine has
    no room for it (rather than a SIGBUS of a writer once shared memory fills up, mid-run)."""
    try:
        return _shm.create_segment(base, size)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.ENOMEM):
            raise
        free = _shm.shared_memory_free()
        room = f"; {_shm.SHM_DIR} has {free / 1e6:,.0f} MB free" if free is not None else ""
        raise MemoryError(
            f"ring buffer '{name}' needs {size / 1e6:,.0f} MB of shared memory{room} "
            f"({exc.strerror}): fewer or smaller slots, or more room for shared memory"
        ) from None


def _checked_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"unknown dtype {dtype!r}: {e}") from None
    if dt.hasobject or dt.itemsize == 0:
        raise ValueError(f"dtype {dtype!r} cannot live in shared memory (objects or zero size)")
    return dt


def _release_ipc(mm, base: str, semaphores: list[str], pid: int) -> None:
    """Wake every peer (flags off) and unlink all names; runs at close, garbage collection or exit."""
    if os.getpid() != pid:
        return
    try:
        c = memoryview(mm).cast("q")
        c[cb.WACT] = c[cb.RACT] = c[cb.OACT] = 0
        c[cb.STATE] = cb.ST_CLOSED
        c.release()
    except (ValueError, TypeError):
        pass
    _shm.unlink_segment(base)
    _untrack("/" + base, "shared_memory")
    for s in semaphores:
        _shm.unlink_semaphore(s)
        _untrack("/" + s, "semaphore")
    _shm.unregister(base)


def _track(name: str, rtype: str) -> None:
    """Let multiprocessing's resource tracker unlink it should this process die without cleanup."""
    try:
        resource_tracker.register(name, rtype)
    except Exception as e:  # the tracker is a safety net only
        log.debug("resource tracker unavailable: %s", e)


def _untrack(name: str, rtype: str) -> None:
    try:
        resource_tracker.unregister(name, rtype)
    except Exception as e:
        log.debug("resource tracker unavailable: %s", e)


class RateMeter:
    """Rate and mean deadtime over the interval since the previous call, per calling object."""

    def __init__(self, t0: float, count: int = 0, deadsum: float = 0.0):
        self._t, self._n, self._d = t0, count, deadsum

    def __call__(self, count: int, deadsum: float) -> tuple[float, float]:
        now = time.time()
        dt, dn = now - self._t, count - self._n
        rate = dn / dt if dt > 0 else 0.0
        mean_dead = (deadsum - self._d) / max(1, dn)
        self._t, self._n, self._d = now, count, deadsum
        return rate, mean_dead


class RingBuffer:
    """A shared-memory ring of ``number_of_slots`` slots of ``values_per_slot`` values of ``dtype``.

    Create it before the processes that use it; hand them the setup dicts of ``new_writer()``,
    ``new_reader_group()`` and ``new_observer()``. Groups and observers may be added while data flows;
    a late group starts with the next committed event.

    Args:
        number_of_slots: slots in the ring; a writer waits when all of them are in use.
        values_per_slot: records per slot (the samples of a waveform, 1 for a record per event).
        dtype: anything ``numpy.dtype`` accepts without objects, usually a list of
            ``(field_name, type)`` pairs.
        debug: log every call of the participants.
        name: the buffer's name in messages and statistics (default: a generated one).
        max_groups: reader groups that can ever be added.
        max_procs: processes that can be attached at once.
        max_members: processes per reader group (at most ``max_procs``).

    Raises:
        ValueError: a size is not a positive integer, or the dtype cannot live in shared memory.
        MemoryError: the machine has no room for the buffer's shared memory (it is all reserved at
            creation, so a buffer that fits cannot run out of it later).

    Example:
        >>> import numpy as np
        >>> from mimocorb.ring import Reader, RingBuffer, Writer
        >>> ring = RingBuffer(4, 2, [("x", np.float64)], name="demo")
        >>> reader, writer = Reader(ring.new_reader_group()), Writer(ring.new_writer())
        >>> with writer.slot() as (data, meta):
        ...     data["x"] = 1.5
        >>> float(reader.get()["x"][0])
        1.5
        >>> reader.close(); writer.close(); ring.close()
    """

    def __init__(
        self,
        number_of_slots: int,
        values_per_slot: int,
        dtype,
        debug: bool = False,
        *,
        name: str | None = None,
        max_groups: int = 16,
        max_procs: int = 128,
        max_members: int = 32,
    ):
        global _stale_checked
        L = _layout(number_of_slots, values_per_slot, dtype, max_groups, max_procs, max_members)
        if not _stale_checked:
            _stale_checked = True
            for seg in _shm.cleanup_stale():
                log.info("removed stale shared memory '%s' of a dead process", seg)
        self.number_of_slots, self.values_per_slot, self.dtype = L.nslots, int(values_per_slot), dtype
        self.debug = bool(debug)
        self.metadata_dtype = list(cb.METADATA_DTYPE)
        self.writer_created = False
        self._base = _shm.new_base_name()
        self.name = name or self._base
        self._pid = os.getpid()
        self._mm = _created_segment(self._base, L.size, self.name)
        self._semaphores: list[str] = []
        self._finalizer = weakref.finalize(
            self, _release_ipc, self._mm, self._base, self._semaphores, self._pid
        )
        _track("/" + self._base, "shared_memory")
        self._init_control(L)
        self._new_sem("a", 1, 1)
        self._new_sem("w", 1, 1)
        self._new_sem("wd", 0, _shm.SEM_VALUE_MAX)
        self._h = Attachment(self._setup("owner"), "owner")
        self._h._register(cb.ROLE_OWNER)
        c = self._h._ctl
        self.writers_active = Flag(c, cb.WACT)
        self.readers_active = Flag(c, cb.RACT)
        self.observers_active = Flag(c, cb.OACT)
        self.writers_paused = Flag(c, cb.PAUSED)
        self._status_meter = RateMeter(c[cb.T_CREATED] / 1e6)
        self._stats_meter = RateMeter(c[cb.T_CREATED] / 1e6)
        self.shutdown_report: dict | None = None

    @staticmethod
    def segment_size(
        number_of_slots: int,
        values_per_slot: int,
        dtype,
        *,
        max_groups: int = 16,
        max_procs: int = 128,
        max_members: int = 32,
    ) -> int:
        """The bytes of shared memory a buffer of this shape takes, all reserved when it is created: so
        that a setup can be checked against the machine before anything is made.

        Raises:
            ValueError: as ``RingBuffer(...)`` with these arguments.

        Example:
            >>> RingBuffer.segment_size(1000, 4096, "float32") // 2**20
            15
        """
        return _layout(number_of_slots, values_per_slot, dtype, max_groups, max_procs, max_members).size

    def _init_control(self, L: Layout) -> None:
        c = memoryview(self._mm).cast("q")
        for w, v in (
            (cb.MAGIC_W, cb.MAGIC),
            (cb.VERSION_W, cb.LAYOUT_VERSION),
            (cb.NSLOTS_W, L.nslots),
            (cb.MAXG_W, L.max_groups),
            (cb.MAXP_W, L.max_procs),
            (cb.MAXM_W, L.max_members),
            (cb.STRIDE_W, L.stride),
            (cb.DATA_OFF_W, L.data_offset),
            (cb.CREATOR_W, self._pid),
            (cb.VPS_W, self.values_per_slot),
            (cb.WACT, 1),
            (cb.RACT, 1),
            (cb.OACT, 1),
            (cb.STATE, cb.ST_RUNNING),
            (cb.T_CREATED, int(time.time() * 1e6)),
        ):
            c[w] = v
        for i in range(L.nslots):
            c[L.slotpos + i] = -1
        c.release()

    def _new_sem(self, suffix: str, value: int, maxvalue: int) -> None:
        name = f"{self._base}_{suffix}"
        _shm.create_semaphore(name, value, maxvalue)  # closed again at once: peers open it by name
        self._semaphores.append(name)
        _track("/" + name, "semaphore")
        _shm.register(self._base, [self._base], self._semaphores)

    def _setup(self, kind: str, **extra) -> dict:
        return {
            "number_of_slots": self.number_of_slots,
            "values_per_slot": self.values_per_slot,
            "dtype": self.dtype,
            "debug": self.debug,
            "name": self.name,
            "_mimocorb": kind,
            "_segment": self._base,
            **extra,
        }

    def _check_open(self, what: str) -> None:
        if self._h._ctl[cb.STATE] >= cb.ST_SHUTDOWN:
            raise RuntimeError(f"buffer '{self.name}': {what} after shutdown()")

    # ---- setup dicts ------------------------------------------------------------------------
    def new_writer(self) -> dict:
        """Setup dict for writers; one dict may be shared by several processes."""
        self._check_open("new_writer()")
        self.writer_created = True
        return self._setup("writer")

    def new_reader_group(self, redeliver: bool = False) -> dict:
        """A new group that receives every event committed from now on, shared among its processes.

        ``redeliver``: for a group of one process at a time that holds events until somebody else
        confirmed them (the network server): when that process is killed, what it held goes to the
        group's next process (its restart) instead of being counted as lost.
        """
        self._check_open("new_reader_group()")
        h = self._h
        c, L = h._ctl, h._L
        with h._admin():
            g = c[cb.NGROUPS]
            if g >= L.max_groups:
                raise RuntimeError(f"buffer '{self.name}': more than {L.max_groups} reader groups")
            if redeliver and g >= 63:
                raise RuntimeError(f"buffer '{self.name}': only the first 63 reader groups can redeliver")
            self._new_sem(f"l{g}", 1, 1)
            self._new_sem(f"d{g}", 0, _shm.SEM_VALUE_MAX)
            lk = h._acquire(cb.LOCK_W)
            try:
                gb = L.group(g)
                top = c[cb.PUBLISH]
                for w in range(cb.GROUP_WORDS):
                    c[gb + w] = 0
                c[gb + cb.G_RCLAIM] = c[gb + cb.G_REL] = c[gb + cb.G_START] = top
                c[gb + cb.G_ACT] = 1
                if redeliver:
                    c[cb.REDELIVER] |= 1 << g
                c[cb.NGROUPS] = g + 1
            finally:
                h._release(lk)
        return self._setup("reader", _group=g)

    def new_observer(self, min_interval: float = 0.05) -> dict:
        """Setup dict for an observer: copies of the newest event, at most one per ``min_interval`` s."""
        self._check_open("new_observer()")
        return self._setup("observer", min_interval=float(min_interval))

    # ---- status -----------------------------------------------------------------------------
    @property
    def cumulative_event_count(self) -> int:
        """Events committed to the buffer since it was created."""
        return self._h.counters()["committed"]

    def buffer_status(self) -> tuple[int, int, float, float]:
        """(events committed, slots filled, rate and mean deadtime since the previous call)."""
        s = self._h.counters()
        rate, dead = self._status_meter(s["committed"], s["deadtime_sum"])
        return s["committed"], s["fill"], rate, dead

    def stats(self) -> dict:
        """Counters plus rate and mean deadtime since the previous ``stats()`` call."""
        s = self._h.counters()
        s["rate"], s["mean_deadtime"] = self._stats_meter(s["committed"], s["deadtime_sum"])
        return s

    def reclaim_dead(self, pids=None) -> list[dict]:
        """Release what dead processes held; ``pids`` names processes the caller knows are dead."""
        return self._h.reclaim_dead(pids)

    def set_claim_limit(self, limit: int | None) -> None:
        """Let writers claim at most ``limit`` slots in all (``None``: no limit); the next claim raises
        EndOfStream, as after ``set_ending()``.

        This is how a run stops after exactly N events: the check sits under the writers' lock, so it is
        exact for any number of writer processes, whatever the rate.
        """
        n = 0 if limit is None else _positive_int(limit, "claim limit")
        self._h._ctl[cb.CLAIM_LIMIT] = n

    def skip_unread(self, group: int) -> int:
        """Mark every event published so far as read and released by ``group``; returns how many.

        For a supervisor whose consumer of a group is gone for good: the group would otherwise hold
        back recycling (strict FIFO over all groups) until the writers, and the chain upstream, block.
        The skipped events are counted as such, so ``consumed`` stays true. Does nothing (returns 0)
        while a process is attached to the group (a restarted consumer reads for itself).
        """
        h = self._h
        c, L = h._ctl, h._L
        if not 0 <= group < c[cb.NGROUPS]:
            raise ValueError(f"buffer '{self.name}' has no reader group {group}")
        gb = L.group(group)
        lk = h._acquire(lock_of_group(group))
        try:
            if c[gb + cb.G_NMEM]:
                return 0
            top = c[cb.PUBLISH]
            skipped = max(0, top - c[gb + cb.G_RCLAIM])
            c[gb + cb.G_SKIPPED] += skipped
            c[gb + cb.G_RCLAIM] = max(c[gb + cb.G_RCLAIM], top)
            c[gb + cb.G_REL] = max(c[gb + cb.G_REL], top)
        finally:
            h._release(lk)
        if skipped and c[cb.W_SLEEP]:
            h._wake_all(cb.LOCK_W, cb.W_SLEEP, cb.W_POSTED, 0)
        return skipped

    # ---- life cycle -------------------------------------------------------------------------
    def pause(self) -> None:
        """Ask the sources to hold back new events (access classes check it); data in the ring flows on."""
        self.writers_paused.set()

    def resume(self) -> None:
        """Undo ``pause()``: sources take data again."""
        self.writers_paused.clear()

    def set_ending(self) -> None:
        """Stop data taking: writers are deactivated (blocked ones woken), readers keep draining.

        Writers check the flag under their lock, and waking them takes that lock, so when this returns
        every claim made before is counted in the claim cursor and no later claim succeeds.
        """
        c = self._h._ctl
        c[cb.PAUSED] = 1
        c[cb.WACT] = 0
        if c[cb.STATE] == cb.ST_RUNNING:
            c[cb.STATE] = cb.ST_ENDING
        self._h._wake_all(cb.LOCK_W, cb.W_SLEEP, cb.W_POSTED, 0)

    def shutdown(self, timeout: float = 10.0) -> None:
        """End the data flow: deliver what was committed to every live group (within ``timeout``),
        then deactivate readers; every blocked process wakes and raises EndOfStream."""
        h = self._h
        c, L = h._ctl, h._L
        if c[cb.STATE] >= cb.ST_SHUTDOWN:
            return
        c[cb.OACT] = 0
        self.set_ending()
        self.shutdown_report = self._drain(timeout)
        c[cb.RACT] = 0
        c[cb.PAUSED] = 0
        for g in range(c[cb.NGROUPS]):
            gb = L.group(g)
            h._wake_all(lock_of_group(g), gb + cb.G_SLEEP, gb + cb.G_POSTED, wakeup_of_group(g))
        c[cb.STATE] = cb.ST_SHUTDOWN

    def _drain(self, timeout: float) -> dict:
        """Wait until every live group released everything published and writers committed their slots.

        A group without any attached process for 1 s, and writers that hold a slot without progress
        for 1 s, are not waited for, so shutdown never hangs; the report says what was left behind.
        """
        h = self._h
        c, L = h._ctl, h._L
        t_end = time.monotonic() + timeout
        top, t_progress = c[cb.PUBLISH], time.monotonic()
        absent: dict[int, float] = {}
        while True:
            h.reclaim_dead()
            now = time.monotonic()
            if c[cb.PUBLISH] != top:
                top, t_progress = c[cb.PUBLISH], now
            waiting = []
            for g in range(c[cb.NGROUPS]):
                gb = L.group(g)
                if not c[gb + cb.G_ACT] or c[gb + cb.G_REL] >= top:
                    continue
                if c[gb + cb.G_NMEM] == 0 and now - absent.setdefault(g, now) > 1.0:
                    continue
                if c[gb + cb.G_NMEM]:
                    absent.pop(g, None)
                waiting.append(g)
            writing = c[cb.WCLAIM] > top and now - t_progress < 1.0
            if not (waiting or writing) or now > t_end:
                break
            time.sleep(0.005)
        undelivered = {
            g: top - c[L.group(g) + cb.G_REL]
            for g in range(c[cb.NGROUPS])
            if c[L.group(g) + cb.G_ACT] and c[L.group(g) + cb.G_REL] < top
        }
        report = {"drained": not undelivered, "undelivered": undelivered, "uncommitted": c[cb.WCLAIM] - top}
        if undelivered:
            log.warning("buffer %s: shutdown left events undelivered per group: %s", self.name, undelivered)
        return report

    def close(self) -> None:
        """Shut down if needed, then unlink the shared memory and semaphores (open views stay valid)."""
        if not self._finalizer.alive:
            return
        if self._h._ctl[cb.STATE] < cb.ST_SHUTDOWN:
            self.shutdown()
        self._h.close()
        self._finalizer()

    def __enter__(self) -> RingBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<RingBuffer '{self.name}' {self.number_of_slots} slots x {self.values_per_slot} "
            f"{np.dtype(self.dtype)}>"
        )
