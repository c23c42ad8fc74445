"""The PicoScope source in whole runs against a stand-in for Pico's ps4000a driver, built from C and loaded
by Pico's own Python wrapper: data value for value, settings reaching the driver, pause and resume, a unit
that is lost or absent, a missing driver, config errors, and the muon-lifetime example."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from devkit import recorded
from picokit import MAX_ADC, pico_setup, pulse_height_counts
from support import (
    HEADLESS,
    finish,
    mimocorb_command,
    only_run_dir,
    read_log,
    run,
    run_python,
    start,
    stats_rows,
    summary,
    wait_for_run_dir,
    wait_until,
)

from mimocorb.config import ConfigError, validate_setup


def _run(stub, project, setup, timeout=60.0, **settings):
    result = run(mimocorb_command("run", str(setup)), project, timeout, env=stub.env(**settings))
    return result.returncode, result.stdout


@pytest.mark.timeout(60)
def test_captures_arrive_value_for_value(project, stub):
    setup = pico_setup(project, "captures: 8, pretrigger_samples: 20", main="runevents: 40")
    code, out = _run(stub, project, setup)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    handed = stub.handed_out(2, 256)
    assert len(frame) >= 40 and len(handed) >= len(frame)
    assert list(frame.counter) == list(range(1, len(frame) + 1))
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0])
        np.testing.assert_array_equal(frame.chB[row], handed[row, 1])
        assert frame.chA[row][20] == pulse_height_counts(row + 1, 0)
        assert frame.chB[row][20] == pulse_height_counts(row + 1, 1)
    assert np.all(np.diff(frame.timestamp) >= 0)
    assert frame.deadtime.between(0, 1).all()


@pytest.mark.timeout(60)
def test_float_fields_get_millivolts_of_each_channels_range(project, stub):
    fields = "{1: [chA, float64], 2: [chB, float32], 3: [chD, float64]}"
    config = "captures: 4, range: 1V, channels: {B: {range: 200mV, analogue_offset: -0.1}}"
    setup = pico_setup(project, config, fields=fields, main="runevents: 12")
    code, out = _run(stub, project, setup)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    handed = stub.handed_out(3, 256)
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0] * (1000 / MAX_ADC))
        np.testing.assert_array_equal(frame.chB[row], (handed[row, 1] * (200 / MAX_ADC)).astype(np.float32))
        np.testing.assert_array_equal(frame.chD[row], handed[row, 2] * (1000 / MAX_ADC))
    assert frame.chB[0][0] == pytest.approx(-100, abs=0.01)  # the analogue offset moves the baseline


@pytest.mark.timeout(60)
def test_settings_reach_the_driver_and_the_end_closes_the_unit(project, stub):
    config = (
        "timebase: 3, captures: 4, range: 2V, coupling: AC, analogue_offset: 0.25, trigger_channel: B, "
        "trigger_level: -100, trigger_direction: falling, trigger_delay: 10, auto_trigger_ms: 50, "
        "pretrigger_samples: 50"
    )
    code, out = _run(stub, project, pico_setup(project, config, main="runevents: 8"))
    assert code == 0, out
    assert stub.calls("SetChannel") == [
        "SetChannel channel=2 enabled=0 coupling=1 range=0 offset=0.000",
        "SetChannel channel=3 enabled=0 coupling=1 range=0 offset=0.000",
        "SetChannel channel=0 enabled=1 coupling=0 range=7 offset=0.250",
        "SetChannel channel=1 enabled=1 coupling=0 range=7 offset=0.250",
    ]
    threshold = round(-100 / 2000 * MAX_ADC)
    assert stub.calls("SetSimpleTrigger") == [
        f"SetSimpleTrigger enable=1 source=1 threshold={threshold} direction=3 delay=10 auto_ms=50"
    ]
    assert stub.calls("MemorySegments") == ["MemorySegments segments=4"]
    assert stub.calls("SetNoOfCaptures") == ["SetNoOfCaptures captures=4"]
    assert stub.calls("GetTimebase2") == ["GetTimebase2 timebase=3 samples=256 segment=0"]
    assert len(stub.calls("SetDataBuffer")) == 4 * 2
    assert stub.calls("RunBlock")[0] == "RunBlock pre=50 post=206 timebase=3 segment=0"
    assert stub.calls()[-2:] == ["Stop", "CloseUnit"]
    assert "PicoScope 4000 Series opened: 50 ns per sample" in out


def _paused_rows(run_dir):
    return len([row for row in stats_rows(run_dir) if row["state"] == "paused"])


def _command(proc, letter):
    proc.stdin.write(f"{letter}\n")
    proc.stdin.flush()


@pytest.mark.timeout(90)
def test_pause_stops_the_unit_and_resume_arms_it_again(project, stub):
    setup = pico_setup(project, "captures: 4", kbd=True)
    proc = start(
        mimocorb_command("run", str(setup)), project, env=stub.env(rate="500"), stdin=subprocess.PIPE
    )
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: len(stub.handed_out(2, 256)) >= 12, 30, "the first captures")
    _command(proc, "P")
    wait_until(lambda: _paused_rows(run_dir) >= 2, 20, "two stats rows while paused")
    blocks, held = len(stub.calls("RunBlock")), len(stub.handed_out(2, 256))
    wait_until(lambda: _paused_rows(run_dir) >= 4, 20, "two more stats rows while paused")
    assert len(stub.calls("RunBlock")) == blocks and len(stub.handed_out(2, 256)) == held
    assert not stub.calls()[-1].startswith("RunBlock")  # no block is left armed: stopped or collected
    _command(proc, "R")
    wait_until(lambda: len(stub.handed_out(2, 256)) >= held + 12, 20, "captures after the resume")
    _command(proc, "E")
    proc.stdin.close()
    out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    frame, handed = recorded(run_dir), stub.handed_out(2, 256)
    assert len(handed) - 4 <= len(frame) <= len(handed)  # at most a block taken as the run ended is left
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0])
    assert stub.calls()[-2:] == ["Stop", "CloseUnit"]


@pytest.mark.timeout(90)
def test_a_unit_lost_mid_run_ends_the_run_with_every_event_acquired(project, stub):
    setup = pico_setup(project, "captures: 8, reconnect_time: 1")
    code, out = _run(stub, project, setup, timeout=80, lose_after="50")
    assert code != 0, out
    assert "ps4000aIsReady returned PICO_NOT_FOUND" in out
    assert "lost the PicoScope 4000 Series and could not reconnect within 1 s" in out
    run_dir = only_run_dir(project / "target")
    frame, handed = recorded(run_dir), stub.handed_out(2, 256)
    assert len(frame) == len(handed) == 48  # six whole blocks; the seventh never came back
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chB[row], handed[row, 1])
    rb1 = summary(run_dir)["buffers"]["RB_1"]
    assert rb1["events"] == 48 and rb1["lost"] == 0
    assert all(consumer["consumed"] == 48 for consumer in rb1["consumers"])
    assert len(stub.calls("OpenUnit")) >= 2  # it tried again


@pytest.mark.timeout(90)
def test_a_unit_that_comes_back_is_opened_and_set_up_again(project, stub):
    setup = pico_setup(project, "captures: 8, reconnect_time: 20", main="runevents: 80")
    code, out = _run(stub, project, setup, timeout=80, lose_after="30", return_after="3")
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    assert "reconnected to the PicoScope 4000 Series" in read_log(run_dir)
    assert len(stub.calls("SetSimpleTrigger")) == 2  # the settings were sent again
    frame, handed = recorded(run_dir), stub.handed_out(2, 256)
    assert len(frame) >= 80
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0])
    assert frame.chA[23][12] == pulse_height_counts(24, 0)  # three whole blocks before the loss
    assert frame.chA[24][12] == pulse_height_counts(31, 0)  # captures 25 to 30 went with the unit


@pytest.mark.timeout(60)
def test_no_unit_is_named_with_what_to_check(project, stub):
    code, out = _run(stub, project, pico_setup(project, ""), units="0")
    assert code != 0
    assert "no PicoScope 4000 Series unit could be opened (PICO_NOT_FOUND); check the USB cable" in out
    assert "no other program (PicoScope 7, another run) holds the unit" in out


@pytest.mark.timeout(60)
def test_a_missing_driver_is_one_line_naming_picosdk_and_the_extra(project, stub):
    setup = pico_setup(project, "")
    env = stub.env()
    env["LD_LIBRARY_PATH"] = str(project)  # no libps4000a here
    result = run(mimocorb_command("validate", str(setup)), project, env=env)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if "libps4000a" in line]
    assert len(lines) == 1, result.stdout
    assert "the PicoSDK driver libps4000a is not installed; install Pico Technology's PicoSDK" in lines[0]
    assert "pip install 'mimocorb[devices]'" in lines[0]


FIND = "from mimocorb.devices import find_picoscopes; print(find_picoscopes())"


@pytest.mark.timeout(60)
def test_find_picoscopes_lists_the_units_or_says_why_not(project, stub):
    found = run_python(FIND, project, env=stub.env())
    assert "units=[PicoScopeUnit(family='ps4000a', serial='STUB0001')], reasons=[]" in found.stdout, (
        found.stderr
    )
    missing = run_python(FIND, project, env={**stub.env(), "LD_LIBRARY_PATH": str(project)})
    assert (
        'units=[], reasons=["picoscope: no PicoSDK driver can be loaded (libps4000a, libps2000a'
        in missing.stdout
    )


BAD_CONFIGS = [
    ("range: 3V", "'range' must be one of 10mV, 20mV, 50mV, 100mV, 200mV, 500mV, 1V, 2V, 5V, 10V, 20V"),
    ("channels: {B: {range: 7V}}", "'channels.B.range' must be one of 10mV, 20mV"),
    ("trigger_level: 600", "'trigger_level' must be a number -500 to 500 mV (the range of A), got 600"),
    ("pretrigger_samples: 256", "'pretrigger_samples' must be an integer 0 to 255 (less than the buffer's"),
    ("trigger_channel: C", "'trigger_channel' must be one of A, B, got 'C'"),
    ("channels: {X: {range: 1V}}", "unknown channel 'X'; expected one of A, B, C, D, E, F, G, H"),
    ("channels: {C: {range: 1V}}", "'channels' sets ['C'], but the buffer has no field chC"),
    (
        "trigger_direction: up",
        "'trigger_direction' must be one of above, below, rising, falling, rising_or_falling",
    ),
    ("coupling: GND", "'coupling' must be one of AC, DC, got 'GND'"),
    ("family: ps9000", "'family' must be one of ps4000a, ps2000a, ps3000a, ps5000a, got 'ps9000'"),
    ("trigger_levle: 10", "unknown config key 'trigger_levle'; did you mean 'trigger_level'?"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_config_is_a_validate_error_on_the_setup_line(project, config, message):
    setup = pico_setup(project, config)
    with pytest.raises(ConfigError) as info:
        validate_setup(setup)
    line = next(
        i for i, text in enumerate(setup.read_text().splitlines(), 1) if "fkt_name: picoscope" in text
    )
    report = str(info.value)
    assert f"pico_setup.yaml:{line}: Functions[1].Fkt_1.fkt_name: config of 'picoscope'" in report
    assert message in report


def test_a_buffer_field_that_is_no_channel_is_refused(project):
    with pytest.raises(ConfigError, match=r"fields must be channels of the PicoScope 4000 Series: chA, chB"):
        validate_setup(pico_setup(project, "", fields="{1: [IN1, int16]}"))


LIFETIME = Path(__file__).resolve().parents[2] / "examples" / "devices" / "picoscope_lifetime.yaml"


@pytest.mark.timeout(120)
def test_the_lifetime_example_reads_a_picoscope_and_finds_the_double_pulses(project, stub):
    """The stand-in's every fourth capture carries a decay pulse on B; the example's filter keeps those."""
    env = stub.env({**HEADLESS, "MPLBACKEND": "Agg"})
    command = mimocorb_command("run", str(LIFETIME), "--events", "200", "--no-gui", "--output", str(project))
    result = run(command, project, 110, env=env)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project)
    buffers = summary(run_dir)["buffers"]
    accepted = buffers["RB_2"]["events"]
    assert buffers["RB_1"]["events"] >= 200
    assert accepted == buffers["RB_1"]["events"] // 4 == buffers["RB_3"]["events"]
    lines = (run_dir / "muon_lifetime.txt").read_text().splitlines()
    assert len([line for line in lines if line and not line.startswith("#")]) >= accepted
