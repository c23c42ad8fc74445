"""The wire: DATA messages through a real ZeroMQ socket pair come back as they went in; a receiver of
another protocol version is refused by a real server, which names both versions; the last messages of
a receiver that left count although the server's next send to it failed first."""

from __future__ import annotations

import time

import netkit
import numpy as np
import pytest
import zmq

from mimocorb import net
from mimocorb.net import _wire as w
from mimocorb.net._server import Server
from mimocorb.ring import METADATA_DTYPE, RingBuffer, Writer

pytestmark = pytest.mark.net


@pytest.fixture
def pair():
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://wire")
    b.connect("inproc://wire")
    yield a, b
    a.close(0)
    b.close(0)
    ctx.term()


def _events(n: int, vps: int, positions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.arange(n * vps, dtype=np.float64).reshape(n, vps) + 0.5
    meta = np.zeros(n, METADATA_DTYPE)
    meta["counter"], meta["timestamp"], meta["deadtime"] = np.arange(n) + 100, 1.25, 0.5
    return data, meta, np.asarray(positions, np.int64)


CASES = {  # name: (events, values per event, positions, data frames after the head)
    "one small event": (1, 4, [17], 0),
    "many small events": (1000, 1, np.arange(5, 1005), 0),
    "positions not consecutive": (5, 2, [3, 4, 9, 10, 12], 0),
    "medium events": (40, 300, np.arange(40), 1),
    "large events": (3, 9000, [7, 8, 9], 3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_data_messages_come_back_as_sent(pair, name: str) -> None:
    n, vps, positions, data_frames = CASES[name]
    tx, rx = pair
    data, meta, pos = _events(n, vps, positions)
    frames, nocopy = w.data_message(42, data, meta, pos)
    assert len(frames) == 2 + data_frames and nocopy == (name == "large events")
    tx.send_multipart(frames, copy=not nocopy)
    got = rx.recv_multipart(copy=False)
    seq, rows, meta2, pos2 = w.parse_data(got, np.dtype(np.float64), vps)
    assert seq == 42 and np.array_equal(np.asarray(rows), data)
    assert meta2.tolist() == meta.tolist() and pos2.tolist() == pos.tolist()
    one = w.parse_one(got, vps * 8)
    if name == "one small event":
        assert one is not None and (one.seq, one.position, one.counter) == (42, 17, 100)
        assert (one.timestamp, one.deadtime) == (1.25, 0.5)
        assert np.frombuffer(one.row, np.float64).tolist() == data[0].tolist()
    else:
        assert one is None


def test_an_observer_sample_has_no_position(pair) -> None:
    tx, rx = pair
    data, meta, _ = _events(1, 3, [0])
    frames, _ = w.data_message(-1, data, meta, np.full(1, -1, np.int64))
    tx.send_multipart(frames)
    seq, rows, meta2, pos = w.parse_data(rx.recv_multipart(copy=False), np.dtype(np.float64), 3)
    assert seq == -1 and pos.tolist() == [-1] and np.array_equal(rows, data)
    assert meta2["counter"].tolist() == [100]


@pytest.mark.timeout(60)
def test_a_receiver_of_another_protocol_version_is_refused(procs) -> None:
    address = netkit.free_tcp()
    ring = RingBuffer(8, 1, np.int64, name="A")
    server = procs.start(
        netkit.serve,
        {"default": ring.new_reader_group()},
        None,
        net.ServeOptions(address),
        netkit.CTX.Queue(),
    )
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    try:
        s.connect(address)
        hello = {"version": w.VERSION - 1, "group": "default", "mode": "read", "layout": None, "tag": -1}
        s.send_multipart([w.HELLO, w.pack_json({**hello, "hello": 1, "ring": "", "committed": []})])
        assert s.poll(30_000), "no answer from the server"
        kind, info = s.recv_multipart()
        assert kind == w.REFUSED
        assert (
            w.unpack_json(info)["reason"]
            == f"protocol version {w.VERSION - 1} (this server speaks {w.VERSION})"
        )
    finally:
        s.close(0)
        ctx.term()
        ring.shutdown(timeout=10)
        procs.join(server, 30)
        ring.close()


@pytest.mark.timeout(60)
def test_the_last_acknowledgement_of_a_receiver_that_left_counts() -> None:
    """A receiver acknowledges its last events, says goodbye and closes; the server, still holding
    credit, tries to send it more before it read those messages, and the send fails (the peer is
    gone). What the receiver acknowledged must count: it is not delivered again to others."""
    address = netkit.free_tcp()
    ring = RingBuffer(16, 1, np.int64, name="A")
    server = Server({"default": ring.new_reader_group()}, None, net.ServeOptions(address), None)
    gone = server.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    writer = Writer(ring.new_writer())
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    try:
        s.connect(address)
        hello = {"version": w.VERSION, "group": "default", "mode": "read", "layout": server.layout}
        hello.update(tag=-1, hello=1, ring="", committed=[])
        s.send_multipart([w.HELLO, w.pack_json(hello)])
        server._receive(30)
        assert s.poll(30_000) and s.recv_multipart()[0] == w.WELCOME
        s.send_multipart([w.CREDIT, w.pack_int(8)])
        server._receive(30)
        writer.put_batch(np.arange(1, 5, dtype=np.int64).reshape(-1, 1))
        server._serve_round()
        assert s.poll(30_000) and s.recv_multipart()[0] == w.DATA
        s.send_multipart([w.ACK, w.pack_pair(4, 0)])
        s.send_multipart([w.BYE])
        s.close(linger=5000)
        assert gone.poll(30_000), "the server never saw the receiver disconnect"
        time.sleep(0.05)  # the disconnect reaches the socket just after its monitor
        w.waiting(server.sock)  # ... and the socket takes it in when asked for its state
        writer.put_batch(np.arange(5, 9, dtype=np.int64).reshape(-1, 1))
        server._serve_round()  # the send fails: the receiver is gone
        server._receive(0)  # (had the send gone out after all, the receiver's messages are read here)
        (link,) = server.links.values()
        assert (link.stats.events_acked, link.stats.state) == (4, "ended"), link.stats
        (group,) = server.groups.values()
        assert [int(p) for ch in group.resend for p in ch.held.positions[ch.lo : ch.hi]] == [4, 5, 6, 7]
    finally:
        s.close(0)
        ctx.term()
        gone.close(0)
        server.sock.disable_monitor()
        writer.close()
        ring.shutdown(timeout=0)
        server.close()
        ring.close()
