#!/usr/bin/env python3
"""Event rate of a DAQ chain with all displays open against the same chain without displays.

    source (rbImport, 4 x 1000 float32 waveforms) -> RB_1 -> filter (pulse heights) -> RB_2 -> drain
    displays: oscilloscope observing RB_1, live histograms reading RB_2, buffer monitor (GUI_control)

Modes, run alternately: ``none`` (no display function, GUI off); ``drain2`` (no display, but a second
plain consumer of RB_2 in place of the histogram reader: what any extra reader costs); ``windows``
(every display in a real window; on a virtual X server started here when DISPLAY is not set);
``pictures`` (no display: the same displays render PNG snapshots every 2 s). Two loads: the source
paced at ``--rate`` Hz (the normal case of a lab: the rate is set by the detector) and saturated (as
fast as the machine goes, so every cycle the displays take is visible). The figure is RB_1's events
per second of active time (run_summary.json); ``ratio`` is relative to ``none`` of the same load
(target: >= 95 %).

Run:  .venv/bin/python benchmarks/display_bench.py [--quick] [--runtime S] [--reps N] [--rate HZ]

This file is also the module with the worker functions (the setup names it), so it stays importable:
everything that runs the benchmark sits below ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
THIS = HERE / "display_bench"
N_SAMPLES = 1000
PRE = 100


# ---------------------------------------------------------------------------------- workers ----
def bench_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Waveforms with one pulse per channel; paced to ``rate`` Hz when it is > 0."""
    from mimocorb.buffer_control import rbImport

    rate = float((config_dict or {}).get("rate", 0))
    rng = np.random.default_rng(7)
    pulse = np.zeros(N_SAMPLES, dtype=np.float32)
    pulse[PRE:] = 300.0 * np.exp(-np.arange(N_SAMPLES - PRE) / 30.0)
    shapes = [pulse * h for h in rng.uniform(0.3, 1.0, (64, 4, 1)).astype(np.float32)]

    def generate():
        period = 1.0 / rate if rate > 0 else 0.0
        next_t = time.perf_counter()
        i = 0
        while True:
            if period:
                next_t += period
                delay = next_t - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            i += 1
            yield shapes[i % 64], None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def bench_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """The height of every channel's pulse, one record per event."""
    from mimocorb.buffer_control import rbTransfer

    out_dtype = [("chA_h", "f4"), ("chB_h", "f4"), ("chC_h", "f4"), ("chD_h", "f4")]

    def heights(data):
        record = np.zeros(1, dtype=out_dtype)
        for name, out in zip(("chA", "chB", "chC", "chD"), record.dtype.names, strict=True):
            record[out] = data[name].max()
        return [record]

    rbTransfer(source_list, sink_list, config_dict, ufunc=heights, **rb_info)()


def bench_drain(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.buffer_control import rbDrain

    rbDrain(source_list, config_dict, **rb_info)()


def bench_scope(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.plot_buffer import plot_buffer

    plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


def bench_histograms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    from mimocorb.histogram_buffer import histogram_buffer

    histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


# ---------------------------------------------------------------------------------- the run ----
def setup_text(mode: str, rate: float) -> str:
    displays = mode in ("windows", "pictures")
    fkt = f"file_name: {THIS}, num_process: 1"
    text = f"""\
output_directory: target
GUI_control: {str(displays).lower()}
KBD_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 64, channel_per_slot: {N_SAMPLES},
            data_type: {{1: [chA, float32], 2: [chB, float32], 3: [chC, float32], 4: [chD, float32]}}}}
  - RB_2: {{number_of_slots: 64, channel_per_slot: 1,
            data_type: {{1: [chA_h, float32], 2: [chB_h, float32],
                        3: [chC_h, float32], 4: [chD_h, float32]}}}}
Functions:
  - Fkt_main: {{}}
  - Fkt_1: {{{fkt}, fkt_name: bench_source, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{{fkt}, fkt_name: bench_filter, RB_assign: {{RB_1: read, RB_2: write}}}}
  - Fkt_3: {{{fkt}, fkt_name: bench_drain, RB_assign: {{RB_2: read}}}}
"""
    if mode == "drain2":
        text += f"  - Fkt_4: {{{fkt}, fkt_name: bench_drain, RB_assign: {{RB_2: read}}}}\n"
    if displays:
        text += f"""\
  - Fkt_4: {{{fkt}, fkt_name: bench_scope, RB_assign: {{RB_1: observe}}}}
  - Fkt_5: {{{fkt}, fkt_name: bench_histograms, RB_assign: {{RB_2: read}}}}
"""
    hist = "[0, 400, 80, 5, height (mV), 0]"
    text += f"""\
FunctionConfigs:
  bench_source: {{rate: {rate}}}
  bench_filter: {{}}
  bench_drain: {{}}
"""
    if displays:
        text += f"""\
  bench_scope: {{title: Bench scope, min_sleeptime: 0.5, sample_time_ns: 4, pre_trigger_samples: {PRE},
                channel_range: 500, trigger_level: 50, snapshot_interval: 2}}
  bench_histograms: {{title: Bench histograms, interval: 1.0, snapshot_interval: 2,
                     histograms: {{chA_h: {hist}, chB_h: {hist}, chC_h: {hist}, chD_h: {hist}}}}}
"""
    return text


def one_run(mode: str, rate: float, runtime: float, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="display_bench_") as tmp:
        setup = Path(tmp) / "bench_setup.yaml"
        setup.write_text(setup_text(mode, rate), encoding="utf-8")
        run_env = dict(env, PYTHONUNBUFFERED="1")
        if mode == "pictures":
            run_env["MIMOCORB_HEADLESS"] = "1"
        cpu0 = os.times()
        command = [sys.executable, "-m", "mimocorb", "run", setup.name, "-v", "0", "--runtime", str(runtime)]
        proc = subprocess.run(
            command, cwd=tmp, env=run_env, capture_output=True, text=True, timeout=runtime + 90
        )
        cpu1 = os.times()
        target = Path(tmp) / "target"
        runs = [p for p in target.iterdir() if p.is_dir()] if target.is_dir() else []
        if proc.returncode != 0 or len(runs) != 1:
            return {"mode": mode, "error": f"exit {proc.returncode}: {(proc.stdout + proc.stderr)[-400:]}"}
        s = json.loads((runs[0] / "run_summary.json").read_text())
        pictures = sorted(p.name for p in runs[0].glob("*.png"))
        child_cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
        return {
            "mode": mode,
            "events": s["events"],
            "active": s["active_time_s"],
            "rate": s["events"] / s["active_time_s"],
            "cpu_per_s": child_cpu / max(s["wall_time_s"], 1e-9),
            "pictures": pictures,
        }


def start_xvfb() -> tuple[subprocess.Popen | None, str | None]:
    if os.environ.get("DISPLAY"):
        return None, os.environ["DISPLAY"]
    if not shutil.which("Xvfb"):
        return None, None
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = os.read(read, 16).decode().strip()
    os.close(read)
    return proc, f":{number}" if number else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 s runs, one of each")
    parser.add_argument("--runtime", type=float, default=10.0, help="active seconds per run (default 10)")
    parser.add_argument("--reps", type=int, default=2, help="runs per mode and load (median; default 2)")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced source rate in Hz (default 1000)")
    args = parser.parse_args()
    if args.quick:
        args.runtime, args.reps = 4.0, 1
    xvfb, display = start_xvfb()
    modes = ["none", "drain2", "windows", "pictures"] if display else ["none", "drain2", "pictures"]
    base = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MIMOCORB_HEADLESS")
    }
    results: dict[tuple[str, str], list[dict]] = {}
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    try:
        for _ in range(args.reps):
            for load, rate in (("paced", args.rate), ("saturated", 0.0)):
                for mode in modes:
                    env = dict(base, DISPLAY=display) if mode == "windows" and display else dict(base)
                    results.setdefault((load, mode), []).append(one_run(mode, rate, args.runtime, env))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    print(f"load after:  {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'load':<10} {'mode':<9} {'RB_1 rate (Hz)':>15} {'ratio':>7} {'CPU/s':>6}  pictures / errors")
    for load in ("paced", "saturated"):
        reference = None
        for mode in modes:
            runs = results[(load, mode)]
            good = [r for r in runs if "error" not in r]
            if not good:
                print(f"{load:<10} {mode:<9} {'-':>15} {'-':>7} {'-':>6}  {runs[0]['error']}")
                continue
            rate = statistics.median(r["rate"] for r in good)
            cpu = statistics.median(r["cpu_per_s"] for r in good)
            reference = rate if mode == "none" else reference
            ratio = f"{100 * rate / reference:.1f}%" if reference else "-"
            label = f"{load} {args.rate:g}Hz" if load == "paced" else load
            print(
                f"{label:<10} {mode:<9} {rate:15.1f} {ratio:>7} {cpu:6.2f}  {', '.join(good[-1]['pictures'])}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
