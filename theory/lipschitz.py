"""Lipschitz constants of the scores (claim A2; Lemma C.1 and the discussion of Theorem 5.1).

For Phat_t (n points x_i), grad^2 log phat_t(x) = -I/sigma_t^2 + (alpha_t^2/sigma_t^4) Cov_w(x) with
Cov_w the covariance of the points under the softmax weights w(x) (theory.empirical). The paper
bounds C_t = sup_x ||grad^2 log phat_t(x)||_2:

    -1/sigma_t^2 + alpha_t^2 min_{i != j} ||x_i - x_j||^2 / (16 sigma_t^4)  <=  C_t
        <=  1/sigma_t^2 + alpha_t^2 max_{i != j} ||x_i - x_j||^2 / (4 sigma_t^4).

(The pairs run over DISTINCT points: duplicates are one point of the law with a larger
weight.) The upper bound follows from Cov_w <= diam^2 / 4; the lower one from the midpoint of
the closest pair, where w puts about 1/2 on each of the two points.

Estimator (:func:`empirical_lipschitz`): C_t is the larger of (a) 1/sigma_t^2 - alpha_t^2
lambda_min(Cov_w)/sigma_t^4 and (b) alpha_t^2 lambda_max(Cov_w)/sigma_t^4 - 1/sigma_t^2, and (b)
is what blows up. It is maximised by

  1. candidates: alpha_t times the midpoints of the k closest pairs, alpha_t x_i, draws of Phat_t,
     and a far point (where the norm is the limit 1/sigma_t^2 of |x| -> infinity);
  2. projected-free gradient ascent of f(x) = v^T Cov_w(x) v (v the top eigenvector, held fixed
     per step) from the best starts, with the exact gradient
         grad f = (alpha_t / sigma_t^2) sum_i w_i (v.(x_i - m))^2 (x_i - m),   m = sum_i w_i x_i
     (d w_i / dx = (alpha_t / sigma_t^2) w_i (x_i - m); the derivative through m vanishes since m
     minimises the weighted second moment), with backtracking so f never decreases.

The result is the largest ||grad^2 log phat_t(x)||_2 found and where: a lower estimate of the
sup (so "found >= lower bound" implies the sup is too). :func:`search_lipschitz` does the
candidate search alone for any law with a ``hessian`` (the true mixture score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .empirical import EmpiricalDistribution
from .forward import alpha, sigma2
from .validation import as_generator, as_positive_int, as_time

__all__ = ["LipschitzEstimate", "lipschitz_bounds", "empirical_lipschitz", "search_lipschitz", "spectral_norms"]


@dataclass(frozen=True)
class LipschitzEstimate:
    """Largest spectral norm of the Hessian of log p_t found, and the point (d,) where."""

    value: float
    x: np.ndarray
    n_evals: int
    method: str


def spectral_norms(h: np.ndarray) -> np.ndarray:
    """||H||_2 for a stack of symmetric matrices (m, d, d) -> (m,)."""
    ev = np.linalg.eigvalsh(h)
    return np.maximum(np.abs(ev[:, 0]), np.abs(ev[:, -1]))


def _distinct(points: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(points, dtype=np.float64), axis=0)


def _pair_distances(p: np.ndarray) -> np.ndarray:
    """Squared distances of all distinct pairs i < j: (n (n - 1) / 2,); chunked in rows."""
    out = []
    for i0 in range(0, p.shape[0], 512):
        blk = p[i0 : i0 + 512]
        d2 = np.maximum(np.einsum("ad,ad->a", blk, blk)[:, None] - 2 * blk @ p.T + np.einsum("bd,bd->b", p, p)[None], 0)
        rows = np.arange(i0, i0 + blk.shape[0])[:, None]
        out.append(d2[rows < np.arange(p.shape[0])[None, :]])
    return np.concatenate(out)


def lipschitz_bounds(points, t: float) -> tuple[float, float]:
    """(lower, upper) bounds of claim A2 on C_t for the empirical law of ``points`` (>= 2 distinct)."""
    t = as_time(t)
    p = _distinct(points)
    if p.shape[0] < 2:
        raise ValueError(f"points: need at least 2 distinct points for the A2 bounds, got {p.shape[0]}")
    d2 = _pair_distances(p)
    a2, s2 = alpha(t) ** 2, sigma2(t)
    return -1.0 / s2 + a2 * d2.min() / (16 * s2 * s2), 1.0 / s2 + a2 * d2.max() / (4 * s2 * s2)


def _closest_pairs(p: np.ndarray, k: int) -> np.ndarray:
    """Index pairs (k, 2) of the k closest distinct pairs (exact for n <= 2048, sampled rows beyond)."""
    n = p.shape[0]
    best = []
    for i0 in range(0, n, 512):
        blk = p[i0 : i0 + 512]
        d2 = np.einsum("ad,ad->a", blk, blk)[:, None] - 2 * blk @ p.T + np.einsum("bd,bd->b", p, p)[None]
        rows = np.arange(i0, i0 + blk.shape[0])[:, None]
        d2[rows >= np.arange(n)[None, :]] = np.inf
        flat = np.argsort(d2, axis=None)[:k]
        r, c = np.unravel_index(flat, d2.shape)
        best += [(float(d2[a, b]), a + i0, b) for a, b in zip(r, c) if np.isfinite(d2[a, b])]
    best.sort()
    return np.array([(i, j) for _, i, j in best[:k]], dtype=np.int64).reshape(-1, 2)


def empirical_lipschitz(
    points, t: float, *, rng=0, n_pairs: int = 16, n_draws: int = 64, n_ascent: int = 8, steps: int = 40
) -> LipschitzEstimate:
    """Largest ||grad^2 log phat_t(x)||_2 found by candidate search plus gradient ascent (see module doc)."""
    t = as_time(t)
    rng = as_generator(rng)
    n_pairs = as_positive_int(n_pairs, "n_pairs")
    n_ascent = as_positive_int(n_ascent, "n_ascent")
    p = _distinct(points)
    if p.shape[0] < 2:
        raise ValueError(f"points: need at least 2 distinct points, got {p.shape[0]}")
    emp = EmpiricalDistribution(points)
    a, s2 = alpha(t), sigma2(t)
    pairs = _closest_pairs(p, n_pairs)
    # A far point: there the weights sit on one point, H = -I / sigma_t^2 and the norm is the limit
    # 1 / sigma_t^2 (the supremum when the blow-up term is smaller).
    far = a * p[:1] + 100.0 * (np.ptp(p, axis=0).max() + np.sqrt(s2)) * np.eye(p.shape[1])[:1]
    cand = [0.5 * a * (p[pairs[:, 0]] + p[pairs[:, 1]]), a * p[rng.choice(p.shape[0], min(p.shape[0], n_draws))], far]
    if n_draws:
        cand.append(emp.sample(n_draws, rng, t))
    x = np.concatenate(cand)
    h = emp.hessian(x, t)
    norms = spectral_norms(h)
    n_evals = x.shape[0]
    best_i = int(np.argmax(norms))
    best_val, best_x = float(norms[best_i]), x[best_i].copy()
    pc = emp.points.astype(np.float64)
    for start in np.argsort(-norms)[:n_ascent]:
        xc, step = x[start].copy(), 0.25 * np.sqrt(s2)
        f_val = None
        for _ in range(steps):
            w = emp.weights(xc[None], t)[0]  # (n,)
            m = w @ pc
            dev = pc - m  # (n, d)
            cov = (dev * w[:, None]).T @ dev
            lam, vec = np.linalg.eigh(cov)
            v = vec[:, -1]
            f_val = lam[-1]
            proj = dev @ v
            grad = (a / s2) * ((w * proj * proj) @ dev)
            gn = np.linalg.norm(grad)
            if gn == 0:
                break
            improved = False
            while step > 1e-6 * np.sqrt(s2):
                trial = xc + step * grad / gn
                wt = emp.weights(trial[None], t)[0]
                mt = wt @ pc
                devt = pc - mt
                ft = np.linalg.eigvalsh((devt * wt[:, None]).T @ devt)[-1]
                n_evals += 1
                if ft > f_val:
                    xc, improved = trial, True
                    step *= 1.5
                    break
                step *= 0.5
            if not improved:
                break
        val = float(spectral_norms(emp.hessian(xc[None], t))[0])
        n_evals += 1
        if val > best_val:
            best_val, best_x = val, xc
    return LipschitzEstimate(best_val, best_x, n_evals, "closest-pair midpoints + points + draws, then ascent")


def search_lipschitz(
    dist, t: float, *, rng=0, n_draws: int = 512, n_segments: int = 16, points_per_segment: int = 17
) -> LipschitzEstimate:
    """Largest ||grad^2 log p_t||_2 over draws of P_t and points on segments between alpha_t mu_k (any law
    with .hessian, .sample and .means, e.g. GaussianMixture): a lower estimate of the sup."""
    t = as_time(t)
    rng = as_generator(rng)
    a = alpha(t)
    x = [dist.sample(as_positive_int(n_draws, "n_draws"), rng, t)]
    mu = a * np.asarray(dist.means)
    if mu.shape[0] >= 2:
        s = np.linspace(0.0, 1.0, points_per_segment)[:, None]
        for _ in range(n_segments):
            i, j = rng.choice(mu.shape[0], 2, replace=False)
            x.append(mu[i] + s * (mu[j] - mu[i]))
    x = np.concatenate(x)
    norms = spectral_norms(dist.hessian(x, t))
    k = int(np.argmax(norms))
    return LipschitzEstimate(float(norms[k]), x[k], x.shape[0], "draws of P_t + segments between component means")
