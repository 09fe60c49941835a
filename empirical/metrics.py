"""Metrics of generated samples: the memorization ratio (all experiments) and the likelihood (A6).

Memorization (Section 6 of the paper, the criterion of Yoon et al. / Gu et al.): a generated x is
memorized iff

    ||x - NN1(x)||^2 <= (1/9) ||x - NN2(x)||^2,        NN_k = k-th nearest DISTINCT training point,

i.e. the distance ratio is <= 1/3. Policy, decided here because the paper is silent:
  - duplicates: the training rows are collapsed to distinct points first. Otherwise a sample
    near a point stored twice has NN1 = NN2 at the same distance and could never count as
    memorized (and an exact copy would count only through 0 <= 0).
  - ties: a sample equidistant from its two nearest distinct points (d1 = d2 > 0) is not memorized.
  - at least 2 distinct training points are required (NN2 must exist).
The ratio over m samples is a binomial proportion; its confidence interval is Wilson's score
interval (good coverage down to 0 or m successes, unlike the Wald interval).

Nearest neighbours: exact, by ``theory.neighbours`` (the one implementation shared with ``image_metrics`` and
``EmpiricalDistribution.nearest``): the first two distinct training points in the order of (squared distance in
the float64 difference form, index), found by a KD-tree up to d = 8 and above by a float32 first pass whose
rounding margin is proven (module doc there), so the answer is that of a brute force over all pairs. Distances are
taken on the data divided by a power of two near its largest magnitude (exact): ``memorization`` decides in those
units and works for any finite data; ``nearest_two`` returns distances in the data's units and raises when those
do not fit in float64 (|x| above ~1e154).

Likelihood (Figure 3b, [inferred] mean of log p_data(x_gen)): the mean of log p(x) over
generated samples under the true mixture, with its standard error.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from memsep.theory import neighbours as _nb

__all__ = ["distinct_points", "nearest_two", "memorization", "wilson_interval", "mean_loglik", "unit_scale"]

KDTREE_MAX_DIM = _nb.KDTREE_MAX_DIM  # "auto": the KD-tree up to this dimension (theory.neighbours)
RATIO = 1.0 / 3.0


def _finite_2d(a, name: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: must have shape (m, d) with m, d >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).any(1).sum())
        raise ValueError(f"{name}: must be finite, {bad} row(s) contain NaN or inf")
    return arr


def distinct_points(train) -> np.ndarray:
    """The distinct rows of ``train`` (n, d), in order of first appearance."""
    x = _finite_2d(train, "train")
    _, first = np.unique(x, axis=0, return_index=True)
    return x[np.sort(first)]


def unit_scale(*arrays: np.ndarray) -> tuple[list[np.ndarray], int]:
    """([a / 2^k for a in arrays], k) with 2^(k-1) <= max |entry| < 2^k (k = 0 when all are zero).

    Division by a power of two is exact (outside the subnormal range), so distances, neighbours and
    every scale-free comparison are those of the original arrays, while squared distances of the
    scaled arrays stay in [0, 4 d] and can neither overflow nor underflow to zero."""
    big = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in arrays)
    k = int(np.frexp(big)[1]) if big > 0 else 0
    return [np.ldexp(a, -k) for a in arrays], k


def nearest_two(
    samples, points, *, method: str = "auto", chunk: int = 2048, memory_budget: int = 256 * 2**20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d1^2 (m,), d2^2 (m,), index of NN1 (m,)): squared distances to the two nearest rows of ``points`` (n >= 2),
    exact (``theory.neighbours.nearest_k``; ``method`` "auto", "kdtree" or "matrix" only changes the time). A
    squared distance too large for float64 (finite data of magnitude above ~1e154) is a ValueError, never an inf."""
    x, p = _checked_pair(samples, points)
    idx, sq = _nb.nearest_k(x, p, 2, method=method, chunk=chunk, memory_budget=memory_budget)
    return sq[:, 0], sq[:, 1], idx[:, 0]


def _checked_pair(samples, points) -> tuple[np.ndarray, np.ndarray]:
    x = _finite_2d(samples, "samples")
    p = _finite_2d(points, "points")
    if p.shape[0] < 2:
        raise ValueError(f"points: need at least 2 rows for a second nearest neighbour, got {p.shape[0]}")
    if x.shape[1] != p.shape[1]:
        raise ValueError(f"samples, points: dimensions differ ({x.shape[1]} vs {p.shape[1]})")
    return x, p


def wilson_interval(k: int, m: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k / m."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m: must be a positive int, got {m!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= m:
        raise ValueError(f"k: must be an int in [0, m] = [0, {m}], got {k!r}")
    if not 0 < level < 1:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    z = float(stats.norm.isf((1 - level) / 2))
    p = k / m
    den = 1 + z * z / m
    centre = (p + z * z / (2 * m)) / den
    half = z * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def memorization(samples, train, *, ratio: float = RATIO, method: str = "auto", level: float = 0.95) -> dict:
    """The memorization rule over DISTINCT training points (module doc). Returns
    {"memorized": bool (m,), "ratio": fraction, "count", "m", "ci": Wilson (lo, hi), "n_distinct",
    "distance_ratio": d1/d2 (m,), "nn1": index into the distinct points (m,)}."""
    if not 0 < ratio < 1:
        raise ValueError(f"ratio: must be in (0, 1), got {ratio}")
    pts = distinct_points(train)
    if pts.shape[0] < 2:
        raise ValueError(f"train: need at least 2 distinct points, got {pts.shape[0]}")
    x, pts = _checked_pair(samples, pts)
    idx, sq, _ = _nb.nearest_k_scaled(x, pts, 2, method=method)  # scale-free rule: decided in scaled units
    d1, d2, i1 = sq[:, 0], sq[:, 1], idx[:, 0]
    mem = d1 <= ratio**2 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        dr = np.sqrt(d1 / d2)
    k, m = int(mem.sum()), int(mem.size)
    return {
        "memorized": mem,
        "ratio": k / m,
        "count": k,
        "m": m,
        "ci": wilson_interval(k, m, level),
        "n_distinct": int(pts.shape[0]),
        "distance_ratio": dr,
        "nn1": i1,
    }


def mean_loglik(samples, mixture) -> tuple[float, float]:
    """(mean of log p(x_j), its standard error) under ``mixture`` (theory.GaussianMixture) for samples (m, d)."""
    x = _finite_2d(samples, "samples")
    if x.shape[1] != mixture.d:
        raise ValueError(f"samples: dimension {x.shape[1]} differs from the mixture's d = {mixture.d}")
    lp = mixture.logpdf(x)
    se = float(lp.std(ddof=1) / math.sqrt(lp.size)) if lp.size > 1 else float("nan")
    return float(lp.mean()), se
