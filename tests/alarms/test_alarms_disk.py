"""The disk guard: a run recording to a small file system is paused before the file system is full, says
why, and keeps every event it recorded.

The source writes at most 50 events of 256 kB a second (13 MB/s); the alarm is raised below 50 MB free
and the variables are sampled every second, so the run is paused with more than 20 MB to spare even when
the sample comes late. The file system is a 96 MB tmpfs on the output directory, mounted in a user and
mount namespace of the run's own (``unshare -rm`` of util-linux; skipped where it cannot be made, saying
why). What the
run left there is copied out before the namespace goes, and checked here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import support
from alarmkit import MODS, alarm_events

SETUP = f"""output_directory: target
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 8, channel_per_slot: 32768, data_type: {{1: [wave, float64]}}}}
Functions:
  - Fkt_main: {{}}
  - Fkt_1: {{file_name: {MODS / "switched"}, fkt_name: heavy_source, num_process: 1,
             RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: mimocorb.io, fkt_name: record_parquet, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  heavy_source: {{sleep: 0.02}}
  record_parquet: {{flush_events: 16, compression: none, byte_stream_split: false}}
Alarms:
  - disk_low: {{below_gb: 0.05}}
  - no_events: off
"""
# the run in a mount namespace with a 96 MB tmpfs on target/; afterwards target/ is copied out to kept/
SCRIPT = 'mount -t tmpfs -o size=96m tmpfs target && "$@"; code=$?; cp -a target/. kept/; exit $code'


class Output(threading.Thread):
    """The child's output lines, read as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.lines: list[str] = []

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def namespace_missing() -> str | None:
    """Why no tmpfs can be mounted in a namespace of our own here, or None."""
    if not sys.platform.startswith("linux"):
        return "mount namespaces and tmpfs are Linux's"
    if shutil.which("unshare") is None:
        return "util-linux's unshare is not installed"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"unshare -rm cannot mount a tmpfs here: {probe.stderr.strip()}"
    return None


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_run_is_paused_before_the_disk_is_full_and_every_recorded_event_is_kept(project: Path) -> None:
    reason = namespace_missing()
    if reason is not None:
        pytest.skip(reason)
    (project / "setup.yaml").write_text(SETUP, encoding="utf-8")
    (project / "target").mkdir()
    (project / "kept").mkdir()
    run = support.mimocorb_command("run", "setup.yaml")
    command = ["unshare", "-rm", "sh", "-c", SCRIPT, "sh", *run]
    proc = support.start(command, project, stdin=subprocess.PIPE)
    output = Output(proc)
    output.start()
    support.wait_until(lambda: "run paused by alarm disk_low" in output.text(), 120.0, "the disk guard")
    assert proc.stdin is not None
    proc.stdin.write("R\nE\n")  # R is refused: the alarm is not acknowledged
    proc.stdin.close()
    try:
        proc.wait(120.0)
    finally:
        proc.kill()  # only if it is still there
        output.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
    text = output.text()
    assert proc.returncode == 0, text
    assert "ALARM disk_low raised (error): disk_free_gb < 0.05 [disk_free_gb = 0.0" in text
    assert "R refused: alarm disk_low holds the run paused; A disk_low acknowledges it" in text
    run_dir = support.only_run_dir(project / "kept")
    summary = support.summary(run_dir)
    assert summary["end_reason"] == "end command" and summary["exit_code"] == 0
    assert alarm_events(run_dir) == [("disk_low", "raised")]
    recorded = pq.read_table(run_dir / "RB_1.parquet")
    assert recorded.num_rows == summary["events"] == summary["files"]["RB_1.parquet"]["events"] > 100
    assert summary["files"]["RB_1.parquet"]["complete"] and summary["buffers"]["RB_1"]["lost"] == 0
    assert recorded.column("counter").to_pylist() == list(range(1, summary["events"] + 1))
    assert "No space left" not in support.read_log(run_dir)
