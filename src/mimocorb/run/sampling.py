"""The run's periodic samples of its buffers, and where they go: stats.csv, rates.png, the status line,
the buffer-info window, the dashboard's snapshots, the stall watch, and the consumers of the run's
variables (``variables``: the history, the alarms), which get every ``variables_interval`` seconds one
``VariableSample`` each, in the order they were added.

One sample of every buffer serves all of them, taken when the soonest of them is due: the status line
every 0.5 s on a terminal (5 s otherwise, or ``status_interval``), stats.csv every ``stats_interval``,
the dashboard every ``PUBLISH_INTERVAL`` while it runs. A sample is cheap (a few numbers per buffer), so
the loop never waits for one.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ring import Monitor, RingBuffer
from .channels import Channels
from .clock import RunClock
from .dashboard import PUBLISH_INTERVAL
from .gui import RatesPicture
from .links import CSV_COLUMNS, LinkBoard
from .stalls import StallWatch
from .states import RunState
from .status import BufferSample, Console, StatsRecorder, status_text
from .variables import VariableConsumer, VariableSample


@dataclass
class Sampler:
    """Takes the samples when due and hands them on (see the module docstring).

    What the run is doing comes in through callables: ``state()``; ``progress(active)``, the fraction of
    the run done; ``healthy()``, no worker failed; ``pending(buffer, stats)``, the reader groups' backlog;
    ``run_facts()``, the rest of the dashboard's snapshot (workers, events, limits, end reason, setup).
    """

    buffers: Mapping[str, RingBuffer]
    clock: RunClock
    console: Console
    channels: Channels
    stalls: StallWatch
    links: LinkBoard
    intervals: tuple[float | None, float]  # the status line's (None: by the console) and stats.csv's
    state: Callable[[], RunState]
    progress: Callable[[float], float | None]
    healthy: Callable[[], bool]
    pending: Callable[[str, Mapping[str, Any]], list[tuple[str, int]]]
    run_facts: Callable[[], dict[str, Any]]
    variables: Callable[[list[BufferSample]], dict[str, float]] | None = None  # RunVariables.current
    variables_interval: float = 1.0
    note: Callable[[str, int], None] = lambda text, level: None
    consumers: list[VariableConsumer] = field(default_factory=list, init=False)
    samples: list[BufferSample] = field(default_factory=list, init=False)
    stats_file: StatsRecorder | None = field(default=None, init=False)
    rates: RatesPicture | None = field(default=None, init=False)
    _next_sample: float = field(default=0.0, init=False)
    _next_csv: float = field(default=0.0, init=False)
    _next_status: float = field(default=0.0, init=False)
    _next_variables: float = field(default=0.0, init=False)
    _tick: int = field(default=0, init=False)

    def start(self, run_dir: Path | None, linked: bool) -> None:
        """Open stats.csv (with the link columns if a buffer is served or connected) and rates.png."""
        if run_dir is not None:
            self.stats_file = StatsRecorder(
                run_dir / "stats.csv", CSV_COLUMNS if linked else (), self.links.csv_values
            )
            self.rates = RatesPicture(run_dir / "stats.csv", run_dir / "rates.png")

    def add_consumer(self, consumer: VariableConsumer) -> None:
        """``consumer(sample)`` gets every sample of the run's variables from now on."""
        self.consumers.append(consumer)

    def due_now(self) -> None:
        """Everything is sampled and shown on the next call of ``sample_when_due``."""
        self._next_sample = self._next_csv = self._next_status = self._next_variables = time.monotonic()

    def show_status_soon(self) -> None:
        """The state changed: the status line shows it on the next iteration, not seconds later."""
        self._next_status = 0.0

    def sample_when_due(self, now: float) -> None:
        """Samples for stats.csv, rates.png, the GUI and the dashboard, the stall watch, and the status
        line, each when due."""
        if self.state() == RunState.ENDED:
            return
        status_every = self.intervals[0] or (0.5 if self.console.live else 5.0)
        if now >= self._next_sample:
            every = min(status_every, self.intervals[1])
            if self.consumers:
                every = min(every, self.variables_interval)
            self._next_sample = now + (
                min(every, PUBLISH_INTERVAL) if self.channels.web is not None else every
            )
            self._sample(now)
        if now >= self._next_status and self.console.verbose >= 2:
            self._next_status = now + status_every
            self._show_status(now)

    def _sample(self, now: float) -> None:
        stats = self._buffer_stats()
        self.samples = [BufferSample.from_stats(name, s) for name, s in stats.items()]
        state = self.state()
        if now >= self._next_csv and self.stats_file is not None:
            self._next_csv = now + self.intervals[1]
            self.stats_file.record(self.clock.elapsed(now), self.clock.active(now), state, self.samples)
            gui = self.channels.gui
            if self.rates is not None and not (gui is not None and gui.alive):
                self.rates.snapshot(now)
        if self.channels.gui is not None:
            self.channels.gui.info(state, self.clock.active(), self.samples, self.healthy())
        if self.channels.web is not None:
            self.publish(stats, now)
        if state == RunState.RUNNING:
            self.stalls.check(now)
        if now >= self._next_variables and self.consumers and self.variables is not None:
            self._next_variables = now + self.variables_interval
            self._hand_on(VariableSample(time.time(), str(state), self.variables(self.samples)))

    def _hand_on(self, sample: VariableSample) -> None:
        """Each consumer gets the sample; one that fails is reported and gets no more of them, the run
        goes on."""
        for consumer in list(self.consumers):
            try:
                consumer(sample)
            except Exception as exc:
                self.consumers.remove(consumer)
                name = getattr(consumer, "__qualname__", type(consumer).__name__)
                self.note(
                    f"ERROR: {name} failed and gets no more samples: {type(exc).__name__}: {exc}\n"
                    f"{traceback.format_exc().rstrip()}",
                    0,
                )

    def publish(self, stats: Mapping[str, Mapping[str, Any]], now: float | None = None) -> None:
        """The dashboard's snapshot, from the samples just taken."""
        web = self.channels.web
        if web is None:
            return
        active = self.clock.active(now)
        web.publish(
            state=self.state(),
            active_time=active,
            samples=self.samples,
            consumers={name: self.pending(name, s) for name, s in stats.items()},
            progress=self.progress(active),
            links=self.links.summary(),
            **self.run_facts(),
        )

    def _show_status(self, now: float) -> None:
        self._tick += 1
        active = self.clock.active(now)
        text = status_text(
            self.state(), active, self.samples, self.progress(active), self._tick, self.console.live
        )
        links = self.links.status({s.name for s in self.samples if s.fill >= s.slots})
        self.console.status(f"{text}  {links}" if links else text)

    def record_last_row(self, note: Callable[[str, int], None]) -> None:
        """The last row of stats.csv (state ``ended``) and the final rates.png."""
        if self.stats_file is None or not self.buffers:
            return
        now = time.monotonic()
        self.samples = [BufferSample.from_stats(name, s) for name, s in self._buffer_stats().items()]
        self.stats_file.record(self.clock.elapsed(now), self.clock.active(), RunState.ENDED, self.samples)
        self.stats_file.close()
        if self.rates is not None:
            problem = self.rates.final()
            if problem is not None:
                note(f"rates.png not written: {problem}", 1)

    def _buffer_stats(self) -> dict[str, dict]:
        return {name: b.stats() for name, b in self.buffers.items()}


def final_stats(monitors: Mapping[str, Monitor]) -> dict[str, dict]:
    """Every buffer's statistics at the end, through its monitor; a buffer already closed (after a
    failure of the controller) is left out."""
    stats = {}
    for name, monitor in monitors.items():
        with contextlib.suppress(Exception):
            stats[name] = monitor.stats()
    return stats
