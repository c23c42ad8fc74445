"""The detector simulation: its signal model and statistics, and the 1.0.2 module ``pulseSimulator``."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from examplekit import example_config, generator

from mimocorb.physics.simulation import MUON_LIFETIME_NS, SimulationConfigError, SimulationParameters
from mimocorb.pulseSimulator import pulseSimulator

# under -n the tests stay in one process: they share one batch of waveforms
pytestmark = pytest.mark.xdist_group("example-simulator")


@pytest.fixture(scope="module")
def batch():
    return generator(11).generate(6000)


def test_baseline_noise_and_layout(batch) -> None:
    waves, _ = batch
    assert waves.dtype == np.float32 and waves.shape == (6000, 4, 4250)
    quiet = waves[:, :, :480]  # before the trigger: noise only
    assert abs(quiet.mean() + 480) < 0.01  # baseline = analogue_offset, in mV
    assert abs(quiet.std() - 250 / 30 / np.sqrt(12)) < 0.01  # uniform, full width height/30: 2.41 mV RMS
    assert quiet.min() >= -480 - 250 / 60 - 1e-3 and quiet.max() <= -480 + 250 / 60 + 1e-3


def test_muon_pulses_and_efficiencies(batch) -> None:
    waves, truth = batch
    height = waves[:, :, 500] - (-480)  # pulses start at the trigger sample with their full height
    present = height > 20
    through = ~truth["stopped"]
    assert abs(truth["stopped"].mean() - 0.10) < 0.015
    assert abs(present[through].mean() - 0.95) < 0.01  # every layer, 95 % efficiency
    late = truth["stopped"] & (truth["decay_time"] >= 4)  # a decay within 4 ns starts at the trigger sample
    assert not present[late][:, 2:].any()  # a stopped muon never reaches C and D
    assert abs(np.median(height[present]) - 250) < 5 and abs(height[present][:, None].std() - 75) < 4
    # layer A's first pulse was redrawn up to the trigger threshold of 40 mV above the baseline
    assert height[present[:, 0], 0].min() >= 40 - 5
    # exponential decay with τ_p = 25 samples, cut after 100 samples
    pulse = (waves[present[:, 1], 1, 500:620] + 480).mean(axis=0) / height[present[:, 1], 1].mean()
    assert pulse[25] == pytest.approx(np.exp(-1), abs=0.02) and abs(pulse[100:]).max() < 0.02


def test_decay_times_and_directions(batch) -> None:
    _, truth = batch
    stopped = truth[truth["stopped"]]
    t = stopped["decay_time"]
    assert abs(t.mean() - MUON_LIFETIME_NS) < 4 * MUON_LIFETIME_NS / np.sqrt(len(t))
    assert abs(stopped["up"].mean() - 0.5) < 0.08
    assert (stopped["second_in_window"] == (np.floor(t / 4) + 500 < 4150)).all()


def test_second_pulses_land_in_the_right_layers() -> None:
    waves, truth = generator(12, prb2ndPulse=1.0, prbInteraction=1.0, pulseSpread=10.0).generate(400)
    for wave, event in zip(waves, truth, strict=True):
        if not event["second_in_window"] or event["decay_time"] < 500:
            continue
        start = int(event["decay_time"] // 4) + 500
        fired = wave[:, start] - wave[:, start - 1] > 20
        assert list(fired) == ([True, True, False, False] if event["up"] else [False, False, True, True])


def test_pulse_height_list_without_spread_works() -> None:
    """A list of heights and the default spread (0.3 × the chosen height) per draw."""
    waves, _ = generator(13, pulseHeight=[100.0, 400.0], prbInteraction=1.0, prb2ndPulse=0.0).generate(3000)
    heights = waves[:, 3, 500] + 480
    # equal mixture of N(100, 30) and N(400, 120): mean 250, variance (30² + 120²)/2 + 150² = 174²
    assert abs(heights.mean() - 250) < 13 and abs(heights.std() - 174) < 12
    assert abs((heights < 160).mean() - 0.5) < 0.04


def test_config_errors_name_the_key() -> None:
    config = dict(example_config()["simulation_source"])
    del config["sample_time_ns"]
    with pytest.raises(SimulationConfigError, match="'sample_time_ns' is missing"):
        SimulationParameters.from_config(config)
    with pytest.raises(SimulationConfigError, match="'prb2ndPulse' expected a probability"):
        SimulationParameters.from_config({**example_config()["simulation_source"], "prb2ndPulse": 1.5})
    with pytest.raises(SimulationConfigError, match="'pulseHeight' expected a number"):
        SimulationParameters.from_config({**example_config()["simulation_source"], "pulseHeight": "high"})


def test_compat_pulse_simulator_as_plain_object() -> None:
    config = {**example_config()["simulation_source"], "sleeptime": 0.02, "random": False}
    sim = pulseSimulator(config)
    with pytest.raises(RuntimeError, match="init"):
        sim()
    sim.init(number_of_channels=4, number_of_values=4250)
    start = time.monotonic()
    events = [sim() for _ in range(3)]
    assert time.monotonic() - start >= 0.06  # it waits like a detector: fixed sleeptime per event
    assert all(e.shape == (4, 4250) and e.dtype == np.float32 for e in events)
    assert not np.array_equal(events[0], events[1])
    copy = events[0].copy()
    sim.params = dataclasses.replace(sim.params, sleeptime=0.0)
    for _ in range(40):  # beyond one internal batch: earlier events must stay as they were
        sim()
    np.testing.assert_array_equal(events[0], copy)
