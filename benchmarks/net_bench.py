#!/usr/bin/env python3
"""Benchmark of buffers across the network (``mimocorb.net``), next to raw pyzmq in the same run.

    python benchmarks/net_bench.py            # every case, prints a table (about a minute)
    python benchmarks/net_bench.py --quick    # short runs (~15 s)
    python benchmarks/net_bench.py --case latency --case observer --reps 3   # only these cases

Each mimocorb case is a whole chain of real processes over loopback TCP: a source committing into
ring A, the serve worker, the connect worker writing into ring B, a sink reading ring B and checking
that the counters arrive as 0, 1, 2, ... (no loss, no duplicate, in order).

Cases:
  wave      4 x 4250 float64 events (136 kB): bytes/s of the chain vs. raw PUSH/PULL of 136 kB messages
            (the source fills its slots in place and the sink looks at them in place, as the raw sender
            and receiver do with their messages: what is measured is the transport)
  tiny      1 x int64 events: events/s of the chain vs. raw PUSH/PULL of 8-byte messages
  latency   1 x int64 paced at 1 kHz: from the source's commit (the event's timestamp) to the remote
            sink's claim_batch returning it; p50 / p99 / max
  observer  tiny chain with and without a remote observer (observe(), in its own process), runs
            interleaved (without/with, then with/without, ...): the serving side's rate with the
            observer relative to without
The wave and observer figures are medians of REPS runs (pairs run back to back).

The benchmark never asserts; problems are printed in the table. The machine's load (load average
before and after) is printed too: figures from a busy machine are lower bounds.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import socket
import statistics
import sys
import time

import numpy as np
import zmq

from mimocorb import net
from mimocorb.ring import METADATA_DTYPE, Reader, RingBuffer, Writer

CTX = mp.get_context("fork")
REPS = 5  # wave and observer cases: medians of this many runs
WAVE_VPS, WAVE_DTYPE = 4250, [("chA", "f8"), ("chB", "f8"), ("chC", "f8"), ("chD", "f8")]
SHAPES = {
    "wave": (WAVE_VPS, WAVE_DTYPE, 128, 8),
    "tiny": (1, np.int64, 4096, 1000),
}  # vps, dtype, slots, batch


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


# ---- raw pyzmq ---------------------------------------------------------------------------------------


def _raw_push(address: str, size: int, n: int) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(address)
    msg = np.zeros(size, np.uint8)
    for _ in range(n):
        s.send(msg, copy=size < 65536)
    s.close(linger=5000)
    ctx.term()


def raw_rate(size: int, n: int) -> tuple[float, float]:
    """(messages/s, bytes/s) of PUSH -> PULL between two processes over loopback TCP."""
    address = _port()
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(address)
    p = CTX.Process(target=_raw_push, args=(address, size, n), daemon=True)
    p.start()
    pull.recv(copy=False)
    t0 = time.perf_counter()
    for _ in range(n - 1):
        pull.recv(copy=False)
    dt = time.perf_counter() - t0
    p.join(10)
    pull.close(0)
    ctx.term()
    return (n - 1) / dt, (n - 1) * size / dt


# ---- the mimocorb chain --------------------------------------------------------------------------------


def _source_inplace(w: Writer, n: int) -> None:
    """Large events are produced in place, as a digitizer would: only the counter is written."""
    with contextlib.suppress(SystemExit):
        for k in range(n):
            w.get_new_buffer().view(np.int64)[0] = k
            w.set_metadata(k, time.time(), 0.0)
            w.process_buffer()
    w.close()


def _source(setup: dict, n: int, batch: int, pace: float) -> None:
    w = Writer(setup)
    if w.values_per_slot > 1 and not pace:
        _source_inplace(w, n)
        return
    rows = np.zeros((batch, w.values_per_slot), w._npdtype)
    meta = np.zeros(batch, METADATA_DTYPE)
    counters = rows.view(np.int64).reshape(batch, -1)[:, 0]
    k = 0
    t_next = time.perf_counter()
    try:
        while k < n:
            m = min(batch, n - k)
            counters[:m] = np.arange(k, k + m)
            meta["counter"][:m] = np.arange(k, k + m)
            meta["timestamp"][:m] = -1.0
            k += w.put_batch(rows[:m], meta[:m])
            if pace:
                t_next += pace
                left = t_next - time.perf_counter()
                if left > 0:
                    time.sleep(left)
    except SystemExit:
        pass
    w.close()


def _sink(setup: dict, results, batch: int) -> None:
    r = Reader(setup)
    n, bad, lat, t_first, t_last = 0, 0, [], None, None
    try:
        while True:
            b = r.claim_batch(batch, timeout=60, copy=False)  # a view of the slots, as a PULL socket's frame
            data, meta = b.data, b.metadata
            now = time.time()
            t_first = t_first or now
            t_last = now
            c = data.view(np.int64).reshape(len(data), -1)[:, 0]
            if not (np.array_equal(c, np.arange(n, n + len(c))) and np.array_equal(meta["counter"], c)):
                bad += 1
            n += len(c)
            if len(lat) < 100_000:
                lat.extend((now - meta["timestamp"]).tolist())
            b.release()
    except (SystemExit, Exception):
        pass
    results.put({"n": n, "bad": bad, "lat": lat, "t_first": t_first, "t_last": t_last})


def _serve(setups, obs, address) -> None:
    net.serve_worker(setups, obs, net.ServeOptions(address))


def _connect(setup, address) -> None:
    net.connect_worker(setup, net.ConnectOptions(address, link_id="bench"))


def _observe(address: str, stop) -> None:
    for _ in net.observe(address, connect_timeout=30):
        if stop.is_set():
            return


def chain(shape: str, n: int, pace: float = 0.0, observer: bool = False, batch: int | None = None) -> dict:
    """Run one chain to its end (``batch`` events per commit of the source, default the shape's);
    returns the sink's report plus the events/s over the run."""
    vps, dtype, slots, default_batch = SHAPES[shape]
    batch = batch or default_batch
    address = _port()
    a, b = RingBuffer(slots, vps, dtype, name="A"), RingBuffer(slots, vps, dtype, name="B")
    results = CTX.Queue()
    stop = CTX.Event()
    procs = [
        CTX.Process(target=_serve, args=({"default": a.new_reader_group()}, a.new_observer(0.05), address)),
        CTX.Process(target=_connect, args=(b.new_writer(), address)),
        CTX.Process(target=_sink, args=(b.new_reader_group(), results, batch)),
    ]
    if observer:
        procs.append(CTX.Process(target=_observe, args=(address, stop)))
    src = CTX.Process(target=_source, args=(a.new_writer(), n, batch, pace))
    out: dict = {"status": "every event once, in order"}
    try:
        for p in procs:
            p.daemon = True
            p.start()
        time.sleep(0.5)  # links up: the run measures the flow, not the handshake
        t0 = time.time()
        src.start()
        src.join(300)
        a.shutdown(timeout=60)
        procs[1].join(60)
        b.shutdown(timeout=30)
        rep = results.get(timeout=60)
        out.update(rep)
        dt = (rep["t_last"] or t0) - t0
        out["events_per_s"] = rep["n"] / dt if dt > 0 else float("nan")
        out["bytes_per_s"] = out["events_per_s"] * vps * np.dtype(dtype).itemsize
        if rep["n"] != n or rep["bad"]:
            out["status"] = f"WRONG: {n - rep['n']} lost, {rep['bad']} batches out of sequence"
    except queue.Empty:
        out["status"] = "TIMEOUT"
    finally:
        stop.set()
        for p in [src, *procs]:
            if p.pid is not None:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join(5)
        a.close()
        b.close()
    return out


# ---- table -------------------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(case, ours, raw, ratio, target, check) -> None:
    print(f"{case:40s} {ours:>16s} {raw:>16s} {ratio:>7s} {target:>12s}  {check}", flush=True)


def case_wave(q: float, reps: int) -> None:
    size = WAVE_VPS * 32
    pairs = []  # (ours, raw) run back to back; the medians are printed (the machine may be shared)
    for _ in range(reps):
        r = chain("wave", int(20_000 * q))
        pairs.append((r.get("bytes_per_s", 0), raw_rate(size, int(20_000 * q))[1], r["status"]))
    _row(
        "4 x 4250 float64, loopback TCP",
        f"{statistics.median(o for o, _, _ in pairs) / 1e9:.2f} GB/s",
        f"{statistics.median(w for _, w, _ in pairs) / 1e9:.2f} GB/s",
        f"{statistics.median(o / w for o, w, _ in pairs):.0%}",
        ">= 70 %",
        "/".join(sorted({st for *_, st in pairs})),
    )


def case_tiny(q: float, reps: int) -> None:
    r = chain("tiny", int(3_000_000 * q))
    raw_m, _ = raw_rate(8, int(1_000_000 * q))
    _row(
        "1 x int64 events",
        f"{r.get('events_per_s', 0) / 1e3:.0f} k/s",
        f"{raw_m / 1e3:.0f} k msg/s",
        "-",
        ">= 300 k/s",
        r["status"],
    )


def case_latency(q: float, reps: int) -> None:
    r = chain("tiny", int(10_000 * q), pace=0.001, batch=1)
    lat = np.array(r.get("lat") or [np.nan]) * 1e6
    _row(
        "paced 1 kHz, commit -> remote reader",
        f"p50 {np.percentile(lat, 50):.0f} us",
        "-",
        "-",
        "<= 300 us",
        r["status"],
    )
    _row("", f"p99 {np.percentile(lat, 99):.0f} us", "-", "-", "<= 2000 us", f"max {lat.max():.0f} us")


def case_observer(q: float, reps: int) -> None:
    rates: dict[bool, list[float]] = {False: [], True: []}
    for k in range(reps):
        for obs in (False, True) if k % 2 == 0 else (True, False):  # alternating order: no drift bias
            rr = chain("tiny", int(2_000_000 * q), observer=obs)
            rates[obs].append(rr.get("events_per_s", 0))
    rel = statistics.median(b / a for a, b in zip(rates[False], rates[True], strict=True) if a)
    _row(
        "observer cost (rate with / without)",
        f"{rel:.1%}",
        "-",
        "-",
        ">= 98 %",
        "rates "
        + ", ".join(f"{x / 1e3:.0f}k/{y / 1e3:.0f}k" for x, y in zip(rates[False], rates[True], strict=True)),
    )


CASES = {"wave": case_wave, "tiny": case_tiny, "latency": case_latency, "observer": case_observer}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs")
    ap.add_argument(
        "--case", action="append", choices=list(CASES), help="run only this case (may be repeated)"
    )
    ap.add_argument("--reps", type=int, default=REPS, help=f"pairs of the wave and observer cases ({REPS})")
    a = ap.parse_args(argv)
    q = 0.1 if a.quick else 1.0
    print(f"mimocorb net benchmark  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(
        f"python {sys.version.split()[0]}  pyzmq {zmq.__version__}  libzmq {zmq.zmq_version()}  "
        f"{os.cpu_count()} cpus  load average before: {_load()}"
    )
    print()
    print(f"{'case':40s} {'mimocorb':>16s} {'raw pyzmq':>16s} {'ratio':>7s} {'target':>12s}  delivery, notes")
    for name in a.case or list(CASES):
        CASES[name](q, a.reps)
    print()
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
