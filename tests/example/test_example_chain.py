"""The example's source and filter as real processes on real ring buffers, run by ``mimocorb run``.

The sinks are small test functions (chainmods/record_sinks.py) instead of the exporters, so this checks
the chain itself: every simulated event is examined exactly once by the two filter processes, and what they
accept reaches both output buffers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from examplekit import EXAMPLES, run_setup
from support import summary

HERE = Path(__file__).parent
SETUP = """\
GUI_control: false
KBD_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 128, channel_per_slot: 4250,
           data_type: {{1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}}}}
  - RB_2: {{number_of_slots: 128, channel_per_slot: 4250,
           data_type: {{1: [chA, float64], 2: [chB, float64], 3: [chC, float64], 4: [chD, float64]}}}}
  - RB_3: {{number_of_slots: 32, channel_per_slot: 1,
           data_type: {{1: [decay_time, int32], 2: [1st_chA_h, float64], 3: [2nd_chB_p, int32]}}}}
Functions:
  - Fkt_main: {{config_file: {examples}/config/simulation_config.yaml}}
  - Fkt_1: {{file_name: {examples}/modules/simulation_source, fkt_name: simulation_source, num_process: 1,
            RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {examples}/modules/lifetime_filter, fkt_name: calculate_decay_time, num_process: 2,
            RB_assign: {{RB_1: read, RB_2: write, RB_3: write}}}}
  - Fkt_3: {{file_name: {mods}/record_sinks, fkt_name: record_decays, num_process: 1,
            RB_assign: {{RB_3: read}}}}
  - Fkt_4: {{file_name: {mods}/record_sinks, fkt_name: count_waveforms, num_process: 1,
            RB_assign: {{RB_2: read}}}}
"""


@pytest.mark.slow
def test_source_and_filters_run_as_a_chain(tmp_path: Path) -> None:
    setup = tmp_path / "chain_setup.yaml"
    setup.write_text(SETUP.format(examples=EXAMPLES, mods=HERE / "chainmods"), encoding="utf-8")
    result, run_dir = run_setup(setup, tmp_path, "--events", "1500")
    assert result.returncode == 0, result.stdout + result.stderr
    events = summary(run_dir)["events"]
    counts = [json.loads(p.read_text()) for p in run_dir.glob("selection_*.json")]
    assert len(counts) == 2, "each filter process leaves its counts"
    assert sum(c["seen"] for c in counts) == events > 1000
    decays = np.loadtxt(run_dir / "decays.txt", ndmin=2)
    waveforms = np.loadtxt(run_dir / "waveforms.txt", ndmin=2)
    accepted = sum(c["accepted"] for c in counts)
    assert len(decays) == len(waveforms) == accepted
    assert sorted(decays[:, 0]) == sorted(waveforms[:, 0]) and len(set(decays[:, 0])) == accepted
    assert decays[:, 0].min() >= 1 and decays[:, 0].max() <= events
    sigma = math.sqrt(0.079 * 0.921 / events)
    assert abs(accepted / events - 0.079) < 5 * sigma + 0.005
    # real pulses: prominence ≥ 90 mV in chA above a noise floor ≥ −484.2 mV
    assert (waveforms[:, 1] >= -484.2 + 90).all()
    assert (decays[:, 1] >= 0).all() and decays[:, 1].max() < 15000
