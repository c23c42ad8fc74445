#!/usr/bin/env python3
"""Soak of two linked runs: waveforms at 1 kHz over loopback TCP, zero loss and flat memory.

    python benchmarks/net_soak.py                  # 30 minutes
    python benchmarks/net_soak.py --minutes 5      # shorter
    python benchmarks/net_soak.py --rate 500 --keep  # other rate; keep the run directories

Two ``mimocorb run`` processes, as a user starts them: the serving run writes 4 x 4250 float64
waveforms into RB_1 at a fixed rate (the event counter in every sample) and serves RB_1; the receiving
run has RB_1 connected and a sink that checks every event: counters 1, 2, 3, ... without gap or
duplicate, and the waveform's content. The serving run ends after the duration; the receiving run
ends after its last event.

Memory: the resident set (VmRSS) of every process of both runs (controllers, source, serve and
connect workers, sink) is sampled every ``--sample`` s. The table shows it after the warm-up (10 % of
the run, at least 20 s: the rings' pages are touched by then) and at the end, and the largest
growth in between. RSS counts the shared ring pages a process touched, hence the large figures
for the processes that write or read the waveforms; what matters is that they stay flat.

The benchmark never asserts; problems are printed under the table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = '''
import json, os, time
import numpy as np
from mimocorb.ring import Reader, Writer


def soak_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Events at a fixed rate (a schedule, not a sleep per event, so the rate does not drift)."""
    rate = float(config_dict["rate"])
    writer = Writer(sink_list[0])
    print("soak_source started")
    t0, n = time.monotonic(), 0
    while True:
        n += 1
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            slot = writer.get_new_buffer()
        except SystemExit:
            return
        slot["chA"][:] = n
        slot["chD"][-1] = -n
        writer.set_metadata(n, time.time(), 0.0)
        writer.process_buffer()


def soak_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Checks every event; writes soak_result.json at the end."""
    reader = Reader(source_list[0])
    print("soak_sink started")
    expected, events, gaps, dupes, bad = 1, 0, 0, 0, 0
    try:
        while True:
            data = reader.get()
            n = int(reader.get_metadata()[0])
            if n < expected:
                dupes += 1
            elif n > expected:
                gaps += n - expected
            if data["chA"][0] != n or data["chD"][-1] != -n:
                bad += 1
            expected = max(expected, n + 1)
            events += 1
    except SystemExit:
        pass
    finally:
        result = {"events": events, "last": expected - 1, "gaps": gaps, "duplicates": dupes, "bad": bad}
        with open(os.path.join(config_dict["directory_prefix"], "soak_result.json"), "w") as f:
            json.dump(result, f)
'''

LAYOUT = (
    "number_of_slots: 128, channel_per_slot: 4250, "
    "data_type: {1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}"
)


def setups(directory: Path, address: str, rate: float, seconds: float) -> tuple[Path, Path]:
    (directory / "soakmods.py").write_text(MODULE)
    (directory / "source.yaml").write_text(f"rate: {rate}\n")
    (directory / "sink.yaml").write_text("check: true\n")
    head = "GUI_control: false\nKBD_control: false\nRingBuffer:\n"
    serving = directory / "serving.yaml"
    serving.write_text(
        f"{head}  - RB_1: {{{LAYOUT}, serve: '{address}'}}\n"
        f"Functions:\n  - Fkt_main: {{runtime: {seconds}}}\n"
        "  - Fkt_1: {file_name: soakmods, fkt_name: soak_source, num_process: 1, RB_assign: {RB_1: write}, "
        "config_file: source.yaml}\n"
    )
    receiving = directory / "receiving.yaml"
    receiving.write_text(
        f"output_directory: target_receiving\n{head}  - RB_1: {{{LAYOUT}, connect: '{address}'}}\n"
        "Functions:\n  - Fkt_main: {}\n"
        "  - Fkt_1: {file_name: soakmods, fkt_name: soak_sink, num_process: 1, RB_assign: {RB_1: read}, "
        "config_file: sink.yaml}\n"
    )
    return serving, receiving


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def processes(run: str, proc: subprocess.Popen, run_dir: Path | None) -> dict[str, int]:
    """Name -> pid of a run's controller and of its workers that said who they are in run.log."""
    found = {f"{run} controller": proc.pid}
    log = run_dir / "run.log" if run_dir is not None else None
    if log is not None and log.exists():
        for name, pid in re.findall(r"\[([A-Za-z_]+):(\d+)\]", log.read_text(errors="replace")):
            found.setdefault(f"{run} {name}", int(pid))
    return found


def run_dir_of(output: Path) -> Path | None:
    dirs = sorted(p for p in output.glob("*") if p.is_dir()) if output.exists() else []
    return dirs[-1] if dirs else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="duration of the serving run")
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--sample", type=float, default=5.0, help="s between two memory samples")
    parser.add_argument("--keep", action="store_true", help="keep the run directories (and say where)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    directory = Path(tempfile.mkdtemp(prefix="mimocorb_soak_"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    serving, receiving = setups(directory, address, args.rate, seconds)
    command = [sys.executable, "-m", "mimocorb", "run", "-v", "1"]
    out = {name: open(directory / f"{name}.out", "w") for name in ("serving", "receiving")}  # noqa: SIM115
    print(f"soak: {args.minutes:g} min at {args.rate:g} Hz of 4 x 4250 float64 over {address}", flush=True)
    recv = subprocess.Popen(
        [*command, receiving.name], cwd=directory, stdout=out["receiving"], stderr=subprocess.STDOUT
    )
    serve = subprocess.Popen(
        [*command, serving.name], cwd=directory, stdout=out["serving"], stderr=subprocess.STDOUT
    )
    warmup = max(20.0, 0.1 * seconds)
    t0 = time.monotonic()
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    peak_growth: dict[str, int] = {}
    pids: dict[str, int] = {}
    try:
        while serve.poll() is None or recv.poll() is None:
            time.sleep(args.sample)
            pids.update(processes("serving", serve, run_dir_of(directory / "target")))
            pids.update(processes("receiving", recv, run_dir_of(directory / "target_receiving")))
            for name, pid in pids.items():
                kb = rss_kb(pid)
                if kb is None:
                    continue
                if time.monotonic() - t0 >= warmup:
                    first.setdefault(name, kb)
                    peak_growth[name] = max(peak_growth.get(name, 0), kb - first[name])
                    last[name] = kb
            if time.monotonic() - t0 > seconds + 120:  # the runs should have ended long ago
                serve.terminate()
                recv.terminate()
    finally:
        for p in (serve, recv):
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in out.values():
            f.close()
    report(directory, pids, first, last, peak_growth, serve.returncode, recv.returncode, args.rate, seconds)
    if args.keep:
        print(f"run directories in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def report(directory, pids, first, last, growth, serve_rc, recv_rc, rate, seconds) -> None:
    problems = []
    print(
        f"\n{'process':<28} {'pid':>8} {'RSS after warm-up MB':>21} {'RSS at end MB':>14} "
        f"{'max growth MB':>14}"
    )
    for name in sorted(pids):
        if name not in first:
            continue
        print(
            f"{name:<28} {pids[name]:>8} {first[name] / 1024:>21.1f} {last[name] / 1024:>14.1f} "
            f"{growth[name] / 1024:>14.1f}"
        )
        if growth[name] > max(20 * 1024, 0.1 * first[name]):
            problems.append(f"{name}: RSS grew by {growth[name] / 1024:.1f} MB")
    serving = run_dir_of(directory / "target")
    receiving = run_dir_of(directory / "target_receiving")
    sent = _summary(serving)
    got = _summary(receiving)
    result = json.loads((receiving / "soak_result.json").read_text()) if receiving else {}
    n_sent = sent.get("buffers", {}).get("RB_1", {}).get("events", 0)
    print(
        f"\nserving run: {n_sent} events in {sent.get('active_time_s', 0):.0f} s "
        f"({n_sent / max(sent.get('active_time_s', 1), 1e-9):.0f} Hz, asked {rate:g} Hz), exit {serve_rc}"
    )
    print(
        f"receiving run: {result.get('events', 0)} events checked, gaps {result.get('gaps')}, "
        f"duplicates {result.get('duplicates')}, wrong content {result.get('bad')}, "
        f"end reason '{got.get('end_reason')}', exit {recv_rc}"
    )
    for link in got.get("links", []) + sent.get("links", []):
        if link.get("link"):
            print(
                f"link {link['role']:<8} {link['peer']:<28} sent {link['events_sent']} acked "
                f"{link['events_acked']} resent {link['events_resent']} reconnects {link['reconnects']} "
                f"bytes {link['bytes'] / 1e9:.2f} GB"
            )
    if result.get("events") != n_sent or result.get("gaps") or result.get("duplicates") or result.get("bad"):
        problems.append("events lost, doubled or damaged")
    if serve_rc or recv_rc:
        problems.append(f"exit codes {serve_rc} (serving), {recv_rc} (receiving)")
    if n_sent < 0.9 * rate * seconds:
        problems.append(f"the source reached only {n_sent / seconds:.0f} Hz")
    print(
        "\n"
        + ("problems:\n  " + "\n  ".join(problems) if problems else "no problems: zero loss, memory flat")
    )


def _summary(run_dir: Path | None) -> dict:
    if run_dir is None or not (run_dir / "run_summary.json").exists():
        return {}
    return json.loads((run_dir / "run_summary.json").read_text())


if __name__ == "__main__":
    sys.exit(main())
