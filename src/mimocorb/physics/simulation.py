"""Waveforms of a four-layer scintillator muon detector, generated in batches.

The per-event procedure of the lab-course simulator is expressed as array operations over a batch of
events, so that one core makes several thousand events of 4 × 4250 samples per second: noise for the
whole batch in one call, then every pulse of one kind (first pulses, second pulses) added with a single
fancy-indexed addition. A pulse of one kind occurs at most once per (event, channel), so those additions
never hit the same sample twice within one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MUON_LIFETIME_NS = 2197.0
SPIN_PERIOD_NS = 0.85 * MUON_LIFETIME_NS
SPIN_ASYMMETRY = 0.03

TRUTH_DTYPE = np.dtype([("stopped", "?"), ("decay_time", "f8"), ("up", "?"), ("second_in_window", "?")])


class SimulationConfigError(ValueError):
    """A simulator configuration key is missing or has an unusable value."""


@dataclass(frozen=True)
class SimulationParameters:
    """The simulator's configuration (the ``simulation_source`` keys of the example), checked once."""

    sample_time_ns: float
    pre_trigger_samples: int
    analogue_offset_mv: float
    trigger_threshold_mv: float = 0.0
    pulse_window: int = 100
    pulse_heights: tuple[float, ...] = (250.0,)
    pulse_spread: float | None = None
    prb_interaction: float = 0.95
    prb_2nd_pulse: float = 0.10
    sleeptime: float = 0.10
    random_sleep: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SimulationParameters:
        """Read the mimoCoRB config keys; a wrong key is reported by name before anything is simulated."""
        for key in ("sample_time_ns", "pre_trigger_samples", "analogue_offset"):
            if key not in config:
                raise SimulationConfigError(f"simulator config: required key '{key}' is missing")
        offset_mv = 1000.0 * _number(config, "analogue_offset")
        trigger = config.get("trigger_level")
        heights = config.get("pulseHeight", 250.0)
        heights = tuple(heights) if isinstance(heights, Sequence) else (heights,)
        params = cls(
            sample_time_ns=_number(config, "sample_time_ns", positive=True),
            pre_trigger_samples=int(_number(config, "pre_trigger_samples", minimum=0)),
            analogue_offset_mv=offset_mv,
            trigger_threshold_mv=0.0 if trigger is None else _number(config, "trigger_level") - offset_mv,
            pulse_window=int(_number(config, "pulseWindow", 100, positive=True)),
            pulse_heights=tuple(_as_float("pulseHeight", h) for h in heights),
            pulse_spread=None if config.get("pulseSpread") is None else _number(config, "pulseSpread"),
            prb_interaction=_probability(config, "prbInteraction", 0.95),
            prb_2nd_pulse=_probability(config, "prb2ndPulse", 0.10),
            sleeptime=_number(config, "sleeptime", 0.10, minimum=0),
            random_sleep=bool(config.get("random", False)),
        )
        if not params.pulse_heights:
            raise SimulationConfigError("simulator config: 'pulseHeight' is an empty list")
        return params


def _as_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimulationConfigError(f"simulator config: '{key}' expected a number, found {value!r}")
    return float(value)


def _number(
    config: Mapping[str, Any],
    key: str,
    default: float | None = None,
    *,
    positive: bool = False,
    minimum: float | None = None,
) -> float:
    value = _as_float(key, config.get(key, default))
    if positive and value <= 0:
        raise SimulationConfigError(f"simulator config: '{key}' expected a value > 0, found {value!r}")
    if minimum is not None and value < minimum:
        raise SimulationConfigError(
            f"simulator config: '{key}' expected a value >= {minimum}, found {value!r}"
        )
    return value


def _probability(config: Mapping[str, Any], key: str, default: float) -> float:
    value = _number(config, key, default)
    if not 0.0 <= value <= 1.0:
        raise SimulationConfigError(
            f"simulator config: '{key}' expected a probability in [0, 1], found {value}"
        )
    return value


class MuonEventGenerator:
    """Makes batches of triggered events: float32 mV arrays of shape (events, channels, samples)."""

    def __init__(
        self, params: SimulationParameters, n_channels: int, n_samples: int, seed: int | None = None
    ):
        if n_channels < 1 or n_samples < 1:
            raise SimulationConfigError(
                f"simulator: expected at least 1 channel and 1 sample, got {n_channels} x {n_samples}"
            )
        self.params = params
        self.n_channels = n_channels
        self.n_samples = n_samples
        self.rng = np.random.default_rng(seed)
        plen = params.pulse_window
        self.noise_mv = float(np.mean(params.pulse_heights)) / 30.0
        self.pulse_shape = np.exp(-np.arange(plen) / (plen / 4.0)).astype(np.float32)
        # a delayed pulse must fit into the trace completely, as in the original
        self.latest_second_start = n_samples - plen

    def generate(self, n_events: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (waveforms, truth): waveforms in mV, truth as a TRUTH_DTYPE record per event."""
        p = self.params
        waves = self.rng.random((n_events, self.n_channels, self.n_samples), dtype=np.float32)
        waves *= self.noise_mv
        waves += np.float32(p.analogue_offset_mv - self.noise_mv / 2.0)
        truth = np.zeros(n_events, dtype=TRUTH_DTYPE)
        truth["decay_time"] = np.nan
        truth["stopped"] = self.rng.random(n_events) < p.prb_2nd_pulse
        self._add_first_pulses(waves, truth["stopped"])
        self._add_second_pulses(waves, truth)
        return waves, truth

    def _heights(self, n: int) -> np.ndarray:
        """Nominal height chosen from the list plus a Gaussian spread of a scalar width per draw."""
        p = self.params
        nominal = np.asarray(p.pulse_heights)[self.rng.integers(len(p.pulse_heights), size=n)]
        spread = 0.3 * nominal if p.pulse_spread is None else p.pulse_spread
        return nominal + spread * self.rng.standard_normal(n)

    def _trigger_heights(self, n: int) -> np.ndarray:
        """Heights for layer A's first pulse, redrawn until they reach the trigger threshold."""
        heights = self._heights(n)
        low = heights < self.params.trigger_threshold_mv
        for _ in range(1000):
            if not low.any():
                return heights
            heights[low] = self._heights(int(low.sum()))
            low = heights < self.params.trigger_threshold_mv
        raise SimulationConfigError(
            f"simulator: pulse heights {self.params.pulse_heights} mV practically never reach the trigger "
            f"threshold of {self.params.trigger_threshold_mv:g} mV above the baseline (trigger_level)"
        )

    def _add_first_pulses(self, waves: np.ndarray, stopped: np.ndarray) -> None:
        """Muon pulses at the trigger position: layers A, B for stopped muons, every layer otherwise."""
        n_events = len(stopped)
        layers = np.arange(self.n_channels)
        hit = np.where(stopped[:, None], layers[None, :] < 2, True)
        heights = np.empty((n_events, self.n_channels))
        heights[:, 0] = self._trigger_heights(n_events)
        heights[:, 1:] = self._heights(n_events * (self.n_channels - 1)).reshape(n_events, -1)
        hit &= self.rng.random(hit.shape) < self.params.prb_interaction
        event, channel = np.nonzero(hit)
        start = self.params.pre_trigger_samples
        length = max(0, min(self.params.pulse_window, self.n_samples - start))
        shape = self.pulse_shape[:length]
        waves[event, channel, start : start + length] += (heights[event, channel, None] * shape).astype(
            np.float32
        )

    def _add_second_pulses(self, waves: np.ndarray, truth: np.ndarray) -> None:
        """Decay-electron pulses of stopped muons, up (layers A, B) or down (C, D), spin-modulated."""
        p = self.params
        stopped = np.flatnonzero(truth["stopped"])
        t = self.rng.exponential(MUON_LIFETIME_NS, size=len(stopped))
        prob_up = 0.5 * (1.0 + SPIN_ASYMMETRY * np.cos(2.0 * np.pi * t / SPIN_PERIOD_NS))
        up = self.rng.random(len(stopped)) < prob_up
        start = np.floor(t / p.sample_time_ns).astype(np.int64) + p.pre_trigger_samples
        inside = start < self.latest_second_start
        truth["decay_time"][stopped] = t
        truth["up"][stopped] = up
        truth["second_in_window"][stopped] = inside
        # two candidate layers per decay: (A, B) going up, (C, D) going down
        layer = np.where(up, 0, 2)[:, None] + np.arange(2)[None, :]
        keep = inside[:, None] & (layer < self.n_channels)
        keep &= self.rng.random(keep.shape) < p.prb_interaction
        row, col = np.nonzero(keep)
        event, channel, first = stopped[row], layer[row, col], start[row]
        samples = first[:, None] + np.arange(p.pulse_window)[None, :]
        heights = self._heights(len(row))
        waves[event[:, None], channel[:, None], samples] += (heights[:, None] * self.pulse_shape).astype(
            np.float32
        )
