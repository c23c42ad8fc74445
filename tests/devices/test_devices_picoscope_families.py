"""The PicoScope source with the ps2000a, ps3000a and ps5000a families, each against the stand-in driver
built under that family's library name and function prefix and loaded by Pico's own wrapper module:
open, a rapid block with exact samples, close; ps5000a's resolution; per-capture timestamps from the
timestamp counter of GetTriggerInfoBulk; config errors of the families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from devkit import assert_config_error, recorded
from picokit import Stub, pico_setup, pulse_height_counts
from support import mimocorb_command, only_run_dir, run

FAMILY_CALLS = {  # what the stand-in logs of OpenUnit, GetTimebase2 and RunBlock, by family
    "ps2000a": (
        "OpenUnit serial=",
        "GetTimebase2 timebase=2 samples=256 oversample=0 segment=0",
        "RunBlock pre=20 post=236 timebase=2 oversample=0 segment=0",
    ),
    "ps3000a": (
        "OpenUnit serial=",
        "GetTimebase2 timebase=2 samples=256 oversample=0 segment=0",
        "RunBlock pre=20 post=236 timebase=2 oversample=0 segment=0",
    ),
    "ps5000a": (
        "OpenUnit serial= resolution=0",
        "GetTimebase2 timebase=2 samples=256 segment=0",
        "RunBlock pre=20 post=236 timebase=2 segment=0",
    ),
}
MAX_ADC = {"ps2000a": 32512, "ps3000a": 32512, "ps5000a": 32512}  # ps5000a at 8 bits


@pytest.fixture
def family_stub(stub_builds, tmp_path: Path):
    def make(family: str) -> Stub:
        return Stub(stub_builds(family), tmp_path / "picostub.log", tmp_path / "picostub.data")

    return make


def _run(stub: Stub, project: Path, setup: Path) -> tuple[int, str]:
    result = run(mimocorb_command("run", str(setup)), project, 60, env=stub.env())
    return result.returncode, result.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("family", list(FAMILY_CALLS))
def test_each_family_opens_captures_exact_samples_and_closes(project, family_stub, family):
    stub = family_stub(family)
    config = f"family: {family}, timebase: 2, captures: 4, pretrigger_samples: 20"
    code, out = _run(stub, project, pico_setup(project, config, main="runevents: 8"))
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    handed = stub.handed_out(2, 256)
    assert len(frame) >= 8 and len(handed) >= len(frame)
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0])
        np.testing.assert_array_equal(frame.chB[row], handed[row, 1])
        assert frame.chA[row][20] == pulse_height_counts(row + 1, 0, max_adc=MAX_ADC[family])
        assert frame.chB[row][20] == pulse_height_counts(row + 1, 1, max_adc=MAX_ADC[family])
    opened, timebase, block = FAMILY_CALLS[family]
    assert stub.calls("OpenUnit") == [opened]
    assert stub.calls("GetTimebase2") == [timebase]
    assert stub.calls("RunBlock")[0] == block
    assert stub.calls()[-2:] == ["Stop", "CloseUnit"]


@pytest.mark.timeout(60)
def test_ps5000a_opens_with_the_resolution_and_scales_by_its_maximum(project, family_stub):
    stub = family_stub("ps5000a")
    fields = "{1: [chA, float64], 2: [chB, int16]}"
    config = "family: ps5000a, resolution: 12, captures: 4, range: 1V, pretrigger_samples: 20"
    code, out = _run(stub, project, pico_setup(project, config, fields=fields, main="runevents: 8"))
    assert code == 0, out
    assert stub.calls("OpenUnit") == ["OpenUnit serial= resolution=1"]
    frame = recorded(only_run_dir(project / "target"))
    handed = stub.handed_out(2, 256)
    for row in range(len(frame)):
        np.testing.assert_array_equal(frame.chA[row], handed[row, 0] * (1000 / 32767))  # 12 bits: 32767
        assert frame.chB[row][20] == pulse_height_counts(row + 1, 1, range_mv=1000)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("family", ["ps3000a", "ps5000a"])
def test_each_capture_has_its_trigger_time_from_the_timestamp_counter(project, family_stub, family):
    """The stand-in's counter puts capture k of a block k * 1000 + k * k sample intervals after the
    block's first; timebase 79 gives 1 us per sample (12.5 ns x 80). At 200 captures per second a block
    takes longer than its counter spans (7 ms), as on a real scope, so blocks do not overlap in time."""
    stub = family_stub(family)
    config = f"family: {family}, timebase: 79, captures: 8, pretrigger_samples: 20"
    setup = pico_setup(project, config, main="runevents: 16")
    result = run(mimocorb_command("run", str(setup)), project, 60, env=stub.env(rate="200"))
    code, out = result.returncode, result.stdout
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert len(frame) >= 16
    steps = np.array([(k * 1000 + k * k) - ((k - 1) * 1000 + (k - 1) ** 2) for k in range(1, 8)]) * 1e-6
    for block in (0, 8):
        stamps = frame.timestamp.to_numpy()[block : block + 8]
        np.testing.assert_allclose(np.diff(stamps), steps, rtol=0, atol=1e-6)  # float64 epoch seconds
        assert (frame.deadtime.to_numpy()[block + 1 : block + 8] == 0).all()  # re-armed by the unit itself
        assert 0 <= frame.deadtime[block] <= 1
    assert frame.timestamp[8] > frame.timestamp[7]
    assert stub.calls("GetTriggerInfoBulk")[0] == "GetTriggerInfoBulk from=0 to=7"


@pytest.mark.timeout(60)
def test_families_without_a_counter_share_the_blocks_time(project, family_stub):
    stub = family_stub("ps2000a")
    config = "family: ps2000a, captures: 4, pretrigger_samples: 20"
    code, out = _run(stub, project, pico_setup(project, config, main="runevents: 8"))
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    for block in (0, 4):
        assert len(set(frame.timestamp[block : block + 4])) == 1
        assert (frame.deadtime.to_numpy()[block + 1 : block + 4] == 0).all()
    assert not stub.calls("GetTriggerInfoBulk")


BAD_CONFIGS = [
    (
        "family: ps4000a, resolution: 12",
        "'resolution' is set at opening in the ps5000a family only, not ps4000a",
    ),
    ("family: ps5000a, resolution: 10", "'resolution' must be one of 8, 12, 14, 15, 16, got 10"),
    ("family: ps5000a, resolution: 16", "at resolution 16 the PicoScope 5000 Series digitises 1 channel(s)"),
    ("family: ps3000a, range: 100V", "'range' must be one of 10mV, 20mV, 50mV, 100mV, 200mV, 500mV, 1V, 2V"),
    ("family: ps9000", "'family' must be one of ps4000a, ps2000a, ps3000a, ps5000a, got 'ps9000'"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_family_settings_are_checked_by_validate(project, config, message):
    assert_config_error(pico_setup(project, config), "picoscope", message)


def test_a_channel_the_family_lacks_is_refused(project):
    setup = pico_setup(project, "family: ps2000a", fields="{1: [chA, int16], 2: [chE, int16]}")
    assert_config_error(
        setup, "picoscope", "fields must be channels of the PicoScope 2000 Series: chA, chB, chC, chD"
    )
