"""The forward (Ornstein-Uhlenbeck) process of Section 2 of the paper.

    dX_t = -1/2 X_t dt + dB_t,   X_t | X_0 = x ~ N(alpha_t x, sigma_t^2 I),
    alpha_t = exp(-t/2),         sigma_t^2 = 1 - exp(-t)        (alpha_t^2 + sigma_t^2 = 1).

``sigma_t^2`` is computed as ``-expm1(-t)`` so it keeps full relative precision for small
t (1 - exp(-1e-8) in plain arithmetic loses half the digits).
"""

from __future__ import annotations

import numpy as np

from .validation import as_array

__all__ = ["alpha", "sigma", "sigma2"]


def _times(t, name: str = "t") -> np.ndarray:
    arr = as_array(t, name)
    if np.any(arr < 0):
        raise ValueError(f"{name}: must be >= 0, got min {arr.min():.6g}")
    return arr


def alpha(t):
    """alpha_t = exp(-t/2); vectorised over t >= 0; returns a float for scalar input."""
    arr = _times(t)
    out = np.exp(-0.5 * arr)
    return float(out) if out.ndim == 0 else out


def sigma2(t):
    """sigma_t^2 = 1 - exp(-t) = -expm1(-t), accurate to a few ulps for all t >= 0."""
    arr = _times(t)
    out = -np.expm1(-arr)
    return float(out) if out.ndim == 0 else out


def sigma(t):
    """sigma_t = sqrt(1 - exp(-t)); vectorised over t >= 0."""
    arr = _times(t)
    out = np.sqrt(-np.expm1(-arr))
    return float(out) if out.ndim == 0 else out
