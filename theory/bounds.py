"""Theorem 4.3 (claim S3): the bound's form, a leading-order prediction, and the regime.

Bound form (the paper; no constant is given):

    E_D[Loss-Gap_t] = Omega(B_t),   B_t = d / sigma_t^2 + tr(Sigma).

Leading-order prediction (DERIVED HERE, NOT IN THE PAPER). When the softmax weights of the
empirical score sit on the generating sample x_i (so grad log phat_t(x) = -z / sigma_t for
x = alpha_t x_i + sigma_t z) and the true posterior on the generating component k (so
grad log p_t(x) = -C_k^{-1}(x - alpha_t mu_k), C_k = alpha_t^2 Sigma_k + sigma_t^2 I), then
x - alpha_t mu_k ~ N(0, C_k), E[z (x - alpha_t mu_k)^T] = sigma_t I and

    G_t = E || z / sigma_t - C_k^{-1}(x - alpha_t mu_k) ||^2 = d / sigma_t^2 - sum_k pi_k tr(C_k^{-1}),

i.e. d / (e^t - 1) for Sigma = I. For non-Gaussian components (UniformBoxMixture) the same
expression with Sigma_k their covariance is the Gaussian surrogate, not an identity.

Regime (Theorem 4.3's assumptions made explicit; the constants are our choice, kept as
parameters, see :class:`RegimeConstants`):

    Delta_min = min_{j != k} ||mu_j - mu_k|| >= c1 sqrt(d)      (separated components)
    max_k ||mu_k||                           <= c2 sqrt(d)      (bounded means)
    ||Sigma||_2                              <= c3              (so ||Sigma||_F <= c3 sqrt(d))
    Sigma_k all equal                                           (shared covariance)
    log n                                    <= c4 d            (n at most exponential in d)
    e^{-c5 d} <= sigma_t <= d^{-c6}                             (t in [t0, t1])
    lambda_min(Sigma)                        >= c7              (implied by Assumption 4.2, see below)

The last condition is not written among the moment conditions of Theorem 4.3 (||Sigma||_2 =
O(1), ||Sigma||_F = O(sqrt d) bound Sigma from above only), but it follows from Assumption 4.2:
the component law Sigma^{1/2} xi must have a sub-Gaussian Hoelder density (Definition 3.2),
p(x) = exp(-C ||x||^2 / 2) f(x) with f bounded by B, so p <= B, and a density bounded by B
cannot concentrate on a thin set: its covariance is bounded below (lambda_min(Sigma) >= c(B, d)
> 0). This module makes that lower bound an explicit constant c7. Without it the ratio
E_D[Loss-Gap_t] / B_t has no positive lower bound at fixed d: for Sigma = eps I with eps <<
sigma_t^2 the within-component spread is below the noise level, Phat_t ~ P_t and the gap is
~ d alpha_t^2 eps / sigma_t^4 << d / sigma_t^2 (claim S3 shows this family, which violates
Assumption 4.2 as eps -> 0); c7 = 0 drops the condition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .forward import alpha, sigma2
from .validation import as_array, as_positive_int, as_time

__all__ = [
    "RegimeConstants",
    "RegimeReport",
    "bound_form",
    "concentration_ratio",
    "leading_order_gap",
    "regime_check",
    "regime_check_dist",
    "regime_times",
]


def _sigma_matrices(Sigma, d: int | None = None) -> np.ndarray:
    """Sigma as (K, d, d) (a single (d, d) matrix becomes K = 1)."""
    S = as_array(Sigma, "Sigma")
    if S.ndim == 2:
        S = S[None]
    if S.ndim != 3 or S.shape[1] != S.shape[2]:
        raise ValueError(f"Sigma: must have shape (d, d) or (K, d, d), got {S.shape}")
    if d is not None and S.shape[1] != d:
        raise ValueError(f"Sigma: must be {d} x {d}, got {S.shape[1:]}")
    return S


def bound_form(t: float, Sigma, weights=None) -> float:
    """B_t = d / sigma_t^2 + tr(Sigma) (weighted mean of tr(Sigma_k) for several components)."""
    t = as_time(t)
    S = _sigma_matrices(Sigma)
    w = np.full(S.shape[0], 1.0 / S.shape[0]) if weights is None else as_array(weights, "weights", ndim=1)
    return S.shape[1] / sigma2(t) + float(w @ np.trace(S, axis1=1, axis2=2))


def leading_order_gap(t: float, Sigma, weights=None) -> float:
    """G_t = d / sigma_t^2 - sum_k pi_k tr((alpha_t^2 Sigma_k + sigma_t^2 I)^{-1})  (derived here, not in the paper)."""
    t = as_time(t)
    S = _sigma_matrices(Sigma)
    d = S.shape[1]
    w = np.full(S.shape[0], 1.0 / S.shape[0]) if weights is None else as_array(weights, "weights", ndim=1)
    a2, s2 = alpha(t) ** 2, sigma2(t)
    lam = np.linalg.eigvalsh(S)  # (K, d)
    return d / s2 - float(w @ np.sum(1.0 / (a2 * lam + s2), axis=1))


@dataclass(frozen=True)
class RegimeConstants:
    """Constants of the regime; defaults chosen for mixtures with mu_k ~ N(0, 4 I_d), Sigma ~ I.

    c1 = 1: such means are ~2.8 sqrt(d) apart, so Delta_min >= sqrt(d) excludes only
    overlapping configurations. c2 = 4: ||mu_k|| ~ 2 sqrt(d). c3 = 4: Sigma = O(1).
    c4 = 1: n <= e^d. c5 = 1: sigma_t >= e^{-d} (no practical restriction). c6 = 1/2:
    sigma_t <= 1/sqrt(d), i.e. t1 = 0.29 at d = 4, 0.032 at d = 32, 0.0079 at d = 128.
    c7 = 1/4: lambda_min(Sigma) >= 1/4 (the lower bound Assumption 4.2 implies, made explicit; 0 disables it).

    What the constants must achieve is that the empirical softmax weights concentrate on the
    generating sample, which needs the concentration ratio (see :func:`concentration_ratio`)
    rho = alpha_t^2 lambda_min(Sigma) d / (sigma_t^2 log n) to be of order one or more; with
    c4 = 1, c6 = 1/2, c7 = 1/4, rho >= 0.75 over the whole regime (d >= 4). The first choice,
    c6 = 1/4, admitted rho down to 0.25, and claim S3's fuzzer found R = E_D[gap] / B_t of 0.003
    there (d = 10, n = 10^4, t = t1): the theorem's constant degrades where rho <~ 1, which
    asymptotically (d -> infinity, fixed constants) never happens since rho ~ d^(2 c6).
    """

    c1: float = 1.0
    c2: float = 4.0
    c3: float = 4.0
    c4: float = 1.0
    c5: float = 1.0
    c6: float = 0.5
    c7: float = 0.25
    shared_rtol: float = 1e-10

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RegimeReport:
    """Whether a configuration lies inside the regime, and each condition's value and threshold."""

    inside: bool
    conditions: list = field(default_factory=list)  # [{"name", "value", "threshold", "ok"}]

    @property
    def failing(self) -> list[str]:
        return [c["name"] for c in self.conditions if not c["ok"]]

    def summary(self) -> str:
        return "inside" if self.inside else "outside: " + ", ".join(self.failing)


def concentration_ratio(t: float, Sigma, n: int) -> float:
    """rho = alpha_t^2 lambda_min(Sigma) d / (sigma_t^2 log n).

    The logit gap between the generating sample and another sample of the same component is
    about alpha_t^2 ||x_i - x_j||^2 / (2 sigma_t^2) >= alpha_t^2 lambda_min d / sigma_t^2 (typical
    ||x_i - x_j||^2 ~ 2 tr Sigma), against log n competitors: rho >> 1 means the weights sit on
    one sample (memorization regime, gap ~ G_t), rho << 1 that they spread (gap -> 0).
    """
    t = as_time(t)
    S = _sigma_matrices(Sigma)
    n = as_positive_int(n, "n", minimum=2)
    lam = float(np.linalg.eigvalsh(S).min())
    return alpha(t) ** 2 * lam * S.shape[1] / (sigma2(t) * np.log(n))


def regime_times(d: int, constants: RegimeConstants = RegimeConstants()) -> tuple[float, float]:
    """(t0, t1) with sigma_{t0} = e^{-c5 d} and sigma_{t1} = d^{-c6} (t = -log(1 - sigma^2))."""
    d = as_positive_int(d, "d")
    s0_sq = np.exp(-2.0 * constants.c5 * d)
    s1_sq = min(float(d) ** (-2.0 * constants.c6), 1.0 - 1e-16)
    return float(-np.log1p(-s0_sq)), float(-np.log1p(-s1_sq))


def regime_check(means, Sigma, n: int, t: float, constants: RegimeConstants = RegimeConstants()) -> RegimeReport:
    """Check Theorem 4.3's regime for means (K, d), Sigma ((d, d) shared or (K, d, d)), n, t."""
    mu = as_array(means, "means", ndim=2)
    K, d = mu.shape
    S = _sigma_matrices(Sigma, d)
    n = as_positive_int(n, "n", minimum=2)
    t = as_time(t)
    c = constants
    sq = np.sqrt(d)
    conds = []

    def add(name, value, threshold, ok):
        conds.append({"name": name, "value": float(value), "threshold": float(threshold), "ok": bool(ok)})

    if K >= 2:
        diff = np.linalg.norm(mu[:, None, :] - mu[None, :, :], axis=2) + np.diag(np.full(K, np.inf))
        delta = float(diff.min())
        add("separation Delta_min >= c1 sqrt(d)", delta, c.c1 * sq, delta >= c.c1 * sq)
    mnorm = float(np.linalg.norm(mu, axis=1).max())
    add("max ||mu_k|| <= c2 sqrt(d)", mnorm, c.c2 * sq, mnorm <= c.c2 * sq)
    snorm = float(np.linalg.norm(S, ord=2, axis=(1, 2)).max())
    add("||Sigma||_2 <= c3", snorm, c.c3, snorm <= c.c3)
    spread = float(np.abs(S - S[0]).max())
    add(
        "shared Sigma (max |Sigma_k - Sigma_1|)",
        spread,
        c.shared_rtol * max(np.abs(S).max(), 1.0),
        spread <= c.shared_rtol * max(np.abs(S).max(), 1.0),
    )
    lmin = float(np.linalg.eigvalsh(S).min())
    add("lambda_min(Sigma) >= c7 [implied by Assumption 4.2]", lmin, c.c7, lmin >= c.c7)
    add("log n <= c4 d", np.log(n), c.c4 * d, np.log(n) <= c.c4 * d)
    s = np.sqrt(sigma2(t))
    add("sigma_t >= exp(-c5 d)", s, np.exp(-c.c5 * d), s >= np.exp(-c.c5 * d))
    add("sigma_t <= d^(-c6)", s, d ** (-c.c6), s <= d ** (-c.c6))
    return RegimeReport(all(x["ok"] for x in conds), conds)


def regime_check_dist(dist, n: int, t: float, constants: RegimeConstants = RegimeConstants()) -> RegimeReport:
    """regime_check for a distribution with .means (K, d) and .covs (K, d, d)."""
    if not (hasattr(dist, "means") and hasattr(dist, "covs")):
        raise ValueError(
            f"dist: must have .means and .covs (GaussianMixture, UniformBoxMixture), got {type(dist).__name__}"
        )
    return regime_check(dist.means, dist.covs, n, t, constants)
