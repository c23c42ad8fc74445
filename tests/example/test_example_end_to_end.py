"""The example setups as shipped, run headless for a few seconds: every promised file is in the run directory.

Real processes, real exporters (mimocorb.io) and displays (mimocorb.plot_buffer, mimocorb.histogram_buffer,
which write PNG files without a display), started the three ways a user would.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from examplekit import EXAMPLES, REPO, run_setup, start_headless
from support import finish, run_dirs, summary

pytestmark = pytest.mark.slow  # whole runs of the example, several seconds each

RB3_FIELDS = [
    name
    for name, _ in yaml.safe_load((EXAMPLES / "simulsource_setup.yaml").read_text())["RingBuffer"][2]["RB_3"][
        "data_type"
    ].values()
]
ALIASES = yaml.safe_load((EXAMPLES / "config" / "save_lifetime.yaml").read_text())["header_alias"]


def check_lifetime_run(run_dir: Path) -> None:
    """The files of a lifetime run and their agreement with each other."""
    for copy in ("simulsource_setup.yaml", "simulation_config.yaml", "save_lifetime.yaml", "run.log"):
        assert (run_dir / copy).is_file(), copy
    events = summary(run_dir)["events"]
    lines = (run_dir / "muon_lifetime.txt").read_text().splitlines()
    header = lines[0].split("\t")
    assert header == [ALIASES.get(name, name) for name in ["counter", "timestamp", "deadtime", *RB3_FIELDS]]
    rows = np.array([line.split("\t") for line in lines[1:]], dtype=float)
    assert len(rows) > 50 and rows[:, 0].max() <= events  # ~8 % of ≥ 1500 events
    with tarfile.open(run_dir / "simulated_data.tar") as archive:
        members = archive.getmembers()
        assert sorted(m.name for m in members) == sorted(
            f"simulated_data_{int(c)}.parquet" for c in rows[:, 0]
        )
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(archive.extractfile(members[0]).read()))
    assert table.column_names[:4] == ["chA", "chB", "chC", "chD"] and table.num_rows == 4250
    physics = json.loads((run_dir / "physics_summary.json").read_text())
    assert physics["events"] == events and physics["accepted_double_pulses"] == len(rows)
    assert physics["lifetime_ns"] > 0 and physics["lifetime_error_ns"] > 0
    assert (run_dir / "lifetime_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "muon lifetime" in (run_dir / "run.log").read_text()
    displays = {p.name for p in run_dir.glob("*.png")} - {"lifetime_fit.png"}
    assert len(displays) >= 2, f"expected PNG snapshots of both displays, found {displays}"


def test_lifetime_setup_runs_headless(tmp_path: Path) -> None:
    result, run_dir = run_setup(EXAMPLES / "simulsource_setup.yaml", tmp_path, "--events", "2000")
    assert result.returncode == 0, result.stdout + result.stderr
    check_lifetime_run(run_dir)
    assert "accepted double pulses" in result.stdout


def test_run_daq_script_from_the_example_directory(tmp_path: Path) -> None:
    """``../run_daq.py simulsource_setup.yaml`` in (a copy of) examples/, the run limit cut to 2000 events."""
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns("target", "__pycache__"))
    config = work / "config" / "simulation_config.yaml"
    text = config.read_text().replace("runtime: 60 ", "runtime: 0 ")
    config.write_text(text.replace("runevents: 0 ", "runevents: 2000 "))
    command = [sys.executable, str(REPO / "run_daq.py"), "simulsource_setup.yaml", "-v", "1"]
    process = start_headless(command, work)
    out = finish(process)
    assert process.returncode == 0, out
    (run_dir,) = run_dirs(work / "target")
    check_lifetime_run(run_dir)


def run_demo(cwd: Path, *args: str) -> Path:
    """``mimocorb demo ...`` started in ``cwd`` (which holds no examples); returns the run directory."""
    cwd.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "mimocorb", "demo", *args, "--no-gui", "-v", "1", "--output", "runs"]
    process = start_headless(command, cwd)
    out = finish(process)
    assert process.returncode == 0, out
    (run_dir,) = run_dirs(cwd / "runs")
    return run_dir


def test_demo_command_runs_from_anywhere(tmp_path: Path) -> None:
    run_dir = run_demo(tmp_path, "--events", "1500")
    assert summary(run_dir)["events"] == 1500
    check_lifetime_run(run_dir)


def test_spin_and_spectrum_setups_run(tmp_path: Path) -> None:
    spin = run_demo(tmp_path / "spin", "spin", "--events", "1000")
    top, bottom = (np.loadtxt(spin / f"spin_{side}.txt", skiprows=1, ndmin=2) for side in ("top", "bottom"))
    with tarfile.open(spin / "simulated_data.tar") as archive:
        assert len(archive.getmembers()) == len(top) + len(bottom) > 30  # each double pulse: up or down
    assert not set(top[:, 0]) & set(bottom[:, 0])
    spectrum = run_demo(tmp_path / "spectrum", "spectrum", "--events", "40")
    rows = np.loadtxt(spectrum / "spectrum.txt", skiprows=1, ndmin=2)
    assert summary(spectrum)["events"] == 40 and 30 <= len(rows) <= 40  # ~5 % without a chA pulse
    assert ((rows[:, 3] > 40) & (rows[:, 4] >= 95)).all()  # chA height above 40 mV, position near 100
