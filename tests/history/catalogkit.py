"""Helpers of the catalog tests: real runs of a small counting setup, and the mimocorb command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support import mimocorb_command, run, run_dirs

# the counting source and the sink of the web tests: a slow, endless run that ends by --runtime
MODS = Path(__file__).parents[1] / "web" / "webmods"
SETUP = """\
output_directory: target
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 8, channel_per_slot: 1, data_type: {{1: [value, int64]}}}}
Functions:
  - Fkt_main: {{}}
  - Fkt_1: {{file_name: {mods}/ticks, fkt_name: tick_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mods}/ticks, fkt_name: tick_sink, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  tick_source: {{sleep: 0.005}}
  tick_sink: {{}}
"""


def tick_setup(directory: Path, name: str = "ticks.yaml") -> Path:
    path = directory / name
    path.write_text(SETUP.format(mods=MODS), encoding="utf-8")
    return path


def mimocorb(directory: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``mimocorb ARGS`` in ``directory``, run to its end; its errors are in its output."""
    return run(mimocorb_command(*args), directory, timeout)


def finished_run(directory: Path, setup: Path, *args: str) -> Path:
    """A real run of ``setup`` for half a second; its new run directory below ``directory/target``."""
    before = set(run_dirs(directory / "target"))
    done = mimocorb(directory, "run", str(setup), "--runtime", "0.5", "--no-kbd", "-v", "0", *args)
    assert done.returncode == 0, done.stdout
    (new,) = set(run_dirs(directory / "target")) - before
    return new


def runs_json(directory: Path, *args: str) -> list[dict[str, Any]]:
    """What ``mimocorb runs --json`` lists."""
    done = mimocorb(directory, "runs", "--json", *args)
    assert done.returncode == 0, done.stdout
    return json.loads(done.stdout)


def listed(directory: Path, *args: str) -> list[str]:
    """The names of the runs ``mimocorb runs --json ARGS`` lists."""
    return [entry["name"] for entry in runs_json(directory, *args)]
