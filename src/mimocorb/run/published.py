"""User variables: numbers a worker publishes (a temperature, a pressure, a high voltage, an accepted
rate) for the run's history and alarms.

In a worker function (or any process it starts)::

    from mimocorb.run import publish

    publish("temperature", sensor.read())       # the last value before each sample is recorded
    publish("hv.channel_1", 1450.0)

A name is letters, digits, ``_`` and ``.`` (at most ``MAX_NAME`` bytes); the value is anything
``float()`` takes. Publishing never blocks and costs one small write to a pipe: every worker process has
its own pipe to the controller, made anew for every start of the process (restarts included), whose
write end is non-blocking. The controller reads it on every iteration of its loop and keeps the last
value of each name. Should the pipe be full (the controller busy for a moment), the update is dropped,
never waited for. Outside a worker process of a run (a script, the controller itself) ``publish`` does
nothing. A value stays current while the process that published it runs; when the process ends, its
names disappear from the samples until it (or its restart) publishes them again.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from multiprocessing.connection import Connection

MAX_NAME = 56
RECORD = struct.Struct(f"<d{MAX_NAME}s")  # 64 bytes: a pipe write of it is atomic (≤ PIPE_BUF)
NAME = re.compile(r"[A-Za-z0-9_.]+")

_channel: Connection | None = None  # the write end, in a worker process
_valid: set[str] = set()  # names checked already: the check costs a regular expression


def publish(name: str, value: float) -> None:
    """Make ``value`` the current value of the user variable ``name`` (see the module docstring).

    Raises ValueError for a name that is not letters, digits, ``_`` and ``.``, or too long, and for a
    value that is not a number.
    """
    if name not in _valid:
        check_name(name)
        _valid.add(name)
    record = RECORD.pack(float(value), name.encode("ascii"))
    if _channel is None:
        return
    # the update is dropped when the pipe is full (BlockingIOError) or the controller has gone
    with contextlib.suppress(OSError):
        os.write(_channel.fileno(), record)


def check_name(name: str) -> None:
    """A clear error for a name that cannot be a variable's."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"variable name {name!r}: only letters, digits, '_' and '.' are allowed")
    if len(name) > MAX_NAME:
        raise ValueError(f"variable name {name!r}: at most {MAX_NAME} characters are allowed")


def open_channel(connection: Connection | None) -> None:
    """In a worker process: ``publish`` writes to ``connection`` from now on, without ever blocking."""
    global _channel
    _channel = connection
    if connection is not None:
        os.set_blocking(connection.fileno(), False)


class PublishedValues:
    """The controller's side of one worker process's pipe: the last value of every name it published.

    The supervisor reads the pipe (it owns all pipes of a process) and hands the bytes to ``take``.
    """

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self._partial = b""

    def take(self, data: bytes) -> None:
        data = self._partial + data
        whole = len(data) - len(data) % RECORD.size
        for value, raw in RECORD.iter_unpack(data[:whole]):
            self.values[raw.rstrip(b"\0").decode("ascii", "replace")] = value
        self._partial = data[whole:]
