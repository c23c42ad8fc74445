"""Commands P/R/S/E from a terminal and from a pipe, and SIGINT/SIGTERM: the run always ends in order."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest
from runkit import assert_zero_loss, buffers, chain, finish, fkt, write_setup
from support import (
    events_in_stats,
    mimocorb_command,
    read_log,
    start,
    stats_rows,
    summary,
    wait_for_run_dir,
    wait_until,
)

PACED = "import_source: {sleep: 0.001}\n"


def _endless(project, name="endless_setup.yaml", kbd=True):
    body = chain(3, source="import_source")
    if not kbd:
        body = "KBD_control: false\n" + body
    return write_setup(project, name, body, configs=PACED)


def _states(s):
    return [state for _, state in s["states"]]


def _paused_rows(run_dir):
    return [int(r["events"]) for r in stats_rows(run_dir) if r["state"] == "paused"]


def _paused_rows_constant(run_dir):
    """While paused, rbImport produces nothing: RB_1's count stays put (the event in hand at most)."""
    paused = _paused_rows(run_dir)
    assert paused, "no stats sample was taken while paused"
    assert max(paused) - min(paused) <= 1


def _sampled_twice_while_paused(run_dir):
    """Two stats rows (a second apart) show the paused run, so that their counts can be compared."""
    return len(_paused_rows(run_dir)) >= 2


def _running_again(run_dir):
    rows = stats_rows(run_dir)
    return bool(rows) and rows[-1]["state"] == "running" and any(r["state"] == "paused" for r in rows)


class Terminal:
    """A run whose stdin, stdout and stderr are a pseudo-terminal (its controlling terminal)."""

    def __init__(self, project, setup):
        self.master, slave = pty.openpty()

        def make_controlling_terminal():
            import fcntl
            import termios

            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = start(
            mimocorb_command("run", str(setup)),
            project,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=make_controlling_terminal,
        )
        os.close(slave)
        self.output = b""

    def pump(self, seconds):
        """Read what the run writes for ``seconds`` (a terminal that is not read blocks the writer)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return

    def pump_until(self, predicate, what, timeout=20.0):
        """Read what the run writes until ``predicate()`` holds."""
        wait_until(lambda: self.pump(0.05) or predicate(), timeout, what, interval=0.0)

    def type(self, text):
        os.write(self.master, text.encode())

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            self.pump(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            raise AssertionError(f"run did not end; output:\n{self.text}")
        self.pump(0.2)
        os.close(self.master)
        return self.proc.returncode

    @property
    def text(self):
        return self.output.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_commands_from_a_terminal(project):
    setup = _endless(project)
    term = Terminal(project, setup)
    run_dir = wait_for_run_dir(project / "target")
    term.pump_until(lambda: events_in_stats(run_dir) > 0, "first events")
    steps = (
        ("P\n", lambda: _sampled_twice_while_paused(run_dir), "two stats rows while paused"),
        ("R\n", lambda: "run resumed" in term.text, "the run to resume"),
        ("R\n", lambda: "R ignored" in term.text, "the second R to be refused"),
        ("S\n", lambda: "data taking stopped" in term.text, "the run to stop"),
    )
    for command, done, what in steps:
        term.type(command)
        term.pump_until(done, what)
    term.type("E\n")
    assert term.wait(30) == 0, term.text
    text = term.text
    assert "commands: P<ret> pause" in text  # help shown on a terminal
    assert "run paused" in text and "run resumed" in text
    assert "R ignored: the run is running, not paused" in text  # R only resumes a paused run
    assert "data taking stopped" in text
    assert "\r\x1b[K" in text  # the status line is rewritten in place
    assert "paused" in text and "stopped" in text
    s = summary(run_dir)
    assert _states(s) == ["configured", "running", "paused", "running", "stopped", "stopping", "ended"]
    assert s["end_reason"] == "stop command"
    assert s["pauses"] == 1
    _paused_rows_constant(run_dir)
    assert_zero_loss(run_dir)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_commands_from_a_pipe(project):
    setup = _endless(project)
    proc = start(mimocorb_command("run", str(setup)), project, stdin=subprocess.PIPE)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: events_in_stats(run_dir) > 0, 20, "first events", interval=0.1)
    steps = (
        ("P\n", lambda: _sampled_twice_while_paused(run_dir), "two stats rows while paused"),
        ("hello\nR\n", lambda: _running_again(run_dir), "a stats row of the resumed run"),
    )
    for command, done, what in steps:
        proc.stdin.write(command)
        proc.stdin.flush()
        wait_until(done, 20, what)
    proc.stdin.write("E\n")
    proc.stdin.close()
    out = finish(proc)
    assert proc.returncode == 0, out
    assert "unknown command 'hello'" in out
    assert "commands: P<ret>" not in out  # no help without a terminal
    s = summary(run_dir)
    assert _states(s) == ["configured", "running", "paused", "running", "stopping", "ended"]
    assert s["end_reason"] == "end command"
    _paused_rows_constant(run_dir)
    assert_zero_loss(run_dir)


@pytest.mark.timeout(60)
def test_stop_from_a_pipe_ends_the_run_without_waiting_for_e(project):
    setup = _endless(project)
    proc = start(mimocorb_command("run", str(setup)), project, stdin=subprocess.PIPE)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: events_in_stats(run_dir) > 0, 20, "first events", interval=0.1)
    proc.stdin.write("S\n")
    proc.stdin.flush()  # the pipe stays open: nobody could ever type E, so the run must end by itself
    out = finish(proc)
    assert proc.returncode == 0, out
    s = summary(run_dir)
    assert s["end_reason"] == "stop command"
    assert "stopped" not in _states(s)
    assert_zero_loss(run_dir)


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_the_run_in_order(project, sig):
    setup = _endless(project)
    proc = start(mimocorb_command("run", str(setup)), project)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: events_in_stats(run_dir) > 0, 20, "first events", interval=0.1)
    proc.send_signal(sig)
    out = finish(proc)
    assert proc.returncode == 0, out
    s = summary(run_dir)
    assert s["end_reason"] == sig.name
    assert all(w["status"] == "exited" for w in s["workers"]), s["workers"]
    assert_zero_loss(run_dir)


@pytest.mark.timeout(60)
def test_ctrl_c_to_the_whole_process_group_does_not_kill_the_workers(project):
    """A Ctrl-C in a terminal reaches every process of the foreground group: workers ignore it."""
    setup = _endless(project)
    proc = start(mimocorb_command("run", str(setup)), project, start_new_session=True)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: events_in_stats(run_dir) > 0, 20, "first events", interval=0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out = finish(proc)
    assert proc.returncode == 0, out
    s = summary(run_dir)
    assert s["end_reason"] == "SIGINT"
    assert all(w["status"] == "exited" and w["exitcode"] == 0 for w in s["workers"]), s["workers"]
    assert_zero_loss(run_dir)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_second_ctrl_c_stops_waiting_for_a_hanging_worker(project):
    body = buffers(1) + "Functions:\n" + fkt(1, "chain_source", "import_source", "RB_1: write")
    body += fkt(2, "chain_faults", "hanging_sink", "RB_1: read")
    setup = write_setup(project, "hang_setup.yaml", body, configs=PACED + "hanging_sink: {}\n")
    proc = start(mimocorb_command("run", str(setup), "--grace", "40"), project)
    run_dir = wait_for_run_dir(project / "target")
    wait_until(lambda: events_in_stats(run_dir) > 0, 20, "first events", interval=0.1)
    proc.send_signal(signal.SIGINT)
    wait_until(lambda: "closing down cleanly" in read_log(run_dir), 20, "the first SIGINT to be handled")
    proc.send_signal(signal.SIGINT)
    out = finish(proc, timeout=20)  # far less than the grace period of 40 s
    assert proc.returncode == 3, out
    assert "SIGINT again: terminating what is still running" in out
    s = summary(run_dir)
    assert s["end_reason"] == "SIGINT"
    assert any("hanging_sink" in name for name in s["end_sequence"]["survivors"])
