"""Headless runs: every display leaves PNG pictures in the run directory, with the right numbers.

These runs have no DISPLAY, and the display module calls ``matplotlib.use("TkAgg")`` at import time, as
the display modules written for mimoCoRB 1.0.2 do: the same displays then render with Agg.
"""

from __future__ import annotations

import math

import pytest
from displaykit import (
    assert_picture,
    ended_in_the_end,
    headless_env,
    histogram_numbers,
    run_dir,
    setup_text,
    start_run,
    write_setup,
)
from support import finish, poll_until, run_dirs, run_python, summary

N_EVENTS = 2000
X_STD = math.sqrt(99 / 12)  # x = 0.5 ... 9.5, each equally often
Y_STD = math.sqrt((499**2 - 1) / 12)  # y = 101 ... 599 inside [0, 600)


@pytest.mark.slow
def test_headless_run_leaves_histogram_scope_and_rate_pictures(project):
    setup = write_setup(project, setup_text(N_EVENTS, sleep=0.0005))
    out = finish(start_run(setup, env=headless_env()))
    run = run_dir(project)
    s = summary(run)
    assert s["exit_code"] == 0 and s["end_reason"] == "source exhausted", out
    assert s["events"] == N_EVENTS

    numbers = histogram_numbers(run)
    entries, mean, std = numbers["x"]
    assert entries == N_EVENTS
    assert mean == pytest.approx(5.0, abs=1e-6) and std == pytest.approx(X_STD, rel=1e-5)
    entries, mean, std = numbers["y"]  # y = 100 + i: only 101 ... 599 fall into [0, 600)
    assert entries == 499
    assert mean == pytest.approx(350.0, abs=1e-6) and std == pytest.approx(Y_STD, rel=1e-5)
    assert f"Known data: {N_EVENTS} events received, last counter {N_EVENTS}" in out

    assert_picture(run / "Known_data.png", (800, 600))
    assert_picture(run / "Test_scope.png", (800, 600))
    assert_picture(run / "rates.png", (1000, 600))
    assert not list(run.glob("*.tmp*")), "a half-written picture was left behind"


@pytest.mark.slow
def test_snapshots_appear_while_the_run_is_going_on(project):
    setup = write_setup(project, setup_text(0, sleep=0.002, runtime=6))
    wanted = {"Known_data.png", "Test_scope.png"}
    pictures: set[str] = set()

    def seen_all_or_ended() -> bool:
        nonlocal pictures
        for run in run_dirs(project / "target"):
            pictures = {p.name for p in run.glob("*.png")}
        return wanted <= pictures or proc.poll() is not None

    with ended_in_the_end(start_run(setup, env=headless_env())) as proc:
        poll_until(seen_all_or_ended, 20, interval=0.2)
        running = proc.poll() is None
        out = finish(proc)
    assert running, f"the run ended before the snapshots appeared (seen: {pictures}):\n{out}"
    assert wanted <= pictures
    assert summary(run_dir(project))["end_reason"] == "runtime"


def test_gui_control_without_display_runs_without_the_monitor(project):
    setup = write_setup(project, setup_text(300, gui=True))
    out = finish(start_run(setup, env=headless_env()))
    run = run_dir(project)
    assert summary(run)["exit_code"] == 0, out
    assert "running without the buffer-info window: no display" in out
    assert_picture(run / "rates.png", (1000, 600))


def test_the_controller_never_imports_matplotlib(project):
    """Display functions in the setup, in a module that does not import matplotlib itself."""
    setup = write_setup(project, setup_text(200, displays="quiet_displays"))
    code = (
        "import sys\n"
        "from mimocorb.run import run_setup\n"
        f"result = run_setup({str(setup)!r}, verbose=0, gui=False, kbd=False)\n"
        "assert result.exit_code == 0, result.end_reason\n"
        "assert (result.run_dir / 'rates.png').is_file()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'tkinter')]\n"
        "assert not bad, bad\n"
    )
    result = run_python(code, project, env=headless_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_display_that_cannot_be_reached_falls_back_to_pictures(project):
    """DISPLAY names an X server that is not there: no window anywhere, the run is unaffected.

    The source is paced (~1 s in all) so that the oscilloscope, an observer, sees an event before the
    end: an unpaced run of 300 events can be over (in 50 ms) before any observer looks.
    """
    setup = write_setup(project, setup_text(300, sleep=0.003, gui=True))
    env = dict(headless_env(), DISPLAY=":977")
    out = finish(start_run(setup, env=env))
    run = run_dir(project)
    assert summary(run)["exit_code"] == 0, out
    assert "bufferinfoGUI: no window can be opened on DISPLAY=':977'" in out
    assert histogram_numbers(run)["x"][0] == 300
    assert_picture(run / "Known_data.png", (800, 600))
    assert_picture(run / "Test_scope.png", (800, 600))
