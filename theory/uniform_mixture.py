"""Mixtures of uniform boxes and their noised marginals, in closed form (Section 2; claim S3).

The non-Gaussian case of Theorem 4.3 (Assumption 4.2: independent unit-variance sub-Gaussian
entries; the paper's bounded-support remark):

    X = mu_k + D_k^{1/2} xi,   k ~ Categorical(pi),   xi ~ Uniform[-sqrt 3, sqrt 3]^d   (E xi = 0, Cov xi = I),

with D_k diagonal. Under X_t = alpha_t X + sigma_t z each coordinate j of component k is
Uniform[a, b] * N(0, sigma_t^2), a, b = alpha_t (mu_kj -+ sqrt(3 D_kj)):

    p_kj(y) = [Phi(u) - Phi(v)] / (b - a),     u = (y - a) / sigma_t,  v = (y - b) / sigma_t.

In the centred variables c = (y - alpha_t mu_kj) / sigma_t (box centre) and
delta = (b - a) / sigma_t = 2 alpha_t sqrt(3 D_kj) / sigma_t (box width), u, v = c +- delta/2, so

    log p_kj(y)        = log Z(c, delta) - log delta - log sigma_t,    Z = Phi(c + delta/2) - Phi(c - delta/2)
    d/dy log p_kj      = g / sigma_t,       g = d log Z / dc = [phi(u) - phi(v)] / Z
    d^2/dy^2 log p_kj  = h / sigma_t^2,     h = d^2 log Z / dc^2 = -1 + Var[S | v <= S <= u],  S ~ N(0, 1),

and the mixture is log p_t = logsumexp_k(log pi_k + sum_j log p_kj), grad log p_t = sum_k r_k g_k,
grad^2 log p_t = sum_k r_k diag(h_k) + sum_k r_k (g_k - g)(g_k - g)^T (r = softmax responsibilities).

Stability (``normal_interval``). Z, g and h are even/odd in c, so everything is computed at
m = -|c| <= 0 (the interval's near end u' = m + delta/2 is the one closer to the bulk). Three
regimes, each free of cancellation between u' and v' = m - delta/2:

* narrow, delta max(1, |m|) <= 1: Z = delta phi(m) S with S = (1/delta) int exp(-m r - r^2/2) dr
  over |r| <= delta/2 by 8-point Gauss-Legendre (the exponent varies by <= 1.2, so the rule is
  exact to rounding); g = -sign(c) |m| e^{-delta^2/8} sinh(|m| delta/2)/(|m| delta/2) / S; the variance
  in h is the quadrature's own weighted variance of r. delta = 0 (alpha_t underflows for t > ~1490)
  is the limit N(0, sigma_t^2): no log delta is ever taken here.
* tail, wide, u' <= 0: Phi(w) = erfcx(-w/sqrt 2) e^{-w^2/2} / 2, so
  log Phi(v') - log Phi(u') = log erfcx(-v'/sqrt 2) - log erfcx(-u'/sqrt 2) - delta |m| exactly
  (v'^2 - u'^2 = 2 delta |m|); this log-ratio is <= -0.8 in this regime, so
  log Z = log Phi(u') + log(-expm1(log-ratio)) has relative error O(eps) for |c| up to ~1e150,
  and g = lambda(u') (1 - e^{-delta |m|}) / (1 - Phi(v')/Phi(u')) with the inverse Mills ratio
  lambda(u') = sqrt(2/pi) / erfcx(-u'/sqrt 2) (the e^{-u'^2/2} factors cancel analytically).
  (Differencing scipy's log_ndtr(u') - log_ndtr(v') instead loses eps |m| / delta relatively.)
* inner, wide, u' > 0: 0.19 <= Z <= 1, computed as 1 - Phi(-u') - Phi(v') with log1p.

For h in the tail regime the textbook form T - g^2 (T = (-u' phi(u') + v' phi(v'))/Z) subtracts two
numbers ~u'^2 (error eps u'^2: 1e-10 at |u'| = 1e3); instead h = [h1(u') - rho h1(v')]/(1 - rho)
- rho (lambda(v') - lambda(u'))^2 / (1 - rho)^2 with rho = Phi(v')/Phi(u') <= 0.45, the one-sided
h1(w) = -lambda(w) (w + lambda(w)) and w + lambda(w) from a continued fraction (``_kappa``).
So ell, g and h all carry O(eps) relative error in (c, delta) (|c| up to ~1e150, where u'^2
overflows).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx, logsumexp, ndtr

from .forward import alpha, sigma, sigma2
from .validation import as_array, as_generator, as_points, as_positive_int, as_time, as_weights

__all__ = ["UniformBoxMixture", "normal_interval"]

_SQRT3 = np.sqrt(3.0)
_SQRT2 = np.sqrt(2.0)
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)  # nodes/weights on [-1, 1], sum(w) = 2


def _kappa(A: np.ndarray) -> np.ndarray:
    """kappa = lambda(-A) - A for A >= 0, lambda(w) = phi(w) / Phi(w) (inverse Mills ratio), to O(eps) relative.

    Directly for A < 3 (cancellation at most ~10 eps there); for A >= 3 by the Laplace continued
    fraction 1/(sqrt(pi) erfcx(w)) - w = (1/2) / (w + 1 / (w + (3/2) / (w + 2 / (w + ...)))), w = A/sqrt 2,
    with 60 levels (converged to rounding for A >= 3, checked against mpmath in the tests).
    """
    out = np.empty_like(A)
    small = A < 3.0
    out[small] = _SQRT_2_OVER_PI / erfcx(A[small] / _SQRT2) - A[small]
    w = A[~small] / _SQRT2
    tail = w.copy()
    for n in range(60, 1, -1):
        tail = w + 0.5 * n / tail
    out[~small] = 1.0 / (_SQRT2 * tail)
    return out


def normal_interval(c, delta, *, second: bool = False):
    """Log-mass and its c-derivatives for the interval [c - delta/2, c + delta/2] under N(0, 1).

    c: any shape; delta >= 0 broadcastable to c. Returns (ell, g) or (ell, g, h) with

        ell = log(Phi(c + delta/2) - Phi(c - delta/2)) - log(delta)     (= log phi(c) at delta = 0)
        g   = d/dc log Z = (phi(u) - phi(v)) / Z
        h   = d^2/dc^2 log Z = -1 + Var[S | S in the interval]

    all float64 arrays of the broadcast shape (see the module docstring for the three regimes).
    The kernel of ``UniformBoxMixture`` (not exported from ``theory``); no input checks.
    """
    c, delta = np.broadcast_arrays(np.asarray(c, dtype=np.float64), np.asarray(delta, dtype=np.float64))
    m = -np.abs(c)  # reflected centre, <= 0
    ell, g_abs = np.empty(c.shape), np.empty(c.shape)
    h = np.empty(c.shape) if second else None
    narrow = delta * np.maximum(1.0, -m) <= 1.0
    u = m + 0.5 * delta
    tail = ~narrow & (u <= 0.0)
    inner = ~narrow & (u > 0.0)

    if narrow.any():
        mm, dd = m[narrow], delta[narrow]
        S, R1, R2 = np.zeros(mm.shape), np.zeros(mm.shape), np.zeros(mm.shape)
        for x_i, w_i in zip(_GL_X, _GL_W):  # a loop: no (n, 8) temporaries
            r = (0.5 * x_i) * dd  # node in |r| <= delta/2
            e = w_i * np.exp(r * (-mm - 0.5 * r))  # w_i exp(-m r - r^2/2)
            S += e
            if second:
                R1 += e * r
                R2 += e * r * r
        S *= 0.5  # mean of exp(-m r - r^2/2) over |r| <= delta/2
        ell[narrow] = -0.5 * mm * mm - _LOG_SQRT_2PI + np.log(S)
        x = -0.5 * mm * dd  # |m| delta / 2 <= 1/2
        shc = np.ones_like(x)
        nz = x > 1e-8  # sinh(x)/x - 1 = x^2/6 < 2e-17 below
        shc[nz] = np.sinh(x[nz]) / x[nz]
        g_abs[narrow] = -mm * np.exp(-0.125 * dd * dd) * shc / S
        if second:
            rbar = R1 / (2.0 * S)  # E r, E r^2 under the tilted weights;
            h[narrow] = -1.0 + (R2 / (2.0 * S) - rbar * rbar)  # rbar^2 <~ E r^2 / 12 here: no cancellation

    if tail.any():
        mm, dd = m[tail], delta[tail]
        uu, vv = mm + 0.5 * dd, mm - 0.5 * dd
        ex_u, ex_v = erfcx(-uu / _SQRT2), erfcx(-vv / _SQRT2)
        q = -mm * dd  # delta |m| = (v'^2 - u'^2) / 2
        log_rho = np.log(ex_v) - np.log(ex_u) - q  # log Phi(v') - log Phi(u') <= -0.8
        one_m_rho = -np.expm1(log_rho)
        ell[tail] = np.log(0.5 * ex_u) - 0.5 * uu * uu + np.log(one_m_rho) - np.log(dd)
        lam = _SQRT_2_OVER_PI / ex_u  # phi(u') / Phi(u')
        g_abs[tail] = lam * (-np.expm1(-q)) / one_m_rho
        if second:
            # h = h1(u') + d^2/dm^2 log(1 - rho) with the one-sided h1(w) = d^2 log Phi(w) / dw^2
            # = -lambda(w) kappa(w), kappa(w) = w + lambda(w) > 0 (both terms same sign; see _kappa).
            A, B = -uu, -vv  # 0 <= A < B = A + delta
            kA, kB = _kappa(A), _kappa(B)
            rho = np.exp(log_rho)
            h[tail] = (-(A + kA) * kA + rho * (B + kB) * kB) / one_m_rho - rho * (
                dd + kB - kA
            ) ** 2 / one_m_rho**2  # lambda(v') - lambda(u') = delta + kB - kA

    if inner.any():
        mm, dd = m[inner], delta[inner]
        uu, vv = mm + 0.5 * dd, mm - 0.5 * dd
        Z = 1.0 - (ndtr(-uu) + ndtr(vv))  # >= Phi(0) - Phi(-1/2) = 0.19
        ell[inner] = np.log(Z) - np.log(dd)
        phi_u = np.exp(-0.5 * uu * uu - _LOG_SQRT_2PI)
        q = -mm * dd
        g_abs[inner] = phi_u * (-np.expm1(-q)) / Z
        if second:
            T = (-uu * phi_u + vv * phi_u * np.exp(-q)) / Z  # both terms <= 0: no cancellation
            h[inner] = T - g_abs[inner] ** 2

    g = -np.sign(c) * g_abs
    return (ell, g, h) if second else (ell, g)


class UniformBoxMixture:
    """P = sum_k weights[k] Law(means[k] + sqrt(variances[k]) * xi), xi ~ Uniform[-sqrt 3, sqrt 3]^d.

    means: (K, d); variances: scalar, (d,) shared by all components, or (K, d), each > 0 (a 1-D
    array is always per coordinate, also when K = d); weights: (K,) non-negative summing to one,
    default equal. Component k has mean means[k] and covariance diag(variances[k]) (= covs[k]).
    Methods take x: (m, d). logpdf, score, hessian and responsibilities need t > 0 (P_0 has no
    smooth density); sample and moments accept t = 0. All computations are float64.
    """

    def __init__(self, means, variances, weights=None):
        mu = as_array(means, "means", ndim=2)
        K, d = mu.shape
        if K == 0 or d == 0:
            raise ValueError(f"means: must have at least one component and one coordinate, got shape {mu.shape}")
        if weights is None:
            w = np.full(K, 1.0 / K)
        else:
            w = as_weights(weights, "weights")
            if w.size != K:
                raise ValueError(f"weights: must have K = {K} entries to match means, got shape {w.shape}")
        v = as_array(variances, "variances")
        if v.ndim == 1 and v.shape != (d,):
            raise ValueError(f"variances: a 1-D array must have shape ({d},) to match means, got {v.shape}")
        if v.ndim > 2 or (v.ndim == 2 and v.shape != (K, d)):
            raise ValueError(
                f"variances: must be a scalar or have shape ({d},) or ({K}, {d}) to match means, got {v.shape}"
            )
        if np.any(v <= 0):
            raise ValueError(f"variances: must be > 0, got min {v.min():.6g}")
        v = np.array(np.broadcast_to(v, (K, d)))
        covs = v[:, :, None] * np.eye(d)[None]  # (K, d, d)
        for a in (w, mu, v, covs):
            a.setflags(write=False)
        self.weights, self.means, self.variances, self.covs = w, mu, v, covs
        self._log_w = np.full(K, -np.inf)
        self._log_w[w > 0] = np.log(w[w > 0])

    # ---- basic properties ---------------------------------------------------------------
    @property
    def K(self) -> int:
        return self.weights.size

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def __repr__(self) -> str:
        return f"UniformBoxMixture(K={self.K}, d={self.d})"

    def moments(self, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean (d,) and covariance (d, d) of P_t: sum_k pi_k (a^2 D_k + s^2 I) + a^2 Cov_pi(mu_k)."""
        t = as_time(t, allow_zero=True)
        a, s2 = alpha(t), sigma2(t)
        mean0 = self.weights @ self.means
        dev = self.means - mean0  # (K, d)
        cov = np.diag(a * a * (self.weights @ self.variances) + s2) + a * a * np.einsum(
            "k,ki,kj->ij", self.weights, dev, dev
        )
        return a * mean0, cov

    # ---- sampling -----------------------------------------------------------------------
    def sample(self, n: int, rng, t: float = 0.0, *, return_labels: bool = False):
        """n draws from P_t: (n, d) (and component labels (n,) with return_labels).

        Draw order from rng: labels k (n,) by rng.choice, then xi (n, d) by rng.uniform, then
        z (n, d) by rng.standard_normal (drawn also at t = 0), and x = alpha_t (mu_k + D_k^{1/2} xi)
        + sigma_t z. So one seed couples the draws at all t to the same X_0.
        """
        n = as_positive_int(n, "n")
        rng = as_generator(rng)
        t = as_time(t, allow_zero=True)
        k = rng.choice(self.K, size=n, p=self.weights)
        xi = rng.uniform(-_SQRT3, _SQRT3, size=(n, self.d))
        z = rng.standard_normal((n, self.d))
        x0 = self.means[k] + np.sqrt(self.variances[k]) * xi  # (n, d)
        x = alpha(t) * x0 + sigma(t) * z
        return (x, k) if return_labels else x

    # ---- per-component quantities -------------------------------------------------------
    def _prepare(self, x, t):
        t = as_time(t)
        return as_points(x, "x", d=self.d), t

    def _component_terms(self, x: np.ndarray, t: float, second: bool = False):
        """log pi_k + log p_k(x) (m, K), component scores g_k (m, K, d) [and d^2 log p_kj (m, K, d)]."""
        a, s = alpha(t), sigma(t)
        c = (x[:, None, :] - a * self.means[None]) / s  # (m, K, d) box-centred
        delta = (2.0 * _SQRT3 * a) * np.sqrt(self.variances) / s  # (K, d) box widths
        out = normal_interval(c, delta[None], second=second)
        logp = self._log_w + out[0].sum(axis=2) - self.d * np.log(s)  # (m, K)
        g = out[1] / s
        return (logp, g, out[2] / (s * s)) if second else (logp, g)

    # ---- public math --------------------------------------------------------------------
    def responsibilities(self, x, t: float) -> np.ndarray:
        """r_k(x) = P(component k | X_t = x): (m, K); t > 0."""
        x, t = self._prepare(x, t)
        logp, _ = self._component_terms(x, t)
        return np.exp(logp - logsumexp(logp, axis=1, keepdims=True))

    def logpdf(self, x, t: float) -> np.ndarray:
        """log p_t(x): (m,); t > 0."""
        x, t = self._prepare(x, t)
        logp, _ = self._component_terms(x, t)
        return logsumexp(logp, axis=1)

    def score(self, x, t: float) -> np.ndarray:
        """grad log p_t(x) = sum_k r_k g_k: (m, d); t > 0."""
        x, t = self._prepare(x, t)
        logp, g = self._component_terms(x, t)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))  # (m, K)
        return np.einsum("mk,mkd->md", r, g)

    def hessian(self, x, t: float) -> np.ndarray:
        """grad^2 log p_t(x) = sum_k r_k diag(h_k) + sum_k r_k (g_k - g)(g_k - g)^T: (m, d, d); t > 0."""
        x, t = self._prepare(x, t)
        logp, g, h = self._component_terms(x, t, second=True)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))  # (m, K)
        dev = g - np.einsum("mk,mkd->md", r, g)[:, None, :]  # (m, K, d)
        hess = np.einsum("mk,mkd,de->mde", r, h, np.eye(self.d)) + np.einsum("mk,mki,mkj->mij", r, dev, dev)
        return 0.5 * (hess + np.swapaxes(hess, 1, 2))
