"""Workers that raise, hang, get killed or fail repeatedly: reported, reclaimed, and the run ends in order."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
from runkit import buffers, chain, finish, fkt, run_cli, seen, write_setup
from support import (
    events_in_stats,
    mimocorb_command,
    only_run_dir,
    run_python,
    start,
    summary,
    wait_for_run_dir,
    wait_until,
)

from mimocorb.run.ending import PATIENCE

CONFIGS = """\
counting_source: {sleep: 0.0005}
raising_filter: {fail_at: 40}
suicidal_filter: {kill_at: 40}
flaky_filter: {fail_at: 40}
"""


def _setup(project, name, filter_name, sink="counting_sink", on_error="", runtime=2.0):
    filter_module = "chain_filter" if filter_name == "copy_filter" else "chain_faults"
    sink_module = "chain_faults" if sink == "hanging_sink" else "chain_sink"
    extra = f"on_error: {on_error}" if on_error else ""
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(2, filter_module, filter_name, "RB_1: read, RB_2: write", extra=extra)
    body += fkt(3, sink_module, sink, "RB_2: read", extra="config_file: final.yaml")
    configs = CONFIGS + "copy_filter: {}\n"
    return write_setup(project, name, body, main=f"runtime: {runtime}", configs=configs)


def _worker(s, fkt_name):
    found = [w for w in s["workers"] if w["fkt_name"] == fkt_name]
    assert len(found) == 1, s["workers"]
    return found[0]


@pytest.mark.timeout(60)
def test_worker_that_raises_is_reported_and_the_run_ends(project):
    setup = _setup(project, "raise_setup.yaml", "raising_filter", runtime=30)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 3, result.stdout
    out = result.stdout
    assert "ERROR in worker Fkt_2 'raising_filter'" in out
    assert "ValueError: deliberate failure at event 40" in out
    assert "chain_faults.py" in out and ", in raising_filter" in out  # the traceback
    assert "worker_main" not in out  # ... starting at the user's code
    run_dir = only_run_dir(project / "target")
    log = (run_dir / "run.log").read_text()
    assert "ERROR in worker Fkt_2 'raising_filter'" in log
    assert "ValueError: deliberate failure at event 40" in log
    s = summary(run_dir)
    assert s["end_reason"] == "worker failed: Fkt_2 raising_filter"
    assert s["exit_code"] == 3 and not s["clean"]
    w = _worker(s, "raising_filter")
    assert w["status"] == "failed" and w["exitcode"] == 1
    assert w["errors"][0]["type"] == "ValueError"
    assert "raise ValueError" in w["errors"][0]["traceback"]
    assert s["failures"] and "raising_filter" in s["failures"][0]
    # the rest of the chain ended normally with what had passed the failed stage
    assert _worker(s, "counting_sink")["status"] == "exited"
    assert _worker(s, "counting_source")["status"] == "exited"
    assert sorted(seen(run_dir, "final")) == list(range(1, 40))
    assert s["active_time_s"] < 30


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_that_hangs_is_terminated_after_the_grace_period_and_named(project):
    setup = _setup(project, "hang_setup.yaml", "copy_filter", sink="hanging_sink", runtime=0.5)
    result = run_cli(["run", str(setup), "--grace", "1.5"], project)
    assert result.returncode == 3, result.stdout
    assert "grace period of 1.5 s over: terminating Fkt_3 hanging_sink" in result.stdout
    assert "terminated after the grace period: Fkt_3 hanging_sink" in result.stdout
    s = summary(only_run_dir(project / "target"))
    assert s["end_reason"] == "runtime"
    assert any("hanging_sink" in name for name in s["end_sequence"]["survivors"])
    assert s["end_sequence"]["aborted"]
    assert _worker(s, "hanging_sink")["status"] == "terminated"  # it ignored SIGTERM: SIGKILL followed
    assert _worker(s, "copy_filter")["status"] == "exited"
    # bounded: the grace period (started again when copy_filter ended, at most PATIENCE of them), one
    # second between SIGTERM and SIGKILL, and some slack for a busy machine
    assert s["end_sequence"]["duration_s"] < PATIENCE * 1.5 + 1.0 + 3.0


def _slow_drain_setup(project, grace: float):
    """RB_1 full when the run ends, drained by a filter that takes 0.3 s an event: 9 events to go."""
    configs = CONFIGS + "copy_filter: {sleep: 0.3}\n"
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(2, "chain_filter", "copy_filter", "RB_1: read, RB_2: write")
    body += fkt(3, "chain_sink", "counting_sink", "RB_2: read", extra="config_file: final.yaml")
    setup = write_setup(project, "slow_drain.yaml", body, main="runtime: 1.0", configs=configs)
    return run_cli(["run", str(setup), "--grace", str(grace)], project)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_an_end_that_progresses_is_not_cut_off_by_the_grace_period(project):
    """The drain takes about 2.7 s, longer than the grace period of 1.5 s, but every event read starts the
    grace period again (a slow machine whose workers still start up when a short run ends)."""
    result = _slow_drain_setup(project, grace=1.5)
    assert result.returncode == 0, result.stdout
    s = summary(only_run_dir(project / "target"))
    assert not s["end_sequence"]["aborted"]
    assert s["end_sequence"]["duration_s"] > 1.5  # it did outlast one grace period
    written = int(s["buffers"]["RB_1"]["events"])
    assert sorted(seen(only_run_dir(project / "target"), "final")) == list(range(1, written + 1))


def _computing_end(project, starved: bool):
    configs = CONFIGS + f"copy_filter: {{}}\ncomputing_sink: {{compute: 4.0, starved: {starved}}}\n"
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(2, "chain_filter", "copy_filter", "RB_1: read, RB_2: write")
    body += fkt(3, "chain_sink", "computing_sink", "RB_2: read")
    setup = write_setup(project, "computing.yaml", body, main="runtime: 0.5", configs=configs)
    return run_cli(["run", str(setup), "--grace", "2"], project)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_worker_computing_at_the_end_is_not_cut_off_by_the_grace_period(project):
    """The sink computes for 4 s after its input ended, longer than the grace period of 2 s: a process
    that computes is making progress (as a worker still importing its libraries on a busy machine)."""
    result = _computing_end(project, starved=False)
    assert result.returncode == 0, result.stdout
    s = summary(only_run_dir(project / "target"))
    assert not s["end_sequence"]["aborted"] and s["end_sequence"]["duration_s"] > 4.0


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux's processor affinity")
def test_a_worker_computing_on_a_starved_processor_is_not_cut_off(project):
    """As above on a machine busier than its cores: a busy process shares the sink's processor, at a
    higher priority, so the sink gets a few per cent of CPU time; it still wants to compute, waiting
    for the processor, and that counts."""
    hog = start([sys.executable, "-c", HOG], project)
    try:
        result = _computing_end(project, starved=True)
    finally:
        hog.kill()
        finish(hog)
    assert result.returncode == 0, result.stdout
    s = summary(only_run_dir(project / "target"))
    assert not s["end_sequence"]["aborted"] and s["end_sequence"]["duration_s"] > 4.0


HOG = "import os\nos.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_an_end_that_progresses_gives_up_after_patience_grace_periods(project):
    result = _slow_drain_setup(project, grace=0.5)
    assert result.returncode == 3, result.stdout
    assert "grace period of 0.5 s over: terminating Fkt_2 copy_filter" in result.stdout
    s = summary(only_run_dir(project / "target"))
    assert s["end_sequence"]["aborted"]
    assert s["end_sequence"]["duration_s"] < PATIENCE * 0.5 + 1.0 + 3.0


@pytest.mark.timeout(60)
def test_worker_killed_by_sigkill_is_detected_and_reclaimed(project):
    setup = _setup(project, "kill_setup.yaml", "suicidal_filter", runtime=30)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 3, result.stdout
    assert "worker Fkt_2 suicidal_filter" in result.stdout and "killed by SIGKILL" in result.stdout
    run_dir = only_run_dir(project / "target")
    s = summary(run_dir)
    assert s["end_reason"] == "worker failed: Fkt_2 suicidal_filter"
    w = _worker(s, "suicidal_filter")
    assert w["status"] == "killed" and w["exitcode"] == -9
    assert w["lost_events"] == 1  # the event it held when it died, released by reclaim
    assert _worker(s, "counting_sink")["status"] == "exited"
    assert sorted(seen(run_dir, "final")) == list(range(1, 40))
    assert s["buffers"]["RB_2"]["shutdown"]["drained"]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_on_error_restart_restarts_the_worker(project):
    setup = _setup(project, "flaky_setup.yaml", "flaky_filter", on_error="restart", runtime=1.0)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    assert "restarting Fkt_2 flaky_filter (restart 1 of 3)" in result.stdout
    s = summary(only_run_dir(project / "target"))
    assert s["end_reason"] == "runtime"
    w = _worker(s, "flaky_filter")
    assert w["restarts"] == 1 and len(w["pids"]) == 2 and len(w["errors"]) == 1
    assert w["status"] == "exited"
    assert s["restarts"] and not s["failures"]
    # events after the failed one all went through the restarted worker
    assert s["buffers"]["RB_2"]["events"] == s["events"] - 1


@pytest.mark.timeout(60)
def test_restarts_are_limited(project):
    setup = _setup(project, "again_setup.yaml", "raising_filter", on_error="restart", runtime=30)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 3, result.stdout
    assert "restart 3 of 3" in result.stdout
    s = summary(only_run_dir(project / "target"))
    w = _worker(s, "raising_filter")
    assert w["restarts"] == 3 and len(w["errors"]) == 4
    assert s["end_reason"] == "worker failed: Fkt_2 raising_filter"


@pytest.mark.timeout(60)
def test_consumer_that_returns_early_ends_the_run(project):
    """A reader function that simply returns would leave its buffer without consumer: the run ends."""
    (project / "source.yaml").write_text("n_events: 0\n")
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(2, "chain_filter", "copy_filter", "RB_1: read, RB_2: write")
    body += fkt(3, "chain_faults", "early_sink", "RB_2: read")
    setup = write_setup(project, "early_setup.yaml", body, main="runtime: 30", configs=CONFIGS)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    s = summary(only_run_dir(project / "target"))
    assert s["end_reason"] == "consumer ended: Fkt_3 early_sink"
    assert "would have no consumer left" in result.stdout
    # nobody reads RB_2 any more: the controller skips its events, so the filter is not blocked for ever
    assert not s["end_sequence"]["aborted"], result.stdout
    assert all(w["status"] == "exited" for w in s["workers"])
    assert s["abandoned_consumers"][0]["buffer"] == "RB_2"
    assert s["buffers"]["RB_1"]["consumers"][0]["consumed"] == s["events"]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_stuck_worker_is_named_while_the_run_goes_on(project, capsys):
    from mimocorb.run import RunOptions, run_setup

    setup = _setup(project, "stuck_setup.yaml", "stuck_filter", runtime=2.5)
    setup.write_text(setup.read_text() + "  stuck_filter: {stuck_at: 30}\n")
    result = run_setup(setup, RunOptions(verbose=1, kbd=False, stall_warning=1.0, grace=1.0))
    out = capsys.readouterr().out
    assert "WARNING: RB_1 has been full for" in out
    assert "waiting for Fkt_2 (stuck_filter)" in out
    assert result.end_reason == "runtime"
    assert result.exit_code == 3 and any("stuck_filter" in name for name in result.survivors)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_killed_from_outside_mid_run(project):
    """SIGKILL to one of two filter processes while events flow: detected, reclaimed, run ends in order."""
    body = chain(2, source="import_source", filter_procs=(2,))
    setup = write_setup(
        project,
        "kill_setup.yaml",
        body,
        configs="import_source: {sleep: 0.0005}\ncopy_filter: {pidfile: true}\n",
    )
    proc = start(mimocorb_command("run", str(setup)), project)
    run_dir = wait_for_run_dir(project / "target")
    pidfiles = wait_until(lambda: sorted(run_dir.glob("pid_copy_filter_*")), 20, "filter pids")
    wait_until(lambda: events_in_stats(run_dir) > 100, 20, "events", interval=0.1)
    victim = int(pidfiles[0].read_text())
    os.kill(victim, signal.SIGKILL)
    out = finish(proc)
    assert proc.returncode == 3, out
    assert f"pid {victim} failed: killed by SIGKILL" in out
    s = summary(run_dir)
    assert s["end_reason"].startswith("worker failed: Fkt_2 copy_filter")
    dead = next(w for w in s["workers"] if w["pid"] == victim)
    assert dead["status"] == "killed"
    others = [w for w in s["workers"] if w["pid"] != victim]
    assert all(w["status"] == "exited" for w in others), others
    # the other consumer of RB_1 got everything; the chain lost at most the event the victim held
    n = s["events"]
    assert sorted(seen(run_dir, "rb1")) == list(range(1, n + 1))
    final = seen(run_dir, "final")
    assert len(set(final)) == len(final) >= n - 1
    assert s["buffers"]["RB_1"]["shutdown"]["drained"]


# every fork of the controller is recorded with the Python threads it had then
FORKS_OF_THE_CONTROLLER = """
import json, os, sys, threading
from mimocorb.run import run_setup

forks = []
os.register_at_fork(before=lambda: forks.append(sorted(t.name for t in threading.enumerate())))
result = run_setup({setup!r}, verbose=0, gui=False, kbd=False, web=("127.0.0.1", 0))
threads = sorted(t.name for t in threading.enumerate())
libraries = sorted(m for m in ("pyarrow", "matplotlib", "uvicorn", "zmq") if m in sys.modules)
print(json.dumps({{"forks": forks, "threads": threads, "libraries": libraries, "exit": result.exit_code,
                  "restarts": result.summary["restarts"]}}))
"""


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_controller_forks_every_worker_from_its_only_thread(project):
    """Workers are forked (the default on Linux) at the start and again at a restart in the middle of the
    run, when the dashboard runs: the controller keeps no thread that could hold a lock at that moment
    (the dashboard is a process of its own; the libraries that start thread pools are not imported)."""
    setup = _setup(project, "forks.yaml", "flaky_filter", on_error="restart", runtime=1.5)
    done = run_python(FORKS_OF_THE_CONTROLLER.format(setup=str(setup)), project, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0 and report["restarts"], report
    assert len(report["forks"]) >= 5, report  # 3 workers, the dashboard, the restarted filter
    assert all(threads == ["MainThread"] for threads in report["forks"]), report["forks"]
    assert report["threads"] == ["MainThread"] and report["libraries"] == [], report
