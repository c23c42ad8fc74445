"""The shipped setups: mimoCoRB 1.0.2's example setup kept unchanged, and every setup valid to validate."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from examplekit import EXAMPLES, REPO

# the example setup of mimoCoRB 1.0.2, verbatim (without the two display functions added to it later)
ORIGINAL_MAIN_BLOCK = REPO / "tests" / "config" / "data" / "simulsource_setup.yaml"


def test_lifetime_setup_is_the_original_plus_two_displays() -> None:
    shipped = (EXAMPLES / "simulsource_setup.yaml").read_text(encoding="utf-8")
    main_block = ORIGINAL_MAIN_BLOCK.read_text(encoding="utf-8").rstrip("\n") + "\n"
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
        [sys.executable, "-m", "mimocorb", "validate", setup],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith(f"OK: {setup}")


@pytest.mark.parametrize(
    ("config", "old", "new", "message"),
    [
        (
            "histograms_top.yaml",
            "decay_time: [0., 15000.,",
            "decay_time: [15000., 0.,",
            "histograms: decay_time': min must be below max",
        ),
        (
            "simulation_config.yaml",
            "channel_range: 500",
            "channel_range: -500",
            "'channel_range' must be a positive",
        ),
        (  # the double-pulse filter's check knows the channels of the buffer it reads
            "simulation_config.yaml",
            '- ["++--", "0+--"]',
            '- ["++--", "0+-"]',
            "signatures[0][1] expected 4 symbols out of + - 0",
        ),
        (
            "simulation_config.yaml",
            "peak_minimal_prominence_initial: 90",
            "peak_minimal_prominence_initial: high",
            "peak_minimal_prominence_initial",
        ),
    ],
)
def test_bad_display_config_is_refused_before_the_run(tmp_path, config, old, new, message) -> None:
    """The example's filter and display functions carry their library's config check, so validation
    (which every run does first) names the file and the key; no run directory is made."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("target", "__pycache__"))
    path = tmp_path / "examples" / "config" / config
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    for command in ("validate", "run"):
        result = subprocess.run(
            [sys.executable, "-m", "mimocorb", command, "spin_setup.yaml"],
            cwd=tmp_path / "examples",
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert result.returncode != 0, result.stdout
        assert message in result.stderr and f"config/{config}" in result.stderr, result.stderr
    assert not (tmp_path / "examples" / "target").exists()
