"""The run's variables: buffers, workers, disk and user variables, one dict per sample to every consumer."""

from __future__ import annotations

import multiprocessing as mp

import pytest
from runkit import buffers, fkt, write_setup

from mimocorb.run import RunOptions, open_run, publish
from mimocorb.run.published import MAX_NAME, PublishedValues, open_channel
from mimocorb.run.variables import VariableSample


def _publishing_setup(project):
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(2, "chain_publish", "publishing_filter", "RB_1: read, RB_2: write")
    body += fkt(3, "chain_sink", "counting_sink", "RB_2: read", extra="config_file: final.yaml")
    configs = "counting_source: {sleep: 0.001}\n"
    return write_setup(project, "publish_setup.yaml", body, main="runtime: 3", configs=configs)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_variable_published_by_a_worker_reaches_every_consumer_with_the_run_variables(project):
    controller = open_run(_publishing_setup(project), RunOptions(verbose=0, handle_signals=False))
    got: list[VariableSample] = []
    controller.sampler.add_consumer(got.append)
    result = controller.run()
    assert result.exit_code == 0, result.failures
    assert got, "no sample reached the consumer"
    published = [s for s in got if "temperature" in s.values]
    assert published, f"no sample had the user variable: {[sorted(s.values) for s in got]}"
    last = published[-1].values
    assert last["temperature"] == 21.5
    assert 0 < last["filter.accepted"] <= last["RB_1.events"]
    for name in ("RB_1.events", "RB_2.rate_hz", "RB_1.fill", "RB_2.deadtime", "RB_1.lost", "disk_free_gb"):
        assert name in last, sorted(last)
    assert 0.0 <= last["RB_1.fill"] <= 1.0
    for key in ("Fkt_main", "Fkt_1", "Fkt_2", "Fkt_3"):
        assert f"{key}.restarts" in last or key == "Fkt_main", sorted(last)
    # (a process that has just ended, not yet noticed by the controller, counts 0)
    assert max(s.values["Fkt_2.memory_mb"] for s in got) > 1.0
    assert max(s.values["Fkt_1.cpu"] for s in got[1:]) > 0  # the source works, so it uses a CPU
    assert {s.state for s in got} <= {"running", "stopping"}
    assert [s.time for s in got] == sorted(s.time for s in got)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_restarted_worker_publishes_again(project, method):
    body = buffers(2) + "Functions:\n"
    body += fkt(1, "chain_source", "counting_source", "RB_1: write")
    body += fkt(
        2, "chain_publish", "publishing_flaky_filter", "RB_1: read, RB_2: write", extra="on_error: restart"
    )
    body += fkt(3, "chain_sink", "counting_sink", "RB_2: read", extra="config_file: final.yaml")
    configs = "counting_source: {sleep: 0.002}\npublishing_flaky_filter: {fail_at: 20}\n"
    setup = write_setup(project, "restart_setup.yaml", body, main="runtime: 4", configs=configs)
    controller = open_run(setup, RunOptions(verbose=0, handle_signals=False, start_method=method))
    got: list[VariableSample] = []
    controller.sampler.add_consumer(got.append)
    result = controller.run()
    assert result.exit_code == 0, result.failures
    (worker,) = controller.supervisor.workers_of("Fkt_2")
    first, second = worker.pids
    after = [s.values for s in got if s.values.get("Fkt_2.restarts") == 1 and "filter.pid" in s.values]
    assert after and {v["filter.pid"] for v in after} == {second}, [s.values.get("filter.pid") for s in got]
    assert first != second


def _publish_without_reader(conn) -> None:
    open_channel(conn)
    for k in range(100_000):  # far more than a pipe holds: the surplus is dropped, nothing waits
        publish("flood", k)


def test_publishing_never_waits_for_a_full_pipe_and_the_reader_keeps_the_last_value():
    ctx = mp.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_publish_without_reader, args=(writer,))
    process.start()
    writer.close()
    process.join(60)
    assert process.exitcode == 0  # it ended although nobody read its pipe
    values = PublishedValues()
    with open(reader.fileno(), "rb", closefd=False) as pipe:
        values.take(pipe.read())  # to the end: the writer has ended
    reader.close()
    assert 0 <= values.values["flood"] < 100_000


@pytest.mark.parametrize("name", ["", "with space", "ümlaut", "a/b", "x" * (MAX_NAME + 1)])
def test_a_bad_variable_name_is_a_clear_error(name):
    with pytest.raises(ValueError, match="variable name"):
        publish(name, 1.0)
