"""Peak finding on one waveform channel: ``scipy.signal.find_peaks`` behind a lossless pre-cut.

Why the pre-cut is lossless. ``find_peaks(x, prominence=P, distance=D, width=W)`` first takes every local
maximum (a noisy trace of 4250 samples has about 1400), thins them by ``distance`` in order of decreasing
height, and only then computes prominences and widths. A peak whose prominence reaches P stands at least
P above one of its bases, and every base is at least ``min(x)``, so its height is at least ``min(x) + P``.
Adding ``height = min(x) + P`` (less a margin far above rounding error) therefore removes only maxima that
the prominence test would remove anyway; and it cannot change which of the higher maxima survive the
``distance`` step, because scipy lets a maximum remove only *lower-priority* (lower) neighbours. Prominence
and width of a peak depend on the trace alone, not on the other peaks. The same bound makes a channel
whose peak-to-peak range is below P peak-free without calling scipy at all. The one possible difference is
a tie: two maxima of exactly equal value within ``distance`` samples, where scipy's unstable sort picks
either. ``tests/example`` checks the equivalence event by event on simulated data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MARGIN = 1e-6  # in the units of the trace (mV); rounding errors of mV-scale float64 values are ~1e-13


@dataclass(frozen=True)
class ChannelPeaks:
    """The peaks of one channel, in increasing position, with scipy's prominence data."""

    positions: np.ndarray
    prominences: np.ndarray
    left_bases: np.ndarray
    right_bases: np.ndarray
    left_ips: np.ndarray  # interpolated half-prominence crossings (scipy's width measurement)
    right_ips: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)


NO_PEAKS = ChannelPeaks(*(np.empty(0, dtype=np.intp) for _ in range(6)))


def find_channel_peaks(
    trace: np.ndarray, prominence: float, distance: float, width: float, *, precut: bool = True
) -> ChannelPeaks:
    """Peaks of ``trace`` as ``find_peaks(trace, prominence=, distance=, width=)`` finds them.

    ``precut=False`` runs scipy on all local maxima: the reference the pre-cut is tested against.
    """
    from scipy.signal import find_peaks

    trace = np.asarray(trace, dtype=np.float64)
    height = None
    if precut:
        low = float(trace.min())
        if float(trace.max()) - low < prominence - _MARGIN:
            return NO_PEAKS
        height = low + prominence - _MARGIN
    positions, props = find_peaks(trace, height=height, prominence=prominence, distance=distance, width=width)
    if len(positions) == 0:
        return NO_PEAKS
    keys = ("prominences", "left_bases", "right_bases", "left_ips", "right_ips")
    return ChannelPeaks(positions, *(props[key] for key in keys))


def may_have_two_rows(traces: np.ndarray, prominence: float, tolerance: float) -> bool:
    """False only if ``find_peaks`` (prominence ≥ ``prominence``) cannot give two coincidence rows.

    Event-level companion of the pre-cut, for traces of shape (channels, samples). Let M be a channel's
    highest sample and P the prominence. A peak q after M needs a sample between M and q at least P below
    x[q] (its left base lies after M, which is higher); a peak before M needs one between q and M (its
    right base lies before M); and any peak stands at least P above the channel's minimum. So if no sample
    P above the minimum rises P above the lowest sample since M, or stands P above the lowest sample up
    to M, a channel can have a peak only at M. If moreover the M of all channels that could have any peak
    (peak-to-peak ≥ P) lie within ``tolerance`` samples, all peaks fall into one row and the filter rejects
    the event anyway. A maximum value occurring twice voids the argument, and the event gets the full
    treatment. A through-going muon (one pulse per layer at the trigger) costs a few vectorised passes
    over each channel and two running minima over a pulse tail, instead of a scipy call per channel.
    """
    threshold = prominence - _MARGIN
    lows = traces.min(axis=1)
    tops = []
    for x, low in zip(traces, lows, strict=True):
        hot = np.flatnonzero(x >= low + threshold)  # the only samples that can be peaks
        if len(hot) == 0:
            continue
        top = int(x.argmax())
        tops.append(top)
        if max(tops) - min(tops) >= tolerance or np.count_nonzero(x[hot] == x[top]) > 1:
            return True
        after = x[top + 1 : hot[-1] + 1]
        if len(after) and (after - np.minimum.accumulate(after)).max() >= threshold:
            return True
        before = x[hot[0] : top][::-1]
        if len(before) and (before - np.minimum.accumulate(before)).max() >= threshold:
            return True
    return False
