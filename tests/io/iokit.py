"""Helpers of the recording tests: setup files naming the modules in iomods, running `mimocorb run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cliruns import finish

MODS = Path(__file__).parent / "iomods"
WORKERS = MODS / "io_workers"

TRACKED_PIDS: set[int] = set()  # controllers started by the tests: their shared memory must be gone

WAVE_TYPES = "{a: [ch1, float32], b: [ch2, int32], c: [ch3, float64]}"
RECORD_TYPES = "{a: [amp, float32], b: [pos, int32], c: [area, float64]}"


def fkt(k: int, name: str, assign: str, config: str = "", num: int = 1) -> str:
    cfg = f", config_file: {config}" if config else ""
    return (
        f"  - Fkt_{k}: {{file_name: {WORKERS}, fkt_name: {name}, num_process: {num}, "
        f"RB_assign: {{{assign}}}{cfg}}}\n"
    )


def write_setup(
    directory: Path,
    functions: list[str],
    configs: dict[str, str],
    samples: int = 50,
    main: str = "",
    name: str = "rec_setup.yaml",
    slots: int = 16,
    output: str = "target",
    kbd: bool = False,
) -> Path:
    """RB_1 waveforms (ch1 float32, ch2 int32, ch3 float64) and RB_2 records; ``configs``: file -> text."""
    for file, text in configs.items():
        (directory / file).write_text(text, encoding="utf-8")
    text = (
        f"output_directory: {output}\nGUI_control: false\nKBD_control: {str(kbd).lower()}\n"
        "RingBuffer:\n"
        f"  - RB_1: {{number_of_slots: {slots}, channel_per_slot: {samples}, data_type: {WAVE_TYPES}}}\n"
        f"  - RB_2: {{number_of_slots: {slots}, channel_per_slot: 1, data_type: {RECORD_TYPES}}}\n"
        "Functions:\n"
        f"  - Fkt_main: {{{main}}}\n" + "".join(functions)
    )
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def start(
    args: list[str], cwd: Path, new_session: bool = False, stdin: int = subprocess.DEVNULL
) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("MIMOCORB_START_METHOD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb", *args],
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=new_session,
    )
    TRACKED_PIDS.add(proc.pid)
    return proc


def run(args: list[str], cwd: Path, timeout: float = 60.0) -> tuple[int, str]:
    proc = start(args, cwd)
    out = finish(proc, timeout)
    return proc.returncode, out


def only_run_dir(output: Path) -> Path:
    dirs = sorted(p for p in output.iterdir() if p.is_dir())
    assert len(dirs) == 1, f"expected one run directory in {output}, found {dirs}"
    return dirs[0]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "run_summary.json").read_text(encoding="utf-8"))


def remove_shared_memory_of(pid: int) -> None:
    """What `mimocorb cleanup` does, limited to one killed controller (others' leftovers are not ours)."""
    from mimocorb.ring import _shm

    for entry in _shm._registry_dir().glob(f"{_shm.PREFIX}{pid}_*.json"):
        try:  # a run started meanwhile (another suite on the machine) may clean up dead owners first
            data = json.loads(entry.read_text())
        except FileNotFoundError:
            continue
        for segment in data.get("segments", []):
            _shm.unlink_segment(segment)
        for semaphore in data.get("semaphores", []):
            _shm.unlink_semaphore(semaphore)
        entry.unlink(missing_ok=True)
    shm = Path("/dev/shm")
    for path in shm.glob(f"*{_shm.PREFIX}{pid}_*") if shm.is_dir() else []:
        path.unlink(missing_ok=True)
