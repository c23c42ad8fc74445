"""The link cut and restored between two network namespaces joined by a veth pair (needs root and ``ip``).

The serve worker runs in one namespace, the connect worker in the other (shared memory is shared: only
the network is separate); the veth end of the receiver goes down for several seconds while events flow.
Counted 1..N at the sink: no loss, no duplicate, in order — both when the TCP connection survives the cut
and when the server gives the silent receiver up meanwhile and resends after it came back.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import netkit
import numpy as np
import pytest
from netkit import assert_exact, sink, source
from support.children import track

from mimocorb import net
from mimocorb.ring import RingBuffer

pytestmark = [pytest.mark.net, pytest.mark.timeout(180)]

if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("network namespaces need root and the ip command", allow_module_level=True)

HERE = str(Path(__file__).resolve().parent)
TESTS = str(Path(HERE).parent)  # for ``support``, which netkit imports
SERVER_IP, CLIENT_IP = "10.213.7.1", "10.213.7.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Namespaces:
    def __init__(self) -> None:
        tag = f"mcb{os.getpid() % 100000}"
        self.a, self.b = f"{tag}a", f"{tag}b"
        self.veth_a, self.veth_b = f"{tag}va", f"{tag}vb"
        _ip("netns", "add", self.a)
        _ip("netns", "add", self.b)
        _ip("link", "add", self.veth_a, "type", "veth", "peer", "name", self.veth_b)
        for ns, dev, addr in ((self.a, self.veth_a, SERVER_IP), (self.b, self.veth_b, CLIENT_IP)):
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def link(self, up: bool) -> None:
        _ip("-n", self.b, "link", "set", self.veth_b, "up" if up else "down")

    def start(self, ns: str, tmp: Path, name: str, fn, *args) -> tuple[subprocess.Popen, Path]:
        path = tmp / f"{name}.pickle"
        with open(path, "wb") as f:
            pickle.dump((fn, args), f)
        code = (
            f"import sys; sys.path[:0] = [{HERE!r}, {TESTS!r}]; import netkit; "
            f"netkit.run_pickled({str(path)!r})"
        )
        log = open(tmp / f"{name}.log", "w")  # noqa: SIM115 - the child writes it
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=log, stderr=log)
        log.close()
        track(p.pid)
        return p, path

    def close(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _outcome(p: subprocess.Popen, path: Path, timeout: float):
    p.wait(timeout)
    with open(str(path) + ".out", "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize(
    ("server_timeout", "case"), [(30.0, "connection survives"), (2.0, "server gives up")]
)
def test_link_cut_and_restored_loses_and_duplicates_nothing(procs, tmp_path, server_timeout, case) -> None:
    n = 6_000
    ns = Namespaces()
    a = RingBuffer(64, 1, np.int64, name="A")
    b = RingBuffer(64, 1, np.int64, name="B")
    children = []
    try:
        out = tmp_path / "sink.npy"
        sink_p = procs.start(sink, b.new_reader_group(), str(out))
        address = f"tcp://{SERVER_IP}:5701"
        sopts = net.ServeOptions(address, insecure=True, heartbeat=0.3, peer_timeout=server_timeout)
        copts = net.ConnectOptions(address, link_id="cut", insecure=True, heartbeat=0.3, peer_timeout=60)
        srv = ns.start(ns.a, tmp_path, "serve", netkit.serve_quiet, {"default": a.new_reader_group()}, sopts)
        cli = ns.start(ns.b, tmp_path, "connect", netkit.connect_quiet, b.new_writer(), copts)
        children = [srv[0], cli[0]]
        src = procs.start(source, a.new_writer(), n, 6, 0.01)  # ~10 s of events
        deadline = time.monotonic() + 60
        while b.stats()["committed"] < 1000:
            assert time.monotonic() < deadline, "no events arrived: " + (tmp_path / "connect.log").read_text()
            time.sleep(0.05)
        ns.link(False)
        time.sleep(5)
        during = b.stats()["committed"]
        ns.link(True)
        procs.join(src, 120)
        a.shutdown(timeout=60)
        assert a.shutdown_report["drained"], a.shutdown_report
        assert _outcome(*srv, 60) == ("ok", "shutdown")
        assert _outcome(*cli, 60) == ("ok", "end-of-stream")
        b.shutdown(timeout=30)
        procs.join(sink_p, 30)
    finally:
        for p in children:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        ns.close()
        a.close()
        b.close()
    assert during < n, "the source was done before the cut: the case tests nothing"
    assert_exact(np.load(out), n, case)
