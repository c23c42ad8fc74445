"""Helpers for the config tests: real projects in tmp_path, starting from mimoCoRB 1.0.2's example."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimocorb.config import ConfigError, ValidatedSetup, validate_setup

EXAMPLE_SETUP = Path(__file__).parent / "data" / "simulsource_setup.yaml"
SIGNATURE = "(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info)"


def function_source(name: str, body: str = "return None") -> str:
    return f"def {name}{SIGNATURE}:\n    {body}\n"


EXAMPLE_FILES = {
    "modules/simulation_source.py": function_source("simulation_source"),
    "modules/filters.py": "def find_double_pulse(data):\n    return data\n",
    "modules/lifetime_filter.py": (
        "from filters import *  # noqa: F403 - sibling import, as in the 1.0.2 example\n\n\n"
        + function_source("calculate_decay_time", "return find_double_pulse(None)  # noqa: F405")
    ),
    "modules/save_files.py": function_source("save_to_txt") + "\n\n" + function_source("save_parquet"),
    "config/simulation_config.yaml": """\
general:
  number_of_samples: &nsamples 4250
  analogue_offset: &offset -0.45
simulation_source:
  number_of_samples: *nsamples
  analogue_offset: *offset
  sleeptime: 0.03
calculate_decay_time:
  number_of_samples: *nsamples
  trigger_level: 50
save_parquet:
  filename: spectrum
""",
    "config/save_lifetime.yaml": "filename: lifetimes\nheader_alias: {decay_time: tau}\n",
}


class Project:
    """A directory holding a setup file and what it refers to; validation runs with it as CWD."""

    def __init__(self, root: Path, setup_name: str = "simulsource_setup.yaml") -> None:
        self.root = root
        self.setup = root / setup_name

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def edit_setup(self, old: str, new: str) -> None:
        text = self.setup.read_text(encoding="utf-8")
        assert old in text, f"fixture text not found: {old!r}"
        self.setup.write_text(text.replace(old, new, 1), encoding="utf-8")

    def setup_line(self, fragment: str) -> int:
        """1-based line of the first setup line containing ``fragment``."""
        lines = self.setup.read_text(encoding="utf-8").splitlines()
        return next(i for i, line in enumerate(lines, start=1) if fragment in line)

    def validate(self) -> ValidatedSetup:
        return validate_setup(self.setup, cwd=self.root)

    def failure(self) -> ConfigError:
        with pytest.raises(ConfigError) as info:
            self.validate()
        return info.value


CHAIN_MODULE = function_source("source") + "\n\n" + function_source("sink")


def chain_setup(main: str = "", source: str = "", sink: str = "", tail: str = "") -> str:
    """A two-function chain: Fkt_1 'source' writes RB_1, Fkt_2 'sink' reads it.

    ``main`` is the text after ``Fkt_main:``, ``source``/``sink`` extra flow-style entries of the two
    blocks (starting with ', '), ``tail`` text appended after the Functions list.
    """
    return f"""\
RingBuffer:
  - RB_1: {{number_of_slots: 4, channel_per_slot: 1, data_type: {{1: [x, int32]}}}}
Functions:
  - Fkt_main:{main}
  - Fkt_1: {{file_name: modules/chain, fkt_name: source, num_process: 1, RB_assign: {{RB_1: write}}{source}}}
  - Fkt_2: {{file_name: modules/chain, fkt_name: sink, num_process: 1, RB_assign: {{RB_1: read}}{sink}}}
{tail}"""
