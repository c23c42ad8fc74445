#!/usr/bin/env python3
"""Throughput of the muon-lifetime example (examples/simulsource_setup.yaml) and where the time goes.

Two parts:

1. *Per event, one core, no processes*: the simulator (``mimocorb.pulseSimulator`` without its sleep) and
   the double-pulse filter (the example's per-event function, with and without the lossless pre-cut) on
   the same simulated event mix as the run.
2. *Chains run by ``mimocorb run``* on the machine's cores, growing stage by stage, for ``--runtime`` s
   each. The simulator's sleep is set to 0 (``--sleeptime``), so the source produces as fast as the chain
   takes events. The CPU column is the CPU time of all processes of the run (controller and workers,
   from ``getrusage``) per event; the difference between two rows is what the added stage costs.

   | chain | stages |
   |---|---|
   | source | simulation_source -> RB_1 -> drain |
   | + filter | ... RB_1 -> calculate_decay_time x2 -> RB_2, RB_3 -> drains |
   | + export | the example's four functions: ... RB_3 -> save_to_txt, RB_2 -> save_parquet |
   | full setup | the example's setup as shipped (plus the two displays, headless: PNG files) |

Run:  .venv/bin/python benchmarks/example_bench.py [--runtime 10] [--sleeptime 0]

This file is also the module of the drain worker that the chains name, so it stays importable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
THIS = HERE / "example_bench"
EXAMPLES = HERE.parent / "examples"


def drain(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Discards the events of a buffer (stands for a stage that is not measured)."""
    from mimocorb.buffer_control import rbDrain

    rbDrain(source_list=source_list, config_dict=config_dict, **rb_info)()


# ------------------------------------------------------------------------- per event, in process ----
def per_event_costs(n_events: int) -> list[tuple[str, str, float]]:
    """µs per event of the simulator and the filter, each alone on one core."""
    import yaml

    from mimocorb.pulseSimulator import pulseSimulator

    config = yaml.safe_load((EXAMPLES / "config" / "simulation_config.yaml").read_text())
    sim = pulseSimulator({**config["simulation_source"], "sleeptime": 0})
    sim.init(4, 4250)
    sim()
    start = time.perf_counter()
    events = [sim() for _ in range(n_events)]
    simulate = (time.perf_counter() - start) / n_events
    events = [event.astype(np.float64) for event in events]  # RB_1 holds float64 (the example's setup)

    spec = importlib.util.spec_from_file_location(
        "bench_lifetime_filter", EXAMPLES / "modules" / "lifetime_filter.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dtype = [(name, np.float64) for name in ("chA", "chB", "chC", "chD")]
    slots = []
    for event in events:
        slot = np.empty(4250, dtype=dtype)
        for k, (name, _) in enumerate(dtype):
            slot[name] = event[k]
        slots.append(slot)
    record = [("decay_time", np.int32), ("1st_chA_h", np.float64)]
    select = module.make_selector(config["calculate_decay_time"], [name for name, _ in dtype], [record])
    import scipy.signal  # noqa: F401  (imported by the first double-pulse candidate, not in the timing)

    select(slots[0])
    start = time.perf_counter()
    accepted = sum(select(slot) is not None for slot in slots)
    select_time = (time.perf_counter() - start) / n_events

    from mimocorb.physics.doublepulse import DoublePulseFilter

    finder = DoublePulseFilter(config["calculate_decay_time"], [name for name, _ in dtype])
    start = time.perf_counter()
    for event in events:
        finder.analyse(event, precut=False)
    plain = (time.perf_counter() - start) / n_events
    return [
        ("simulator", "simulator (pulseSimulator, no sleep)", simulate),
        (
            "filter",
            f"filter: example's per-event function ({100 * accepted / n_events:.1f} % accepted)",
            select_time,
        ),
        ("plain", "filter without the pre-selections (scipy on all local maxima)", plain),
    ]


# ------------------------------------------------------------------------------------- chains ----
RINGS = """\
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1: {number_of_slots: 128, channel_per_slot: 4250,
           data_type: &wave {1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}}
  - RB_2: {number_of_slots: 128, channel_per_slot: 4250, data_type: *wave}
  - RB_3: {number_of_slots: 32, channel_per_slot: 1,
           data_type: {1: [decay_time, int32], 2: [1st_chA_h, float64]}}
Functions:
  - Fkt_main: {config_file: CONFIG}
"""


def fkt(k: int, module: Path, name: str, assign: str, num: int = 1, extra: str = "") -> str:
    more = f", {extra}" if extra else ""
    assigned = f"RB_assign: {{{assign}}}{more}"
    return f"  - Fkt_{k}: {{file_name: {module}, fkt_name: {name}, num_process: {num}, {assigned}}}\n"


def chain_setups(work: Path) -> dict[str, Path]:
    mods = work / "modules"
    source = fkt(1, mods / "simulation_source", "simulation_source", "RB_1: write")
    filters = fkt(
        2, mods / "lifetime_filter", "calculate_decay_time", "RB_1: read, RB_2: write, RB_3: write", 2
    )
    setups = {
        "source": RINGS.split("  - RB_2")[0]
        + "Functions:\n  - Fkt_main: {config_file: CONFIG}\n"
        + source
        + fkt(2, THIS, "drain", "RB_1: read"),
        "+ filter": RINGS
        + source
        + filters
        + fkt(3, THIS, "drain", "RB_3: read")
        + fkt(4, THIS, "drain", "RB_2: read"),
    }
    paths = {}
    for label, text in setups.items():
        path = work / f"bench_{len(paths)}_setup.yaml"
        path.write_text(text.replace("CONFIG", str(work / "config" / "simulation_config.yaml")))
        paths[label] = path
    shipped = (work / "simulsource_setup.yaml").read_text()
    paths["+ export"] = work / "bench_export_setup.yaml"
    paths["+ export"].write_text(shipped.split("  - Fkt_5:")[0])
    paths["full setup (with displays)"] = work / "simulsource_setup.yaml"
    return paths


def run_chain(setup: Path, runtime: float) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "mimocorb", "run", str(setup), "--runtime", str(runtime), "--no-gui"]
    out = subprocess.run(
        [*command, "--no-kbd", "-v", "0"],
        cwd=setup.parent,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=runtime + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summaries = sorted(
        (setup.parent / "target").glob(f"{setup.stem}_*/run_summary.json"), key=os.path.getmtime
    )
    if out.returncode != 0 or not summaries:
        return {"error": f"exit {out.returncode}: {(out.stderr or out.stdout).strip().splitlines()[-1:]}"}
    summary = json.loads(summaries[-1].read_text())
    events, active = summary["events"], summary["active_time_s"]
    return {"events": events, "rate": events / active, "cpu_ms": 1e3 * cpu / max(events, 1)}


def run_chains(runtime: float, sleeptime: float) -> dict[str, float]:
    """Run the chains of the module docstring; returns their CPU ms per event by label."""
    missing = [
        m
        for m in ("mimocorb.io", "mimocorb.plot_buffer", "mimocorb.histogram_buffer")
        if not importlib.util.find_spec(m)
    ]
    cpu = {}
    with tempfile.TemporaryDirectory(prefix="mimocorb_example_bench_") as tmp:
        work = Path(tmp) / "examples"
        shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns("target", "__pycache__"))
        config = work / "config" / "simulation_config.yaml"
        text = re.sub(r"(?m)^(  sleeptime:) [0-9.]+", rf"\1 {sleeptime}", config.read_text(), count=1)
        config.write_text(text.replace("runtime: 60 ", "runtime: 0 "))
        print(f"\nchains run by 'mimocorb run', {runtime:g} s each, simulator sleep {sleeptime:g} s")
        print(f"{'chain':<28} {'events':>8} {'events/s':>9} {'CPU ms/event':>13}  note")
        for label, setup in chain_setups(work).items():
            if label.startswith(("+ export", "full")) and missing:
                print(f"{label:<28} {'-':>8} {'-':>9} {'-':>13}  not run: {', '.join(missing)} missing")
                continue
            result = run_chain(setup, runtime)
            if "error" in result:
                print(f"{label:<28} {'-':>8} {'-':>9} {'-':>13}  failed: {result['error']}")
                continue
            cpu[label] = result["cpu_ms"]
            print(f"{label:<28} {result['events']:8d} {result['rate']:9.0f} {result['cpu_ms']:13.2f}")
    return cpu


def print_breakdown(per_event: dict[str, float], cpu: dict[str, float]) -> None:
    """Where the CPU time of one event goes: measured stages, the rest of each chain step is framework."""
    simulate, select = 1e3 * per_event["simulator"], 1e3 * per_event["filter"]
    rows = [
        ("simulator", simulate),
        ("framework at the source (rbImport copy, ring, drain, controller)", cpu["source"] - simulate),
        ("filter (selection)", select),
        (
            "framework of the filter step (read RB_1, copies to RB_2/RB_3)",
            cpu["+ filter"] - cpu["source"] - select,
        ),
    ]
    if "+ export" in cpu:
        rows.append(("export (txt of RB_3, tar of Parquet of RB_2)", cpu["+ export"] - cpu["+ filter"]))
    if "full setup (with displays)" in cpu and "+ export" in cpu:
        rows.append(
            ("displays (headless PNG snapshots)", cpu["full setup (with displays)"] - cpu["+ export"])
        )
    total = sum(ms for _, ms in rows)
    print("\nwhere the CPU time of an event goes (differences of the rows above; negative = noise)")
    print(f"{'part':<72} {'ms/event':>9} {'share':>6}")
    for label, ms in rows:
        print(f"{label:<72} {ms:9.3f} {100 * ms / total:5.0f}%")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", type=float, default=10.0, help="seconds per chain run (default 10)")
    parser.add_argument("--sleeptime", type=float, default=0.0, help="the simulator's mean sleep (default 0)")
    parser.add_argument("--events", type=int, default=2000, help="events of the per-event measurements")
    parser.add_argument("--only", choices=["events", "chains"], help="run one part only")
    args = parser.parse_args()
    print(f"mimocorb example benchmark: {os.cpu_count()} cores, load average {load_average()}")
    per_event: dict[str, float] = {}
    if args.only != "chains":
        print(f"\nper event, one core ({args.events} events of 4 x 4250 samples)")
        print(f"{'stage':<72} {'µs/event':>9} {'events/s':>9}")
        for key, label, seconds in per_event_costs(args.events):
            per_event[key] = seconds
            print(f"{label:<72} {1e6 * seconds:9.0f} {1 / seconds:9.0f}")
    if args.only == "events":
        return 0
    cpu = run_chains(args.runtime, args.sleeptime)
    if per_event and {"source", "+ filter"} <= cpu.keys():
        print_breakdown(per_event, cpu)
    print(f"\nload average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
