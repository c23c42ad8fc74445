"""One ``mimocorb sequence`` per series directory: an exclusive ``flock`` on ``series.lock``.

The kernel drops the lock when the last process holding the file ends, so a killed command, or a power
cut, never leaves a lock behind that someone has to remove by hand. Worker processes started by fork
inherit the open file: while a killed command's workers are still ending, the lock stays taken, and
no new run starts beside them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from ..ring import pid_alive

LOCK_NAME = "series.lock"


class SeriesBusy(RuntimeError):
    """Another sequence command runs this series directory."""


class SeriesLock:
    """``with SeriesLock(directory):`` holds the series directory (created if needed) or raises
    ``SeriesBusy``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> SeriesLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise SeriesBusy(self.busy_text(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def busy_text(self, holder: str) -> str:
        folder = self.path.parent
        if not holder.isdigit():
            return f"{folder} is in use by another mimocorb sequence; only one may run a series at a time"
        pid = int(holder)
        if pid_alive(pid):
            who = f"mimocorb sequence (pid {pid})"
        else:
            who = f"the processes of a run of mimocorb sequence (pid {pid}, ended), which are still ending"
        return f"{folder} is in use by {who}; only one may run a series at a time"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
