"""Gaussian mixtures and their noised marginals, in closed form (Section 2; claims S2, S3, A1).

For P = sum_k pi_k N(mu_k, Sigma_k) the forward process gives

    P_t = sum_k pi_k N(alpha_t mu_k, C_k),   C_k = alpha_t^2 Sigma_k + sigma_t^2 I.

With the component scores g_k(x) = -C_k^{-1}(x - alpha_t mu_k) and the responsibilities
r_k(x) = softmax_k(log pi_k + log N(x; alpha_t mu_k, C_k)):

    grad log p_t(x)      = sum_k r_k g_k
    grad^2 log p_t(x)    = -sum_k r_k C_k^{-1} + sum_k r_k (g_k - g)(g_k - g)^T          (g = sum_k r_k g_k)
    E[X_0 | X_t = x]     = sum_k r_k m_k,   m_k = mu_k - alpha_t Sigma_k g_k(x)
    Cov[X_0 | X_t = x]   = sum_k r_k (V_k + (m_k - m)(m_k - m)^T),   V_k = sigma_t^2 Sigma_k C_k^{-1}

(V_k = Sigma_k - alpha_t^2 Sigma_k C_k^{-1} Sigma_k, rewritten without cancellation.) The
Hessian is computed from the component scores, NOT from the posterior covariance, so the
Hessian identity of Lemma C.1 (claim A1) is a genuine check between two routes.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from .forward import alpha, sigma2
from .quadrature import GaussianComponents
from .validation import as_array, as_generator, as_points, as_positive_int, as_spd_matrices, as_time, as_weights

__all__ = ["GaussianMixture"]

_LOG_2PI = np.log(2.0 * np.pi)


class GaussianMixture:
    """P = sum_k weights[k] N(means[k], covs[k]).

    weights: (K,), non-negative, summing to one; means: (K, d); covs: (K, d, d) symmetric
    positive definite. All computations are float64. Methods take x: (m, d) and a time t
    (t = 0 is the data law itself; denoiser and posterior_cov need t > 0).
    """

    def __init__(self, weights, means, covs):
        w = as_weights(weights, "weights")
        mu = as_array(means, "means", ndim=2)
        if mu.shape[0] != w.size:
            raise ValueError(f"means: must have K = {w.size} rows to match weights, got shape {mu.shape}")
        if mu.shape[1] == 0:
            raise ValueError(f"means: must have at least one coordinate, got shape {mu.shape}")
        cov = as_spd_matrices(covs, "covs", k=w.size, d=mu.shape[1])
        for a in (w, mu, cov):
            a.setflags(write=False)
        self.weights, self.means, self.covs = w, mu, cov
        self._cache: dict[float, tuple] = {}

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def isotropic(cls, weights, means, variances=1.0) -> GaussianMixture:
        """Components N(mu_k, v_k I); variances: scalar or (K,), each > 0."""
        mu = as_array(means, "means", ndim=2)
        v = as_array(variances, "variances")
        if v.ndim == 0:
            v = np.full(mu.shape[0], float(v))
        if v.shape != (mu.shape[0],):
            raise ValueError(
                f"variances: must be a scalar or have shape ({mu.shape[0]},) to match means, got {v.shape}"
            )
        if np.any(v <= 0):
            raise ValueError(f"variances: must be > 0, got min {v.min():.6g}")
        return cls(weights, mu, v[:, None, None] * np.eye(mu.shape[1]))

    @classmethod
    def diagonal(cls, weights, means, variances) -> GaussianMixture:
        """Components N(mu_k, diag(v_k)); variances: (K, d) or (d,) shared, each > 0."""
        mu = as_array(means, "means", ndim=2)
        v = as_array(variances, "variances")
        if v.ndim == 1 and v.shape == (mu.shape[1],):
            v = np.broadcast_to(v, mu.shape)
        if v.shape != mu.shape:
            raise ValueError(f"variances: must have shape {mu.shape} or ({mu.shape[1]},), got {v.shape}")
        if np.any(v <= 0):
            raise ValueError(f"variances: must be > 0, got min {v.min():.6g}")
        return cls(weights, mu, v[:, :, None] * np.eye(mu.shape[1])[None])

    # ---- basic properties ---------------------------------------------------------------
    @property
    def K(self) -> int:
        return self.weights.size

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.K}, d={self.d})"

    def moments(self, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean (d,) and covariance (d, d) of P_t."""
        m_t, c_t, _ = self._noised(as_time(t, allow_zero=True))
        mean = self.weights @ m_t
        dev = m_t - mean
        return mean, np.einsum("k,kij->ij", self.weights, c_t) + np.einsum("k,ki,kj->ij", self.weights, dev, dev)

    def _noised(self, t: float):
        """(alpha_t mu_k (K, d), C_k (K, d, d), chol(C_k) (K, d, d)), cached per t."""
        hit = self._cache.get(t)
        if hit is None:
            a, s2 = alpha(t), sigma2(t)
            c = a * a * self.covs + s2 * np.eye(self.d)[None]
            hit = (a * self.means, c, np.linalg.cholesky(c))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[t] = hit
        return hit

    def components(self, t: float = 0.0) -> GaussianComponents:
        """P_t as weighted Gaussian components (for quadrature)."""
        m_t, _, chol = self._noised(as_time(t, allow_zero=True))
        return GaussianComponents(self.weights, m_t, chol=chol)

    # ---- sampling -----------------------------------------------------------------------
    def sample(self, n: int, rng, t: float = 0.0, *, return_labels: bool = False):
        """n draws from P_t: (n, d) (and component labels (n,) with return_labels)."""
        n = as_positive_int(n, "n")
        rng = as_generator(rng)
        m_t, _, chol = self._noised(as_time(t, allow_zero=True))
        k = rng.choice(self.K, size=n, p=self.weights)
        z = rng.standard_normal((n, self.d))
        x = m_t[k] + np.einsum("nij,nj->ni", chol[k], z)
        return (x, k) if return_labels else x

    # ---- per-component quantities -------------------------------------------------------
    def _component_terms(self, x: np.ndarray, t: float):
        """log pi_k + log N(x; alpha mu_k, C_k): (m, K) and component scores g_k: (m, K, d)."""
        m_t, _, chol = self._noised(t)
        m = x.shape[0]
        logp = np.empty((m, self.K))
        g = np.empty((m, self.K, self.d))
        for k in range(self.K):
            diff = (x - m_t[k]).T  # (d, m)
            y = solve_triangular(chol[k], diff, lower=True)  # L^{-1}(x - m)
            logdet = 2.0 * np.log(np.diag(chol[k])).sum()
            logp[:, k] = (
                np.log(self.weights[k]) - 0.5 * (y * y).sum(0) - 0.5 * (logdet + self.d * _LOG_2PI)
                if self.weights[k] > 0
                else -np.inf
            )
            g[:, k, :] = -solve_triangular(chol[k], y, lower=True, trans="T").T  # -C^{-1}(x - m)
        return logp, g

    def _prepare(self, x, t, allow_zero=True):
        t = as_time(t, allow_zero=allow_zero)
        return as_points(x, "x", d=self.d), t

    def responsibilities(self, x, t: float = 0.0) -> np.ndarray:
        """r_k(x) = P(component k | X_t = x): (m, K)."""
        x, t = self._prepare(x, t)
        logp, _ = self._component_terms(x, t)
        return np.exp(logp - logsumexp(logp, axis=1, keepdims=True))

    # ---- public math --------------------------------------------------------------------
    def logpdf(self, x, t: float = 0.0) -> np.ndarray:
        """log p_t(x): (m,)."""
        x, t = self._prepare(x, t)
        logp, _ = self._component_terms(x, t)
        return logsumexp(logp, axis=1)

    def score(self, x, t: float = 0.0) -> np.ndarray:
        """grad log p_t(x) = sum_k r_k g_k: (m, d)."""
        x, t = self._prepare(x, t)
        logp, g = self._component_terms(x, t)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        return np.einsum("mk,mkd->md", r, g)

    def hessian(self, x, t: float = 0.0) -> np.ndarray:
        """grad^2 log p_t(x) = -sum_k r_k C_k^{-1} + sum_k r_k (g_k - g)(g_k - g)^T: (m, d, d)."""
        x, t = self._prepare(x, t)
        logp, g = self._component_terms(x, t)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))  # (m, K)
        _, _, chol = self._noised(t)
        eye = np.eye(self.d)
        c_inv = np.stack(
            [solve_triangular(L, solve_triangular(L, eye, lower=True), lower=True, trans="T") for L in chol]
        )  # (K, d, d)
        dev = g - np.einsum("mk,mkd->md", r, g)[:, None, :]  # (m, K, d)
        h = -np.einsum("mk,kij->mij", r, c_inv) + np.einsum("mk,mki,mkj->mij", r, dev, dev)
        return 0.5 * (h + np.swapaxes(h, 1, 2))

    def _posterior_terms(self, x, t):
        x, t = self._prepare(x, t, allow_zero=False)
        logp, g = self._component_terms(x, t)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))  # (m, K)
        a = alpha(t)
        m_k = self.means[None] - a * np.einsum("kij,mkj->mki", self.covs, g)  # (m, K, d)
        return t, r, m_k

    def denoiser(self, x, t: float) -> np.ndarray:
        """E[X_0 | X_t = x] = sum_k r_k (mu_k - alpha_t Sigma_k g_k(x)): (m, d); t > 0."""
        _, r, m_k = self._posterior_terms(x, t)
        return np.einsum("mk,mkd->md", r, m_k)

    def posterior_cov(self, x, t: float) -> np.ndarray:
        """Cov[X_0 | X_t = x] = sum_k r_k (V_k + (m_k - m)(m_k - m)^T): (m, d, d); t > 0."""
        t, r, m_k = self._posterior_terms(x, t)
        _, c, chol = self._noised(t)
        s2 = sigma2(t)
        # V_k = sigma_t^2 Sigma_k C_k^{-1}: C_k commutes with Sigma_k, so C_k^{-1} Sigma_k is its transpose.
        c_inv_sigma = np.stack(
            [
                solve_triangular(L, solve_triangular(L, S, lower=True), lower=True, trans="T")
                for L, S in zip(chol, self.covs)
            ]
        )  # (K, d, d)
        v = s2 * 0.5 * (c_inv_sigma + np.swapaxes(c_inv_sigma, 1, 2))
        mean = np.einsum("mk,mkd->md", r, m_k)
        dev = m_k - mean[:, None, :]
        cov = np.einsum("mk,kij->mij", r, v) + np.einsum("mk,mki,mkj->mij", r, dev, dev)
        return 0.5 * (cov + np.swapaxes(cov, 1, 2))
