"""E_D[Loss-Gap_t]: the Loss-Gap averaged over independent data sets (claims S3, S4, S5).

Two-stage Monte Carlo. Data sets D_1..D_B of n points are drawn i.i.d. from ``dist``; for each
D_b and time t, Loss-Gap_t(D_b) is estimated through Proposition 4.1 (verified as claim S2) as
the Fisher divergence E_{Phat_t}||grad log phat_t - grad log p_t||^2 from N draws (the
low-variance estimator; ``estimator="dsm"`` uses the paired DSM difference instead). With
g_b the per-data-set estimates,

    E_D[Loss-Gap_t] ~= mean_b g_b,   se = std_b(g_b) / sqrt(B),

and this standard error accounts for both sources of randomness: each g_b is the data-set
value plus independent noise, so the spread of the g_b is the data-set variance plus the
noise variance. The same data sets are used at every t (common random numbers), so
differences and integrals over t are paired per data set.

Integrated gap (S4): int_{t0}^{T} E_D[Loss-Gap_t] dt by Gauss-Legendre in u = log t on the
segments between consecutive t0 values and T (dt = t du; t Loss-Gap_t is smooth in u and
tends to d as t -> 0). Per data set b the integral I_b(t0) is a weighted sum of the g_b(t_j),
so E_D[I(t0)] = mean_b I_b(t0) with se = std_b / sqrt(B); the time-quadrature error is
|I(n_times) - I(n_times // 2)| (coarser rule on the same data sets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import roots_legendre

from .divergence import fisher_divergence, loss_gap
from .dsm import as_seed
from .empirical import EmpiricalDistribution
from .estimate import Estimate, derive_seed, two_sided_z
from .validation import as_array, as_positive_int, as_probability, as_time

__all__ = ["GapCurve", "loss_gap_curve", "IntegratedGap", "integrated_gap", "log_legendre_rule"]


@dataclass(frozen=True)
class GapCurve:
    """Per-data-set Loss-Gap estimates g (B, T) at times ts (T,), and their summaries."""

    ts: np.ndarray
    g: np.ndarray
    n: int
    n_draws: int
    seed: int
    level: float
    estimator: str

    def estimate(self, j: int) -> Estimate:
        """E_D[Loss-Gap_{t_j}] with the two-stage standard error and a normal interval."""
        v = self.g[:, j]
        B = v.size
        mean, se = float(v.mean()), float(v.std(ddof=1) / np.sqrt(B))
        half = two_sided_z(self.level) * se
        return Estimate(
            value=mean,
            stderr=se,
            ci_low=mean - half,
            ci_high=mean + half,
            level=self.level,
            n_draws=B * self.n_draws,
            seed=self.seed,
            method=f"mc: {B} data sets x {self.n_draws} draws ({self.estimator})",
        )

    def estimates(self) -> list[Estimate]:
        return [self.estimate(j) for j in range(self.ts.size)]


def _times(ts) -> np.ndarray:
    ts = as_array(ts, "ts", ndim=1)
    if ts.size == 0 or np.any(ts <= 0):
        raise ValueError(f"ts: must be a non-empty list of times > 0, got {ts.tolist()}")
    return ts


def loss_gap_curve(
    dist,
    n: int,
    ts,
    *,
    n_datasets: int = 8,
    n_draws: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    estimator: str = "fisher",
) -> GapCurve:
    """Per-data-set Loss-Gap estimates for B = n_datasets data sets of n points from ``dist``.

    dist: anything with .sample(n, rng) and .score(x, t) (GaussianMixture, UniformBoxMixture).
    Data set b is drawn with seed derive_seed(seed, "data", b); its draws at time index j with
    derive_seed(seed, "draws", b, j). Returns a GapCurve (g: (B, T)).
    """
    if not (hasattr(dist, "sample") and hasattr(dist, "score")):
        raise ValueError(f"dist: must have .sample and .score, got {type(dist).__name__}")
    n = as_positive_int(n, "n", minimum=2)
    ts = _times(ts)
    for t in ts:
        as_time(float(t), "ts")
    B = as_positive_int(n_datasets, "n_datasets", minimum=2)
    n_draws = as_positive_int(n_draws, "n_draws", minimum=2)
    seed = as_seed(seed)
    level = as_probability(level, "level")
    if estimator not in ("fisher", "dsm"):
        raise ValueError(f"estimator: must be 'fisher' or 'dsm', got {estimator!r}")
    g = np.empty((B, ts.size))
    for b in range(B):
        data = dist.sample(n, np.random.default_rng(derive_seed(seed, "data", b)))
        emp = EmpiricalDistribution(data)
        for j, t in enumerate(ts):
            s = derive_seed(seed, "draws", b, j)
            if estimator == "fisher":
                g[b, j] = fisher_divergence(emp, dist, float(t), method="mc", n_draws=n_draws, seed=s).value
            else:
                g[b, j] = loss_gap(data, dist, float(t), method="mc", n_draws=n_draws, seed=s).value
    return GapCurve(ts, g, n, n_draws, seed, level, estimator)


@dataclass(frozen=True)
class IntegratedGap:
    """E_D[int_{t0}^{T} Loss-Gap_t dt] for each t0: per-data-set integrals I (B, len(t0s))."""

    t0s: np.ndarray
    T: float
    I: np.ndarray
    time_error: np.ndarray
    level: float
    curve: GapCurve

    def estimate(self, k: int) -> Estimate:
        v = self.I[:, k]
        B = v.size
        mean, se = float(v.mean()), float(v.std(ddof=1) / np.sqrt(B))
        half = two_sided_z(self.level) * se + float(self.time_error[k])
        return Estimate(
            value=mean,
            stderr=se,
            ci_low=mean - half,
            ci_high=mean + half,
            level=self.level,
            n_draws=self.curve.g.size * self.curve.n_draws,
            seed=self.curve.seed,
            method=f"gauss-legendre(log t) x {self.curve.estimate(0).method}",
            error=float(self.time_error[k]),
        )

    def slope(self) -> Estimate:
        """d E_D[I] / d log(1/t0): least-squares slope per data set, then mean and se over data sets."""
        x = -np.log(self.t0s)
        xc = x - x.mean()
        slopes = (self.I - self.I.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)  # (B,)
        B = slopes.size
        mean, se = float(slopes.mean()), float(slopes.std(ddof=1) / np.sqrt(B))
        err = float(np.abs(xc) @ self.time_error / (xc @ xc))
        half = two_sided_z(self.level) * se + err
        return Estimate(
            value=mean,
            stderr=se,
            ci_low=mean - half,
            ci_high=mean + half,
            level=self.level,
            n_draws=B,
            seed=self.curve.seed,
            method="per-data-set least squares",
            error=err,
        )


def log_legendre_rule(lo: float, hi: float, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes t_j and weights w_j t_j for int_lo^hi f(t) dt in u = log t."""
    u, w = roots_legendre(m)
    a, b = np.log(lo), np.log(hi)
    uu = 0.5 * (b - a) * u + 0.5 * (b + a)
    return np.exp(uu), 0.5 * (b - a) * w * np.exp(uu)


def integrated_gap(
    dist,
    n: int,
    t0s,
    T: float,
    *,
    n_times: int = 12,
    n_datasets: int = 8,
    n_draws: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> IntegratedGap:
    """E_D[int_{t0}^{T} Loss-Gap_t dt] for every t0 in t0s (all < T), sharing data sets and nodes."""
    t0s = np.sort(_times(t0s))
    T = as_time(T, "T")
    if not np.all(t0s < T):
        raise ValueError(f"t0s: must all be < T = {T}, got max {t0s.max()}")
    n_times = as_positive_int(n_times, "n_times", minimum=2)
    edges = np.append(t0s, T)
    rules = {}  # (segment, m) -> (nodes, weights)
    all_t = []
    for k in range(t0s.size):
        for m in (n_times, max(1, n_times // 2)):
            nodes, wts = log_legendre_rule(edges[k], edges[k + 1], m)
            rules[(k, m)] = (len(all_t), nodes, wts)
            all_t.extend(nodes.tolist())
    curve = loss_gap_curve(dist, n, np.array(all_t), n_datasets=n_datasets, n_draws=n_draws, seed=seed, level=level)
    seg = {}
    for (k, m), (start, nodes, wts) in rules.items():
        seg[(k, m)] = curve.g[:, start : start + nodes.size] @ wts  # (B,)
    fine = np.stack([sum(seg[(j, n_times)] for j in range(k, t0s.size)) for k in range(t0s.size)], axis=1)
    coarse = np.stack(
        [sum(seg[(j, max(1, n_times // 2))] for j in range(k, t0s.size)) for k in range(t0s.size)], axis=1
    )
    time_error = np.abs(fine.mean(axis=0) - coarse.mean(axis=0))
    return IntegratedGap(t0s, T, fine, time_error, level, curve)
