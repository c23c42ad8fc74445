#!/usr/bin/env python3
"""Benchmark of recording and replay (``mimocorb.io``): sustained export rate per format, replay speed.

    python benchmarks/export_bench.py             # every case (~1 min), prints a table
    python benchmarks/export_bench.py --quick     # fewer events: a smoke test
    python benchmarks/export_bench.py --events 3000 --dir /data/tmp --json out.json
    python benchmarks/export_bench.py --original ~/.cache/mimocorb-orig/src   # + 1.0.2's rb_toParquetfile

Waveform cases use a buffer of 128 slots of 4 channels x 4250 float64 (136 kB per event), filled by a
writer process from a pool of realistic waveforms (baseline plus noise of float32 resolution plus a
pulse, as the pulse simulator makes them; random bits would not compress, constant data would compress
unrealistically well). The exporter runs in its own process, as in a run. The rate is events exported
divided by the time from the first event offered until the exporter has closed its file (so the last
flush counts). Record cases use a buffer of one record (counter-like int32, two float32, one float64)
per slot, the only layout ``rb_toTxtfile`` accepts.

The ROOT and HDF5 recorders run with their defaults (lz4 baskets; lzf with shuffle). "rollover" pairs
run a recorder without and with a new part every 100 MB of data, alternately, three times (``--pairs``;
``--rollover-only`` runs nothing else); the cost is the drop of the median MB/s and of the median MB per
CPU second (steadier on a shared machine). Both differences are within the spread of single runs, so
the script also measures a part's own cost: the CPU time of opening and finishing one with the
recorder's writer (the data are written once either way), as a share of the CPU time its 100 MB take.

Replay cases replay the files the export cases wrote into a buffer read by a draining process, at full
speed (``timing: full``), until the source is exhausted.

"MB/CPUs" is the data exported per CPU second of the exporter process (all its threads): on a machine
shared with other jobs it is steadier than MB/s, and it is the rate the exporter could sustain with a
core of its own (the recorder compresses in a second thread, so with two free cores it may go above it).

With ``--original SRC`` (the unpacked published mimoCoRB 1.0.2, see benchmarks/README.md) the row
"tar of parquet, mimoCoRB 1.0.2" runs the original's own buffer and ``rb_toParquetfile`` in a separate
interpreter (the package is only run, never copied). Its end of run has fixed delays (sleeps and 0.5 s
polls), so its rate is the marginal one: two runs of different length, (N2 - N1) / (T2 - T1).

Nothing is asserted; each row says whether the exporter saw every event (``ok`` or ``WRONG``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb import mimo_buffer as bm

SLOTS = 128
SAMPLES = 4250
WAVE = [("chA", np.float64), ("chB", np.float64), ("chC", np.float64), ("chD", np.float64)]
RECORD = [("n", np.int32), ("amp", np.float32), ("pos", np.float32), ("area", np.float64)]
POOL = 64
DEADLINE = 300.0


def waveform_pool(rng: np.random.Generator) -> np.ndarray:
    pool = np.zeros((POOL, SAMPLES), dtype=WAVE)
    t = np.arange(SAMPLES)
    for k in range(POOL):
        for name, _ in WAVE:
            noise = rng.uniform(-4.0, 4.0, SAMPLES).astype(np.float32)
            start = rng.integers(100, SAMPLES - 200)
            pulse = np.where(t >= start, 250.0 * np.exp(-(t - start) / 25.0), 0.0).astype(np.float32)
            pool[k][name] = (noise + pulse).astype(np.float64)
    return pool


def record_pool(rng: np.random.Generator) -> np.ndarray:
    pool = np.zeros((POOL, 1), dtype=RECORD)
    pool["n"] = rng.integers(0, 4250, (POOL, 1))
    pool["amp"] = rng.uniform(0, 500, (POOL, 1)).astype(np.float32)
    pool["pos"] = rng.uniform(0, 4250, (POOL, 1)).astype(np.float32)
    pool["area"] = rng.uniform(0, 1e4, (POOL, 1))
    return pool


def writer_main(setup: dict, pool: np.ndarray, events: int) -> None:
    writer = bm.Writer(setup)
    for k in range(events):
        slot = writer.get_new_buffer()
        slot[:] = pool[k % POOL]
        writer.set_metadata(k + 1, time.time(), 0.0)
        writer.process_buffer()


def exporter_main(kind: str, setup: dict, directory: str, options: dict, result: Any) -> None:
    from mimocorb.io import ParquetRecorder, rb_toParquetfile, rb_toTxtfile
    from mimocorb.io.hdf5file import Hdf5Recorder
    from mimocorb.io.rootfile import RootRecorder

    config = {"directory_prefix": directory, "filename": "bench", **options}
    classes = {"dataset": ParquetRecorder, "tar": rb_toParquetfile, "txt": rb_toTxtfile}
    cls = {**classes, "root": RootRecorder, "hdf5": Hdf5Recorder}[kind]
    exporter = cls([setup], config, RB_1="read")
    cpu0 = time.process_time()  # all threads of this process
    exporter()
    result.put((exporter.events, time.perf_counter(), time.process_time() - cpu0))


def drain_main(setup: dict, result: Any) -> None:
    reader = bm.Reader(setup)
    n = 0
    try:
        while True:
            reader.get()
            n += 1
    except SystemExit:
        result.put(n)


def replay_main(setup: dict, path: str, result: Any) -> None:
    from mimocorb.io.replay import ReplaySource

    source = ReplaySource([setup], {"path": path, "timing": "full"}, RB_1="write")
    t0 = time.perf_counter()
    source()
    result.put((source.replayed, t0, time.perf_counter()))


def export_case(kind: str, dtype: list, pool: np.ndarray, events: int, directory: str, options: dict) -> dict:
    ctx = mp.get_context("fork")
    vps = pool.shape[1]
    buf = bm.NewBuffer(SLOTS, vps, dtype)
    result = ctx.Queue()
    try:
        exporter = ctx.Process(
            target=exporter_main, args=(kind, buf.new_reader_group(), directory, options, result)
        )
        exporter.start()
        time.sleep(0.5)  # the exporter attaches and imports pyarrow before the clock starts
        writer = ctx.Process(target=writer_main, args=(buf.new_writer(), pool, events))
        t0 = time.perf_counter()
        writer.start()
        writer.join(DEADLINE)
        buf.shutdown(timeout=DEADLINE)
        seen, t1, cpu = result.get(timeout=DEADLINE)
        exporter.join(10)
    finally:
        buf.shutdown(timeout=1.0)
        buf.close()
    dt = t1 - t0
    mb = events * vps * np.dtype(dtype).itemsize / 1e6
    return {
        "events": events,
        "seconds": dt,
        "events_per_s": events / dt,
        "mb_per_s": mb / dt,
        "cpu_s": cpu,
        "mb_per_cpu_s": mb / cpu if cpu > 0 else float("nan"),
        "check": "ok" if seen == events else f"WRONG: {seen} of {events}",
    }


def replay_case(path: str, dtype: list, vps: int, events: int) -> dict:
    ctx = mp.get_context("fork")
    buf = bm.NewBuffer(SLOTS, vps, dtype)
    result, drained = ctx.Queue(), ctx.Queue()
    try:
        drain = ctx.Process(target=drain_main, args=(buf.new_reader_group(), drained))
        drain.start()
        source = ctx.Process(target=replay_main, args=(buf.new_writer(), path, result))
        source.start()
        replayed, t0, t1 = result.get(timeout=DEADLINE)
        source.join(10)
        buf.shutdown(timeout=DEADLINE)
        seen = drained.get(timeout=30)
        drain.join(10)
    finally:
        buf.shutdown(timeout=1.0)
        buf.close()
    dt = t1 - t0
    ok = replayed == events and seen == events
    return {
        "events": replayed,
        "seconds": dt,
        "events_per_s": replayed / dt,
        "mb_per_s": replayed * vps * np.dtype(dtype).itemsize / dt / 1e6,
        "check": "ok" if ok else f"WRONG: replayed {replayed}, drained {seen} of {events}",
    }


def original_run(directory: str, events: int) -> None:
    """In an interpreter whose ``mimocorb`` is the published 1.0.2: time its tar exporter, print seconds."""
    import mimocorb
    from mimocorb.buffer_control import rb_toParquetfile

    print(f"# using {mimocorb.__file__}", file=sys.stderr)
    ctx = mp.get_context("fork")
    pool = waveform_pool(np.random.default_rng(7))
    buf = bm.NewBuffer(SLOTS, SAMPLES, WAVE)
    group = buf.new_reader_group()

    def export() -> None:
        config = {"filename": "bench", "directory_prefix": directory}
        rb_toParquetfile(source_list=[group], config_dict=config, RB_1="read")()

    exporter = ctx.Process(target=export)
    exporter.start()
    time.sleep(0.5)
    writer = ctx.Process(target=writer_main, args=(buf.new_writer(), pool, events))
    t0 = time.perf_counter()
    writer.start()
    writer.join(DEADLINE)
    buf.set_ending()
    buf.shutdown()
    exporter.join(DEADLINE)
    print(time.perf_counter() - t0)


def original_case(src: str, top: str, events: int) -> dict:
    """Marginal rate of 1.0.2's rb_toParquetfile from two runs (its end of run has fixed delays)."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(os.path.expanduser(src)))
    times = []
    for n in (events // 4, events):
        directory = os.path.join(top, f"original_{n}") + "/"
        os.makedirs(directory)
        command = [sys.executable, __file__, "--original-run", directory, str(n)]
        if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
            # 1.0.2 needs a display just to be imported: its buffer_control imports its Tk GUI
            command = ["xvfb-run", "-a", *command]
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the mimoCoRB 1.0.2 run failed:\n{done.stderr[-2000:]}")
        if f"# using {env['PYTHONPATH']}" not in done.stderr:
            raise RuntimeError(f"{src} was not the mimocorb imported: {done.stderr[-500:]}")
        times.append(float(done.stdout.strip().splitlines()[-1]))
    n = events - events // 4
    dt = times[1] - times[0]
    return {
        "events": n,
        "seconds": dt,
        "events_per_s": n / dt,
        "mb_per_s": n * SAMPLES * np.dtype(WAVE).itemsize / dt / 1e6,
        "check": f"marginal ({events // 4} and {events} events: {times[0]:.2f} s, {times[1]:.2f} s)",
    }


def file_size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return sum(f.stat().st_size for f in path.parent.glob(f"{path.stem}*{path.suffix}"))


OUTPUTS = {"dataset": "bench.parquet", "root": "bench.root", "hdf5": "bench.h5"}
ROLLOVER = {"rollover_mb": 100}
NO_ROLLOVER = {"rollover_mb": None, "rollover_minutes": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events (smoke test)")
    parser.add_argument("--events", type=int, help="waveform events per export case (default 2000)")
    parser.add_argument("--dir", help="where the files are written (default: a temporary directory)")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--original", metavar="SRC", help="also run mimoCoRB 1.0.2's tar exporter from SRC")
    parser.add_argument("--pairs", type=int, default=3, help="rollover pairs (without, with) per format")
    parser.add_argument("--rollover-only", action="store_true", help="only the rollover pairs")
    parser.add_argument("--original-run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.original_run:
        original_run(args.original_run[0], int(args.original_run[1]))
        return
    wave_events = args.events or (300 if args.quick else 2000)
    tar_events = max(50, wave_events // 4)  # the tar format is slow; its rate is steady early
    record_events = 20000 if args.quick else 200000
    rng = np.random.default_rng(7)
    waves, records = waveform_pool(rng), record_pool(rng)
    top = tempfile.mkdtemp(prefix="export-bench-", dir=args.dir)
    rows: list[tuple[str, dict]] = []
    cases = [
        ("dataset lz4 (default)", "dataset", WAVE, waves, wave_events, {}),
        ("dataset zstd", "dataset", WAVE, waves, wave_events, {"compression": "zstd"}),
        ("dataset none", "dataset", WAVE, waves, wave_events, {"compression": "none"}),
        ("root lz4 (default)", "root", WAVE, waves, wave_events, {}),
        ("hdf5 lzf (default)", "hdf5", WAVE, waves, wave_events, {}),
        ("tar of parquet", "tar", WAVE, waves, tar_events, {}),
        ("records: dataset lz4", "dataset", RECORD, records, record_events, {}),
        ("records: root", "root", RECORD, records, record_events, {}),
        ("records: hdf5", "hdf5", RECORD, records, record_events, {}),
        ("records: tar of parquet", "tar", RECORD, records, record_events // 20, {}),
        ("records: txt", "txt", RECORD, records, record_events // 4, {}),
    ]
    print(f"export_bench: {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()}, files in {top}")
    if args.rollover_only:
        cases = []
    try:
        for label, kind, dtype, pool, events, options in cases:
            directory = os.path.join(
                top, label.replace(" ", "_").replace(":", "").replace("(", "").replace(")", "")
            )
            os.makedirs(directory)
            row = export_case(kind, dtype, pool, events, directory + "/", options)
            out = Path(directory) / OUTPUTS.get(kind, f"bench.{kind}")
            row["file_mb"] = file_size(out) / 1e6
            rows.append((f"export {label}", row))
            print_row(*rows[-1])
            if kind == "tar" and dtype is WAVE and args.original:
                rows.append(
                    ("export tar of parquet, mimoCoRB 1.0.2", original_case(args.original, top, events))
                )
                print_row(*rows[-1])
            if kind != "txt" and "none" not in label and "zstd" not in label:
                replay = replay_case(str(out), dtype, pool.shape[1], events)
                rows.append((f"replay {label}", replay))
                print_row(*rows[-1])
        for kind in ("root", "hdf5"):
            rows += rollover_pairs(kind, waves, wave_events, top, args.pairs)
            rows.append((f"part of {kind}", part_cost(kind, top)))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    summarise(dict(rows), args.pairs)
    if args.json:
        Path(args.json).write_text(json.dumps({"load": os.getloadavg(), "rows": dict(rows)}, indent=2))


def rollover_pairs(kind: str, pool: np.ndarray, events: int, top: str, pairs: int) -> list[tuple[str, dict]]:
    """Without and with rollover, alternately (the host's drift hits both alike)."""
    rows = []
    for k in range(pairs):
        for label, options in (("without", NO_ROLLOVER), ("with", ROLLOVER)):
            directory = os.path.join(top, f"rollover_{kind}_{label}_{k}")
            os.makedirs(directory)
            rows.append(
                (
                    f"rollover {kind} {label} {k}",
                    export_case(kind, WAVE, pool, events, directory + "/", options),
                )
            )
            print_row(*rows[-1])
            shutil.rmtree(directory)
    return rows


def part_cost(kind: str, top: str, parts: int = 40) -> dict:
    """CPU time of opening and finishing one part with the recorder's own writer: what a rollover adds,
    apart from the data, which the events write once either way. Steadier than the difference of two
    rates on a shared machine."""
    from mimocorb.io._recorder import Layout
    from mimocorb.io.hdf5file import Hdf5Writer
    from mimocorb.io.parts import PartLog
    from mimocorb.io.rootfile import RootWriter

    writer_class = {"root": RootWriter, "hdf5": Hdf5Writer}[kind]
    layout = Layout(WAVE, SAMPLES, {"mimocorb.buffer": "RB_1", "mimocorb.version": "bench"})
    directory = Path(top) / f"parts_{kind}"
    directory.mkdir()
    writer = writer_class(layout, lambda: directory / "unused", PartLog(), {})
    start = time.process_time()
    for k in range(parts):
        writer.open(directory / f"part_{k}")
        writer.finish()
    cpu = (time.process_time() - start) / parts
    shutil.rmtree(directory)
    print(f"part of {kind}: opening and finishing one costs {cpu * 1e3:.2f} ms of CPU", flush=True)
    return {"cpu_s": cpu}


HEADER = (
    f"{'case':40} {'events':>7} {'s':>6} {'events/s':>9} {'MB/s':>7} {'MB/CPUs':>8} {'file MB':>8}  check"
)


def print_row(label: str, row: dict) -> None:
    if not hasattr(print_row, "done"):
        print(HEADER)
        print_row.done = True  # type: ignore[attr-defined]
    size = f"{row['file_mb']:8.1f}" if "file_mb" in row else f"{'':8}"
    per_cpu = f"{row['mb_per_cpu_s']:8.1f}" if "mb_per_cpu_s" in row else f"{'':8}"
    print(
        f"{label:40} {row['events']:7d} {row['seconds']:6.2f} {row['events_per_s']:9.0f} "
        f"{row['mb_per_s']:7.1f} {per_cpu} {size}  {row['check']}",
        flush=True,
    )


def summarise(rows: dict[str, dict], pairs: int) -> None:
    dataset = rows.get("export dataset lz4 (default)")
    tar = rows.get("export tar of parquet")
    original = rows.get("export tar of parquet, mimoCoRB 1.0.2")
    if dataset and original:
        print(
            f"\nrecorder (lz4) / mimoCoRB 1.0.2's tar-of-Parquet exporter: "
            f"{dataset['mb_per_s'] / original['mb_per_s']:.1f} x (target >= 10)"
        )
    if dataset and tar:
        print(
            f"\nrecorder (lz4) {dataset['mb_per_s']:.0f} MB/s (target >= 200): "
            f"{'yes' if dataset['mb_per_s'] >= 200 else 'no'}; "
            f"{dataset['mb_per_s'] / tar['mb_per_s']:.1f} x the tar-of-Parquet format (target >= 10): "
            f"{'yes' if dataset['mb_per_s'] >= 10 * tar['mb_per_s'] else 'no'}"
        )
        print(
            f"per CPU second of the exporter process: recorder {dataset['mb_per_cpu_s']:.0f} MB, "
            f"tar {tar['mb_per_cpu_s']:.0f} MB ({dataset['mb_per_cpu_s'] / tar['mb_per_cpu_s']:.1f} x)"
        )
    for kind, label in (("root", "root lz4 (default)"), ("hdf5", "hdf5 lzf (default)")):
        row, records = rows.get(f"export {label}"), rows.get(f"export records: {kind}")
        if dataset and row:
            share = row["mb_per_s"] / dataset["mb_per_s"]
            per_cpu = row["mb_per_cpu_s"] / dataset["mb_per_cpu_s"]
            print(
                f"{kind} recorder: {share:.0%} of the Parquet recorder's MB/s, "
                f"{per_cpu:.0%} of its MB per CPU s (target >= 50 %)"
            )
        if records:
            print(f"{kind} recorder, records: {records['events_per_s']:.0f} events/s (target >= 100000)")
        rollover = [rows.get(f"rollover {kind} {w} {k}") for k in range(pairs) for w in ("without", "with")]
        part = rows.get(f"part of {kind}")
        if all(rollover) and part:
            per_cpu_s = np.median([p["mb_per_cpu_s"] for p in rollover[0::2]])
            share = part["cpu_s"] / (ROLLOVER["rollover_mb"] / per_cpu_s)
            print(
                f"{kind} rollover every 100 MB: a part's own cost, {part['cpu_s'] * 1e3:.2f} ms of CPU, is "
                f"{share:.2%} of the CPU time of writing its 100 MB at {per_cpu_s:.0f} MB per CPU s"
            )
        if all(rollover):
            for key, unit in (("mb_per_s", "MB/s"), ("mb_per_cpu_s", "MB per CPU s")):
                without = np.median([p[key] for p in rollover[0::2]])
                with_ = np.median([p[key] for p in rollover[1::2]])
                print(
                    f"{kind} rollover every 100 MB: cost {1 - with_ / without:.1%} of {unit}, "
                    f"median of {pairs} pairs (target <= 2 %)"
                )
    print(f"load after the run: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
