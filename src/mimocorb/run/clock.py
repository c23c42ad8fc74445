"""The run's clock: active time counts while data is taken, not while paused, and stops with the data."""

from __future__ import annotations

import time


class RunClock:
    """Active time of a run (``runtime`` counts it), with the pauses taken out."""

    def __init__(self) -> None:
        self.t_start: float | None = None  # time.monotonic() at the start
        self.pauses = 0
        self.paused_total = 0.0  # seconds of pauses that are over
        self._pause_since: float | None = None
        self._frozen: float | None = None

    def start(self) -> float:
        self.t_start = time.monotonic()
        return self.t_start

    def pause(self) -> None:
        self._pause_since = time.monotonic()
        self.pauses += 1

    def resume(self) -> None:
        if self._pause_since is not None:
            self.paused_total += time.monotonic() - self._pause_since
            self._pause_since = None

    def freeze(self) -> None:
        """Data taking is over: the active time stays what it is now (the drain does not count)."""
        if self._frozen is None:
            self.resume()
            self._frozen = self.active()

    def active(self, now: float | None = None) -> float:
        """Seconds of running time: pauses excluded, frozen from the moment data taking stops."""
        if self._frozen is not None:
            return self._frozen
        if self.t_start is None:
            return 0.0
        now = time.monotonic() if now is None else now
        paused = self.paused_total + (now - self._pause_since if self._pause_since is not None else 0.0)
        return max(0.0, now - self.t_start - paused)

    def elapsed(self, now: float) -> float:
        """Seconds since the start, pauses included (the time column of stats.csv)."""
        return now - (self.t_start or now)
