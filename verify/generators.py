"""Seeded constructors of random test objects, shared by the checks and the Hypothesis strategies.

Everything is built from a ``np.random.Generator`` so that a Hypothesis example is a handful
of integers and floats (a seed, K, d, ...), never a large array, and shrinks well.
"""

from __future__ import annotations

import numpy as np

from theory import EmpiricalDistribution, GaussianMixture

__all__ = ["random_spd", "random_mixture", "random_problem"]


def random_spd(rng: np.random.Generator, d: int, *, v_min: float = 0.2, cond_max: float = 10.0) -> np.ndarray:
    """Q diag(lam) Q^T with Q Haar-orthogonal and lam log-uniform in [v_min, v_min * cond_max]: (d, d)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q *= np.sign(np.diag(r))
    lam = v_min * np.exp(rng.uniform(0.0, np.log(cond_max), size=d))
    c = (q * lam) @ q.T
    return 0.5 * (c + c.T)


def random_mixture(rng: np.random.Generator, K: int, d: int, *, mean_scale: float = 2.0, v_min: float = 0.2,
                   cond_max: float = 10.0, isotropic: bool = False) -> GaussianMixture:
    """A K-component mixture in R^d.

    weights = 0.5/K + 0.5 Dirichlet(1) (no component below half the uniform weight),
    means ~ N(0, mean_scale^2 I_d), covariances from :func:`random_spd` (condition number
    <= cond_max), or v I_d with v log-uniform in [v_min, v_min * cond_max] when isotropic.
    """
    w = 0.5 / K + 0.5 * rng.dirichlet(np.ones(K))
    w /= w.sum()
    mu = mean_scale * rng.standard_normal((K, d))
    if isotropic:
        v = v_min * np.exp(rng.uniform(0.0, np.log(cond_max), size=K))
        return GaussianMixture.isotropic(w, mu, v)
    covs = np.stack([random_spd(rng, d, v_min=v_min, cond_max=cond_max) for _ in range(K)])
    return GaussianMixture(w, mu, covs)


def random_problem(seed: int, K: int, d: int, n: int, **kw) -> tuple[GaussianMixture, np.ndarray, EmpiricalDistribution]:
    """(mixture, data (n, d) drawn from it, their EmpiricalDistribution), all from one seed."""
    rng = np.random.default_rng(seed)
    mix = random_mixture(rng, K, d, **kw)
    data = mix.sample(n, rng)
    return mix, data, EmpiricalDistribution(data)
