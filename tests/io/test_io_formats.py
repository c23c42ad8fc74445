"""ROOT and HDF5 recorders and rollover, through real runs; files read back by uproot and h5py alone."""

from __future__ import annotations

import itertools
import json
import sys
import tarfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import uproot
from iokit import MODS, fkt, run, write_setup
from support import only_run_dir, summary

sys.path.insert(0, str(MODS))
import io_workers as w

# under -n the tests stay in one process: they share one recording run
pytestmark = [pytest.mark.xdist_group("io-formats"), pytest.mark.timeout(240)]

N = 2500
EVERY = 1000
SAMPLES = 20
SIZES = [1000, 1000, 500]
WAVES = ("ch1", "ch2", "ch3")


def formats_setup(project: Path) -> Path:
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "to_record", "RB_1: read, RB_2: write"),
        fkt(3, "record_root", "RB_1: read", "root.yaml"),
        fkt(4, "record_hdf5", "RB_1: read", "h5.yaml"),
        fkt(5, "record_parquet", "RB_1: read", "pq.yaml"),
        fkt(6, "record_root", "RB_2: read", "roll.yaml"),
        fkt(7, "record_hdf5", "RB_2: read", "roll.yaml"),
        fkt(8, "save_txt", "RB_2: read", "txt.yaml"),
        fkt(9, "save_tar", "RB_1: read", "tar.yaml"),
    ]
    roll = f"rollover_events: {EVERY}\nflush_events: 300\n"
    configs = {
        "src.yaml": f"n_events: {N}\n",
        "root.yaml": roll + "filename: waves\nhistograms: {ch1: {bins: 20, range: [-40, 40]}}\n",
        "h5.yaml": roll + "filename: waves\ncompression: gzip\n",
        "pq.yaml": f"filename: waves\nrollover_events: {EVERY}\n",
        "roll.yaml": roll,
        "txt.yaml": f"filename: records\nrollover_events: {EVERY}\n",
        "tar.yaml": f"filename: waves\nrollover_events: {EVERY}\n",
    }
    return write_setup(project, functions, configs, samples=SAMPLES, slots=64)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("formats")
    code, out = run(["run", str(formats_setup(project)), "-v", "1"], project, timeout=200)
    assert code == 0, out
    return only_run_dir(project / "target")


def parts(run_dir: Path, stem: str, ext: str) -> list[Path]:
    found = sorted(run_dir.glob(f"{stem}_*{ext}"))
    assert [p.name for p in found] == [f"{stem}_{k:05d}{ext}" for k in range(len(SIZES))]
    return found


def check_waves(counters: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    for i, k in enumerate(counters):
        for name, expect in zip(WAVES, w.waveform(int(k), SAMPLES), strict=True):
            assert columns[name].dtype == expect.dtype, name
            np.testing.assert_array_equal(columns[name][i], expect)


def test_root_parts_read_by_uproot_hold_every_event_value_and_metadata(recorded: Path) -> None:
    counters = []
    for path, size in zip(parts(recorded, "waves", ".root"), SIZES, strict=True):
        with uproot.open(path) as file:
            tree = file["events"]
            assert tree.num_entries == size
            assert tree["ch1"].typename == f"float[{SAMPLES}]"
            data = tree.arrays(library="np")
            check_waves(data["counter"], {n: data[n].astype(data[n].dtype.newbyteorder("=")) for n in WAVES})
            assert (np.diff(data["timestamp"]) >= 0).all() and (
                (data["deadtime"] >= 0) & (data["deadtime"] < 1)
            ).all()
            counters += data["counter"].tolist()
            assert str(file["mimocorb/buffer"]) == "RB_1"
            assert "rec_setup.yaml" in json.loads(str(file["mimocorb/setup"]))
            part = json.loads(str(file["mimocorb/part"]))
            assert part["events"] == size and part["last_counter"] - part["first_counter"] == size - 1
            values, edges = file["h_ch1"].to_numpy()
            assert len(values) == 20 and edges[0] == -40
            inside = ((data["ch1"] >= -40) & (data["ch1"] < 40)).sum()
            assert values.sum() == inside
    assert counters == list(range(1, N + 1))


def test_hdf5_parts_read_by_h5py_hold_every_event_value_and_metadata(recorded: Path) -> None:
    counters = []
    for path, size in zip(parts(recorded, "waves", ".h5"), SIZES, strict=True):
        with h5py.File(path, "r") as file:
            group = file["RB_1"]
            assert list(group) == ["counter", "timestamp", "deadtime", *WAVES]
            assert group["ch2"].shape == (size, SAMPLES) and group["ch2"].compression == "gzip"
            check_waves(group["counter"][:], {n: group[n][:] for n in WAVES})
            counters += group["counter"][:].tolist()
            assert group.attrs["mimocorb.buffer"] == "RB_1"
            assert "rec_setup.yaml" in json.loads(group.attrs["mimocorb.setup"])
    assert counters == list(range(1, N + 1))


def test_records_agree_in_root_hdf5_parquet_and_text_parts(recorded: Path) -> None:
    root = pd.concat(uproot.open(p)["events"].arrays(library="pd") for p in parts(recorded, "RB_2", ".root"))
    frames = []
    for path in parts(recorded, "RB_2", ".h5"):
        with h5py.File(path, "r") as file:
            frames.append(pd.DataFrame({k: v[:] for k, v in file["RB_2"].items()}))
    hdf5 = pd.concat(frames)
    text = pd.concat(pd.read_csv(p, sep="\t") for p in parts(recorded, "records", ".txt"))
    for frame in (root, hdf5, text):
        assert frame["counter"].tolist() == list(range(1, N + 1))
    expect = np.concatenate([w.record(k) for k in range(1, N + 1)])
    for name in ("amp", "pos", "area"):
        np.testing.assert_array_equal(root[name].to_numpy(), expect[name])
        np.testing.assert_array_equal(hdf5[name].to_numpy(), expect[name])
    np.testing.assert_array_equal(root["timestamp"].to_numpy(), hdf5["timestamp"].to_numpy())


def test_text_and_tar_parts_are_complete_files(recorded: Path) -> None:
    assert not (recorded / "records.txt").exists() and not (recorded / "waves.tar").exists()
    for path, size in zip(parts(recorded, "records", ".txt"), SIZES, strict=True):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("counter\t") and len(lines) == size + 1
    seen = []
    for path, size in zip(parts(recorded, "waves", ".tar"), SIZES, strict=True):
        raw = path.read_bytes()
        assert raw[-1024:] == bytes(1024), f"{path.name} not finished"
        with tarfile.open(path) as tar:
            names = tar.getnames()
        assert len(names) == size
        seen += [int(n.split("_")[1].split(".")[0]) for n in names]
    assert seen == list(range(1, N + 1))


def test_summary_lists_every_part(recorded: Path) -> None:
    files = summary(recorded)["files"]
    for name, fmt in [
        ("waves.root", "root"),
        ("waves.h5", "hdf5"),
        ("records.txt", "txt"),
        ("waves.tar", "tar"),
    ]:
        entry = files[name]
        assert entry["format"] == fmt and entry["events"] == N and entry["complete"], entry
        listed = entry["writers"][0]["parts"]
        assert [p["events"] for p in listed] == SIZES and all(p["complete"] for p in listed)
        assert [p["first_counter"] for p in listed] == [1, 1001, 2001]
    dataset = files["waves.parquet"]["writers"][0]["parts"]  # every flush is a part; none over the limit
    assert sum(p["events"] for p in dataset) == N and max(p["events"] for p in dataset) <= EVERY


def test_inspect_reads_all_parts(recorded: Path) -> None:
    for name in ("waves.root", "waves.h5", "records.txt"):
        code, out = run(["inspect", str(recorded / name), "--json"], recorded)
        assert code == 0, out
        info = json.loads(out)
        assert info["events"] == N and info["parts"] == 3 and info["counters"] == [1, N], info
    code, out = run(["inspect", str(recorded / "waves.root")], recorded)
    assert "root, 3 part file(s)" in out and "buffer:    RB_1" in out and "ch1 (float32 x 20)" in out, out


def test_convert_round_trips_exactly(recorded: Path, tmp_path: Path) -> None:
    chain = [recorded / "waves.parquet", tmp_path / "w.root", tmp_path / "w.h5", tmp_path / "back.parquet"]
    for source, target in itertools.pairwise(chain):
        code, out = run(["convert", str(source), str(target)], tmp_path)
        assert code == 0 and f"{N} events" in out, out
    original = pd.read_parquet(chain[0]).sort_values("counter", ignore_index=True)
    back = pd.read_parquet(chain[-1])
    assert list(back.columns) == list(original.columns)
    assert back[["counter", "timestamp", "deadtime"]].equals(original[["counter", "timestamp", "deadtime"]])
    for name in WAVES:
        assert back[name].iloc[0].dtype == original[name].iloc[0].dtype
        np.testing.assert_array_equal(np.stack(back[name].to_numpy()), np.stack(original[name].to_numpy()))
    import pyarrow.parquet as pq

    meta = pq.read_schema(next(chain[-1].glob("*.parquet"))).metadata
    assert meta[b"mimocorb.buffer"] == b"RB_1" and b"rec_setup.yaml" in meta[b"mimocorb.setup"]
    code, out = run(["convert", str(chain[1]), str(chain[2])], tmp_path)
    assert code == 1 and "exists already" in out


@pytest.mark.slow
@pytest.mark.parametrize("source", ["waves.root", "waves.h5"])
def test_replay_of_every_part_reproduces_the_events(recorded: Path, source: str, project: Path) -> None:
    configs = {"replay.yaml": f"path: {recorded / source}\n", "collect.yaml": "name: replayed\n"}
    functions = [
        fkt(1, "replay", "RB_1: write", "replay.yaml"),
        fkt(2, "collect", "RB_1: read", "collect.yaml"),
    ]
    setup = write_setup(project, functions, configs, samples=SAMPLES, name="replay_setup.yaml")
    code, out = run(["run", str(setup), "-v", "1"], project, timeout=200)
    assert code == 0, out
    got = np.load(only_run_dir(project / "target") / "replayed.npz")
    meta, values = got["meta"], got["values"]
    assert meta[:, 0].astype(int).tolist() == list(range(1, N + 1))
    original = pd.read_parquet(recorded / "waves.parquet").set_index("counter")
    np.testing.assert_array_equal(meta[:, 1], original.loc[meta[:, 0].astype(int), "timestamp"].to_numpy())
    for (counter, _, _), event in zip(meta[::97], values[::97], strict=True):
        for name, expect in zip(WAVES, w.waveform(int(counter), SAMPLES), strict=True):
            np.testing.assert_array_equal(event[name], expect)
