#!/usr/bin/env python3
"""The ring next to other ways of passing events between two processes, one event at a time.

    python benchmarks/peer_bench.py                  # tiny and 136 kB events, 5 rounds, latency
    python benchmarks/peer_bench.py --quick          # one short round (a smoke test)
    python benchmarks/peer_bench.py --shapes tiny --rounds 7 --seconds 2 --no-latency

One writer process sends events to one reader process through each transport in turn; a round runs
every transport once, the order rotating from round to round, so that a noisy host hits all of them
alike. Transports: the mimocorb ring (``Writer.get_new_buffer``/``process_buffer``, ``Reader.get``),
pyzmq PUSH/PULL over ipc, faster-fifo (``put``/``get`` of the event's bytes, if installed) and
``multiprocessing.Queue`` (of the array). Events: "tiny" = 1 × int32, "large" = 4 × 4250 float64
(136 kB); the writer stamps the event number into each one and the reader checks every event (the
numbers must come in order, none missing). A transport that needs a copy gets one: the ring hands out
the slot itself, the others a message the reader views with ``np.frombuffer``; the writer of a 136 kB
event copies the waveform into the ring's slot, or hands a copy to the others.

Printed per transport: median events/s over the rounds, CPU µs per event of the writer and of the
reader (medians), and the ratio of the ring's rate to each other one, taken within each round and
then the median. The paced case sends 1000 events/s for a few seconds: latency = reader's
perf_counter() after the event arrived minus the writer's just before sending (p50 and p99), ring vs
pyzmq. The load average and the CPU time of other processes ("other", cores busy elsewhere) are
printed next to the figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import traceback

import numpy as np

from mimocorb.ring import Reader, RingBuffer, Writer

LARGE_VPS = 4250
LARGE_DTYPE = [("chA", "f8"), ("chB", "f8"), ("chC", "f8"), ("chD", "f8")]
SHAPES = {"tiny": (1, np.int32), "large": (LARGE_VPS, LARGE_DTYPE)}
NSLOTS = 128
PACED_HZ = 1000


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _event(shape: str) -> np.ndarray:
    vps, dtype = SHAPES[shape]
    return np.zeros(vps, dtype)


def _stamp_view(a: np.ndarray, shape: str) -> np.ndarray:
    """Where the event number goes: the int32 itself, or the first int64 of a waveform."""
    return a if shape == "tiny" else a.view(np.int64)


# ---- transports: each has a sender and a receiver, run in their own processes ---------------------------
# A sender calls send(i) for i = 0, 1, ... until the time is up, then end() (which sends the end mark);
# a receiver calls recv() until it returns None and checks every event. The sender's process stays until
# the receiver has reported (a socket closed earlier may drop what it still queues).


class RingEnds:
    name = "mimocorb ring"

    def __init__(self, shape: str):
        vps, dtype = SHAPES[shape]
        self.ring = RingBuffer(NSLOTS, vps, dtype)
        self.w_setup, self.r_setup = self.ring.new_writer(), self.ring.new_reader_group()

    def sender(self, shape: str):
        w = Writer(self.w_setup)
        get_new_buffer, process_buffer = w.get_new_buffer, w.process_buffer
        ev = _event(shape).view(np.uint8)

        def send(i: int) -> None:
            buf = get_new_buffer()
            if shape == "large":  # the waveform is copied in, as the other transports copy it
                buf.view(np.uint8)[:] = ev
            _stamp_view(buf, shape)[0] = i
            process_buffer()

        def end() -> None:
            send(-1)
            w.close()

        return send, end

    def receiver(self, shape: str):
        r = Reader(self.r_setup)
        get = r.get

        def recv():
            stamp = _stamp_view(get(), shape)[0]
            if stamp >= 0:
                return stamp
            r.close()
            return None

        return recv

    def finish(self) -> None:
        self.ring.shutdown()
        self.ring.close()


class ZmqEnds:
    name = "pyzmq PUSH/PULL ipc"

    def __init__(self, shape: str):
        self.addr = f"ipc://{tempfile.gettempdir()}/peer_bench_{os.getpid()}_{time.monotonic_ns()}"

    def sender(self, shape: str):
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.connect(self.addr)
        ev = _event(shape)
        stamp = _stamp_view(ev, shape)
        send_ = sock.send

        def send(i: int) -> None:
            stamp[0] = i
            send_(ev)  # a copy: the event changes at the next send

        return send, lambda: send_(b"")

    def receiver(self, shape: str):
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        sock.bind(self.addr)
        dtype = SHAPES[shape][1]
        large = shape == "large"
        recv_ = sock.recv

        def recv():
            msg = recv_(copy=not large)
            if len(msg) == 0:
                sock.close()
                ctx.term()
                return None
            return _stamp_view(np.frombuffer(msg, dtype), shape)[0]

        return recv

    def finish(self) -> None:
        path = self.addr[len("ipc://") :]
        if os.path.exists(path):
            os.unlink(path)


class FasterFifoEnds:
    name = "faster-fifo"

    def __init__(self, shape: str):
        from faster_fifo import Queue

        nbytes = np.dtype(SHAPES[shape][1]).itemsize * SHAPES[shape][0]
        self.q = Queue(max_size_bytes=max(1_000_000, NSLOTS * (nbytes + 64)))

    def sender(self, shape: str):
        ev = _event(shape)
        stamp = _stamp_view(ev, shape)
        put = self.q.put

        def send(i: int) -> None:
            stamp[0] = i
            put(ev.tobytes(), timeout=60)

        return send, lambda: put(b"", timeout=60)

    def receiver(self, shape: str):
        dtype = SHAPES[shape][1]
        get = self.q.get

        def recv():
            msg = get(timeout=60)
            return None if len(msg) == 0 else _stamp_view(np.frombuffer(msg, dtype), shape)[0]

        return recv

    def finish(self) -> None:
        pass


class MpQueueEnds:
    name = "multiprocessing.Queue"

    def __init__(self, shape: str):
        self.q = mp.get_context("fork").Queue(NSLOTS)

    def sender(self, shape: str):
        ev = _event(shape)
        stamp = _stamp_view(ev, shape)
        put = self.q.put

        def send(i: int) -> None:
            stamp[0] = i
            put(ev.copy())  # the queue pickles it later, in its feeder thread

        def end() -> None:
            put(None)
            self.q.close()
            self.q.join_thread()

        return send, end

    def receiver(self, shape: str):
        get = self.q.get

        def recv():
            ev = get(timeout=60)
            return None if ev is None else _stamp_view(ev, shape)[0]

        return recv

    def finish(self) -> None:
        pass


def _has_faster_fifo() -> bool:
    try:
        import faster_fifo  # noqa: F401
    except ImportError:
        return False
    return True


# ---- the two processes ------------------------------------------------------------------------------


def sender_main(ends, shape: str, seconds: float, paced: bool, out, done) -> None:
    try:
        send, end = ends.sender(shape)
        out.put(("ready", None))
        pc = time.perf_counter
        i = 0
        stamps = []
        cpu0, t0 = _cpu(), pc()
        t_next = t0
        while True:
            if paced:
                t_next += 1.0 / PACED_HZ
                while (left := t_next - pc()) > 0:
                    if left > 2e-4:
                        time.sleep(left - 1e-4)
                stamps.append(pc())
            send(i)
            i += 1
            if ((i & 1023) == 0 or paced) and pc() - t0 > seconds:
                break
        t1, cpu = pc(), _cpu() - cpu0
        end()
        out.put(("sender", {"n": i, "wall": t1 - t0, "cpu": cpu, "stamps": stamps}))
        done.wait(120)
    except BaseException:
        out.put(("error", traceback.format_exc()))


def receiver_main(ends, shape: str, out) -> None:
    try:
        recv = ends.receiver(shape)
        out.put(("ready", None))
        pc = time.perf_counter
        n = bad = 0
        arrivals = []
        cpu0 = _cpu()
        while (stamp := recv()) is not None:
            arrivals.append(pc())
            if stamp != n:
                bad += 1
            n += 1
        out.put(("receiver", {"n": n, "bad": bad, "cpu": _cpu() - cpu0, "arrivals": arrivals}))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _other_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def run_one(cls, shape: str, seconds: float, paced: bool = False) -> dict:
    ctx = mp.get_context("fork")
    ends = cls(shape)
    out, done = ctx.Queue(), ctx.Event()
    try:
        rx = ctx.Process(target=receiver_main, args=(ends, shape, out), daemon=True)
        rx.start()
        assert out.get(timeout=30)[0] == "ready"
        tx = ctx.Process(target=sender_main, args=(ends, shape, seconds, paced, out, done), daemon=True)
        b0, a0 = _other_busy()
        tx.start()
        got = {}
        while len(got) < 2:
            kind, res = out.get(timeout=seconds + 60)
            if kind == "error":
                raise RuntimeError(res)
            if kind != "ready":
                got[kind] = res
        b1, a1 = _other_busy()
        done.set()
        for p in (tx, rx):
            p.join(30)
    finally:
        ends.finish()
    s, r = got["sender"], got["receiver"]
    ncpu = os.cpu_count() or 1
    own = s["cpu"] + r["cpu"]
    other = max(0.0, (b1 - b0) / max(1, a1 - a0) * ncpu - own / s["wall"])
    res = {
        "rate": r["n"] / s["wall"],
        "ok": r["n"] == s["n"] and r["bad"] == 0,
        "w_us": s["cpu"] / max(1, s["n"]) * 1e6,
        "r_us": r["cpu"] / max(1, r["n"]) * 1e6,
        "other": other,
    }
    if paced:
        lat = (np.array(r["arrivals"]) - np.array(s["stamps"][: len(r["arrivals"])])) * 1e6
        res["p50"], res["p99"] = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    return res


def header() -> None:
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import mimocorb.ring

    print(f"peer benchmark  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"python {sys.version.split()[0]}  numpy {np.__version__}  machine: {model}, {os.cpu_count()} cpus")
    path = mimocorb.ring.fast_path()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"ring path: {path}   load average before: {load}")


def throughput(shapes, rounds: int, seconds: float) -> None:
    transports = [RingEnds, ZmqEnds, MpQueueEnds]
    if _has_faster_fifo():
        transports.insert(2, FasterFifoEnds)
    else:
        print("faster-fifo is not installed (pip install faster-fifo): left out")
    for shape in shapes:
        results: dict[str, list] = {t.name: [] for t in transports}
        for k in range(rounds):
            order = transports[k % len(transports) :] + transports[: k % len(transports)]
            for t in order:
                results[t.name].append(run_one(t, shape, seconds))
        print(f"\n{shape} events, 1 writer -> 1 reader, {rounds} rounds of {seconds:g} s (median)")
        cols = ("events/s", "writer µs", "reader µs")
        print(f"{'transport':24} " + " ".join(f"{c:>10}" for c in cols) + f" {'ring ÷':>7} {'other':>6}  ok")
        ring = results[RingEnds.name]
        for t in transports:
            rs = results[t.name]
            ratio = statistics.median(a["rate"] / b["rate"] for a, b in zip(ring, rs, strict=True))
            print(
                f"{t.name:24} {statistics.median(r['rate'] for r in rs):10,.0f} "
                f"{statistics.median(r['w_us'] for r in rs):10.2f} "
                f"{statistics.median(r['r_us'] for r in rs):10.2f} "
                f"{ratio:7.2f} {statistics.median(r['other'] for r in rs):6.2f}  {all(r['ok'] for r in rs)}"
            )


def latency(rounds: int, seconds: float) -> None:
    print(f"\npaced {PACED_HZ} Hz, tiny events, latency in µs (median of {rounds} rounds of {seconds:g} s)")
    print(f"{'transport':24} {'p50':>7} {'p99':>7}  ok")
    results: dict[str, list] = {RingEnds.name: [], ZmqEnds.name: []}
    for k in range(rounds):
        for t in (RingEnds, ZmqEnds) if k % 2 == 0 else (ZmqEnds, RingEnds):
            results[t.name].append(run_one(t, "tiny", seconds, paced=True))
    for name, rs in results.items():
        print(
            f"{name:24} {statistics.median(r['p50'] for r in rs):7.1f} "
            f"{statistics.median(r['p99'] for r in rs):7.1f}  {all(r['ok'] for r in rs)}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--quick", action="store_true", help="one round of 0.5 s, latency 1 s")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.seconds = 1, 0.5
    header()
    throughput(a.shapes, a.rounds, a.seconds)
    if not a.no_latency:
        latency(max(1, a.rounds // 2 * 2 - 1) if not a.quick else 1, 1.0 if a.quick else 3.0)
    print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
