"""``mimocorb devices`` and ``mimocorb simulate cosmicwatch|scpi``: the simulators, run as commands, are
listed with the source that reads them and feed runs; the stand-in PicoScope driver's unit is listed with
the picoscope source; without the devices extra, or without Pico's driver or wrapper, it says what to
install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from devkit import recorded, run
from serialkit import COSMICWATCH_FIELDS, SCOPE_FIELDS, device_setup
from support import mimocorb_command, only_run_dir
from support import run as run_command

from mimocorb.devices import (
    CosmicWatchSimulator,
    ScpiSimulator,
    cosmicwatch_lines,
    parse_line,
    scope_waveform,
    simulated_cosmicwatch,
    simulated_scope,
)

HIDE = Path(__file__).resolve().parents[1] / "packaging" / "hide"


@pytest.mark.timeout(60)
def test_devices_lists_the_running_simulators_with_their_sources(project):
    with CosmicWatchSimulator(rate=50) as watch, ScpiSimulator("keysight") as scope:
        code, out = run(["devices", "--serial", watch.path, "--visa", scope.resource], project)
    assert code == 0, out
    assert f"{watch.path}" in out and "CosmicWatch v2" in out
    assert f"-> cosmicwatch, port: {watch.path}" in out
    assert "KEYSIGHT TECHNOLOGIES,DSOX1204G,SIMULATED" in out
    assert f"-> scpi_scope, resource: {scope.resource}, profile: keysight" in out
    assert "network discovery skipped" in out


@pytest.mark.timeout(60)
def test_devices_lists_the_picoscope_the_driver_sees(project, stub):
    result = run_command(mimocorb_command("devices"), project, 60, env=stub.env())
    assert result.returncode == 0, result.stdout + result.stderr
    pico = result.stdout.split("PicoScopes:\n", 1)[1]
    assert pico.splitlines()[:2] == [
        f"  {'STUB0001':<36} PicoScope 4000 Series (ps4000a)",
        f"  {'':<36} -> picoscope, family: ps4000a, serial: STUB0001",
    ]
    assert "libps4000a" not in result.stdout


PICO_MISSING = [
    ("driver", "picoscope: no PicoSDK driver can be loaded (libps4000a, libps2000a, libps3000a, libps5000a)"),
    ("wrapper", "picoscope: Pico's Python wrapper (picosdk) is not installed"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("missing", "reason"), PICO_MISSING)
def test_devices_without_pico_s_driver_or_wrapper_says_what_to_install(project, stub, missing, reason):
    # no libps4000a on the library path, or picosdk not importable
    more = {"LD_LIBRARY_PATH": str(project)} if missing == "driver" else _hiding("picosdk")
    result = run_command(mimocorb_command("devices"), project, 60, env=stub.env(more))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PicoScopes:\n  none\n" in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("(picoscope:")]
    assert line.startswith(f"({reason}")
    assert "install Pico Technology's PicoSDK" in line and "pip install 'mimocorb[devices]'" in line


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_simulator_command_feeds_a_run_with_known_lines(project):
    with simulated_cosmicwatch("--format", "v3x", "--rate", "100", "--count", "30", "--seed", "7") as path:
        setup = device_setup(
            project, "cosmicwatch", f'port: "{path}"', COSMICWATCH_FIELDS, main="runevents: 30"
        )
        code, out = run(["run", str(setup)], project)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    expected = [parse_line(line) for line in cosmicwatch_lines(30, "v3x", 100, 7)]
    assert list(frame.adc) == [e["adc"] for e in expected]
    assert list(frame.deadtime_ms) == [e["deadtime_ms"] for e in expected]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_scope_simulator_command_feeds_a_run(project):
    with simulated_scope("--profile", "tektronix") as resource:
        config = f'resource: "{resource}", profile: tektronix'
        setup = device_setup(project, "scpi_scope", config, SCOPE_FIELDS, samples=100, main="runevents: 5")
        code, out = run(["run", str(setup)], project)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert (frame.CH2[4] == scope_waveform(5, 2, 100, "i1") * 0.01).all()


def _hiding(module: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HIDE), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MIMOCORB_HIDE": module}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("module", "purpose"),
    [("serial", "listing serial ports (pyserial)"), ("pyvisa", "the SCPI oscilloscope source (PyVISA)")],
)
def test_without_the_devices_extra_one_line_says_what_to_install(project, module, purpose, monkeypatch):
    for key, value in _hiding(module).items():
        monkeypatch.setenv(key, value)
    code, out = run(["devices"], project)
    assert code == 1
    assert out.strip().splitlines() == [
        f"mimocorb: the 'devices' extra is needed for {purpose}: pip install 'mimocorb[devices]'"
    ]


@pytest.mark.timeout(60)
def test_validate_names_the_extra_a_cosmicwatch_needs(project, monkeypatch):
    for key, value in _hiding("serial").items():
        monkeypatch.setenv(key, value)
    setup = device_setup(project, "cosmicwatch", "port: /dev/ttyUSB0", COSMICWATCH_FIELDS)
    code, out = run(["validate", str(setup)], project)
    assert code == 1
    needed = "the 'devices' extra is needed for the CosmicWatch source (pyserial)"
    assert f"{needed}: pip install 'mimocorb[devices]'" in out
