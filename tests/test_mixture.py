"""theory.GaussianMixture against naive definitions (CLAIMS.md; claims S2, S3, A1).

P = sum_k pi_k N(mu_k, Sigma_k),  P_t = sum_k pi_k N(alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I).

Reference values and their provenance:
  * log p_t:            explicit loop sum_k pi_k scipy.stats.multivariate_normal(...).pdf(x), then log;
  * score, Hessian:     torch float64 autograd of an independent log-density (verify.autograd_ref),
                        and fourth-order central finite differences of ``logpdf`` for the score;
  * denoiser, post. cov (d = 1): scipy.integrate.quad of x0^j p(x0) N(x; alpha x0, sigma^2) / p_t(x);
  * Tweedie and the Hessian identity (Lemma C.1, A1): relations between two routes of the class;
  * sample():           z-tests of sample moments against ``moments(t)`` (rates stated at the test).
Tolerances are normwise relative unless a test says otherwise: ||a - b|| <= rtol * max(||b||, floor).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as ss
from checks import check_close
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import IntegrationWarning, quad

from memsep.theory import GaussianMixture
from memsep.theory.quadrature import GaussianComponents
from memsep.verify.autograd_ref import autograd_hessian, autograd_score, mixture_logpdf_fn
from memsep.verify.generators import random_mixture
from memsep.verify.strategies import mixtures, seeds, times

EPS = np.finfo(np.float64).eps
_SQRT_2PI = np.sqrt(2 * np.pi)


def _at(t: float) -> tuple[float, float]:
    """(alpha_t, sigma_t^2) written out from their definitions (see test_forward for their accuracy)."""
    return float(np.exp(-t / 2)), float(-np.expm1(-t))


# ---- case table ------------------------------------------------------------------------------------
def _case(name: str) -> GaussianMixture:
    if name == "K1-d1":
        return GaussianMixture([1.0], [[0.5]], [[[2.0]]])
    if name == "K3-d1-iso":
        return GaussianMixture.isotropic([0.2, 0.5, 0.3], [[-2.0], [0.5], [3.0]], [0.3, 1.0, 0.5])
    if name == "K4-d1-random":
        return random_mixture(np.random.default_rng(5), 4, 1)
    if name == "K2-d2-full":
        return random_mixture(np.random.default_rng(2), 2, 2)
    if name == "K2-d2-iso-scalar":
        return GaussianMixture.isotropic([0.6, 0.4], [[-3.0, 0.0], [3.0, 1.0]], 0.7)
    if name == "K4-d3-full":
        return random_mixture(np.random.default_rng(3), 4, 3)
    if name == "K3-d5-diag":
        rng = np.random.default_rng(4)
        return GaussianMixture.diagonal(
            [0.3, 0.3, 0.4], 2.0 * rng.standard_normal((3, 5)), rng.uniform(0.2, 2.0, size=(3, 5))
        )
    raise KeyError(name)


CASES = ["K1-d1", "K3-d1-iso", "K4-d1-random", "K2-d2-full", "K2-d2-iso-scalar", "K4-d3-full", "K3-d5-diag"]
CASES_1D = [c for c in CASES if "-d1" in c]
TIMES = [0.0, 1e-3, 0.1, 1.0, 5.0]
TIMES_POS = [t for t in TIMES if t > 0]


def _queries(mix: GaussianMixture, t: float, m: int = 16, seed: int = 0) -> np.ndarray:
    """Half draws from P_t, half midpoints of pairs of noised means (where the softmax is mixed)."""
    rng = np.random.default_rng(seed)
    a, s2 = _at(t)
    x = mix.sample(m - m // 2, rng, t)
    i, j = rng.integers(mix.K, size=(2, m // 2))
    mid = 0.5 * a * (mix.means[i] + mix.means[j]) + 0.3 * rng.standard_normal((m // 2, mix.d))
    return np.concatenate([x, mid])


# ---- check helpers ------------------------------------------------------------------------------------


def naive_logpdf(mix: GaussianMixture, x: np.ndarray, t: float) -> np.ndarray:
    """log sum_k pi_k N(x; alpha mu_k, alpha^2 Sigma_k + sigma^2 I) by an explicit loop of scipy pdfs."""
    a, s2 = _at(t)
    p = np.zeros(x.shape[0])
    for w, mu, cov in zip(mix.weights, mix.means, mix.covs):
        p += w * np.atleast_1d(ss.multivariate_normal(a * mu, a * a * cov + s2 * np.eye(mix.d)).pdf(x))
    return np.log(p)


# ---- densities ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_logpdf_vs_scipy_sum(case, t):
    # rtol 1e-12 on p_t(x) is atol 1e-12 on log p_t(x); both routes carry ~eps * (Mahalanobis^2) rounding.
    mix = _case(case)
    x = _queries(mix, t)
    np.testing.assert_allclose(
        mix.logpdf(x, t),
        naive_logpdf(mix, x, t),
        rtol=0,
        atol=1e-12,
        err_msg=f"{case}, t={t}: logpdf vs log sum_k pi_k scipy pdf",
    )


@pytest.mark.parametrize("t", [0.0, 0.1])
@pytest.mark.parametrize("case", ["K3-d1-iso", "K4-d3-full"])
def test_responsibilities_vs_naive(case, t):
    # Reference: r_k = pi_k N_k(x) / sum_j pi_j N_j(x) from scipy pdfs (explicit loop).
    mix = _case(case)
    x = _queries(mix, t)
    a, s2 = _at(t)
    dens = np.stack(
        [
            w * np.atleast_1d(ss.multivariate_normal(a * mu, a * a * c + s2 * np.eye(mix.d)).pdf(x))
            for w, mu, c in zip(mix.weights, mix.means, mix.covs)
        ],
        axis=1,
    )
    r = mix.responsibilities(x, t)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, rtol=0, atol=4 * mix.K * EPS)
    np.testing.assert_allclose(r, dens / dens.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)


def test_zero_weight_component_is_ignored():
    # A component of weight 0 must not change anything: reference = the mixture without it.
    full = GaussianMixture(
        [0.5, 0.0, 0.5],
        [[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]],
        np.stack([np.eye(2), 0.3 * np.eye(2), np.diag([1.0, 2.0])]),
    )
    reduced = GaussianMixture([0.5, 0.5], [[0.0, 0.0], [2.0, -1.0]], np.stack([np.eye(2), np.diag([1.0, 2.0])]))
    x = np.random.default_rng(0).standard_normal((8, 2))
    for t in (0.0, 0.5):
        np.testing.assert_allclose(full.logpdf(x, t), reduced.logpdf(x, t), rtol=1e-14)
        np.testing.assert_allclose(full.score(x, t), reduced.score(x, t), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(full.hessian(x, t), reduced.hessian(x, t), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(full.denoiser(x, 0.5), reduced.denoiser(x, 0.5), rtol=1e-14, atol=1e-15)
    assert np.all(full.sample(200, 0, return_labels=True)[1] != 1)


# ---- score and Hessian ------------------------------------------------------------------------------------
@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_score_vs_autograd(case, t):
    # Reference: torch float64 autograd of log p_t built with torch MultivariateNormal (no shared code).
    mix = _case(case)
    x = _queries(mix, t)
    check_close(
        mix.score(x, t), autograd_score(mixture_logpdf_fn(mix, t), x), 1e-12, f"{case}, t={t}: score vs torch autograd"
    )


@pytest.mark.parametrize("t", [0.0, 1e-3, 1.0])
@pytest.mark.parametrize("case", CASES)
def test_score_vs_finite_differences(case, t):
    # Reference: fourth-order central differences of logpdf, step h = 1e-3 * ell with ell = sqrt(lambda_min(C_k))
    # the smallest length scale of P_t. Truncation ~ (h/ell)^4 = 1e-12 and rounding ~ eps |log p| / h ~ 1e-12
    # relative; 1e-9 leaves room for the larger high derivatives of the softmax between components.
    mix = _case(case)
    x = _queries(mix, t)
    a, s2 = _at(t)
    ell = np.sqrt(min(np.linalg.eigvalsh(a * a * c + s2 * np.eye(mix.d)).min() for c in mix.covs))
    h = 1e-3 * ell
    fd = np.empty_like(x)
    for j in range(mix.d):
        e = np.zeros(mix.d)
        e[j] = h
        f = lambda y: mix.logpdf(y, t)  # noqa: E731
        fd[:, j] = (-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h)
    check_close(mix.score(x, t), fd, 1e-9, f"{case}, t={t}: score vs 4th-order central differences")


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_hessian_vs_autograd(case, t):
    # Reference: torch.func.hessian of the independent torch log-density; Frobenius-relative 1e-10.
    mix = _case(case)
    x = _queries(mix, t)
    h = mix.hessian(x, t)
    assert h.shape == (x.shape[0], mix.d, mix.d)
    np.testing.assert_array_equal(h, np.swapaxes(h, 1, 2))
    check_close(h, autograd_hessian(mixture_logpdf_fn(mix, t), x), 1e-10, f"{case}, t={t}: hessian vs autograd")


# ---- posterior moments ----------------------------------------------------------------------------------
def quad_posterior(mix: GaussianMixture, x: float, t: float, rtol: float = 1e-13):
    """(p_t(x), E[X0 | Xt = x], Var[X0 | Xt = x]) for d = 1 by scipy.integrate.quad.

    Integrand x0^j p(x0) N(x; alpha x0, sigma^2). It is integrated over the window where both
    x0 - x/alpha is within 40 sigma/alpha and x0 is within 40 component sds of the means; outside
    it one factor is below exp(-800) of its peak. Breakpoints at the means and at x/alpha keep
    quad from missing a narrow peak. The variance integrates (x0 - m)^2 (no cancellation).
    Returns the three values and the largest relative quad error estimate.
    """
    a, s2 = _at(t)
    s = np.sqrt(s2)
    w, mu, sd = mix.weights, mix.means[:, 0], np.sqrt(mix.covs[:, 0, 0])

    def joint(u):  # p(x0 = u) N(x; a u, s^2), the normal pdfs written out (scipy.stats is 50x slower per call)
        prior = np.sum(w * np.exp(-0.5 * ((u - mu) / sd) ** 2) / (sd * _SQRT_2PI))
        return prior * np.exp(-0.5 * ((x - a * u) / s) ** 2) / (s * _SQRT_2PI)

    lo = max(x / a - 40 * s / a, mu.min() - 40 * sd.max())
    hi = min(x / a + 40 * s / a, mu.max() + 40 * sd.max())
    pts = sorted(p for p in [*mu, x / a] if lo < p < hi)
    kw = dict(epsabs=0.0, epsrel=rtol, limit=500, points=pts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        z, ez = quad(joint, lo, hi, **kw)
        # first moment about x/alpha (an O(1) quantity that is rarely near zero) then shifted back
        c = x / a
        m1, em1 = quad(lambda u: (u - c) * joint(u), lo, hi, **{**kw, "epsabs": rtol * z * (s / a + sd.max())})
        m = c + m1 / z
        v, ev = quad(lambda u: (u - m) ** 2 * joint(u), lo, hi, **kw)
    return z, m, v / z, max(ez / z, em1 / z / (s / a + sd.max()), ev / v)


@pytest.mark.parametrize("t", TIMES_POS)
@pytest.mark.parametrize("case", CASES_1D)
def test_denoiser_and_posterior_cov_vs_quad_1d(case, t):
    mix = _case(case)
    x = _queries(mix, t, m=6)
    den, cov, lp = mix.denoiser(x, t), mix.posterior_cov(x, t), mix.logpdf(x, t)
    assert den.shape == (6, 1) and cov.shape == (6, 1, 1)
    for q in range(x.shape[0]):
        z, m, v, qerr = quad_posterior(mix, float(x[q, 0]), t)
        assert qerr <= 1e-11, f"{case}, t={t}: quadrature did not resolve its reference ({qerr:.2g})"
        tag = f"{case}, t={t}, x={x[q, 0]:.6g}"
        np.testing.assert_allclose(np.exp(lp[q]), z, rtol=1e-9, err_msg=f"{tag}: p_t vs quad")
        # E[X0|x] is judged on the posterior's own scale: rtol relative to max(|m|, posterior sd).
        assert abs(den[q, 0] - m) <= 1e-9 * max(abs(m), np.sqrt(v)), f"{tag}: denoiser {den[q, 0]!r} vs quad {m!r}"
        np.testing.assert_allclose(cov[q, 0, 0], v, rtol=1e-9, err_msg=f"{tag}: posterior_cov vs quad")


def check_tweedie(mix: GaussianMixture, x: np.ndarray, t: float, what: str) -> None:
    """score = (alpha_t E[X0 | Xt = x] - x) / sigma_t^2 (Tweedie).

    The right side subtracts two numbers of size ~|x| and divides by sigma_t^2, so it carries an
    absolute rounding error ~ eps (|x| + alpha |E[X0|x]|) / sigma_t^2; the bound is 64 times that
    plus 1e-13 relative to the score.
    """
    a, s2 = _at(t)
    sc, den = mix.score(x, t), mix.denoiser(x, t)
    rhs = (a * den - x) / s2
    bound = 64 * EPS * (np.abs(x) + a * np.abs(den)) / s2 + 1e-13 * np.abs(sc).max()
    err = np.abs(sc - rhs) / bound
    assert err.max() <= 1.0, f"{what}: Tweedie residual {np.abs(sc - rhs).max():.3g} exceeds its rounding bound"


def check_hessian_identity(mix: GaussianMixture, x: np.ndarray, t: float, what: str, rtol: float = 1e-12) -> None:
    """Lemma C.1: hessian = -I/sigma^2 + alpha^2/sigma^4 posterior_cov, normwise relative to the two terms.

    At small t the two right-hand terms are ~1/sigma^2 each and cancel to ~1/(alpha^2 lambda + sigma^2),
    so the tolerance is relative to ||I||/sigma^2 + alpha^2/sigma^4 ||Cov||, not to the Hessian.
    """
    a, s2 = _at(t)
    h, cov = mix.hessian(x, t), mix.posterior_cov(x, t)
    rhs = -np.eye(mix.d)[None] / s2 + (a * a / (s2 * s2)) * cov
    scale = np.sqrt(mix.d) / s2 + (a * a / (s2 * s2)) * np.linalg.norm(cov, axis=(1, 2))
    err = np.linalg.norm(h - rhs, axis=(1, 2)) / scale
    assert err.max() <= rtol, f"{what}: Hessian identity residual {err.max():.3g} > {rtol:g} (relative to its terms)"


@pytest.mark.parametrize("t", TIMES_POS)
@pytest.mark.parametrize("case", CASES)
def test_tweedie(case, t):
    mix = _case(case)
    check_tweedie(mix, _queries(mix, t), t, f"{case}, t={t}")


@pytest.mark.parametrize("t", TIMES_POS)
@pytest.mark.parametrize("case", CASES)
def test_hessian_identity(case, t):
    mix = _case(case)
    check_hessian_identity(mix, _queries(mix, t), t, f"{case}, t={t}")


@pytest.mark.parametrize("case", CASES)
def test_posterior_cov_is_spd(case):
    mix = _case(case)
    cov = mix.posterior_cov(_queries(mix, 0.5), 0.5)
    np.testing.assert_array_equal(cov, np.swapaxes(cov, 1, 2))
    assert np.linalg.eigvalsh(cov).min() > 0


@pytest.mark.parametrize("method", ["denoiser", "posterior_cov"])
def test_posterior_needs_positive_t(method):
    mix = _case("K2-d2-full")
    with pytest.raises(ValueError, match=r"^t: must be > 0"):
        getattr(mix, method)(np.zeros((1, 2)), 0.0)


def test_gaussian_posterior_closed_form():
    # Hand derivation, K = 1: X0 ~ N(mu, S), Xt | X0 ~ N(a X0, s2 I) gives
    # Cov[X0 | x] = (S^-1 + a^2/s2 I)^-1 and E[X0 | x] = Cov (S^-1 mu + a x / s2) (standard Gaussian conjugacy).
    rng = np.random.default_rng(11)
    S = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 2.0]])
    mu = np.array([1.0, -2.0, 0.5])
    mix = GaussianMixture([1.0], mu[None], S[None])
    x = rng.standard_normal((5, 3))
    for t in (1e-3, 0.3, 4.0):
        a, s2 = _at(t)
        post = np.linalg.inv(np.linalg.inv(S) + (a * a / s2) * np.eye(3))
        mean = (np.linalg.solve(S, mu)[None] + a * x / s2) @ post
        check_close(mix.posterior_cov(x, t), np.broadcast_to(post, (5, 3, 3)), 1e-12, f"t={t}: Gaussian posterior cov")
        check_close(mix.denoiser(x, t), mean, 1e-11, f"t={t}: Gaussian posterior mean")


# ---- constructors, components, moments ----------------------------------------------------------------
def test_isotropic_scalar_variance():
    mix = GaussianMixture.isotropic([0.25, 0.75], [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], 0.5)
    np.testing.assert_array_equal(mix.covs, np.stack([0.5 * np.eye(3)] * 2))
    np.testing.assert_array_equal(mix.means, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(mix.weights, [0.25, 0.75])
    assert (mix.K, mix.d) == (2, 3)


def test_isotropic_per_component_variances():
    mix = GaussianMixture.isotropic([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [0.3, 2.0])
    np.testing.assert_array_equal(mix.covs, [[[0.3, 0.0], [0.0, 0.3]], [[2.0, 0.0], [0.0, 2.0]]])


def test_diagonal_per_component_variances():
    v = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    mix = GaussianMixture.diagonal([0.5, 0.5], np.zeros((2, 3)), v)
    np.testing.assert_array_equal(mix.covs, np.stack([np.diag(v[0]), np.diag(v[1])]))


def test_diagonal_shared_variances():
    mix = GaussianMixture.diagonal([0.2, 0.3, 0.5], np.zeros((3, 2)), [0.4, 1.5])
    np.testing.assert_array_equal(mix.covs, np.stack([np.diag([0.4, 1.5])] * 3))


@pytest.mark.parametrize(
    "ctor, args",
    [
        ("isotropic", ([0.5, 0.5], [[0.0], [1.0]], [1.0, 0.0])),
        ("isotropic", ([0.5, 0.5], [[0.0], [1.0]], -1.0)),
        ("diagonal", ([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, -1.0])),
        ("diagonal", ([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]])),
    ],
    ids=["iso-zero-var", "iso-negative", "diag-negative", "diag-wrong-shape-2d"],
)
def test_constructors_reject_bad_variances(ctor, args):
    with pytest.raises(ValueError, match=r"^variances: "):
        getattr(GaussianMixture, ctor)(*args)


@pytest.mark.parametrize(
    "ctor, args",
    [
        ("isotropic", ([0.5, 0.5], [[0.0], [1.0]], [1.0, 1.0, 1.0])),
        ("diagonal", ([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, 1.0, 1.0])),
    ],
    ids=["iso-K-mismatch", "diag-d-mismatch-1d"],
)
def test_constructors_name_variances_on_length_mismatch(ctor, args):
    # Contract of theory.validation: every validation error starts with the parameter's name. A 1-D
    # `variances` of the wrong length currently reaches np.broadcast_to first, whose ValueError
    # ("operands could not be broadcast together ...") names no parameter; diagonal's own
    # "variances: must have shape ..." message is unreachable for 1-D input.
    with pytest.raises(ValueError, match=r"^variances: "):
        getattr(GaussianMixture, ctor)(*args)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(weights=[0.5, 0.6], means=[[0.0], [1.0]], covs=np.ones((2, 1, 1))), r"^weights: must sum to 1"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[[1.0, 2.0], [2.0, 1.0]]]), r"^covs: must be positive definite"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[[1.0, 0.5], [0.0, 1.0]]]), r"^covs: must be symmetric"),
        (dict(weights=[0.5, 0.5], means=[[0.0]], covs=np.ones((2, 1, 1))), r"^means: must have K = 2 rows"),
    ],
    ids=["weights-sum", "covs-indefinite", "covs-asymmetric", "means-rows"],
)
def test_constructor_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_components_match_noised_parameters(case, t):
    mix = _case(case)
    a, s2 = _at(t)
    comp = mix.components(t)
    assert isinstance(comp, GaussianComponents) and comp.scale is None
    np.testing.assert_array_equal(comp.weights, mix.weights)
    np.testing.assert_allclose(comp.means, a * mix.means, rtol=1e-15)
    np.testing.assert_array_equal(np.triu(comp.chol, 1), 0.0)
    assert np.all(np.diagonal(comp.chol, axis1=1, axis2=2) > 0)
    noised = a * a * mix.covs + s2 * np.eye(mix.d)
    check_close(comp.chol @ np.swapaxes(comp.chol, 1, 2), noised, 1e-14, f"{case}, t={t}: L L^T vs alpha^2 S + s2 I")


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_moments_vs_naive(case, t):
    # Law of total variance: mean = sum pi_k a mu_k, Cov = sum pi_k (C_k + a^2 mu_k mu_k^T) - mean mean^T.
    mix = _case(case)
    a, s2 = _at(t)
    mean = sum(w * a * mu for w, mu in zip(mix.weights, mix.means))
    second = sum(
        w * (a * a * c + s2 * np.eye(mix.d) + a * a * np.outer(mu, mu))
        for w, mu, c in zip(mix.weights, mix.means, mix.covs)
    )
    m, c = mix.moments(t)
    np.testing.assert_allclose(m, mean, rtol=1e-13, atol=1e-14 * np.abs(mix.means).max())
    np.testing.assert_allclose(c, second - np.outer(mean, mean), rtol=1e-12, atol=1e-12 * np.abs(second).max())


# ---- sampling -----------------------------------------------------------------------------------------
Z_MAX = 5.0  # two-sided P(|Z| > 5) = 5.7e-7 per statistic for a correct sampler


@pytest.mark.parametrize("t", [0.0, 0.3, 3.0])
@pytest.mark.parametrize("case", ["K3-d1-iso", "K2-d2-full", "K4-d3-full"])
def test_sample_moments(case, t):
    """Sample mean and covariance of n = 100,000 draws vs moments(t): |z| < 5 for every entry.

    z for a mean entry uses the exact variance from moments(t); z for a covariance entry uses the
    sample standard deviation of (x_i - m_i)(x_j - m_j) around the exact mean (CLT). With at most
    d + d(d+1)/2 = 9 statistics per case and 9 cases, a correct sampler fails with probability
    < 81 * 5.7e-7 = 5e-5 over seeds; the seed is fixed, so the outcome is deterministic.
    """
    mix = _case(case)
    n = 100_000
    x = mix.sample(n, np.random.default_rng(2024), t)
    assert x.shape == (n, mix.d) and x.dtype == np.float64
    mean, cov = mix.moments(t)
    z_mean = (x.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / n)
    assert np.abs(z_mean).max() < Z_MAX, f"{case}, t={t}: sample mean z = {z_mean}"
    dev = x - mean
    iu = np.triu_indices(mix.d)
    prod = dev[:, iu[0]] * dev[:, iu[1]]  # (n, d(d+1)/2)
    z_cov = (prod.mean(axis=0) - cov[iu]) / (prod.std(axis=0, ddof=1) / np.sqrt(n))
    assert np.abs(z_cov).max() < Z_MAX, f"{case}, t={t}: sample covariance z = {z_cov}"


def test_sample_reproducible_with_seed():
    mix = _case("K4-d3-full")
    x1 = mix.sample(500, np.random.default_rng(42), 0.7)
    x2 = mix.sample(500, np.random.default_rng(42), 0.7)
    x3 = mix.sample(500, 42, 0.7)  # an int seed means default_rng(seed)
    x4 = mix.sample(500, np.random.default_rng(43), 0.7)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(x1, x3)
    assert not np.any(np.all(x1 == x4, axis=1))


def test_sample_advances_generator():
    mix = _case("K2-d2-full")
    rng = np.random.default_rng(3)
    a, b = mix.sample(10, rng), mix.sample(10, rng)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("t", [0.0, 0.5])
def test_sample_return_labels(t):
    """Labels: same draws as without labels; counts ~ Binomial(n, pi_k); x | k ~ N(alpha mu_k, C_k).

    Checks are z-tests with |z| < 5 (P = 5.7e-7 each for a correct sampler): 3 + 3 * 2 = 9 statistics at
    t = 0 (K = 3, d = 1) and 2 + 2 * 2 * 2 = 10 at t = 0.5 (K = 2, d = 2), so a false failure has
    probability < 19 * 5.7e-7 = 1.1e-5 over seeds (the seed is fixed).
    """
    mix = _case("K3-d1-iso") if t == 0.0 else _case("K2-d2-iso-scalar")
    n = 50_000
    x, k = mix.sample(n, np.random.default_rng(9), t, return_labels=True)
    np.testing.assert_array_equal(x, mix.sample(n, np.random.default_rng(9), t))
    assert k.shape == (n,) and np.issubdtype(k.dtype, np.integer) and k.min() >= 0 and k.max() < mix.K
    counts = np.bincount(k, minlength=mix.K)
    z = (counts - n * mix.weights) / np.sqrt(n * mix.weights * (1 - mix.weights))
    assert np.abs(z).max() < Z_MAX, f"label counts z = {z}"
    comp = mix.components(t)
    for j in range(mix.K):
        xj = x[k == j]
        # whiten with the component's Cholesky factor: must be N(0, I) -> mean z and variance z
        y = np.linalg.solve(comp.chol[j], (xj - comp.means[j]).T).T
        zm = y.mean(axis=0) * np.sqrt(len(y))
        zv = (y.var(axis=0, ddof=1) - 1.0) / np.sqrt(2.0 / len(y))  # Var of s^2 for N(0,1) is 2/(n-1)
        assert np.abs(zm).max() < Z_MAX and np.abs(zv).max() < Z_MAX, f"component {j}: z mean {zm}, z var {zv}"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True], ids=["zero", "negative", "float", "bool"])
def test_sample_rejects_bad_n(bad):
    with pytest.raises(ValueError, match=r"^n: "):
        _case("K1-d1").sample(bad, 0)


def test_query_shape_validation():
    mix = _case("K2-d2-full")
    with pytest.raises(ValueError, match=r"^x: must have 2 dimension"):
        mix.score(np.zeros(2), 0.5)  # a (d,) vector is not promoted
    with pytest.raises(ValueError, match=r"^x: must have d = 2 columns"):
        mix.logpdf(np.zeros((3, 3)), 0.5)


# ---- property tests ---------------------------------------------------------------------------------------
@given(mix=mixtures(d=st.integers(1, 4), K=st.integers(1, 4)), t=times(1e-3, 10.0), seed=seeds())
def test_property_score_and_hessian_vs_autograd(mix, t, seed):
    x = _queries(mix, t, m=6, seed=seed % 2**16)
    f = mixture_logpdf_fn(mix, t)
    check_close(mix.score(x, t), autograd_score(f, x), 1e-11, f"{mix}, t={t}: score vs autograd")
    check_close(mix.hessian(x, t), autograd_hessian(f, x), 1e-10, f"{mix}, t={t}: hessian vs autograd")


@given(mix=mixtures(d=st.integers(1, 4), K=st.integers(1, 4)), t=times(1e-3, 10.0), seed=seeds())
def test_property_tweedie_and_hessian_identity(mix, t, seed):
    x = _queries(mix, t, m=6, seed=seed % 2**16)
    check_tweedie(mix, x, t, f"{mix}, t={t}")
    check_hessian_identity(mix, x, t, f"{mix}, t={t}")


@given(mix=mixtures(d=st.integers(1, 3), K=st.integers(1, 4)), t=st.sampled_from([0.0, 1e-2, 1.0]), seed=seeds())
def test_property_logpdf_vs_scipy_sum(mix, t, seed):
    x = _queries(mix, t, m=6, seed=seed % 2**16)
    np.testing.assert_allclose(mix.logpdf(x, t), naive_logpdf(mix, x, t), rtol=0, atol=1e-12)
