"""Input validation shared by the public functions of ``theory``.

Every check raises ``ValueError`` whose message starts with the parameter's name and states
the constraint, e.g. ``"t: must be > 0, got -1.0"``. Arrays leave these helpers as
contiguous float64 (or the requested float dtype), so the math below them never sees NaN,
inf, an integer dtype or a wrong shape.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_array",
    "as_points",
    "as_time",
    "as_positive_int",
    "as_probability",
    "as_weights",
    "as_spd_matrices",
    "as_generator",
]


def as_array(value, name: str, *, ndim: int | None = None, dtype=np.float64) -> np.ndarray:
    """Return ``value`` as a finite contiguous array of ``dtype``, or raise ValueError."""
    try:
        if np.iscomplexobj(value):
            raise ValueError(f"{name}: must be real, got a complex array")
        arr = np.asarray(value, dtype=dtype)
        if arr.ndim:
            arr = np.ascontiguousarray(arr)
    except (TypeError, ValueError, AttributeError) as exc:
        if str(exc).startswith(f"{name}: "):
            raise
        raise ValueError(f"{name}: must be an array of real numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: must be finite, got {bad} NaN or inf entr{'y' if bad == 1 else 'ies'}")
    return arr


def as_points(value, name: str, *, d: int | None = None, dtype=np.float64, allow_empty: bool = False) -> np.ndarray:
    """Return a finite (m, d) array; a (d,) vector is NOT promoted (shapes are explicit)."""
    arr = as_array(value, name, ndim=2, dtype=dtype)
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: must have at least one coordinate, got shape {arr.shape}")
    if not allow_empty and arr.shape[0] == 0:
        raise ValueError(f"{name}: must contain at least one point, got shape {arr.shape}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name}: must have d = {d} columns to match the distribution, got shape {arr.shape}")
    return arr


def as_time(t, name: str = "t", *, allow_zero: bool = False, upper: float = 1e4) -> float:
    """Return ``t`` as a float in (0, upper] (or [0, upper] with ``allow_zero``)."""
    if isinstance(t, bool) or not isinstance(t, (numbers.Real, np.floating, np.integer)):
        if isinstance(t, np.ndarray) and t.ndim == 0:
            t = t.item()
        else:
            raise ValueError(f"{name}: must be a real scalar, got {type(t).__name__}")
    t = float(t)
    if not np.isfinite(t):
        raise ValueError(f"{name}: must be finite, got {t}")
    if allow_zero and t < 0:
        raise ValueError(f"{name}: must be >= 0, got {t}")
    if not allow_zero and t <= 0:
        raise ValueError(f"{name}: must be > 0, got {t}")
    if t > upper:
        raise ValueError(f"{name}: must be <= {upper:g}, got {t}")
    return t


def as_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= minimum (bools and non-integral floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value}")
    return value


def as_probability(value, name: str) -> float:
    """Return ``value`` as a float strictly inside (0, 1)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number in (0, 1), got {value!r}") from None
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name}: must be in (0, 1), got {value}")
    return value


def as_weights(value, name: str = "weights", *, rtol: float = 1e-10) -> np.ndarray:
    """Return mixture weights (K,): non-negative, summing to one within ``rtol * K``.

    The weights are renormalised to sum to exactly one after the check, so rounding in the
    caller's arithmetic does not leak into probabilities.
    """
    w = as_array(value, name, ndim=1)
    if w.size == 0:
        raise ValueError(f"{name}: must contain at least one weight, got shape {w.shape}")
    if np.any(w < 0):
        raise ValueError(f"{name}: must be non-negative, got min {w.min():.6g}")
    total = float(w.sum())
    if abs(total - 1.0) > rtol * max(w.size, 1):
        raise ValueError(f"{name}: must sum to 1, got sum {total:.17g}")
    return w / total


def as_spd_matrices(
    value, name: str, *, k: int, d: int, rtol: float = 1e-10, max_cond_inv: float = 1e-12
) -> np.ndarray:
    """Return (k, d, d) covariances that are symmetric (within rtol) and positive definite.

    Symmetry is checked as max|C - C^T| <= rtol * max|C|; the returned matrices are exactly
    symmetrised. Positive definiteness is checked on the eigenvalues, and a condition number
    above 1 / max_cond_inv (1e12) is rejected as numerically singular: a rounded rank-one
    matrix passes Cholesky but gives log-densities of order 1e16.
    """
    c = as_array(value, name, ndim=3)
    if c.shape != (k, d, d):
        raise ValueError(f"{name}: must have shape ({k}, {d}, {d}) to match weights and means, got {c.shape}")
    asym = np.abs(c - np.swapaxes(c, 1, 2)).max(initial=0.0)
    scale = np.abs(c).max(initial=0.0)
    if asym > rtol * max(scale, np.finfo(float).tiny):
        raise ValueError(f"{name}: must be symmetric, got max |C - C^T| = {asym:.3g}")
    c = 0.5 * (c + np.swapaxes(c, 1, 2))
    for j in range(k):
        lam = np.linalg.eigvalsh(c[j])
        if lam[0] <= 0:
            raise ValueError(f"{name}: must be positive definite, component {j} has smallest eigenvalue {lam[0]:.3g}")
        if lam[0] < max_cond_inv * lam[-1]:
            raise ValueError(
                f"{name}: must be numerically positive definite (condition number <= {1 / max_cond_inv:.0e}), "
                f"component {j} has condition number {lam[-1] / lam[0]:.3g}"
            )
    return c


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """Accept a ``np.random.Generator`` or an int seed (no global RNG is ever used)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (numbers.Integral, np.integer)) and not isinstance(rng, bool) and int(rng) >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"{name}: must be a numpy Generator or a non-negative int seed, got {rng!r}")
