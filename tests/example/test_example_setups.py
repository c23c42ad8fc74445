"""The shipped setups: the seed's file as printed, and every setup valid for ``mimocorb validate``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from examplekit import EXAMPLES, REPO

SEED_MAIN_BLOCK = REPO / "tests" / "config" / "data" / "simulsource_setup.yaml"  # the seed's block, verbatim


def test_seed_setup_is_the_printed_one() -> None:
    shipped = (EXAMPLES / "simulsource_setup.yaml").read_text(encoding="utf-8")
    main_block = SEED_MAIN_BLOCK.read_text(encoding="utf-8").rstrip("\n") + "\n"
    assert shipped.startswith(main_block)
    addendum = yaml.safe_load("Functions:\n" + shipped[len(main_block) :])["Functions"]
    assert addendum == [
        {
            "Fkt_5": {
                "file_name": "modules/plot_waveform",
                "fkt_name": "plot_waveform",
                "num_process": 1,
                "RB_assign": {"RB_2": "observe"},
            }
        },
        {
            "Fkt_6": {
                "file_name": "modules/plot_histograms",
                "fkt_name": "plot_histograms",
                "num_process": 1,
                "RB_assign": {"RB_3": "read"},
            }
        },
    ]


@pytest.mark.parametrize("setup", ["simulsource_setup.yaml", "spin_setup.yaml", "demo_setup.yaml"])
def test_setup_validates_without_warnings(setup: str) -> None:
    """Validated in a child process: it imports the example modules under their bare names."""
    result = subprocess.run(
        [sys.executable, "-m", "mimocorb", "validate", setup], cwd=EXAMPLES, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith(f"OK: {setup}")
