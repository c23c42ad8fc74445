"""How commands reach a run: keyboard (or a pipe) on stdin, SIGINT/SIGTERM, and the GUI's queue.

There is no stdin thread. The controller's loop waits on file descriptor 0 together with the worker
sentinels, and reads a line only when one is there, so

* nothing can block on stdin: a closed stdin or /dev/null reads EOF once and is dropped, a pipe delivers
  its commands and then EOF (the run ends by its end condition), a terminal delivers what is typed;
* workers are never forked while a thread holds the stdin lock (in mimoCoRB 1.0.2 such workers
  deadlocked when stdin was not a terminal), and the controller process stays single-threaded, which
  fork requires;
* stdin is read with ``os.read`` on the descriptor, never through ``sys.stdin``'s buffered reader.

Commands are the single letters of ``commands.TABLE`` (those of mimoCoRB 1.0.2: P pause, R resume,
S stop, E end; and A acknowledge), one per line; lower case is accepted too. A command that takes an
argument has it after the letter (``A no_muons``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from .commands import BY_KEY, TABLE

COMMANDS = {command.key: command.name for command in TABLE}  # letter -> name, as run.log writes them


def parse_command(line: str) -> str | None:
    """The command letter of an input line, or None if the line is not a command."""
    return split_command(line)[0]


def split_command(line: str) -> tuple[str | None, str]:
    """(command letter or None, its argument or ""): ``A no_muons`` is ("A", "no_muons"). Only a
    command that takes an argument may have a word after its letter."""
    word, _, rest = line.strip().partition(" ")
    command = BY_KEY.get(word.upper())
    argument = rest.strip()
    if command is None or (argument and (command.argument is None or " " in argument)):
        return None, ""
    return command.key, argument


class KeyboardInput:
    """Lines from a file descriptor (stdin), read only when the descriptor is ready."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self.open = self.usable(fd)
        self.is_terminal = self.open and os.isatty(fd)
        self._partial = b""

    @staticmethod
    def usable(fd: int = 0) -> bool:
        """A readable descriptor that we may read without being stopped (SIGTTIN in the background).

        A process started with stdin closed has ``sys.stdin is None``; descriptor 0 may then belong to
        anything opened later (a pipe of ours), so it is not read.
        """
        if fd == 0 and sys.stdin is None:
            return False
        try:
            os.fstat(fd)
        except OSError:
            return False
        if os.isatty(fd):
            try:
                return os.tcgetpgrp(fd) == os.getpgrp()
            except OSError:  # not our controlling terminal: reading it cannot stop us
                return True
        return True

    def waitables(self) -> list[int]:
        return [self.fd] if self.open else []

    def read_lines(self) -> list[str]:
        """Complete lines available now; after EOF (closed, /dev/null, end of pipe) the input is dropped."""
        if not self.open:
            return []
        try:
            data = os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self.open = False
            rest, self._partial = self._partial, b""
            return [rest.decode("utf-8", "replace")] if rest.strip() else []
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]


class SignalInput:
    """SIGINT, SIGTERM and SIGHUP become requests to end the run in order (main thread only).

    SIGHUP (the terminal went away) is taken over only if it has its default action, so a run started
    with ``nohup`` keeps ignoring it.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.pending: list[str] = []
        self._saved: dict[int, Any] = {}

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in self.SIGNALS:
            if sig == signal.SIGHUP and signal.getsignal(sig) is not signal.SIG_DFL:
                continue
            self._saved[sig] = signal.signal(sig, self._handler)
        return True

    def restore(self) -> None:
        for sig, old in self._saved.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._saved.clear()

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending.append(signal.Signals(signum).name)

    def take(self) -> list[str]:
        names, self.pending = self.pending, []
        return names


def keyboard_input(cmd_queue: Any, stream: Any = None, stop: Callable[[], bool] | None = None) -> None:
    """Read command lines from ``stream`` (stdin) into ``cmd_queue`` until EOF.

    The original ran this in a thread; mimocorb's controller reads stdin in its own loop instead, but the
    function stays available for user code that builds its own control loop.
    """
    stream = stream if stream is not None else sys.stdin
    while stop is None or not stop():
        try:
            line = stream.readline()
        except (OSError, ValueError):
            return
        if not line:
            return
        with contextlib.suppress(queue.Full):
            cmd_queue.put(line.strip())
