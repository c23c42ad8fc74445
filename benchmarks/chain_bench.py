#!/usr/bin/env python3
"""Throughput and framework CPU cost of a whole DAQ chain run by the run controller.

    source (rbImport) -> RB_1 -> filter (rbTransfer, 1 or 2 processes) -> RB_2 -> exporter (rbExport)

The user code does next to nothing (the generator yields one prepared array, the filter accepts every
event, the exporter only counts), so the CPU time each stage spends per event is what the framework
costs: access class, ring buffer, copies. Each worker measures its own CPU time (``time.process_time``)
from its first to its last event; the exporter also times the stream (first to last event), which gives
the rate. Two payloads: one int32 value per event, and 4 channels x 4250 float64 values (the example's
waveforms, 136 kB per event).

Run:  .venv/bin/python benchmarks/chain_bench.py [--quick] [--events N] [--start-method fork]

This file is also the module with the three worker functions (the setup names it), so it has to stay
importable: everything that runs the benchmark sits below ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
THIS = HERE / "chain_bench"


# ---------------------------------------------------------------------------------- workers ----
def _report(config_dict, stage, events, cpu, t_first=None, t_last=None):
    path = Path(config_dict["directory_prefix"]) / f"bench_{stage}_{os.getpid()}.json"
    path.write_text(json.dumps({"stage": stage, "events": events, "cpu": cpu, "t0": t_first, "t1": t_last}))


def bench_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.buffer_control import rbImport

    setup = sink_list[0]
    data = np.ones((len(setup["dtype"]), setup["values_per_slot"]))
    state = {"n": 0, "cpu0": None}

    def generate():
        state["cpu0"] = time.process_time()
        while True:
            state["n"] += 1
            yield data, None

    source = rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)
    try:
        source()
    finally:
        _report(config_dict, "source", source.event_count, time.process_time() - (state["cpu0"] or 0))


def bench_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.buffer_control import rbTransfer

    count = {"n": 0, "cpu0": None}

    def accept(event):
        if count["cpu0"] is None:
            count["cpu0"] = time.process_time()
        count["n"] += 1
        return 1

    transfer = rbTransfer(
        source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=accept, **rb_info
    )
    try:
        transfer()
    finally:
        _report(
            config_dict, "filter", count["n"], time.process_time() - (count["cpu0"] or time.process_time())
        )


def bench_exporter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.buffer_control import rbExport

    n, cpu0, t_first, t_last = 0, None, None, None
    for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
        if item is None:
            break
        if cpu0 is None:
            cpu0, t_first = time.process_time(), time.perf_counter()
        n += 1
        t_last = time.perf_counter()
    _report(config_dict, "exporter", n, time.process_time() - (cpu0 or time.process_time()), t_first, t_last)


# ---------------------------------------------------------------------------------- driver -----
SETUP = """\
output_directory: {out}
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1: {{number_of_slots: {slots}, channel_per_slot: {vps}, data_type: {dtype}}}
  - RB_2: {{number_of_slots: {slots}, channel_per_slot: {vps}, data_type: {dtype}}}
Functions:
  - Fkt_main: {{runevents: {events}}}
  - Fkt_1: {{file_name: {mod}, fkt_name: bench_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mod}, fkt_name: bench_filter, num_process: {nf},
            RB_assign: {{RB_1: read, RB_2: write}}}}
  - Fkt_3: {{file_name: {mod}, fkt_name: bench_exporter, num_process: 1, RB_assign: {{RB_2: read}}}}
FunctionConfigs: {{bench_source: {{}}, bench_filter: {{}}, bench_exporter: {{}}}}
"""

PAYLOADS = {
    "1 x int32": ("{1: [x, int32]}", 1, 128),
    "4 x 4250 float64": (
        "{1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}",
        4250,
        32,
    ),
}


def run_case(workdir: Path, payload: str, n_filters: int, events: int, start_method: str) -> dict:
    from mimocorb.run import RunOptions, run_setup

    dtype, vps, slots = PAYLOADS[payload]
    case_dir = Path(tempfile.mkdtemp(dir=workdir))
    setup = case_dir / "bench_setup.yaml"
    setup.write_text(
        SETUP.format(
            out=case_dir / "runs", slots=slots, vps=vps, dtype=dtype, events=events, mod=THIS, nf=n_filters
        )
    )
    result = run_setup(setup, RunOptions(verbose=0, kbd=False, gui=False, start_method=start_method))
    if result.exit_code != 0:
        raise RuntimeError(f"benchmark run failed: {result.summary.get('failures')}")
    stages: dict[str, dict] = {}
    for file in result.run_dir.glob("bench_*.json"):
        r = json.loads(file.read_text())
        s = stages.setdefault(r["stage"], {"events": 0, "cpu": 0.0, "t0": None, "t1": None})
        s["events"] += r["events"]
        s["cpu"] += r["cpu"]
        if r["t0"] is not None:
            s["t0"], s["t1"] = r["t0"], r["t1"]
    n = stages["exporter"]["events"]
    if n != events:
        raise RuntimeError(f"expected {events} events at the exporter, got {n}")
    elapsed = stages["exporter"]["t1"] - stages["exporter"]["t0"]
    row = {
        "payload": payload,
        "filters": n_filters,
        "events": n,
        "rate": (n - 1) / elapsed if elapsed > 0 else 0.0,
    }
    for stage in ("source", "filter", "exporter"):
        row[stage] = 1e6 * stages[stage]["cpu"] / max(1, stages[stage]["events"])
    row["total"] = row["source"] + row["filter"] + row["exporter"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events (a smoke run)")
    parser.add_argument("--events", type=int, help="events per small-event case (waveforms: a tenth)")
    parser.add_argument("--start-method", default="fork", choices=("fork", "spawn", "forkserver"))
    args = parser.parse_args(argv)
    small = args.events or (20_000 if args.quick else 300_000)
    sys.path.insert(0, str(HERE))
    rows = []
    with tempfile.TemporaryDirectory(prefix="chain_bench_") as tmp:
        for payload in PAYLOADS:
            events = small if payload.startswith("1 ") else max(1000, small // 10)
            for n_filters in (1, 2):
                rows.append(run_case(Path(tmp), payload, n_filters, events, args.start_method))
    print(f"chain_bench ({args.start_method}, {os.cpu_count()} CPUs): source -> rbTransfer -> rbExport")
    print("CPU per event and stage in µs (all processes of a stage together)")
    names = ("filters", "events", "events/s", "source", "filter", "export", "total")
    head = f"{'payload':<18} " + " ".join(f"{n:>{10 if n == 'events/s' else 8}}" for n in names)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['payload']:<18} {r['filters']:>8} {r['events']:>8} {r['rate']:>10.0f} {r['source']:>8.1f} "
            f"{r['filter']:>8.1f} {r['exporter']:>8.1f} {r['total']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
