"""The wire protocol between a served buffer and its remote readers (ZeroMQ multipart messages).

Sockets: the serving side binds one ROUTER (``ROUTER_HANDOVER``: a receiver that comes back under its
link id takes its place over); each receiver connects one DEALER whose routing id is its *link id*,
stable across restarts of the receiving process. Every message is a multipart message whose first
frame names its kind; numbers are little-endian int64, structured values are JSON.

Receiver -> server
  ``HELLO  {version, group, mode, layout, tag, hello, ring, committed}``  join ``group`` (mode
        ``read``) or observe (mode ``observe``); ``layout`` = ``{dtype, values_per_slot}`` (null: take
        the server's, for ``observe()``); ``tag`` = the link sequence number of the last event this
        link committed (-1: none), read back from the receiving ring itself; ``hello`` numbers the
        HELLOs of a link (one is repeated every heartbeat until answered); ``ring`` and ``committed``:
        the served buffer this receiver got events from and the positions in it of the events it
        committed lately, as ``[first, end)`` ranges (a restarted server drops those instead of
        sending them again).
  ``CREDIT n``  the receiver can take ``n`` more events (read mode) or the next sample (observe mode).
  ``ACK seq n``  every event of this link with sequence number below ``seq`` is committed in the
        receiving ring; ``n`` more credits (the space just freed). Only now does the server release
        the events in its ring. A connect worker sends one ACK for what it committed while more
        messages waited unread, never more than an eighth of its window late, at once when idle.
  ``PING``  heartbeat, sent when nothing else was sent for a heartbeat interval.
  ``BYE``  the receiver ends; what it did not acknowledge goes to other receivers of its group.

Server -> receiver
  ``WELCOME {version, server_id, layout, next, hello, ring, slots}``  accepted; ``next`` is the
        link sequence number of the next event it will get (what it committed is dropped from the
        resend queue; a server that does not know the link goes on from ``tag + 1``, so a link's
        numbers never start again); ``ring`` names the served buffer, ``slots`` is its size (the
        receiver remembers the positions of that many events it committed last);
        ``hello`` is the HELLO it answers: the receiver takes only the answer to its latest one (each
        HELLO resets the link's credits on the server).
  ``REFUSED {reason, server_layout, client_layout}``  e.g. a layout mismatch; the receiver ends
        with an error showing both layouts.
  ``DATA head [| data...]``  ``n`` events with link sequence numbers ``seq .. seq+n-1``: ``head`` is
        ``seq n p`` (int64); then, if ``p`` is -2, the events' ``n`` positions in the served buffer
        (its commit order numbers; otherwise they are ``p .. p+n-1``, and an observer's sample has
        ``p`` = -1: no position); then ``n`` metadata records (counter int64, timestamp float64,
        deadtime float64); then the data (``n x values_per_slot`` values of the layout's dtype) if it
        is smaller than ``ZERO_COPY_BYTES``. Larger data comes in a frame of its own, or for large
        events in one frame per event, sent straight from the serving ring's slots without a copy. A
        small message (a paced stream's single event) is thus one frame after its kind: the fewest
        to make and take apart. Observers get ``seq = -1``.
  ``END total``  the serving ring shut down after every event of the group was acknowledged: the
        stream is complete; the receiver ends once it committed everything before it.
  ``WHO``  a message came from a link the server does not know (it restarted, or forgot a link that
        was silent for longer than the peer timeout): say ``HELLO`` again.
  ``PING``  heartbeat.

Flow control and delivery: a DATA message never exceeds the receiver's credits, so a slow receiver
gets fewer events and the rest of its group takes more. Each link numbers its events without gaps;
the receiver commits them in that order (the numbers go into the receiving ring with the events) and
drops what it already has, so a resend after a reconnect, a lost connection or a restarted receiver
never duplicates an event; after a restart of the server itself, the positions a receiver reports
in its HELLO tell the new server what not to send again. A receiver that stays silent for the peer
timeout is given up: its unacknowledged events go back to its group, first in line for any receiver
(or for itself, if it comes back and says it committed part of them). Observers are served the
newest event, one per request, only when the socket takes it at once: they can never hold back the
ring.
"""

from __future__ import annotations

import json
import struct
from typing import NamedTuple, cast

import numpy as np
import zmq

from ..ring import METADATA_DTYPE

VERSION = 3
HELLO, CREDIT, ACK, PING, BYE = b"HELLO", b"CREDIT", b"ACK", b"PING", b"BYE"
WELCOME, REFUSED, DATA, END, WHO = b"WELCOME", b"REFUSED", b"DATA", b"END", b"WHO"
META_NP = np.dtype(METADATA_DTYPE)
ZERO_COPY_BYTES = 65536  # frames at least this large are sent without copying them into ZeroMQ
LISTED = -2  # the first position of a DATA message whose positions are listed (not consecutive)

Rows = np.ndarray | list  # events' data: an (n, vps) array or one array per event

_Q = struct.Struct("<q")
_QQ = struct.Struct("<qq")
_QQQ = struct.Struct("<qqq")
_META = struct.Struct("=qdd")  # one metadata record, as numpy lays out METADATA_DTYPE


class NetError(RuntimeError):
    """A link could not be set up or was refused (layout mismatch, wrong key, bad address)."""


def waiting(sock: zmq.Socket) -> bool:
    """A message waits unread on ``sock``: a look at its events, without a poll() system call."""
    return bool(cast(int, sock.get(zmq.EVENTS)) & zmq.POLLIN)


def pack_json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def unpack_json(frame) -> dict:
    return json.loads(bytes(frame))


def pack_int(v: int) -> bytes:
    return _Q.pack(v)


def unpack_int(frame) -> int:
    return _Q.unpack(bytes(frame))[0]


def pack_pair(a: int, b: int) -> bytes:
    return _QQ.pack(a, b)


def unpack_pair(frame) -> tuple[int, int]:
    a, b = _QQ.unpack(bytes(frame))
    return int(a), int(b)


def _tuples(x):
    """JSON turned the tuples of a dtype description into lists; numpy wants them back."""
    if isinstance(x, list):
        return [tuple(_tuples(e) for e in item) if isinstance(item, list) else item for item in x]
    return x


def layout_of(dtype, values_per_slot: int) -> dict:
    return {"dtype": np.lib.format.dtype_to_descr(np.dtype(dtype)), "values_per_slot": int(values_per_slot)}


def layout_dtype(layout: dict) -> np.dtype:
    return np.lib.format.descr_to_dtype(_tuples(layout["dtype"]))


def same_layout(a: dict, b: dict) -> bool:
    return layout_dtype(a) == layout_dtype(b) and a["values_per_slot"] == b["values_per_slot"]


def describe_layout(layout: dict) -> str:
    return f"{layout['values_per_slot']} x {layout_dtype(layout)}"


def data_message(seq: int, data: np.ndarray, meta: np.ndarray, positions: np.ndarray) -> tuple[list, bool]:
    """Frames of a DATA message and whether to send them without a copy.

    A small message goes as one frame after its kind (fewer frames cost less at both ends); large
    events as one frame per event, straight from the ring's slots (``data`` may be a view of them: the
    server holds the slots until the receiver acknowledged).
    """
    n = len(data)
    first = int(positions[0]) if n else 0
    if n == 1 or (n and int(positions[-1]) - first == n - 1):  # consecutive: the first says all
        head = [_QQQ.pack(seq, n, first)]
    else:
        head = [_QQQ.pack(seq, n, LISTED), np.ascontiguousarray(positions, np.int64).tobytes()]
    head.append(meta.tobytes())
    size = data.nbytes
    if n and size // n >= ZERO_COPY_BYTES:
        return [DATA, b"".join(head), *[data[i] for i in range(n)]], True
    if size < ZERO_COPY_BYTES:
        head.append(data.tobytes())
        return [DATA, b"".join(head)], False
    return [DATA, b"".join(head), np.ascontiguousarray(data)], False


def payload_bytes(frames: list) -> int:
    """The size of a DATA message after its kind (header, metadata, data)."""
    return sum(memoryview(f).nbytes for f in frames[1:])


def parse_data(frames, dtype: np.dtype, vps: int) -> tuple[int, Rows, np.ndarray, np.ndarray]:
    """(first sequence number, data, metadata (n,), positions (n,)) of a DATA message, viewing its
    frames; data is an (n, vps) array, or a list of n arrays of vps values when each event came in
    its own frame."""
    head = frames[1]
    seq, n, first = _QQQ.unpack_from(head)
    at = _QQQ.size
    if first == LISTED:
        positions = np.frombuffer(head, np.int64, count=n, offset=at)
        at += 8 * n
    elif first >= 0:
        positions = np.arange(first, first + n, dtype=np.int64)
    else:  # an observer's sample: no position
        positions = np.full(n, -1, np.int64)
    meta = np.frombuffer(head, META_NP, count=n, offset=at)
    if len(frames) == 2:
        data = np.frombuffer(head, dtype, count=n * vps, offset=at + META_NP.itemsize * n)
        return seq, data.reshape(n, vps), meta, positions
    if len(frames) == 3:
        return seq, np.frombuffer(frames[2], dtype, count=n * vps).reshape(n, vps), meta, positions
    if len(frames) != 2 + n:
        raise NetError(f"a DATA message of {n} events came with {len(frames) - 2} data frames")
    return seq, [np.frombuffer(f, dtype, count=vps) for f in frames[2:]], meta, positions


class One(NamedTuple):
    """A one-event DATA message, left as bytes: committed by the ring's single-slot calls, no arrays
    made on the way (what a paced stream's latency is made of)."""

    seq: int
    position: int
    counter: int
    timestamp: float
    deadtime: float
    row: memoryview


def parse_one(frames, slot_bytes: int) -> One | None:
    """A DATA message of one event of ``slot_bytes`` bytes with everything in its head frame; None for
    any other message (``parse_data`` takes those apart)."""
    if len(frames) != 2:
        return None
    head = memoryview(frames[1])
    if len(head) != _QQQ.size + _META.size + slot_bytes:
        return None
    seq, n, first = _QQQ.unpack_from(head)
    if n != 1:  # (the size leaves no room for listed positions)
        return None
    counter, timestamp, deadtime = _META.unpack_from(head, _QQQ.size)
    return One(seq, first, counter, timestamp, deadtime, head[_QQQ.size + _META.size :])
