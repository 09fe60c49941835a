"""Seeded constructors of random test objects, shared by the checks and the Hypothesis strategies.

Everything is built from a ``np.random.Generator`` so that a Hypothesis example is a handful
of integers and floats (a seed, K, d, ...), never a large array, and shrinks well.
"""

from __future__ import annotations

import numpy as np

from memsep.theory import EmpiricalDistribution, GaussianMixture

__all__ = ["random_spd", "random_mixture", "random_problem"]


def random_spd(rng: np.random.Generator, d: int, *, v_min: float = 0.2, cond_max: float = 10.0) -> np.ndarray:
    """Q diag(lam) Q^T with Q Haar-orthogonal and lam log-uniform in [v_min, v_min * cond_max]: (d, d)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q *= np.sign(np.diag(r))
    lam = v_min * np.exp(rng.uniform(0.0, np.log(cond_max), size=d))
    c = (q * lam) @ q.T
    return 0.5 * (c + c.T)


def random_mixture(
    rng: np.random.Generator,
    K: int,
    d: int,
    *,
    mean_scale: float = 2.0,
    v_min: float = 0.2,
    cond_max: float = 10.0,
    isotropic: bool = False,
) -> GaussianMixture:
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


def random_problem(
    seed: int, K: int, d: int, n: int, **kw
) -> tuple[GaussianMixture, np.ndarray, EmpiricalDistribution]:
    """(mixture, data (n, d) drawn from it, their EmpiricalDistribution), all from one seed."""
    rng = np.random.default_rng(seed)
    mix = random_mixture(rng, K, d, **kw)
    data = mix.sample(n, rng)
    return mix, data, EmpiricalDistribution(data)


def regime_mixture(case: dict, constants=None):
    """The mixture of a Theorem 4.3 regime case (see verify.strategies.regime_cases).

    case: {'family': 'gaussian' | 'uniform', 'K', 'd', 'v_lo', 'v_hi', 'seed', ...}. Means are
    drawn one at a time from N(0, 4 I_d) and kept when at least 1.05 c1 sqrt(d) from the
    earlier ones and within 0.95 c2 sqrt(d) of the origin (so the regime's separation and
    norm conditions hold). The shared covariance has eigenvalues log-uniform in
    [v_lo, v_hi]: Q diag(lam) Q^T with Q Haar (gaussian family) or diag(lam) (uniform family:
    mu_k + diag(lam)^(1/2) xi, xi uniform on [-sqrt 3, sqrt 3]^d).
    """
    from memsep.theory import RegimeConstants, UniformBoxMixture

    c = constants or RegimeConstants()
    rng = np.random.default_rng(case["seed"])
    K, d = case["K"], case["d"]
    sep, rmax = 1.05 * c.c1 * np.sqrt(d), 0.95 * c.c2 * np.sqrt(d)
    means = []
    for _ in range(K):
        for _attempt in range(100_000):
            m = 2.0 * rng.standard_normal(d)
            if np.linalg.norm(m) <= rmax and all(np.linalg.norm(m - p) >= sep for p in means):
                break
        else:
            raise RuntimeError(f"case: could not place {K} separated means in d = {d}")
        means.append(m)
    means = np.array(means)
    lam = np.exp(rng.uniform(np.log(case["v_lo"]), np.log(case["v_hi"]), size=d))
    w = np.full(K, 1.0 / K)
    if case["family"] == "uniform":
        return UniformBoxMixture(means, lam, weights=w)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q *= np.sign(np.diag(r))
    S = (q * lam) @ q.T
    S = 0.5 * (S + S.T)
    return GaussianMixture(w, means, np.broadcast_to(S, (K, d, d)))
