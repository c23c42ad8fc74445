"""Real windows under a virtual X server (Xvfb), driven with xdotool as a person would.

The buffer monitor's buttons pause, resume and end the run; closing a display window (or killing its
connection, as when Tk crashes) leaves the run running, and the final pictures are still written.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
from cliruns import finish
from displaykit import (
    assert_picture,
    drawn_fraction,
    find_window,
    histogram_numbers,
    run_dir,
    setup_text,
    start_run,
    summary,
    window_picture,
    write_setup,
    xdotool,
)

from mimocorb.display.monitor import button_centre
from mimocorb.run.inputs import COMMANDS


def _log(run: Path) -> str:
    path = run / "run.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _wait_log(run: Path, text: str, timeout: float = 20.0, after: int = 0) -> int:
    """Position of ``text`` in run.log (searched from ``after``), waiting until it appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pos = _log(run).find(text, after)
        if pos >= 0:
            return pos
        time.sleep(0.1)
    raise AssertionError(f"'{text}' did not appear in run.log within {timeout} s:\n{_log(run)}")


def _row(run: Path) -> tuple[float, int]:
    """Time and RB_1's event count of the newest stats.csv row."""
    rows = [r.split(",") for r in (run / "stats.csv").read_text().splitlines()[1:] if ",RB_1," in r]
    return (float(rows[-1][0]), int(rows[-1][4])) if rows else (0.0, 0)


def _events_after(run: Path, seconds: float) -> tuple[int, int]:
    """RB_1's events in the newest row now and in the first row written ``seconds`` later."""
    t0, first = _row(run)
    deadline = time.monotonic() + seconds + 20
    while (row := _row(run))[0] < t0 + seconds:
        assert time.monotonic() < deadline, "stats.csv got no new rows"
        time.sleep(0.1)
    return first, row[1]


def _wait_gone(env: dict[str, str], title: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while xdotool(env, "search", "--name", f"^{title}$", check=False):
        assert time.monotonic() < deadline, f"window '{title}' is still there"
        time.sleep(0.2)


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
    raise AssertionError(f"three clicks on {label} were not seen:\n{_log(run)}")


def test_monitor_buttons_pause_resume_stop_and_end_the_run(project, xserver):
    env = xserver.env()
    setup = write_setup(project, setup_text(0, sleep=0.002, gui=True, runtime=120))
    proc = start_run(setup, env=env)
    try:
        monitor = find_window(env, "Buffer Information")
        run = run_dir(project)
        _wait_log(run, "Graphical User Interface active")
        time.sleep(1.5)  # let events flow and the window settle

        pos = _click(env, run, monitor, "Pause")
        _wait_log(run, "state: paused", after=pos)
        time.sleep(1.2)  # the row written at the pause may still count the last events
        before, after = _events_after(run, 2.0)
        assert before == after > 0, f"events went on while paused: {before} -> {after}"

        pos = _click(env, run, monitor, "Resume", after=pos)
        _wait_log(run, "state: running", after=pos)
        before, after = _events_after(run, 2.0)
        assert after > before, f"no events after resuming: {before} -> {after}"

        pos = _click(env, run, monitor, "Stop", after=pos)  # with a window the run waits for EndRun
        _wait_log(run, "state: stopped", after=pos)
        time.sleep(1.0)
        assert proc.poll() is None, "the run ended at Stop although the monitor window is open"
        _click(env, run, monitor, "EndRun", after=pos)
        out = finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
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
    proc = start_run(setup, env=env)
    try:
        monitor = find_window(env, "Buffer Information")
        scope = find_window(env, "Test scope")
        histograms = find_window(env, "Known data")
        run = run_dir(project)
        time.sleep(1.5)
        drawn = drawn_fraction(window_picture(env, histograms))  # bars cover much of an empty figure
        assert drawn > 0.15, f"the histogram window shows no bars: only {drawn:.3f} of it drawn"
        first = window_picture(env, scope)
        time.sleep(1.0)
        changed = np.abs(window_picture(env, scope) - first).sum(axis=2) > 0.1
        assert changed.mean() > 0.001, "the scope window shows no new events"
        xdotool(env, "windowfocus", "--sync", histograms)
        xdotool(env, "key", "q")  # matplotlib's "close this figure" key: the window closes normally
        xdotool(env, "windowkill", scope)  # the X connection is cut: Tk dies with its process
        xdotool(env, "windowkill", monitor)  # the same for the buffer monitor
        _wait_log(run, "display 'Known data': window closed (exit code 0)", timeout=10)
        _wait_log(run, "display 'Test scope': window closed", timeout=10)
        for title in ("Buffer Information", "Test scope", "Known data"):
            _wait_gone(env, title)
        time.sleep(1.2)
        before, after = _events_after(run, 2.0)
        assert after > before, f"the run stopped taking data after the windows went: {before} -> {after}"
        assert proc.poll() is None, "the run ended when its display windows were closed"
        out = finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    s = summary(run)
    assert proc.returncode == 0, out
    assert s["end_reason"] == "runtime", s["end_reason"]
    assert not s["failures"], s["failures"]
    events = s["events"]
    assert histogram_numbers(run)["x"][0] == events  # the reader went on counting every event
    assert_picture(run / "Known_data.png", (800, 600))
    assert_picture(run / "Test_scope.png", (800, 600))
