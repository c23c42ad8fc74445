"""Whole series of real runs: `python -m mimocorb sequence` in a child process, with a simulated pulse
source whose threshold the steps change; completed, killed and resumed, failing, refused."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from serieskit import expected_passed, project, record, sequence_command, statuses
from support import finish, read_log, run, start, summary, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def running_run(directory: Path, step: int) -> Path | None:
    """The run directory of the step's first run once that run is taking data (None before)."""
    runs = record(directory)["steps"][step - 1]["runs"] if (directory / "series.json").exists() else []
    name = runs[0]["run_directory"] if runs else None
    return directory / name if name and "state: running" in read_log(directory / name) else None


SCAN = """\
setup: pulses_setup.yaml
runtime: 1
scan:
  config/trigger.yaml:
    threshold: {from: 20, to: 60, step: 20}
"""


# one listed step (a value of the setup file itself) at every point of the scan: 3 steps
LISTED_AND_SCAN = (
    SCAN
    + """\
steps:
  - pulses_setup.yaml: {FunctionConfigs.pulse_source.sleep: 0.001}
"""
)


def test_a_three_step_scan_runs_every_step_and_tables_them(tmp_path: Path) -> None:
    series = project(tmp_path, LISTED_AND_SCAN)
    result = run(sequence_command(series), tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout
    directory = tmp_path / "target" / "scan"
    data = record(directory)
    assert data["state"] == "complete"
    assert statuses(data) == [("done", ["ok"])] * 3
    assert [s["overrides"] for s in data["steps"]] == [
        {"pulses_setup.yaml FunctionConfigs.pulse_source.sleep": 0.001, "config/trigger.yaml threshold": t}
        for t in (20, 40, 60)
    ]
    table = (directory / "series.md").read_text(encoding="utf-8")
    for step, threshold in zip(data["steps"], (20, 40, 60), strict=True):
        (only,) = step["runs"]
        run_dir = directory / only["run_directory"]
        facts = summary(run_dir)
        assert only["end_reason"] == facts["end_reason"] == "runtime"
        assert only["events"] == facts["events"] > 0
        # the threshold reached the worker: exactly the seeded pulses above it passed
        passed = facts["buffers"]["RB_2"]["events"]
        assert passed == expected_passed(facts["events"], threshold)
        # the run directory holds the files as the step used them
        copy = (run_dir / "trigger.yaml").read_text(encoding="utf-8")
        assert f"\nthreshold: {threshold}\n" in copy and "fail: false" in copy
        setup_copy = (run_dir / "pulses_setup.yaml").read_text(encoding="utf-8")
        assert "pulse_source:\n    sleep: 0.001\n" in setup_copy
        assert f"| {step['step']} | 0.001 | {threshold} | 1 | ok | runtime | {facts['events']} |" in table
        assert f"step {step['step']} of series scan" in read_log(run_dir)
    assert (directory / "scan.yaml").read_text(encoding="utf-8") == LISTED_AND_SCAN
    # the same command again finds nothing left to run
    again = run(sequence_command(series), tmp_path, timeout=60)
    assert again.returncode == 0 and "nothing is left to run" in again.stdout
    assert len(record(directory)["steps"][0]["runs"]) == 1


def test_a_series_killed_in_step_2_goes_on_with_step_2_and_3(tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()  # step 2's filter waits while this file exists: the step is surely running when killed
    series = project(
        tmp_path,
        f"""\
setup: pulses_setup.yaml
runtime: 1
steps:
  - config/trigger.yaml: {{threshold: 20}}
  - config/trigger.yaml: {{threshold: 40, hold: {hold}}}
  - config/trigger.yaml: {{threshold: 60}}
""",
    )
    directory = tmp_path / "target" / "scan"
    proc = start(sequence_command(series, "--grace", "100"), tmp_path, start_new_session=True)

    cut = wait_until(lambda: running_run(directory, 2), 60.0, "step 2 running")
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc, 30)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in cut.iterdir())
    assert not (cut / "run_summary.json").exists()
    assert statuses(record(directory))[1] == ("running", ["running"])
    hold.unlink()

    result = run(sequence_command(series), tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout
    assert f"run {cut.name} was interrupted; it is kept as it is" in result.stdout
    data = record(directory)
    assert data["state"] == "complete"
    assert statuses(data) == [("done", ["ok"]), ("done", ["interrupted", "ok"]), ("done", ["ok"])]
    first, second = data["steps"][1]["runs"]
    assert first["run_directory"] == cut.name and second["run_directory"] != cut.name
    assert sorted((p.name, p.stat().st_mtime_ns) for p in cut.iterdir()) == before  # untouched
    assert summary(directory / second["run_directory"])["end_reason"] == "runtime"
    assert "interrupted" in (directory / "series.md").read_text(encoding="utf-8")


FAILING = """\
setup: pulses_setup.yaml
runtime: 1
on_failure: {{retry: 1, then: {then}}}
steps:
  - config/trigger.yaml: {{threshold: 20}}
  - config/trigger.yaml: {{threshold: 40, fail: true}}
  - config/trigger.yaml: {{threshold: 60}}
"""


@pytest.mark.parametrize(
    ("then", "steps", "state"),
    [
        ("skip", [("done", ["ok"]), ("skipped", ["failed", "failed"]), ("done", ["ok"])], "complete"),
        ("stop", [("done", ["ok"]), ("stopped", ["failed", "failed"]), ("pending", [])], "stopped"),
    ],
)
def test_a_failing_step_is_run_again_then_skipped_or_stops_the_series(
    tmp_path: Path, then: str, steps: list, state: str
) -> None:
    series = project(tmp_path, FAILING.format(then=then))
    result = run(sequence_command(series), tmp_path, timeout=120)
    assert result.returncode == 3, result.stdout
    assert "step 2 failed (Fkt_2 threshold_filter" in result.stdout
    directory = tmp_path / "target" / "scan"
    data = record(directory)
    assert statuses(data) == steps and data["state"] == state
    for failed in data["steps"][1]["runs"]:
        facts = summary(directory / failed["run_directory"])
        assert facts["exit_code"] == 3 and "this step fails on purpose" in str(facts["workers"])
    if then == "stop":
        assert "the series stops there" in result.stdout


def test_a_bad_series_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    series = project(
        tmp_path,
        """\
setup: pulses_setup.yaml
runtime: 1
steps:
  - config/trigger.yaml: {threshhold: 10}
  - config/trigger.yaml: {threshold: 20}
    pulses_setup.yaml: {Functions.Fkt_2.num_process: zero}
  - config/trigger.yml: {threshold: 30}
""",
        name="bad.yaml",
    )
    result = run(sequence_command(series), tmp_path, timeout=60)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "invalid configuration (3 errors):"
    assert lines[1].startswith("  bad.yaml:4: config/trigger.yaml: threshhold: step 1 of 3 (threshhold=10): ")
    assert "no key 'threshhold': did you mean 'threshold'?" in lines[1]
    assert lines[2].startswith("  bad.yaml:6: pulses_setup.yaml: Functions.Fkt_2.num_process: step 2 of 3 ")
    assert "pulses_setup.yaml:12: Functions[2].Fkt_2.num_process: expected an integer" in lines[2]
    assert lines[3].startswith("  bad.yaml:7: config/trigger.yml: threshold: step 3 of 3 (threshold=30): ")
    assert "'config/trigger.yml' is no file of the setup" in lines[3]
    assert not (tmp_path / "target").exists()


def test_check_lists_the_steps_and_runs_nothing(tmp_path: Path) -> None:
    series = project(tmp_path, SCAN)
    result = run(sequence_command(series, "--check"), tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        f"OK: scan.yaml: 3 steps of pulses_setup.yaml, into {tmp_path / 'target' / 'scan'}",
        "  step 1: threshold=20",
        "  step 2: threshold=40",
        "  step 3: threshold=60",
    ]
    assert not (tmp_path / "target").exists()


def test_a_second_sequence_command_on_a_series_is_refused(tmp_path: Path) -> None:
    series = project(tmp_path, SCAN.replace("runtime: 1", "runtime: 100"))
    directory = tmp_path / "target" / "scan"
    first = start(sequence_command(series), tmp_path)
    wait_until(lambda: running_run(directory, 1), 60.0, "the first command's first run")
    second = run(sequence_command(series), tmp_path, timeout=60)
    assert second.returncode == 1
    assert second.stdout.strip() == (
        f"mimocorb sequence: {directory} is in use by mimocorb sequence (pid {first.pid}); "
        "only one may run a series at a time"
    )
    first.send_signal(signal.SIGINT)
    output = finish(first, 60)
    assert first.returncode == 4, output
    data = record(directory)
    assert data["state"] == "stopped" and statuses(data)[0] == ("pending", ["interrupted"])
    assert summary(directory / data["steps"][0]["runs"][0]["run_directory"])["end_reason"] == "SIGINT"
    assert "the same command goes on with step 1" in output


def test_ctrl_c_while_a_run_is_ending_stops_the_series_after_that_run(tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()  # step 1's filter waits: the run reaches its runtime and stays in its orderly end
    series = project(
        tmp_path,
        f"""\
setup: pulses_setup.yaml
runtime: 1
on_failure: {{retry: 1, then: skip}}
steps:
  - config/trigger.yaml: {{threshold: 20, hold: {hold}}}
  - config/trigger.yaml: {{threshold: 40}}
""",
    )
    directory = tmp_path / "target" / "scan"
    proc = start(sequence_command(series, "--grace", "100"), tmp_path)
    run_dir = wait_until(lambda: running_run(directory, 1), 60.0, "step 1 running")
    wait_until(lambda: "state: stopping" in read_log(run_dir), 60.0, "step 1's run ending")
    proc.send_signal(
        signal.SIGINT
    )  # a second Ctrl-C for the run (it hurries the end), the first for the series
    output = finish(proc, 60)
    assert proc.returncode == 4, output
    assert "the same command goes on with step 1" in output
    data = record(directory)
    assert data["state"] == "stopped"
    assert statuses(data) == [("pending", ["failed"]), ("pending", [])]  # not run again, in spite of retry
    assert summary(run_dir)["end_reason"] == "runtime"
