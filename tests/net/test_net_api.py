"""CURVE keys, the loopback rule, and ``observe`` and ``join`` from plain Python, against a real server."""

from __future__ import annotations

import time

import netkit
import numpy as np
import pytest
from netkit import Receiver, assert_exact, free_tcp, serve, source

from mimocorb import net
from mimocorb.ring import RingBuffer

pytestmark = [pytest.mark.net, pytest.mark.timeout(120)]

FAST = {"heartbeat": 0.2, "peer_timeout": 3.0}


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("tcp://127.0.0.1:5000", True),
        ("tcp://127.1.2.3:5000", True),
        ("tcp://localhost:5000", True),
        ("tcp://[::1]:5000", True),
        ("ipc:///tmp/x.ipc", True),
        ("tcp://0.0.0.0:5000", False),
        ("tcp://*:5000", False),
        ("tcp://192.168.1.7:5000", False),
        ("tcp://daq-pc:5000", False),
    ],
)
def test_loopback_predicate(address: str, loopback: bool) -> None:
    assert net.is_loopback(address) is loopback
    if loopback:
        net.check_plain(address, has_keys=False, insecure=False)
    else:
        with pytest.raises(net.NetError, match="not a loopback address"):
            net.check_plain(address, has_keys=False, insecure=False)
        net.check_plain(address, has_keys=False, insecure=True)
        net.check_plain(address, has_keys=True, insecure=False)


def _served(procs, address: str, observer: bool = False, **kw):
    ring = RingBuffer(64, 1, np.int64, name="A")
    setups = {"default": ring.new_reader_group()}
    obs = ring.new_observer(min_interval=0.01) if observer else None
    reports = netkit.CTX.Queue()
    worker = procs.start(serve, setups, obs, net.ServeOptions(address, **{**FAST, **kw}), reports)
    return ring, worker


def test_curve_right_key_works_wrong_key_refused(procs, tmp_path) -> None:
    """A receiver with an admitted key gets everything; one with an unknown key is refused and the
    link of the admitted one goes on undisturbed."""
    server_pub, server_sec = net.write_keys("server", tmp_path / "server")
    _, good_sec = net.write_keys("good", tmp_path / "clients")
    _, bad_sec = net.write_keys("bad", tmp_path / "other")
    assert server_sec.stat().st_mode & 0o077 == 0, "a secret key file must be private"
    n = 5_000
    address = free_tcp()
    ring, worker = _served(procs, address, secret_key=str(server_sec), client_keys=str(tmp_path / "clients"))
    good_opts = net.ConnectOptions(
        address, link_id="good", secret_key=str(good_sec), server_key=str(server_pub), **FAST
    )
    bad_opts = net.ConnectOptions(
        address, link_id="bad", secret_key=str(bad_sec), server_key=str(server_pub), **FAST
    )
    good = Receiver(procs, good_opts, tmp_path / "good.npy")
    bad = Receiver(procs, bad_opts, tmp_path / "bad.npy")
    try:
        good.start()
        src = procs.start(source, ring.new_writer(), n, 50, 0.001)
        bad.start()
        kind, msg = bad.outcome(30)
        assert kind == "error" and "refused this link's key" in msg, msg
        procs.join(src, 60)
        ring.shutdown(timeout=30)
        procs.join(worker, 30)
        assert ring.shutdown_report["drained"], ring.shutdown_report
        assert good.outcome()[1] == "end-of-stream"
        rows, nothing = good.finish(), bad.finish()
    finally:
        ring.close()
        good.close()
        bad.close()
    assert_exact(rows, n, "admitted receiver")
    assert len(nothing) == 0


def test_keys_without_the_other_side_are_refused_before_any_socket(tmp_path) -> None:
    _, sec = net.write_keys("me", tmp_path)
    ring = RingBuffer(8, 1, np.int64)
    try:
        opts = net.ServeOptions("tcp://127.0.0.1:1", secret_key=str(sec))
        with pytest.raises(net.NetError, match="client_keys"):
            net.serve_worker({"g": ring.new_reader_group()}, None, opts)
        with pytest.raises(net.NetError, match="not a loopback address"):
            net.serve_worker({"g": ring.new_reader_group()}, None, net.ServeOptions("tcp://0.0.0.0:1"))
        w = ring.new_writer()
        with pytest.raises(net.NetError, match="server_key"):
            net.connect_worker(w, net.ConnectOptions("tcp://127.0.0.1:1", secret_key=str(sec)))
    finally:
        ring.close()


def _observed_next_to_a_receiver(procs, tmp_path, n: int, pause: float, count: int, **serve) -> list:
    """``count`` samples (arrival time, data, metadata) that net.observe got of a buffer flowing
    ``n`` events to a receiver, which must get every one of them exactly once all the same."""
    address = free_tcp()
    ring, worker = _served(procs, address, observer=True, **serve)
    rx = Receiver(procs, net.ConnectOptions(address, link_id="rx", **FAST), tmp_path / "rx.npy")
    samples: list = []
    try:
        rx.start()
        src = procs.start(source, ring.new_writer(), n, 10, pause)
        for data, meta in net.observe(address, connect_timeout=10):
            samples.append((time.monotonic(), data.copy(), meta.copy()))
            if len(samples) == count:
                break
        procs.join(src, 60)
        ring.shutdown(timeout=30)
        procs.join(worker, 30)
        rows = rx.finish()
    finally:
        ring.close()
        rx.close()
    assert_exact(rows, n, "receiver next to the observer")
    return samples


def test_observe_yields_samples_of_a_flowing_buffer(procs, tmp_path) -> None:
    samples = _observed_next_to_a_receiver(procs, tmp_path, 3_000, 0.002, 5)
    for _, data, meta in samples:
        assert data.shape == (1,) and meta["counter"] == data[0]
    values = [int(data[0]) for _, data, _ in samples]
    assert values == sorted(values) and len(set(values)) == 5


def test_join_a_group_from_plain_python(procs) -> None:
    """join() takes every event of a group in order with explicit commits, and ends after the
    serving ring's end."""
    n = 3_000
    address = free_tcp()
    ring, worker = _served(procs, address)
    try:
        src = procs.start(source, ring.new_writer(), n, 10, 0.0005)
        got = []
        for batch in net.join(address, connect_timeout=10, peer_timeout=3):
            assert batch.seq == len(got)
            got.extend(batch.data[:, 0].tolist())
            batch.commit()
            if len(got) == n:
                ring.shutdown(timeout=30)  # waits for the commit above: the drain sees everything acked
        procs.join(src, 30)
        procs.join(worker, 30)
        assert ring.shutdown_report["drained"], ring.shutdown_report
    finally:
        ring.close()
    assert got == list(range(1, n + 1))


def test_keys_command_writes_a_usable_pair(tmp_path) -> None:
    import zmq.auth

    from mimocorb.cli import main

    assert main(["keys", "lab", "--dir", str(tmp_path)]) == 0
    public, secret = zmq.auth.load_certificate(str(tmp_path / "lab.key_secret"))
    assert public == zmq.auth.load_certificate(str(tmp_path / "lab.key"))[0] and secret


def test_no_server_within_connect_timeout_and_unknown_group(procs) -> None:
    """A receiver without a server gives up after connect_timeout; one asking for a group the server
    does not serve is refused with the served groups named."""
    ring = RingBuffer(8, 1, np.int64, name="B")
    served, worker = _served(procs, address := free_tcp())
    try:
        lonely = net.ConnectOptions(free_tcp(), connect_timeout=0.5, **FAST)
        assert net.connect_worker(ring.new_writer(), lonely) == "connect-timeout"
        with pytest.raises(net.NetError, match=r"no reader group 'nope' \(served groups: default\)"):
            net.connect_worker(ring.new_writer(), net.ConnectOptions(address, group="nope", **FAST))
        assert ring.stats()["committed"] == 0
    finally:
        ring.close()
        served.shutdown(timeout=1)
        procs.join(worker, 30)
        served.close()


def test_observe_interval_caps_the_sample_rate(procs, tmp_path) -> None:
    """However fast the buffer flows, observers get at most one sample per ``observe_interval``."""
    interval = 0.2
    samples = _observed_next_to_a_receiver(procs, tmp_path, 6_000, 0.005, 6, observe_interval=interval)
    arrivals = [t for t, _, _ in samples]  # 6000 events at 10 per 5 ms: about 3 s of flow
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 4 * interval, arrivals  # five intervals, less arrival jitter
