"""Unbinned maximum-likelihood fit of a lifetime to decay times observed in a window [t_min, t_max).

The window matters: the double-pulse filter cannot separate pulses closer than ~200 ns, and the trace
ends after ~14.6 µs, so the decay times follow an exponential *truncated* to the window. For the
exponential family the likelihood equation is "model mean = sample mean", and the mean of a truncated
exponential grows monotonically with τ, so the fit is a one-dimensional root search that
needs no starting value and no scipy. The error comes from the Fisher information, N·Var(t)/τ⁴.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_WINDOW_NS = (200.0, 15000.0)


@dataclass(frozen=True)
class LifetimeFit:
    """Result of :func:`fit_lifetime`; ``tau``/``error`` are NaN when the data do not determine τ."""

    tau: float
    error: float
    n_used: int
    t_min: float
    t_max: float

    def as_dict(self) -> dict[str, float | int]:
        """The fit as plain numbers, for JSON."""
        return asdict(self)


def truncated_mean(tau: float, t_min: float, t_max: float) -> float:
    """Mean of an exponential with lifetime tau restricted to [t_min, t_max)."""
    x = (t_max - t_min) / tau
    return t_min + tau - (t_max - t_min) / math.expm1(x) if x < 700 else t_min + tau


def truncated_variance(tau: float, t_min: float, t_max: float) -> float:
    """Variance of that distribution: τ² − L²·e^(L/τ)/(e^(L/τ) − 1)² with L the window width."""
    width = t_max - t_min
    x = width / tau
    if x < 1e-3:  # nearly flat: the closed form cancels; its series is L²·(1/12 − x²/720)
        return width * width * (1.0 / 12.0 - x * x / 720.0)
    return tau * tau * (1.0 - x * x * math.exp(-x) / (-math.expm1(-x)) ** 2)


def fit_lifetime(
    decay_times: np.ndarray, t_min: float = DEFAULT_WINDOW_NS[0], t_max: float = DEFAULT_WINDOW_NS[1]
) -> LifetimeFit:
    """Maximum-likelihood τ of the decay times inside [t_min, t_max) and its statistical error."""
    if not 0 <= t_min < t_max:
        raise ValueError(f"fit window: expected 0 <= t_min < t_max, got [{t_min}, {t_max})")
    t = np.asarray(decay_times, dtype=np.float64)
    t = t[(t >= t_min) & (t < t_max)]
    n = len(t)
    mean = float(t.mean()) if n else math.nan
    # the model mean runs from t_min (τ → 0) to the window centre (τ → ∞); outside, no finite maximum
    if n < 2 or not t_min < mean < (t_min + t_max) / 2:
        return LifetimeFit(math.nan, math.nan, n, t_min, t_max)
    width = t_max - t_min
    low, high = width * 1e-6, width * 1e6
    for _ in range(200):  # bisection in log τ: 200 halvings of a factor 1e12 reach machine precision
        tau = math.sqrt(low * high)
        if truncated_mean(tau, t_min, t_max) < mean:
            low = tau
        else:
            high = tau
        if high / low - 1.0 < 1e-12:
            break
    tau = math.sqrt(low * high)
    error = tau * tau / math.sqrt(n * truncated_variance(tau, t_min, t_max))
    return LifetimeFit(tau, error, n, t_min, t_max)
