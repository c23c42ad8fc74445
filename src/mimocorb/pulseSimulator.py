"""``mimocorb.pulseSimulator``: the muon-detector simulator under its mimoCoRB 1.0.2 name.

Usage as in the original, inside a source function or as a plain object::

    sim = pulseSimulator(config_dict)            # the ``simulation_source`` config block
    sim.init(number_of_channels=4, number_of_values=4250)
    waveform = sim()                              # float32 mV, shape (4, 4250), after the configured sleep

Events are generated in batches by :class:`mimocorb.physics.simulation.MuonEventGenerator` and handed out
one at a time; every batch is a new array, so a returned waveform stays valid after later calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .physics.simulation import MuonEventGenerator, SimulationParameters

__all__ = ["pulseSimulator"]

CATCH_UP_S = 0.005  # how far the trigger clock may lag behind real time before it skips ahead
BATCH_EVENTS = 32  # large enough to amortise numpy call overhead, small enough to stay in cache


class pulseSimulator:
    """Simulated triggered events of the four-layer muon detector of the mimoCoRB 1.0.2 example.

    Args:
        config_dict: the ``simulation_source`` keys of the example's config: ``number_of_samples``,
            ``sample_time_ns``, ``pre_trigger_samples`` and ``analogue_offset`` (V) required;
            ``trigger_level``, ``sleeptime``, ``random``, pulse shape and probabilities optional.
        seed: seed of the random numbers, for reproducible events.

    Raises:
        ValueError: a required key is missing or a key has an unusable value.

    Example:
        >>> from mimocorb.pulseSimulator import pulseSimulator
        >>> config = {"number_of_samples": 500, "sample_time_ns": 4, "pre_trigger_samples": 50,
        ...           "analogue_offset": -0.48, "sleeptime": 0}
        >>> sim = pulseSimulator(config, seed=1)
        >>> sim.init(number_of_channels=4)
        >>> sim().shape
        (4, 500)
    """

    def __init__(self, config_dict: Mapping[str, Any], seed: int | None = None):
        if "number_of_samples" not in config_dict:
            raise ValueError("pulseSimulator config: required key 'number_of_samples' is missing")
        self.config_dict = dict(config_dict)
        self.params = SimulationParameters.from_config(config_dict)
        self.number_of_samples = int(config_dict["number_of_samples"])
        # kept for compatibility, unused: a run's length comes from runevents and runtime
        self.eventcount = int(config_dict.get("eventcount", 1000))
        self.seed = seed
        self.generator: MuonEventGenerator | None = None
        self.channel_names: list[str] | None = None
        self._batch: np.ndarray = np.empty((0, 0, 0), dtype=np.float32)
        self._next = 0
        self._due = 0.0  # when the next event "arrives", on the time.monotonic() clock

    def init(
        self,
        number_of_channels: int | None = None,
        number_of_values: int | None = None,
        channel_names: Sequence[str] | None = None,
    ) -> None:
        """Fix the event layout; channel count defaults to the names given, else 4; samples to the config."""
        if number_of_channels is None:
            number_of_channels = len(channel_names) if channel_names else 4
        if number_of_values is None:
            number_of_values = self.number_of_samples
        self.channel_names = list(channel_names) if channel_names else None
        self.generator = MuonEventGenerator(self.params, number_of_channels, number_of_values, self.seed)
        self._due = time.monotonic()

    def __call__(self) -> np.ndarray:
        """Wait for the next trigger (fixed or exponential intervals of mean ``sleeptime``), return it."""
        if self.generator is None:
            raise RuntimeError("pulseSimulator: call init() before asking for events")
        self._wait(self.generator.rng)
        if self._next >= len(self._batch):
            self._batch, _ = self.generator.generate(BATCH_EVENTS)
            self._next = 0
        event = self._batch[self._next]
        self._next += 1
        return event

    def _wait(self, rng: np.random.Generator) -> None:
        """Sleep until the next arrival time of a (Poisson) trigger stream of rate 1/sleeptime.

        Arrival times are drawn from the previous arrival, not from the end of the previous call, so the
        time spent generating and storing an event (events are made in batches) and the overshoot of short
        sleeps do not lower the rate (the original slept after generating). A
        source held up by a full buffer catches up at most ``CATCH_UP_S``: like a detector during dead
        time, it does not deliver the triggers it missed.
        """
        mean = self.params.sleeptime
        if mean <= 0:
            return
        interval = rng.exponential(mean) if self.params.random_sleep else mean
        now = time.monotonic()
        self._due = max(self._due + interval, now - CATCH_UP_S)
        if self._due > now:
            time.sleep(self._due - now)
