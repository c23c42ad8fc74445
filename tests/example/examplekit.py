"""Helpers of the example tests: loading the example modules, simulated events, running a setup."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import support
import yaml

from mimocorb.physics.simulation import MuonEventGenerator, SimulationParameters

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CHANNELS = ("chA", "chB", "chC", "chD")


def load_example_module(name: str) -> ModuleType:
    """An example module under a private name, so that its bare name stays free for the config tests."""
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / "modules" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_config(file: str = "simulation_config.yaml") -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "config" / file).read_text(encoding="utf-8"))


def setup_dtype(setup: str, buffer: str) -> list[tuple[str, np.dtype]]:
    """A buffer's dtype as the run gives it to the functions: (name, numpy dtype) in YAML order."""
    text = yaml.safe_load((EXAMPLES / setup).read_text(encoding="utf-8"))
    for item in text["RingBuffer"]:
        if buffer in item:
            return [(name, np.dtype(kind)) for name, kind in item[buffer]["data_type"].values()]
    raise KeyError(buffer)


def generator(seed: int, n_channels: int = 4, file: str = "simulation_config.yaml", **overrides: Any):
    config = {**example_config(file)["simulation_source"], **overrides}
    params = SimulationParameters.from_config(config)
    return MuonEventGenerator(params, n_channels, int(config["number_of_samples"]), seed=seed)


def as_slot(waveform: np.ndarray, dtype: Any) -> np.ndarray:
    """One event as a ring-buffer slot: a structured array with one field per channel."""
    slot = np.empty(waveform.shape[1], dtype=dtype)
    for k, name in enumerate(slot.dtype.names):
        slot[name] = waveform[k]
    return slot


# no display, as on CI; the example's display modules then draw with Agg
HEADLESS = support.child_env({**support.HEADLESS, "MPLBACKEND": "Agg"})


def start_headless(command: list[str], cwd: Path, **popen) -> subprocess.Popen:
    return support.start(command, cwd, env=HEADLESS, **popen)


def run_setup(
    setup: Path, cwd: Path, *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess, Path]:
    """``mimocorb run`` in a child process; returns the result and the run directory."""
    command = support.mimocorb_command("run", str(setup), "--no-gui", "--no-kbd", "-v", "1", *args)
    result = support.run(command, cwd, timeout, env=HEADLESS, stderr=subprocess.PIPE)
    summaries = sorted(cwd.glob("**/run_summary.json"))
    assert summaries, f"no run directory made\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result, summaries[-1].parent
