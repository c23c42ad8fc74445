"""Physics of the lifetime, spin and spectrum examples: simulated events straight through the example's
filter functions, no processes; the expected numbers follow from the simulation's parameters."""

from __future__ import annotations

import numpy as np
import pytest
from examplekit import as_slot, example_config, generator, load_example_module, setup_dtype

from mimocorb.physics.doublepulse import DoublePulseFilter
from mimocorb.physics.lifetime import fit_lifetime
from mimocorb.physics.simulation import MUON_LIFETIME_NS
from mimocorb.physics.spectrum import SpectrumFilter

# under -n the tests stay in one process: they share one run of the spin setup. 6·10⁴ events through
# the example's per-event function take half a minute of CPU time, many minutes on a machine busier than
# its cores: the timeout is there for a hang, not for speed
pytestmark = [pytest.mark.xdist_group("spin-run"), pytest.mark.timeout(900)]

lifetime_filter = load_example_module("lifetime_filter")


def run_selector(n_events: int, seed: int, setup: str, records: list[str], **overrides):
    """Events of the example's simulator through the example's per-event function; (truth, results)."""
    raw = setup_dtype(setup, "RB_1")
    dtypes = [setup_dtype(setup, name) for name in records]
    config = example_config()["calculate_decay_time"]
    select = lifetime_filter.make_selector(config, [name for name, _ in raw], dtypes)
    truths, results = [], []
    gen = generator(seed, **overrides)
    for _ in range(n_events // 500):
        waves, truth = gen.generate(500)
        truths.append(truth)
        results += [select(as_slot(w, raw)) for w in waves]
    return np.concatenate(truths), results


@pytest.fixture(scope="module")
def spin_run():
    """6·10⁴ triggers as the spin setup sees them: up decays to RB_3, down decays to RB_4.

    The acceptance criterion 7.9 % ± 0.3 % is 2.7 binomial σ for 6·10⁴ triggers (1.2 σ for 10⁴), so it
    holds for any random stream, not only for this random seed.
    """
    return run_selector(60_000, 1, "spin_setup.yaml", ["RB_3", "RB_4"])


@pytest.mark.slow
def test_accepted_fraction_and_lifetime(spin_run) -> None:
    truth, results = spin_run
    accepted = np.array([r is not None for r in results])
    fraction = accepted.mean()
    assert abs(fraction - 0.079) < 0.003, f"accepted fraction {fraction:.4f}"
    assert not accepted[~truth["stopped"]].any(), "a through-going muon was accepted"
    decay_times = np.array([(r[0] if r[0] is not None else r[1])["decay_time"][0] for r in results if r])
    fit = fit_lifetime(decay_times, 200, 15000)
    assert abs(fit.tau - MUON_LIFETIME_NS) < 3 * fit.error, fit
    assert 25 < fit.error < 45  # ≈ τ/√N for the ~4500 decays in the window


@pytest.mark.slow
def test_spin_setup_splits_up_and_down_decays(spin_run) -> None:
    truth, results = spin_run
    up = np.array([r is not None and r[0] is not None for r in results])
    down = np.array([r is not None and r[1] is not None for r in results])
    assert not (up & down).any()
    assert abs(up.mean() - 0.0392) < 0.003 and abs(down.mean() - 0.0400) < 0.003, (up.mean(), down.mean())
    assert (truth["up"][up]).all() and not (truth["up"][down]).any(), "an up/down decay was misclassified"


@pytest.mark.slow
def test_lifetime_from_stopped_muons_only() -> None:
    """All muons stop (prb2ndPulse = 1): ~3000 decays pin τ down to ±40 ns; positions match the truth."""
    truth, results = run_selector(4_000, 2, "simulsource_setup.yaml", ["RB_3"], prb2ndPulse=1.0)
    accepted = np.array([r is not None for r in results])
    assert 0.775 < accepted.mean() < 0.825  # plateau efficiency × dead zone: 79.9 % expected
    records = np.concatenate([r[0] for r in results if r is not None])
    fit = fit_lifetime(records["decay_time"], 200, 15000)
    assert abs(fit.tau - MUON_LIFETIME_NS) < 3 * fit.error, fit
    exact = records["decay_time"] == 4 * np.floor(truth["decay_time"][accepted] / 4)
    assert exact.mean() > 0.9  # expected: 96 % exactly, the rest within a few ns
    assert (np.abs(records["decay_time"] - truth["decay_time"][accepted]) < 20).mean() > 0.99
    # muon pulses at the trigger position, heights are prominences ≥ 90 mV, integrals ≈ 6·10³ mV·samples
    assert np.median(records["1st_chA_p"]) == 500 and records["1st_chA_h"].min() >= 90
    assert 5.5e3 < records["1st_chA_int"].mean() < 7e3


@pytest.mark.slow
def test_precut_never_changes_the_peaks_or_the_selection() -> None:
    """The lossless pre-cut (mimocorb.physics.peaks) against scipy on all local maxima, event by event."""
    config = example_config()["calculate_decay_time"]
    finder = DoublePulseFilter(config, ["chA", "chB", "chC", "chD"])
    waves, _ = generator(3, prb2ndPulse=0.5).generate(1500)
    n_peaks = 0
    for w in waves:
        fast, full = finder.find_peaks(w, precut=True), finder.find_peaks(w, precut=False)
        for a, b in zip(fast, full, strict=True):
            np.testing.assert_array_equal(a.positions, b.positions)
            np.testing.assert_array_equal(a.prominences, b.prominences)
            np.testing.assert_array_equal(a.left_ips, b.left_ips)
            n_peaks += len(b)
        assert finder.analyse(w, precut=True) == finder.analyse(w, precut=False)
    assert n_peaks > 1500 * 3  # the comparison covered real pulses, not only empty channels


def test_spectrum_selection() -> None:
    """The demo's pulse-height filter on 10⁴ two-channel events."""
    config = example_config("spectrum_config.yaml")
    measure = SpectrumFilter(config["find_peaks"], ["chA", "chB"])
    waves, _ = generator(4, n_channels=2, file="spectrum_config.yaml").generate(10_000)
    results = [measure.analyse(w) for w in waves]
    records = [r for r in results if r is not None]
    assert abs(1 - len(records) / len(results) - 0.051) < 0.008  # no chA peak: mostly the 5 % inefficiency
    assert abs(np.mean(["chB_height" in r for r in records]) - 0.946) < 0.008
    heights = np.array([r[f"{ch}_height"] for r in records for ch in ("chA", "chB") if f"{ch}_height" in r])
    assert abs(heights.mean() - 251) < 3 and abs(heights.std() - 74) < 3 and heights.min() > 40
    positions = np.array([r["chA_position"] for r in records])
    assert (positions == 100).mean() > 0.97
    ratio = np.array([r["chA_integral"] / r["chA_height"] for r in records])
    assert abs(np.median(ratio) / 2.11e-10 - 1) < 0.05


def test_record_fields_follow_each_buffer_layout() -> None:
    """The lifetime and spin setups order the 25 fields differently; values land by name in both."""
    config = example_config()["calculate_decay_time"]
    finder = DoublePulseFilter(config, ["chA", "chB", "chC", "chD"])
    waves, _ = generator(5, prb2ndPulse=1.0).generate(40)
    pulse = next(p for p in (finder.analyse(w) for w in waves) if p is not None)
    seed_record = pulse.record(setup_dtype("simulsource_setup.yaml", "RB_3"))
    spin_record = pulse.record(setup_dtype("spin_setup.yaml", "RB_3"))
    assert len(seed_record.dtype.names) == len(spin_record.dtype.names) == 25
    for name in seed_record.dtype.names:
        assert seed_record[name][0] == pytest.approx(spin_record[name][0], rel=1e-6)
    assert seed_record["decay_time"][0] == int(pulse.decay_time) and seed_record["1st_chA_p"][0] == 500
