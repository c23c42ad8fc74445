"""Whether the process of a run that is listed as running still lives.

A run records the pid and host of its controller when it registers. On the same host a pid that is
gone, or that now belongs to a process started at another moment (the pid was used again), means the
run died without writing its summary. On another host nothing can be told; the row stays as it is.
"""

from __future__ import annotations

import socket

from ..ring import pid_alive


def this_host() -> str:
    return socket.gethostname()


def process_start(pid: int) -> str | None:
    """When the process ``pid`` started, in clock ticks since boot (Linux's /proc); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


def process_gone(pid: int | None, host: str | None, started: str | None) -> bool:
    """True only when it is sure: same host, and the pid is dead or belongs to another process."""
    if pid is None or host != this_host():
        return False
    if not pid_alive(pid):
        return True
    return started is not None and process_start(pid) not in (None, started)
