"""Readers, replay options, inspect and argument checks, on files written by the real exporters."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from iokit import MODS, fkt, run, write_setup
from support import only_run_dir

from mimocorb.buffer_control import rb_toParquetfile, rb_toTxtfile
from mimocorb.io import ParquetRecorder
from mimocorb.mimo_buffer import NewBuffer, Writer
from mimocorb.parquetReader import parquetReader

# under -n the tests stay in one process: they share one recording run
pytestmark = pytest.mark.xdist_group("io-tools")

sys.path.insert(0, str(MODS))

SAMPLES = 30
N = 25


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of N events with a paced source: a dataset (several parts), a tar archive and a text file."""
    project = tmp_path_factory.mktemp("tools")
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "to_record", "RB_1: read, RB_2: write"),
        fkt(3, "record_parquet", "RB_1: read", "wave.yaml"),
        fkt(4, "save_tar", "RB_1: read", "tar.yaml"),
        fkt(5, "save_txt", "RB_2: read", "txt.yaml"),
    ]
    configs = {
        "src.yaml": f"n_events: {N}\nsleep: 0.02\n",
        "wave.yaml": "filename: waves\nflush_events: 10\n",
        "tar.yaml": "filename: waves\n",
        "txt.yaml": "filename: records\n",
    }
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    return only_run_dir(project / "target")


# -- inspect -----------------------------------------------------------------------------------------


def test_inspect_dataset(recording: Path, project: Path) -> None:
    code, out = run(["inspect", str(recording / "waves.parquet"), "--json"], project)
    assert code == 0, out
    info = json.loads(out)
    frame = pd.read_parquet(recording / "waves.parquet")
    assert info["events"] == N and info["parts"] == 3 and info["buffer"] == "RB_1"
    assert info["fields"] == {
        "ch1": f"float32 x {SAMPLES}",
        "ch2": f"int32 x {SAMPLES}",
        "ch3": f"float64 x {SAMPLES}",
    }
    span = frame["timestamp"].max() - frame["timestamp"].min()
    assert info["time_span_s"] == pytest.approx(span, abs=1e-5)
    assert info["rate_hz"] == pytest.approx((N - 1) / span, rel=1e-3)
    code, text = run(["inspect", str(recording / "waves.parquet")], project)
    assert code == 0 and f"events:    {N}" in text and "rate:" in text, text


def test_inspect_tar_and_txt(recording: Path, project: Path) -> None:
    code, out = run(["inspect", str(recording / "waves.tar"), "--json"], project)
    assert code == 0, out
    info = json.loads(out)
    assert info["format"] == "tar" and info["events"] == N and info["counters"] == [1, N]
    assert info["time_span_s"] is None and set(info["fields"]) == {"ch1", "ch2", "ch3"}
    code, out = run(["inspect", str(recording / "records.txt"), "--json"], project)
    info = json.loads(out)
    assert info["format"] == "txt" and info["events"] == N and info["rate_hz"] > 0


def test_inspect_unknown_file_is_a_clear_error(project: Path) -> None:
    (project / "notes.csv").write_text("a,b\n")
    code, out = run(["inspect", str(project / "notes.csv")], project)
    assert code == 1 and "unknown format" in out and "notes.csv" in out
    code, out = run(["inspect", str(project / "missing.parquet")], project)
    assert code == 1 and "no recorded file" in out


# -- replay timing and metadata ------------------------------------------------------------------


def replay_run(project: Path, recording: Path, options: str, source: str = "waves.parquet") -> np.ndarray:
    configs = {"replay.yaml": f"path: {recording / source}\n{options}", "collect.yaml": "name: replayed\n"}
    functions = [
        fkt(1, "replay", "RB_1: write", "replay.yaml"),
        fkt(2, "collect", "RB_1: read", "collect.yaml"),
    ]
    setup = write_setup(project, functions, configs, samples=SAMPLES, name="replay_setup.yaml")
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    return np.load(only_run_dir(project / "target") / "replayed.npz")["meta"]


@pytest.mark.slow
def test_replay_at_the_recorded_timing_keeps_the_intervals(recording: Path, project: Path) -> None:
    """The replayed events are stamped anew; their spacing is at least the recorded one (sleeps only add)."""
    meta = replay_run(project, recording, "timing: recorded\nmetadata: new\n")
    original = pd.read_parquet(recording / "waves.parquet")["timestamp"].to_numpy()
    assert list(meta[:, 0]) == list(range(1, N + 1))  # new metadata: counted by the replay source
    assert meta[-1, 1] - meta[0, 1] >= 0.95 * (original[-1] - original[0])


def test_replay_at_a_fixed_rate(recording: Path, project: Path) -> None:
    meta = replay_run(project, recording, "timing: fixed\nrate: 50\nmetadata: new\n", source="waves.tar")
    assert len(meta) == N
    assert meta[-1, 1] - meta[0, 1] >= 0.95 * (N - 1) / 50


def test_replay_poisson_keeps_original_metadata(recording: Path, project: Path) -> None:
    meta = replay_run(project, recording, "timing: poisson\nrate: 400\n")
    original = pd.read_parquet(recording / "waves.parquet").sort_values("counter")
    np.testing.assert_array_equal(meta[:, 1], original["timestamp"].to_numpy())
    np.testing.assert_array_equal(meta[:, 2], original["deadtime"].to_numpy())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("timing: recorded\n", "does not store"),
        ("timing: fixed\n", "needs config key 'rate'"),
        ("timing: sometimes\n", "'timing' must be one of"),
        ("rate: -3\ntiming: poisson\n", "'rate' must be a positive number"),
    ],
)
def test_replay_config_errors_name_the_key(recording: Path, project: Path, config: str, message: str) -> None:
    configs = {"replay.yaml": f"path: {recording / 'waves.tar'}\n{config}"}
    functions = [fkt(1, "replay", "RB_1: write", "replay.yaml"), fkt(2, "collect", "RB_1: read", "c.yaml")]
    configs["c.yaml"] = "name: none\n"
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 1 and message in out and "replay.yaml" in out, out  # before anything started
    assert not (project / "target").exists()


def test_recorder_config_errors_are_found_by_validate(project: Path) -> None:
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "record_parquet", "RB_1: read", "w.yaml"),
    ]
    configs = {"src.yaml": "n_events: 3\n", "w.yaml": "compression: zip\nflush_seconds: 0\n"}
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    code, out = run(["validate", str(setup)], project)
    assert code == 1 and "'flush_seconds' must be a positive number" in out and "w.yaml" in out, out


# -- parquetReader -------------------------------------------------------------------------


def test_parquetReader_without_archive_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        parquetReader({"path": str(tmp_path), "number_of_samples": 10})


def test_parquetReader_reads_sorted_and_skips_non_file_members(tmp_path: Path) -> None:
    def archive(name: str, values: list[int]) -> None:
        with tarfile.open(tmp_path / name, "w:gz") as tar:
            tar.addfile(_dir_member("adir"))
            for v in values:
                sink = pa.BufferOutputStream()
                pq.write_table(pa.table({"x": np.full(4, v, dtype=np.int32)}), sink)
                payload = sink.getvalue().to_pybytes()
                info = tarfile.TarInfo(f"ev_{v}.parquet")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))

    archive("b.tgz", [3, 4])
    archive("a.tar.gz", [1, 2])
    (tmp_path / "readme.txt").write_text("not an archive")
    reader = parquetReader({"path": str(tmp_path), "number_of_samples": 4, "sleeptime": 0})
    reader.init(1, 4, ["x"])
    got = []
    while (event := reader()) is not None:
        got.append(int(event[0][0]))
    assert got == [1, 2, 3, 4]


def _dir_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


# -- argument checks (before anything is attached or written) ------------------------------------


def test_exporter_argument_errors(tmp_path: Path) -> None:
    buf = NewBuffer(4, 10, [("x", np.float64)])
    try:
        group = buf.new_reader_group()
        cfg = {"directory_prefix": f"{tmp_path}/", "filename": "out"}
        with pytest.raises(ValueError, match="values per slot"):
            rb_toTxtfile([group], cfg, RB_1="read")
        with pytest.raises(ValueError, match="'filename' is missing"):
            rb_toParquetfile([group], {"directory_prefix": f"{tmp_path}/"}, RB_1="read")
        with pytest.raises(ValueError, match="no buffer is marked 'read'"):
            rb_toParquetfile([group], cfg, RB_1="write")
        with pytest.raises(ValueError, match="'compression' must be one of"):
            ParquetRecorder([group], {**cfg, "compression": "zip"}, RB_1="read")
        with pytest.raises(ValueError, match="'flush_events' must be a positive integer"):
            ParquetRecorder([group], {**cfg, "flush_events": 0}, RB_1="read")
        with pytest.raises(FileNotFoundError, match="does not exist"):
            ParquetRecorder([group], {"directory_prefix": f"{tmp_path}/nowhere/"}, RB_1="read")
        assert list(tmp_path.iterdir()) == []
    finally:
        buf.shutdown(timeout=0.2)
        buf.close()


def test_recorder_flushes_by_time_while_events_are_scarce(tmp_path: Path) -> None:
    """flush_seconds: a part appears although flush_events is far away (the recorder runs in a thread)."""
    buf = NewBuffer(8, 5, [("x", np.int32)])
    group = buf.new_reader_group()
    rec = ParquetRecorder([group], {"directory_prefix": f"{tmp_path}/", "flush_seconds": 0.2}, RB_1="read")
    errors: list[BaseException] = []

    def record() -> None:
        try:
            rec()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=record)
    worker.start()
    try:
        writer = Writer(buf.new_writer())
        for k in range(3):
            slot = writer.get_new_buffer()
            slot["x"] = k
            writer.set_metadata(k + 1, 1.5 * k, 0.0)
            writer.process_buffer()
        parts = tmp_path / "RB_1.parquet"
        for _ in range(100):
            if list(parts.glob("part-*.parquet")):
                break
            threading.Event().wait(0.05)
        frame = pd.read_parquet(parts)
        assert frame["counter"].tolist() == [1, 2, 3] and frame["timestamp"].tolist() == [0.0, 1.5, 3.0]
        assert frame["x"].iloc[2].tolist() == [2] * 5
    finally:
        buf.shutdown(timeout=2.0)
        worker.join(5.0)
        buf.close()
    assert not worker.is_alive() and not errors, errors


def run_in_thread(target) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, errors


def test_txt_number_formats_and_nan(tmp_path: Path) -> None:
    """Integers as integers, floats in the shortest form of their own type, NaN as an empty field."""
    buf = NewBuffer(8, 1, [("f4", np.float32), ("f8", np.float64), ("i2", np.int16)])
    try:
        txt = rb_toTxtfile(
            [buf.new_reader_group()], {"directory_prefix": f"{tmp_path}/", "filename": "t"}, RB_1="read"
        )
        thread, errors = run_in_thread(txt)
        writer = Writer(buf.new_writer())
        for counter, values in enumerate([(0.1, 0.1, -7), (np.nan, 1e300, 32767), (3e-9, -0.0, 0)], 1):
            slot = writer.get_new_buffer()
            slot[0] = values
            writer.set_metadata(counter, 1795579957.0659657, 0.25)
            writer.process_buffer()
        buf.shutdown(timeout=5.0)
        thread.join(5.0)
    finally:
        buf.shutdown(timeout=0.2)
        buf.close()
    assert not errors, errors
    assert (tmp_path / "t.txt").read_text().splitlines() == [
        "counter\ttimestamp\tdeadtime\tf4\tf8\ti2",
        "1\t1795579957.0659657\t0.25\t0.1\t0.1\t-7",
        "2\t1795579957.0659657\t0.25\t\t1e+300\t32767",
        "3\t1795579957.0659657\t0.25\t3e-09\t-0.0\t0",
    ]


def test_plain_dtype_buffer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    buf = NewBuffer(4, 10, np.float64)
    try:
        with pytest.raises(ValueError, match=r"plain dtype float64.*data_type"):
            ParquetRecorder([buf.new_reader_group()], {"directory_prefix": f"{tmp_path}/"}, RB_1="read")
    finally:
        buf.shutdown(timeout=0.2)
        buf.close()
