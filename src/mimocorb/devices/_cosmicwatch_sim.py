"""A simulated CosmicWatch: a pseudo-terminal that prints what the detector prints over USB.

The source opens its path as it opens ``/dev/ttyUSB0``. Like the detector, which restarts when a program
opens its port, the simulator waits until the port is opened, prints its banner after a short boot
time, then one event line at Poisson-distributed times. Its content follows from ``seed``, and every
event line it printed is kept in ``sent``, so a test can compare what it received line by line. When the
port is closed, printing stops until it is opened again (the numbering goes on); ``stop()`` closes the
terminal, as a detector whose cable is pulled.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Iterator

import numpy as np

from ._common import InBackground, end_process, serve_until_signal, start_simulator

BOOT_TIME = 0.3  # s between the port's opening and the banner
NAME = "SimWatch"
STARTED = "CosmicWatch simulator on "


def _banner(version: str) -> list[str]:
    if version == "v2":
        return [
            "#" * 40,
            "### CosmicWatch: The Desktop Muon Detector (simulated)",
            "### Event Ardn_time[ms] ADC[0-1023] SiPM[mV] Deadtime[ms] Temp[C] Name",
            "#" * 40,
            NAME,
        ]
    return [
        "# Welcome to the CosmicWatch simulator (Version: v3X)",
        "# (300ms) Launching the simulated detector",
        "#" * 40,
        "# Event  Timestamp[s]  Flag  ADC[12b]  SiPM[mV]  Deadtime[s]  Temp[C]  Press[Pa]  "
        "Accel(X:Y:Z)[g]  Gyro(X:Y:Z)[deg/sec]  Name",
        "#" * 40,
    ]


class _Events:
    """The event lines, reproducible from the seed: pulse heights falling off like a muon spectrum,
    a dead time of a few hundred µs per event, slowly varying temperature and pressure."""

    def __init__(self, version: str, rate: float, seed: int):
        self.version, self.rate = version, rate
        self.rng = np.random.default_rng(seed)
        self.number = 0
        self.time_s = self.dead_s = 0.0

    def next_line(self) -> tuple[float, str]:
        """The next event: its device time (s) and its line."""
        rng = self.rng
        self.number += 1
        self.time_s += rng.exponential(1 / self.rate)
        self.dead_s += 0.0002 + rng.exponential(0.0001)
        top = 1023 if self.version == "v2" else 4095
        adc = int(min(top, 40 + rng.exponential(top / 8)))
        mv = adc * (3300 / (top + 1)) / 5
        temp = 22 + 0.5 * np.sin(self.time_s / 600) + rng.normal(0, 0.05)
        if self.version == "v2":
            fields = [self.number, int(self.time_s * 1000), adc, f"{mv:.2f}", int(self.dead_s * 1000)]
            return self.time_s, " ".join(map(str, [*fields, f"{temp:.2f}"]))
        accel = ":".join(f"{v:.3f}" for v in (*rng.normal(0, 0.004, 2), -1 + rng.normal(0, 0.004)))
        gyro = ":".join(f"{v:.1f}" for v in rng.normal(0, 0.1, 3))
        values = [self.number, f"{self.time_s:.6f}", int(rng.random() < 0.1), adc, f"{mv:.1f}"]
        values += [f"{self.dead_s:.6f}", f"{temp:.1f}", int(101325 + rng.normal(0, 20)), accel, gyro, NAME]
        return self.time_s, "\t".join(map(str, values))


def cosmicwatch_lines(count: int, version: str = "v2", rate: float = 5.0, seed: int = 0) -> list[str]:
    """The first ``count`` event lines a simulator with these settings prints: what a run must record."""
    events = _Events(version, rate, seed)
    return [events.next_line()[1] for _ in range(count)]


class CosmicWatchSimulator(InBackground):
    """A CosmicWatch on a pseudo-terminal, printing from a thread.

    Args:
        rate: events per second (Poisson).
        version: ``v2`` (space-separated values) or ``v3x`` (tab-separated, more sensors).
        count: stop printing after this many events (None: until stopped).
        seed: for the random numbers; equal seeds print equal lines.
        boot_time: s between the port's opening and the banner.

    ``path`` is the port to configure (``port:``), ``sent`` the event lines printed so far.
    """

    def __init__(
        self,
        rate: float = 5.0,
        version: str = "v2",
        count: int | None = None,
        seed: int = 0,
        boot_time: float = BOOT_TIME,
    ):
        if version not in ("v2", "v3x"):
            raise ValueError(f"the simulated CosmicWatch is v2 or v3x, not {version!r}")
        if rate <= 0:
            raise ValueError(f"the rate must be > 0 events per second, got {rate}")
        self.version, self.count, self.boot_time = version, count, boot_time
        self._events = _Events(version, rate, seed)
        self.sent: list[str] = []
        self.opened = 0  # how often the port was opened
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)  # the client's opening is seen as the end of the hang-up on the master side
        self._held: int | None = None  # the slave side, kept open once stopped (``stop``)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cosmicwatch-simulator", daemon=True)

    @property
    def done(self) -> bool:
        """All ``count`` events are printed."""
        return self.count is not None and len(self.sent) >= self.count

    def _all_printed(self) -> bool:
        return self.count is not None and self._events.number >= self.count

    def stop(self) -> None:
        """Close the terminal at once: the port's reader gets an error, as when the cable is pulled.

        The port's path stays taken until ``close()``: the system gives a freed terminal's number to the
        next one, and a reader trying to open the path again would find another program's terminal
        there (another simulator's, in tests that run side by side)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._master < 0:
            return  # stopped before: its descriptor numbers may be another file's by now
        if self._held is None:
            with contextlib.suppress(OSError):  # the terminal is gone already
                self._held = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        os.close(self._master)
        self._master = -1

    def close(self) -> None:
        """Stop, and give the port's path free."""
        self.stop()
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _opened(self, timeout: float) -> bool:
        """Whether a program has the port open (the master side is not hung up)."""
        poller = select.poll()
        poller.register(self._master, select.POLLHUP)
        return not poller.poll(timeout * 1000)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if not self._opened(0.05):
                time.sleep(0.05)
                continue
            self.opened += 1
            if self._stopping.wait(self.boot_time):
                return
            with contextlib.suppress(OSError):  # closed by the reader: wait for the next opening
                self._write(_banner(self.version))
                self._print_events()

    def _write(self, lines: list[str]) -> None:
        os.write(self._master, "".join(f"{line}\r\n" for line in lines).encode("ascii"))

    def _print_events(self) -> None:
        """Every line whose time has come, in one write; the clock starts at the banner."""
        start = time.monotonic() - self._events.time_s
        due: list[str] = []
        while not self._stopping.is_set() and not self._all_printed() and self._opened(0):
            at, line = self._events.next_line()
            delay = start + at - time.monotonic()
            if delay > 0 and due:
                self._write(due)
                self.sent += due
                due = []
            if delay > 0 and self._stopping.wait(delay):
                return
            due.append(line)
        self._write(due)
        self.sent += due


def run_cosmicwatch_simulator(rate: float, version: str, count: int | None, seed: int) -> None:
    """``mimocorb simulate cosmicwatch``: serve until SIGINT or SIGTERM; says the path first."""
    simulator = CosmicWatchSimulator(rate, version, count, seed).start()
    serve_until_signal(simulator.close, f"{STARTED}{simulator.path}")


@contextlib.contextmanager
def simulated_cosmicwatch(*options: str) -> Iterator[str]:
    """``mimocorb simulate cosmicwatch`` in its own process for as long as the block runs; yields the
    path of its port."""
    process, path = start_simulator("cosmicwatch", STARTED, *options)
    try:
        yield path
    finally:
        end_process(process)
