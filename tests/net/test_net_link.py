"""Links between a served buffer and receiving buffers over real sockets (loopback TCP and ipc).

Every case counts 1..N at the receiving sinks: no loss, no duplicate, order kept, metadata with
its event; the serving ring's shutdown report says everything was delivered (acknowledged).
"""

from __future__ import annotations

import time

import netkit
import numpy as np
import pytest
from netkit import Receiver, assert_exact, drain, free_tcp, serve, source

from mimocorb import net
from mimocorb.ring import RingBuffer

pytestmark = [pytest.mark.net, pytest.mark.timeout(180)]

FAST = {"heartbeat": 0.2, "peer_timeout": 3.0}


class Serving:
    """A serving run: ring A with the served groups (made before any event), its serve worker."""

    def __init__(
        self, procs, address: str, groups=("default",), observer: bool = False, slots: int = 64, **kw
    ):
        self.procs, self.address = procs, address
        self.ring = RingBuffer(slots, 1, np.int64, name="A")
        self.setups = {g: self.ring.new_reader_group(redeliver=True) for g in groups}
        self.obs = self.ring.new_observer(min_interval=0.01) if observer else None
        self.reports = netkit.CTX.Queue()
        self.opts = net.ServeOptions(address, **{**FAST, **kw})
        self.worker = procs.start(serve, self.setups, self.obs, self.opts, self.reports)

    def restart(self) -> int:
        """SIGKILL the serve worker, reclaim what it held, as the run controller does, start it again;
        returns how many events the ring gave back to the new one."""
        self.procs.kill(self.worker)
        returned = sum(r.get("returned_events", 0) for r in self.ring.reclaim_dead([self.worker.pid]))
        self.worker = self.procs.start(serve, self.setups, self.obs, self.opts, self.reports)
        return returned

    def feed(self, n: int, batch: int = 37, pace: float = 0.0):
        return self.procs.start(source, self.ring.new_writer(), n, batch, pace)

    def end(self, timeout: float = 60) -> dict:
        self.ring.shutdown(timeout=timeout)
        self.procs.join(self.worker, 30)
        report = self.ring.shutdown_report
        self.ring.close()
        return report


def _receiver(procs, tmp_path, address, link_id="r1", group="default", **kw) -> Receiver:
    opts = net.ConnectOptions(address, group=group, link_id=link_id, **{**FAST, **kw})
    return Receiver(procs, opts, tmp_path / f"{link_id}.npy")


def _one_link_end_to_end(procs, tmp_path, address: str, n: int, order: str, batch: int = 37, **serve_kw):
    """n events from a source through one served group to one receiver, the run ended by its source;
    checks the delivery and the acknowledgements and returns the serving side's reports."""
    rx = _receiver(procs, tmp_path, address)
    try:
        if order == "receiver_first":
            rx.start()
        srv = Serving(procs, address, **serve_kw)
        src = srv.feed(n, batch=batch)
        if order == "server_first":  # the ring fills, the source waits: nothing is lost meanwhile
            assert _wait(lambda: srv.ring.stats()["committed"] == 64, 60), "the served ring did not fill"
            rx.start()
        procs.join(src, 120)
        report = srv.end()
        assert rx.outcome() == ("ok", "end-of-stream")
        rows = rx.finish()
    finally:
        rx.close()
    assert report["drained"], report
    assert_exact(rows, n, f"receiver of batches of {batch}")
    final = [s for s in drain(rx.reports) if s.state == "ended"]
    assert final and final[-1].events_acked == n and final[-1].role == "connect"
    return [s for s in drain(srv.reports) if s.events_acked]


@pytest.mark.parametrize("order", ["server_first", "receiver_first"])
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_every_event_once_in_order_in_both_start_orders(procs, tmp_path, order, transport) -> None:
    address = free_tcp() if transport == "tcp" else f"ipc://{tmp_path}/link.ipc"
    served = _one_link_end_to_end(procs, tmp_path, address, 20_000, order)
    assert max(s.events_acked for s in served) == 20_000
    if transport == "tcp":
        assert served[-1].peer.startswith("127.0.0.1"), served[-1].peer


def test_two_receivers_share_one_group(procs, tmp_path) -> None:
    """Union exact, no duplicate, both got events; the slower receiver (sink pauses) gets fewer."""
    n = 20_000
    address = free_tcp()
    srv = Serving(procs, address)
    fast = _receiver(procs, tmp_path, address, "fast")
    slow = Receiver(
        procs, net.ConnectOptions(address, link_id="slow", window=16, **FAST), tmp_path / "s.npy", 16, 0.002
    )
    try:
        fast.start()
        slow.start()
        procs.join(srv.feed(n, pace=0.0005), 120)
        report = srv.end()
        assert fast.outcome()[1] == "end-of-stream" and slow.outcome()[1] == "end-of-stream"
        a, b = fast.finish(), slow.finish()
    finally:
        fast.close()
        slow.close()
    assert report["drained"], report
    assert len(a) and len(b), f"both receivers got events ({len(a)}, {len(b)})"
    both = np.concatenate([a, b])
    both = both[np.argsort(both[:, 0], kind="stable")]
    assert_exact(both, n, "union of the group")
    for rows in (a, b):
        assert (np.diff(rows[:, 0]) > 0).all(), "a receiver got its share out of order"


def test_two_groups_each_complete(procs, tmp_path) -> None:
    n = 10_000
    address = free_tcp()
    srv = Serving(procs, address, groups=("farm", "archive"))
    rf = _receiver(procs, tmp_path, address, "f", group="farm")
    ra = _receiver(procs, tmp_path, address, "a", group="archive")
    try:
        rf.start()
        ra.start()
        procs.join(srv.feed(n), 120)
        report = srv.end()
        rows_f, rows_a = rf.finish(), ra.finish()
    finally:
        rf.close()
        ra.close()
    assert report["drained"], report
    assert_exact(rows_f, n, "group farm")
    assert_exact(rows_a, n, "group archive")


def test_observer_gets_samples_while_the_group_gets_everything(procs, tmp_path) -> None:
    n = 5_000
    address = free_tcp()
    srv = Serving(procs, address, observer=True)
    rx = _receiver(procs, tmp_path, address)
    obs = _receiver(procs, tmp_path, address, "obs", mode="observe")
    try:
        rx.start()
        obs.start()
        procs.join(srv.feed(n, batch=5, pace=0.001), 120)
        report = srv.end()
        rows, samples = rx.finish(), obs.finish()
    finally:
        rx.close()
        obs.close()
    assert report["drained"], report
    assert_exact(rows, n, "receiver")
    assert len(samples) >= 3, f"the observer got {len(samples)} samples"
    assert (samples[:, 0] == samples[:, 1]).all() and (np.diff(samples[:, 0]) > 0).all()


def test_layout_mismatch_is_refused_with_both_layouts(procs, tmp_path) -> None:
    address = free_tcp()
    srv = Serving(procs, address)
    ring = RingBuffer(8, 3, np.float32, name="B")
    result, reports = netkit.CTX.Queue(), netkit.CTX.Queue()
    try:
        opts = net.ConnectOptions(address, link_id="bad", **FAST)
        p = procs.start(netkit.connect, ring.new_writer(), opts, reports, result)
        kind, msg = result.get(timeout=30)
        procs.join(p, 30)
    finally:
        ring.close()
        srv.end(timeout=1)
    assert kind == "error"
    assert "layout mismatch" in msg and "1 x int64" in msg and "3 x float32" in msg, msg


def test_one_event_messages_every_event_once_in_order(procs, tmp_path) -> None:
    """Messages of one event each (as a paced source makes them) take the receiver's single-slot
    commit: the same exact count, order, metadata and acknowledgements."""
    _one_link_end_to_end(procs, tmp_path, free_tcp(), 3000, "receiver_first", batch=1, max_batch=1)


@pytest.mark.parametrize("max_batch", [1000, 1])
def test_receiver_killed_and_restarted_loses_and_duplicates_nothing(procs, tmp_path, max_batch) -> None:
    """Killed while committing messages of many events, or of one event each."""
    n = 30_000 if max_batch > 1 else 4000
    address = free_tcp()
    srv = Serving(procs, address, max_batch=max_batch)
    rx = _receiver(procs, tmp_path, address, "victim")
    try:
        rx.start()
        src = srv.feed(n, batch=20 if max_batch > 1 else 1, pace=0.0005)
        assert _wait(lambda: rx.ring.stats()["committed"] > n // 15, 60), "nothing arrived"
        procs.kill(rx.worker)
        rx.ring.reclaim_dead([rx.worker.pid])
        committed = rx.ring.stats()["committed"]
        assert committed < n, "the source was done before the kill: the case tests nothing"
        rx.start()  # the same link id: the server resends exactly what was not committed
        procs.join(src, 120)
        report = srv.end()
        assert rx.outcome()[1] == "end-of-stream"
        rows = rx.finish()
    finally:
        rx.close()
    assert report["drained"], report
    assert_exact(rows, n, "restarted receiver")


def test_server_killed_receiver_reports_and_ends_cleanly(procs, tmp_path) -> None:
    address = free_tcp()
    srv = Serving(procs, address)
    rx = _receiver(procs, tmp_path, address, peer_timeout=1.5)
    try:
        rx.start()
        procs.join(srv.feed(500), 60)
        assert _wait(lambda: rx.ring.stats()["committed"] == 500, 30)
        procs.kill(srv.worker)
        assert rx.outcome(timeout=30) == ("ok", "peer-timeout")
        rows = rx.finish()
        gone = [s for s in drain(rx.reports) if s.state == "gone"]
    finally:
        rx.close()
        srv.ring.close()
    assert_exact(rows, 500, "receiver")
    assert gone and "no word from" in gone[-1].message


@pytest.mark.parametrize("receivers", [1, 2])
def test_a_restarted_server_loses_and_doubles_nothing(procs, tmp_path, receivers) -> None:
    """The serve worker is killed while slow receivers hold many events unacknowledged; its restart gets
    them back from the ring and, told by each receiver what it committed, sends only the rest. With
    two receivers in the group it waits for both (they are in its links file) before it sends: the
    second one's heartbeat is slower, so it comes back later than the first."""
    n, address = 6000, free_tcp()
    srv = Serving(procs, address, slots=256, links_file=str(tmp_path / "links"), peer_timeout=10.0)
    rxs = [
        Receiver(
            procs,
            net.ConnectOptions(address, link_id=f"r{i}", **{**FAST, "heartbeat": 0.2 + i}),
            tmp_path / f"r{i}.npy",
            delay=0.02,
        )
        for i in range(receivers)
    ]
    try:
        for rx in rxs:
            rx.start()
        src = srv.feed(n, batch=50)
        assert _wait(lambda: srv.ring.stats()["groups"][0]["consumed"] > 1500, 60), "no events flowed"
        assert (tmp_path / "links").read_text().count("\n") == receivers
        returned = srv.restart()
        procs.join(src, 120)
        report = srv.end()
        outcomes = [rx.outcome() for rx in rxs]
        rows = [rx.finish() for rx in rxs]
    finally:
        for rx in rxs:
            rx.close()
    assert returned > 0 and report["drained"], (returned, report)
    assert outcomes == [("ok", "end-of-stream")] * receivers
    if receivers == 1:
        assert_exact(rows[0], n, "receiver")
    else:
        assert all(len(r) for r in rows)
        union = np.concatenate(rows)
        assert_exact(union[np.argsort(union[:, 0], kind="stable")], n, "union of the receivers")
    reconnects = [s.reconnects for s in drain(rxs[0].reports) if s.state == "ended"]
    assert reconnects and reconnects[-1] >= 1


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_paused_receiving_ring_takes_nothing_then_goes_on(procs, tmp_path) -> None:
    """While the receiving buffer is paused the link stays up and nothing is committed; after resume
    everything arrives."""
    n = 2_000
    address = free_tcp()
    srv = Serving(procs, address)
    rx = _receiver(procs, tmp_path, address)
    try:
        rx.ring.pause()
        rx.start()
        src = srv.feed(n)
        assert _wait(lambda: srv.ring.stats()["committed"] == 64, 30), "the served ring did not fill"
        time.sleep(1.0)  # more than the heartbeat: the link is up, the receiver takes nothing
        assert rx.ring.stats()["committed"] == 0
        rx.ring.resume()
        procs.join(src, 60)
        report = srv.end()
        rows = rx.finish()
    finally:
        rx.close()
    assert report["drained"], report
    assert_exact(rows, n, "receiver after resume")
