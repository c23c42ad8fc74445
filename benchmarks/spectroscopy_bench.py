#!/usr/bin/env python3
"""Throughput of the gamma-spectroscopy example (examples/spectroscopy/) and the CPU of each stage.

The example's setup as shipped (the redpitaya source, the pulse-height filter in two processes, the
recorder with its fit at the end, the live histogram headless: PNG files) runs by ``mimocorb run`` for
``--runtime`` s against the simulated board in a process of its own, whose pulse generator runs at
``--rate`` pulses/s: faster than the chain takes captures, so the chain sets the rate.

While the run goes on, the CPU time (user + system) of every process below it is read from /proc every
0.1 s; at the end each process is assigned to its worker by the pids of run_summary.json (a display's
plotting process to the display) and the last reading counts. The simulator's own CPU is read the same
way. CPU per stage is given in µs per event of RB_1 and as a share of one core over the active time.

Run:  .venv/bin/python benchmarks/spectroscopy_bench.py [--runtime 15] [--rate 20000]

Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
TICK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """Parent pid and CPU seconds (user + system) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


class CpuWatch(threading.Thread):
    """Keeps the last CPU reading and the parent of every process below ``roots``."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots, self.cpu, self.parent = set(roots), {}, {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()

    def sample(self) -> None:
        stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := proc_stat(int(p)))}
        below = set(self.roots)
        grew = True
        while grew:
            found = {pid for pid, (ppid, _) in stats.items() if ppid in below} - below
            below |= found
            grew = bool(found)
        for pid in below & stats.keys():
            self.parent[pid], self.cpu[pid] = stats[pid][0], stats[pid][1]


def stage_of(pid: int, owners: dict[int, str], parent: dict[int, int]) -> str:
    seen = set()
    while pid not in owners and pid in parent and pid not in seen:
        seen.add(pid)
        pid = parent[pid]
    return owners.get(pid, "other")


STAGES = {
    "redpitaya": "source (redpitaya)",
    "pulse_height": "pulse-height filter",
    "record_and_fit": "recorder + fit (Parquet)",
    "plot_histograms": "display (histogram, PNG)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", type=float, default=15.0, help="active seconds of the run (15)")
    parser.add_argument("--rate", type=float, default=20000.0, help="the generator's pulses/s (20000)")
    args = parser.parse_args()

    from mimocorb.devices import start_simulator_process
    from mimocorb.devices._common import end_process

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"spectroscopy example benchmark: {os.cpu_count()} cores, load average {load}")
    with tempfile.TemporaryDirectory(prefix="mimocorb_spectroscopy_bench_") as tmp:
        work = Path(tmp) / "examples"
        ignore = shutil.ignore_patterns("target", "__pycache__")
        shutil.copytree(EXAMPLES / "spectroscopy", work / "spectroscopy", ignore=ignore)
        shutil.copytree(EXAMPLES / "modules", work / "modules", ignore=ignore)
        setup = work / "spectroscopy" / "spectroscopy_setup.yaml"
        setup.write_text(setup.read_text().replace("runevents: 30000", "runevents: 0"))
        board, port = start_simulator_process("--spectrum", "cs137+co60", "--rate", str(args.rate))
        try:
            config = setup.parent / "config" / "spectroscopy_config.yaml"
            config.write_text(config.read_text().replace("127.0.0.1:10001", f"127.0.0.1:{port}"))
            env = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "MPLBACKEND": "Agg"}
            command = [sys.executable, "-m", "mimocorb", "run", setup.name, "--runtime", str(args.runtime)]
            run = subprocess.Popen(
                [*command, "--no-gui", "--no-kbd", "-v", "0"],
                cwd=setup.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            watch = CpuWatch([run.pid, board.pid])
            watch.start()
            out, _ = run.communicate(timeout=args.runtime + 180)
            watch.done.set()
            watch.join()
        finally:
            end_process(board)
        summaries = list((setup.parent / "target").glob("*/run_summary.json"))
        if run.returncode != 0 or not summaries:
            print(f"the run failed (exit {run.returncode}):\n{out[-3000:]}")
            return 1
        summary = json.loads(summaries[0].read_text())

    owners = {run.pid: "controller (mimocorb run)", board.pid: "simulated board (own process)"}
    workers: dict[str, int] = {}
    for worker in summary["workers"]:
        label = STAGES.get(worker["fkt_name"], worker["fkt_name"])
        workers[label] = workers.get(label, 0) + 1
        for pid in worker["pids"] or [worker["pid"]]:
            owners[pid] = label
    cpu: dict[str, float] = {}
    for pid, seconds in watch.cpu.items():
        label = stage_of(pid, owners, watch.parent)
        cpu[label] = cpu.get(label, 0.0) + seconds

    active = summary["active_time_s"]
    rb1, rb2 = summary["buffers"]["RB_1"], summary["buffers"]["RB_2"]
    print(f"\nthe example's setup as shipped, {active:.1f} s active, generator at {args.rate:g} pulses/s")
    print(f"RB_1 (waveforms, 2 x 1024 int16): {rb1['events']} events, {rb1['events'] / active:.0f} events/s")
    print(f"RB_2 (heights): {rb2['events']} events, {rb2['events'] / active:.0f} events/s")
    print(f"board's dead time (not armed): {100 * rb1['mean_deadtime']:.0f} %\n")
    print(f"{'stage':<32} {'processes':>9} {'CPU s':>7} {'% of a core':>11} {'µs/event':>9}")
    order = [*STAGES.values(), "controller (mimocorb run)", "simulated board (own process)", "other"]
    for label in order:
        if label not in cpu:
            continue
        seconds = cpu[label]
        processes = workers.get(label, 1)
        share = 100 * seconds / active
        per_event = 1e6 * seconds / max(rb1["events"], 1)
        print(f"{label:<32} {processes:>9} {seconds:7.2f} {share:11.0f} {per_event:9.0f}")
    total = sum(cpu.values())
    print(f"{'all':<32} {'':>9} {total:7.2f} {100 * total / active:11.0f} {1e6 * total / rb1['events']:9.0f}")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
