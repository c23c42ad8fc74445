"""Batch calls: many slots per call, for small events and for the network link.

A batch takes several consecutive claim numbers (writer) or positions (reader) in one critical
section, using numpy on a view of the control block, so an event costs a few array elements instead
of a lock round trip. The protocol is the one of the single calls: claims in claim order, positions
in commit order, strict-FIFO recycling. What is in flight is recorded for reclaim: a writer marks the
slots of its batch in ``slotpos`` (``batch_mark``), a reader notes the position it holds and how many
events that covers (``R_BFIRST``, ``R_BCOUNT``).

Reader batches come in two kinds. ``get_batch`` behaves like ``get``: what it returned is held until
the next call. ``claim_batch`` hands out a ``Batch`` that stays held until its ``release()``, in any
order, while the reader claims more — for a consumer that may give events back only after somebody
else confirmed them (the network sender releases on acknowledgement).
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import _controlblock as cb
from ._controlblock import batch_mark
from ._protocol import DEAD_CHECK, META_NP, Attachment, EndOfStream, RingTimeout, deadline, time_left


class _Arrays:
    """numpy views of one attachment: the control words, and data and metadata of all slots as words.

    Data and metadata move as plain integer words (structured and strided copies are much slower in
    numpy); a run of consecutive slots, the common case, moves as one slice.
    """

    __slots__ = ("ctl", "data", "dtype", "meta", "ones", "pubq", "slotpos", "slotver", "tag", "vps")

    def __init__(self, att: Attachment):
        L, mm, n = att._L, att._mm, att._N
        self.ctl = np.frombuffer(mm, np.int64, count=L.control_words)
        self.pubq = self.ctl[L.pubq : L.pubq + n]
        self.slotpos = self.ctl[L.slotpos : L.slotpos + n]
        self.slotver = self.ctl[L.slotver : L.slotver + n]
        self.dtype, self.vps = att._npdtype, att.values_per_slot
        word = np.dtype(np.int64) if L.slot_bytes % 8 == 0 else np.dtype(np.uint8)
        nw = L.slot_bytes // word.itemsize
        self.data = np.ndarray((n, nw), word, mm, L.data_offset + cb.META_BYTES, (L.stride, word.itemsize))
        self.meta = np.ndarray((n, 3), np.int64, mm, L.data_offset, (L.stride, 8))
        self.tag = np.ndarray((n,), np.int64, mm, L.data_offset + 24, (L.stride,))  # the spare word
        self.ones: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * n  # see ``one``

    @staticmethod
    def index(slots: np.ndarray) -> np.ndarray | slice:
        m = len(slots)
        if m and slots[-1] - slots[0] == m - 1 and (m < 3 or bool((slots[1:] - slots[:-1] == 1).all())):
            return slice(int(slots[0]), int(slots[0]) + m)
        return slots

    def get(self, slots: np.ndarray, copy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The slots' data, shape (n, values_per_slot), and a copy of their metadata, shape (n,).

        The data is a copy, or with ``copy=False`` a view of the slots if they are consecutive.
        """
        ix = self.index(slots)
        m = len(slots)
        meta = self.meta[ix]
        if isinstance(ix, slice):
            meta = meta.copy()
            if not copy:  # rows are contiguous inside, strided between slots: a plain view
                return self.data[ix].view(self.dtype).reshape(m, self.vps), meta.view(META_NP).reshape(m)
        data = self.data[ix]
        if isinstance(ix, slice):
            data = data.copy()
        return _recast(data, self.dtype).reshape(m, self.vps), meta.view(META_NP).reshape(m)

    def one(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slot ``i`` as a batch of one, made once: its index array, a view of its data, shape
        (1, values_per_slot), and of its metadata, shape (1,) (a paced stream claims events one by
        one: building these views anew each time would cost more than the rest of the claim)."""
        v = self.ones[i]
        if v is None:
            data = self.data[i : i + 1].view(self.dtype).reshape(1, self.vps)
            v = self.ones[i] = (np.array([i]), data, self.meta[i : i + 1].view(META_NP).reshape(1))
        return v

    def put(self, slots: np.ndarray, ix: np.ndarray | slice, rows, meta: np.ndarray, tags) -> None:
        m = len(slots)
        if isinstance(rows, list):  # one array per event (e.g. the frames of a network message)
            for i, row in zip(slots.tolist(), rows, strict=True):
                self.data[i] = _recast(row, self.data.dtype)
        else:
            self.data[ix] = _recast(rows, self.data.dtype).reshape(m, -1)
        self.meta[ix] = np.ascontiguousarray(meta).view(np.int64).reshape(m, 3)
        self.tag[ix] = -1 if tags is None else tags


def _recast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The bytes of ``a`` (made contiguous) as a flat array of ``dtype``."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8).view(dtype)


def _ring_take(ring: np.ndarray, start: int, m: int) -> np.ndarray:
    """A copy of ``m`` consecutive entries of a per-slot array, from index ``start`` (mod its length)."""
    n = len(ring)
    a = start % n
    if a + m <= n:
        return ring[a : a + m].copy()
    return np.concatenate((ring[a:], ring[: a + m - n]))


def _arrays(att: Attachment) -> _Arrays:
    a = att.__dict__.get("_batch_arrays")
    if a is None:
        a = att.__dict__["_batch_arrays"] = _Arrays(att)
    return a


def as_metadata(metadata, n: int) -> np.ndarray:
    """Metadata as a packed METADATA_DTYPE array of length ``n`` (from any record array with its fields)."""
    out = np.empty(n, META_NP)
    try:
        for f in META_NP.names or ():
            out[f] = metadata[f]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise ValueError(f"metadata must be {n} records with fields counter, timestamp, deadtime: {e}") from e
    return out


class BatchWriting(Attachment):
    """``put_batch``: commit many events in one call (part of ``Writer``)."""

    _slot: int
    _ncalls: int
    _minrel_cache: int

    def process_buffer(self) -> None:  # provided by Writer
        raise NotImplementedError

    def get_new_buffer(self, timeout: float | None = None) -> np.ndarray:  # provided by Writer
        raise NotImplementedError

    def discard(self) -> None:  # provided by Writer
        raise NotImplementedError

    def put(self, event, counter=None, timestamp=-1.0, deadtime=-1.0, *, tag=-1, timeout=None) -> None:
        raise NotImplementedError  # provided by Writer

    def put_batch(self, data, metadata=None, timeout: float | None = None, tags=None) -> int:
        """Write and commit ``len(data)`` events: rows of ``values_per_slot`` values of the buffer dtype.

        ``data`` may also be a list of one array per event (each ``values_per_slot`` values of the
        dtype), written without joining them first.

        ``metadata``: records with fields counter, timestamp, deadtime (a timestamp of -1 becomes now);
        without it each event gets (number of earlier events of this writer, now, -1), as from
        ``get_new_buffer``. Waits for free slots like ``get_new_buffer``; the events are committed in
        order, in as many claims as the ring's free space needs. Returns how many were committed: all,
        unless writers were deactivated (or the claim limit reached, or ``timeout`` ran out) after a
        part was; with nothing committed those raise EndOfStream (RingTimeout) instead.

        ``tags`` (int64 per event, not seen by readers) are kept with the events for ``last_tag()``:
        the network receiver stores its sequence numbers there, so they are committed with the events.
        """
        rows = self._rows(data)
        n = len(rows)
        meta = self._batch_metadata(metadata, n)
        if tags is not None and not (
            isinstance(tags, np.ndarray) and tags.dtype == np.int64 and tags.shape == (n,)
        ):
            tags = np.broadcast_to(np.asarray(tags, np.int64), (n,))
        if self._slot >= 0:
            self.process_buffer()
        if n == 1:  # the single call, without the arrays of a batch
            counter, timestamp, deadtime = meta.item(0)
            tag = -1 if tags is None else int(tags[0])
            try:
                self.put(rows[0], counter, timestamp, deadtime, tag=tag, timeout=timeout)
            except RingTimeout:
                raise RingTimeout(f"buffer '{self.name}': put_batch timed out") from None
            return 1
        self._ncalls += n  # (get_new_buffer counts a single event)
        until = deadline(timeout)
        done = 0
        while done < n:
            try:
                claim = self._claim_batch(n - done)
                if claim is None:
                    claim = self._claim_batch_slow(n - done, until)
            except (EndOfStream, RingTimeout):
                if done:
                    return done
                raise
            m = len(claim[0])
            part = None if tags is None else tags[done : done + m]
            self._fill_and_publish(claim, rows[done : done + m], meta[done : done + m], part)
            done += m
        return n

    def _rows(self, data) -> np.ndarray | list:
        vps = self.values_per_slot
        if isinstance(data, list):  # one array per event, checked here so the fill cannot fail midway
            nbytes = vps * self._npdtype.itemsize
            for row in data:
                if not isinstance(row, np.ndarray) or row.nbytes != nbytes or row.dtype != self._npdtype:
                    raise ValueError(
                        f"buffer '{self.name}': put_batch needs arrays of {vps} x {self._npdtype} per event"
                    )
            return data
        rows = np.asarray(data)
        if rows.dtype != self._npdtype:
            try:
                rows = rows.astype(self._npdtype, casting="same_kind")
            except TypeError as e:
                raise ValueError(f"buffer '{self.name}': put_batch data of dtype {rows.dtype}: {e}") from None
        if rows.ndim == 1 and vps == 1:
            rows = rows.reshape(-1, 1)
        if rows.ndim != 2 or rows.shape[1] != vps:
            raise ValueError(
                f"buffer '{self.name}': put_batch needs rows of {vps} values, got shape {rows.shape}"
            )
        return rows

    def _batch_metadata(self, metadata, n: int) -> np.ndarray:
        if metadata is None:
            meta = np.empty(n, META_NP)
            meta["counter"] = np.arange(self._ncalls, self._ncalls + n)
            meta["timestamp"] = -1.0
            meta["deadtime"] = -1.0
        elif isinstance(metadata, np.ndarray) and metadata.dtype == META_NP and metadata.shape == (n,):
            meta = metadata  # already packed records (e.g. a network message's): used, never changed
        else:
            meta = as_metadata(metadata, n)
        return meta

    def _claim_batch(self, want: int) -> tuple[np.ndarray, np.ndarray | slice] | None:
        """Claim up to ``want`` slots in one critical section: (slots, their index: a slice if they are
        consecutive); None if the ring is full."""
        c, n, a = self._ctl, self._N, _arrays(self)
        lk = self._acquire(cb.LOCK_W)
        try:
            k, lim = c[cb.WCLAIM], c[cb.CLAIM_LIMIT]
            if not c[cb.WACT] or (lim and k >= lim):
                raise EndOfStream
            self._minrel_cache = self._minrel()
            m = min(want, self._minrel_cache + n - k, lim - k if lim else want)
            if m <= 0:
                return None
            rw = self._recw
            c[rw + cb.R_BFIRST] = k
            c[rw + cb.R_BCOUNT] = m
            if k >= n:  # the slots published n positions ago, in that order
                slots = _ring_take(a.pubq, k - n, m)
                if slots.min() < 0:
                    slots = np.where(slots < 0, ~slots, slots)
            else:
                claims = np.arange(k, k + m)
                slots = np.where(claims < n, claims, a.pubq.take((claims - n) % n))
                slots = np.where(slots < 0, ~slots, slots)
            ix = a.index(slots)
            a.slotpos[ix] = batch_mark(self._rec)
            a.slotver[ix] += 1
            c[cb.WCLAIM] = k + m
            return slots, ix
        finally:
            self._release(lk)

    def _claim_batch_slow(self, want: int, until: float | None) -> tuple[np.ndarray, np.ndarray | slice]:
        c, n = self._ctl, self._N
        next_check = time.monotonic() + DEAD_CHECK

        def ready() -> bool:
            self._minrel_cache = self._minrel()
            return c[cb.WCLAIM] < self._minrel_cache + n or not c[cb.WACT]

        while True:
            self._sleep(
                cb.LOCK_W, cb.W_SLEEP, cb.W_POSTED, 0, ready, time_left(until, "put_batch", self.name)
            )
            claim = self._claim_batch(want)
            if claim is not None:
                return claim
            if time.monotonic() > next_check:  # a reader killed while holding slots would block us
                self.reclaim_dead()
                next_check = time.monotonic() + DEAD_CHECK

    def _fill_and_publish(
        self, claim: tuple[np.ndarray, np.ndarray | slice], rows: np.ndarray | list, meta: np.ndarray, tags
    ) -> None:
        try:
            stamp = meta["timestamp"] == -1.0
            if stamp.any():
                meta = meta.copy()
                meta["timestamp"][stamp] = time.time()
            _arrays(self).put(claim[0], claim[1], rows, meta, tags)
        except BaseException:
            self._publish_batch(claim, 0.0, discard=True)
            raise
        self._publish_batch(claim, float(meta["deadtime"].sum()))

    def _publish_batch(
        self, claim: tuple[np.ndarray, np.ndarray | slice], deadsum: float, discard: bool = False
    ) -> None:
        """Give the claimed slots the next positions (or publish them as discarded: readers skip them)."""
        c, n, a = self._ctl, self._N, _arrays(self)
        slots, ix = claim
        m = len(slots)
        lk = self._acquire(cb.LOCK_W)
        try:
            p = c[cb.PUBLISH]
            entries = ~slots if discard else slots
            q = p % n
            if q + m <= n:
                a.pubq[q : q + m] = entries
            else:
                a.pubq[q:] = entries[: n - q]
                a.pubq[: q + m - n] = entries[n - q :]
            a.slotpos[ix] = np.arange(p, p + m)
            if discard:
                c[cb.DISCARDED] += m
            elif deadsum:
                self._ctlf[cb.DEADSUM] += deadsum
            c[cb.PUBLISH] = p + m
            c[self._recw + cb.R_BFIRST] = -1
        finally:
            self._release(lk)
        if c[cb.NGROUPS]:
            self._wake_readers()

    def last_tag(self) -> int:
        """The tag of the newest committed event (-1: none, or it was committed without a tag).

        Meant for a buffer's only writer after a restart: no other writer can recycle that slot.
        """
        c, n, a = self._ctl, self._N, _arrays(self)
        p = c[cb.PUBLISH] - 1
        for q in range(p, max(-1, p - n), -1):  # skip what was lost or discarded
            i = int(a.pubq[q % n])
            if i >= 0:
                return int(a.tag[i]) if a.slotpos[i] == q else -1
        return -1


class Batch:
    """Events claimed by ``Reader.claim_batch``: copies of their data and metadata, and the hold on
    their slots, which ``release()`` gives back (any order, once; a context manager releases on exit)."""

    __slots__ = ("_reader", "data", "end", "first", "metadata")

    def __init__(self, reader: BatchReading, first: int, end: int, data: np.ndarray, metadata: np.ndarray):
        self._reader: BatchReading | None = reader
        self.first, self.end = first, end  # the group's positions [first, end) this batch covers
        self.data, self.metadata = data, metadata

    def __len__(self) -> int:
        return len(self.data)

    def positions(self) -> np.ndarray:
        """The events' positions in the buffer (commit order numbers, unique for the buffer's life):
        ``first .. end - 1`` without the lost or discarded ones skipped. Only while held."""
        span = np.arange(self.first, self.end, dtype=np.int64)
        if len(span) == len(self.data):
            return span
        if self._reader is None:
            raise RuntimeError("Batch.positions() after release()")
        return span[_ring_take(_arrays(self._reader).pubq, self.first, len(span)) >= 0]

    def release(self) -> None:
        """Let the ring recycle these slots (the group is done with the events)."""
        r, self._reader = self._reader, None
        if r is not None:
            r._release_claimed(self)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class BatchReading(Attachment):
    """``get_batch`` and ``claim_batch`` (part of ``Reader``)."""

    _group: int
    _gb: int
    _glid: int
    _pos: int
    _slot: int
    _claimed: dict[int, int]  # first position of each outstanding claimed batch -> its events

    def release(self) -> None:  # provided by Reader
        raise NotImplementedError

    def _wake_writer(self, top: int) -> None:  # provided by Reader
        raise NotImplementedError

    def _sleep_for_event(self, until: float | None, what: str) -> int:  # provided by Reader
        raise NotImplementedError

    def get_batch(self, max_n: int, timeout: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Release what the previous call held, wait for this group's next events, return up to ``max_n``
        of them as ``(data, metadata)`` copies: shape (n, values_per_slot) of the buffer dtype and (n,)
        of METADATA_DTYPE, in commit order. Their slots stay held until the next ``get``/``get_batch``/
        ``release()``, as with ``get``. EndOfStream at shutdown."""
        if self._claimed:
            raise RuntimeError(f"buffer '{self.name}': get_batch while claimed batches are outstanding")
        slots, _, _ = self._batch(max_n, False, timeout)
        return _arrays(self).get(slots)

    def claim_batch(self, max_n: int, timeout: float | None = None, copy: bool = True) -> Batch:
        """Like ``get_batch``, but the events stay held until ``Batch.release()``, while later calls claim
        more. Other processes of the group go on taking the following events meanwhile; the ring
        recycles nothing from the oldest outstanding batch on, so the group's guarantees hold.

        ``copy=False``: ``data`` is a view of the slots when they are consecutive (the common case),
        valid until ``release()`` — for sending large events without copying them."""
        if self._pos >= 0:
            self.release()
        slots, first, end = self._batch(max_n, True, timeout)
        a = _arrays(self)
        if len(slots) == 1:
            _, data, meta = a.one(int(slots[0]))
            return Batch(self, first, end, data.copy() if copy else data, meta.copy())
        return Batch(self, first, end, *a.get(slots, copy))

    def _batch(self, max_n: int, keep: bool, timeout: float | None) -> tuple[np.ndarray, int, int]:
        if max_n < 1:
            raise ValueError(f"buffer '{self.name}': max_n must be at least 1, got {max_n}")
        if not self._ctl[cb.RACT]:
            self.release()
            raise EndOfStream
        got = self._take(max_n, keep)
        if got is None or not len(got[0]):
            got = self._take_slow(max_n, keep, timeout)
        return got

    def _take(self, max_n: int, keep: bool, woke: int = 0) -> tuple[np.ndarray, int, int] | None:
        """Claim up to ``max_n`` positions (and, unless ``keep``, release what is held) in one critical
        section; None if nothing is pending. ``woke`` ends a sleep as in ``Reader._next``."""
        c, gb, rw, a = self._ctl, self._gb, self._recw, _arrays(self)
        self._sync_top(c[gb + cb.G_RCLAIM] + max_n - 1)
        lk = self._acquire(self._glid)
        released = self._pos >= 0
        try:
            if woke:
                c[gb + cb.G_SLEEP] -= 1
                if woke == 2:
                    c[gb + cb.G_POSTED] -= 1
                c[rw + cb.R_SLEEP] = -1
            r, top = c[gb + cb.G_RCLAIM], self._top()
            hi = min(top, r + max_n)
            if hi - r == 1 and (i := c[self._pubq + r % self._N]) >= 0:  # one event: no array work
                slots = a.one(i)[0]
            else:
                slots = _ring_take(a.pubq, r, hi - r)
                if hi > r and slots.min() < 0:
                    slots = slots[slots >= 0]
            if hi > r:
                c[gb + cb.G_SKIPPED] += (hi - r) - len(slots)
                c[gb + cb.G_RCLAIM] = hi
            if keep:
                if len(slots):
                    if not self._claimed:
                        c[rw + cb.R_HELD] = r
                        c[rw + cb.R_BCOUNT] = len(slots)
                    else:
                        c[rw + cb.R_BCOUNT] += len(slots)
                    self._claimed[r] = len(slots)
            else:
                held = r if len(slots) else -1
                c[rw + cb.R_HELD] = self._pos = held
                c[rw + cb.R_BCOUNT] = len(slots)
            c[rw + cb.R_BFIRST] = c[rw + cb.R_HELD]
            self._recompute_rel(self._group)
        finally:
            self._release(lk)
        self._slot = -1
        if released and c[cb.W_SLEEP]:
            self._wake_writer(top)
        return (slots, r, hi) if hi > r else None

    def _take_slow(self, max_n: int, keep: bool, timeout: float | None) -> tuple[np.ndarray, int, int]:
        """Wait for events: a short spin (yielding) while they come fast, else sleep on the group's
        wake-up semaphore."""
        c, gb = self._ctl, self._gb
        for k in range(64):
            if c[cb.PUBLISH] > c[gb + cb.G_RCLAIM]:
                got = self._take(max_n, keep)
                if got is not None and len(got[0]):
                    return got
            if k & 15 == 15:
                os.sched_yield()
        until = deadline(timeout)
        while True:
            got = self._take(max_n, keep, self._sleep_for_event(until, "get_batch"))
            if got is not None and len(got[0]):
                return got

    def _release_claimed(self, batch: Batch) -> None:
        if self._rec < 0 or batch.first not in self._claimed:
            return
        c, gb, rw = self._ctl, self._gb, self._recw
        lk = self._acquire(self._glid)
        try:
            c[rw + cb.R_BCOUNT] -= self._claimed.pop(batch.first)
            oldest = next(iter(self._claimed), -1)  # claimed in position order, so the first key is oldest
            c[rw + cb.R_HELD] = c[rw + cb.R_BFIRST] = oldest
            if c[gb + cb.G_NMEM] == 1:
                c[gb + cb.G_REL] = oldest if oldest >= 0 else c[gb + cb.G_RCLAIM]
            else:
                self._recompute_rel(self._group)
        finally:
            self._release(lk)
        if c[cb.W_SLEEP]:
            self._wake_writer(c[cb.PUBLISH])

    def outstanding(self) -> int:
        """Events of claimed batches not released yet."""
        return self._ctl[self._recw + cb.R_BCOUNT] if self._claimed else 0


__all__ = ["Batch", "BatchReading", "BatchWriting", "as_metadata"]
