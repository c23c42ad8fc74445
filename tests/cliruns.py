"""Waiting for a ``python -m mimocorb ...`` child process, shared by the test directories that start runs."""

from __future__ import annotations

import subprocess


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """Wait for ``proc`` and return its output; a run that does not end fails the test with its output.

    A stdin the test already closed (commands written through a pipe) is not touched again.
    """
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"run did not end within {timeout} s; output:\n{out}") from None
    return out
