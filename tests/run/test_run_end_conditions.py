"""End conditions of a run (runtime, runevents, source exhaustion) and what a run leaves behind."""

from __future__ import annotations

import csv
import json

import pytest
from runkit import assert_zero_loss, buffers, chain, fkt, run_cli, seen, write_setup
from support import only_run_dir, summary


@pytest.mark.timeout(60)
def test_runtime_ends_the_run_and_leaves_a_complete_run_directory(project):
    body = chain(3, extra_body=fkt(6, "chain_faults", "sleeper", ""))
    (project / "common.yaml").write_text("general: {runtime: 1.0}\ncounting_source: {sleep: 0.0005}\n")
    (project / "final.yaml").write_text("tag: final\nshell: echo output of a shell command\n")
    setup = write_setup(project, "chain_setup.yaml", body, main="config_file: common.yaml")
    result = run_cli(["run", "chain_setup.yaml"], project)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    assert run_dir.name.startswith("chain_setup_")
    s = summary(run_dir)
    assert s["end_reason"] == "runtime"
    assert 1.0 <= s["active_time_s"] < 10.0
    assert s["exit_code"] == 0 and s["clean"]
    assert [state for _, state in s["states"]] == ["configured", "running", "stopping", "ended"]
    n = assert_zero_loss(run_dir)
    assert n > 0
    # copies of the setup and of every config file, under their base names
    for name in ("chain_setup.yaml", "common.yaml", "final.yaml", "rb1.yaml"):
        assert (run_dir / name).read_text() == (project / name).read_text()
    # the function connected to no buffer was terminated at the end, which is not a failure
    sleeper = [w for w in s["workers"] if w["fkt_name"] == "sleeper"]
    assert sleeper and sleeper[0]["status"] == "terminated"
    assert "Fkt_6" in str(s["end_sequence"]["terminated_unconnected"])
    assert all(w["status"] == "exited" for w in s["workers"] if w["fkt_name"] != "sleeper")
    # run.log: controller messages and the workers' output with process names
    log = (run_dir / "run.log").read_text()
    assert "[controller] state: running" in log
    assert "[controller] state: ended" in log
    assert "[counting_sink:" in log and "] output of a shell command" in log
    assert "[counting_sink] output of a shell command" in result.stdout
    # stats.csv: rows per buffer, ending with the final state
    with (run_dir / "stats.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert {r["buffer"] for r in rows} == {"RB_1", "RB_2", "RB_3"}
    last = [r for r in rows if r["state"] == "ended"]
    assert {r["buffer"]: int(r["events"]) for r in last}["RB_1"] == n
    assert setup.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("source", ["counting_source", "import_source"])
def test_runevents_stops_at_exactly_n_events(project, source):
    setup = write_setup(project, "events_setup.yaml", chain(3, source=source), main="runevents: 777")
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    s = summary(run_dir)
    assert s["end_reason"] == "runevents"
    assert s["events"] == 777
    assert assert_zero_loss(run_dir) == 777


@pytest.mark.timeout(60)
def test_runevents_is_exact_with_two_source_processes(project):
    """Two processes race to fill RB_1; the ring's claim limit lets exactly N events in, not N + 1."""
    body = buffers(2, 8) + "Functions:\n"
    body += fkt(1, "chain_source", "import_source", "RB_1: write", num=2)
    body += fkt(2, "chain_filter", "copy_filter", "RB_1: read, RB_2: write", 2)
    body += fkt(3, "chain_sink", "counting_sink", "RB_2: read", extra="config_file: final.yaml")
    setup = write_setup(project, "two_sources_setup.yaml", body, main="runevents: 999")
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    s = summary(only_run_dir(project / "target"))
    assert s["end_reason"] == "runevents"
    assert s["events"] == 999
    assert s["buffers"]["RB_2"]["events"] == 999
    assert all(c["consumed"] == 999 for b in s["buffers"].values() for c in b["consumers"])


@pytest.mark.timeout(60)
def test_events_option_overrides_the_setup(project):
    setup = write_setup(project, "events_setup.yaml", chain(2), main="runevents: 100000")
    result = run_cli(["run", str(setup), "--events", "123", "--output", "elsewhere"], project)
    assert result.returncode == 0, result.stdout
    assert not (project / "target").exists()
    run_dir = only_run_dir(project / "elsewhere")
    assert summary(run_dir)["events"] == 123
    assert_zero_loss(run_dir)


@pytest.mark.timeout(60)
def test_source_exhaustion_ends_the_run(project):
    (project / "source.yaml").write_text("n_events: 300\n")
    body = chain(2).replace(
        "num_process: 1, RB_assign: {RB_1: write}}",
        "num_process: 1, RB_assign: {RB_1: write}, config_file: source.yaml}",
        1,
    )
    setup = write_setup(project, "exhaust_setup.yaml", body)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    s = summary(run_dir)
    assert s["end_reason"] == "source exhausted"
    assert s["events"] == 300
    assert assert_zero_loss(run_dir) == 300
    assert "counting_source: 300 events written" in (run_dir / "run.log").read_text()
    assert "[counting_source] counting_source: 300 events written" in result.stdout


@pytest.mark.timeout(60)
def test_generator_that_simply_ends_is_source_exhaustion(project):
    """An rbImport generator that returns (StopIteration) ends the run like a None item."""
    (project / "source.yaml").write_text("n_events: 50\n")
    body = chain(2, source="import_source").replace(
        "RB_assign: {RB_1: write}}", "RB_assign: {RB_1: write}, config_file: source.yaml}", 1
    )
    setup = write_setup(project, "gen_setup.yaml", body)
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    assert summary(run_dir)["end_reason"] == "source exhausted"
    assert sorted(seen(run_dir, "final")) == list(range(1, 51))


@pytest.mark.timeout(30)
def test_invalid_setup_is_reported_before_anything_starts(project):
    setup = write_setup(
        project,
        "bad_setup.yaml",
        "RingBuffer:\n  - RB_1: {number_of_slots: 8, chanel_per_slot: 1, data_type: {1: [value, int64]}}\n"
        "Functions:\n" + fkt(1, "chain_source", "counting_sourze", "RB_1: write"),
    )
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 1
    assert "invalid configuration" in result.stdout
    assert "did you mean 'channel_per_slot'?" in result.stdout
    assert "counting_sourze" in result.stdout
    assert not (project / "target").exists()


@pytest.mark.timeout(30)
def test_missing_setup_file(project):
    result = run_cli(["run", "nowhere.yaml"], project)
    assert result.returncode == 1
    assert "nowhere.yaml" in result.stdout
    assert not (project / "target").exists()


@pytest.mark.timeout(30)
def test_cleanup_command(project):
    result = run_cli(["cleanup"], project)
    assert result.returncode == 0
    assert "stale shared-memory object(s) removed" in result.stdout


def test_summary_is_valid_json_even_for_odd_values(tmp_path):
    import numpy as np

    from mimocorb.run.rundir import write_json

    write_json(tmp_path / "x.json", {"a": np.int64(3), "b": (1, 2), "p": tmp_path})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 3, "b": [1, 2], "p": str(tmp_path)}
