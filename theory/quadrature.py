"""Deterministic expectations under Gaussian mixtures by Gauss-Hermite quadrature (d <= 2).

Both noised laws of the paper are Gaussian mixtures at every t > 0:

    P_t    = sum_k pi_k N(alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I),
    Phat_t = (1/n) sum_i N(alpha_t x_i, sigma_t^2 I),

so E_{P_t} f = sum_k pi_k E_{z ~ N(0, I_d)} f(m_k + L_k z) with L_k L_k^T the component
covariance. The inner expectation uses the tensor-product Gauss-Hermite rule (probabilists'
Hermite polynomials, weights normalised to sum to one) with q nodes per axis, so q^d
evaluations per component; d is limited to 1 and 2.

Adaptivity: the order doubles (q0, 2 q0, ...) until two successive results agree,
|I_2q - I_q| <= max(rtol |I_2q|, 64 eps sum_q w_q |f|), or q reaches q_max. The integrands
of the paper (scores of mixtures with softmax weights) are analytic but have logistic
transitions of slope alpha_t ||x_i - x_j|| / sigma_t in z; those located a few units from the
origin are what needs the high orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import roots_hermitenorm

from .estimate import Estimate, quadrature_estimate

__all__ = ["GaussianComponents", "gauss_hermite", "expectation"]

# Default order schedules per dimension: (first order, largest order).
ORDERS = {1: (32, 4096), 2: (16, 1024)}
_PRUNE = 1e-30  # nodes whose weight is below _PRUNE * max weight are skipped (contribute < 1e-30 relative)


@dataclass(frozen=True)
class GaussianComponents:
    """sum_k weights[k] N(means[k], L_k L_k^T); L_k = chol[k], or scale * I when chol is None.

    weights: (K,), means: (K, d), chol: (K, d, d) lower-triangular or None, scale: float.
    """

    weights: np.ndarray
    means: np.ndarray
    chol: np.ndarray | None = None
    scale: float | None = None

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def transform(self, k: np.ndarray, z: np.ndarray) -> np.ndarray:
        """x = means[k] + L_k z for component ids k (B,) and nodes z (Q, d) -> (B, Q, d)."""
        if self.chol is None:
            return self.means[k][:, None, :] + self.scale * z[None, :, :]
        return self.means[k][:, None, :] + np.einsum("bij,qj->bqi", self.chol[k], z)


@lru_cache(maxsize=32)
def _gh_1d(q: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = roots_hermitenorm(q)
    return z, w / w.sum()


@lru_cache(maxsize=16)
def gauss_hermite(q: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite rule for E_{z ~ N(0, I_d)}: nodes (Q, d), weights (Q,), Q <= q^d.

    The full rule is exact for polynomials of degree <= 2q - 1 in each coordinate. Nodes whose
    product weight is below 1e-30 of the largest are dropped (from q >= 64 in 1-D, q >= 32 in
    2-D), which keeps low moments exact but spoils very high ones (e.g. E z^126 at q = 64):
    irrelevant for the Gaussian-weighted, polynomially bounded integrands here.
    """
    z1, w1 = _gh_1d(q)
    grids = np.meshgrid(*([z1] * d), indexing="ij")
    nodes = np.stack([g.reshape(-1) for g in grids], axis=1)
    weights = np.ones(1)
    for _ in range(d):
        weights = np.multiply.outer(weights, w1).reshape(-1)
    keep = weights >= _PRUNE * weights.max()
    nodes, weights = nodes[keep], weights[keep]
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def _rule_value(comps: GaussianComponents, f, q: int, max_rows: int) -> tuple[float, float, int]:
    z, w = gauss_hermite(q, comps.d)
    k_all = np.arange(comps.weights.size)
    batch = max(1, max_rows // z.shape[0])
    total, total_abs = 0.0, 0.0
    for start in range(0, k_all.size, batch):
        k = k_all[start : start + batch]
        x = comps.transform(k, z)  # (B, Q, d)
        zz = np.broadcast_to(z, x.shape)  # (B, Q, d)
        vals = np.asarray(
            f(x.reshape(-1, comps.d), zz.reshape(-1, comps.d), np.repeat(k, z.shape[0])), dtype=np.float64
        ).reshape(k.size, z.shape[0])  # (B, Q)
        if not np.all(np.isfinite(vals)):
            raise FloatingPointError("quadrature integrand is not finite; the score callable returned NaN or inf")
        total += float(comps.weights[k] @ (vals @ w))
        total_abs += float(comps.weights[k] @ (np.abs(vals) @ w))
    return total, total_abs, k_all.size * z.shape[0]


def expectation(
    comps: GaussianComponents,
    f: Callable,
    *,
    rtol: float = 1e-11,
    atol: float = 0.0,
    q0: int | None = None,
    q_max: int | None = None,
    max_rows: int = 1 << 17,
) -> Estimate:
    """E_{x ~ comps} f(x, z, k) by adaptive tensor Gauss-Hermite quadrature (d in {1, 2}).

    f(x (N, d), z (N, d), k (N,)) -> (N,) receives the points, the standard-normal nodes they
    came from (x = m_k + L_k z) and the component ids; DSM targets need z, Fisher integrands
    only x. Orders q0, 2 q0, ... up to q_max (a hard cap). Converged when
    |I_2q - I_q| <= max(rtol |I_2q|, atol, 64 eps sum w |f|); ``atol`` is the caller's
    rounding floor (e.g. for an integrand that is zero up to rounding of larger terms).
    Returns an Estimate with method "quadrature" (value, error estimate, evaluations,
    converged).
    """
    d = comps.d
    if d not in ORDERS:
        raise ValueError(f"method: 'quadrature' supports d <= 2, got d = {d}; use method='mc'")
    lo, hi = ORDERS[d]
    q = q0 or lo
    q_max = q_max or hi
    if q_max < 2 * q:
        raise ValueError(
            f"q_max: must be >= 2 * q0 = {2 * q} (two orders are needed for an error estimate), got {q_max}"
        )
    prev, _, n_evals = _rule_value(comps, f, q, max_rows)
    while True:
        q *= 2
        cur, cur_abs, n = _rule_value(comps, f, q, max_rows)
        n_evals += n
        err = abs(cur - prev)
        rounding = 64 * np.finfo(float).eps * cur_abs
        if err <= max(rtol * abs(cur), rounding):
            return quadrature_estimate(cur, max(err, rounding), n_evals, True)
        if err <= atol:  # converged to the caller's floor, and no better
            return quadrature_estimate(cur, float(atol), n_evals, True)
        if 2 * q > q_max:
            return quadrature_estimate(cur, err, n_evals, False)
        prev = cur
