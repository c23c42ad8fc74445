"""The CosmicWatch source in whole runs against the simulated detector on a pseudo-terminal: every line
an event with the values printed, none lost or merged at 2 kHz, both formats, pause, a detector lost,
lost and back behind the same name, or absent, and config errors."""

from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest
from devkit import assert_config_error, recorded, run
from serialkit import COSMICWATCH_FIELDS, V3X_FIELDS, device_setup
from support import (
    events_in_stats,
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

from mimocorb.devices import CosmicWatchSimulator, parse_line


def _setup(project, sim: CosmicWatchSimulator, fields: str = COSMICWATCH_FIELDS, extra: str = "", **kw):
    return device_setup(project, "cosmicwatch", f'port: "{sim.path}"{extra}', fields, **kw)


def _assert_recorded_as_sent(run_dir, sent: list[str], fields: tuple[str, ...], cut: bool = False) -> int:
    """The recording holds exactly the lines printed (with ``cut``: the first of them), in order, value
    for value; returns the count."""
    frame = recorded(run_dir)
    assert list(frame.counter) == list(range(1, len(frame) + 1))
    expected = [parse_line(line) for line in sent[: len(frame) if cut else None]]
    assert len(frame) == len(expected)
    for name in fields:
        np.testing.assert_array_equal(
            frame[name].to_numpy(), [e.get(name, 0) for e in expected], err_msg=name
        )
    return len(frame)


V2_NAMES = ("event", "device_time_ms", "adc", "sipm_mV", "deadtime_ms", "temperature_C")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_2000_lines_at_2_khz_arrive_each_as_one_event(project):
    with CosmicWatchSimulator(rate=2000, count=2000, seed=1) as sim:
        code, out = run(["run", str(_setup(project, sim, main="runevents: 2000"))], project, timeout=110)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    assert _assert_recorded_as_sent(run_dir, sim.sent, V2_NAMES) == 2000
    frame = recorded(run_dir)
    assert list(frame.event) == list(range(1, 2001))  # the device's own numbers: none lost, none merged
    assert frame.deadtime.between(0, 1).all() and frame.deadtime.gt(0).any()
    assert np.all(np.diff(frame.timestamp) >= 0)
    assert "CosmicWatch: The Desktop Muon Detector (simulated)" in read_log(run_dir)  # the banner


@pytest.mark.timeout(60)
def test_v3x_lines_fill_the_sensor_fields_by_name(project):
    with CosmicWatchSimulator(rate=200, version="v3x", count=50, seed=2) as sim:
        setup = _setup(project, sim, V3X_FIELDS, ", format: v3x", main="runevents: 50")
        code, out = run(["run", str(setup)], project)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    names = (*V2_NAMES, "pressure_Pa", "accel_z_g", "name")
    assert _assert_recorded_as_sent(run_dir, sim.sent, names) == 50
    frame = recorded(run_dir)
    assert (frame.name == "SimWatch").all() and frame.pressure_Pa.between(101000, 101700).all()
    assert parse_line(sim.sent[0])["device_time_ms"] == pytest.approx(
        float(sim.sent[0].split("\t")[1]) * 1000
    )


@pytest.mark.timeout(60)
def test_auto_format_reads_a_v3x_detector_with_v2_fields(project):
    with CosmicWatchSimulator(rate=200, version="v3x", count=20, seed=3) as sim:
        code, out = run(["run", str(_setup(project, sim, main="runevents: 20"))], project)
    assert code == 0, out
    assert _assert_recorded_as_sent(only_run_dir(project / "target"), sim.sent, V2_NAMES) == 20


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_lines_during_a_pause_are_dropped_and_the_rest_kept(project):
    with CosmicWatchSimulator(rate=100, seed=4) as sim:
        proc = start(
            mimocorb_command("run", str(_setup(project, sim, kbd=True))), project, stdin=subprocess.PIPE
        )
        run_dir = wait_for_run_dir(project / "target")
        wait_until(lambda: len(sim.sent) >= 20, 30, "the first events")
        proc.stdin.write("P\n")
        proc.stdin.flush()
        wait_until(lambda: any(row["state"] == "paused" for row in stats_rows(run_dir)), 20, "the pause")
        paused_at = len(sim.sent)
        wait_until(lambda: len(sim.sent) >= paused_at + 50, 30, "lines printed while paused")
        proc.stdin.write("R\n")
        proc.stdin.flush()
        resumed_at = len(sim.sent)
        wait_until(lambda: len(sim.sent) >= resumed_at + 20, 30, "events after the resume")
        proc.stdin.write("E\n")
        proc.stdin.close()
        out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    events = list(recorded(run_dir).event)
    assert events == sorted(events) and len(events) < len(sim.sent)
    gap = [(a, b) for a, b in itertools.pairwise(events) if b != a + 1]
    assert len(gap) == 1 and gap[0][0] <= paused_at + 1 and gap[0][1] >= resumed_at - 5
    assert "dropped while paused" in read_log(run_dir)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_detector_lost_mid_run_ends_the_run_in_order(project):
    with CosmicWatchSimulator(rate=200, seed=5) as sim:
        setup = _setup(project, sim, extra=", reconnect_time: 1")
        proc = start(mimocorb_command("run", str(setup)), project)
        run_dir = wait_for_run_dir(project / "target")
        wait_until(lambda: len(sim.sent) >= 100, 30, "events before the cable is pulled")
        sim.stop()
        out = finish(proc, timeout=40)
    assert proc.returncode != 0, out
    assert f"the CosmicWatch at {sim.path} failed" in out
    assert "could not reconnect within 1 s" in out
    count = _assert_recorded_as_sent(run_dir, sim.sent, V2_NAMES, cut=True)
    assert count >= 100
    rb1 = summary(run_dir)["buffers"]["RB_1"]
    assert rb1["events"] == count and rb1["lost"] == 0


def _by_id_link(project, sim: CosmicWatchSimulator):
    """A stable name for the detector's port, as udev's /dev/serial/by-id/ links are."""
    link = project / "usb-CosmicWatch-if00"
    link.symlink_to(sim.path)
    return link


def _unplug(link, sim: CosmicWatchSimulator) -> None:
    """The cable pulled: the link disappears, then the terminal (as udev removes both)."""
    link.unlink()
    sim.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_detector_gone_and_back_at_the_same_name_is_reopened_without_losing_a_line(project):
    first = CosmicWatchSimulator(rate=300, count=150, seed=11)
    with first, CosmicWatchSimulator(rate=300, count=120, seed=12) as second:
        link = _by_id_link(project, first)
        setup = device_setup(
            project, "cosmicwatch", f'port: "{link}", reconnect_time: 30', COSMICWATCH_FIELDS,
            main="runevents: 270",
        )  # fmt: skip
        proc = start(mimocorb_command("run", str(setup)), project)
        run_dir = wait_for_run_dir(project / "target")
        wait_until(lambda: events_in_stats(run_dir) >= 150, 60, "the first detector's 150 events")
        _unplug(link, first)
        wait_until(lambda: "reconnecting for up to 30 s" in read_log(run_dir), 30, "the loss reported")
        link.symlink_to(second.path)  # plugged in again: a new terminal behind the same name
        out = finish(proc, timeout=90)
    assert proc.returncode == 0, out
    log = read_log(run_dir)
    assert f"the CosmicWatch at {link} failed" in log and "150 event(s) so far" in log
    assert f"reconnected to the CosmicWatch at {link}" in log
    # every line either detector printed while connected, each one event, in order: the device
    # numbers its events from 1 again after its restart
    _assert_recorded_as_sent(run_dir, first.sent + second.sent, V2_NAMES)
    assert list(recorded(run_dir).event) == [*range(1, 151), *range(1, 121)]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_detector_gone_for_longer_than_reconnect_time_ends_the_run_with_every_event(project):
    with CosmicWatchSimulator(rate=300, count=80, seed=13) as sim:
        link = _by_id_link(project, sim)
        config = f'port: "{link}", reconnect_time: 1.5'
        proc = start(
            mimocorb_command("run", str(device_setup(project, "cosmicwatch", config, COSMICWATCH_FIELDS))),
            project,
        )
        run_dir = wait_for_run_dir(project / "target")
        wait_until(lambda: events_in_stats(run_dir) >= 80, 60, "the detector's 80 events")
        _unplug(link, sim)
        out = finish(proc, timeout=60)
    assert proc.returncode != 0, out
    assert f"lost the CosmicWatch at {link} and could not reconnect within 1.5 s" in out
    assert _assert_recorded_as_sent(run_dir, sim.sent, V2_NAMES) == 80
    rb1 = summary(run_dir)["buffers"]["RB_1"]
    assert rb1["events"] == 80 and rb1["lost"] == 0


@pytest.mark.timeout(60)
def test_an_absent_detector_is_named_with_what_to_check(project):
    setup = device_setup(project, "cosmicwatch", 'port: "/dev/ttyACM97"', COSMICWATCH_FIELDS)
    code, out = run(["run", str(setup)], project)
    assert code != 0
    assert "cannot open the CosmicWatch's serial port /dev/ttyACM97" in out
    assert "dialout" in out and "mimocorb devices" in out


BAD_CONFIGS = [
    ("baudrate: 9601", "'baudrate' must be one of 300, 1200, 2400, 4800, 9600, 19200"),
    ("format: v4", "'format' must be one of auto, v2, v3x, got 'v4'"),
    ("reconnect_time: -1", "'reconnect_time' must be a number >= 0, got -1"),
    ("baudrat: 9600", "unknown config key 'baudrat'; did you mean 'baudrate'?"),
    ("port: null", "config key 'port' is required, e.g. /dev/ttyUSB0"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_config_is_a_validate_error_on_the_setup_line(project, config, message):
    setup = device_setup(project, "cosmicwatch", f"port: /dev/ttyUSB0, {config}", COSMICWATCH_FIELDS)
    assert_config_error(setup, "cosmicwatch", message)


def test_a_field_the_detector_does_not_print_is_refused(project):
    setup = device_setup(
        project, "cosmicwatch", "port: /dev/ttyUSB0", "{1: [event, int64], 2: [energy, float64]}"
    )
    code, out = run(["validate", str(setup)], project)
    assert code == 1
    assert "the buffer's fields ['energy'] are unknown; the source fills event, device_time_ms" in out
