"""Files are complete however a run ends; after SIGKILL what was flushed is readable; errors are loud."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from iokit import MODS, fkt, run, start, write_setup
from support import finish, only_run_dir, summary, wait_for_run_dir, wait_until
from support.shm import remove_shared_memory_of

from mimocorb.mimo_buffer import NewBuffer, Writer

sys.path.insert(0, str(MODS))
import io_workers as w

SAMPLES = 20
MANIFESTS = Path(".mimocorb") / "files"


def endless_setup(project: Path, sleep: float = 0.002, flush_seconds: float = 0.3, kbd: bool = False) -> Path:
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "to_record", "RB_1: read, RB_2: write"),
        fkt(3, "record_parquet", "RB_1: read", "wave.yaml"),
        fkt(4, "save_tar", "RB_1: read", "tar.yaml"),
        fkt(5, "save_txt", "RB_2: read", "txt.yaml"),
    ]
    configs = {
        "src.yaml": f"n_events: 0\nsleep: {sleep}\n",
        "wave.yaml": f"filename: waves\nflush_seconds: {flush_seconds}\n",
        "tar.yaml": "filename: waves\n",
        "txt.yaml": "filename: records\n",
    }
    return write_setup(project, functions, configs, samples=SAMPLES, kbd=kbd)


def check_waves(frame: pd.DataFrame) -> None:
    for row in frame.itertuples():
        for name, values in zip(("ch1", "ch2", "ch3"), w.waveform(row.counter, SAMPLES), strict=True):
            np.testing.assert_array_equal(getattr(row, name), values)


def finished_tar_members(path: Path) -> list[tarfile.TarInfo]:
    """The members of the archive at ``path``, which must end with its end-of-archive blocks."""
    raw = path.read_bytes()
    assert len(raw) % tarfile.RECORDSIZE == 0 and raw[-1024:] == bytes(1024), f"{path.name} not finished"
    with tarfile.open(path) as tar:
        return tar.getmembers()


def assert_complete(run_dir: Path) -> int:
    """Every file holds exactly the events that entered RB_1, the tar archive is properly ended."""
    n = summary(run_dir)["events"]
    assert n > 0
    frame = pd.read_parquet(run_dir / "waves.parquet")
    assert sorted(frame["counter"]) == list(range(1, n + 1))
    check_waves(frame.sample(min(n, 20), random_state=1))
    assert len(finished_tar_members(run_dir / "waves.tar")) == n
    lines = (run_dir / "records.txt").read_text().splitlines()
    assert len(lines) == n + 1
    files = summary(run_dir)["files"]
    for name in ("waves.parquet", "waves.tar", "records.txt"):
        assert files[name]["events"] == n and files[name]["complete"], (name, files[name])
    return n


@pytest.mark.slow
@pytest.mark.parametrize("limit", [["--runtime", "1"], ["--events", "123"]], ids=["runtime", "runevents"])
def test_files_complete_after_an_end_condition(project: Path, limit: list[str]) -> None:
    setup = endless_setup(project)
    code, out = run(["run", str(setup), "-v", "1", *limit], project)
    assert code == 0, out
    run_dir = only_run_dir(project / "target")
    n = assert_complete(run_dir)
    if limit[0] == "--events":
        assert n == 123


def test_exporters_work_under_spawn(project: Path) -> None:
    """Nothing of the exporters depends on fork: workers import them afresh under spawn."""
    code, out = run(
        ["run", str(endless_setup(project)), "-v", "1", "--events", "30", "--start-method", "spawn"], project
    )
    assert code == 0, out
    assert assert_complete(only_run_dir(project / "target")) == 30


def wait_for_parts(dataset: Path, count: int, timeout: float = 30.0) -> None:
    what = f"{count} parts in {dataset}"
    wait_until(lambda: len(list(dataset.glob("part-*.parquet"))) >= count, timeout, what)


@pytest.mark.slow
def test_files_complete_after_sigterm_of_the_run(project: Path) -> None:
    proc = start(["run", str(endless_setup(project)), "-v", "1"], project)
    run_dir = run_directory(project)
    wait_for_parts(run_dir / "waves.parquet", 2)
    proc.send_signal(signal.SIGTERM)
    out = finish(proc)
    assert proc.returncode == 0, out
    assert summary(run_dir)["end_reason"] == "SIGTERM"
    assert_complete(run_dir)


def test_files_complete_after_the_stop_command(project: Path) -> None:
    proc = start(["run", str(endless_setup(project, kbd=True)), "-v", "1"], project, stdin=subprocess.PIPE)
    run_dir = run_directory(project)
    wait_for_parts(run_dir / "waves.parquet", 2)
    assert proc.stdin is not None
    proc.stdin.write("S\n")
    proc.stdin.flush()  # not a terminal: nobody can type E, so the run ends after draining
    out = finish(proc)
    assert proc.returncode == 0, out
    assert summary(run_dir)["end_reason"] == "stop command"
    assert_complete(run_dir)


def exporter_pid(run_dir: Path, fmt: str, name: str) -> int:
    manifests = list((run_dir / MANIFESTS).glob(f"{fmt}-{name}-*.json"))
    assert len(manifests) == 1, manifests
    return json.loads(manifests[0].read_text())["pid"]


def flushed_events(run_dir: Path) -> int:
    manifest = next((run_dir / MANIFESTS).glob("parquet-waves.parquet-*.json"))
    return json.loads(manifest.read_text())["events"]


def run_directory(project: Path) -> Path:
    return wait_for_run_dir(project / "target", 30, holding="waves.parquet")


@pytest.mark.slow
def test_sigkill_of_the_recorder_leaves_the_flushed_parts_readable(project: Path) -> None:
    proc = start(["run", str(endless_setup(project)), "-v", "1"], project)
    run_dir = run_directory(project)
    wait_for_parts(run_dir / "waves.parquet", 2)
    flushed = flushed_events(run_dir)
    os.kill(exporter_pid(run_dir, "parquet", "waves.parquet"), signal.SIGKILL)
    out = finish(proc)
    assert proc.returncode == 3, out  # a worker died: reported, run ended in order
    s = summary(run_dir)
    assert any("record_parquet" in f for f in s["failures"]), s["failures"]
    frame = pd.read_parquet(run_dir / "waves.parquet")  # only complete parts are in the directory
    n = len(frame)
    assert n >= flushed > 0
    assert frame["counter"].tolist() == list(range(1, n + 1))
    check_waves(frame)
    assert s["files"]["waves.parquet"]["events"] == n and not s["files"]["waves.parquet"]["complete"]
    assert_complete_tar_and_txt(run_dir)


@pytest.mark.slow
def test_sigterm_of_the_exporters_finishes_their_files(project: Path) -> None:
    """SIGTERM (an operator's kill, or the controller's last resort) finishes the file, then kills."""
    proc = start(["run", str(endless_setup(project)), "-v", "1"], project)
    run_dir = run_directory(project)
    wait_for_parts(run_dir / "waves.parquet", 2)
    os.kill(exporter_pid(run_dir, "tar", "waves.tar"), signal.SIGTERM)
    os.kill(exporter_pid(run_dir, "parquet", "waves.parquet"), signal.SIGTERM)
    os.kill(exporter_pid(run_dir, "txt", "records.txt"), signal.SIGTERM)
    out = finish(proc)
    assert proc.returncode == 3, out
    s = summary(run_dir)
    killed = [x for x in s["workers"] if x["fkt_name"] in ("save_tar", "record_parquet", "save_txt")]
    assert len(killed) == 3 and all("SIGTERM" in x["exit"] for x in killed), killed
    members = finished_tar_members(run_dir / "waves.tar")
    assert s["files"]["waves.tar"]["events"] == len(members) > 0 and s["files"]["waves.tar"]["complete"]
    frame = pd.read_parquet(run_dir / "waves.parquet")
    assert frame["counter"].tolist() == list(range(1, len(frame) + 1))
    assert s["files"]["waves.parquet"]["events"] == len(frame) and s["files"]["waves.parquet"]["complete"]
    assert not list((run_dir / "waves.parquet").glob(".*.tmp"))
    lines = (run_dir / "records.txt").read_text().splitlines()
    assert s["files"]["records.txt"]["events"] == len(lines) - 1 and s["files"]["records.txt"]["complete"]


def assert_complete_tar_and_txt(run_dir: Path) -> None:
    n = summary(run_dir)["events"]
    with tarfile.open(run_dir / "waves.tar") as tar:
        assert len(tar.getmembers()) == n
    assert len((run_dir / "records.txt").read_text().splitlines()) == n + 1


def test_sigkill_of_the_whole_run_leaves_the_flushed_parts_readable(project: Path) -> None:
    proc = start(["run", str(endless_setup(project)), "-v", "1"], project, start_new_session=True)
    run_dir = run_directory(project)
    wait_for_parts(run_dir / "waves.parquet", 3)
    flushed = flushed_events(run_dir)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    remove_shared_memory_of(proc.pid)
    frame = pd.read_parquet(run_dir / "waves.parquet")
    n = len(frame)
    assert n >= flushed > 0
    assert frame["counter"].tolist() == list(range(1, n + 1))
    check_waves(frame)
    for part in (run_dir / "waves.parquet").glob("part-*.parquet"):
        assert pq.ParquetFile(part).metadata.num_rows > 0
    with tarfile.open(run_dir / "waves.tar") as tar:  # cut short, but every member before the cut is whole
        members = list(tar)
        assert len(members) >= flushed
        for member in members:
            k = int(member.name.split("_")[1].split(".")[0])
            got = pd.read_parquet(tar.extractfile(member))
            np.testing.assert_array_equal(got["ch2"].to_numpy(), w.waveform(k, SAMPLES)[1])


@pytest.mark.slow
def test_a_full_disk_fails_the_recorder_loudly(project: Path) -> None:
    functions = [
        fkt(1, "source", "RB_1: write", "src.yaml"),
        fkt(2, "disk_limit_recorder", "RB_1: read", "wave.yaml"),
    ]
    configs = {
        "src.yaml": "n_events: 0\nsleep: 0.001\n",
        "wave.yaml": "filename: waves\nflush_events: 5\nlimit: 6000\n",
    }
    setup = write_setup(project, functions, configs, samples=200)
    code, out = run(["run", str(setup), "-v", "1"], project)
    assert code == 3, out
    run_dir = only_run_dir(project / "target")
    s = summary(run_dir)
    assert s["failures"] and "File too large" in json.dumps(s["workers"]), s["failures"]
    entry = s["files"]["waves.parquet"]
    assert not entry["complete"] and "error" in entry["writers"][0]
    assert not list((run_dir / "waves.parquet").glob(".*.tmp")), "a half-written part was left behind"


def test_read_only_output_directory_is_an_error_before_the_run(project: Path) -> None:
    if os.geteuid() != 0:
        locked = project / "locked"
        locked.mkdir(mode=0o555)
    elif Path("/sys").is_dir():
        locked = Path("/sys")  # root may write anywhere, but nobody may make a directory in sysfs
    else:
        pytest.skip("running as root without /sys: no directory here is read-only for root")
    before = sorted(locked.iterdir())
    setup = endless_setup(project)
    setup.write_text(setup.read_text().replace("output_directory: target", f"output_directory: {locked}"))
    code, out = run(["run", str(setup)], project)
    assert code == 1 and "output_directory" in out and "not writable" in out, out
    assert sorted(locked.iterdir()) == before


@pytest.mark.parametrize("where", ["file_in_the_way", "uncreatable"])
def test_missing_output_directory_that_cannot_be_made_is_an_error(project: Path, where: str) -> None:
    if where == "file_in_the_way":
        (project / "afile").write_text("x")
        output = str(project / "afile" / "runs")
    else:
        if not Path("/sys").is_dir():
            pytest.skip("needs /sys (Linux), where nobody may create directories")
        output = "/sys/mimocorb-no-such-dir/runs"
    setup = endless_setup(project)
    setup.write_text(setup.read_text().replace("output_directory: target", f"output_directory: {output}"))
    code, out = run(["run", str(setup)], project)
    assert code == 1, out
    assert "output_directory" in out and "cannot be created" in out, out
    code, out = run(["validate", str(setup)], project)
    assert code == 1 and "cannot be created" in out, out


def _export_terminated_in_its_first_member(group: dict, directory: Path) -> None:
    """Child process: the tar exporter, sent SIGTERM by itself in the middle of writing its first member
    (after the member's bytes, before the write is done), the moment a kill from outside can only hit
    by chance."""
    from mimocorb.buffer_control import rb_toParquetfile

    add = tarfile.TarFile.addfile

    def add_then_terminated(self: tarfile.TarFile, *args: Any, **kwargs: Any) -> None:
        add(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    tarfile.TarFile.addfile = add_then_terminated  # type: ignore[method-assign]
    rb_toParquetfile([group], {"directory_prefix": f"{directory}/", "filename": "waves"}, RB_1="read")()


def test_sigterm_while_a_member_is_written_finishes_and_counts_that_member(tmp_path: Path) -> None:
    """The member being written is completed, the archive finished, and the member counted."""
    buf = NewBuffer(2, 10, [("x", np.float64)])
    exporter = multiprocessing.get_context("fork").Process(
        target=_export_terminated_in_its_first_member, args=(buf.new_reader_group(), tmp_path)
    )
    try:
        exporter.start()
        writer = Writer(buf.new_writer())
        writer.get_new_buffer()["x"] = 1.5
        writer.set_metadata(1, 0.0, 0.0)
        writer.process_buffer()
        exporter.join(30)
    finally:
        buf.shutdown(timeout=1.0)
        buf.close()
        if exporter.is_alive():
            exporter.kill()
    assert exporter.exitcode == -signal.SIGTERM
    assert [m.name for m in finished_tar_members(tmp_path / "waves.tar")] == ["waves_1.parquet"]
    (manifest,) = (tmp_path / MANIFESTS).glob("tar-*.json")
    entry = json.loads(manifest.read_text())
    assert entry["events"] == 1 and entry["complete"], entry
