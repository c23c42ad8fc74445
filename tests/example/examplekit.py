"""Helpers of the example tests: loading the example modules, simulated events, running a setup."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import yaml

from mimocorb.physics.simulation import MuonEventGenerator, SimulationParameters

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CHANNELS = ("chA", "chB", "chC", "chD")
TRACKED_PIDS: set[int] = set()  # controllers started by the tests: their shared memory must be gone


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


HEADLESS = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "MPLBACKEND": "Agg"}  # as on CI


def start_headless(command: list[str], cwd: Path, stderr: int = subprocess.STDOUT) -> subprocess.Popen:
    """Start ``command`` without a display; its pid is tracked for the shared-memory check."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=HEADLESS,
    )
    TRACKED_PIDS.add(process.pid)
    return process


def run_setup(
    setup: Path, cwd: Path, *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess, Path]:
    """``mimocorb run`` in a child process; returns the result and the run directory."""
    command = [sys.executable, "-m", "mimocorb", "run", str(setup), "--no-gui", "--no-kbd", "-v", "1", *args]
    process = start_headless(command, cwd, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=timeout)
    result = subprocess.CompletedProcess(command, process.returncode, out, err)
    summaries = sorted(cwd.glob("**/run_summary.json"))
    assert summaries, f"no run directory made\nstdout:\n{out}\nstderr:\n{err}"
    return result, summaries[-1].parent


def run_summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run_summary.json").read_text())
