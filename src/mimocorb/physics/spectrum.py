"""The pulse-height (spectrum) selection of the demo example.

Per event: peaks in every channel; a reference time from the trigger channel's peak nearest the trigger
position (or the trigger position itself); for every channel the peak within the tolerance window of that
reference gives position, height above the baseline and a charge-like integral.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .common import config_number, offset_mv
from .peaks import find_channel_peaks

TERMINATION_OHM = 50.0
INTEGRAL_DIVISOR = 5.0  # kept from the original's charge unit (mV·s/Ω/5); its origin is undocumented


def check_spectrum_config(config: Mapping[str, Any], buffers: Mapping[str, Sequence[np.dtype]]) -> None:
    """For ``mimocorb validate``: the filter's keys, checked before the run (FilterConfigError)."""
    read = buffers.get("read") or []
    if read and read[0].names:
        SpectrumFilter(config, read[0].names)


class SpectrumFilter:
    """Callable on one event; returns ``{field: value}`` for the record, or None for a rejected event."""

    def __init__(self, config: Mapping[str, Any], channels: Sequence[str]):
        self.channels = tuple(channels)
        self.offset_mv = offset_mv(config)
        self.sample_time_s = config_number(config, "sample_time_ns", minimum=1e-12) * 1e-9
        self.prominence = config_number(config, "peak_minimal_prominence")
        self.distance = config_number(config, "peak_minimal_distance", 1, minimum=1)
        self.width = config_number(config, "peak_minimal_width", 0)
        self.pre_trigger = int(config_number(config, "pre_trigger_samples"))
        self.tolerance = config_number(config, "trigger_position_tolerance", minimum=1)
        trigger = f"ch{config.get('trigger_channel', '')}"
        # a trigger channel that is not a buffer field means: take the trigger position as reference
        self.trigger_index = self.channels.index(trigger) if trigger in self.channels else None

    def __call__(self, event: np.ndarray) -> dict[str, float] | None:
        return self.analyse([event[name] for name in self.channels])

    def analyse(self, traces: Sequence[np.ndarray]) -> dict[str, float] | None:
        """Height, position and integral of the pulses near the trigger per channel; None if rejected."""
        peaks = [find_channel_peaks(t, self.prominence, self.distance, self.width) for t in traces]
        reference: float = self.pre_trigger
        if self.trigger_index is not None:
            trigger_peaks = peaks[self.trigger_index].positions
            if len(trigger_peaks) == 0:
                return None
            reference = trigger_peaks[np.argmin(np.abs(trigger_peaks - self.pre_trigger))]
        values: dict[str, float] = {}
        for name, trace, found in zip(self.channels, traces, peaks, strict=True):
            for k in np.flatnonzero(np.abs(found.positions - reference) < self.tolerance):
                position = int(found.positions[k])
                trace_mv = np.asarray(trace, dtype=np.float64) - self.offset_mv
                charge = trace_mv[math.floor(found.left_ips[k]) : math.ceil(found.right_ips[k])].sum()
                values[f"{name}_position"] = position  # with several peaks in the window the last one wins
                values[f"{name}_height"] = float(trace_mv[position])
                values[f"{name}_integral"] = (
                    float(charge) * self.sample_time_s / TERMINATION_OHM / INTEGRAL_DIVISOR
                )
        return values
