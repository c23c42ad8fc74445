"""Rollover under a SIGKILL, RNTuple output, the config checks and the one-line message of a missing extra."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import uproot
from iokit import MODS, fkt, run, start, write_setup
from support import finish, only_run_dir, summary, wait_for_run_dir, wait_until

from mimocorb._optional import MissingDependency
from mimocorb.io import record_hdf5, record_root
from mimocorb.io.parts import Rollover

sys.path.insert(0, str(MODS))
import io_workers as w

SAMPLES = 10
MANIFESTS = Path(".mimocorb") / "files"


def manifest(run_dir: Path, fmt: str) -> dict:
    found = list((run_dir / MANIFESTS).glob(f"{fmt}-waves*.json"))
    return json.loads(found[0].read_text()) if found else {}


def closed_parts(run_dir: Path, fmt: str) -> int:
    return sum(1 for p in manifest(run_dir, fmt).get("parts", []) if p["complete"])


def check_counters_and_values(counters: list[int], ch2: list[np.ndarray]) -> None:
    assert counters == list(range(1, len(counters) + 1))
    for k, values in zip(counters[::53], ch2[::53], strict=True):
        np.testing.assert_array_equal(values, w.waveform(k, SAMPLES)[1])


def read_root_parts(run_dir: Path) -> tuple[list[int], list[np.ndarray]]:
    counters: list[int] = []
    ch2: list[np.ndarray] = []
    for path in sorted(run_dir.glob("waves_*.root")):
        with uproot.open(path) as file:
            data = file["events"].arrays(["counter", "ch2"], library="np")
        counters += data["counter"].tolist()
        ch2 += list(data["ch2"])
    return counters, ch2


def read_hdf5_parts(run_dir: Path, swmr: bool) -> tuple[list[int], list[np.ndarray]]:
    counters: list[int] = []
    ch2: list[np.ndarray] = []
    for path in sorted(run_dir.glob("waves_*.h5")):
        with h5py.File(path, "r", swmr=swmr) as file:
            counters += file["RB_1/counter"][:].tolist()  # grows last: every column has as many events
            ch2 += list(file["RB_1/ch2"][: len(file["RB_1/counter"])])
    return counters, ch2


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_recorders_leave_every_closed_part_and_the_last_flush(project: Path, sig: int) -> None:
    """SIGKILL: closed parts whole, the open one readable up to its last flush; SIGTERM: all complete."""
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "record_root", "RB_1: read", "rec.yaml"),
        fkt(3, "record_hdf5", "RB_1: read", "rec.yaml"),
    ]
    configs = {
        "src.yaml": "n_events: 0\nsleep: 0.001\n",
        "rec.yaml": "filename: waves\nrollover_events: 1000\nflush_events: 150\nflush_seconds: 0.2\n",
    }
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    proc = start(["run", str(setup), "-v", "1"], project)
    run_dir = wait_for_run_dir(project / "target", 30, holding="waves_00000.h5")
    wait_until(lambda: min(closed_parts(run_dir, f) for f in ("root", "hdf5")) >= 2, 90, "two closed parts")
    flushed = {}
    for fmt in ("root", "hdf5"):
        entry = manifest(run_dir, fmt)
        os.kill(entry["pid"], sig)
        flushed[fmt] = entry["events"]
    out = finish(proc)
    assert proc.returncode == 3, out
    files = summary(run_dir)["files"]
    killed = sig == signal.SIGKILL
    for fmt, name, (counters, ch2) in [
        ("root", "waves.root", read_root_parts(run_dir)),
        ("hdf5", "waves.h5", read_hdf5_parts(run_dir, swmr=killed)),  # a killed SWMR writer's file
    ]:
        assert len(counters) >= flushed[fmt] >= 2000
        check_counters_and_values(counters, ch2)
        assert files[name]["complete"] is not killed and files[name]["events"] <= len(counters), files[name]
        if not killed:
            assert files[name]["events"] == len(counters)
    for path in sorted(run_dir.glob("waves_*.h5"))[: None if not killed else 2]:  # closed parts open as usual
        with h5py.File(path, "r") as file:
            assert file["RB_1/counter"].shape[0] > 0
    if not killed:
        with uproot.open(sorted(run_dir.glob("waves_*.root"))[-1]) as file:
            assert json.loads(str(file["mimocorb/part"]))["last_counter"] == files["waves.root"]["events"]


@pytest.mark.timeout(120)
def test_rntuple_output_read_by_uproot(project: Path) -> None:
    functions = [fkt(1, "source", "RB_1: write", "src.yaml"), fkt(2, "record_root", "RB_1: read", "rec.yaml")]
    configs = {"src.yaml": "n_events: 30\n", "rec.yaml": "format: rntuple\ncompression: zstd\n"}
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    (path,) = only_run_dir(project / "target").glob("RB_1_*.root")
    with uproot.open(path) as file:
        assert file.classnames()["events;1"] == "ROOT::RNTuple"
        data = file["events"].arrays()
    assert data["counter"].tolist() == list(range(1, 31))
    for k, values in zip(data["counter"].tolist(), data["ch3"].to_numpy(), strict=True):
        np.testing.assert_array_equal(values, w.waveform(k, SAMPLES)[2])


def test_config_mistakes_are_named_before_the_run() -> None:
    with pytest.raises(ValueError, match="'compression' must be one of lz4"):
        record_root.check_config({"compression": "zip"})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="'format' must be one of ttree, rntuple"):
        record_root.check_config({"format": "tntuple"})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="histograms: 'amp' needs bins"):
        record_root.check_config({"histograms": {"amp": {"bins": 10}}})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="'rollover_mb' must be a positive number, or null"):
        record_hdf5.check_config({"rollover_mb": "1 GB"})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="'compression' must be one of lzf, gzip, none"):
        record_hdf5.check_config({"compression": "lz4"})  # type: ignore[attr-defined]


def test_rollover_in_megabytes_counts_whole_events() -> None:
    assert Rollover.from_config("x", {"rollover_mb": 1}, 136_000, {}).events == 7
    assert Rollover.from_config("x", {"rollover_events": 5, "rollover_mb": 1}, 1000, {}).events == 5
    assert Rollover.from_config("x", {"rollover_minutes": 0.5}, 8, {}).seconds == 30.0
    off = Rollover.from_config("x", {"rollover_mb": None}, 8, {"rollover_mb": 2000.0})
    assert not off.active


@pytest.mark.parametrize(("module", "extra"), [("uproot", "root"), ("h5py", "hdf5")])
def test_a_missing_extra_is_one_line_naming_it(
    module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mimocorb.io.hdf5file import h5py_module
    from mimocorb.io.rootfile import uproot_module

    monkeypatch.setitem(sys.modules, module, None)  # what an interpreter without the package does
    with pytest.raises(MissingDependency) as caught:
        (uproot_module if module == "uproot" else h5py_module)()
    assert str(caught.value) == (
        f"mimocorb: the '{extra}' extra is needed for {'ROOT' if extra == 'root' else 'HDF5'} files: "
        f"pip install 'mimocorb[{extra}]'"
    )


def test_validate_names_a_histogram_of_a_field_the_buffer_lacks(project: Path) -> None:
    functions = [fkt(1, "source", "RB_1: write", "src.yaml"), fkt(2, "record_root", "RB_1: read", "rec.yaml")]
    configs = {"src.yaml": "n_events: 1\n", "rec.yaml": "histograms: {chX: {bins: 10, range: [0, 1]}}\n"}
    code, out = run(["validate", str(write_setup(project, functions, configs))], project)
    assert code == 1 and "rec.yaml" in out and "the buffer has no field 'chX'" in out, out
