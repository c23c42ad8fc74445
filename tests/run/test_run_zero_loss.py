"""The core promise: every event that entered RB_1 reaches every obligatory consumer, run after run.

A 3-buffer chain with 3 and 2 filter processes sleeping random times, a fast source that keeps every
buffer full, a second consumer of RB_1, and counting at every stage. The run is ended by its run time
at a random moment, i.e. with events in flight at every stage. Runs in the test process (fork), so
that many runs fit in a few seconds.
"""

from __future__ import annotations

import random

import pytest
from runkit import assert_zero_loss, chain, filter_total, fkt, run_cli, seen, write_setup
from support import only_run_dir, summary

from mimocorb.run import RunOptions, run_setup

RUNS = 8


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", range(RUNS))
def test_zero_loss_in_a_three_buffer_chain(project, run):
    rng = random.Random(run)
    runtime = round(rng.uniform(0.3, 0.8), 2)
    slots = rng.choice([4, 8, 16])
    configs = f"copy_filter: {{max_sleep: {rng.choice([0.0005, 0.001, 0.002])}}}\n"
    setup = write_setup(
        project,
        "loss_setup.yaml",
        chain(3, slots=slots, filter_procs=(3, 2)),
        main=f"runtime: {runtime}",
        configs=configs,
    )
    result = run_setup(setup, RunOptions(verbose=0, kbd=False, gui=False))
    assert result.exit_code == 0, result.summary
    run_dir = result.run_dir
    n = assert_zero_loss(run_dir)
    assert n > 0
    assert filter_total(run_dir) == 2 * n  # each of the two filter stages handled every event once
    s = summary(run_dir)
    assert s["end_reason"] == "runtime"
    assert all(w["status"] == "exited" and w["exitcode"] == 0 for w in s["workers"])


@pytest.mark.timeout(60)
def test_zero_loss_with_access_classes_and_two_sinks_per_buffer(project):
    """rbImport -> rbTransfer (2 processes) -> rbExport, RB_2 read by two groups, ended by runevents."""
    body = chain(2, source="import_source", sink="export_sink", filter_procs=(2,)).replace(
        "fkt_name: copy_filter", "fkt_name: transfer_filter"
    )
    body += fkt(5, "chain_sink", "counting_sink", "RB_2: read", extra="config_file: second.yaml")
    body += fkt(6, "chain_sink", "observing", "RB_2: observe")
    (project / "second.yaml").write_text("tag: second\n")
    setup = write_setup(project, "access_setup.yaml", body, main="runevents: 2000")
    result = run_cli(["run", str(setup)], project)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    assert assert_zero_loss(run_dir) == 2000
    assert sorted(seen(run_dir, "second")) == list(range(1, 2001))
    assert "export_sink: 2000 events" in result.stdout
    assert "observer: end of run seen after" in result.stdout  # observers end with the buffer
