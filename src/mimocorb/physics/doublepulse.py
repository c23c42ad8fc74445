"""The double-pulse (muon decay) selection of the lifetime example, the same as in mimoCoRB 1.0.2.

Per event: find the peaks of every channel, group them across channels into time-ordered coincidence
rows, re-check the first row (muon) and second row (decay electron) against their own prominence
thresholds, and compare the rows with the configured *signatures*. A matching event yields the pulse
parameters (position, prominence, integral of each pulse) and the decay time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import FilterConfigError, config_number, make_record, offset_mv
from .peaks import ChannelPeaks, find_channel_peaks, may_have_two_rows

INTEGRAL_LINE_MV = 10.0  # integrals are taken above this line over the baseline
SYMBOLS = {"+", "-", "0"}  # must fire / must not fire / don't care


def parse_signatures(raw: Any, n_channels: int) -> tuple[tuple[str, ...], ...]:
    """Signatures as tuples of row strings, e.g. ``("++--", "0+--")``; rows may be given as lists too."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise FilterConfigError(f"filter config: 'signatures' expected a non-empty list, found {raw!r}")
    signatures = []
    for k, signature in enumerate(raw):
        if not isinstance(signature, Sequence) or isinstance(signature, str) or not signature:
            raise FilterConfigError(
                f"filter config: signatures[{k}] expected a list of rows, found {signature!r}"
            )
        rows = tuple("".join(str(s) for s in row) if not isinstance(row, str) else row for row in signature)
        for i, row in enumerate(rows):
            if len(row) != n_channels or not set(row) <= SYMBOLS:
                raise FilterConfigError(
                    f"filter config: signatures[{k}][{i}] expected {n_channels} symbols out of + - 0 "
                    f"(one per channel), found {signature[i]!r}"
                )
        signatures.append(rows)
    return tuple(signatures)


@dataclass(frozen=True)
class DoublePulseConfig:
    """The ``calculate_decay_time`` config block, checked once before any event is seen."""

    channels: tuple[str, ...]
    sample_time_ns: float
    analogue_offset_mv: float
    prominence_initial: float
    prominence_secondary: float
    distance: float
    width: float
    tolerance: int
    signatures: tuple[tuple[str, ...], ...]
    scalings: tuple[float, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], channels: Sequence[str]) -> DoublePulseConfig:
        if "reference_pulse_file" in config:
            raise FilterConfigError(
                "filter config: 'reference_pulse_file' (template timing) is not supported; remove the key"
            )
        if "signatures" not in config:
            raise FilterConfigError("filter config: required key 'signatures' is missing")
        return cls(
            channels=tuple(channels),
            sample_time_ns=config_number(config, "sample_time_ns", minimum=1e-12),
            analogue_offset_mv=offset_mv(config),
            prominence_initial=config_number(config, "peak_minimal_prominence_initial"),
            prominence_secondary=config_number(config, "peak_minimal_prominence_secondary"),
            distance=config_number(config, "peak_minimal_distance", 1, minimum=1),
            width=config_number(config, "peak_minimal_width", 0),
            tolerance=int(config_number(config, "trigger_position_tolerance", minimum=1)),
            signatures=parse_signatures(config["signatures"], len(channels)),
            scalings=tuple(config_number(config, f"{name}_scaling", 1.0) for name in channels),
        )


def check_filter_config(config: Mapping[str, Any], buffers: Mapping[str, Sequence[np.dtype]]) -> None:
    """For ``mimocorb validate``: the filter's keys against the channels of the buffer it reads
    (FilterConfigError, a ValueError), so that a run with a bad threshold or signature never starts."""
    read = buffers.get("read") or []
    if read and read[0].names:
        DoublePulseConfig.from_config(config, read[0].names)


@dataclass(frozen=True)
class DoublePulse:
    """An accepted event: the index of the matching signature and its pulse parameters.

    ``values`` maps the record field names (``decay_time``, ``1st_chA_h``, ``2nd_chC_p``, ...) to numbers;
    channels without a pulse in a row have no entries (their record fields stay 0).
    """

    signature: int
    decay_time: float
    values: dict[str, float]

    def record(self, dtype: Any) -> np.ndarray:
        """One record of the given (sink) dtype; fields the dtype lacks are left out, missing ones are 0."""
        return make_record(self.values, dtype)


def group_peaks(positions: Sequence[np.ndarray], tolerance: int) -> list[list[int]]:
    """Coincidence rows: per channel the index of one peak or -1, rows in time order.

    Each row is anchored at the earliest unused peak; every channel whose next peak lies less than
    ``tolerance`` samples from it contributes that peak.
    """
    pointers = [0] * len(positions)
    rows: list[list[int]] = []
    while True:
        pending = [pos[i] for pos, i in zip(positions, pointers, strict=True) if i < len(pos)]
        if not pending:
            return rows
        anchor = min(pending)
        row: list[int] = []
        for c, pos in enumerate(positions):
            i = pointers[c]
            if i < len(pos) and abs(pos[i] - anchor) < tolerance:
                row.append(i)
                pointers[c] = i + 1
            else:
                row.append(-1)
        rows.append(row)


def matches(signature: Sequence[str], rows: Sequence[Sequence[int]]) -> bool:
    """True if the first rows fulfil every ``+`` (peak) and ``-`` (no peak) of the signature."""
    if len(rows) < len(signature):
        return False
    for symbols, row in zip(signature, rows, strict=False):
        for symbol, entry in zip(symbols, row, strict=True):
            if (symbol == "+" and entry < 0) or (symbol == "-" and entry >= 0):
                return False
    return True


def pulse_integral(trace_mv: np.ndarray, peaks: ChannelPeaks, index: int) -> float:
    """Sum of the baseline-subtracted samples where the pulse stands above the 10 mV line."""
    from scipy.signal import peak_widths

    position = int(peaks.positions[index])
    prominence = float(peaks.prominences[index])
    rel_height = max(0.0, (trace_mv[position] - INTEGRAL_LINE_MV) / prominence)
    prominence_data = (
        peaks.prominences[index : index + 1],
        peaks.left_bases[index : index + 1],
        peaks.right_bases[index : index + 1],
    )
    _, _, left, right = peak_widths(trace_mv, [position], rel_height, prominence_data)
    # element 0: numpy 2 refuses to convert a 1-element array to int (the 1.0.2 example crashed here)
    return float(trace_mv[math.floor(left[0]) : math.ceil(right[0])].sum())


class DoublePulseFilter:
    """Callable on one event (a structured slot with one field per channel); returns a DoublePulse or None."""

    def __init__(self, config: Mapping[str, Any], channels: Sequence[str]):
        self.config = DoublePulseConfig.from_config(config, channels)
        # peaks are searched once with the lower threshold; the rows are re-checked with their own
        self.prominence = min(self.config.prominence_initial, self.config.prominence_secondary)

    def __call__(self, event: np.ndarray) -> DoublePulse | None:
        return self.analyse(
            np.stack([event[name] for name in self.config.channels]).astype(np.float64, copy=False)
        )

    def find_peaks(self, traces: Iterable[np.ndarray], precut: bool = True) -> list[ChannelPeaks]:
        """The peaks of each trace; ``precut`` skips traces without a peak (same result)."""
        cfg = self.config
        return [
            find_channel_peaks(t, self.prominence, cfg.distance, cfg.width, precut=precut) for t in traces
        ]

    def analyse(self, traces: np.ndarray, precut: bool = True) -> DoublePulse | None:
        """The whole selection on one event given as an array of traces (mV), one row per channel.

        ``precut=False`` skips both lossless pre-selections (the reference they are tested against).
        """
        if precut and not may_have_two_rows(traces, self.prominence, self.config.tolerance):
            return None
        peaks = self.find_peaks(traces, precut)
        rows = group_peaks([p.positions for p in peaks], self.config.tolerance)
        if len(rows) < 2:
            return None
        self._apply_thresholds(rows, peaks)
        matched = [k for k, signature in enumerate(self.config.signatures) if matches(signature, rows)]
        if not matched:
            return None
        return self._parameters(matched[-1], rows, peaks, traces)  # the last match wins, as in the original

    def _apply_thresholds(self, rows: list[list[int]], peaks: list[ChannelPeaks]) -> None:
        """Drop row-0 peaks below the muon threshold and row-1 peaks below the electron threshold."""
        cfg = self.config
        for row, threshold in zip(rows, (cfg.prominence_initial, cfg.prominence_secondary), strict=False):
            for c, index in enumerate(row):
                if index >= 0 and peaks[c].prominences[index] * cfg.scalings[c] < threshold:
                    row[c] = -1

    def _parameters(
        self, signature: int, rows: list[list[int]], peaks: list[ChannelPeaks], traces: np.ndarray
    ) -> DoublePulse:
        cfg = self.config
        values: dict[str, float] = {}
        mean_position: list[float] = []
        for label, row in zip(("1st", "2nd"), rows, strict=False):
            positions = []
            for c, index in enumerate(row):
                if index < 0:
                    continue
                name = cfg.channels[c]
                trace_mv = np.asarray(traces[c], dtype=np.float64) - cfg.analogue_offset_mv
                position = int(peaks[c].positions[index])
                positions.append(position)
                values[f"{label}_{name}_p"] = position
                values[f"{label}_{name}_h"] = float(peaks[c].prominences[index])
                values[f"{label}_{name}_int"] = pulse_integral(trace_mv, peaks[c], index)
            mean_position.append(float(np.mean(positions)) if positions else math.nan)
        delay = (mean_position[1] - mean_position[0]) * cfg.sample_time_ns
        decay_time = delay if math.isfinite(delay) else 0.0  # a signature without '+' in a row
        values["decay_time"] = decay_time
        return DoublePulse(signature, decay_time, values)
