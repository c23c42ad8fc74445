"""Parent and child helpers of the network tests: a serving run and receiving runs made of real rings,
real worker processes and real sockets, each event counted 1..N at a reading sink.

The serving side: ring A, a source process writing counters 1..N (data = metadata counter), the
serve worker. A receiving side: ring B, the connect worker, a sink that saves what it read. Children
are forked; every one is killed at the end of the test if it is still alive.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import socket
import time
from pathlib import Path

import numpy as np
from support.children import track

from mimocorb import net
from mimocorb.ring import METADATA_DTYPE, Reader, RingBuffer, Writer

CTX = mp.get_context("fork")


def free_tcp() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


# ---- children ------------------------------------------------------------------------------------


def source(setup: dict, n: int, batch: int, pace: float) -> None:
    """Commit counters 1..n (data and metadata counter), ``batch`` per call, ``pace`` s between calls."""
    w = Writer(setup)
    k = 1
    while k <= n:
        m = min(batch, n - k + 1)
        rows = np.arange(k, k + m, dtype=np.int64)
        meta = np.zeros(m, METADATA_DTYPE)
        meta["counter"], meta["timestamp"], meta["deadtime"] = rows, -1.0, 0.0
        w.put_batch(rows.reshape(-1, 1), meta, timeout=60)
        k += m
        if pace:
            time.sleep(pace)
    w.close()


def sink(setup: dict, out: str, delay: float = 0.0) -> None:
    """Read until the ring shuts down; save (data, metadata counter) pairs."""
    r = Reader(setup)
    got = []
    try:
        while True:
            data, meta = r.get_batch(500, timeout=120)
            got.append(np.column_stack([data[:, 0], meta["counter"]]))
            if delay:
                time.sleep(delay)
    except SystemExit:
        pass
    np.save(out, np.concatenate(got) if got else np.empty((0, 2), np.int64))


def serve(groups: dict, observer, opts: net.ServeOptions, reports) -> None:
    net.serve_worker(groups, observer, opts, reports.put)


def connect(setup: dict, opts: net.ConnectOptions, reports, result) -> None:
    try:
        result.put(("ok", net.connect_worker(setup, opts, reports.put)))
    except net.NetError as e:
        result.put(("error", str(e)))


# ---- parent side ---------------------------------------------------------------------------------


class Procs:
    def __init__(self) -> None:
        self.procs: list = []

    def start(self, target, *args):
        p = CTX.Process(target=target, args=args, daemon=True, name=target.__name__)
        p.start()
        track(p.pid)
        self.procs.append(p)
        return p

    def join(self, p, timeout: float) -> int | None:
        p.join(timeout)
        assert not p.is_alive(), f"{p.name} still running after {timeout} s"
        return p.exitcode

    def kill(self, p) -> None:
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)

    def cleanup(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.kill()
        for p in self.procs:
            p.join(10)


class Receiver:
    """A receiving run: ring B (slots ``slots``), its sink, its connect worker (restartable)."""

    def __init__(
        self, procs: Procs, opts: net.ConnectOptions, out: Path, slots: int = 64, delay: float = 0.0
    ):
        self.procs, self.opts, self.out = procs, opts, str(out)
        self.ring = RingBuffer(slots, 1, np.int64, name=f"B-{opts.link_id}")
        self.sink = procs.start(sink, self.ring.new_reader_group(), self.out, delay)
        self.reports: mp.Queue = CTX.Queue()
        self.result: mp.Queue = CTX.Queue()
        self.worker = None

    def start(self) -> None:
        self.worker = self.procs.start(connect, self.ring.new_writer(), self.opts, self.reports, self.result)

    def outcome(self, timeout: float = 60) -> tuple[str, str]:
        return self.result.get(timeout=timeout)

    def finish(self) -> np.ndarray:
        """After the connect worker ended: end ring B, let the sink save, return what it read."""
        if self.worker is not None:
            self.procs.join(self.worker, 60)
        self.ring.shutdown(timeout=30)
        self.procs.join(self.sink, 30)
        self.ring.close()
        return np.load(self.out)

    def close(self) -> None:
        self.ring.close()


def drain(q, timeout: float = 0.5) -> list:
    out = []
    with contextlib.suppress(queue.Empty):
        while True:
            out.append(q.get(timeout=timeout))
    return out


def assert_exact(rows: np.ndarray, n: int, what: str = "") -> None:
    """1..n each exactly once, in order, metadata belonging to its event."""
    assert (rows[:, 0] == rows[:, 1]).all(), f"{what}: metadata does not belong to its event"
    got = rows[:, 0]
    assert len(got) == n and (got == np.arange(1, n + 1)).all(), (
        f"{what}: {len(got)} events, {len(set(got.tolist()))} distinct, expected 1..{n} in order"
    )


# ---- processes in other network namespaces (``ip netns exec``): arguments and outcome via files ----


def run_pickled(path: str) -> None:
    """Entry of a child started with ``python -c``: call the function pickled in ``path`` and write
    its return value (or error) next to it."""
    import pickle

    with open(path, "rb") as f:
        fn, args = pickle.load(f)
    try:
        out = ("ok", fn(*args))
    except Exception as e:
        out = ("error", f"{type(e).__name__}: {e}")
    with open(path + ".out", "wb") as f:
        pickle.dump(out, f)


def serve_quiet(groups: dict, opts: net.ServeOptions) -> str:
    return net.serve_worker(groups, None, opts)


def connect_quiet(setup: dict, opts: net.ConnectOptions) -> str:
    return net.connect_worker(setup, opts)
