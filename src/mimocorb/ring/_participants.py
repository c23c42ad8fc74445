"""Writer, Reader and Observer: what a worker process attaches to a buffer with its setup dict.

The hot methods (``get_new_buffer``, ``process_buffer``, ``get``) are written out flat, with local
names for everything: at a few hundred thousand events per second each attribute lookup counts.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import numpy as np

from ._batch import BatchReading, BatchWriting
from ._controlblock import (
    CLAIM_LIMIT,
    DEADSUM,
    DISCARDED,
    G_NMEM,
    G_POSTED,
    G_RCLAIM,
    G_REL,
    G_SKIPPED,
    G_SLEEP,
    LOCK_W,
    NGROUPS,
    OACT,
    PAUSED,
    PUBLISH,
    R_HELD,
    R_LOCK,
    R_SLEEP,
    RACT,
    ROLE_READER,
    ROLE_WRITER,
    W_POSTED,
    W_SLEEP,
    WACT,
    WCLAIM,
    lock_of_group,
    wakeup_of_group,
)
from ._fastpath import BUSY, fastring, fence
from ._protocol import (
    DEAD_CHECK,
    FULL,
    STOP,
    Attachment,
    EndOfStream,
    Flag,
    RingTimeout,
    deadline,
    time_left,
    until_end,
    writer_wake_batch,
)

SPIN = 256  # polls of the publish cursor before a reader sleeps (about 20 µs)

_now = time.time
_mono = time.monotonic


class Writer(BatchWriting):
    """Fills slots: ``get_new_buffer()`` hands out a zero-copy view, ``process_buffer()`` commits it.

    Several processes may write to one buffer, each with its own ``Writer`` from the same setup dict.
    ``active`` (cleared by ``set_ending()``/``shutdown()``) and ``paused`` (``pause()``) are the buffer's
    flags as ``Flag`` objects, for sources that stop or hold back on their own; ``slot_bytes`` is the size
    of one event's data.

    Args:
        setup_dict: the dict of ``RingBuffer.new_writer()``, passed to the writing process.

    Raises:
        ValueError: ``setup_dict`` is not a writer setup dict of a mimocorb buffer.
    """

    role = ROLE_WRITER

    def __init__(self, setup_dict: dict):
        super().__init__(setup_dict, "writer")
        self._register(ROLE_WRITER)
        self.active = Flag(self._ctl, WACT)
        self.paused = Flag(self._ctl, PAUSED)
        self._slot = -1
        self._ncalls = 0
        self._minrel_cache = self._minrel()
        self._wlock = self._lock(LOCK_W)
        self._g_sleep0 = self._L.group(0) + G_SLEEP
        self._core = None if fastring is None else self._new_core(self._wlock, None)
        hooks = (Writer.get_new_buffer, Writer.process_buffer, Writer._wake_readers, Writer._view)
        self._bind_core(Writer, hooks, ("get_new_buffer", "process_buffer"))

    def get_new_buffer(self, timeout: float | None = None) -> np.ndarray:
        """Commit the previous slot, then wait for a free one; EndOfStream once writers are deactivated
        or the buffer's claim limit (``RingBuffer.set_claim_limit``) is reached."""
        if self._slot >= 0:
            self.process_buffer()
        core = self._core
        if core is not None:
            i = core.claim(self._ncalls)  # the whole claim, metadata included, or nothing
            if i >= 0:
                self._ncalls += 1
                self._slot = i
                v = self._views[i]
                return v if v is not None else self._view(i)
        c, rw, n, lk = self._ctl, self._recw, self._N, self._wlock
        waits = None
        while True:
            # claim the next slot: the one published N positions ago, once every group released it.
            # Deactivation is checked under the lock: set_ending() takes it after clearing the flag, so a
            # claim either precedes it (and shutdown waits for its commit) or sees the flag. The claim is
            # written out here, not called, because it runs once per event.
            c[rw + R_LOCK] = LOCK_W
            if not lk.acquire(False):
                self._acquire_slow(lk, LOCK_W)
            try:
                k = c[WCLAIM]
                if k >= self._minrel_cache + n:  # the cached oldest position says full: look again
                    self._minrel_cache = self._minrel()
                limit = c[CLAIM_LIMIT]
                if not c[WACT] or (limit and k >= limit):
                    i = STOP
                elif k < self._minrel_cache + n:
                    i = k if k < n else c[self._pubq + (k - n) % n]
                    if i < 0:  # published as lost or discarded
                        i = ~i
                    c[rw + R_HELD] = k * n + i
                    c[self._slotpos + i] = -1
                    c[self._slotver + i] += 1
                    c[WCLAIM] = k + 1
                else:
                    i = FULL
            finally:  # an exception (e.g. Ctrl-C) must not leave the lock taken
                lk.release()
                c[rw + R_LOCK] = -1
            if i >= 0:
                break
            if i == STOP:
                raise EndOfStream
            if waits is None:
                waits = self._wait_for_slot(timeout)
            next(waits)
        m = self._meta0 + i * self._stride_w
        c[m] = self._ncalls
        cf = self._ctlf
        cf[m + 1] = -1.0
        cf[m + 2] = -1.0
        self._ncalls += 1
        self._slot = i
        v = self._views[i]
        return v if v is not None else self._view(i)

    def _wait_for_slot(self, timeout: float | None) -> Iterator[None]:
        """Each step sleeps until a slot may be free (or writers are deactivated); RingTimeout once
        ``timeout`` has run out. Between steps, now and then, dead readers are looked for: one killed
        while holding a slot would block the writers for ever.

        The first sleep lasts until ``writer_wake_batch`` slots are free; later steps take any free slot
        (a reader that holds on to its event for long does not keep the writer from the free ones)."""
        c, n = self._ctl, self._N
        until = deadline(timeout)
        next_check = _mono() + DEAD_CHECK
        need = writer_wake_batch(n)

        def ready() -> bool:
            self._minrel_cache = self._minrel()
            return c[WCLAIM] + need <= self._minrel_cache + n or not c[WACT]

        while True:
            self._sleep(LOCK_W, W_SLEEP, W_POSTED, 0, ready, time_left(until, "get_new_buffer", self.name))
            need = 1
            yield
            if _mono() > next_check:
                self.reclaim_dead()
                next_check = _mono() + DEAD_CHECK

    def put(
        self,
        event,
        counter: int | None = None,
        timestamp: float = -1.0,
        deadtime: float = -1.0,
        *,
        tag: int = -1,
        timeout: float | None = None,
    ) -> None:
        """Write and commit one event: ``get_new_buffer``, fill, ``process_buffer`` in one call, without
        the arrays ``put_batch`` builds (a paced stream, e.g. a network link's one-event messages,
        commits each event alone).

        ``event``: its values (an array of ``values_per_slot`` values of the buffer dtype), or their
        bytes (any buffer of ``slot_bytes`` bytes, such as a message frame). Without ``counter`` the
        event is counted as by ``get_new_buffer``; a timestamp of -1 becomes now. ``tag`` as in
        ``put_batch``. EndOfStream or RingTimeout as ``get_new_buffer``, with nothing committed.
        """
        try:
            view = self.get_new_buffer(timeout)
        except RingTimeout:
            raise RingTimeout(f"buffer '{self.name}': put timed out") from None
        i = self._slot
        m = self._meta0 + i * self._stride_w
        c, cf = self._ctl, self._ctlf
        try:
            if isinstance(event, np.ndarray):
                view[:] = event
            else:
                at = self._L.data_offset_of(i)
                self._raw[at : at + self.slot_bytes] = event
            if counter is not None:
                c[m] = counter
            cf[m + 1] = timestamp
            cf[m + 2] = deadtime
            c[m + 3] = tag  # the spare word: ``last_tag()`` reads it
        except BaseException:
            self.discard()
            raise
        self.process_buffer()

    def set_metadata(self, counter, timestamp, deadtime) -> None:
        """Set the metadata of the slot being filled (no-op without one, as in the original)."""
        i = self._slot
        if i < 0:
            return
        m = self._meta0 + i * self._stride_w
        cf = self._ctlf
        try:
            self._ctl[m] = counter
            cf[m + 1] = timestamp
            cf[m + 2] = deadtime
        except TypeError:  # e.g. a float counter: store it the way numpy would cast it
            self._ctl[m] = int(counter)
            cf[m + 1] = float(timestamp)
            cf[m + 2] = float(deadtime)

    def process_buffer(self) -> None:
        """Commit the current slot: it becomes visible to every reader group, in commit order."""
        i = self._slot
        if i < 0:
            return
        core = self._core
        if core is not None:
            wake = core.publish(i)
            if wake != BUSY:
                self._slot = -1
                if wake:
                    self._wake_readers()
                return
        c, cf = self._ctl, self._ctlf
        m = self._meta0 + i * self._stride_w
        if cf[m + 1] == -1.0:
            cf[m + 1] = _now()
        d = cf[m + 2]
        rw, lk = self._recw, self._wlock
        c[rw + R_LOCK] = LOCK_W
        if not lk.acquire(False):
            self._acquire_slow(lk, LOCK_W)
        if fence is not None:  # the compiled path's readers load the cursor with acquire: pair it
            fence()
        try:
            p = c[PUBLISH]
            c[self._pubq + p % self._N] = i
            c[self._slotpos + i] = p
            if d:
                cf[DEADSUM] += d
            c[PUBLISH] = p + 1
            c[rw + R_HELD] = -1
        finally:
            lk.release()
            c[rw + R_LOCK] = -1
        self._slot = -1
        ng = c[NGROUPS]
        if ng == 1:
            if c[self._g_sleep0]:
                self._wake_readers()
        elif ng:
            self._wake_readers()

    def discard(self) -> None:
        """Give the current slot back unseen (readers skip it; counted as discarded)."""
        i = self._slot
        if i < 0:
            return
        c = self._ctl
        lk = self._acquire(LOCK_W)
        try:
            self._publish(~i)
            c[DISCARDED] += 1
            c[self._recw + R_HELD] = -1
        finally:
            self._release(lk)
        self._slot = -1
        self._wake_readers()

    @contextlib.contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``with writer.slot() as (data, meta):`` fill, commit on exit, discard on exception.

        ``meta`` is a writable record with fields counter, timestamp, deadtime.
        """
        data = self.get_new_buffer(timeout)
        try:
            yield data, self._meta_record(self._slot)
        except BaseException:
            self.discard()
            raise
        self.process_buffer()

    def close(self) -> None:
        """Detach; a slot still being filled is discarded, not published half-written."""
        with contextlib.suppress(Exception):
            if self._rec >= 0 and self._slot >= 0:
                self.discard()
        super().close()


class Reader(BatchReading):
    """One process of a reader group: each committed slot goes to exactly one process of the group.

    The group as a whole sees every event; a writer waits for slots the group has not released.
    Iterating over a ``Reader`` yields slots until the buffer shuts down. ``active`` (cleared by
    ``shutdown()``) and ``paused`` are the buffer's flags, as for ``Writer``.

    Args:
        setup_dict: the dict of ``RingBuffer.new_reader_group()``; every process given the same dict
            shares the group's events.

    Raises:
        ValueError: ``setup_dict`` is not a reader setup dict of a mimocorb buffer.
    """

    role = ROLE_READER

    def __init__(self, setup_dict: dict):
        super().__init__(setup_dict, "reader")
        self._group = g = setup_dict["_group"]
        self._gb = self._L.group(g)
        self._glid = lock_of_group(g)
        self._glock = self._lock(self._glid)
        self._register(ROLE_READER, g)
        self._core = None if fastring is None else self._new_core(self._lock(LOCK_W), self._glock)
        self.active = Flag(self._ctl, RACT)
        self.paused = Flag(self._ctl, PAUSED)
        self._slot = -1
        self._pos = -1
        self._bind_core(Reader, (Reader.get, Reader._get_slow, Reader._wake_writer, Reader._view), ("get",))
        self._claimed: dict[int, int] = {}
        self._wake_batch = writer_wake_batch(self._N)
        self._spin = SPIN

    def get(self, timeout: float | None = None) -> np.ndarray:
        """Release the previous slot, wait for the next one of this group; EndOfStream at shutdown."""
        c = self._ctl
        if not c[RACT]:
            self.release()
            raise EndOfStream
        i = self._claim_next()
        if i < 0:
            i = self._get_slow(timeout)
        v = self._views[i]
        return v if v is not None else self._view(i)

    def _claim_next(self) -> int:
        """``_next()``, by the compiled critical section where there is one."""
        core = self._core
        if core is None:
            return self._next()
        i = core.next(self._pos)
        if i == BUSY:
            return self._next()
        self._pos, self._slot = core.pos, i
        if core.wake:
            self._wake_writer(core.top)
        return i

    def _next(self, woke: int = 0) -> int:
        """Release what we hold and claim the next live position, in one critical section.

        ``woke`` (1: timed out, 2: got a token) also ends a sleep announced with ``_sleep_announce``.
        """
        c = self._ctl
        rw, gb, lk = self._recw, self._gb, self._glock
        self._sync_top(c[gb + G_RCLAIM])
        c[rw + R_LOCK] = self._glid
        if not lk.acquire(False):
            self._acquire_slow(lk, self._glid)
        try:
            if woke:
                c[gb + G_SLEEP] -= 1
                if woke == 2:
                    c[gb + G_POSTED] -= 1
                c[rw + R_SLEEP] = -1
            pos = self._pos
            r = c[gb + G_RCLAIM]
            top = self._top()
            i = -1
            recompute = pos >= 0 and pos == c[gb + G_REL]
            while r < top:
                i = c[self._pubq + r % self._N]
                if i >= 0:
                    break
                r += 1  # lost or discarded: nobody will see it
                c[gb + G_SKIPPED] += 1
                recompute = True
                i = -1
            if i >= 0:
                c[rw + R_HELD] = r
                c[gb + G_RCLAIM] = r + 1
                self._pos = r
            else:
                c[rw + R_HELD] = -1
                c[gb + G_RCLAIM] = r
                self._pos = -1
            if c[gb + G_NMEM] == 1:  # we are the group: the oldest position held is the one just claimed
                c[gb + G_REL] = r
            elif recompute:
                self._recompute_rel(self._group)
        finally:
            lk.release()
            c[rw + R_LOCK] = -1
        self._slot = i
        if pos >= 0 and c[W_SLEEP]:
            self._wake_writer(top)
        return i

    def _wake_writer(self, top: int) -> None:
        """Wake a sleeping writer only once a batch of slots is free (or we ran dry)."""
        c = self._ctl
        free = self._minrel() + self._N - c[WCLAIM]
        if free >= self._wake_batch or (free > 0 and c[self._gb + G_RCLAIM] >= top):
            self._post(LOCK_W, W_SLEEP, W_POSTED, 0, free)

    def _get_slow(self, timeout: float | None) -> int:
        """Wait for the next event: a short spin while events come fast, else sleep on the group's
        wake-up semaphore.

        The spin (at most ~20 µs, yielding the CPU now and then) is kept only while events arrive
        within 100 µs of running dry; a slow or paced stream never spins.
        """
        c, gb = self._ctl, self._gb
        rclaim = gb + G_RCLAIM
        for k in range(self._spin):
            if c[PUBLISH] > c[rclaim]:
                i = self._claim_next()
                if i >= 0:
                    return i
            if k & 31 == 31:
                os.sched_yield()
        until = deadline(timeout)
        t_dry = _mono()
        while True:
            i = self._next(self._sleep_for_event(until, "get"))
            if i >= 0:
                self._spin = SPIN if _mono() - t_dry < 1e-4 else 0
                return i

    def _sleep_for_event(self, until: float | None, what: str) -> int:
        """Sleep on the group's wake-up semaphore until an event may be there; returns how the sleep
        ended (2: with a token, 1: without) for the next claim to end it in the same critical section.
        At shutdown the sleep is ended here and EndOfStream raised."""
        c, gb = self._ctl, self._gb
        left = time_left(until, what, self.name)
        wake_id = wakeup_of_group(self._group)
        self._sleep_announce(self._glid, gb + G_SLEEP, wake_id)
        got = False
        try:
            if c[PUBLISH] <= c[gb + G_RCLAIM] and c[RACT]:
                got = self._wakeup(wake_id).acquire(True, left)
        except BaseException:
            self._sleep_end(self._glid, gb + G_SLEEP, gb + G_POSTED, got)
            raise
        if not c[RACT]:
            self._sleep_end(self._glid, gb + G_SLEEP, gb + G_POSTED, got)
            raise EndOfStream  # the claim before the sleep released what get/get_batch held
        return 2 if got else 1

    def release(self) -> None:
        """Give back the current slot without waiting for the next one."""
        if self._pos < 0 or self._rec < 0:
            return
        c, rw = self._ctl, self._recw
        lk = self._acquire(self._glid)
        try:
            pos = self._pos
            c[rw + R_HELD] = -1
            if pos == c[self._gb + G_REL]:
                self._recompute_rel(self._group)
        finally:
            self._release(lk)
        self._pos = self._slot = -1
        if c[W_SLEEP]:
            self._post(LOCK_W, W_SLEEP, W_POSTED, 0, c[W_SLEEP])

    def get_metadata(self) -> tuple:
        """(counter, timestamp, deadtime) of the slot from the last ``get()``; (0, -1, -1) before."""
        i = self._slot
        if i < 0:
            return 0, -1.0, -1.0
        m = self._meta0 + i * self._stride_w
        cf = self._ctlf
        return self._ctl[m], cf[m + 1], cf[m + 2]

    def data_available(self) -> bool:
        """Something is pending for this group (or the buffer shut down, so ``get()`` returns at once)."""
        c = self._ctl
        if not c[RACT]:
            return True
        n = self._N  # lost or discarded slots do not count
        return any(c[self._pubq + r % n] >= 0 for r in range(c[self._gb + G_RCLAIM], c[PUBLISH]))

    def __iter__(self) -> Iterator[np.ndarray]:
        """Iterate over this group's share of the events until the buffer shuts down.

        A generator of the reader's own, so that it keeps the reader alive: ``for e in Reader(setup)``
        holds no other reference, and the compiled ``get`` refers to its reader only weakly."""
        yield from until_end(self.get)

    def close(self) -> None:
        """Release the slot from the last ``get()`` and detach; the group's other processes go on."""
        with contextlib.suppress(Exception):
            self.release()
        self._claimed.clear()
        super().close()


class _ObserverQueue:
    """``Observer.dataQ``: the original exposed a queue that rbObserver reads with ``get()``."""

    def __init__(self, observer: Observer):
        self._observer = observer

    def get(self, block: bool = True, timeout: float | None = None):
        return self._observer.get(timeout=timeout if block else 0.0)


class Observer(Attachment):
    """Samples the newest committed event as a copy; never takes a lock, so it cannot slow anybody.

    ``active`` (cleared by ``shutdown()``) and ``paused`` are the buffer's flags, as for ``Writer``.

    Args:
        setup_dict: the dict of ``RingBuffer.new_observer()``.
        min_interval: least seconds between two copies (default: the one given to ``new_observer``).

    Raises:
        ValueError: ``setup_dict`` is not an observer setup dict of a mimocorb buffer.
    """

    def __init__(self, setup_dict: dict, min_interval: float | None = None):
        super().__init__(setup_dict, "observer")
        if min_interval is None:
            min_interval = setup_dict.get("min_interval", 0.05)
        self.min_interval = min_interval
        self._poll = min(0.01, max(self.min_interval, 0.001))
        self.active = Flag(self._ctl, OACT)
        self.paused = Flag(self._ctl, PAUSED)
        self._last = -1
        self._t_last = 0.0
        self._wlock = self._lock(LOCK_W)
        self.dataQ = _ObserverQueue(self)

    def get(self, timeout: float | None = None):
        """The newest event not seen yet as ``(data_copy, metadata_copy)``; ``None`` at end of run."""
        c = self._ctl
        until = deadline(timeout)
        while True:
            if not c[OACT]:
                return None
            if c[PUBLISH] - 1 > self._last:
                wait = self._t_last + self.min_interval - _mono()
                if wait <= 0:
                    item = self._copy_newest()
                    if item is not None:
                        return item
                    wait = self._poll
            else:
                wait = self._poll
            if until is not None:
                left = until - _mono()
                if left <= 0:
                    raise RingTimeout(f"buffer '{self.name}': observer get timed out")
                wait = min(wait, left)
            time.sleep(wait)

    def _copy_newest(self):
        """Copy the newest slot and accept the copy only if no writer claimed the slot meanwhile."""
        c, n = self._ctl, self._N

        def newest() -> tuple[int, int, tuple[int, int] | None]:
            p = c[PUBLISH] - 1
            i = c[self._pubq + p % n]
            return p, i, (c[self._slotver + i], c[self._slotpos + i]) if i >= 0 else None

        for _ in range(8):
            got = self._ordered(newest)
            if got is None:
                continue
            p, i, version = got
            if version is None:  # lost or discarded
                self._last = p
                return None
            if version[1] != p:
                continue
            data = self._view(i).copy()
            meta = self._meta_record(i).reshape(1).copy()
            if self._ordered(lambda i=i: (c[self._slotver + i], c[self._slotpos + i])) == version:
                self._last = p
                self._t_last = _mono()
                return data, meta
        return None

    def _ordered(self, read):
        """``read()`` ordered against the writers' stores: on the compiled path between two full
        barriers; on the pure path under the writers' lock, tried without waiting (None: it is taken).
        An observer has no participant record: killed while holding the lock, it leaves the lock to be
        freed as one of a dead holder (a writer waiting for it does so within seconds)."""
        if fence is not None:
            fence()
            value = read()
            fence()
            return value
        lk = self._wlock
        if not lk.acquire(False):
            return None
        try:
            return read()
        finally:
            lk.release()

    def __iter__(self):
        while (item := self.get()) is not None:
            yield item

    def close(self) -> None:
        """Nothing to release: an observer holds no slot."""


class Monitor(Attachment):
    """Statistics of a buffer from any process that holds one of its setup dicts (of any kind).

    Args:
        setup_dict: a writer, reader or observer setup dict of the buffer.

    Raises:
        ValueError: ``setup_dict`` is not a setup dict of a mimocorb buffer.
    """

    def __init__(self, setup_dict: dict):
        super().__init__(setup_dict, None)
        from ._ringbuffer import RateMeter

        s = self.counters()
        self._meter = RateMeter(_now(), s["committed"], s["deadtime_sum"])

    def stats(self) -> dict:
        """Counters plus rate and mean deadtime since the previous call."""
        s = self.counters()
        s["rate"], s["mean_deadtime"] = self._meter(s["committed"], s["deadtime_sum"])
        return s

    def close(self) -> None:
        """Nothing to release: a monitor only reads counters."""
