"""The MCPHA protocol, the client and the simulated board on their own, over loopback."""

from __future__ import annotations

import signal
import socket
import time

import numpy as np
import pytest
from support import finish, mimocorb_command, start, wait_until

from mimocorb.devices import Code, DeviceError, MCPHAClient, MCPHASimulator, ScopeSettings, pattern_samples
from mimocorb.devices._mcpha import HISTOGRAM_BINS, as_bytes, decode, encode, parse_address


def test_a_command_is_one_little_endian_word():
    assert encode(Code.TRIGGER_SOURCE, 1, 0) == (13 << 56 | 1 << 52).to_bytes(8, "little")
    assert decode(encode(Code.SPECTRUM_BIN, 0, 4095 << 32 | 17)) == (28, 0, 4095 << 32 | 17)
    code, channel, value = decode(encode(Code.TRIGGER_LEVEL, 0, -100))
    assert (code, channel) == (16, 0) and value & 0xFFFF == (-100) & 0xFFFF


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rp-f0a1b2.local", ("rp-f0a1b2.local", 1001)),
        ("192.168.1.100:2001", ("192.168.1.100", 2001)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", 1001)),
    ],
)
def test_addresses(text, expected):
    assert parse_address(text) == expected


def _capture(client: MCPHAClient, samples: int) -> np.ndarray:
    client.arm()
    assert client.wait_captured(lambda: True)
    out = np.empty((samples, 2), "<i2")
    client.read_scope(as_bytes(out))
    return out


@pytest.mark.timeout(30)
def test_the_client_reads_known_captures_and_the_board_records_commands():
    with MCPHASimulator(port=0, pattern=True, rate=5000, record=True) as sim:
        client = MCPHAClient("127.0.0.1", sim.port)
        client.configure(ScopeSettings(samples=300, pretrigger=30, decimation=1))
        for capture in (1, 2, 3):
            assert np.array_equal(_capture(client, 300), pattern_samples(capture, 300))
        client.close()
        wait_until(lambda: not sim.connected, 10, "the simulator to see the client go")
    assert sim.received(Code.TOTAL_SAMPLES) == [(0, 300)]
    assert len(sim.received(Code.START_SCOPE)) == 3 and len(sim.sent) == 3


@pytest.mark.timeout(30)
def test_pulses_trigger_at_the_pretrigger_sample_and_fill_the_histograms():
    with MCPHASimulator(port=0, rate=20000, noise=0, seed=1) as sim:
        client = MCPHAClient("127.0.0.1", sim.port)
        client.configure(ScopeSettings(samples=1000, pretrigger=100, level=400, decimation=1))
        client.send((Code.RESET_HISTOGRAM, 0, 0), (Code.RESET_TIMER, 0, 0), (Code.TIMER_MODE, 0, 1))
        for _ in range(20):
            trace = _capture(client, 1000)[:, 0]
            assert trace[99] < 400 <= trace[100]  # the rising edge crosses the level on the trigger sample
        wait_until(lambda: client.read_histogram(0).sum() > 1000, 10, "pulses in the histogram")
        status = client.status()
        client.close()
    assert status.timer(0) > 0 and not status.capturing


@pytest.mark.timeout(30)
def test_the_generator_plays_the_spectrum_it_was_given():
    with MCPHASimulator(port=0, rate=100000, seed=2) as sim:
        client = MCPHAClient("127.0.0.1", sim.port)
        client.send(
            (Code.RESET_SPECTRUM, 0, 0), (Code.SPECTRUM_BIN, 0, 2000 << 32 | 5), (Code.START_GENERATOR, 0, 1)
        )
        client.send((Code.RESET_HISTOGRAM, 1, 0), (Code.TIMER_MODE, 1, 1))
        wait_until(lambda: client.read_histogram(1).sum() > 1000, 10, "pulses in the histogram")
        counts = client.read_histogram(1)
        client.close()
    assert counts.argmax() == 1000 and counts.sum() == counts[1000]  # 2000 ADC counts, two per bin
    assert len(counts) == HISTOGRAM_BINS


@pytest.mark.timeout(30)
def test_an_absent_board_is_reported_within_the_connect_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        DeviceError, match=rf"cannot connect to the MCPHA server at 127.0.0.1:{port}: .*refused"
    ):
        MCPHAClient("127.0.0.1", port, connect_timeout=2)


@pytest.mark.timeout(30)
def test_a_silent_board_is_reported_within_the_timeout():
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts, never answers
        client = MCPHAClient("127.0.0.1", mute.getsockname()[1], timeout=0.5)
        with pytest.raises(DeviceError, match=r"sent no reply for 0\.5 s"):
            client.status()
        client.close()


@pytest.mark.timeout(30)
def test_mimocorb_simulate_serves_until_sigterm(project):
    proc = start(mimocorb_command("simulate", "redpitaya", "--port", "0", "--pattern"), project)
    line = proc.stdout.readline()
    assert line.startswith("MCPHA simulator listening on 127.0.0.1:"), line
    port = int(line.split()[4].rsplit(":", 1)[1])
    client = MCPHAClient("127.0.0.1", port)
    client.configure(ScopeSettings(samples=64, pretrigger=8))
    assert np.array_equal(_capture(client, 64), pattern_samples(1, 64))
    client.close()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    finish(proc, timeout=10)
    assert proc.returncode == 0 and time.monotonic() - started < 10
