#!/usr/bin/env python3
"""The Red Pitaya source against a bare socket reader, both reading the same simulated board over loopback.

    simulated board (own process) -> redpitaya source -> RB_1 -> counting reader   (a mimocorb run)
    simulated board (own process) -> bare socket loop: arm, poll, read             (this process)

The board (``mimocorb simulate redpitaya --pattern``) triggers on every pulse of a fast generator, so a
capture is complete as soon as its samples are recorded and the rate is set by the readers and the
board's own cost. Waveforms are 2 × 16 384 samples (64 KiB). The bare reader does only what the protocol
needs and throws the data away; the run also stores every capture in the ring buffer and hands it to a
reader in another process. Each is measured from its first to its last waveform, alternately, ``--reps``
times; the table gives each rate and the ratio of the medians.

The PicoScope source reads the stand-in ps4000a driver (tests/devices/picostub, built with the system's C
compiler and loaded by Pico's picosdk wrapper) in blocks of 16 captures of 4 × 4250 samples, converted to
float64 mV as in the muon example, capturing as fast as it can:

    stand-in driver (its own thread) -> picoscope source -> RB_1 -> counting reader   (a mimocorb run)

It gives the events per second at the reader and the CPU time of the source's thread per event (the
ctypes calls, the copy out of the driver and the conversion; the stand-in's capture thread, which plays
the scope, is not counted).

Run:  .venv/bin/python benchmarks/device_bench.py [--device all|redpitaya|picoscope] [--events N] [--reps R]
      [--samples S] [--pico-events N]

This file is also the module of the counting reader (the setup names it), so it has to stay importable:
everything that runs the benchmark sits below ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
THIS = HERE / "device_bench"
PICOSTUB = HERE.parent / "tests" / "devices" / "picostub"


def counting_reader(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads every event of RB_1 and writes when the first and the last arrived."""
    from mimocorb.ring import Reader

    count, first, last = 0, None, None
    for _ in Reader(source_list[0]):
        last = time.perf_counter()
        first = first or last
        count += 1
    path = Path(config_dict["directory_prefix"]) / "bench_reader.json"
    path.write_text(json.dumps({"events": count, "t0": first, "t1": last}))


def timed_picoscope(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """The picoscope source, writing the CPU time of its thread when it ends."""
    from mimocorb.devices import picoscope

    start = time.thread_time()
    try:
        picoscope(source_list, sink_list, observe_list, config_dict, **rb_info)
    finally:
        path = Path(config_dict["directory_prefix"]) / "bench_source.json"
        path.write_text(json.dumps({"cpu": time.thread_time() - start}))


SETUP = """\
output_directory: {out}
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1:
      {{number_of_slots: 64, channel_per_slot: {samples}, data_type: {{1: [IN1, int16], 2: [IN2, int16]}}}}
Functions:
  - Fkt_main: {{runevents: {events}}}
  - Fkt_1: {{file_name: mimocorb.devices, fkt_name: redpitaya, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mod}, fkt_name: counting_reader, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  redpitaya: {{address: "127.0.0.1:{port}", sample_rate: 1, pretrigger_samples: 100}}
  counting_reader: {{}}
"""


PICO_SETUP = """\
output_directory: {out}
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1:
      number_of_slots: 64
      channel_per_slot: 4250
      data_type: {{1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}}
Functions:
  - Fkt_main: {{runevents: {events}}}
  - Fkt_1: {{file_name: {mod}, fkt_name: timed_picoscope, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mod}, fkt_name: counting_reader, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  timed_picoscope: {{captures: 16, pretrigger_samples: 500}}
  counting_reader: {{}}
"""


def command(code: int, value: int = 0) -> bytes:
    return struct.pack("<Q", code << 56 | value)


def receive(sock: socket.socket, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionError("the simulator closed the connection")
        got += n


def bare_reader(port: int, samples: int, events: int) -> float:
    """Waveforms per second of the least a client can do: arm, poll the status, read."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(command(4, 1) + command(17, 100) + command(18, samples))
    status, data = bytearray(36), bytearray(4 * samples)
    first = last = 0.0
    for i in range(events):
        sock.sendall(command(2) + command(19))
        while True:
            sock.sendall(command(11))
            receive(sock, memoryview(status))
            if not status[32] & 1:
                break
        sock.sendall(command(20))
        receive(sock, memoryview(data))
        last = time.perf_counter()
        first = first if i else last
    sock.sendall(command(2))
    sock.close()
    return (events - 1) / (last - first)


def source_run(workdir: Path, port: int, samples: int, events: int) -> float:
    """Waveforms per second through the source and the buffer, as the reader in the run saw them."""
    from mimocorb.run import RunOptions, run_setup

    case = Path(tempfile.mkdtemp(dir=workdir))
    setup = case / "device_bench.yaml"
    setup.write_text(SETUP.format(out=case / "runs", samples=samples, events=events, mod=THIS, port=port))
    result = run_setup(setup, RunOptions(verbose=0, kbd=False, gui=False))
    if result.exit_code != 0:
        raise RuntimeError(f"benchmark run failed: {result.summary.get('failures')}")
    reader = json.loads((result.run_dir / "bench_reader.json").read_text())
    if reader["events"] != events:
        raise RuntimeError(f"expected {events} events at the reader, got {reader['events']}")
    return (events - 1) / (reader["t1"] - reader["t0"])


def picoscope_run(workdir: Path, library_dir: Path, events: int) -> tuple[float, float]:
    """Events per second at the reader, and the source's CPU seconds per event, of one run.

    The run is a process of its own: the dynamic loader reads LD_LIBRARY_PATH only when a process starts.
    """
    case = Path(tempfile.mkdtemp(dir=workdir))
    setup = case / "pico_bench.yaml"
    setup.write_text(PICO_SETUP.format(out=case / "runs", events=events, mod=THIS))
    env = dict(os.environ, LD_LIBRARY_PATH=str(library_dir), PICOSTUB_RATE="0", PYTHONPATH=str(HERE))
    command = [sys.executable, "-m", "mimocorb", "run", str(setup), "-v", "0"]
    result = subprocess.run(command, cwd=case, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark run failed:\n{result.stdout}{result.stderr}")
    (run_dir,) = (case / "runs").iterdir()
    reader = json.loads((run_dir / "bench_reader.json").read_text())
    source = json.loads((run_dir / "bench_source.json").read_text())
    return (reader["events"] - 1) / (reader["t1"] - reader["t0"]), source["cpu"] / reader["events"]


def picoscope_table(events: int, reps: int) -> None:
    sys.path.insert(0, str(PICOSTUB.parent))
    from picostub.build import build

    with tempfile.TemporaryDirectory(prefix="device_bench_") as tmp:
        if build(Path(tmp)) is None:
            print("picoscope: skipped, no C compiler (cc or gcc) to build the stand-in driver")
            return
        results = [picoscope_run(Path(tmp), Path(tmp), events) for _ in range(reps)]
    print(f"picoscope: {events} events of 4 x 4250 float64 (mV) from the stand-in ps4000a, {reps} rep(s)")
    print(f"{'':<34}{'median':>12}{'all runs':>28}")
    for name, values in (
        ("events/s at the reader", [rate for rate, _ in results]),
        ("source CPU per event (us)", [1e6 * cpu for _, cpu in results]),
    ):
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:<34}{statistics.median(values):>12.0f}{shown:>28}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="waveforms per measurement (default 3000)")
    parser.add_argument("--reps", type=int, default=3, help="measurements of each, alternating (default 3)")
    parser.add_argument("--samples", type=int, default=16384, help="samples per input (default 16384)")
    parser.add_argument("--device", choices=["all", "redpitaya", "picoscope"], default="all")
    parser.add_argument(
        "--pico-events", type=int, default=3000, help="PicoScope events per run (default 3000)"
    )
    args = parser.parse_args(argv)
    print(f"load before {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.device in ("all", "picoscope"):
        picoscope_table(args.pico_events, args.reps)
    if args.device in ("all", "redpitaya"):
        redpitaya_table(args)
    return 0


def redpitaya_table(args: argparse.Namespace) -> None:
    from mimocorb.devices import start_simulator_process

    sys.path.insert(0, str(HERE))
    board, port = start_simulator_process("--pattern", "--rate", "1000000")
    bare, run = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="device_bench_") as tmp:
            for _ in range(args.reps):
                bare.append(bare_reader(port, args.samples, args.events))
                run.append(source_run(Path(tmp), port, args.samples, args.events))
    finally:
        board.terminate()
        board.wait(10)
    mb = 4 * args.samples / 1e6
    print(f"redpitaya: {args.events} waveforms of 2 x {args.samples} int16 samples, {args.reps} rep(s)")
    print(f"{'reader':<34}{'waveforms/s (median)':>22}{'MB/s':>8}{'all runs':>28}")
    for name, rates in (("bare socket loop", bare), ("redpitaya source -> RB_1 -> reader", run)):
        median = statistics.median(rates)
        shown = ", ".join(f"{r:.0f}" for r in rates)
        print(f"{name:<34}{median:>22.0f}{median * mb:>8.1f}{shown:>28}")
    ratio = statistics.median(run) / statistics.median(bare)
    print(f"source / bare: {100 * ratio:.0f} % (target >= 80 %)")


if __name__ == "__main__":
    sys.exit(main())
