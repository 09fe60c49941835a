"""Numerical estimates with their uncertainty, and seed derivation.

Every estimator in ``theory`` returns an :class:`Estimate`. Two kinds exist:

* Monte Carlo (``method="mc"``): ``value`` is the sample mean of ``n_draws`` i.i.d. terms,
  ``stderr`` = sample std (ddof=1) / sqrt(n_draws), and the interval is the normal (CLT)
  interval ``value +- z_{(1+level)/2} * stderr`` widened by ``error`` when a deterministic
  part (e.g. quadrature in time) adds one. ``seed`` reproduces the draws exactly.
* Deterministic quadrature (``method="quadrature"``): ``stderr`` is 0, ``error`` is the
  estimated absolute quadrature error (the change between the last two rule orders, which
  bounds the error of the coarser rule and is conservative for the finer one), the interval
  is ``value +- error``, ``n_draws`` counts integrand evaluations and ``converged`` says
  whether the requested tolerance was met.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

__all__ = ["Estimate", "mean_estimate", "quadrature_estimate", "derive_seed", "two_sided_z"]


@dataclass(frozen=True)
class Estimate:
    """A number, how sure we are of it, and how it was obtained."""

    value: float
    stderr: float
    ci_low: float
    ci_high: float
    level: float | None
    n_draws: int
    seed: int | None
    method: str
    error: float = 0.0
    converged: bool | None = None
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    @property
    def halfwidth(self) -> float:
        return 0.5 * (self.ci_high - self.ci_low)

    def to_dict(self) -> dict:
        """JSON-ready dict (per-draw samples are never serialised)."""
        out = asdict(self)
        out.pop("samples")
        return out

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        return f"{self.value:{spec}} +- {self.halfwidth:.2g} ({self.method})"

    def __str__(self) -> str:
        return format(self)


def two_sided_z(level: float) -> float:
    """The normal quantile z with P(|Z| <= z) = level (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + 0.5 * level))


def mean_estimate(
    values, *, level: float = 0.95, seed: int | None, method: str = "mc", error: float = 0.0, keep_samples: bool = False
) -> Estimate:
    """Monte-Carlo mean of i.i.d. terms ``values`` (N,), with a normal-theory interval.

    ci = mean +- (z * std/sqrt(N) + error). Needs N >= 2 for a standard error.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.size
    if n < 2:
        raise ValueError(f"n_draws: must be >= 2 for a standard error, got {n}")
    if not np.all(np.isfinite(v)):
        raise FloatingPointError("Monte-Carlo terms are not finite; the score callable returned NaN or inf")
    mean = float(v.mean())
    se = float(v.std(ddof=1) / np.sqrt(n))
    half = two_sided_z(level) * se + float(error)
    return Estimate(
        value=mean,
        stderr=se,
        ci_low=mean - half,
        ci_high=mean + half,
        level=float(level),
        n_draws=n,
        seed=seed,
        method=method,
        error=float(error),
        samples=v if keep_samples else None,
    )


def quadrature_estimate(value: float, error: float, n_evals: int, converged: bool) -> Estimate:
    """Deterministic estimate: interval value +- error."""
    value, error = float(value), float(error)
    return Estimate(
        value=value,
        stderr=0.0,
        ci_low=value - error,
        ci_high=value + error,
        level=None,
        n_draws=int(n_evals),
        seed=None,
        method="quadrature",
        error=float(error),
        converged=bool(converged),
    )


def derive_seed(seed: int, *key) -> int:
    """A 63-bit seed for item ``key`` of a run seeded with ``seed``.

    Uses ``np.random.SeedSequence(seed, spawn_key=...)`` so the seed of item k does not depend
    on how many other items exist or in which order they run. String keys are hashed with
    CRC-32 (stable across processes, unlike ``hash``).
    """
    spawn = tuple(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key)
    ss = np.random.SeedSequence(int(seed), spawn_key=spawn)
    hi, lo = (int(v) for v in ss.generate_state(2, dtype=np.uint32))
    return ((hi << 32) | lo) >> 1
