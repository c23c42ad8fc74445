"""Gamma spectroscopy of the Red Pitaya example: pulse heights, peaks, a two-line energy calibration.

The pulse height of a waveform is its largest sample after the trigger above the mean of the pre-trigger
samples (ADC counts). At the end of a run the heights are histogrammed; candidate peaks are the local
maxima of the smoothed histogram that stand out of their surroundings, and each is fitted with a Gaussian
on a straight background over ±2.5 standard deviations. A Compton edge also makes a local maximum, but its
fit is poor (it is a step, not a peak): fits whose reduced χ² or width are out of bounds are dropped.

The calibration is proportional, ``E = gain · height``, from two lines of known energy assigned to the
two highest fitted peaks (a least-squares gain through both). Heights are measured above the baseline, so
zero height is zero energy; an offset fitted as well would rest on the two lines alone, and with a
calibration source whose lines lie close together far above the one measured (Co-60 beside Cs-137) their
fit errors would grow fourfold on the way down. Every other peak then gets an energy and a resolution
(FWHM in keV and in per cent); the calibration lines get theirs too, which shows how well the scale is
proportional.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))
MAX_REDUCED_CHI2 = 5.0
MIN_COUNTS = 20  # fewer in a fitted peak: a fluctuation of the background


def pulse_height(trace: np.ndarray, pretrigger: int) -> float:
    """Height of the pulse in ``trace`` above the baseline of its first ``pretrigger`` samples."""
    baseline = float(np.mean(trace[:pretrigger]))
    return float(np.max(trace[pretrigger:])) - baseline


def check_gamma_config(config: Mapping[str, Any]) -> None:
    """For ``mimocorb validate``: the keys of the pulse-height filter and of the analysis."""
    pretrigger = config.get("pretrigger_samples")
    if isinstance(pretrigger, bool) or not isinstance(pretrigger, int) or pretrigger < 1:
        raise ValueError(f"'pretrigger_samples' must be an integer >= 1, got {pretrigger!r}")
    threshold = config.get("threshold", 0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"'threshold' must be a number of ADC counts, got {threshold!r}")


@dataclass(frozen=True)
class Peak:
    """One fitted peak: position and width in ADC counts, then in keV once calibrated."""

    height: float
    sigma: float
    counts: float
    reduced_chi2: float
    energy: float | None = None
    fwhm_kev: float | None = None

    @property
    def resolution(self) -> float | None:
        """FWHM over energy, per cent."""
        return None if self.energy is None or self.fwhm_kev is None else 100 * self.fwhm_kev / self.energy


def candidate_peaks(counts: np.ndarray, smoothing: int = 9, prominence: float = 0.05) -> list[int]:
    """Bins of the local maxima that stand at least ``prominence`` of the highest one above their base."""
    from scipy.signal import find_peaks

    smooth = np.convolve(counts, np.ones(smoothing) / smoothing, mode="same")
    found, _ = find_peaks(smooth, prominence=prominence * smooth.max(), distance=smoothing)
    return [int(i) for i in found]


def fit_peak(counts: np.ndarray, guess: int) -> Peak | None:
    """A Gaussian on a straight background around bin ``guess``; None if the fit fails or is no peak."""
    from scipy.optimize import OptimizeWarning, curve_fit

    sigma = _width_guess(counts, guess)
    for _ in range(2):  # the window follows the fitted width once
        low, high = max(int(guess - 2.5 * sigma), 0), min(int(guess + 2.5 * sigma) + 1, len(counts))
        if high - low < 8:
            return None
        x, y = np.arange(low, high, dtype=float), counts[low:high].astype(float)
        start = (max(y.max() - y.min(), 1.0), float(guess), sigma, float(y.min()), 0.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", OptimizeWarning)  # no covariance: no peak to speak of
                p, _ = curve_fit(_gauss_line, x, y, p0=start, sigma=np.sqrt(np.maximum(y, 1)), maxfev=5000)
        except (RuntimeError, ValueError, OptimizeWarning):
            return None
        guess, sigma = round(p[1]), abs(p[2])
        if not low <= p[1] < high or not 1 <= sigma <= (high - low):
            return None
    chi2 = float(np.sum((y - _gauss_line(x, *p)) ** 2 / np.maximum(y, 1)) / max(len(x) - 5, 1))
    area = float(p[0] * sigma * math.sqrt(2 * math.pi))
    return Peak(height=float(p[1]), sigma=sigma, counts=area, reduced_chi2=chi2)


def _gauss_line(x: np.ndarray, amplitude: float, mean: float, sigma: float, a: float, b: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((x - mean) / sigma) ** 2) + a + b * (x - mean)


def _width_guess(counts: np.ndarray, centre: int) -> float:
    """Half the distance between the half-maximum points, as a standard deviation."""
    top = counts[centre]
    left = right = centre
    while left > 0 and counts[left] > top / 2:
        left -= 1
    while right < len(counts) - 1 and counts[right] > top / 2:
        right += 1
    return max((right - left) / FWHM_PER_SIGMA, 2.0)


def calibrate(peaks: Sequence[Peak], lines: Sequence[float]) -> float:
    """The gain (keV per ADC count) from the two highest peaks and the two line energies."""
    if len(peaks) < 2 or len(lines) != 2:  # too few events, or the calibration source is missing
        raise ValueError(f"a calibration needs two lines and two peaks, got {len(lines)} and {len(peaks)}")
    heights = np.array(sorted(peak.height for peak in peaks)[-2:])
    energies = np.array(sorted(lines))
    return float(heights @ energies / (heights @ heights))


def analyse(
    heights: np.ndarray, lines: Sequence[float], full_scale: int = 8192, bin_width: int = 8
) -> dict[str, Any]:
    """Peaks of the pulse-height histogram (bins of ``bin_width`` ADC counts), calibrated with
    ``lines``; a JSON-ready summary, heights in ADC counts."""
    counts, _ = np.histogram(heights, bins=full_scale // bin_width, range=(0, full_scale))
    fitted = [p for i in candidate_peaks(counts) if (p := fit_peak(counts, i)) is not None]
    peaks = _distinct([p for p in fitted if p.reduced_chi2 <= MAX_REDUCED_CHI2 and p.counts >= MIN_COUNTS])
    peaks = [
        Peak(**{**asdict(p), "height": p.height * bin_width, "sigma": p.sigma * bin_width}) for p in peaks
    ]
    gain = calibrate(peaks, lines)
    calibrated = [
        Peak(**{**asdict(p), "energy": gain * p.height, "fwhm_kev": gain * FWHM_PER_SIGMA * p.sigma})
        for p in sorted(peaks, key=lambda peak: peak.height)
    ]
    return {
        "events": len(heights),
        "calibration": {"lines_kev": sorted(lines), "gain_kev_per_count": gain},
        "peaks": [{**asdict(p), "resolution_percent": p.resolution} for p in calibrated],
        "rejected_fits": len(fitted) - len(peaks),
    }


def _distinct(peaks: list[Peak]) -> list[Peak]:
    """One fit per peak: two candidates whose fits met within a standard deviation are the same peak."""
    kept: list[Peak] = []
    for peak in sorted(peaks, key=lambda p: -p.counts):
        if all(abs(peak.height - other.height) > other.sigma for other in kept):
            kept.append(peak)
    return kept


def report(summary: Mapping[str, Any]) -> str:
    """The summary in a few lines, one per peak."""
    c = summary["calibration"]
    lines = [
        f"gamma spectrum: {summary['events']} pulses; calibration from {c['lines_kev'][0]:g} and "
        f"{c['lines_kev'][1]:g} keV: E = {c['gain_kev_per_count']:.4f} keV x height"
    ]
    for p in summary["peaks"]:
        lines.append(
            f"  peak at {p['height']:7.1f} counts: {p['energy']:7.1f} keV, FWHM {p['fwhm_kev']:5.1f} keV "
            f"({p['resolution_percent']:.1f} %), {p['counts']:.0f} counts"
        )
    return "\n".join(lines)


def write_summary(directory: str | Path, summary: Mapping[str, Any]) -> Path:
    path = Path(directory) / "gamma_spectrum.json"
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return path
