"""The access classes across real processes (fork and spawn), ended the way the run controller ends them."""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import workers_procfuncs as wf
from support import wait_until

from mimocorb.mimo_buffer import NewBuffer

METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]


class Workers:
    """Starts user functions as the controller does and makes sure none outlives the test."""

    def __init__(self, method: str, tmp: Path):
        self.ctx, self.tmp = mp.get_context(method), tmp
        self.procs: list = []

    def start(self, func: Callable, lists: tuple, config: dict, **rb_info: str):
        k = len(self.procs)
        config = {
            **config,
            "returned_file": str(self.tmp / f"{func.__name__}_{k}.returned"),
            "stderr_file": str(self.tmp / f"{func.__name__}_{k}.stderr"),
        }
        proc = self.ctx.Process(
            target=func, args=(*lists, config), kwargs=rb_info, name=f"{func.__name__}_{k}"
        )
        proc.config = config
        proc.start()
        self.procs.append(proc)
        return proc

    def join_clean(self, proc, timeout: float = 60) -> None:
        """The process ended by itself, exit code 0, its access class returned, no traceback."""
        proc.join(timeout)
        assert not proc.is_alive(), f"{proc.name} still running after {timeout} s"
        stderr = Path(proc.config["stderr_file"])
        text = stderr.read_text() if stderr.exists() else ""
        assert proc.exitcode == 0, f"{proc.name}: exit code {proc.exitcode}\n{text}"
        assert "Traceback" not in text, text
        assert Path(proc.config["returned_file"]).exists(), f"{proc.name} did not return from its worker"

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join(5)


@pytest.fixture(params=METHODS)
def workers(request, tmp_path) -> Iterator[Workers]:
    w = Workers(request.param, tmp_path)
    yield w
    w.kill_all()


@pytest.mark.timeout(120)
def test_chain_delivers_every_event_exactly_once(make_buffer, workers, tmp_path):
    """rbImport -> RB_1 -> rbTransfer x2 (one group, one writer dict) -> RB_2 -> rbExport."""
    n_events = 1000
    rb1: NewBuffer = make_buffer(8, 1, wf.RECORD, name="RB_1")
    rb2: NewBuffer = make_buffer(8, 1, wf.RECORD_PLUS, name="RB_2")
    g1, w1, g2, w2 = rb1.new_reader_group(), rb1.new_writer(), rb2.new_reader_group(), rb2.new_writer()
    result = tmp_path / "seen.json"
    exporter = workers.start(
        wf.counting_exporter, ([g2], None, None), {"result_file": str(result)}, RB_2="read"
    )
    filters = [
        workers.start(wf.copying_filter, ([g1], [w2], None), {"max_sleep": 0.001}, RB_1="read", RB_2="write")
        for _ in range(2)
    ]
    source = workers.start(wf.counting_source, (None, [w1], None), {"n_events": n_events}, RB_1="write")

    workers.join_clean(source)  # source exhausted: its generator returned
    rb1.shutdown(timeout=30)  # data-flow order: RB_1 drains into the filters first
    for proc in filters:
        workers.join_clean(proc)
    rb2.shutdown(timeout=30)
    workers.join_clean(exporter)

    assert rb1.shutdown_report["drained"] and rb2.shutdown_report["drained"]
    seen = json.loads(result.read_text())
    assert sorted(counter for counter, _ in seen) == list(range(1, n_events + 1))
    assert all(counter == n for counter, n in seen)  # metadata travelled with its event


@pytest.mark.timeout(60)
def test_import_blocked_on_a_full_buffer_ends_cleanly_at_set_ending(make_buffer, workers):
    rb = make_buffer(4, 1, wf.RECORD, name="RB_1")
    rb.new_reader_group()  # nobody reads it: the source blocks once 4 events are in
    source = workers.start(
        wf.counting_source, (None, [rb.new_writer()], None), {"n_events": None}, RB_1="write"
    )
    wait_until(lambda: rb.cumulative_event_count >= 4, 30, "the source to fill the buffer")
    rb.set_ending()
    workers.join_clean(source, 30)


@pytest.mark.timeout(60)
def test_import_and_drain_end_cleanly_at_shutdown(make_buffer, workers, tmp_path):
    rb = make_buffer(8, 1, wf.RECORD, name="RB_1")
    group, writer = rb.new_reader_group(), rb.new_writer()
    drain = workers.start(
        wf.draining_sink, ([group], None, None), {"directory_prefix": f"{tmp_path}/"}, RB_1="read"
    )
    source = workers.start(wf.counting_source, (None, [writer], None), {"n_events": None}, RB_1="write")
    wait_until(lambda: rb.cumulative_event_count >= 50, 30, "50 events")
    rb.shutdown(timeout=30)
    workers.join_clean(source, 30)
    workers.join_clean(drain, 30)
    assert rb.shutdown_report["drained"]
    assert rb.stats()["groups"][0]["consumed"] == rb.cumulative_event_count
    assert (tmp_path / "message.txt").exists()
