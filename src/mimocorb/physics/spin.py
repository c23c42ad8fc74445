"""The spin-precession asymmetry of the spin setup: (up − down)/(up + down) versus decay time.

A muon's spin precesses in the field of the absorber; the decay electron prefers the spin direction, so
the fraction of upward decays oscillates with the decay time: a(t) = A·cos(2πt/T) (the simulation uses
A = 0.03, T = 0.85 τ). With s = +1 for an upward and −1 for a downward decay, the expected s at time t
is that asymmetry, so a linear least-squares fit of s against [1, cos ωt, sin ωt] with the period fixed
estimates the amplitude without binning. The offset term absorbs a difference of
the up and down efficiencies; the sine term a phase shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .simulation import SPIN_PERIOD_NS


@dataclass(frozen=True)
class AsymmetryFit:
    """Amplitudes of 1, cos ωt and sin ωt in the up/down asymmetry, with their statistical errors."""

    offset: float
    offset_error: float
    cosine: float
    cosine_error: float
    sine: float
    sine_error: float
    n_used: int


def fit_asymmetry(
    up_times: np.ndarray,
    down_times: np.ndarray,
    t_min: float = 200.0,
    t_max: float = 14000.0,
    period_ns: float = SPIN_PERIOD_NS,
) -> AsymmetryFit:
    """Fit a(t) = offset + cosine·cos(2πt/T) + sine·sin(2πt/T) to upward and downward decay times."""
    t = np.concatenate([np.asarray(up_times, float), np.asarray(down_times, float)])
    s = np.concatenate([np.ones(len(up_times)), -np.ones(len(down_times))])
    inside = (t >= t_min) & (t < t_max)
    t, s = t[inside], s[inside]
    if len(t) < 4:
        raise ValueError(f"asymmetry fit: need at least 4 decays in [{t_min}, {t_max}) ns, found {len(t)}")
    phase = 2.0 * math.pi * t / period_ns
    design = np.column_stack([np.ones_like(t), np.cos(phase), np.sin(phase)])
    coefficients, *_ = np.linalg.lstsq(design, s, rcond=None)
    # each s has variance 1 − a(t)² ≈ 1 for asymmetries of a few per cent
    errors = np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    (offset, cosine, sine), (d_offset, d_cosine, d_sine) = map(float, coefficients), map(float, errors)
    return AsymmetryFit(offset, d_offset, cosine, d_cosine, sine, d_sine, len(t))
