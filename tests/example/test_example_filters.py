"""Building blocks of the double-pulse filter and the routing of its results."""

from __future__ import annotations

import numpy as np
import pytest
from examplekit import example_config, load_example_module, setup_dtype

from mimocorb.physics.common import FilterConfigError
from mimocorb.physics.doublepulse import DoublePulseFilter, group_peaks, matches, parse_signatures

lifetime_filter = load_example_module("lifetime_filter")
RAW = setup_dtype("simulsource_setup.yaml", "RB_1")
PARAMS = setup_dtype("simulsource_setup.yaml", "RB_3")


def event(pulses: dict[str, list[tuple[int, float]]]) -> np.ndarray:
    """A quiet event (baseline −480 mV, small noise) with pulses (start, height) of the simulator's shape."""
    rng = np.random.default_rng(0)
    slot = np.empty(4250, dtype=RAW)
    shape = np.exp(-np.arange(100) / 25.0)
    for name in slot.dtype.names:
        trace = -480 + rng.uniform(-4, 4, 4250)
        for start, height in pulses.get(name, []):
            trace[start : start + 100] += height * shape
        slot[name] = trace
    return slot


def test_grouping_anchors_rows_at_the_earliest_peak() -> None:
    rows = group_peaks([np.array([500, 900]), np.array([505]), np.array([519, 910]), np.array([])], 20)
    assert rows == [[0, 0, 0, -1], [1, -1, 1, -1]]
    assert group_peaks([np.array([500]), np.array([520])], 20) == [[0, -1], [-1, 0]]  # 20 is not < 20
    assert group_peaks([np.array([]), np.array([])], 20) == []


def test_signature_matching() -> None:
    up, down = ("++--", "0+--"), ("++--", "--+0")
    rows = [[0, 0, -1, -1], [-1, 1, -1, -1], [2, 2, 2, 2]]  # a third row is ignored
    assert matches(up, rows) and not matches(down, rows)
    assert not matches(up, rows[:1])
    assert parse_signatures([[["+", "+", "-", "-"], "0+--"]], 4) == (("++--", "0+--"),)
    with pytest.raises(FilterConfigError, match=r"signatures\[0\]\[1\] expected 4 symbols"):
        parse_signatures([["++--", "0+-"]], 4)
    with pytest.raises(FilterConfigError, match="'signatures' expected a non-empty list"):
        parse_signatures("++--", 4)


def test_filter_config_errors_name_the_key() -> None:
    config = dict(example_config()["calculate_decay_time"])
    del config["trigger_position_tolerance"]
    with pytest.raises(FilterConfigError, match="'trigger_position_tolerance' is missing"):
        DoublePulseFilter(config, ["chA", "chB", "chC", "chD"])
    with pytest.raises(FilterConfigError, match="'analogue_offset' expected a number"):
        DoublePulseFilter({**config, "analogue_offset": "low"}, ["chA", "chB", "chC", "chD"])


def test_up_decay_parameters() -> None:
    finder = DoublePulseFilter(example_config()["calculate_decay_time"], ["chA", "chB", "chC", "chD"])
    pulse = finder(event({"chA": [(500, 250), (1500, 200)], "chB": [(500, 260), (1500, 210)]}))
    assert pulse is not None and pulse.signature == 0 and pulse.decay_time == 4000.0
    assert pulse.values["2nd_chB_p"] == 1500 and 200 < pulse.values["2nd_chB_h"] < 220
    assert 5500 < pulse.values["1st_chA_int"] < 6800  # ≈ 250 × Σ e^(−k/25) above the 10 mV line
    assert "1st_chC_p" not in pulse.values


def test_through_going_muon_and_single_pulse_are_rejected() -> None:
    finder = DoublePulseFilter(example_config()["calculate_decay_time"], ["chA", "chB", "chC", "chD"])
    assert finder(event({ch: [(500, 250)] for ch in ("chA", "chB", "chC", "chD")})) is None
    assert finder(event({"chA": [(500, 250)], "chB": [(500, 250)]})) is None
    assert finder(event({})) is None


def test_routing_for_one_two_and_three_sinks() -> None:
    """1 sink: raw copy (crashed in 1.0.2); 2: [record]; 3: up/down, type 2 to 'up' (dropped in 1.0.2)."""
    config = example_config()["calculate_decay_time"]
    channels = [name for name, _ in RAW]
    down = event({"chA": [(500, 250)], "chB": [(500, 250)], "chC": [(900, 250)]})
    type2 = event(
        {"chA": [(500, 250)], "chB": [(500, 250)], "chC": [(500, 250)], "chD": [(500, 250), (900, 250)]}
    )
    assert lifetime_filter.make_selector(config, channels, [])(down) is True
    (record,) = lifetime_filter.make_selector(config, channels, [PARAMS])(down)
    assert (
        record.dtype == np.dtype(PARAMS) and record["decay_time"][0] == 1600 and record["2nd_chC_p"][0] == 900
    )
    three = lifetime_filter.make_selector(config, channels, [PARAMS, PARAMS])
    up_record, down_record = three(down)
    assert up_record is None and down_record["decay_time"][0] == 1600
    up_record, down_record = three(type2)
    assert down_record is None and up_record["2nd_chD_p"][0] == 900


def test_preselections_agree_with_scipy_on_awkward_events() -> None:
    """Pulses anywhere, on each other's tails, earlier and smaller than the maximum, near the thresholds:
    the pre-selections (mimocorb.physics.peaks) must never change a peak or a decision."""
    rng = np.random.default_rng(21)
    finder = DoublePulseFilter(example_config()["calculate_decay_time"], ["chA", "chB", "chC", "chD"])
    shape = np.exp(-np.arange(100) / 25.0)
    accepted = 0
    for _ in range(400):
        traces = -480 + rng.uniform(-4.2, 4.2, (4, 4250))
        first = rng.integers(50, 4000)
        traces[:2, first : first + 100] += rng.uniform(60, 400, (2, 1)) * shape  # a muon in A and B
        for trace in traces:
            for _ in range(rng.integers(0, 3)):
                start = first + rng.choice([0, rng.integers(-60, 60), rng.integers(-3000, 3000)])
                start = int(np.clip(start, 0, 4150))
                trace[start : start + 100] += rng.uniform(20, 400) * shape
        full = finder.analyse(traces, precut=False)
        assert finder.analyse(traces) == full
        plain = finder.find_peaks(traces, precut=False)
        for fast, reference in zip(finder.find_peaks(traces), plain, strict=True):
            np.testing.assert_array_equal(fast.positions, reference.positions)
        accepted += full is not None
    assert accepted > 10  # the comparison covered accepted events too
