"""What the device sources share: config checks that name the key and the values allowed, the writer's
run state, committing an event, reconnecting with growing intervals, and the simulators' plumbing.

Each source checks its own keys with these helpers, so that every message starts with the source's name
and says what is allowed, as ``mimocorb validate`` prints it on the setup's line.
"""

from __future__ import annotations

import difflib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from ..ring import EndOfStream, Writer
from ..workers.arguments import WRITE, first_of, require_list, require_role
from ._mcpha import DeviceError

T = TypeVar("T")
PAUSE_STEP = 0.05  # s between looks at the paused flag


def unknown_keys(
    device: str,
    config: Mapping[str, Any],
    keys: Sequence[str],
    what: str = "config key",
    also: Sequence[str] = ("directory_prefix",),
) -> None:
    """A misspelt key is an error: silently ignored, the run would not be what the file says.

    ``what`` names the keys in the message; ``also`` are allowed without being suggested (the run's
    ``directory_prefix`` among a function's config keys; nothing, for a mapping within a key)."""
    allowed = (*keys, *also)
    for key in config:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(keys)}"
            raise ValueError(f"{device}: unknown {what} '{key}'; {hint}")


def with_defaults(device: str, config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` over ``defaults``, after checking that it sets no key ``defaults`` does not have."""
    unknown_keys(device, config, tuple(defaults))
    return {**defaults, **config}


def choice(device: str, c: Mapping[str, Any], key: str, allowed: Collection[Any]) -> Any:
    """``c[key]`` if it is one of ``allowed`` (the message lists them); a bool is never a choice."""
    if isinstance(c[key], bool) or c[key] not in tuple(allowed):
        raise ValueError(f"{device}: '{key}' must be one of {', '.join(map(str, allowed))}, got {c[key]!r}")
    return c[key]


def number(device: str, c: Mapping[str, Any], key: str, zero: bool = False) -> float:
    value = c[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (value == 0 and not zero)
    ):
        raise ValueError(f"{device}: '{key}' must be a number {'>= 0' if zero else '> 0'}, got {value!r}")
    return float(value)


def text(device: str, c: Mapping[str, Any], key: str, example: str) -> str:
    if not isinstance(c[key], str) or not c[key]:
        raise ValueError(f"{device}: config key '{key}' is required, e.g. {example}; got {c[key]!r}")
    return c[key]


def one_write_buffer(device: str, buffers: Mapping[str, list]) -> np.dtype:
    """The dtype of the only buffer a source may have, which must have named fields."""
    if len(buffers["write"]) != 1 or buffers["read"] or buffers["observe"]:
        raise ValueError(f"{device}: expected one buffer marked 'write' and nothing else in RB_assign")
    dtype = np.dtype(buffers["write"][0])
    if not dtype.names:
        raise ValueError(f"{device}: the 'write' buffer needs named fields (data_type as a mapping)")
    return dtype


def known_fields(device: str, dtype: np.dtype, known: Sequence[str]) -> None:
    extra = [name for name in dtype.names or () if name not in known]
    if extra:
        raise ValueError(
            f"{device}: the buffer's fields {extra} are unknown; the source fills {', '.join(known)}"
        )


def write_setup(
    device: str, sink_list: list[dict] | None, rb_info: Mapping[str, Any], log: logging.Logger
) -> dict:
    """The setup dict of a source's one 'write' buffer, or a ValueError saying what the setup lacks."""
    require_role(device, rb_info, WRITE)
    return first_of(device, require_list(device, sink_list, WRITE), WRITE, log)


def commit(
    sink: Writer, number: int, fill: Callable[[np.ndarray], None], timestamp: float, dead: float
) -> bool:
    """One event into the next slot; False if the run ended before a slot was free. A fill that fails
    leaves no half-written event behind. Every source of this package commits through here, so that the
    end of the run is recognised in one place."""
    try:
        slot = sink.get_new_buffer()
    except EndOfStream:
        return False
    try:
        fill(slot)
    except BaseException:
        sink.discard()
        raise
    sink.set_metadata(number, timestamp, dead)
    sink.process_buffer()
    return True


class Timing:
    """Capture times and dead time of a trigger-armed instrument: it is dead from a capture's end until
    it is armed again (``armed`` is set when it is)."""

    def __init__(self) -> None:
        self.previous = time.perf_counter()
        self.armed = self.previous

    def restart(self) -> None:
        """After a pause or a reconnection: the time away is not dead time."""
        self.previous = self.armed = time.perf_counter()

    def captured(self) -> tuple[float, float]:
        """Timestamp (epoch s) and dead-time fraction of the capture just seen complete."""
        now = time.perf_counter()
        dead = (self.armed - self.previous) / max(now - self.previous, 1e-9)
        self.previous = now
        return time.time(), min(max(dead, 0.0), 1.0)


def run_log(log: logging.Logger) -> logging.Logger:
    """Let ``log``'s INFO messages through to the run log: what the device says about itself belongs there,
    while a run logs warnings only unless asked for more."""
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    return log


class RunState:
    """The writer's public flags (``Writer.active``, ``Writer.paused``). Every source of this package reads
    the run's state through here, so that how it is read is written once."""

    def __init__(self, sink: Writer):
        self.sink = sink

    def running(self) -> bool:
        return self.sink.active.is_set()

    def paused(self) -> bool:
        return self.sink.paused.is_set()

    def waiting(self) -> bool:
        """Running and not paused: an acquisition may go on."""
        return self.running() and not self.paused()

    def sleep_while_paused(self) -> None:
        while self.paused() and self.running():
            time.sleep(PAUSE_STEP)


class Source:
    """What the instrument sources have in common: they read an instrument into the function's one
    'write' buffer (each module's docstring says how), numbering the events from 1.

    Args:
        sink_list: the setup dict of the one 'write' buffer.
        config_dict: the config keys of docs/devices.md.
        rb_info: the ``RB_assign`` entries.

    Raises:
        ValueError: a config or buffer the source cannot work with.
        DeviceError: the instrument cannot be reached at the start, or was lost and did not come back.
    """

    sink: Writer
    state: RunState
    events: int

    def __call__(self) -> None:
        """The run: acquire until it ends, then leave the instrument as found, whatever ended it."""
        try:
            self._acquire()
        finally:
            self._finish()

    def _acquire(self) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _attach(self, setup: dict) -> None:
        """The buffer's writer and the run's state, once the config is checked; no event yet."""
        self.sink = Writer(setup)
        self.state = RunState(self.sink)
        self.events = 0

    def _commit(self, fill: Callable[[np.ndarray], None], timestamp: float, dead: float) -> bool:
        """The next event (``commit``); False if the run ended before a slot was free."""
        if not commit(self.sink, self.events + 1, fill, timestamp, dead):
            return False
        self.events += 1
        return True


def reconnect(
    connect: Callable[[], T],
    state: RunState,
    limit: float,
    log: logging.Logger,
    what: str,
    events: int,
    exc: Exception,
) -> T | None:
    """``connect()`` again with growing intervals for ``limit`` seconds; None if the run ended meanwhile.

    Raises DeviceError when the device stays away, so that the run ends in order with what it acquired.
    """
    log.warning("%s; %d event(s) so far; reconnecting for up to %g s", exc, events, limit)
    deadline, pause = time.monotonic() + limit, 0.1
    while state.running() and time.monotonic() < deadline:
        try:
            device = connect()
        except DeviceError:
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 2.0)
            continue
        log.warning("reconnected to %s", what)
        return device
    if state.running():
        raise DeviceError(
            f"lost {what} and could not reconnect within {limit:g} s ({exc}); "
            f"the run ends with the {events} event(s) acquired"
        ) from exc
    return None


S = TypeVar("S", bound="InBackground")


class InBackground:
    """A simulator whose thread runs from ``start()`` to ``stop()``, or for the length of a with block."""

    _thread: threading.Thread

    def start(self: S) -> S:
        self._thread.start()
        return self

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        raise NotImplementedError


def accept_client(listener: socket.socket) -> socket.socket | None:
    """A simulator's next client, sending each reply at once (Nagle off); None once the listener is closed."""
    try:
        client, _ = listener.accept()
    except OSError:
        return None
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def serve_until_signal(stop: Callable[[], None], started: str) -> None:
    """For ``mimocorb simulate``: say where the simulator is (a parent waits for that line), then keep
    it until SIGINT or SIGTERM, and stop it."""
    ended = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: ended.set())
    print(f"{started} (Ctrl-C ends it)", flush=True)
    try:
        while not ended.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        signal.signal(signal.SIGTERM, previous)


def start_simulator(device: str, marker: str, *options: str) -> tuple[subprocess.Popen, str]:
    """``mimocorb simulate DEVICE`` in a process of its own; returns it and the last word of its first
    line, which holds ``marker`` (the port or path to use). A process, not a thread: a run forks its
    workers, and a forked worker must not inherit the simulator's files."""
    command = [sys.executable, "-m", "mimocorb", "simulate", device, *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if marker not in line:
        end_process(process)
        raise RuntimeError(f"the simulated {device} did not start: {line.strip() or 'no output'}")
    return process, line.split(marker, 1)[1].split()[0]


def end_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()
