"""The serving end: one process that is the network reader group(s) of a local buffer.

Events are claimed from the ring with ``Reader.claim_batch`` and stay held — the ring cannot recycle
them, so back-pressure reaches the writers — until the receiver acknowledged that it committed them.

A killed server is restarted without loss or duplicate, although the new process knows nothing of
the old one's links:

- the groups are made with ``redeliver``: the ring hands what the dead process held, from its oldest
  batch still held on, to the group's next process, in order (batches released among them come too);
- every event goes out with its position in the served buffer (unique for the buffer's life, unlike
  the writers' counters), and receivers remember the positions of the events they committed lately
  (as many as the buffer has slots, which covers whatever a server can hold); a receiver new to this
  server sends them in its HELLO, for the buffer they belong to (the segment name: a new serving run
  of the same setup is another buffer, its positions start again);
- a link new to this server is numbered on from the receiver's tag, so the receiver's drop of
  duplicates by link number and its ``tag`` in later HELLOs keep their meaning across the restart;
- the positions reported go into the group's ``committed`` set: events claimed at those positions are
  released without being sent; once claims are past the set's newest position it is dropped, so the
  normal path pays nothing;
- in a group shared by several receivers, the server must know all of them before it hands anything
  out (it could give receiver B what A committed): the ids of the live receivers are kept in
  ``links_file``; a new server waits for those of a group (at most ``peer_timeout``) before that
  group's first claim. A receiver that does not come back in time is given up, and what it committed
  without acknowledging may be delivered again to others (logged).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import time
import uuid

import numpy as np
import zmq

from ..ring import Batch, EndOfStream, Observer, Reader, RingTimeout
from . import _wire as w
from ._config import LinkStats, RateClock, Report, ServeOptions, secure_server

RING_WAIT = 0.005  # an idle server with credits waits this long on the ring before looking at the socket
SOCKET_WAIT = 0.05  # ... and without credits this long on the socket before looking at the ring's state

log = logging.getLogger("mimocorb.net")


class _Held:
    """A claimed ring batch; released once every one of its events is acknowledged."""

    __slots__ = ("batch", "pending", "positions")

    def __init__(self, batch: Batch):
        self.batch, self.pending = batch, len(batch)
        self.positions = batch.positions()

    def done(self, n: int) -> None:
        self.pending -= n
        if self.pending <= 0:
            self.batch.release()


class _Chunk:
    """Events ``lo:hi`` of a held batch, with the link they were last sent on and the sequence
    number ``origin_seq`` that event ``lo`` had there (-1: never sent)."""

    __slots__ = ("held", "hi", "lo", "origin", "origin_seq", "resend", "seq")

    def __init__(self, held: _Held, lo: int, hi: int):
        self.held, self.lo, self.hi = held, lo, hi
        self.seq = self.origin_seq = -1
        self.origin = b""
        self.resend = False

    def __len__(self) -> int:
        return self.hi - self.lo

    def drop_front(self, k: int) -> None:
        """The first ``k`` events are committed by the receiver."""
        k = min(k, len(self))
        if k > 0:
            self.lo += k
            self.origin_seq += k
            self.seq += k
            self.held.done(k)

    def split(self, k: int) -> _Chunk:
        """Cut off the first ``k`` events as a chunk of their own."""
        head = _Chunk(self.held, self.lo, self.lo + k)
        head.origin, head.origin_seq, head.resend = self.origin, self.origin_seq, self.resend
        self.lo += k
        if self.origin_seq >= 0:
            self.origin_seq += k
        return head


class _Link:
    __slots__ = (
        "alive",
        "credit",
        "group",
        "id",
        "inflight",
        "last_seen",
        "mode",
        "next_seq",
        "rate",
        "stats",
    )

    def __init__(self, lid: bytes, group: str, mode: str):
        self.id, self.group, self.mode = lid, group, mode
        self.alive, self.credit, self.next_seq = True, 0, 0
        self.inflight: collections.deque[_Chunk] = collections.deque()
        self.last_seen = time.monotonic()
        self.stats = LinkStats(
            "serve", lid.decode(errors="replace"), lid.decode(errors="replace"), group, mode, "connected"
        )
        self.rate = RateClock()


class _Group:
    __slots__ = ("awaited", "committed", "dropped", "ended", "links", "name", "reader", "resend")

    def __init__(self, name: str, reader: Reader):
        self.name, self.reader = name, reader
        self.resend: list[_Chunk] = []  # waiting for a receiver, oldest first
        self.links: list[_Link] = []
        self.ended = False
        self.awaited: set[bytes] = set()  # receivers of the previous server not back yet
        self.committed = np.empty(0, np.int64)  # positions returning receivers committed (sorted)
        self.dropped = 0  # events released without sending: a receiver had them already


class Server:
    """The serve worker's state; ``run()`` until the ring ends (then END to every receiver)."""

    def __init__(
        self, groups: dict[str, dict], observer: dict | None, opts: ServeOptions, report: Report | None
    ):
        self.opts, self._report = opts, report
        self.server_id = uuid.uuid4().hex
        self.groups = {name: _Group(name, Reader(setup)) for name, setup in groups.items()}
        if not self.groups:
            raise ValueError("a served buffer needs at least one reader group")
        any_reader = next(iter(self.groups.values())).reader
        self.layout = w.layout_of(any_reader.dtype, any_reader.values_per_slot)
        self.ring_id, self.slots = any_reader.segment, any_reader.number_of_slots
        for group, lid in _read_links(opts.links_file):
            if group in self.groups:
                self.groups[group].awaited.add(lid)
        self._recovery_end = time.monotonic() + opts.peer_timeout
        self._max_n = max(1, min(opts.max_batch, opts.max_message_bytes // any_reader.slot_bytes))
        self.observer = Observer(observer, min_interval=opts.observe_interval) if observer else None
        self.links: dict[bytes, _Link] = {}
        self._wanting: set[bytes] = set()  # observers that asked for a sample
        self._t_sample = 0.0  # monotonic time before which no sample is taken
        self._ctx = ctx = zmq.Context()  # its own: a context inherited through fork() is unusable
        self.sock = s = ctx.socket(zmq.ROUTER)
        s.setsockopt(zmq.LINGER, 1000)
        s.setsockopt(zmq.ROUTER_HANDOVER, 1)
        s.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._auth = None
        try:
            self._auth = secure_server(ctx, s, opts)
            s.bind(opts.address)
        except (zmq.ZMQError, w.NetError) as e:
            self.close()
            if isinstance(e, w.NetError):
                raise
            raise w.NetError(f"cannot serve on '{opts.address}': {e}") from None
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)
        self._t_house = self._t_report = time.monotonic()
        self._turn = 0

    # ---- main loop --------------------------------------------------------------------------
    def run(self) -> str:
        try:
            while not all(g.ended for g in self.groups.values()):
                busy = self._serve_round()  # with credit, this waited on the ring already
                self._receive(0 if busy or self._has_credit() else SOCKET_WAIT)
                self._housekeeping()
            self._finish()
        finally:
            self.close()
        return "shutdown"

    def _has_credit(self) -> bool:
        return any(lk.alive and lk.credit > 0 for g in self.groups.values() for lk in g.links)

    def _serve_round(self) -> bool:
        """Send what credits allow, to every link of every group, oldest (resend) events first.

        The wait for new events happens here, on the ring's doorbell, when there is credit and the
        previous round moved nothing (so the socket is looked at every RING_WAIT at worst)."""
        busy = False
        for g in self.groups.values():
            if g.ended:
                continue
            links = [lk for lk in g.links if lk.alive and lk.credit > 0]
            if not links or self._recovering(g):
                self._check_end(g)
                continue
            self._turn += 1
            links = links[self._turn % len(links) :] + links[: self._turn % len(links)]
            for lk in links:
                busy |= self._feed(g, lk, wait=not busy)
        if self._wanting and time.monotonic() >= self._t_sample:
            self._sample()
        return busy

    def _feed(self, g: _Group, lk: _Link, wait: bool) -> bool:
        sent = False
        while True:
            sent |= self._send_queued(g, lk)
            if lk.credit <= 0 or g.resend:
                return sent
            try:
                batch = g.reader.claim_batch(
                    min(lk.credit, self._max_n), timeout=0 if sent or not wait else RING_WAIT, copy=False
                )
            except RingTimeout:
                return sent
            except EndOfStream:
                g.ended = True
                return sent
            chunks = self._unsent(g, _Held(batch))
            if len(chunks) == 1 and self._send(lk, chunks[0]):  # the common case: straight out
                return True
            g.resend.extend(chunks)  # not taken by the socket, or pieces around events already there
            wait = False

    def _send_queued(self, g: _Group, lk: _Link) -> bool:
        """Send what waits in the group's resend queue, as far as credits and the socket allow."""
        sent = False
        while lk.credit > 0 and g.resend:
            ch = g.resend[0]
            if len(ch) > lk.credit:
                ch = ch.split(lk.credit)
            else:
                g.resend.pop(0)
            if not self._send(lk, ch):
                g.resend.insert(0, ch)
                return sent
            sent = True
        return sent

    def _recovering(self, g: _Group) -> bool:
        """A restarted server waits for the receivers its predecessor had (their HELLOs say what they
        committed) before it hands out the group's events, at most the peer timeout."""
        if g.awaited and time.monotonic() > self._recovery_end:
            names = ", ".join(sorted(lid.decode(errors="replace") for lid in g.awaited))
            log.warning(
                "%s: group %s: receiver(s) %s did not come back within %g s; events they had committed "
                "without acknowledging them may be delivered again",
                self.opts.address,
                g.name,
                names,
                self.opts.peer_timeout,
            )
            g.awaited.clear()
            self._save_links()
        return bool(g.awaited)

    def _unsent(self, g: _Group, held: _Held) -> list[_Chunk]:
        """A new claim as chunks to send, without the events that returning receivers committed already
        (they are released at once): those a killed predecessor sent and the ring gave back."""
        n = len(held.batch)
        if not len(g.committed):
            return [_Chunk(held, 0, n)]
        pos = held.positions
        done = np.isin(pos, g.committed)
        if pos[-1] >= g.committed[-1]:  # claims go on in position order: nothing later can be there
            g.committed = g.committed[:0]
        k = int(done.sum())
        if k:
            g.dropped += k
            held.done(k)
        if not len(g.committed) and g.dropped:
            log.warning(
                "%s: group %s: %d event(s) given back by the ring were committed by receivers already; "
                "released without sending them again",
                self.opts.address,
                g.name,
                g.dropped,
            )
        chunks, lo = [], -1
        for i, d in enumerate([*done.tolist(), True]):
            if not d and lo < 0:
                lo = i
            elif d and lo >= 0:
                chunks.append(_Chunk(held, lo, i))
                lo = -1
        return chunks

    def _send(self, lk: _Link, ch: _Chunk) -> bool:
        b, lo, hi = ch.held.batch, ch.lo, ch.hi
        parts: tuple[np.ndarray, ...] = b.data, b.metadata, ch.held.positions
        if lo or hi != len(b):  # a part of the claim (usually it is all of it: no slices to make)
            parts = tuple(p[lo:hi] for p in parts)
        frames, nocopy = w.data_message(lk.next_seq, *parts)
        try:
            self.sock.send_multipart([lk.id, *frames], flags=zmq.NOBLOCK, copy=not nocopy)
        except zmq.Again:
            return False
        except zmq.ZMQError as e:
            if e.errno != zmq.EHOSTUNREACH:
                raise
            self._last_words(lk)
            return False
        n = len(ch)
        if ch.resend:
            lk.stats.events_resent += n
        ch.seq, ch.origin, ch.origin_seq, ch.resend = lk.next_seq, lk.id, lk.next_seq, True
        lk.next_seq += n
        lk.credit -= n
        lk.inflight.append(ch)
        lk.stats.events_sent += n
        lk.stats.bytes += w.payload_bytes(frames)
        return True

    def _last_words(self, lk: _Link) -> None:
        """A receiver that ended may have left its last acknowledgement and its goodbye unread here:
        they count before it is given up, or what it committed would be delivered again to others."""
        seen = lk.last_seen
        self._receive(0)
        if lk.last_seen == seen:
            self._gone(lk, "not connected")

    def _sample(self) -> None:
        """Send the newest event to observers that asked; never waits (dropped if the socket is busy).

        At most one sample per ``observe_interval`` for all observers together, also when nothing new
        came: looking at the ring costs the serving loop once per interval, not once per round."""
        obs = self.observer
        if obs is None:
            return
        self._t_sample = time.monotonic() + self.opts.observe_interval
        try:
            item = obs.get(timeout=0)
        except RingTimeout:
            return
        if item is None:
            return
        data, meta = item
        frames, _ = w.data_message(-1, data.reshape(1, -1), meta, _NO_POSITION)
        for lid in list(self._wanting):
            lk = self.links.get(lid)
            with contextlib.suppress(zmq.Again, zmq.ZMQError):
                self.sock.send_multipart([lid, *frames], flags=zmq.NOBLOCK)
                if lk is not None:
                    lk.stats.events_sent += 1
                    lk.stats.bytes += w.payload_bytes(frames)
            self._wanting.discard(lid)

    # ---- incoming messages ------------------------------------------------------------------
    def _receive(self, timeout: float) -> None:
        if timeout > 0:
            if not self._poller.poll(int(timeout * 1000)):
                return
        elif not w.waiting(self.sock):  # a busy loop's look
            return
        for _ in range(256):
            try:
                frames = self.sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            if len(frames) >= 2:
                self._handle(frames[0].bytes, frames[1], [f.bytes for f in frames[2:]])

    def _handle(self, lid: bytes, frame: zmq.Frame, rest: list) -> None:
        lk = self.links.get(lid)
        kind = frame.bytes
        if kind == w.HELLO:
            self._hello(lid, w.unpack_json(rest[0]), _peer_address(frame))
            return
        if lk is None or not lk.alive:
            self._to(lid, w.WHO)
            return
        lk.last_seen = time.monotonic()
        if kind == w.ACK:
            seq, credit = w.unpack_pair(rest[0])
            self._ack(lk, seq)
            lk.credit += credit
        elif kind == w.CREDIT:
            if lk.mode == "observe":
                self._wanting.add(lid)
            else:
                lk.credit += w.unpack_int(rest[0])
        elif kind == w.BYE:
            self._gone(lk, "said goodbye", state="ended")

    def _hello(self, lid: bytes, hello: dict, peer: str) -> None:
        mode, group = hello.get("mode", "read"), hello.get("group", "default")
        layout = hello.get("layout")
        reason = None
        if hello.get("version") != w.VERSION:
            reason = f"protocol version {hello.get('version')} (this server speaks {w.VERSION})"
        elif layout is not None and not w.same_layout(layout, self.layout):
            reason = "layout mismatch"
        elif mode == "read" and group not in self.groups:
            reason = f"no reader group '{group}' (served groups: {', '.join(self.groups)})"
        elif mode == "observe" and self.observer is None:
            reason = "this buffer is not served to observers"
        if reason:
            info = {"reason": reason, "server_layout": self.layout, "client_layout": layout}
            self._to(lid, w.REFUSED, w.pack_json(info))
            self._note(
                LinkStats("serve", lid.decode(errors="replace"), "", group, mode, "refused", message=reason)
            )
            return
        lk = self.links.get(lid)
        tag = int(hello.get("tag", -1))
        was_alive = lk is not None and lk.alive
        if lk is None or lk.group != group or lk.mode != mode:
            was_alive = False
            lk = self.links[lid] = _Link(lid, group, mode)
            lk.next_seq = max(0, tag + 1)  # a link's numbers go on where the receiver is, never again from 0
            if mode == "read":
                g = self.groups[group]
                g.links.append(lk)
                if hello.get("ring") == self.ring_id:
                    self._returning(g, hello.get("committed") or [])
                g.awaited.discard(lid)
        else:
            lk.stats.reconnects += 1
            self._requeue(lk)
        lk.alive, lk.credit, lk.last_seen = True, 0, time.monotonic()
        lk.stats.state, lk.stats.peer = "connected", peer or lk.stats.peer
        if mode == "read":
            self._trim_committed(self.groups[group], lid, tag)
            if not was_alive:
                self._save_links()
        welcome = {"version": w.VERSION, "server_id": self.server_id, "layout": self.layout}
        welcome.update(next=lk.next_seq, hello=hello.get("hello"), ring=self.ring_id, slots=self.slots)
        self._to(lid, w.WELCOME, w.pack_json(welcome))

    def _returning(self, g: _Group, ranges: list) -> None:
        """A receiver of this buffer new to this server (so the server restarted) committed events at
        these positions; the ring may give them back, they are not sent again."""
        spans = [
            np.arange(max(lo, hi - self.slots), hi, dtype=np.int64) for lo, hi in ranges[-1024:] if hi > lo
        ]
        if spans:
            g.committed = np.union1d(g.committed, np.concatenate(spans))

    def _save_links(self) -> None:
        """The receivers of every group (connected, or awaited from the predecessor) for a successor."""
        path = self.opts.links_file
        if not path:
            return
        lines = [
            f"{g.name}\t{lid.hex()}\n"
            for g in self.groups.values()
            for lid in sorted({lk.id for lk in g.links if lk.alive} | g.awaited)
        ]
        with contextlib.suppress(OSError):
            with open(path + ".new", "w", encoding="utf-8") as f:
                f.writelines(lines)
            os.replace(path + ".new", path)

    def _ack(self, lk: _Link, seq_end: int) -> None:
        while lk.inflight:
            ch = lk.inflight[0]
            k = seq_end - ch.seq
            if k <= 0:
                return
            n = min(k, len(ch))
            ch.drop_front(n)
            lk.stats.events_acked += n
            if len(ch):
                return
            lk.inflight.popleft()

    def _trim_committed(self, g: _Group, lid: bytes, tag: int) -> None:
        """A returning receiver committed everything it got from us up to sequence number ``tag``."""
        keep, stats = [], self.links[lid].stats
        for ch in g.resend:
            if ch.origin == lid and 0 <= ch.origin_seq <= tag:
                before = len(ch)
                ch.drop_front(tag + 1 - ch.origin_seq)
                stats.events_acked += before - len(ch)
            if len(ch):
                keep.append(ch)
        g.resend[:] = keep

    def _requeue(self, lk: _Link) -> None:
        """Put a link's unacknowledged events back to its group, in ring order, first in line."""
        if lk.mode != "read" or not lk.inflight:
            return
        g = self.groups[lk.group]
        g.resend.extend(lk.inflight)
        lk.inflight.clear()
        g.resend.sort(key=lambda ch: (ch.held.batch.first, ch.lo))

    def _gone(self, lk: _Link, why: str, state: str = "gone") -> None:
        if not lk.alive:
            return
        lk.alive, lk.credit = False, 0
        self._requeue(lk)
        self._wanting.discard(lk.id)
        lk.stats.state, lk.stats.message = state, why
        self._report_link(lk)
        if lk.mode == "read":
            self._save_links()

    def _to(self, lid: bytes, *frames) -> None:
        with contextlib.suppress(zmq.Again, zmq.ZMQError):
            self.sock.send_multipart([lid, *frames], flags=zmq.NOBLOCK)

    # ---- timers, end, reports ---------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._t_house < min(0.1, self.opts.heartbeat):
            return
        self._t_house = now
        for lk in self.links.values():
            if not lk.alive:
                continue
            if now - lk.last_seen > self.opts.peer_timeout:
                self._gone(lk, f"silent for {self.opts.peer_timeout:g} s")
            elif now - lk.last_seen > self.opts.heartbeat / 2:
                self._to(lk.id, w.PING)
        if now - self._t_report >= self.opts.stats_interval:
            self._t_report = now
            for lk in self.links.values():
                if lk.alive:
                    self._report_link(lk)

    def _check_end(self, g: _Group) -> None:
        """A group without credit does not touch its ring: look at the ring's end flag instead."""
        if not g.reader.counters()["readers_active"]:
            g.ended = True

    def _finish(self) -> None:
        """The ring ended: END to every live link (repeated until it says BYE or end_grace passes)."""
        total = sum(len(g.resend) + sum(len(lk.inflight) for lk in g.links) for g in self.groups.values())
        if total:
            self._note(
                LinkStats(
                    "serve",
                    "",
                    self.opts.address,
                    "",
                    "read",
                    "ended",
                    message=f"{total} chunks unacknowledged at the end",
                )
            )
        deadline = time.monotonic() + self.opts.end_grace
        t_end = 0.0
        while time.monotonic() < deadline:
            live = [lk for lk in self.links.values() if lk.alive]
            if not live:
                break
            if time.monotonic() - t_end > self.opts.heartbeat:
                t_end = time.monotonic()
                for lk in live:
                    self._to(lk.id, w.END, w.pack_int(lk.next_seq))
            self._receive(SOCKET_WAIT)
        for lk in self.links.values():
            if lk.alive:
                lk.stats.state = "ended"
            self._report_link(lk)

    def _report_link(self, lk: _Link) -> None:
        lk.stats.rate = lk.rate(lk.stats.events_acked)
        lk.stats.time = time.time()
        self._note(LinkStats(**lk.stats.as_dict()))

    def _note(self, stats: LinkStats) -> None:
        if self._report is not None:
            self._report(stats)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()
        if self._auth is not None:
            self._auth.stop()  # type: ignore[attr-defined]
            self._auth = None
        self._ctx.term()
        for g in self.groups.values():
            g.reader.close()
        if self.observer is not None:
            self.observer.close()


_NO_POSITION = np.full(1, -1, np.int64)  # an observer's sample: its position is of no use to it


def _read_links(path: str | None) -> list[tuple[str, bytes]]:
    """(group, link id) of the receivers a predecessor wrote to ``path`` (none if there is no file)."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            rows = [line.rstrip("\n").partition("\t") for line in f]
    except (OSError, UnicodeDecodeError):
        return []
    links = []
    for group, _, lid in rows:
        with contextlib.suppress(ValueError):  # a damaged line names nobody to wait for
            links.append((group, bytes.fromhex(lid)))
    return links


def _peer_address(frame: zmq.Frame) -> str:
    """The address the message came from (empty where the transport has none, e.g. ipc)."""
    try:
        return str(frame.get("Peer-Address"))
    except (zmq.ZMQError, ValueError, TypeError):
        return ""


def serve_worker(
    groups: dict[str, dict], observer: dict | None, options: ServeOptions, report: Report | None = None
) -> str:
    """Serve a local buffer: ``groups`` maps each served group name to a reader-group setup dict of
    the buffer (``RingBuffer.new_reader_group()``, made before data flows so nothing is missed);
    ``observer`` is an observer setup dict (or None: no remote observers). Runs until the buffer shuts
    down (its drain waits for the receivers' acknowledgements), sends end-of-stream, returns
    "shutdown". Raises NetError if it cannot bind or its keys are unusable."""
    return Server(groups, observer, options, report).run()
