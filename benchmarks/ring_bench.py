#!/usr/bin/env python3
"""Benchmark of the mimocorb ring buffer (``mimocorb.mimo_buffer``): the cases of the ring issue.

    python benchmarks/ring_bench.py                 # every case, prints a table (a few minutes)
    python benchmarks/ring_bench.py --quick         # short runs: a smoke test (~10 s)
    python benchmarks/ring_bench.py --cases tiny latency --reps 3 --json out.json
    python benchmarks/ring_bench.py --cases memory --long      # RSS after 10^6 and 10^7 events
    python benchmarks/ring_bench.py --wait-idle 120 --start-method spawn

Options: --quick, --long, --cases CASE..., --reps N (median of N runs; ratios are medians of runs made
back to back), --json FILE, --start-method fork|spawn|forkserver, --wait-idle S (wait up to S seconds
for an idle machine before each run).

Cases (128 slots each; "tiny" = 1 x int32, "large" = 4 channels x 4250 float64 = 136 kB):
  tiny      1 writer -> 1 reader, saturated                          slots/s
  large     1 -> 1, the writer copies a payload into the slot through a byte view, the reader copies
            the slot out (``.view(np.uint8).copy()``)                 slots/s, GB/s
  group     100 us of CPU work per event: 1 reader vs a reader group of 2   slots/s each, ratio
  latency   writer paced at 1 kHz; latency = reader perf_counter() right after get() returned minus
            the writer's perf_counter() stored with set_metadata() just before process_buffer()
            (tiny and large)                                          p50 / p99 / max in us
  observer  tiny and large with an observer attached (min_interval 0.05 s), each run next to the
            same case without observer; rate relative to it, and the order readers saw
  batch     1 x int64 events through a ring of 8192 slots with the batch calls: the writer commits
            batches of 1000 with ``put_batch``, the reader takes up to 1000 per ``get_batch``
                                                                      events/s
  memory    tiny 1 -> 1; every process reports its own peak RSS (ru_maxrss) after 10^5, 10^6 and
            3*10^6 events (10^7 with --long)

Every reader checks every event: the metadata counter must grow (no reordering), the count and sum of
counters over the group must match what the writer committed (no loss, no duplicates), and the counter
stamped into the slot's data must match the metadata (the slot is the one committed). The observer
checks its copies for torn slots. "CPU w/r" is the CPU time of the writer / each reader per second
of the run (a reader that waits without spinning stays far below 1). "other" is the CPU time used on
the machine by processes not belonging to the run, per second of the run (1.0 = one core busy
elsewhere): a noisy-host indicator.

The benchmark never asserts; problems (lost events, reordering, timeouts) are printed in the table
and the summary. Every run has a deadline: stragglers are killed, buffers are shut down and closed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import queue
import resource
import statistics
import sys
import time
import traceback

import numpy as np

from mimocorb import mimo_buffer as bm

NSLOTS = 128
TINY_DTYPE = [("v", np.int32)]
LARGE_DTYPE = [("chA", np.float64), ("chB", np.float64), ("chC", np.float64), ("chD", np.float64)]
LARGE_VPS = 4250
SHAPES = {"tiny": (1, TINY_DTYPE), "large": (LARGE_VPS, LARGE_DTYPE)}
WORK_US = 100
OBS_INTERVAL = 0.05

# figures of mimoCoRB 1.0.2 and the speed targets of the project
ORIG = {
    "tiny": "38-43k/s",
    "large": "18k/s (2.5 GB/s)",
    "group": "1.57x (8.2k -> 12.9k/s)",
    "latency": "65-96 / 120-390 us",
    "observer": "-5 to -10 %",
}
TARGET = {
    "tiny": 400_000,
    "large": 3 * 18_000,
    "group": 1.8,
    "lat_p50": 20.0,
    "lat_p99": 80.0,
    "observer": 0.95,
    "batch": 5_000_000,
}
BATCH, BATCH_SLOTS = 1000, 8192

# sizes: (events, time cap in s) per run, for the default and --quick
SIZES = {
    "default": {
        "tiny": (1_000_000, 10.0),
        "batch": (20_000_000, 10.0),
        "large": (200_000, 10.0),
        "work": (40_000, 10.0),
        "paced": (5_000, 10.0),
        "memory": ((100_000, 1_000_000, 3_000_000), 300.0),
    },
    "quick": {
        "tiny": (100_000, 2.0),
        "batch": (2_000_000, 2.0),
        "large": (20_000, 2.0),
        "work": (4_000, 2.0),
        "paced": (1_000, 3.0),
        "memory": ((10_000, 100_000, 300_000), 60.0),
    },
}
LONG_MEMORY = ((100_000, 1_000_000, 10_000_000), 900.0)

CASES = ("tiny", "large", "group", "latency", "observer", "batch", "memory")


# ------------------------------------------------------------------------------------------------
# child processes


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _burn(us: float) -> None:
    """Busy CPU work for ``us`` microseconds (the analysis step of a reader)."""
    pc = time.perf_counter
    end = pc() + us * 1e-6
    while pc() < end:
        pass


def _close(handle) -> None:
    close = getattr(handle, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


def writer_main(setup, shape, n_max, t_max, rate_hz, checkpoints, results):
    """Fill and commit up to n_max slots (or for t_max s); stamp the event number into the data."""
    try:
        w = bm.Writer(setup)
        payload = None
        if shape == "large":
            payload = np.random.default_rng(12345).integers(0, 256, LARGE_VPS * 32, dtype=np.uint8)
        pc = time.perf_counter
        period = 1.0 / rate_hz if rate_hz else 0.0
        cps = list(checkpoints)
        next_cp = cps.pop(0) if cps else -1
        rss = {}
        i = 0
        cpu0 = _cpu_s()
        t0 = pc()
        t_next = t0
        try:
            while i < n_max:
                if period:
                    t_next += period
                    while True:  # sleep most of the wait, spin the last ~100 us to keep the pace
                        left = t_next - pc()
                        if left <= 0:
                            break
                        if left > 2e-4:
                            time.sleep(left - 1e-4)
                buf = w.get_new_buffer()
                if payload is None:
                    buf.view(np.int32)[0] = i
                else:
                    buf.view(np.uint8)[:] = payload
                    s = buf.view(np.int64)
                    s[0] = i
                    s[-1] = i
                w.set_metadata(i, pc(), 0.0)
                w.process_buffer()
                i += 1
                if i == next_cp:
                    rss[i] = _maxrss_mb()
                    next_cp = cps.pop(0) if cps else -1
                if (i & 255) == 0 and pc() - t0 > t_max:
                    break
        except SystemExit:  # the buffer was shut down under us (deadline of the run)
            results.put(("note", "writer", f"SystemExit after {i} events"))
        t1 = pc()
        cpu = _cpu_s() - cpu0
        _close(w)
        results.put(
            (
                "writer",
                0,
                {
                    "n": i,
                    "t0": t0,
                    "t1": t1,
                    "cpu_s": cpu,
                    "cpu_total_s": _cpu_s(),
                    "maxrss_mb": _maxrss_mb(),
                    "rss_at": rss,
                },
            )
        )
    except BaseException:
        results.put(("error", "writer", traceback.format_exc()))


def reader_main(rid, setup, shape, copy, work_us, lat_cap, checkpoints, results):
    """Consume until shutdown; check order and data, optionally record latencies."""
    try:
        r = bm.Reader(setup)
        results.put(("ready", rid, None))
        pc = time.perf_counter
        get, meta = r.get, r.get_metadata
        lat = np.empty(lat_cap, dtype=np.float64) if lat_cap else None
        large = shape == "large"
        cps = list(checkpoints)
        next_cp = cps.pop(0) if cps else -1
        rss = {}
        n = 0
        csum = 0
        last = -1
        reorder = 0
        first_reorder = None
        bad_data = 0
        t_first = t_last = None
        cpu0 = _cpu_s()
        try:
            while True:
                d = get()
                t = pc()
                cnt, ts, _dead = meta()
                if copy:
                    x = d.view(np.uint8).copy()
                    stamp = x.view(np.int64)[0] if large else x.view(np.int32)[0]
                else:
                    stamp = d.view(np.int32)[0]
                if stamp != cnt:
                    bad_data += 1
                if cnt <= last:
                    reorder += 1
                    if first_reorder is None:
                        first_reorder = (n, last, cnt)
                last = cnt
                csum += cnt
                if lat is not None and n < lat_cap:
                    lat[n] = t - ts
                if work_us:
                    _burn(work_us)
                if t_first is None:
                    t_first = t
                t_last = t
                n += 1
                if n == next_cp:
                    rss[n] = _maxrss_mb()
                    next_cp = cps.pop(0) if cps else -1
        except SystemExit:  # shutdown(): everything committed was delivered
            pass
        cpu = _cpu_s() - cpu0
        _close(r)
        res = {
            "n": n,
            "csum": csum,
            "reorder": reorder,
            "first_reorder": first_reorder,
            "bad_data": bad_data,
            "t_first": t_first,
            "t_last": t_last,
            "cpu_s": cpu,
            "cpu_total_s": _cpu_s(),
            "maxrss_mb": _maxrss_mb(),
            "rss_at": rss,
        }
        if lat is not None:
            k = min(n, lat_cap)
            a = lat[:k] * 1e6
            res["lat_us"] = (
                {
                    "p50": float(np.percentile(a, 50)),
                    "p99": float(np.percentile(a, 99)),
                    "max": float(a.max()),
                }
                if k
                else None
            )
        results.put(("reader", rid, res))
    except BaseException:
        results.put(("error", f"reader{rid}", traceback.format_exc()))


def observer_main(setup, shape, results):
    """Take copies of the newest events until the end-of-run None; check they are whole and ordered."""
    try:
        o = bm.Observer(setup)
        results.put(("ready", "obs", None))
        large = shape == "large"
        n = torn = reorder = 0
        last = -1
        cpu0 = _cpu_s()
        while True:
            item = o.get()
            if item is None:
                break
            data, md = item
            cnt = int(md[0]["counter"])
            s = data.view(np.int64) if large else data.view(np.int32)
            if s[0] != cnt or (large and s[-1] != cnt):
                torn += 1
            if cnt <= last:
                reorder += 1
            last = cnt
            n += 1
        cpu = _cpu_s() - cpu0
        _close(o)
        results.put(
            (
                "observer",
                0,
                {
                    "n": n,
                    "torn": torn,
                    "reorder": reorder,
                    "cpu_s": cpu,
                    "cpu_total_s": _cpu_s(),
                    "maxrss_mb": _maxrss_mb(),
                },
            )
        )
    except BaseException:
        results.put(("error", "observer", traceback.format_exc()))


# ------------------------------------------------------------------------------------------------
# one run


def batch_writer_main(setup, n_max, t_max, results):
    """Commit events 0, 1, 2, ... (value = metadata counter) with put_batch, BATCH at a time."""
    try:
        w = bm.Writer(setup)
        base = np.arange(BATCH, dtype=np.int64)
        meta = np.zeros(BATCH, bm.METADATA_DTYPE)
        pc = time.perf_counter
        cpu0, t0, i = _cpu_s(), pc(), 0
        try:
            while i < n_max:
                rows = base + i
                meta["counter"] = rows
                meta["timestamp"] = -1.0
                i += w.put_batch(rows, meta)
                if pc() - t0 > t_max:
                    break
        except SystemExit:
            results.put(("note", "writer", f"SystemExit after {i} events"))
        t1 = pc()
        cpu = _cpu_s() - cpu0
        _close(w)
        results.put(("writer", 0, {"n": i, "t0": t0, "t1": t1, "cpu_s": cpu, "maxrss_mb": _maxrss_mb()}))
    except BaseException:
        results.put(("error", "writer", traceback.format_exc()))


def batch_reader_main(setup, results):
    """get_batch until shutdown; check that values and counters run 0, 1, 2, ... without a gap."""
    try:
        r = bm.Reader(setup)
        n, bad, t_last = 0, 0, None
        cpu0 = _cpu_s()
        try:
            while True:
                data, meta = r.get_batch(BATCH)
                k = len(data)
                expect = np.arange(n, n + k)
                if not (np.array_equal(data[:, 0], expect) and np.array_equal(meta["counter"], expect)):
                    bad += 1
                n += k
                t_last = time.perf_counter()
        except SystemExit:
            pass
        cpu = _cpu_s() - cpu0
        _close(r)
        results.put(("reader", 0, {"n": n, "bad": bad, "t_last": t_last, "cpu_s": cpu}))
    except BaseException:
        results.put(("error", "reader", traceback.format_exc()))


def run_batch(ctx, n_max, t_max) -> dict:
    """One ring of BATCH_SLOTS x 1 int64, one batch writer, one batch reader."""
    res = {"label": "batch", "shape": "int64", "slot_bytes": 8, "status": "ok", "notes": []}
    buf = bm.NewBuffer(BATCH_SLOTS, 1, np.int64)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=batch_reader_main, args=(buf.new_reader_group(), results), daemon=True),
        ctx.Process(target=batch_writer_main, args=(buf.new_writer(), n_max, t_max, results), daemon=True),
    ]
    got: dict = {}
    deadline = time.monotonic() + t_max + 60

    def collect(key) -> None:
        while key not in got and res["status"] == "ok":
            tag, who, val = results.get(timeout=max(0.1, deadline - time.monotonic()))
            if tag in ("error", "note"):
                res["notes"].append(f"{who}: {val.strip().splitlines()[-1]}")
                res["status"] = "ERROR" if tag == "error" else res["status"]
            else:
                got[(tag, who)] = val

    try:
        for p in procs:
            p.start()
        collect(("writer", 0))
        buf.shutdown(timeout=30)
        collect(("reader", 0))
    except queue.Empty:
        res["status"] = "TIMEOUT"
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)
        buf.close()
    w, r = got.get(("writer", 0)), got.get(("reader", 0))
    if w and r and r["t_last"]:
        dt = r["t_last"] - w["t0"]
        res.update(events=w["n"], seconds=dt, slots_per_s=w["n"] / dt, GB_per_s=w["n"] * 8 / dt / 1e9)
        res.update(cpu_writer=w["cpu_s"] / dt, cpu_readers=[r["cpu_s"] / dt], lost=w["n"] - r["n"])
        if r["n"] != w["n"] or r["bad"]:
            res["status"] = "WRONG"
            res["notes"].append(f"{w['n'] - r['n']} events lost, {r['bad']} batches out of sequence")
    return res


def _busy_jiffies() -> int:
    return _total_jiffies()[0]  # everything but idle and iowait


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


WAIT_IDLE = 0.0  # --wait-idle: wait up to this many seconds for a quiet machine before each run


def _total_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def wait_idle(max_wait: float, busy_max: float = 0.10) -> float | None:
    """Wait until the machine is idle (< busy_max of all cores for 2 s); seconds waited, None: never."""
    t0 = time.monotonic()
    quiet = 0
    while time.monotonic() - t0 < max_wait:
        b0, a0 = _total_jiffies()
        time.sleep(0.5)
        b1, a1 = _total_jiffies()
        quiet = quiet + 1 if (b1 - b0) / max(1, a1 - a0) < busy_max else 0
        if quiet >= 4:
            return time.monotonic() - t0
    return None


def run_once(
    ctx,
    label,
    shape,
    *,
    n_readers=1,
    observer=False,
    rate_hz=0,
    work_us=0,
    n_max,
    t_max,
    copy=False,
    latency=False,
    checkpoints=(),
) -> dict:
    """One buffer, one writer, one reader group of n_readers, maybe an observer; returns the result."""
    vps, dtype = SHAPES[shape]
    res = {
        "label": label,
        "shape": shape,
        "slot_bytes": vps * np.dtype(dtype).itemsize,
        "n_readers": n_readers,
        "observer": observer,
        "rate_hz": rate_hz,
        "work_us": work_us,
        "status": "ok",
        "notes": [],
    }
    if WAIT_IDLE > 0 and os.path.exists("/proc/stat"):
        waited = wait_idle(WAIT_IDLE)
        res["waited_for_idle_s"] = waited
        if waited is None:
            res["notes"].append(f"machine not idle after {WAIT_IDLE:.0f} s of waiting")
    procs: list = []
    buf = None
    jiffies0 = _busy_jiffies() if os.path.exists("/proc/stat") else None
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    got: dict = {}
    try:
        buf = bm.NewBuffer(NSLOTS, vps, dtype)
        rsetup = buf.new_reader_group()
        osetup = buf.new_observer(min_interval=OBS_INTERVAL) if observer else None
        wsetup = buf.new_writer()
        results = ctx.Queue()
        lat_cap = n_max if latency else 0
        for k in range(n_readers):
            procs.append(
                ctx.Process(
                    target=reader_main,
                    name=f"reader{k}",
                    daemon=True,
                    args=(k, rsetup, shape, copy, work_us, lat_cap, checkpoints, results),
                )
            )
        if observer:
            procs.append(
                ctx.Process(target=observer_main, name="observer", daemon=True, args=(osetup, shape, results))
            )
        for p in procs:
            p.start()

        crashed: set = set()

        def collect(until: float, stop) -> None:
            while not stop() and time.monotonic() < until:
                try:
                    kind, who, payload = results.get(timeout=max(0.01, min(1.0, until - time.monotonic())))
                except queue.Empty:
                    dead = [p for p in procs if p.exitcode not in (None, 0) and p.name not in crashed]
                    if dead:  # crashed without reporting (e.g. killed): don't wait for the deadline
                        crashed.update(p.name for p in dead)
                        res["status"] = "ERROR"
                        res["notes"].extend(f"{p.name} died (exit code {p.exitcode})" for p in dead)
                        got.setdefault("errors", []).append(("crash", ""))
                        return
                    continue
                if kind == "error":
                    res["status"] = "ERROR"
                    res["notes"].append(f"{who} failed: {payload.strip().splitlines()[-1]}")
                    got.setdefault("errors", []).append((who, payload))
                elif kind == "note":
                    res["notes"].append(f"{who}: {payload}")
                else:
                    got[(kind, who)] = payload

        n_ready = n_readers + (1 if observer else 0)
        collect(
            time.monotonic() + 60, lambda: sum(k[0] == "ready" for k in got) >= n_ready or "errors" in got
        )
        if sum(k[0] == "ready" for k in got) < n_ready:
            res["status"] = "ERROR" if "errors" in got else "TIMEOUT"
            res["notes"].append("readers did not attach")
            return res
        wp = ctx.Process(
            target=writer_main,
            name="writer",
            daemon=True,
            args=(wsetup, shape, n_max, t_max, rate_hz, checkpoints, results),
        )
        procs.append(wp)
        wp.start()
        # the writer stops after n_max events or t_max seconds; give it some slack beyond that
        collect(time.monotonic() + t_max + 30 + 5, lambda: ("writer", 0) in got or "errors" in got)
        if ("writer", 0) not in got:
            res["status"] = "TIMEOUT" if res["status"] == "ok" else res["status"]
            res["notes"].append(f"writer did not finish within {t_max + 35:.0f} s")
        # shutdown() delivers what was committed to the readers, then they get SystemExit
        t_sd = time.perf_counter()
        buf.shutdown(timeout=15.0)
        res["shutdown_s"] = time.perf_counter() - t_sd
        report = getattr(buf, "shutdown_report", None)
        if report and not report.get("drained", True):
            res["notes"].append(f"shutdown did not drain: {report}")
        n_final = n_ready + 1
        collect(
            time.monotonic() + 20,
            lambda: sum(k[0] in ("writer", "reader", "observer") for k in got) >= n_final,
        )
        missing = [
            p.name
            for p in procs
            if (
                ("writer", 0)
                if p.name == "writer"
                else ("observer", 0)
                if p.name == "observer"
                else ("reader", int(p.name[6:]))
            )
            not in got
        ]
        if missing:
            res["status"] = "TIMEOUT" if res["status"] == "ok" else res["status"]
            res["notes"].append(f"no result from {', '.join(missing)} (hung after shutdown?)")
    finally:
        if buf is not None:  # wakes whoever still waits (no-op after a regular shutdown)
            try:
                buf.shutdown(timeout=1.0)
            except Exception as e:
                res["notes"].append(f"shutdown failed: {e!r}")
        for p in procs:
            p.join(5)
        for p in procs:
            if p.is_alive():
                res["notes"].append(f"killed straggler {p.name} (pid {p.pid})")
                p.terminate()
                p.join(2)
                if p.is_alive():
                    p.kill()
                    p.join(2)
        if buf is not None:
            try:
                buf.close()
            except Exception as e:
                res["notes"].append(f"close failed: {e!r}")
    wall = time.perf_counter() - wall0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    parent_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    # children report their whole CPU time themselves (forkserver children are not our children)
    children_cpu = sum(
        v["cpu_total_s"]
        for k, v in got.items()
        if isinstance(k, tuple) and k[0] in ("writer", "reader", "observer")
    )
    res["parent_cpu_s"] = parent_cpu
    res["parent_maxrss_mb"] = ru1.ru_maxrss / 1024.0
    _evaluate(res, got, wall, jiffies0, parent_cpu + children_cpu)
    return res


def _evaluate(res, got, wall, jiffies0, own_cpu) -> None:
    """Turn the processes' reports into figures and checks; own_cpu: CPU s of this run's processes."""
    w = got.get(("writer", 0))
    readers = [got[k] for k in sorted(k for k in got if isinstance(k, tuple) and k[0] == "reader")]
    obs = got.get(("observer", 0))
    if jiffies0 is not None:
        busy = (_busy_jiffies() - jiffies0) / os.sysconf("SC_CLK_TCK")
        # CPU used by other processes per second of the whole run (set-up included)
        res["other_cpu"] = max(0.0, busy - own_cpu) / wall if wall > 0 else float("nan")
    if not w:
        return
    n = w["n"]
    res["events"] = n
    res["writer_maxrss_mb"] = w["maxrss_mb"]
    res["writer_rss_at"] = w["rss_at"]
    if not readers:
        return
    n_read = sum(r["n"] for r in readers)
    res["events_read"] = n_read
    res["per_reader"] = [r["n"] for r in readers]
    res["reader_maxrss_mb"] = [r["maxrss_mb"] for r in readers]
    res["reader_rss_at"] = [r["rss_at"] for r in readers]
    ends = [r["t_last"] for r in readers if r["t_last"] is not None]
    if ends and n:
        dt = max(ends) - w["t0"]
        res["seconds"] = dt
        res["slots_per_s"] = n / dt
        res["GB_per_s"] = n * res["slot_bytes"] / dt / 1e9
        res["cpu_writer"] = w["cpu_s"] / dt
        res["cpu_readers"] = [r["cpu_s"] / dt for r in readers]
    problems = []
    if n_read != n:
        problems.append(f"{n - n_read} events lost" if n_read < n else f"{n_read - n} events extra")
    elif sum(r["csum"] for r in readers) != n * (n - 1) // 2:
        problems.append("duplicated/lost events (counter sum mismatch)")
    reorder = sum(r["reorder"] for r in readers)
    if reorder:
        first = next(r["first_reorder"] for r in readers if r["first_reorder"])
        problems.append(f"{reorder} reordered (first at event #{first[0]}: {first[2]} after {first[1]})")
    bad = sum(r["bad_data"] for r in readers)
    if bad:
        problems.append(f"{bad} slots whose data != metadata counter")
    res["reorder"] = reorder
    res["lost"] = n - n_read
    if readers[0].get("lat_us"):
        res["lat_us"] = readers[0]["lat_us"]
    if obs:
        res["observer_events"] = obs["n"]
        res["observer_torn"] = obs["torn"]
        res["observer_reorder"] = obs["reorder"]
        res["observer_maxrss_mb"] = obs["maxrss_mb"]
        if obs["torn"]:
            problems.append(f"observer saw {obs['torn']} torn slots")
        if obs["reorder"]:
            problems.append(f"observer saw {obs['reorder']} out of order")
    if problems:
        res["status"] = "WRONG" if res["status"] == "ok" else res["status"]
        res["notes"].extend(problems)


# ------------------------------------------------------------------------------------------------
# cases: each returns a list of (row name, [results of the reps])


def case_tiny(ctx, sz, reps):
    n, t = sz["tiny"]
    return [("tiny 1->1", [run_once(ctx, "tiny", "tiny", n_max=n, t_max=t) for _ in range(reps)])]


def case_large(ctx, sz, reps):
    n, t = sz["large"]
    return [
        (
            "large 1->1 copy",
            [run_once(ctx, "large", "large", n_max=n, t_max=t, copy=True) for _ in range(reps)],
        )
    ]


def _interleaved(reps, a, b):
    """Run a and b alternately (ABBA...), so drift of the host load hits both alike."""
    ra, rb = [], []
    for k in range(reps):
        for f, out in ((a, ra), (b, rb)) if k % 2 == 0 else ((b, rb), (a, ra)):
            out.append(f())
    return ra, rb


def case_group(ctx, sz, reps):
    n, t = sz["work"]
    one, two = _interleaved(
        reps,
        lambda: run_once(ctx, "work_1r", "tiny", n_readers=1, work_us=WORK_US, n_max=n, t_max=t),
        lambda: run_once(ctx, "work_grp2", "tiny", n_readers=2, work_us=WORK_US, n_max=n, t_max=t),
    )
    return [("work 100us, 1 reader", one), ("work 100us, group of 2", two)]


def case_latency(ctx, sz, reps):
    n, t = sz["paced"]
    rows = []
    for shape in ("tiny", "large"):
        rows.append(
            (
                f"{shape} paced 1 kHz",
                [
                    run_once(
                        ctx,
                        f"{shape}_paced",
                        shape,
                        rate_hz=1000,
                        n_max=n,
                        t_max=t,
                        latency=True,
                        copy=shape == "large",
                    )
                    for _ in range(reps)
                ],
            )
        )
    return rows


def case_observer(ctx, sz, reps):
    rows = []
    for shape in ("tiny", "large"):
        n, t = sz[shape]
        cp = shape == "large"
        base, obs = _interleaved(
            reps,
            lambda shape=shape, n=n, t=t, cp=cp: run_once(
                ctx, f"{shape}_base", shape, n_max=n, t_max=t, copy=cp
            ),
            lambda shape=shape, n=n, t=t, cp=cp: run_once(
                ctx, f"{shape}_obs", shape, observer=True, n_max=n, t_max=t, copy=cp
            ),
        )
        rows.append((f"{shape} no observer", base))
        rows.append((f"{shape} + observer", obs))
    return rows


def case_memory(ctx, sz, reps):
    cps, t = sz["memory"]
    return [
        (
            "memory tiny 1->1",
            [run_once(ctx, "memory", "tiny", n_max=cps[-1], t_max=t, checkpoints=cps) for _ in range(reps)],
        )
    ]


def case_batch(ctx, sz, reps):
    n, t = sz["batch"]
    return [(f"batch {BATCH}, 1 x int64", [run_batch(ctx, n, t) for _ in range(reps)])]


CASE_FUNCS = {
    "batch": case_batch,
    "tiny": case_tiny,
    "large": case_large,
    "group": case_group,
    "latency": case_latency,
    "observer": case_observer,
    "memory": case_memory,
}


# ------------------------------------------------------------------------------------------------
# reporting


def _med(rs, key, sub=None):
    vals = []
    for r in rs:
        v = r.get(key)
        if sub is not None and v is not None:
            v = v.get(sub)
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None


def _fmt(v, spec, width):
    return ("-" if v is None else format(v, spec)).rjust(width)


def row_summary(name, rs) -> dict:
    lat = [r["lat_us"] for r in rs if r.get("lat_us")]
    statuses = sorted({r["status"] for r in rs})
    bad = [r for r in rs if r["status"] != "ok" or r["notes"]]
    notes = list(bad[0]["notes"]) if bad else []  # the first run with a problem stands for the others
    if len(rs) > 1 and bad:
        worse = sum(r["status"] != "ok" for r in rs)
        notes.append(f"{'failed' if worse else 'notes'} in {len(bad)} of {len(rs)} runs")
    cw = _med(rs, "cpu_writer")
    have = [r["cpu_readers"] for r in rs if r.get("cpu_readers")]
    crs = [statistics.median(c[k] for c in have) for k in range(min(map(len, have)))] if have else None
    return {
        "row": name,
        "reps": len(rs),
        "status": "/".join(statuses),
        "events": _med(rs, "events"),
        "seconds": _med(rs, "seconds"),
        "slots_per_s": _med(rs, "slots_per_s"),
        "best_slots_per_s": max((r["slots_per_s"] for r in rs if "slots_per_s" in r), default=None),
        "GB_per_s": _med(rs, "GB_per_s"),
        "lat_p50_us": statistics.median(x["p50"] for x in lat) if lat else None,
        "lat_p99_us": statistics.median(x["p99"] for x in lat) if lat else None,
        "lat_max_us": max(x["max"] for x in lat) if lat else None,
        "cpu_writer": cw,
        "cpu_readers": crs,
        "other_cpu": _med(rs, "other_cpu"),
        "lost": sum(r.get("lost", 0) for r in rs),
        "reorder": sum(r.get("reorder", 0) for r in rs),
        "notes": notes,
    }


HEAD = (
    f"{'case':26s} {'events':>9s} {'sec':>6s} {'slots/s':>9s} {'GB/s':>6s} {'p50 us':>7s} "
    f"{'p99 us':>7s} {'max us':>7s} {'CPU w/r':>11s} {'other':>5s}  check"
)


def print_row(s) -> None:
    cpu = "-"
    if s["cpu_writer"] is not None and s["cpu_readers"]:
        cpu = f"{s['cpu_writer']:.2f}/" + "+".join(f"{c:.2f}" for c in s["cpu_readers"])
    check = "ok" if s["status"] == "ok" else s["status"]
    if s["notes"]:
        check += ": " + "; ".join(s["notes"])
    print(
        f"{s['row']:26s} {_fmt(s['events'], '.0f', 9)} {_fmt(s['seconds'], '.2f', 6)} "
        f"{_fmt(s['slots_per_s'], '.0f', 9)} {_fmt(s['GB_per_s'], '.2f', 6)} "
        f"{_fmt(s['lat_p50_us'], '.1f', 7)} {_fmt(s['lat_p99_us'], '.1f', 7)} "
        f"{_fmt(s['lat_max_us'], '.0f', 7)} {cpu:>11s} {_fmt(s['other_cpu'], '.2f', 5)}  {check}",
        flush=True,
    )


def _get(summ, row, key):
    s = summ.get(row)
    return None if s is None else s.get(key)


def paired_ratio(raw, row_a, row_b):
    """Median over the reps of b/a, each pair run back to back (None if not measured)."""
    ra, rb = raw.get(row_a, []), raw.get(row_b, [])
    q = [
        y["slots_per_s"] / x["slots_per_s"]
        for x, y in zip(ra, rb, strict=False)
        if x.get("slots_per_s") and y.get("slots_per_s")
    ]
    return statistics.median(q) if q else None


def print_targets(summ, raw) -> list:
    """Against the speed targets: the original's figure, the target, ours; returns the lines for --json."""
    lines = []

    def line(case, orig, target, ours, verdict, rows=()):
        if any(summ[r]["status"] != "ok" for r in rows if r in summ):
            verdict = "WRONG"  # lost, reordered or corrupted events, or a timeout: see the table
        lines.append({"case": case, "orig_1.0.2": orig, "target": target, "ours": ours, "meets": verdict})
        v = verdict if isinstance(verdict, str) else "-" if verdict is None else "yes" if verdict else "NO"
        print(f"{case:34s} {orig:>24s} {target:>18s} {ours:>34s} {v:>5s}")

    print()
    print(f"{'against the targets':34s} {'mimoCoRB 1.0.2':>24s} {'target':>18s} {'ours':>34s} {'meets':>5s}")
    t = _get(summ, "tiny 1->1", "slots_per_s")
    if t is not None:
        best = _get(summ, "tiny 1->1", "best_slots_per_s")
        ours = f"{t / 1e3:.0f}k/s" + (f" (best {best / 1e3:.0f}k)" if len(raw["tiny 1->1"]) > 1 else "")
        line(
            "1 writer -> 1 reader, 1 x int32",
            ORIG["tiny"],
            ">= 400k/s",
            ours,
            t >= TARGET["tiny"],
            ["tiny 1->1"],
        )
    row = f"batch {BATCH}, 1 x int64"
    t = _get(summ, row, "slots_per_s")
    if t is not None:
        line(
            f"batches of {BATCH}, 1 x int64", "-", ">= 5M/s", f"{t / 1e6:.2f}M/s", t >= TARGET["batch"], [row]
        )
    t = _get(summ, "large 1->1 copy", "slots_per_s")
    if t is not None:
        g = _get(summ, "large 1->1 copy", "GB_per_s")
        best = _get(summ, "large 1->1 copy", "best_slots_per_s")
        line(
            "1 -> 1, large, both ends copy",
            ORIG["large"],
            ">= 3x (54k/s)",
            f"{t / 1e3:.1f}k/s ({g:.1f} GB/s)"
            + (f" (best {best / 1e3:.0f}k)" if len(raw["large 1->1 copy"]) > 1 else ""),
            t >= TARGET["large"],
            ["large 1->1 copy"],
        )
    a, b = (
        _get(summ, "work 100us, 1 reader", "slots_per_s"),
        _get(summ, "work 100us, group of 2", "slots_per_s"),
    )
    q = paired_ratio(raw, "work 100us, 1 reader", "work 100us, group of 2")
    if a and b and q:
        line(
            "group of 2, 100 us work/event",
            ORIG["group"],
            ">= 1.8x",
            f"{q:.2f}x ({a / 1e3:.1f}k -> {b / 1e3:.1f}k/s)",
            q >= TARGET["group"],
            ["work 100us, 1 reader", "work 100us, group of 2"],
        )
    for shape in ("tiny", "large"):
        p50 = _get(summ, f"{shape} paced 1 kHz", "lat_p50_us")
        p99 = _get(summ, f"{shape} paced 1 kHz", "lat_p99_us")
        if p50 is not None:
            line(
                f"paced 1 kHz latency p50/p99, {shape}",
                ORIG["latency"] if shape == "tiny" else "-",
                "<= 20 / <= 80 us",
                f"{p50:.1f} / {p99:.1f} us",
                p50 <= TARGET["lat_p50"] and p99 <= TARGET["lat_p99"],
                [f"{shape} paced 1 kHz"],
            )
    for shape in ("tiny", "large"):
        a, b = (
            _get(summ, f"{shape} no observer", "slots_per_s"),
            _get(summ, f"{shape} + observer", "slots_per_s"),
        )
        q = paired_ratio(raw, f"{shape} no observer", f"{shape} + observer")
        if a and b and q:
            rows = raw.get(f"{shape} + observer", []) + raw.get(f"{shape} no observer", [])
            reorder = sum(r.get("reorder", 0) + r.get("observer_reorder", 0) for r in rows)
            torn = sum(r.get("observer_torn", 0) for r in rows)
            nobs = statistics.median(r.get("observer_events", 0) for r in raw[f"{shape} + observer"])
            ok_order = reorder == 0 and torn == 0
            line(
                f"observer attached, {shape}",
                ORIG["observer"] if shape == "tiny" else "-",
                "<= 5 % slower, in order",
                f"{(q - 1) * 100:+.1f} %, {'in order' if ok_order else 'REORDERED/TORN'} ({nobs:.0f} obs)",
                q >= TARGET["observer"] and ok_order,
                [f"{shape} no observer", f"{shape} + observer"],
            )
    return lines


def print_memory(raw) -> dict:
    rs = raw.get("memory tiny 1->1")
    if not rs:
        return {}
    r = rs[0]  # one run is enough to see the trend; the others are in --json
    print()
    print("memory, tiny 1->1: peak RSS (ru_maxrss, MB) of each process after N events")
    w_at = {int(k): v for k, v in (r.get("writer_rss_at") or {}).items()}
    r_at = {int(k): v for k, v in ((r.get("reader_rss_at") or [{}])[0]).items()}
    points = sorted(set(w_at) | set(r_at))
    print(
        f"{'process':26s} "
        + " ".join(f"{'N=' + format(p, '.0e').replace('+0', ''):>10s}" for p in points)
        + f" {'growth':>8s}"
    )
    out = {"events": r.get("events"), "points": points}
    for who, at in (("writer", w_at), ("reader", r_at)):
        vals = [at.get(p) for p in points]
        growth = (vals[-1] - vals[0]) if vals and None not in (vals[0], vals[-1]) else None
        print(f"{who:26s} " + " ".join(_fmt(v, ".1f", 10) for v in vals) + f" {_fmt(growth, '+.1f', 8)}")
        out[who] = dict(zip(points, vals, strict=True))
    print(
        f"{'parent (buffer owner)':26s} peak {r.get('parent_maxrss_mb', 0):.1f} MB for the whole benchmark "
        f"(it only creates, shuts down and closes buffers)"
    )
    if r.get("events") is not None and points and r["events"] < points[-1]:
        print(f"  (the run stopped at {r['events']} events: time cap reached)")
    out["parent"] = r.get("parent_maxrss_mb")
    return out


def header(method: str) -> dict:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    import mimocorb

    commit = "?"
    with contextlib.suppress(Exception):  # which code was measured: the tree changes under us
        import subprocess

        src = os.path.dirname(os.path.abspath(mimocorb.__file__))
        commit = (
            subprocess.run(
                ["git", "-C", src, "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or "?"
        )
    h = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "mimocorb": getattr(mimocorb, "__version__", "?"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": mem,
        "platform": platform.platform(),
        "start_method": method,
        "loadavg": _loadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(f"mimocorb ring benchmark  {h['date']}")
    print(
        f"python {h['python']}  numpy {h['numpy']}  mimocorb {h['mimocorb']} ({commit})  "
        f"start method {method}"
    )
    print(
        f"machine: {model}, {h['cpus']} cpus" + (f", {mem:.1f} GB RAM" if mem else "") + f", {h['platform']}"
    )
    print(
        f"load average before: {h['loadavg']}   ({NSLOTS} slots; tiny = 1 x int32, large = 4 x "
        f"{LARGE_VPS} float64 = {LARGE_VPS * 32 // 1000} kB)"
    )
    return h


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="cases: " + ", ".join(CASES),
    )
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test, ~10 s)")
    ap.add_argument("--long", action="store_true", help="memory case up to 10^7 events")
    ap.add_argument(
        "--cases",
        nargs="+",
        default=list(CASES),
        choices=CASES,
        metavar="CASE",
        help=f"cases to run (default: all of {' '.join(CASES)})",
    )
    ap.add_argument("--reps", type=int, default=1, help="repeat each run N times, report the median")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run wait up to S seconds for an idle machine (default: don't wait)",
    )
    ap.add_argument("--json", metavar="FILE", help="write header, every run and the summary to FILE")
    ap.add_argument(
        "--start-method",
        choices=mp.get_all_start_methods(),
        default=None,
        help=f"multiprocessing start method (default: {mp.get_start_method(allow_none=False)})",
    )
    a = ap.parse_args(argv)
    global WAIT_IDLE
    WAIT_IDLE = a.wait_idle
    reps = max(1, a.reps)
    method = a.start_method or mp.get_start_method(allow_none=False)
    ctx = mp.get_context(method)
    sz = dict(SIZES["quick" if a.quick else "default"])
    if a.long:
        sz["memory"] = LONG_MEMORY
    h = header(method)
    print()
    print(HEAD)
    summ, raw = {}, {}
    t_start = time.time()
    for case in [c for c in CASES if c in a.cases]:
        try:
            rows = CASE_FUNCS[case](ctx, sz, reps)
        except KeyboardInterrupt:
            print("interrupted")
            break
        except Exception as e:  # report, keep going: the benchmark itself never fails the caller
            print(f"{case:26s} ERROR: {e!r}")
            continue
        for name, rs in rows:
            raw[name] = rs
            summ[name] = row_summary(name, rs)
            print_row(summ[name])
    targets = print_targets(summ, raw)
    mem = print_memory(raw)
    print()
    print(
        f"load average after: {_loadavg()}   total {time.time() - t_start:.0f} s"
        f"{'   (--quick: short runs, figures are rough)' if a.quick else ''}"
    )
    if reps > 1:
        print(f"figures are medians of {reps} runs")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "header": h,
                    "args": vars(a),
                    "rows": list(summ.values()),
                    "targets": targets,
                    "memory": mem,
                    "runs": raw,
                },
                f,
                indent=1,
                default=str,
            )
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
