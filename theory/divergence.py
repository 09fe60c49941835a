"""Fisher divergence and the Loss-Gap of Proposition 4.1 (claims S1, S2).

    Fisher(P_t, Q_t) = E_{X ~ P_t} || grad log p_t(X) - s_Q(X, t) ||^2        (measure = first argument)
    Loss-Gap_t       = Lhat_t(grad log p_t) - Lhat_t(grad log phat_t)

Proposition 4.1 (S2) states Loss-Gap_t = Fisher(Phat_t, P_t), an expectation under the
EMPIRICAL noised law. With the same seed, ``fisher_divergence(EmpiricalDistribution(data), P,
t, method="mc")`` and ``loss_gap(data, P, t, method="mc")`` use exactly the same points
x = alpha_t x_i + sigma_t z, so their per-draw terms can be paired.
"""

from __future__ import annotations

import numpy as np

from . import dsm as _dsm
from .dsm import as_seed, dsm_loss_difference, evaluate_score, resolve_method
from .empirical import EmpiricalDistribution
from .estimate import Estimate, mean_estimate
from .quadrature import expectation
from .validation import as_points, as_positive_int, as_probability, as_time

__all__ = ["fisher_divergence", "loss_gap"]


def _score_of(q, name: str):
    if hasattr(q, "score") and callable(q.score):
        return q.score
    if callable(q):
        return q
    raise ValueError(
        f"{name}: must be a distribution with a .score(x, t) method or a score callable, got {type(q).__name__}"
    )


def fisher_divergence(
    p,
    q,
    t: float,
    *,
    method: str = "auto",
    n_draws: int = 20000,
    seed: int = 0,
    level: float = 0.95,
    rtol: float = 1e-11,
    keep_samples: bool = False,
) -> Estimate:
    """E_{X ~ p_t} || grad log p_t(X) - s_q(X, t) ||^2.

    p: GaussianMixture or EmpiricalDistribution (sampled from, and its score used);
    q: a distribution with .score(x, t) or a score callable (m, d), t -> (m, d); t > 0.
    Quadrature integrates per component of p_t (d <= 2); Monte Carlo draws x ~ p_t.
    """
    if not (hasattr(p, "components") and hasattr(p, "sample") and hasattr(p, "score")):
        raise ValueError(f"p: must be a GaussianMixture or EmpiricalDistribution, got {type(p).__name__}")
    s_q = _score_of(q, "q")
    if hasattr(q, "d") and q.d != p.d:
        raise ValueError(f"q: must have dimension d = {p.d} to match p, got d = {q.d}")
    t = as_time(t)
    n_draws = as_positive_int(n_draws, "n_draws", minimum=2)
    level = as_probability(level, "level")
    comps = p.components(t)

    def term(x):
        r = evaluate_score(p.score, x, t, "p.score") - evaluate_score(s_q, x, t, "q")
        return np.einsum("md,md->m", r, r)

    if resolve_method(method, p.d, comps.weights.size) == "quadrature":
        return expectation(comps, lambda x, z, k: term(x), rtol=rtol)
    seed = as_seed(seed)
    x = p.sample(n_draws, np.random.default_rng(int(seed)), t)
    vals = np.concatenate([term(x[c0 : c0 + _dsm.MC_CHUNK]) for c0 in range(0, n_draws, _dsm.MC_CHUNK)])
    return mean_estimate(vals, level=level, seed=seed, keep_samples=keep_samples)


def loss_gap(data, true_dist, t: float, **kwargs) -> Estimate:
    """Loss-Gap_t = Lhat_t(grad log p_t) - Lhat_t(grad log phat_t) for data (n, d) drawn from true_dist.

    Paired estimator (see ``theory.dsm.dsm_loss_difference``); keyword arguments as there.
    """
    data = as_points(data, "data")
    s_true = _score_of(true_dist, "true_dist")
    if hasattr(true_dist, "d") and true_dist.d != data.shape[1]:
        raise ValueError(f"true_dist: must have dimension d = {data.shape[1]} to match data, got d = {true_dist.d}")
    emp = EmpiricalDistribution(data)
    return dsm_loss_difference(data, s_true, emp.score, t, **kwargs)
