"""Child processes of the tests (``python -m mimocorb ...``, scripts, ``python -c``): started with a
known environment, recorded for the shared-memory check, and never left running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# pids of the children the tests started, in the order started: /dev/shm entries carrying one of them are
# the tests'. Pid numbers come round again (pid_max is often 32768) and other programs on the machine
# start processes too, so a check counts only the children started while it watched (``tracked_since``).
TRACKED_PIDS: list[int] = []
_RUNNING: list[subprocess.Popen] = []

# changes for ``child_env`` that take the display away: matplotlib and Tk must cope without one
HEADLESS: dict[str, str | None] = {"DISPLAY": None, "WAYLAND_DISPLAY": None}


def child_env(changes: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment for a child: unbuffered output (its lines arrive as they are printed)
    and mimocorb's default start method, then ``changes`` (a value of None removes the variable)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("MIMOCORB_START_METHOD", None)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def track(pid: int) -> None:
    """Count ``pid``'s /dev/shm entries as the tests' (a child started some other way than ``start``)."""
    TRACKED_PIDS.append(pid)


def tracked_since(mark: int) -> set[int]:
    """The pids tracked after ``mark`` (a length of ``TRACKED_PIDS`` taken earlier), and this process."""
    return {*TRACKED_PIDS[mark:], os.getpid()}


def mimocorb_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mimocorb", *args]


def start(
    command: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: int | None = subprocess.DEVNULL,
    **popen: Any,
) -> subprocess.Popen:
    """Start ``command`` in ``cwd`` with text output on a pipe (errors in the same pipe unless
    ``stderr`` is given); ``env`` is the whole environment, ``child_env()`` if not given."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.STDOUT)
    full_env = child_env() if env is None else dict(env)
    proc = subprocess.Popen(command, cwd=cwd, stdin=stdin, text=True, env=full_env, **popen)
    track(proc.pid)
    _RUNNING[:] = [p for p in _RUNNING if p.returncode is None]  # forget those already waited for
    _RUNNING.append(proc)
    return proc


def communicate(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[str, str]:
    """Wait for ``proc`` and return its output and error text; a child that does not end within
    ``timeout`` s is killed and fails the test with what it wrote.

    A stdin the test already closed (commands written through a pipe) is not touched again.
    """
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        output = (out or "") + (err or "")
        raise AssertionError(f"{proc.args!r} did not end within {timeout} s; output:\n{output}") from None
    return out or "", err or ""


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """``communicate`` for a child whose errors go to its output: that output."""
    return communicate(proc, timeout)[0]


def run(command: list[str], cwd: Path, timeout: float = 60.0, **start_kw: Any) -> subprocess.CompletedProcess:
    """``command`` run to its end (see ``start`` and ``communicate``)."""
    proc = start(command, cwd, **start_kw)
    out, err = communicate(proc, timeout)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def run_python(
    code: str, cwd: Path | None = None, timeout: float = 60.0, **start_kw: Any
) -> subprocess.CompletedProcess:
    """``python -c CODE`` run to its end, stdout and stderr apart: for what only a fresh interpreter
    shows (which modules an import pulls in, what happens at exit)."""
    return run([sys.executable, "-c", code], cwd or Path.cwd(), timeout, stderr=subprocess.PIPE, **start_kw)


def stop_leftovers() -> None:
    """Kill and reap the children a test left running (it failed before it ended them)."""
    for proc in _RUNNING:
        if proc.poll() is None:
            proc.kill()
            communicate(proc, 30)
    _RUNNING.clear()
