"""The SCPI oscilloscope source over VXI-11 (``TCPIP::HOST::INSTR``, PyVISA-py's client) against the
simulator's portmapper and core channel.

A resource as users write it, ``TCPIP::127.0.0.1::INSTR``, makes PyVISA-py ask the portmapper on port
111, which only a privileged process may bind. That run happens in a network namespace of its own
(``unshare -rn``: an unprivileged user becomes root there, with a loopback of its own), where the simulator
binds port 111 and the run talks to it; skipped, saying why, where such namespaces cannot be made. PyVISA-py
cannot be given another portmapper port, but ``TCPIP::HOST,PORT::INSTR`` names the core channel's port
and skips the portmapper: that form is tested without a namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import support
from devkit import recorded, run
from serialkit import SCOPE_FIELDS, device_setup
from support import mimocorb_command, only_run_dir, wait_until

from mimocorb.devices import ScpiScope, ScpiSimulator, scope_waveform

POINTS = 300

# run inside the namespace: the simulator with its portmapper on port 111, then the run against it
IN_NAMESPACE = """
import json, subprocess, sys
from mimocorb.devices import ScpiSimulator
with ScpiSimulator("siglent", rate=2000, portmapper_port=111) as sim:
    command = [sys.executable, "-m", "mimocorb", "run", sys.argv[1]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    print(run.stdout + run.stderr)
    json.dump({"code": run.returncode, "commands": sim.commands}, open(sys.argv[2], "w"))
"""


def _namespace_problem() -> str | None:
    """Why a private network namespace cannot be had here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux's"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "util-linux's unshare and iproute2's ip are needed"
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return f"cannot make a network namespace (user namespaces off?): {probe.stderr.strip()}"
    return None


def _siglent_volts(acquisition: int, channel: int) -> np.ndarray:
    return scope_waveform(acquisition, channel, POINTS, "i1") * 0.02 - 0.25


@pytest.mark.timeout(180)
def test_instr_resource_through_the_portmapper_on_port_111(project: Path):
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    setup = device_setup(
        project, "scpi_scope", 'resource: "TCPIP::127.0.0.1::INSTR"', SCOPE_FIELDS, samples=POINTS,
        main="runevents: 6",
    )  # fmt: skip
    program = project / "in_namespace.py"
    program.write_text(IN_NAMESPACE, encoding="utf-8")
    outcome = project / "outcome.json"
    shell = 'ip link set lo up && exec "$0" "$@"'
    command = ["unshare", "-rn", "sh", "-c", shell, sys.executable, str(program), str(setup), str(outcome)]
    done = support.run(command, project, timeout=170)
    out = done.stdout
    assert done.returncode == 0 and outcome.exists(), out
    result = json.loads(outcome.read_text())
    assert result["code"] == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert len(frame) == 6
    for row in range(6):
        for channel in (1, 2):
            np.testing.assert_allclose(
                frame[f"CH{channel}"][row], _siglent_volts(row + 1, channel), atol=1e-12
            )
    commands = result["commands"]
    assert commands[:3] == ["*IDN?", ":WAVeform:WIDTh BYTE", ":WAVeform:STARt 0"]  # auto chose siglent
    assert commands[-1] == ":TRIGger:STOP"


@pytest.mark.timeout(90)
def test_instr_resource_naming_the_core_channel_port(project: Path):
    with ScpiSimulator("rigol", rate=2000, portmapper_port=0) as sim:
        assert sim.instr_resource == f"TCPIP::127.0.0.1,{sim.core_port}::INSTR"
        extra = f'resource: "{sim.instr_resource}", commands: [":TIM:MAIN:SCAL 1e-6"]'
        setup = device_setup(project, "scpi_scope", extra, SCOPE_FIELDS, samples=POINTS, main="runevents: 5")
        code, out = run(["run", str(setup)], project)
        wait_until(lambda: not sim.connected, 10, "the source to destroy its link")
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert len(frame) == 5
    for row in range(5):
        counts = scope_waveform(row + 1, 2, POINTS).astype(float)
        np.testing.assert_allclose(frame.CH2[row], (counts - 128) * 0.01, atol=1e-12)
    assert sim.commands[:3] == ["*IDN?", ":WAV:MODE NORM", ":WAV:FORM BYTE"]
    assert ":TIM:MAIN:SCAL 1e-6" in sim.commands and sim.commands[-1] == ":STOP"


@pytest.mark.timeout(60)
def test_a_missing_vxi11_server_is_named(project: Path):
    with ScpiSimulator("rigol", portmapper_port=0) as sim:
        port = sim.core_port
    resource = f"TCPIP::127.0.0.1,{port}::INSTR"  # nobody listens there any more
    config = f'resource: "{resource}", connect_timeout: 2'
    code, out = run(["run", str(device_setup(project, "scpi_scope", config, SCOPE_FIELDS))], project)
    assert code != 0
    assert f"cannot open the oscilloscope at {resource}" in out


@pytest.mark.timeout(60)
def test_the_simulate_command_serves_vxi11_and_names_both_resources(project: Path):
    command = mimocorb_command("simulate", "scpi", "--profile", "keysight", "--port", "0", "--vxi11", "0")
    process = support.start(command, project)
    try:
        line = process.stdout.readline()
        words = line.split()
        socket_resource, instr_resource = words[5], words[7]
        assert socket_resource.endswith("::SOCKET") and instr_resource.endswith("::INSTR"), line
        scope = ScpiScope(instr_resource, timeout=2, connect_timeout=2)
        try:
            assert scope.idn.startswith("KEYSIGHT TECHNOLOGIES,")
        finally:
            scope.close()
    finally:
        process.terminate()
        support.finish(process, timeout=20)
