"""The Red Pitaya source in whole runs against the simulated board over loopback: data byte for byte,
settings on the wire, pause and resume, a board that is lost or absent, and config errors."""

from __future__ import annotations

import socket
import subprocess

import numpy as np
import pytest
from devkit import as_wire, assert_config_error, recorded, rp_setup, run
from support import (
    finish,
    mimocorb_command,
    only_run_dir,
    read_log,
    start,
    stats_rows,
    summary,
    wait_for_run_dir,
    wait_until,
)

from mimocorb.devices import Code, MCPHASimulator, pattern_samples
from mimocorb.devices._mcpha import VALUE_MASK


def _address(sim: MCPHASimulator) -> str:
    return f'address: "127.0.0.1:{sim.port}"'


def _assert_recorded_as_sent(run_dir, sim: MCPHASimulator) -> int:
    """Every recorded event is a capture the board sent, in order, byte for byte; returns the count."""
    frame = recorded(run_dir)
    assert list(frame.counter) == list(range(1, len(frame) + 1))
    for row in range(len(frame)):
        assert as_wire(frame, row) == sim.sent[row], f"event {row + 1} differs from what the board sent"
    return len(frame)


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_waveforms_arrive_byte_for_byte(project, pattern_sim, method):
    setup = rp_setup(project, _address(pattern_sim), main="runevents: 40")
    code, out = run(["run", str(setup), "--start-method", method], project, timeout=80)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    assert summary(run_dir)["start_method"] == method
    assert _assert_recorded_as_sent(run_dir, pattern_sim) == 40 == len(pattern_sim.sent)
    assert pattern_sim.sent[0] == pattern_samples(1, 256).tobytes()
    frame = recorded(run_dir)
    assert np.all(np.diff(frame.timestamp) >= 0)
    assert frame.deadtime.between(0, 1).all()


@pytest.mark.timeout(60)
def test_settings_reach_the_board_and_the_end_leaves_it_disarmed(project, pattern_sim):
    config = (
        f"{_address(pattern_sim)}, sample_rate: 8, trigger_source: IN2, trigger_slope: falling, "
        "trigger_mode: auto, trigger_level: -100, pretrigger_samples: 50, invert: [IN2]"
    )
    code, out = run(["run", str(rp_setup(project, config, main="runevents: 3"))], project)
    assert code == 0, out
    received = pattern_sim.received
    assert received(Code.SAMPLE_RATE) == [(0, 8)]
    assert received(Code.TRIGGER_SOURCE) == [(1, 0)]
    assert received(Code.TRIGGER_SLOPE) == [(0, 1)]
    assert received(Code.TRIGGER_MODE) == [(0, 1)]
    assert received(Code.TRIGGER_LEVEL) == [(0, -100 & VALUE_MASK)]
    assert received(Code.PRETRIGGER) == [(0, 50)]
    assert received(Code.TOTAL_SAMPLES) == [(0, 256)]
    assert received(Code.NEGATOR) == [(0, 0), (1, 1)]
    wait_until(lambda: not pattern_sim.connected, 10, "the source to close its connection")
    assert not pattern_sim.armed
    assert pattern_sim.commands[-1] == (Code.RESET_SCOPE, 0, 0)


def _paused_twice(run_dir):
    return len([row for row in stats_rows(run_dir) if row["state"] == "paused"]) >= 2


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_pause_disarms_and_resume_rearms(project, pattern_sim):
    setup = rp_setup(project, _address(pattern_sim), kbd=True)
    proc = start(mimocorb_command("run", str(setup)), project, stdin=subprocess.PIPE)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: len(pattern_sim.sent) >= 5, 30, "the first captures")
    proc.stdin.write("P\n")
    proc.stdin.flush()
    wait_until(lambda: not pattern_sim.armed, 20, "the scope to be disarmed")
    held = len(pattern_sim.sent)
    wait_until(lambda: _paused_twice(run_dir), 20, "two stats rows while paused")
    assert not pattern_sim.armed and len(pattern_sim.sent) == held
    proc.stdin.write("R\n")
    proc.stdin.flush()
    wait_until(lambda: len(pattern_sim.sent) >= held + 5, 20, "captures after the resume")
    proc.stdin.write("E\n")
    proc.stdin.close()
    out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    assert _assert_recorded_as_sent(run_dir, pattern_sim) == len(pattern_sim.sent)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_board_lost_mid_run_ends_the_run_in_order(project, pattern_sim):
    config = f"{_address(pattern_sim)}, timeout: 1, reconnect_time: 1"
    proc = start(mimocorb_command("run", str(rp_setup(project, config))), project)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: len(pattern_sim.sent) >= 20, 30, "captures before the board goes away")
    pattern_sim.stop()
    out = finish(proc, timeout=40)
    assert proc.returncode != 0, out
    assert f"lost the MCPHA server at 127.0.0.1:{pattern_sim.port}" in out
    assert "could not reconnect within 1 s" in out
    count = _assert_recorded_as_sent(run_dir, pattern_sim)
    assert count >= len(pattern_sim.sent) - 1  # at most the capture cut off on the wire is missing
    rb1 = summary(run_dir)["buffers"]["RB_1"]
    assert rb1["events"] == count and rb1["lost"] == 0
    assert all(consumer["consumed"] == count for consumer in rb1["consumers"])


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_board_that_comes_back_is_reconnected(project, pattern_sim):
    config = f"{_address(pattern_sim)}, timeout: 1, reconnect_time: 20"
    proc = start(
        mimocorb_command("run", str(rp_setup(project, config, kbd=True))), project, stdin=subprocess.PIPE
    )
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: len(pattern_sim.sent) >= 10, 30, "captures before the board goes away")
    pattern_sim.stop()
    with MCPHASimulator(port=pattern_sim.port, pattern=True, rate=2000, record=True) as again:
        wait_until(lambda: len(again.sent) >= 10, 30, "captures from the board that came back")
        proc.stdin.write("E\n")
        proc.stdin.close()
        out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    assert "reconnected to the MCPHA server" in read_log(run_dir)
    assert again.received(Code.TOTAL_SAMPLES) == [(0, 256)]  # the settings were sent again
    frame = recorded(run_dir)
    first = len(frame) - len(again.sent)
    assert first >= len(pattern_sim.sent) - 1
    assert [as_wire(frame, row) for row in range(first, len(frame))] == again.sent


@pytest.mark.timeout(60)
def test_a_board_absent_at_the_start_is_named(project):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once it is closed
    code, out = run(
        ["run", str(rp_setup(project, f'address: "127.0.0.1:{port}", connect_timeout: 2'))], project
    )
    assert code != 0
    assert f"cannot connect to the MCPHA server at 127.0.0.1:{port}" in out
    assert "Check that the Red Pitaya is switched on" in out


@pytest.mark.timeout(60)
def test_float_fields_get_millivolts(project, pattern_sim):
    setup = rp_setup(project, _address(pattern_sim), fields="{1: [IN1, float32]}", main="runevents: 5")
    code, out = run(["run", str(setup)], project)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    for row in range(5):
        expected = pattern_samples(row + 1, 256)[:, 0] * (1000 / 8192)
        np.testing.assert_allclose(frame.IN1[row], expected, rtol=1e-6)


@pytest.mark.timeout(60)
def test_histograms_and_live_time_reach_the_run_directory(project):
    """The generator's one line at 3000 ADC counts lands in bin 1500 (two counts a bin), however few
    pulses a busy machine lets the histogram collect."""
    line = np.zeros(4096)
    line[3000] = 1.0
    with MCPHASimulator(port=0, rate=5000, spectrum=line) as sim:
        config = f"{_address(sim)}, histograms: true, histogram_interval: 0.2, trigger_level: 100"
        code, out = run(["run", str(rp_setup(project, config, samples=512, main="runevents: 300"))], project)
    assert code == 0, out
    text = (only_run_dir(project / "target") / "redpitaya_histograms.csv").read_text()
    header, columns, *rows = text.splitlines()
    assert header.startswith("# live_time_IN1_s=") and columns == "bin,IN1,IN2"
    live = float(header.split()[1].split("=")[1])
    assert live > 0
    counts = np.array([[int(v) for v in row.split(",")] for row in rows])
    assert len(counts) == 4096 and counts[:, 1].sum() > 0
    assert set(np.flatnonzero(counts[:, 1])) == {1500}


BAD_CONFIGS = [
    ("sample_rate: 5", "'sample_rate' (the decimation of the 125 MHz clock) must be one of 1, 4, 8, 16"),
    ("trigger_level: 9000", "'trigger_level' must be within the ADC range -8192 to 8191 counts, got 9000"),
    ("pretrigger_samples: 256", "'pretrigger_samples' must be 1 to 255 (less than the buffer's"),
    ("trigger_slope: up", "'trigger_slope' must be one of rising, falling, got 'up'"),
    ("trigger_levle: 10", "unknown config key 'trigger_levle'; did you mean 'trigger_level'?"),
    ("address: 'rp:99999'", "expected a port number 1-65535"),
    ("address: null", "config key 'address' is required: the Red Pitaya's host or host:port"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_config_is_a_validate_error_on_the_setup_line(project, config, message):
    setup = rp_setup(project, f"address: rp-f0a1b2.local, {config}")  # the last 'address' wins
    assert_config_error(setup, "redpitaya", message)


@pytest.mark.timeout(60)
def test_a_buffer_without_in1_is_refused_by_mimocorb_validate(project):
    setup = rp_setup(project, "address: rp-f0a1b2.local", fields="{1: [chA, int16]}")
    code, out = run(["validate", str(setup)], project)
    assert code == 1
    assert "the 'write' buffer needs a field IN1 (and may have IN2), found ['chA']" in out
