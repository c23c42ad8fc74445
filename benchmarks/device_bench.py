#!/usr/bin/env python3
"""The instrument sources against bare readers of the same simulated instruments, over loopback.

Red Pitaya:

    simulated board (own process) -> redpitaya source -> RB_1 -> counting reader   (a mimocorb run)
    simulated board (own process) -> bare socket loop: arm, poll, read             (this process)

The board (``mimocorb simulate redpitaya --pattern``) triggers on every pulse of a fast generator, so a
capture is complete as soon as its samples are recorded and the rate is set by the readers and the
board's own cost. Waveforms are 2 × 16 384 samples (64 KiB). The bare reader does only what the protocol
needs and throws the data away; the run also stores every capture in the ring buffer and hands it to a
reader in another process. Each is measured from its first to its last waveform, alternately, ``--reps``
times; the table gives each rate and the ratio of the medians.

SCPI oscilloscope (``mimocorb simulate scpi``, Rigol dialect, a process of its own): the scpi_scope source
into RB_1 against a bare PyVISA loop doing the same acquisitions (arm, poll the status, read each channel
with ``query_binary_values``); both read ``--scpi-points`` counts of two channels per acquisition.

CosmicWatch (``mimocorb simulate cosmicwatch``): lines at rising Poisson rates through a pseudo-terminal
into RB_1 and a reader that checks the device's event numbers; the table gives the rate reached and the
lines lost or merged at each, and the highest rate reached with none lost.

PicoScope: the picoscope source reads the stand-in ps4000a driver (tests/devices/picostub, built with the
system's C compiler and loaded by Pico's picosdk wrapper) in blocks of 16 captures of 4 × 4250 samples,
converted to float64 mV as in the muon example, capturing as fast as it can:

    stand-in driver (its own thread) -> picoscope source -> RB_1 -> counting reader   (a mimocorb run)

It gives the events per second at the reader and the CPU time of the source's thread per event (the
ctypes calls, the copy out of the driver and the conversion; the stand-in's capture thread, which plays
the scope, is not counted).

Run:  .venv/bin/python benchmarks/device_bench.py [--only NAME ...] [--events N] [--reps R] [--samples S]
      [--scpi-events N] [--scpi-points N] [--lines N] [--rates R ...] [--pico-events N]

``--only`` (also spelled ``--device``) picks redpitaya, picoscope, scpi or cosmicwatch and may be repeated;
without it, or with ``all``, every device is measured.

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


def line_checker(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads every CosmicWatch event of RB_1 and counts the breaks in the device's event numbers."""
    from mimocorb.ring import Reader

    count, breaks, previous, first, last = 0, 0, 0, None, None
    for data in Reader(source_list[0]):
        last = time.perf_counter()
        first = first or last
        number = int(data["event"][0])
        breaks += number != previous + 1
        previous, count = number, count + 1
    path = Path(config_dict["directory_prefix"]) / "bench_reader.json"
    path.write_text(json.dumps({"events": count, "breaks": breaks, "t0": first, "t1": last}))


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


SCPI_SETUP = """\
output_directory: {out}
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1:
      {{number_of_slots: 64, channel_per_slot: {samples}, data_type: {{1: [CH1, uint8], 2: [CH2, uint8]}}}}
Functions:
  - Fkt_main: {{runevents: {events}}}
  - Fkt_1: {{file_name: mimocorb.devices, fkt_name: scpi_scope, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mod}, fkt_name: counting_reader, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  scpi_scope: {{resource: "{resource}", profile: rigol, poll_interval: 0}}
  counting_reader: {{}}
"""

COSMICWATCH_SETUP = """\
output_directory: {out}
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 256, channel_per_slot: 1, data_type: {{1: [event, int64], 2: [adc, int32]}}}}
Functions:
  - Fkt_main: {{runevents: {events}, runtime: {runtime}}}
  - Fkt_1: {{file_name: mimocorb.devices, fkt_name: cosmicwatch, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mod}, fkt_name: line_checker, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  cosmicwatch: {{port: "{port}"}}
  line_checker: {{}}
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


def run_and_read(workdir: Path, template: str, **values) -> dict:
    """A run of ``template`` (its reader's module is this file); what its reader wrote."""
    from mimocorb.run import RunOptions, run_setup

    case = Path(tempfile.mkdtemp(dir=workdir))
    setup = case / "device_bench.yaml"
    setup.write_text(template.format(out=case / "runs", mod=THIS, **values))
    result = run_setup(setup, RunOptions(verbose=0, kbd=False, gui=False))
    if result.exit_code != 0:
        raise RuntimeError(f"benchmark run failed: {result.summary.get('failures')}")
    return json.loads((result.run_dir / "bench_reader.json").read_text())


def source_run(workdir: Path, template: str, events: int, **values) -> float:
    """Events per second through the source and the buffer, as the reader in the run saw them."""
    reader = run_and_read(workdir, template, events=events, **values)
    if reader["events"] != events:
        raise RuntimeError(f"expected {events} events at the reader, got {reader['events']}")
    return (events - 1) / (reader["t1"] - reader["t0"])


def bare_pyvisa(resource: str, points: int, events: int, blocks: bool) -> float:
    """Acquisitions per second of a plain PyVISA loop: arm, poll, read both channels, either with
    ``query_binary_values`` (the usual call) or, with ``blocks``, as the source reads: the block header,
    then the data in one read with the termination character switched off."""
    import numpy as np
    import pyvisa

    from mimocorb.devices._scpi import tune_socket

    scope = pyvisa.ResourceManager("@py").open_resource(
        resource, read_termination="\n", write_termination="\n", timeout=5000
    )
    scope.chunk_size = 1 << 20
    tune_socket(scope)  # as the source does: no delayed acknowledgements, large receives
    for n in (1, 2):
        scope.write(f":WAV:SOUR CHAN{n}")
        scope.write(f":WAV:POIN {points}")
    first = last = 0.0
    for i in range(events):
        scope.write(":SING")
        while scope.query(":TRIG:STAT?") != "STOP":
            pass
        for n in (1, 2):
            scope.write(f":WAV:SOUR CHAN{n}")
            if blocks:
                scope.write(":WAV:DATA?")
                with scope.read_termination_context(None):
                    digits = int(scope.read_bytes(2)[1:])
                    data = np.frombuffer(scope.read_bytes(int(scope.read_bytes(digits)) + 1)[:-1], "u1")
            else:
                data = scope.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
            assert len(data) == points
        last = time.perf_counter()
        first = first if i else last
    scope.close()
    return (events - 1) / (last - first)


def redpitaya_bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    from mimocorb.devices import start_simulator_process

    board, port = start_simulator_process("--pattern", "--rate", "1000000")
    bare, run = [], []
    try:
        for _ in range(args.reps):
            bare.append(bare_reader(port, args.samples, args.events))
            run.append(source_run(tmp, SETUP, args.events, samples=args.samples, port=port))
    finally:
        board.terminate()
        board.wait(10)
    title = f"Red Pitaya: {args.events} waveforms of 2 x {args.samples} int16 samples"
    return compared(
        title, 4 * args.samples / 1e6, ("bare socket loop", bare), ("redpitaya -> RB_1 -> reader", run)
    )


def scpi_bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    from mimocorb.devices import simulated_scope

    usual, bare, run = [], [], []
    with simulated_scope("--profile", "rigol", "--rate", "1000000") as resource:
        for _ in range(args.reps):
            usual.append(bare_pyvisa(resource, args.scpi_points, args.scpi_events, blocks=False))
            bare.append(bare_pyvisa(resource, args.scpi_points, args.scpi_events, blocks=True))
            values = {"samples": args.scpi_points, "resource": resource}
            run.append(source_run(tmp, SCPI_SETUP, args.scpi_events, **values))
    title = f"SCPI scope (rigol): {args.scpi_events} acquisitions of 2 x {args.scpi_points} uint8 samples"
    mb = 2 * args.scpi_points / 1e6
    lines = compared(title, mb, ("bare PyVISA loop, read_bytes", bare), ("scpi_scope -> RB_1 -> reader", run))
    median = statistics.median(usual)
    shown = ", ".join(f"{r:.0f}" for r in usual)
    lines.insert(-1, f"  {'(PyVISA query_binary_values)':<32}{median:>19.0f}{median * mb:>8.1f}{shown:>28}")
    return lines


def compared(title: str, mb: float, bare: tuple[str, list[float]], run: tuple[str, list[float]]) -> list[str]:
    lines = [title, f"  {'reader':<32}{'events/s (median)':>19}{'MB/s':>8}{'all runs':>28}"]
    for name, rates in (bare, run):
        median = statistics.median(rates)
        shown = ", ".join(f"{r:.0f}" for r in rates)
        lines.append(f"  {name:<32}{median:>19.0f}{median * mb:>8.1f}{shown:>28}")
    ratio = statistics.median(run[1]) / statistics.median(bare[1])
    lines.append(f"  source / bare: {100 * ratio:.0f} % (target >= 80 %)")
    return lines


def cosmicwatch_bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    from mimocorb.devices import simulated_cosmicwatch

    lines = [
        f"CosmicWatch: {args.lines} lines per rate through a pseudo-terminal",
        f"  {'requested lines/s':>18}{'reached lines/s':>17}{'lost or merged':>16}",
    ]
    best = 0.0
    for rate in args.rates:
        options = ("--rate", str(rate), "--count", str(args.lines), "--seed", "1")
        with simulated_cosmicwatch(*options) as port:
            runtime = 10 + 3 * args.lines / rate
            reader = run_and_read(tmp, COSMICWATCH_SETUP, events=args.lines, runtime=runtime, port=port)
        lost = args.lines - reader["events"] + reader["breaks"]
        reached = (reader["events"] - 1) / (reader["t1"] - reader["t0"])
        lines.append(f"  {rate:>18.0f}{reached:>17.0f}{lost:>16}")
        best = max(best, reached) if lost == 0 else best
    lines.append(f"  highest rate reached with no line lost or merged: {best:.0f} lines/s")
    return lines


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


def picoscope_bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    sys.path.insert(0, str(PICOSTUB.parent))
    from picostub.build import build

    library_dir = tmp / "picostub"
    library_dir.mkdir(exist_ok=True)
    if build(library_dir) is None:
        return ["PicoScope: skipped, no C compiler (cc or gcc) to build the stand-in driver"]
    results = [picoscope_run(tmp, library_dir, args.pico_events) for _ in range(args.reps)]
    lines = [
        f"PicoScope: {args.pico_events} events of 4 x 4250 float64 (mV) from the stand-in ps4000a",
        f"  {'':<32}{'median':>12}{'all runs':>28}",
    ]
    for name, values in (
        ("events/s at the reader", [rate for rate, _ in results]),
        ("source CPU per event (us)", [1e6 * cpu for _, cpu in results]),
    ):
        shown = ", ".join(f"{v:.0f}" for v in values)
        lines.append(f"  {name:<32}{statistics.median(values):>12.0f}{shown:>28}")
    return lines


BENCHES = {
    "redpitaya": redpitaya_bench,
    "picoscope": picoscope_bench,
    "scpi": scpi_bench,
    "cosmicwatch": cosmicwatch_bench,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=3000, help="Red Pitaya waveforms per measurement (3000)"
    )
    parser.add_argument("--reps", type=int, default=3, help="measurements of each, alternating (default 3)")
    parser.add_argument("--samples", type=int, default=16384, help="Red Pitaya samples per input (16384)")
    parser.add_argument(
        "--scpi-events", type=int, default=500, help="SCPI acquisitions per measurement (500)"
    )
    parser.add_argument("--scpi-points", type=int, default=100000, help="SCPI samples per channel (100000)")
    parser.add_argument("--lines", type=int, default=5000, help="CosmicWatch lines per rate (5000)")
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[1000, 2000, 5000, 10000, 20000], help="CosmicWatch lines/s"
    )
    parser.add_argument("--pico-events", type=int, default=3000, help="PicoScope events per run (3000)")
    parser.add_argument(
        "--only",
        "--device",
        dest="only",
        choices=["all", *BENCHES],
        action="append",
        help="run only these (repeatable; default all)",
    )
    args = parser.parse_args(argv)
    names = list(BENCHES) if not args.only or "all" in args.only else list(dict.fromkeys(args.only))
    sys.path.insert(0, str(HERE))
    load = os.getloadavg()[0]
    print(f"device_bench: {args.reps} rep(s), load before {load:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="device_bench_") as tmp:
        for name in names:
            print("\n".join(BENCHES[name](args, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
