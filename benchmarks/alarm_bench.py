#!/usr/bin/env python3
"""What alarms cost: one evaluation of a run's alarms, and the event rate of the example with them.

Two parts:

1. *One evaluation*: the alarms of the muon-lifetime example's setup (examples/simulsource_setup.yaml)
   — its built-in alarms plus the user alarms of ``USER_ALARMS`` — tested against one sample of its
   variables (buffers, functions, disk and a published variable), as the run does once a second.
   Microseconds per sample, the mean of ``--evaluations``.
2. *The example's rate*: ``mimocorb run`` of the example at full speed (the simulator's sleep 0) for
   ``--runtime`` s, alternately without alarms (the built-in ones turned off, no user alarm) and with
   the built-in and user alarms, ``--repeats`` times each. Events/s into RB_1 over the active time, the
   median of each, and their ratio.

Run:  .venv/bin/python benchmarks/alarm_bench.py [--runtime 10] [--repeats 3] [--evaluations 20000]

It never asserts and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
USER_ALARMS = """  - no_muons: {when: "RB_1.rate_hz < 0.5", for: 120}
  - filter_lags: {when: "RB_2.fill > 0.9 and RB_1.fill > 0.9", for: 10, severity: info}
  - too_hot: {when: "temperature > 35 or Fkt_2.memory_mb > 4000", actions: [log, pause_run]}
"""
ALL_BUILT_IN_OFF = """  - buffer_full: off
  - worker_restarts: off
  - disk_low: off
  - no_events: off
"""


def one_evaluation(setup_file: Path, evaluations: int) -> tuple[int, float]:
    """(number of alarms, µs per evaluation of all of them)."""
    from mimocorb.alarms import AlarmWatch
    from mimocorb.config import validate_setup

    setup = validate_setup(setup_file, cwd=setup_file.parent)
    values: dict[str, float] = {"disk_free_gb": 120.0, "temperature": 21.5}
    for b in setup.buffers:
        values |= {f"{b.name}.{k}": 1.0 for k in ("events", "rate_hz", "fill", "deadtime", "lost")}
    for f in setup.functions:
        values |= {f"{f.key}.{k}": 1.0 for k in ("cpu", "memory_mb", "restarts")}
    watch = AlarmWatch(setup.alarms)
    start = time.perf_counter()
    for i in range(evaluations):
        values["RB_1.events"] = float(i)  # the first buffer grows, as in a run
        watch.evaluate(values, float(i))
    return len(setup.alarms), 1e6 * (time.perf_counter() - start) / evaluations


def run_example(setup: Path, runtime: float) -> float | str:
    """Events/s into RB_1 over the active time, or why there is no figure."""
    env = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "mimocorb", "run", setup.name, "--runtime", str(runtime)]
    done = subprocess.run(
        [*command, "--no-gui", "--no-kbd", "-v", "0"],
        cwd=setup.parent,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=runtime + 120,
    )
    summaries = sorted(
        (setup.parent / "target").glob(f"{setup.stem}_*/run_summary.json"), key=os.path.getmtime
    )
    if done.returncode != 0 or not summaries:
        return f"exit {done.returncode}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    summary = json.loads(summaries[-1].read_text())
    return summary["events"] / summary["active_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=float, default=10.0, help="s of each run (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs with and without alarms (default 3)")
    parser.add_argument("--evaluations", type=int, default=20000, help="samples of part 1 (default 20000)")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="mimocorb_alarm_bench_") as tmp:
        work = Path(tmp) / "examples"
        shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns("target", "__pycache__"))
        config = work / "config" / "simulation_config.yaml"
        config.write_text(re.sub(r"(?m)^(  sleeptime:) [0-9.]+", r"\1 0", config.read_text(), count=1))
        shipped = (work / "simulsource_setup.yaml").read_text()
        setups = {
            "without alarms": work / "no_alarms_setup.yaml",
            "built-in + 3 user alarms": work / "alarms_setup.yaml",
        }
        setups["without alarms"].write_text(shipped + "\nAlarms:\n" + ALL_BUILT_IN_OFF)
        setups["built-in + 3 user alarms"].write_text(shipped + "\nAlarms:\n" + USER_ALARMS)
        count, micros = one_evaluation(setups["built-in + 3 user alarms"], args.evaluations)
        print(f"\none evaluation of {count} alarms: {micros:.1f} µs (mean of {args.evaluations})")
        rates: dict[str, list[float]] = {label: [] for label in setups}
        print(f"\nthe example at full speed, {args.runtime:g} s per run, alternately")
        for repeat in range(args.repeats):
            for label, setup in setups.items():
                rate = run_example(setup, args.runtime)
                shown = f"{rate:,.0f} events/s" if isinstance(rate, float) else f"failed: {rate}"
                print(f"  run {repeat + 1}, {label}: {shown}")
                if isinstance(rate, float):
                    rates[label].append(rate)
    print("\n| alarms | runs | events/s (median) | of 'without' |\n|---|---:|---:|---:|")
    base = statistics.median(rates["without alarms"]) if rates["without alarms"] else None
    for label, values in rates.items():
        if not values:
            print(f"| {label} | 0 | – | – |")
            continue
        median = statistics.median(values)
        ratio = f"{100 * median / base:.1f} %" if base else "–"
        print(f"| {label} | {len(values)} | {median:,.0f} | {ratio} |")
    print(f"\nload after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
