"""Round trips through real runs: every value and metadata field written, read back and compared."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from iokit import MODS, fkt, run, write_setup
from support import only_run_dir, summary

from mimocorb.io.reading import blocks

sys.path.insert(0, str(MODS))
import io_workers as w

# under -n the tests stay in one process: they share one recording run
pytestmark = pytest.mark.xdist_group("io-roundtrip")

N = 40
SAMPLES = 50


def recording_setup(project: Path) -> Path:
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "to_record", "RB_1: read, RB_2: write"),
        fkt(3, "record_parquet", "RB_1: read", "wave.yaml"),
        fkt(4, "save_tar", "RB_1: read", "tar.yaml"),
        fkt(5, "save_txt", "RB_2: read", "txt.yaml"),
        fkt(6, "record_parquet", "RB_2: read", "rec.yaml"),
    ]
    configs = {
        "src.yaml": f"n_events: {N}\n",
        "wave.yaml": "filename: waves\nflush_events: 7\n",
        "tar.yaml": "filename: waves\n",
        "txt.yaml": "filename: records\nheader_alias: {amp: Amplitude, counter: EventNo}\n",
        "rec.yaml": "compression: zstd\n",
    }
    return write_setup(project, functions, configs, samples=SAMPLES)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run writing every format (shared by the tests of this module: a run takes a few seconds)."""
    project = tmp_path_factory.mktemp("rec")
    setup = recording_setup(project)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    return only_run_dir(project / "target")


def expected_waves(counters: np.ndarray) -> list[list[np.ndarray]]:
    return [w.waveform(int(k), SAMPLES) for k in counters]


def test_dataset_read_by_pandas_has_every_value_and_metadata(recorded: Path) -> None:
    frame = pd.read_parquet(recorded / "waves.parquet")
    assert len(frame) == N
    frame = frame.sort_values("counter")
    assert frame["counter"].tolist() == list(range(1, N + 1))
    assert frame["timestamp"].is_monotonic_increasing
    assert ((frame["deadtime"] >= 0) & (frame["deadtime"] < 1)).all()
    for row in frame.itertuples():
        expect = w.waveform(row.counter, SAMPLES)
        for name, values in zip(("ch1", "ch2", "ch3"), expect, strict=True):
            got = getattr(row, name)
            assert got.dtype == values.dtype, name
            np.testing.assert_array_equal(got, values)


def test_dataset_schema_metadata_and_parts(recorded: Path) -> None:
    parts = sorted((recorded / "waves.parquet").glob("part-*.parquet"))
    assert len(parts) == math.ceil(N / 7)  # flush_events: 7
    schema = pq.read_schema(parts[0])
    assert schema.field("ch1").type == pa.list_(pa.float32(), SAMPLES)
    assert schema.field("ch2").type == pa.list_(pa.int32(), SAMPLES)
    assert schema.field("counter").type == pa.int64()
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    assert meta["mimocorb.buffer"] == "RB_1"
    assert '"ch2", "<i4"' in meta["mimocorb.dtype"]
    assert "rec_setup.yaml" in meta["mimocorb.setup"]
    assert pq.ParquetFile(parts[0]).metadata.row_group(0).column(3).compression == "LZ4"


def test_scalar_dataset_and_txt_agree_with_the_records(recorded: Path) -> None:
    frame = pd.read_parquet(recorded / "RB_2.parquet").sort_values("counter")
    assert frame["counter"].tolist() == list(range(1, N + 1))
    assert frame["amp"].dtype == np.float32 and frame["pos"].dtype == np.int32
    exact = {"float_precision": "round_trip"} if pd.__version__.startswith("2.") else {}  # pandas 3: default
    text = pd.read_csv(recorded / "records.txt", sep="\t", **exact)
    assert list(text.columns) == ["EventNo", "timestamp", "deadtime", "Amplitude", "pos", "area"]
    text = text.sort_values("EventNo")
    for k, (rec, txt) in enumerate(zip(frame.itertuples(), text.itertuples(), strict=True), start=1):
        expect = w.record(k)[0]
        assert rec.amp == expect["amp"] and rec.pos == expect["pos"] and rec.area == expect["area"]
        assert np.float32(txt.Amplitude) == expect["amp"]
        assert txt.pos == expect["pos"] and txt.area == expect["area"]
        assert txt.timestamp == rec.timestamp and txt.deadtime == rec.deadtime


def test_txt_read_back_by_mimocorb_is_bit_exact(recorded: Path) -> None:
    """Replay and inspect read text files through ``blocks``: metadata must equal the dataset's."""
    (block,) = blocks(recorded / "records.txt")
    frame = pd.read_parquet(recorded / "RB_2.parquet").set_index("counter")
    assert sorted(block.counter.tolist()) == list(range(1, N + 1))
    rows = frame.loc[block.counter]
    np.testing.assert_array_equal(block.timestamp, rows["timestamp"].to_numpy())
    np.testing.assert_array_equal(block.deadtime, rows["deadtime"].to_numpy())
    np.testing.assert_array_equal(block.fields["area"][:, 0], rows["area"].to_numpy())


def test_txt_format_is_the_original_one(recorded: Path) -> None:
    lines = (recorded / "records.txt").read_text().splitlines()
    assert lines[0] == "EventNo\ttimestamp\tdeadtime\tAmplitude\tpos\tarea"
    first = {int(line.split("\t")[0]): line.split("\t") for line in lines[1:]}[3]
    assert first[0] == "3"
    assert first[3] == str(np.float32(1.0))  # float32 in its own shortest form: 3/3 -> "1.0"
    assert first[4] == "-33"
    assert first[5] == repr(3 * np.pi * 1e6)


def test_tar_archive_members_and_content(recorded: Path) -> None:
    import tarfile

    with tarfile.open(recorded / "waves.tar") as tar:
        members = tar.getmembers()
        assert sorted(m.name for m in members) == sorted(f"waves_{k}.parquet" for k in range(1, N + 1))
        assert all(m.mtime == 0 and m.mode == 0o644 for m in members)
        frame = pd.read_parquet(tar.extractfile(members[0]))
    k = int(members[0].name.split("_")[1].split(".")[0])
    assert list(frame.columns) == ["ch1", "ch2", "ch3"] and len(frame) == SAMPLES
    for name, values in zip(("ch1", "ch2", "ch3"), w.waveform(k, SAMPLES), strict=True):
        assert frame[name].dtype == values.dtype
        np.testing.assert_array_equal(frame[name].to_numpy(), values)


def test_parquetReader_reads_the_archive(recorded: Path) -> None:
    from mimocorb.parquetReader import parquetReader

    reader = parquetReader({"path": str(recorded), "number_of_samples": SAMPLES, "sleeptime": 0})
    reader.init(3, SAMPLES, ["ch1", "ch2", "ch3"])
    seen = 0
    while (event := reader()) is not None:
        k = -int(event[1][0]) // 3
        for got, values in zip(event, w.waveform(k, SAMPLES), strict=True):
            np.testing.assert_array_equal(got, values)
        seen += 1
    assert seen == N


def test_summary_states_events_per_file(recorded: Path) -> None:
    files = summary(recorded)["files"]
    assert files["waves.parquet"]["events"] == N and files["waves.parquet"]["complete"]
    parts = files["waves.parquet"]["writers"][0]["parts"]
    assert sum(p["events"] for p in parts) == N and len(parts) == math.ceil(N / 7)
    assert files["waves.tar"] == {**files["waves.tar"], "events": N, "complete": True, "format": "tar"}
    assert files["records.txt"]["events"] == N and files["RB_2.parquet"]["events"] == N


@pytest.mark.slow
@pytest.mark.parametrize("source", ["waves.parquet", "waves.tar"])
def test_replay_feeds_the_recording_back_with_its_metadata(
    recorded: Path, source: str, project: Path
) -> None:
    configs = {
        "replay.yaml": f"path: {recorded / source}\n",
        "collect.yaml": "name: replayed\n",
    }
    functions = [
        fkt(1, "replay", "RB_1: write", "replay.yaml"),
        fkt(2, "collect", "RB_1: read", "collect.yaml"),
    ]
    setup = write_setup(project, functions, configs, samples=SAMPLES, name="replay_setup.yaml")
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    assert summary(run_dir)["end_reason"] == "source exhausted"
    got = np.load(run_dir / "replayed.npz")
    meta, values = got["meta"], got["values"]
    assert len(meta) == N
    original = pd.read_parquet(recorded / "waves.parquet").set_index("counter")
    for (counter, timestamp, deadtime), event in zip(meta, values, strict=True):
        if source.endswith(".parquet"):  # the tar format keeps only the counter
            assert timestamp == original.loc[int(counter), "timestamp"]
            assert deadtime == original.loc[int(counter), "deadtime"]
        for name, expect in zip(("ch1", "ch2", "ch3"), w.waveform(int(counter), SAMPLES), strict=True):
            np.testing.assert_array_equal(event[name], expect)
    assert sorted(meta[:, 0].astype(int)) == list(range(1, N + 1))


@pytest.mark.slow
def test_several_processes_of_one_exporter_share_the_work(project: Path) -> None:
    """num_process: 2 — each event is in exactly one part (or line); the summary adds the writers up."""
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "to_record", "RB_1: read, RB_2: write"),
        fkt(3, "record_parquet", "RB_1: read", "wave.yaml", num=2),
        fkt(4, "save_txt", "RB_2: read", "txt.yaml", num=2),
        fkt(5, "save_tar", "RB_1: read", "tar.yaml", num=2),
    ]
    configs = {"src.yaml": f"n_events: {N}\n", "wave.yaml": "filename: waves\nflush_events: 4\n"}
    configs["txt.yaml"] = "filename: records\n"
    configs["tar.yaml"] = "filename: waves\n"
    setup = write_setup(project, functions, configs, samples=SAMPLES)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 0, out
    assert f"waves.parquet: {N} events written" in out  # the console summary names every file
    run_dir = only_run_dir(project / "target")
    frame = pd.read_parquet(run_dir / "waves.parquet")
    assert sorted(frame["counter"]) == list(range(1, N + 1))
    for row in frame.itertuples():
        np.testing.assert_array_equal(row.ch2, w.waveform(row.counter, SAMPLES)[1])
    lines = (run_dir / "records.txt").read_text().splitlines()
    assert lines[0].startswith("counter\t") and sorted(int(x.split("\t")[0]) for x in lines[1:]) == list(
        range(1, N + 1)
    )
    from mimocorb.parquetReader import parquetReader

    reader = parquetReader({"path": str(run_dir), "number_of_samples": SAMPLES, "sleeptime": 0})
    reader.init(3, SAMPLES, ["ch1", "ch2", "ch3"])  # waves.tar and waves_<pid>.tar, one per process
    counters = []
    while (event := reader()) is not None:
        counters.append(-int(event[1][0]) // 3)
    assert sorted(counters) == list(range(1, N + 1))
    files = summary(run_dir)["files"]
    assert sum(f["events"] for name, f in files.items() if name.endswith(".tar")) == N
    assert files["waves.parquet"]["events"] == N and len(files["waves.parquet"]["writers"]) == 2
    assert files["records.txt"]["events"] == N and files["records.txt"]["complete"]
