"""Pieces of the controller without processes: data-flow plan, run directory names, commands, status."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from mimocorb.run.inputs import KeyboardInput, parse_command
from mimocorb.run.options import resolve_start_method
from mimocorb.run.plan import FunctionRole, RunPlan, data_flow_order
from mimocorb.run.rundir import copy_into, make_run_directory, relative_prefix
from mimocorb.run.status import BufferSample, Console, progress, status_text


def role(key, reads=(), writes=(), observes=()):
    return FunctionRole(key, key.lower(), 1, tuple(reads), tuple(writes), tuple(observes))


def test_chain_order_and_sources():
    fs = [
        role("Fkt_1", writes=["RB_1"]),
        role("Fkt_2", ["RB_1"], ["RB_2", "RB_3"]),
        role("Fkt_3", ["RB_3"]),
        role("Fkt_4", ["RB_2"]),
        role("Fkt_5", observes=["RB_2"]),
        role("Fkt_6"),
    ]
    plan = RunPlan.build(["RB_1", "RB_2", "RB_3"], fs)
    assert plan.order == ("RB_1", "RB_2", "RB_3")
    assert [f.key for f in plan.sources] == ["Fkt_1"]
    assert plan.source_buffers == ("RB_1",)
    assert [f.key for f in plan.writers_of("RB_3")] == ["Fkt_2"]
    assert [f.key for f in plan.readers_of("RB_1")] == ["Fkt_2"]
    assert plan.function("Fkt_6").is_detached and not plan.function("Fkt_5").is_detached


def test_order_follows_the_data_not_the_names():
    fs = [
        role("Fkt_1", writes=["RB_3"]),
        role("Fkt_2", ["RB_3"], ["RB_1"]),
        role("Fkt_3", ["RB_1"], ["RB_2"]),
        role("Fkt_4", ["RB_2"]),
    ]
    assert data_flow_order(["RB_1", "RB_2", "RB_3"], fs) == ("RB_3", "RB_1", "RB_2")


def test_diamond_and_cycle():
    diamond = [
        role("Fkt_1", writes=["RB_1"]),
        role("Fkt_2", ["RB_1"], ["RB_2"]),
        role("Fkt_3", ["RB_1"], ["RB_3"]),
        role("Fkt_4", ["RB_2", "RB_3"], ["RB_4"]),
    ]
    assert data_flow_order(["RB_1", "RB_2", "RB_3", "RB_4"], diamond) == ("RB_1", "RB_2", "RB_3", "RB_4")
    cycle = [
        role("Fkt_1", writes=["RB_1"]),
        role("Fkt_2", ["RB_1", "RB_3"], ["RB_2"]),
        role("Fkt_3", ["RB_2"], ["RB_3"]),
    ]
    assert data_flow_order(["RB_1", "RB_2", "RB_3"], cycle) == ("RB_1", "RB_2", "RB_3")


def test_buffer_shared_by_source_and_filter_is_not_stopped_with_the_sources():
    fs = [
        role("Fkt_1", writes=["RB_1"]),
        role("Fkt_2", writes=["RB_2"]),
        role("Fkt_3", ["RB_1"], ["RB_2"]),
        role("Fkt_4", ["RB_2"]),
    ]
    plan = RunPlan.build(["RB_1", "RB_2"], fs)
    assert plan.source_buffers == ("RB_1",)


def test_run_directory_names_are_unique(tmp_path):
    when = dt.datetime(2024, 5, 17, 9, 30, 5)
    a = make_run_directory(tmp_path / "out", "spin_setup", when)
    b = make_run_directory(tmp_path / "out", "spin_setup", when)
    c = make_run_directory(tmp_path / "out", "spin_setup", when)
    assert [p.name for p in (a, b, c)] == [
        "spin_setup_2024-05-17_093005",
        "spin_setup_2024-05-17_093005_1",
        "spin_setup_2024-05-17_093005_2",
    ]


def test_copies_use_base_names(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("1")
    (tmp_path / "b" / "x.yaml").write_text("2")
    (tmp_path / "run").mkdir()
    copied = copy_into(tmp_path / "run", [tmp_path / "a" / "x.yaml", tmp_path / "b" / "x.yaml"])
    assert [p.name for p in copied] == ["x.yaml"] and (tmp_path / "run" / "x.yaml").read_text() == "1"


def test_directory_prefix(tmp_path):
    run = tmp_path / "target" / "x_1"
    assert relative_prefix(run, "target", tmp_path) == "target/x_1/"
    assert relative_prefix(run, None, tmp_path) == f"{run}/"
    assert relative_prefix(run, str(tmp_path / "target"), tmp_path) == f"{run}/"


def test_commands():
    assert [parse_command(x) for x in ("P", " r\n", "S", "e", "X", "", "PP")] == [
        "P",
        "R",
        "S",
        "E",
        None,
        None,
        None,
    ]


def test_keyboard_input_from_a_pipe():
    import os

    r, w = os.pipe()
    keyboard = KeyboardInput(r)
    assert keyboard.open and not keyboard.is_terminal
    os.write(w, b"P\nR")
    assert keyboard.read_lines() == ["P"]
    os.close(w)
    assert keyboard.read_lines() == ["R"]
    assert not keyboard.open and keyboard.waitables() == []
    os.close(r)


def test_start_method_resolution(monkeypatch):
    monkeypatch.delenv("MIMOCORB_START_METHOD", raising=False)
    assert resolve_start_method("spawn") == "spawn"
    monkeypatch.setenv("MIMOCORB_START_METHOD", "forkserver")
    assert resolve_start_method(None) == "forkserver"
    with pytest.raises(ValueError):
        resolve_start_method("thread")


def test_status_line_and_progress():
    samples = [BufferSample("RB_1", 120, 3, 8, 42.0, 0.01, 0)]
    assert progress(5.0, 10, 10.0, 0) == 0.5
    assert progress(5.0, 90, 10.0, 100) == 0.9
    assert progress(1.0, 1, 0, 0) is None
    text = status_text("running", 5.0, samples, 0.5, 0, live=False)
    assert "running" in text and "RB_1: 120 (3/8) 42Hz" in text and "50%" in text


def test_console_rewrites_the_status_line_in_place():
    out = io.StringIO()
    console = Console(out, verbose=2, live=True)
    console.status("state A")
    console.message("hello")
    console.status("state B")
    console.end_status()
    assert out.getvalue() == "\r\x1b[Kstate A\r\x1b[Khello\nstate A\r\x1b[Kstate B\n"
    plain = io.StringIO()
    Console(plain, verbose=1, live=False).status("not shown at verbose 1")
    assert plain.getvalue() == ""
