"""Helpers of the series tests: a fast setup of a simulated pulse source with a threshold in its own
config file, series files for it, and what a series directory holds."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import support

MODS = Path(__file__).parent / "seriesmods" / "pulses"
SETUP = f"""\
output_directory: target
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 16, channel_per_slot: 1, data_type: {{1: [height, float64]}}}}
  - RB_2: {{number_of_slots: 16, channel_per_slot: 1, data_type: {{1: [height, float64]}}}}
Functions:
  - Fkt_main: {{runtime: 30}}
  - Fkt_1: {{file_name: {MODS}, fkt_name: pulse_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2:
      file_name: {MODS}
      fkt_name: threshold_filter
      num_process: 1
      config_file: config/trigger.yaml
      RB_assign: {{RB_1: read, RB_2: write}}
  - Fkt_3: {{file_name: {MODS}, fkt_name: count_sink, num_process: 1, RB_assign: {{RB_2: read}}}}
FunctionConfigs:
  pulse_source: {{sleep: 0.002}}
  count_sink: {{}}
"""
TRIGGER = """\
# the trigger: pulses below the threshold are dropped
threshold: 50
fail: false
hold: ""
"""


def project(directory: Path, series: str, name: str = "scan.yaml") -> Path:
    """The setup, its trigger config and the series file ``series`` (YAML text) in ``directory``."""
    (directory / "config").mkdir(exist_ok=True)
    (directory / "config" / "trigger.yaml").write_text(TRIGGER, encoding="utf-8")
    (directory / "pulses_setup.yaml").write_text(SETUP, encoding="utf-8")
    path = directory / name
    path.write_text(series, encoding="utf-8")
    return path


def sequence_command(series: Path, *extra: str) -> list[str]:
    """The command, run in the series file's directory (messages name the file as given: its name)."""
    return support.mimocorb_command("sequence", series.name, "--no-kbd", "--no-gui", *extra)


def record(directory: Path) -> dict[str, Any]:
    """series.json of a series directory."""
    return json.loads((directory / "series.json").read_text(encoding="utf-8"))


def statuses(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Per step: its status and the status of each of its runs."""
    return [(s["status"], [r["status"] for r in s["runs"]]) for s in data["steps"]]


def expected_passed(events: int, threshold: float) -> int:
    """How many of the source's first ``events`` pulses reach ``threshold`` (its numbers are seeded)."""
    generator = random.Random(1)
    return sum(generator.uniform(0.0, 100.0) >= threshold for _ in range(events))
