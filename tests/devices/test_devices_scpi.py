"""The SCPI oscilloscope source in whole runs against the simulated scope over loopback: waveforms in
volts and counts for each dialect, commands on the wire, pause and resume, a scope lost, back or absent,
and config errors."""

from __future__ import annotations

import socket
import subprocess

import numpy as np
import pytest
from devkit import assert_config_error, recorded, run
from serialkit import SCOPE_FIELDS, device_setup
from support import (
    finish,
    mimocorb_command,
    only_run_dir,
    read_log,
    start,
    stats_rows,
    wait_for_run_dir,
    wait_until,
)

from mimocorb.devices import ScpiSimulator, parse_block, scope_waveform
from mimocorb.devices._scpi import PROFILES, profile_of

POINTS = 500


def _setup(project, sim: ScpiSimulator, extra: str = "", fields: str = SCOPE_FIELDS, **kw):
    config = f'resource: "{sim.resource}"{extra}'
    return device_setup(project, "scpi_scope", config, fields, samples=POINTS, **kw)


def _volts(profile: str, acquisition: int, channel: int) -> np.ndarray:
    """What the simulator's preamble makes of its samples: 10 mV per count around 128 (signed: 0);
    Siglent's descriptor: 0.25 V/div x probe 2 / 25 codes per div, offset 0.125 V x 2, signed counts."""
    if profile == "tektronix":
        return scope_waveform(acquisition, channel, POINTS, "i1") * 0.01
    if profile == "siglent":
        return scope_waveform(acquisition, channel, POINTS, "i1") * 0.02 - 0.25
    return (scope_waveform(acquisition, channel, POINTS).astype(float) - 128) * 0.01


@pytest.fixture
def rigol():
    with ScpiSimulator("rigol", rate=2000) as sim:
        yield sim


@pytest.mark.timeout(60)
@pytest.mark.parametrize("profile", list(PROFILES))
def test_each_dialect_delivers_the_waveforms_in_volts(project, profile):
    with ScpiSimulator(profile, rate=2000) as sim:
        setup = _setup(project, sim, main="runevents: 10")
        code, out = run(["run", str(setup)], project)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    frame = recorded(run_dir)
    assert len(frame) == 10 and sim.scope.acquisitions in (10, 11)  # the end may stop an eleventh
    for row in range(10):
        for channel in (1, 2):
            np.testing.assert_allclose(
                frame[f"CH{channel}"][row], _volts(profile, row + 1, channel), atol=1e-12
            )
    assert f"profile {profile}" in read_log(run_dir)  # *IDN? chose it, and the start logged it


@pytest.mark.timeout(60)
def test_integer_fields_get_counts_and_time_s_the_sample_times(project, rigol):
    fields = "{1: [CH2, uint8], 2: [time_s, float64]}"
    code, out = run(["run", str(_setup(project, rigol, fields=fields, main="runevents: 3"))], project)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    for row in range(3):
        assert (frame.CH2[row] == scope_waveform(row + 1, 2, POINTS)).all()
    np.testing.assert_allclose(frame.time_s[0], -5e-7 + np.arange(POINTS) * 1e-9)


@pytest.mark.timeout(60)
def test_siglent_descriptor_gives_volts_and_times_and_settings_reach_the_scope(project):
    fields = "{1: [CH3, float64], 2: [CH4, int8], 3: [time_s, float64]}"
    extra = ', profile: siglent, commands: [":TIMebase:SCALe 1E-07", ":TRIGger:EDGE:LEVel 0.5"]'
    with ScpiSimulator("siglent", rate=2000) as sim:
        setup = _setup(project, sim, extra, fields=fields, main="runevents: 5")
        code, out = run(["run", str(setup)], project)
        wait_until(lambda: not sim.connected, 10, "the source to close its connection")
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    for row in range(5):
        np.testing.assert_allclose(frame.CH3[row], _volts("siglent", row + 1, 3), atol=1e-12)
        assert (frame.CH4[row] == scope_waveform(row + 1, 4, POINTS, "i1")).all()
    # the first sample at -delay - 5 divisions = 200 ns - 500 ns; 1 ns (as float32) per sample
    np.testing.assert_allclose(frame.time_s[0], -3e-7 + np.arange(POINTS) * np.float32(1e-9), rtol=1e-12)
    assert sim.commands[:7] == [
        "*IDN?",
        ":WAVeform:WIDTh BYTE",
        ":WAVeform:STARt 0",
        ":WAVeform:SOURce C3",
        f":WAVeform:POINt {POINTS}",
        ":WAVeform:SOURce C4",
        f":WAVeform:POINt {POINTS}",
    ]
    assert sim.commands[7:9] == [":TIMebase:SCALe 1E-07", ":TRIGger:EDGE:LEVel 0.5"]
    assert sim.commands.count(":TRIGger:MODE SINGle") >= 5 and sim.commands[-1] == ":TRIGger:STOP"
    assert sim.commands.count(":WAVeform:PREamble?") >= 5  # once per acquisition, for CH3 only


def test_auto_recognises_each_makers_idn():
    assert profile_of("Siglent Technologies,SDS2104X Plus,SDS2X,1.5").name == "siglent"
    assert profile_of("SIGLENT,SDS1104X HD,SDS1H,1.1").name == "siglent"
    with pytest.raises(ValueError, match=r"Siglent SDS1104X-E speaks the older C1:WF\? dialect"):
        profile_of("Siglent Technologies,SDS1104X-E,SDSMM,8.2")
    assert profile_of("AGILENT TECHNOLOGIES,DSO-X 2024A,MY5,02.50").name == "keysight"
    with pytest.raises(ValueError, match="no profile for an oscilloscope made by 'LECROY'"):
        profile_of("LECROY,WAVESURFER,LCRY,9.1")


def test_a_siglent_preamble_that_is_no_descriptor_is_refused():
    with pytest.raises(ValueError, match="346-byte WAVEDESC"):
        PROFILES["siglent"].scale(b"0,0,500,1")


@pytest.mark.timeout(60)
def test_settings_reach_the_scope_and_the_end_leaves_it_stopped(project, rigol):
    extra = ', profile: rigol, commands: [":TIM:MAIN:SCAL 1e-6", ":TRIG:EDGE:LEV 0.25"]'
    code, out = run(["run", str(_setup(project, rigol, extra, main="runevents: 4"))], project)
    assert code == 0, out
    wait_until(lambda: not rigol.connected, 10, "the source to close its connection")
    commands = rigol.commands
    assert commands[:7] == [
        "*IDN?",
        ":WAV:MODE NORM",
        ":WAV:FORM BYTE",
        ":WAV:SOUR CHAN1",
        f":WAV:POIN {POINTS}",
        ":WAV:SOUR CHAN2",
        f":WAV:POIN {POINTS}",
    ]
    assert commands[7:9] == [":TIM:MAIN:SCAL 1e-6", ":TRIG:EDGE:LEV 0.25"]
    assert commands.count(":SING") >= 4 and commands.count(":WAV:DATA?") >= 8  # the end may cut a fifth
    assert commands[-1] == ":STOP"


def _arms(sim: ScpiSimulator) -> int:
    return sim.commands.count(sim.scope.profile.arm)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_pause_stops_the_scope_and_resume_arms_it(project, rigol):
    proc = start(
        mimocorb_command("run", str(_setup(project, rigol, kbd=True))), project, stdin=subprocess.PIPE
    )
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: _arms(rigol) >= 5, 30, "the first acquisitions")
    proc.stdin.write("P\n")
    proc.stdin.flush()
    wait_until(lambda: rigol.commands[-1] == ":STOP", 20, "the scope to be stopped")
    held = _arms(rigol)
    wait_until(lambda: sum(row["state"] == "paused" for row in stats_rows(run_dir)) >= 2, 20, "a pause")
    assert _arms(rigol) == held and rigol.commands[-1] == ":STOP"
    proc.stdin.write("R\n")
    proc.stdin.flush()
    wait_until(lambda: _arms(rigol) >= held + 5, 20, "acquisitions after the resume")
    proc.stdin.write("E\n")
    proc.stdin.close()
    out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    assert len(recorded(run_dir)) >= held + 3


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_scope_lost_mid_run_ends_the_run_in_order(project, rigol):
    setup = _setup(project, rigol, ", timeout: 1, reconnect_time: 1")
    proc = start(mimocorb_command("run", str(setup)), project)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: rigol.scope.acquisitions >= 20, 30, "acquisitions before the scope goes away")
    rigol.stop()
    out = finish(proc, timeout=40)
    assert proc.returncode != 0, out
    assert f"lost the oscilloscope at {rigol.resource}" in out and "could not reconnect within 1 s" in out
    frame = recorded(run_dir)
    assert len(frame) >= rigol.scope.acquisitions - 1  # at most the acquisition cut off on the wire
    for row in range(len(frame)):
        np.testing.assert_allclose(frame.CH1[row], _volts("rigol", row + 1, 1), atol=1e-12)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_scope_that_comes_back_is_reconnected_and_configured_again(project, rigol):
    setup = _setup(project, rigol, ", timeout: 1, reconnect_time: 20", kbd=True)
    proc = start(mimocorb_command("run", str(setup)), project, stdin=subprocess.PIPE)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: rigol.scope.acquisitions >= 10, 30, "acquisitions before the scope goes away")
    rigol.stop()
    with ScpiSimulator("rigol", port=rigol.port, rate=2000) as again:
        wait_until(lambda: again.scope.acquisitions >= 10, 30, "acquisitions of the scope that came back")
        proc.stdin.write("E\n")
        proc.stdin.close()
        out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    assert "reconnected to the oscilloscope" in read_log(run_dir)
    assert again.commands[:3] == ["*IDN?", ":WAV:MODE NORM", ":WAV:FORM BYTE"]


@pytest.mark.timeout(60)
def test_an_absent_scope_is_named_with_what_to_check(project):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once it is closed
    resource = f"TCPIP::127.0.0.1::{port}::SOCKET"
    setup = device_setup(project, "scpi_scope", f'resource: "{resource}", connect_timeout: 2', SCOPE_FIELDS)
    code, out = run(["run", str(setup)], project)
    assert code != 0
    assert f"cannot open the oscilloscope at {resource}" in out
    assert "remote control over LAN is enabled" in out


def test_blocks_are_read_by_their_announced_length():
    assert parse_block(b"#15hello\n") == b"hello"
    assert parse_block(b"#210" + bytes(range(10))) == bytes(range(10))
    with pytest.raises(ValueError, match="announces 9 bytes but holds 5"):
        parse_block(b"#19hello")
    with pytest.raises(ValueError, match="not a definite-length block"):
        parse_block(b"#0hello\n")


BAD_CONFIGS = [
    ("profile: lecroy", "'profile' must be one of auto, rigol, keysight, tektronix, siglent, got 'lecroy'"),
    ("resource: scope.local", "'resource' must be a VISA resource name: TCPIP::HOST::PORT::SOCKET"),
    ("timeout: 0", "'timeout' must be a number > 0, got 0"),
    ('commands: ":RUN"', "'commands' must be a list of SCPI commands"),
    ("resurce: x", "unknown config key 'resurce'; did you mean 'resource'?"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_config_is_a_validate_error_on_the_setup_line(project, config, message):
    setup = device_setup(project, "scpi_scope", f'resource: "TCPIP::10.0.0.9::INSTR", {config}', SCOPE_FIELDS)
    assert_config_error(setup, "scpi_scope", message)


def test_a_buffer_without_channels_is_refused(project):
    setup = device_setup(project, "scpi_scope", 'resource: "TCPIP::h::INSTR"', "{1: [time_s, float64]}")
    code, out = run(["validate", str(setup)], project)
    assert code == 1
    assert "needs at least one channel field, CH1 to CH4" in out
