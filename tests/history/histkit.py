"""Helpers of the history tests: real runs of a simulated source that publishes user variables."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import finish, mimocorb_command, start

MODS = Path(__file__).parent / "histmods"
SETUP = """\
output_directory: runs
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 8, channel_per_slot: 1, data_type: {{1: [value, int64]}}}}
Functions:
  - Fkt_main: {{}}
  - Fkt_1: {{file_name: {mods}/weather, fkt_name: weather_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mods}/weather, fkt_name: weather_sink, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  weather_source: {{sleep: 0.005, temperature: {temperature}}}
  weather_sink: {{}}
"""


def weather_setup(directory: Path, temperature: float) -> Path:
    """The setup of a run whose source publishes ``temperature``; its runs go to ``directory/runs``."""
    path = directory / "weather.yaml"
    path.write_text(SETUP.format(mods=MODS, temperature=temperature), encoding="utf-8")
    return path


def run_for(directory: Path, temperature: float, runtime: float = 2.0) -> str:
    """One whole run of ``runtime`` s; its output."""
    setup = weather_setup(directory, temperature)
    proc = start(
        mimocorb_command("run", str(setup), "--runtime", str(runtime), "--no-gui", "-v", "1"), directory
    )
    out = finish(proc, 60.0)
    assert proc.returncode == 0, out
    return out


def start_steered(directory: Path, temperature: float) -> subprocess.Popen:
    """A run without end that takes commands (P, R, E) on its stdin."""
    setup = weather_setup(directory, temperature)
    return start(mimocorb_command("run", str(setup), "--no-gui", "-v", "1"), directory, stdin=subprocess.PIPE)
