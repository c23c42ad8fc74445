"""Helpers of the recording tests: setup files naming the modules in iomods, running `mimocorb ...`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import support

MODS = Path(__file__).parent / "iomods"
WORKERS = MODS / "io_workers"

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


def start(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    """``mimocorb ARGS`` in ``cwd``, output and errors combined (see ``support.start``)."""
    return support.start(support.mimocorb_command(*args), cwd, **popen)


def run(args: list[str], cwd: Path, timeout: float = 60.0) -> tuple[int, str]:
    """``mimocorb ARGS`` to its end: exit code and output."""
    result = support.run(support.mimocorb_command(*args), cwd, timeout)
    return result.returncode, result.stdout
