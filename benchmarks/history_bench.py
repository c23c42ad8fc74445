#!/usr/bin/env python3
"""The run history: its size after a month, its cost in a run, and how fast the History page gets a span.

1. **A month.** ``--days`` (30) days of 50 variables sampled every second, written through
   ``HistoryWriter`` with explicit times (the month ends now) and the default retention (every sample 6 h,
   minutes 7 days, hours for ever); committed every minute of samples so that it takes minutes, not a
   month. Reported: the time it took, the rows of each tier and the size of history.sqlite (with its
   write-ahead log) afterwards.
2. **The cost in a run.** Then ``--live`` (3600) more samples as a run writes them: one commit per
   sample, and before each the gathering of the variables a run does (CPU and memory of 6 real worker
   processes through psutil, 5 buffers' numbers, the disk's free space). Reported: CPU time per sample,
   i.e. the fraction of a core at one sample per second, and the longest time one sample held the loop.
3. **The History page's data.** ``mimocorb serve`` over that directory; ``GET /api/history/data`` for
   a month, a day and an hour of 1, 5 and 50 variables, 5 times each (median and slowest), as the page
   asks for them.

Run:  .venv/bin/python benchmarks/history_bench.py [--days 30] [--live 3600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from mimocorb.history import HistorySettings, HistoryWriter, connect
from mimocorb.run.status import BufferSample
from mimocorb.run.variables import ProcessMeter, buffer_variables

BUFFERS = [f"RB_{k}" for k in range(1, 6)]  # 5 x 5 variables
WORKERS = [f"Fkt_{k}" for k in range(1, 7)]  # 6 x 3
USER = ["temperature", "pressure", "hv.ch1", "hv.ch2", "accepted_rate", "humidity"]  # 6, with disk: 50


def names() -> list[str]:
    found = [f"{b}.{v}" for b in BUFFERS for v in ("events", "rate_hz", "fill", "deadtime", "lost")]
    found += [f"{w}.{v}" for w in WORKERS for v in ("cpu", "memory_mb", "restarts")]
    return [*found, "disk_free_gb", *USER]


def values_at(k: int, events: list[float]) -> dict[str, float]:
    """Plausible values of every variable at second ``k``: counters rise, the rest wander."""
    out: dict[str, float] = {}
    for i, b in enumerate(BUFFERS):
        rate = 1000.0 / (i + 1) * (1 + 0.1 * math.sin(k / 600))
        events[i] += rate
        out |= {
            f"{b}.events": float(int(events[i])),
            f"{b}.rate_hz": rate,
            f"{b}.fill": (k % 17) / 16,
            f"{b}.deadtime": 0.001 * (k % 7),
            f"{b}.lost": 0.0,
        }
    for i, w in enumerate(WORKERS):
        out |= {f"{w}.cpu": 0.05 * (i + 1), f"{w}.memory_mb": 80.0 + i, f"{w}.restarts": 0.0}
    out["disk_free_gb"] = 500.0 - k * 1e-6
    for i, u in enumerate(USER):
        out[u] = 20.0 + i + math.sin(k / 3600 + i)
    return out


def write_month(directory: Path, days: float, end: float) -> dict[str, float]:
    writer = HistoryWriter(directory, HistorySettings(), "month_run", "bench.yaml")
    events = [0.0] * len(BUFFERS)
    seconds = int(days * 86400)
    start = end - seconds
    began = time.perf_counter()
    for k in range(seconds):
        writer.record(start + k, "running", values_at(k, events), commit=False)
        if k % 60 == 59:
            writer.flush()
    writer.close()
    return {"seconds": time.perf_counter() - began, "samples": seconds}


def sizes(directory: Path) -> dict[str, float]:
    db = connect(directory, create=False)
    rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    db.close()
    main = (directory / "history.sqlite").stat().st_size
    wal = directory / "history.sqlite-wal"
    return {**rows, "file_mb": main / 1e6, "wal_mb": (wal.stat().st_size if wal.exists() else 0) / 1e6}


TABLES = ("history_samples", "history_minutes", "history_hours")


def live(directory: Path, samples: int, end: float) -> dict[str, float]:
    """``samples`` more seconds after ``end``, one commit each, with the gathering of a run."""
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"]) for _ in WORKERS]
    meter = ProcessMeter()
    writer = HistoryWriter(directory, HistorySettings(), "live_run", "bench.yaml")
    events = [0.0] * len(BUFFERS)
    held: list[float] = []
    try:
        cpu0 = time.process_time()
        for k in range(samples):
            t0 = time.perf_counter()
            gathered = buffer_variables(
                BufferSample(b, int(events[i]), k % 17, 16, 100.0, 0.001, 0) for i, b in enumerate(BUFFERS)
            )
            for w, child in zip(WORKERS, children, strict=True):
                gathered[f"{w}.cpu"], gathered[f"{w}.memory_mb"] = meter.measure(child.pid)
            gathered["disk_free_gb"] = shutil.disk_usage(directory).free / 1e9
            values = values_at(k, events) | gathered
            writer.record(end + k, "running", values)
            held.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
        writer.close()
    finally:
        for child in children:
            child.kill()
            child.wait()
    return {
        "cpu_per_sample_ms": 1e3 * cpu / samples,
        "core_percent": 100 * cpu / samples,  # at one sample per second
        "median_ms": 1e3 * statistics.median(held),
        "max_ms": 1e3 * max(held),
        "variables": len(values),
    }


def serve(directory: Path) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "mimocorb", "serve", str(directory), "--web", "127.0.0.1:0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"mimocorb serve did not start: {line}")
    url = line[line.index("http://") :].strip()
    return proc, url.split("/?")[0]


def page_data(base: str, end: float) -> list[dict[str, object]]:
    every = names()
    results = []
    for label, span in (("month", 30 * 86400), ("day", 86400), ("hour", 3600)):
        for chosen in (every[:1], every[:5], every):
            query = urllib.parse.urlencode({"vars": ",".join(chosen), "since": end - span, "until": end})
            times, body = [], {}
            for _ in range(5):
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"{base}/api/history/data?{query}", timeout=60) as response:
                    raw = response.read()
                times.append(time.perf_counter() - t0)
                body = json.loads(raw)
            points = sum(len(s["t"]) for s in body["series"].values())
            results.append(
                {
                    "span": label,
                    "variables": len(chosen),
                    "resolution": body["resolution"],
                    "points": points,
                    "kB": len(raw) / 1e3,
                    "median_s": statistics.median(times),
                    "max_s": max(times),
                }
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0, help="days of history to write (default 30)")
    parser.add_argument("--live", type=int, default=3600, help="samples written as a run does (default 3600)")
    parser.add_argument(
        "--keep", type=Path, help="write the history here and keep it (default: a temporary dir)"
    )
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="history-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    end = time.time() - args.live
    print(f"history_bench: {args.days:g} days of {len(names())} variables at 1 sample/s in {directory}")
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    month = write_month(directory, args.days, end)
    size = sizes(directory)
    print("\n1. A month, as downsampling leaves it")
    print("| samples written | took s | full-resolution rows | minute rows | hour rows | file MB | WAL MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {month['samples']:,} | {month['seconds']:.0f} | {size['history_samples']:,} | "
        f"{size['history_minutes']:,} | {size['history_hours']:,} | {size['file_mb']:.1f} | "
        f"{size['wal_mb']:.1f} |"
    )
    cost = live(directory, args.live, end)
    print(f"\n2. The cost in a run ({args.live} samples of {cost['variables']} variables, one commit each)")
    print("| CPU per sample ms | % of a core at 1 sample/s | median ms | longest ms |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {cost['cpu_per_sample_ms']:.2f} | {cost['core_percent']:.2f} | {cost['median_ms']:.2f} | "
        f"{cost['max_ms']:.1f} |"
    )
    size = sizes(directory)
    print(f"history.sqlite afterwards: {size['file_mb']:.1f} MB (+ {size['wal_mb']:.1f} MB write-ahead log)")
    proc, base = serve(directory)
    try:
        answers = page_data(base, end + args.live)
    finally:
        proc.terminate()
        proc.wait(10)
    print("\n3. The History page's data (GET /api/history/data, 5 times each)")
    print("| span | variables | resolution | points | kB | median s | slowest s |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for a in answers:
        print(
            f"| {a['span']} | {a['variables']} | {a['resolution']} | {a['points']:,} | {a['kB']:.0f} | "
            f"{a['median_s']:.3f} | {a['max_s']:.3f} |"
        )
    print(f"\nload after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.keep is None:
        shutil.rmtree(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
