"""The receiving end: a link to a served buffer, the connect worker, ``observe()`` and ``join()``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from ..ring import EndOfStream, RingTimeout, Writer
from . import _wire as w
from ._config import ConnectOptions, LinkStats, RateClock, Report, secure_client

POLL_SLICE = 0.2  # the longest a receiver waits without looking at its ring and its timers
Arrival = tuple[int, w.Rows, np.ndarray, np.ndarray]  # new events: (seq, data, metadata, positions)
Got = Arrival | w.One
T = TypeVar("T")
PAUSE_SLICE = 0.05  # how often a paused receiver looks whether it may go on
FINAL_WAIT = 1.0  # the longest a receiver that ends waits to send its last acknowledgement and goodbye


class Ended(Exception):
    """The link is over: ``reason`` is "end-of-stream", "peer-timeout" or "connect-timeout"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Recent:
    """Positions in the served buffer of the events committed lately, as ``[first, end)`` ranges: those
    within ``keep`` (the served buffer's size) of the newest, which covers everything a killed server
    can have held, so its restarted successor can be told what not to send again."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self.keep = 0
        self._top = -1

    def clear(self) -> None:
        self.ranges.clear()
        self._top = -1

    def add(self, positions: np.ndarray | range) -> None:
        n = len(positions)
        if not n or positions[0] < 0:
            return
        if positions[-1] - positions[0] == n - 1:  # the usual case: one run
            runs = [(int(positions[0]), int(positions[-1]) + 1)]
        else:
            cuts = np.flatnonzero(np.diff(positions) != 1) + 1
            runs = [(int(r[0]), int(r[-1]) + 1) for r in np.split(positions, cuts)]
        for lo, hi in runs:
            if self.ranges and self.ranges[-1][1] == lo:
                self.ranges[-1][1] = hi
            else:
                self.ranges.append([lo, hi])
            self._top = max(self._top, hi)
        floor = self._top - self.keep
        if self.ranges[0][1] <= floor or len(self.ranges) > 512:
            self.ranges = [[max(lo, floor), hi] for lo, hi in self.ranges if hi > floor]


class ClientLink:
    """One DEALER link to a server: handshake, heartbeats, timeouts, DATA messages with dedupe.

    ``layout`` None takes the server's layout (observers from plain Python). ``tag`` is called for
    the sequence number of the last event committed (a HELLO carries it, so the server resends
    exactly the rest).
    """

    def __init__(self, opts: ConnectOptions, layout: dict | None, tag, report: Report | None = None) -> None:
        self.opts, self.layout, self._tag, self._report = opts, layout, tag, report
        self._shape: tuple[np.dtype, int] | None = None  # the layout's dtype and values per slot, once known
        self.committed = 0  # for join(): events committed by the caller (the tag when ``tag`` is None)
        self.one_bytes = 0  # > 0: one-event messages of events this size come as a w.One (for the ring)
        self._ctx = zmq.Context()  # its own: a context inherited through fork() is unusable
        self.sock = s = self._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 1000)
        s.setsockopt(zmq.IMMEDIATE, 1)  # nothing is queued for a server that is not there
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        s.setsockopt(zmq.ROUTING_ID, opts.link_id.encode())
        self._monitor = None
        try:
            secure_client(s, opts)
            if opts.secret_key:
                self._monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
            s.connect(opts.address)
        except (zmq.ZMQError, w.NetError) as e:
            s.close(0)
            self._ctx.term()
            if isinstance(e, w.NetError):
                raise
            raise w.NetError(f"cannot connect to '{opts.address}': {e}") from None
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)
        if self._monitor is not None:
            self._poller.register(self._monitor, zmq.POLLIN)
        self.expected: int | None = None  # next link sequence number; None until welcomed
        self.server_id = ""
        self.ring = ""  # the served buffer's name (its segment): positions are numbers in it
        self.recent = Recent()
        now = time.monotonic()
        self._t0 = self._last_recv = self._last_sent = now
        self._last_hello = -1.0
        self._hellos = 0  # HELLOs sent; a WELCOME answers one of them, only the latest counts
        self.stats = LinkStats("connect", opts.link_id, opts.address, opts.group, opts.mode, "waiting")
        self._rate = RateClock()
        self._t_report = now

    # ---- sending ----------------------------------------------------------------------------
    def send(self, *frames, wait: float = 0.0) -> bool:
        """Send without blocking, or wait up to ``wait`` s for room; False if the message did not go."""
        if wait > 0 and not self.sock.poll(int(wait * 1000), zmq.POLLOUT):
            return False
        try:
            self.sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        self._last_sent = time.monotonic()
        return True

    def _hello(self) -> None:
        msg = {
            "version": w.VERSION,
            "group": self.opts.group,
            "mode": self.opts.mode,
            "layout": self.layout,
            "tag": int(self._tag()) if self._tag is not None else self.committed - 1,
            "hello": self._hellos + 1,
            "ring": self.ring,
            "committed": self.recent.ranges,
        }
        if self.send(w.HELLO, w.pack_json(msg)):
            self._last_hello = time.monotonic()
            self._hellos += 1

    def ack(self, seq_end: int, credit: int, wait: float = 0.0) -> bool:
        return self.send(w.ACK, w.pack_pair(seq_end, credit), wait=wait)

    def credit(self, n: int) -> None:
        self.send(w.CREDIT, w.pack_int(n))

    # ---- receiving --------------------------------------------------------------------------
    def poll(self, timeout: float) -> Got | None:
        """Wait up to ``timeout`` s for the next new events: (first sequence number, data, metadata,
        positions in the served buffer), or a ``w.One`` (see ``one_bytes``), duplicates already
        dropped; None if nothing came. Raises Ended or NetError."""
        events = dict(self._poller.poll(max(0, int(timeout * 1000))))
        if self._monitor is not None and self._monitor in events:
            ev = recv_monitor_message(self._monitor)
            if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.stats.state = "refused"
                raise w.NetError(f"'{self.opts.address}' refused this link's key (wrong or unknown key)")
        if self.sock in events:
            for _ in range(64):  # what is waiting, without blocking; the first new events return
                try:
                    frames = self.sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._last_recv = time.monotonic()
                got = self._handle(frames)
                if got is not None:
                    self._timers()
                    return got
        self._timers()
        return None

    def _handle(self, frames) -> Got | None:
        kind = frames[0].bytes
        if kind == w.DATA and self.expected is not None:
            return self._data(frames)
        if kind == w.WELCOME:
            info = w.unpack_json(frames[1].bytes)
            if info.get("hello") != self._hellos:  # the server reset the link again for a later HELLO
                return None
            if self.layout is None:
                self.layout = info["layout"]
            if (self.server_id and info["server_id"] != self.server_id) or self.expected is not None:
                self.stats.reconnects += 1
            self.server_id, self.expected = info["server_id"], int(info["next"])
            if info.get("ring") != self.ring:  # another buffer (a new serving run): positions start anew
                self.ring = info.get("ring") or ""
                self.recent.clear()
            self.recent.keep = int(info.get("slots") or 0)
            self.stats.state = "connected"
            self.on_welcome()
        elif kind == w.REFUSED:
            info = w.unpack_json(frames[1].bytes)
            self.stats.state = "refused"
            raise w.NetError(self._refusal(info))
        elif kind == w.END:
            total = w.unpack_int(frames[1].bytes)
            if self.expected is None or self.expected >= total:
                self.send(w.BYE)
                self.stats.state = "ended"
                raise Ended("end-of-stream")
        elif kind == w.WHO:
            self.expected = None
            self._hello()
        return None

    def on_welcome(self) -> None:
        """Hook: a (re)established link; the connect worker grants its credits here."""

    def _refusal(self, info: dict) -> str:
        msg = f"'{self.opts.address}' refused the link: {info.get('reason')}"
        if info.get("server_layout") and info.get("client_layout"):
            msg += (
                f"; served buffer: {w.describe_layout(info['server_layout'])}, "
                f"this buffer: {w.describe_layout(info['client_layout'])}"
            )
        return msg

    def _data(self, frames) -> Got | None:
        if self.one_bytes and (one := w.parse_one(frames, self.one_bytes)) is not None:
            return one if self._new(one.seq, 1, frames) == 0 else None
        if self._shape is None:  # the layout is fixed once welcomed: parse its dtype once
            assert self.layout is not None
            self._shape = w.layout_dtype(self.layout), int(self.layout["values_per_slot"])
        seq, data, meta, positions = w.parse_data(frames, *self._shape)
        if seq < 0:  # a sample for an observer
            self.stats.bytes += w.payload_bytes(frames)
            return seq, data, meta, positions
        skip = self._new(seq, len(data), frames)
        if skip is None:
            return None
        if skip:
            data, meta, positions = data[skip:], meta[skip:], positions[skip:]
        return seq + skip, data, meta, positions

    def _new(self, seq: int, n: int, frames) -> int | None:
        """How many of the ``n`` events numbered from ``seq`` this link has already (to drop); None if
        none is new, or if some are missing before them (then the link starts over from what is
        committed)."""
        self.stats.bytes += w.payload_bytes(frames)
        exp = self.expected
        assert exp is not None
        if seq > exp:  # a gap: something was lost on the way
            self.expected = None
            self._hello()
            return None
        skip = exp - seq
        if skip >= n:
            return None  # all duplicates
        self.stats.events_sent += n - skip
        return skip

    def _timers(self, busy: bool = False) -> None:
        """Heartbeats, HELLO retries, timeouts and reports; ``busy``: we are waiting for our own ring,
        so the server's silence is not its fault (its messages wait unread)."""
        now = time.monotonic()
        o = self.opts
        if self.expected is None:
            if o.connect_timeout is not None and not self.server_id and now - self._t0 > o.connect_timeout:
                self.stats.state = "gone"
                raise Ended("connect-timeout")
            if now - self._last_hello > o.heartbeat:
                self._hello()
        elif now - self._last_sent > o.heartbeat:
            self.send(w.PING)
        if self.server_id and not busy and now - self._last_recv > o.peer_timeout:
            self.stats.state = "gone"
            self.stats.message = f"no word from '{o.address}' for {o.peer_timeout:g} s"
            raise Ended("peer-timeout")
        if self._report is not None and now - self._t_report >= o.stats_interval:
            self.report()

    def report(self) -> None:
        self._t_report = time.monotonic()
        self.stats.rate = self._rate(self.stats.events_acked)
        self.stats.time = time.time()
        if self._report is not None:
            self._report(LinkStats(**self.stats.as_dict()))

    def close(self) -> None:
        if self._monitor is not None:
            self.sock.disable_monitor()
            self._monitor.close(0)
            self._monitor = None
        self.sock.close()
        self._ctx.term()


class _RingLink(ClientLink):
    """A link feeding a ring. Acknowledgements of committed events are gathered while more messages
    wait unread, so a fast stream sends one ACK per burst rather than one per message; an idle link
    acknowledges at once (before it waits again), and at most an eighth of the window goes
    unacknowledged (the serving ring holds those events meanwhile)."""

    def __init__(self, opts, layout, tag, report, window: int):
        super().__init__(opts, layout, tag, report)
        self.window = window
        self.unacked = 0  # events committed (up to ``expected``) but not acknowledged yet
        self._ack_quota = max(1, window // 8)

    def on_welcome(self) -> None:
        self.unacked = 0  # the HELLO told the server what is committed
        self.credit(self.window if self.opts.mode == "read" else 1)

    def committed_events(self, k: int) -> None:
        self.unacked += k
        if self.unacked >= self._ack_quota or not w.waiting(self.sock):
            self.flush_ack()

    def flush_ack(self, wait: float = 0.0) -> None:
        """Acknowledge what is committed; an acknowledgement that could not go now goes with the next
        one (it also gives the server its credit back, and at the end tells it what to release)."""
        if self.unacked and self.expected is not None and self.ack(self.expected, self.unacked, wait):
            self.unacked = 0


def connect_worker(writer_setup: dict, options: ConnectOptions, report: Report | None = None) -> str:
    """Feed the local buffer of ``writer_setup`` from the buffer served at ``options.address``.

    Returns why it ended: "end-of-stream" (the serving run ended and everything is committed),
    "shutdown" (the local buffer ended), "peer-timeout" (the server vanished: reported, and what
    came is committed), "connect-timeout". Raises NetError if the link is refused (layout mismatch,
    wrong key, unknown group). Every step waits at most ``POLL_SLICE`` s, so ring shutdown is seen.
    While the local buffer is paused it takes nothing (its credits do not come back, so the server
    holds the events) but keeps the link alive.
    """
    wr = Writer(writer_setup)
    layout = w.layout_of(wr.dtype, wr.values_per_slot)
    window = options.window or wr.number_of_slots
    link = _RingLink(options, layout, wr.last_tag, report, window)
    if options.mode == "read":
        link.one_bytes = wr.slot_bytes  # the bytes of one event, as the ring lays them out
    link.stats.state = "waiting"
    reason = "shutdown"
    try:
        while wr.active.is_set():
            if wr.paused.is_set():  # the local run pauses: no credits come back, the server holds
                link._timers(busy=True)
                time.sleep(PAUSE_SLICE)
                continue
            got = link.poll(POLL_SLICE)
            if got is None:
                link.flush_ack()
                continue
            if isinstance(got, w.One):
                if not _commit(link, got.seq, range(got.position, got.position + 1), _put_one(wr, got)):
                    break
                continue
            seq, data, meta, positions = got
            if seq < 0:
                _put_sample(wr, data, meta)
                link.credit(1)
                continue
            if not _commit(link, seq, positions, _put_rows(wr, seq, data, meta)):
                break
    except Ended as e:
        reason = e.reason
    finally:
        link.stats.state = {"shutdown": "ended"}.get(reason, link.stats.state)
        if reason == "shutdown":
            link.flush_ack(wait=FINAL_WAIT)
            link.send(w.BYE, wait=FINAL_WAIT)
        link.stats.message = link.stats.message or reason
        link.report()
        link.close()
        wr.close()
    return reason


def _put_sample(wr: Writer, data: w.Rows, meta: np.ndarray) -> None:
    """An observer's sample goes in only if there is room at once: a replica never waits."""
    with contextlib.suppress(RingTimeout):
        wr.put_batch(data, meta, timeout=0)


def _put_one(wr: Writer, ev: w.One) -> Callable[[int], int]:
    """The commit of a one-event message: its bytes straight into a slot (``_commit``'s ``put``)."""

    def put(done: int) -> int:
        wr.put(ev.row, ev.counter, ev.timestamp, ev.deadtime, tag=ev.seq, timeout=POLL_SLICE)
        return 1

    return put


def _put_rows(wr: Writer, seq: int, data: w.Rows, meta: np.ndarray) -> Callable[[int], int]:
    """The commit of the events of a message from event ``done`` on (``_commit``'s ``put``), with
    their link numbers as tags."""
    tags = np.arange(seq, seq + len(data), dtype=np.int64)
    return lambda done: wr.put_batch(data[done:], meta[done:], timeout=POLL_SLICE, tags=tags[done:])


def _commit(link: _RingLink, seq: int, positions: np.ndarray | range, put: Callable[[int], int]) -> bool:
    """Commit the events numbered from ``seq`` (at ``positions`` in the served buffer) into the ring:
    ``put(done)`` commits what it can from event ``done`` on within POLL_SLICE and says how many;
    what is committed is acknowledged (every part while the ring is full). False at the ring's end
    (writers deactivated)."""
    done, n = 0, len(positions)
    while done < n:
        try:
            k = put(done)
        except RingTimeout:
            link.flush_ack()
            link._timers(busy=True)  # heartbeats go on while the ring is full
            continue
        except EndOfStream:
            return False
        link.recent.add(positions[done : done + k])
        done += k
        link.expected = seq + done
        link.stats.events_acked += k
        link.committed_events(k)
    return True


# ---- for scripts and notebooks -------------------------------------------------------------------


def observe(
    address: str,
    *,
    secret_key: str | None = None,
    server_key: str | None = None,
    insecure: bool = False,
    peer_timeout: float = 10.0,
    connect_timeout: float | None = 30.0,
) -> Iterator[tuple[np.ndarray, np.void]]:
    """Yield ``(data, metadata)`` samples of the buffer served at ``address`` as they come: a data row
    (values_per_slot values of its dtype) and a METADATA_DTYPE record. Ends when the serving run ends
    or is silent for ``peer_timeout`` s; raises NetError if refused. Never slows the serving run."""
    opts = ConnectOptions(
        address,
        mode="observe",
        secret_key=secret_key,
        server_key=server_key,
        insecure=insecure,
        peer_timeout=peer_timeout,
        connect_timeout=connect_timeout,
    )
    link = _RingLink(opts, None, lambda: -1, None, 1)

    def sample(got: Arrival) -> tuple[np.ndarray, np.void]:
        _, data, meta, _ = got
        link.credit(1)
        return np.array(data[0]), meta[0].copy()

    yield from _arrivals(link, sample)


def _arrivals(link: _RingLink, take: Callable[[Arrival], T]) -> Iterator[T]:
    """``take`` of everything ``link`` receives, until the serving run ends or falls silent; then the link
    is closed, also when the caller stops early."""
    try:
        while True:
            got = link.poll(POLL_SLICE)
            if got is not None:
                assert not isinstance(got, w.One)  # one_bytes is 0: events come as arrays
                yield take(got)
    except Ended:
        return
    finally:
        link.close()


class ReceivedBatch:
    """Events a ``join()`` iterator handed out; ``commit()`` acknowledges them and all before them, so
    the server may release them; what is not committed is sent again after a reconnect."""

    __slots__ = ("_link", "_positions", "data", "metadata", "seq")

    def __init__(self, link: ClientLink, seq: int, data: w.Rows, metadata: np.ndarray, positions: np.ndarray):
        self._link, self.seq, self.data, self.metadata = link, seq, data, metadata
        self._positions = positions

    def __len__(self) -> int:
        return len(self.data)

    def commit(self) -> None:
        link = self._link
        end = self.seq + len(self.data)
        n = end - max(link.committed, self.seq)
        if n > 0:
            link.committed = end
            link.recent.add(self._positions[len(self.data) - n :])
            link.stats.events_acked += n
            link.ack(end, n, wait=FINAL_WAIT)


def join(
    address: str,
    group: str = "default",
    *,
    window: int = 10000,
    secret_key: str | None = None,
    server_key: str | None = None,
    insecure: bool = False,
    peer_timeout: float = 10.0,
    connect_timeout: float | None = 30.0,
    link_id: str | None = None,
) -> Iterator[ReceivedBatch]:
    """Join reader group ``group`` of the buffer served at ``address`` from plain Python: yields
    ``ReceivedBatch`` objects (``data``, ``metadata``, ``seq``) in order; call ``commit()`` on each
    once it is safely processed. At most ``window`` events are handed out uncommitted. Ends after
    the serving run's end-of-stream (or when the server is silent for ``peer_timeout`` s)."""
    opts = ConnectOptions(
        address,
        group=group,
        secret_key=secret_key,
        server_key=server_key,
        insecure=insecure,
        peer_timeout=peer_timeout,
        connect_timeout=connect_timeout,
        window=window,
    )
    if link_id:
        opts.link_id = link_id
    link = _RingLink(opts, None, None, None, window)

    def batch(got: Arrival) -> ReceivedBatch:
        seq, data, meta, positions = got
        link.expected = seq + len(data)
        return ReceivedBatch(link, seq, data, meta, positions)

    yield from _arrivals(link, batch)
