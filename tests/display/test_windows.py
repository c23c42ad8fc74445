"""Real windows under a virtual X server (Xvfb), driven with xdotool as a person would.

The buffer monitor's buttons pause, resume and end the run; closing a display window (or killing its
connection, as when Tk crashes) leaves the run running, and the final pictures are still written.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import pytest
from displaykit import (
    assert_picture,
    drawn_fraction,
    ended_in_the_end,
    find_window,
    histogram_numbers,
    run_dir,
    setup_text,
    start_run,
    window_gone,
    window_picture,
    write_setup,
    xdotool,
)
from support import finish, read_log, stats_rows, summary, wait_until

from mimocorb.display.monitor import button_centre
from mimocorb.run.inputs import COMMANDS

pytestmark = [pytest.mark.display, pytest.mark.slow]


def _wait_log(run: Path, text: str, timeout: float = 20.0, after: int = 0) -> int:
    """Position of ``text`` in run.log (searched from ``after``), waiting until it appears."""
    try:
        found = wait_until(lambda: read_log(run).find(text, after) + 1, timeout, f"'{text}' in run.log")
    except AssertionError as error:
        raise AssertionError(f"{error}; run.log:\n{read_log(run)}") from None
    return found - 1


def _row(run: Path) -> tuple[float, int, str]:
    """Time, RB_1's event count and the run state of the newest stats.csv row."""
    rows = stats_rows(run)
    return (float(rows[-1]["time_s"]), int(rows[-1]["events"]), rows[-1]["state"]) if rows else (0.0, 0, "")


def _events_after(run: Path, seconds: float) -> tuple[int, int]:
    """RB_1's events in the newest row now and in the first row written ``seconds`` later."""
    t0, first, _ = _row(run)
    row = wait_until(lambda: (r := _row(run))[0] >= t0 + seconds and r, seconds + 20, "new rows in stats.csv")
    return first, row[1]


def _next_row_in_state(run: Path, state: str) -> None:
    """Wait for a stats.csv row in ``state`` that was written after the newest one now."""
    t0 = _row(run)[0]
    wait_until(lambda: (r := _row(run))[0] > t0 and r[2] == state, 20, f"a stats.csv row of the {state} run")


def _click(env: dict[str, str], run: Path, window: str, label: str, after: int = 0) -> int:
    """Click a monitor button until the controller logs the command (a click that arrives while a
    loaded machine has not drawn the button yet is lost; a repeated command is ignored by the
    controller); returns the position of the log line."""
    letter = {"Pause": "P", "Resume": "R", "Stop": "S", "EndRun": "E"}[label]
    text = f"command {letter} ({COMMANDS[letter]}) from GUI"
    x, y = button_centre(label)
    for wait in (5.0, 10.0, 15.0):
        # without a window manager every window opens at (0, 0): the display windows may cover the monitor
        xdotool(env, "windowraise", window)
        xdotool(env, "mousemove", "--window", window, str(x), str(y), "click", "1")
        with contextlib.suppress(AssertionError):
            return _wait_log(run, text, timeout=wait, after=after)
    raise AssertionError(f"three clicks on {label} were not seen:\n{read_log(run)}")


def test_monitor_buttons_pause_resume_stop_and_end_the_run(project, xserver):
    env = xserver.env()
    setup = write_setup(project, setup_text(0, sleep=0.002, gui=True, runtime=120))
    with ended_in_the_end(start_run(setup, env=env)) as proc:
        monitor = find_window(env, "Buffer Information")
        run = run_dir(project)
        _wait_log(run, "Graphical User Interface active")
        wait_until(lambda: _row(run)[1] > 0, 20, "events in stats.csv")

        pos = _click(env, run, monitor, "Pause")
        _wait_log(run, "state: paused", after=pos)
        _next_row_in_state(run, "paused")  # the row written at the pause may still count the last events
        before, after = _events_after(run, 2.0)
        assert before == after > 0, f"events went on while paused: {before} -> {after}"

        pos = _click(env, run, monitor, "Resume", after=pos)
        _wait_log(run, "state: running", after=pos)
        before, after = _events_after(run, 2.0)
        assert after > before, f"no events after resuming: {before} -> {after}"

        pos = _click(env, run, monitor, "Stop", after=pos)  # with a window the run waits for EndRun
        _wait_log(run, "state: stopped", after=pos)
        time.sleep(1.0)  # what is tested: the run does not end by itself within this second
        assert proc.poll() is None, "the run ended at Stop although the monitor window is open"
        _click(env, run, monitor, "EndRun", after=pos)
        out = finish(proc, 60)
    s = summary(run)
    assert proc.returncode == 0, out
    assert s["end_reason"] == "stop command"
    assert s["pauses"] == 1
    states = [state for _, state in s["states"]]
    assert states[1:] == ["running", "paused", "running", "stopped", "stopping", "ended"], states
    assert (run / "rates.png").is_file() and (run / "Known_data.png").is_file()


def test_closing_or_killing_display_windows_leaves_the_run_running(project, xserver):
    """The histogram window is closed (matplotlib's close key); the scope and monitor lose their X
    connection, which kills Tk and its process, as a crash would."""
    env = xserver.env()
    # the checks below take ~6 s on a quiet machine; the run must still be taking data at their end
    setup = write_setup(project, setup_text(0, sleep=0.002, gui=True, runtime=14))
    with ended_in_the_end(start_run(setup, env=env)) as proc:
        monitor = find_window(env, "Buffer Information")
        scope = find_window(env, "Test scope")
        histograms = find_window(env, "Known data")
        run = run_dir(project)
        # bars cover much of an empty figure
        wait_until(
            lambda: drawn_fraction(window_picture(env, histograms)) > 0.15, 20, "bars in the histograms"
        )
        first = window_picture(env, scope)

        def scope_changed() -> bool:
            changed = np.abs(window_picture(env, scope) - first).sum(axis=2) > 0.1
            return changed.mean() > 0.001

        wait_until(scope_changed, 20, "new events in the scope window", interval=0.2)
        xdotool(env, "windowfocus", "--sync", histograms)
        xdotool(env, "key", "q")  # matplotlib's "close this figure" key: the window closes normally
        xdotool(env, "windowkill", scope)  # the X connection is cut: Tk dies with its process
        xdotool(env, "windowkill", monitor)  # the same for the buffer monitor
        _wait_log(run, "display 'Known data': window closed (exit code 0)", timeout=10)
        _wait_log(run, "display 'Test scope': window closed", timeout=10)
        for title in ("Buffer Information", "Test scope", "Known data"):
            wait_until(lambda t=title: window_gone(env, t), 10, f"window '{title}' to go")
        _next_row_in_state(run, "running")
        before, after = _events_after(run, 2.0)
        assert after > before, f"the run stopped taking data after the windows went: {before} -> {after}"
        assert proc.poll() is None, "the run ended when its display windows were closed"
        out = finish(proc, 60)
    s = summary(run)
    assert proc.returncode == 0, out
    assert s["end_reason"] == "runtime", s["end_reason"]
    assert not s["failures"], s["failures"]
    events = s["events"]
    assert histogram_numbers(run)["x"][0] == events  # the reader went on counting every event
    assert_picture(run / "Known_data.png", (800, 600))
    assert_picture(run / "Test_scope.png", (800, 600))
