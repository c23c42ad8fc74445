"""examples/two_hosts on one machine: the acquisition run serves RB_1, the analysis run filters, records
and fits every event of it, and ends after the last one."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from support import HEADLESS, child_env, finish, mimocorb_command, run_dirs, start, summary, wait_for_run_dir
from support.shm import child_runs_leave_nothing

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(120)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EVENTS = 1500


def test_the_two_hosts_example_on_one_machine(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples, ignore=shutil.ignore_patterns("target", "__pycache__"))
    here = examples / "two_hosts"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in ("acquisition.yaml", "analysis.yaml"):
        path = here / name
        path.write_text(path.read_text().replace("127.0.0.1:5555", f"127.0.0.1:{port}"))
    env = child_env({**HEADLESS, "MPLBACKEND": "Agg"})
    options = ("--no-gui", "--no-kbd", "-v", "1")
    with child_runs_leave_nothing():
        # a long grace period: the fit and the last pictures take a while on a loaded machine
        analysis = start(
            mimocorb_command("run", "analysis.yaml", "--runtime", "0", "--grace", "60", *options),
            here,
            env=env,
        )
        wait_for_run_dir(here / "target")
        acquisition = start(
            mimocorb_command("run", "acquisition.yaml", "--events", str(EVENTS), *options), here, env=env
        )
        out_acq = finish(acquisition, 90)
        out_ana = finish(analysis, 90)
    assert acquisition.returncode == 0, out_acq
    assert analysis.returncode == 0, out_ana
    found = {p.name.split("_")[0]: p for p in run_dirs(here / "target")}
    ana = summary(found["analysis"])
    assert summary(found["acquisition"])["events"] == EVENTS
    assert ana["events"] == EVENTS and ana["end_reason"] == "source exhausted", out_ana
    physics = json.loads((found["analysis"] / "physics_summary.json").read_text())
    assert physics["events"] == EVENTS and physics["accepted_double_pulses"] > 0
    rows = (found["analysis"] / "muon_lifetime.txt").read_text().splitlines()[1:]
    assert len(rows) == physics["accepted_double_pulses"]
    for name in ("simulated_data.tar", "lifetime_fit.png", "analysis.yaml"):
        assert (found["analysis"] / name).is_file(), name
