"""Independent torch float64 references for log-densities and their autograd Hessians (claim A1).

These re-implement log p_t and log phat_t from their definitions with
``torch.distributions.MultivariateNormal`` and ``torch.logsumexp`` (sharing no code with
``theory``), and differentiate them twice with ``torch.func``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import MultivariateNormal

from memsep.theory import GaussianMixture

__all__ = ["mixture_logpdf_fn", "empirical_logpdf_fn", "autograd_score", "autograd_hessian"]


def _alpha_sigma2(t: float) -> tuple[torch.Tensor, torch.Tensor]:
    tt = torch.tensor(float(t), dtype=torch.float64)
    return torch.exp(-tt / 2), -torch.expm1(-tt)


def mixture_logpdf_fn(mix: GaussianMixture, t: float):
    """x (d,) -> log p_t(x) for P_t = sum_k pi_k N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I)."""
    a, s2 = _alpha_sigma2(t)
    mu = torch.as_tensor(np.array(mix.means), dtype=torch.float64)
    cov = torch.as_tensor(np.array(mix.covs), dtype=torch.float64)
    logw = torch.log(torch.as_tensor(np.array(mix.weights), dtype=torch.float64))
    comps = MultivariateNormal(a * mu, covariance_matrix=a * a * cov + s2 * torch.eye(mix.d, dtype=torch.float64))

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(logw + comps.log_prob(x[None, :]), dim=0)

    return f


def empirical_logpdf_fn(points: np.ndarray, t: float):
    """x (d,) -> log (1/n) sum_i N(x; alpha x_i, sigma^2 I)."""
    a, s2 = _alpha_sigma2(t)
    p = torch.as_tensor(np.array(points), dtype=torch.float64)
    n, d = p.shape

    def f(x: torch.Tensor) -> torch.Tensor:
        sq = ((x[None, :] - a * p) ** 2).sum(dim=1)
        return torch.logsumexp(-sq / (2 * s2), dim=0) - np.log(n) - 0.5 * d * torch.log(2 * torch.pi * s2)

    return f


def autograd_score(f, x: np.ndarray) -> np.ndarray:
    """grad f at each row of x (m, d) -> (m, d)."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    return torch.func.vmap(torch.func.grad(f))(xt).numpy()


def autograd_hessian(f, x: np.ndarray) -> np.ndarray:
    """Hessian of f at each row of x (m, d) -> (m, d, d)."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    return torch.func.vmap(torch.func.hessian(f))(xt).numpy()
