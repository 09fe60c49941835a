"""theory.UniformBoxMixture against naive definitions (the setting of CLAIMS.md; claim S3, non-Gaussian case).

X = mu_k + D_k^{1/2} xi, xi ~ Uniform[-sqrt 3, sqrt 3]^d, X_t = alpha_t X + sigma_t z. Per coordinate of
a component, p(y) = [Phi((y - a)/sigma) - Phi((y - b)/sigma)] / (b - a), a, b = alpha (mu -+ sqrt(3 D)).

Reference values and their provenance:
  * log p_t (d = 1, 2):  scipy.integrate.quad of the convolution integral int U(x0) N(y; alpha x0, sigma^2) dx0
                         (d = 2: a true 2-D integral by nested quad at a few points, and products of 1-D quads);
                         the explicit scipy.stats.norm.cdf formula where its differences do not cancel;
  * tails:               mpmath at 60 digits (ncdf, npdf) of log Z, d log Z/dc, d^2 log Z/dc^2 (normal_interval);
  * score, Hessian:      torch float64 autograd of an independent naive torch log-density (torch.special.ndtr),
                         and fourth-order central differences of logpdf (score) and of score (Hessian);
  * sample():            z-tests of sample moments against moments(t) (rates stated at the tests);
  * normalisation:       quad of exp(logpdf) over R (d = 1); large t: the N(0, I) limit.
Tolerances are normwise relative unless a test says otherwise.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import scipy.stats as ss
import torch
from checks import check_close
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import IntegrationWarning, dblquad, quad

from memsep.theory import EmpiricalDistribution, UniformBoxMixture, fisher_divergence, loss_gap
from memsep.theory.uniform_mixture import _kappa, normal_interval
from memsep.verify.strategies import seeds, times

EPS = np.finfo(np.float64).eps
SQRT3 = np.sqrt(3.0)


def _at(t: float) -> tuple[float, float]:
    """(alpha_t, sigma_t) written out from their definitions."""
    return float(np.exp(-t / 2)), float(np.sqrt(-np.expm1(-t)))


# ---- case table ------------------------------------------------------------------------------------
def _case(name: str) -> UniformBoxMixture:
    if name == "K1-d1":
        return UniformBoxMixture([[0.5]], 2.0)
    if name == "K3-d1":
        return UniformBoxMixture([[-2.0], [0.5], [3.0]], [[0.3], [1.0], [0.5]], weights=[0.2, 0.5, 0.3])
    if name == "K2-d2":
        return UniformBoxMixture([[-1.5, 0.0], [1.5, 1.0]], [0.5, 1.5])  # (d,) shared, equal weights
    if name == "K3-d3":
        rng = np.random.default_rng(4)
        return UniformBoxMixture(
            2.0 * rng.standard_normal((3, 3)), rng.uniform(0.2, 2.0, size=(3, 3)), weights=[0.3, 0.3, 0.4]
        )
    if name == "K4-d5":
        rng = np.random.default_rng(5)
        return UniformBoxMixture(1.5 * rng.standard_normal((4, 5)), rng.uniform(0.3, 1.5, size=(4, 5)))
    raise KeyError(name)


CASES = ["K1-d1", "K3-d1", "K2-d2", "K3-d3", "K4-d5"]
TIMES = [1e-3, 0.1, 1.0, 5.0]


def _queries(mix: UniformBoxMixture, t: float, m: int = 12, seed: int = 0) -> np.ndarray:
    """Half draws from P_t, half near noised box centres and edges (where the softmax is mixed)."""
    rng = np.random.default_rng(seed)
    a, s = _at(t)
    x = mix.sample(m - m // 2, rng, t)
    k = rng.integers(mix.K, size=m // 2)
    edge = rng.choice([-1.0, 0.0, 1.0], size=(m // 2, mix.d))
    y = a * (mix.means[k] + edge * np.sqrt(3 * mix.variances[k])) + s * rng.uniform(-2, 2, size=(m // 2, mix.d))
    return np.concatenate([x, y])


# ---- densities: quadrature and the explicit cdf formula ---------------------------------------------------
def quad_density_1d(mu: float, var: float, y: float, t: float, rtol: float = 1e-13) -> tuple[float, float]:
    """int_{mu-h}^{mu+h} 1/(2h) N(y; alpha x0, sigma^2) dx0 (h = sqrt(3 var)) by quad; (value, rel. error est.).

    The window is cut to 40 sigma/alpha around y/alpha (outside, the normal factor is < e^-800 of its peak),
    with a breakpoint at y/alpha so quad cannot miss a narrow peak.
    """
    a, s = _at(t)
    h = np.sqrt(3 * var)
    lo, hi = max(mu - h, y / a - 40 * s / a), min(mu + h, y / a + 40 * s / a)
    if lo >= hi:
        return 0.0, 0.0
    f = lambda x0: np.exp(-0.5 * ((y - a * x0) / s) ** 2) / (s * np.sqrt(2 * np.pi)) / (2 * h)  # noqa: E731
    pts = [y / a] if lo < y / a < hi else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        val, err = quad(f, lo, hi, epsabs=0.0, epsrel=rtol, limit=200, points=pts)
    return val, err / val


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", ["K1-d1", "K3-d1", "K2-d2"])
def test_logpdf_vs_quad(case, t):
    # p_t(y) = sum_k pi_k prod_j int U_kj(x0) N(y_j; alpha x0, sigma^2) dx0 (coordinates of a component are
    # independent by definition); each 1-D integral by quad at epsrel 1e-13, so rtol 1e-10 on p_t.
    mix = _case(case)
    x = _queries(mix, t, m=8)
    ref = np.zeros(x.shape[0])
    for q in range(x.shape[0]):
        for w, mu, v in zip(mix.weights, mix.means, mix.variances):
            prod = w
            for j in range(mix.d):
                val, qerr = quad_density_1d(mu[j], v[j], x[q, j], t)
                assert qerr <= 1e-11, f"{case}, t={t}: quad did not resolve its reference ({qerr:.2g})"
                prod *= val
            ref[q] += prod
    np.testing.assert_allclose(np.exp(mix.logpdf(x, t)), ref, rtol=1e-10, err_msg=f"{case}, t={t}: p_t vs quad")


@pytest.mark.parametrize("t", [0.1, 1.0])
def test_logpdf_vs_dblquad_2d(t):
    # A genuinely 2-D reference (no product structure assumed): dblquad over each component's box of
    # U_k(x0) N(y; alpha x0, sigma^2 I); tolerances 1e-12, smooth integrands at these t; rtol 1e-9.
    mix = _case("K2-d2")
    a, s = _at(t)
    x = _queries(mix, t, m=4)
    h = np.sqrt(3 * mix.variances)
    for y in x:
        ref = 0.0
        for k in range(mix.K):
            dens = 1.0 / np.prod(2 * h[k])

            def f(x1, x0, dens=dens, y=y):
                return dens * np.exp(-0.5 * ((y[0] - a * x0) ** 2 + (y[1] - a * x1) ** 2) / s**2) / (2 * np.pi * s * s)

            lo, hi = mix.means[k] - h[k], mix.means[k] + h[k]
            ref += mix.weights[k] * dblquad(f, lo[0], hi[0], lo[1], hi[1], epsabs=0.0, epsrel=1e-12)[0]
        np.testing.assert_allclose(np.exp(mix.logpdf(y[None], t)[0]), ref, rtol=1e-9, err_msg=f"t={t}, y={y}")


def naive_cdf_logpdf(mix: UniformBoxMixture, x: np.ndarray, t: float) -> np.ndarray:
    """log sum_k pi_k prod_j [norm.cdf(u) - norm.cdf(v)] / (b - a), an explicit loop over components."""
    a_t, s = _at(t)
    p = np.zeros(x.shape[0])
    for w, mu, v in zip(mix.weights, mix.means, mix.variances):
        lo, hi = a_t * (mu - np.sqrt(3 * v)), a_t * (mu + np.sqrt(3 * v))
        p += w * np.prod((ss.norm.cdf((x - lo) / s) - ss.norm.cdf((x - hi) / s)) / (hi - lo), axis=1)
    return np.log(p)


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_logpdf_vs_norm_cdf_formula(case, t):
    # Where the cdf difference does not cancel (queries within ~2 sigma of the noised boxes, so each
    # Phi(u) - Phi(v) >= 0.02 of its larger term): the formula is accurate to ~1e-14; rtol 1e-12 on p_t.
    mix = _case(case)
    x = _queries(mix, t)
    np.testing.assert_allclose(
        mix.logpdf(x, t),
        naive_cdf_logpdf(mix, x, t),
        rtol=0,
        atol=1e-12,
        err_msg=f"{case}, t={t}: logpdf vs explicit norm.cdf formula",
    )


@pytest.mark.parametrize("case", ["K3-d1", "K3-d3"])
def test_responsibilities_vs_naive(case):
    # r_k = pi_k p_k / sum_j pi_j p_j with p_k the explicit norm.cdf product (loop over components).
    mix = _case(case)
    t = 0.2
    a_t, s = _at(t)
    x = _queries(mix, t)
    dens = np.stack(
        [
            w
            * np.prod(
                ss.norm.cdf((x - a_t * (mu - np.sqrt(3 * v))) / s) - ss.norm.cdf((x - a_t * (mu + np.sqrt(3 * v))) / s),
                axis=1,
            )
            / np.prod(2 * a_t * np.sqrt(3 * v))
            for w, mu, v in zip(mix.weights, mix.means, mix.variances)
        ],
        axis=1,
    )
    r = mix.responsibilities(x, t)
    assert r.shape == (x.shape[0], mix.K)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, rtol=0, atol=4 * mix.K * EPS)
    np.testing.assert_allclose(r, dens / dens.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("t", [1e-3, 0.1, 1.0, 5.0])
def test_density_integrates_to_one_1d(t):
    # quad of exp(logpdf) over [-L, L] with breakpoints at the noised box edges; outside L = 12 + 40 sigma
    # the density is below e^-800. quad at epsrel 1e-12; rtol 1e-10.
    mix = _case("K3-d1")
    a, s = _at(t)
    h = np.sqrt(3 * mix.variances[:, 0])
    edges = np.sort(np.concatenate([a * (mix.means[:, 0] - h), a * (mix.means[:, 0] + h)]))
    L = 12.0 + 40 * s
    f = lambda y: float(np.exp(mix.logpdf(np.array([[y]]), t)[0]))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        total, _ = quad(f, -L, L, points=list(edges), epsabs=0.0, epsrel=1e-12, limit=500)
    assert abs(total - 1.0) <= 1e-10, f"t={t}: integral of p_t = {total!r}"


# ---- tails: the interval kernel against mpmath ----------------------------------------------------------
mp.mp.dps = 60


def mp_interval(c: float, delta: float) -> tuple[float, float, float]:
    """(log Z - log delta, d log Z/dc, d^2 log Z/dc^2) at 60 digits, Z = Phi(c + delta/2) - Phi(c - delta/2).

    Uses the mirrored difference Phi(-v) - Phi(-u) for c > 0 (at 60 digits either form works, but
    this one keeps all digits in the far upper tail).
    """
    c, d = mp.mpf(c), mp.mpf(delta)
    u, v = c + d / 2, c - d / 2
    Z = mp.ncdf(-v) - mp.ncdf(-u) if c > 0 else mp.ncdf(u) - mp.ncdf(v)
    g = (mp.npdf(u) - mp.npdf(v)) / Z
    h = (-u * mp.npdf(u) + v * mp.npdf(v)) / Z - g * g
    return float(mp.log(Z) - mp.log(d)), float(g), float(h)


C_GRID = [0.0, 0.3, -2.0, 10.0, -37.5, 200.0, -1e3, 1e3, -5e3, 1e4, -1e5]
DELTA_GRID = [1e-10, 1e-6, 1e-3, 0.1, 0.999, 1.001, 3.5, 30.0, 1e3, 1e5]
# pairs on the regime boundaries: delta max(1, |c|) = 1 (narrow/wide) and |c| = delta/2 (tail/inner)
BOUNDARY = [
    (-0.5, 1.0),
    (0.5, 1.0 + 1e-12),
    (100.0, 0.01),
    (-100.0, 0.01 * (1 + 1e-12)),
    (1.5, 3.0),
    (-1.5, 3.0 * (1 + 1e-12)),
    (1.5, 3.0 * (1 - 1e-12)),
    (500.0, 1000.0),
]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300) if b != 0 else abs(a)


@pytest.mark.parametrize("c", C_GRID)
def test_interval_kernel_vs_mpmath(c):
    # ell and g: rtol 1e-12 (measured <= 2e-14: the worst case is the conditioning of phi(u) = e^{-u^2/2}
    # in u, ~eps u^2, at c = 0.3, delta = 30). h: rtol 1e-12 relative to max(|h|, 1e-3) (|h| <= 1).
    for delta in DELTA_GRID:
        ell, g, h = normal_interval(np.array([c]), np.array([delta]), second=True)
        r_ell, r_g, r_h = mp_interval(c, delta)
        tag = f"c={c}, delta={delta}"
        assert np.isfinite([ell[0], g[0], h[0]]).all(), tag
        assert _rel(ell[0], r_ell) <= 1e-12, f"{tag}: log Z - log delta {ell[0]!r} vs mpmath {r_ell!r}"
        assert _rel(g[0], r_g) <= 1e-12, f"{tag}: d log Z/dc {g[0]!r} vs mpmath {r_g!r}"
        assert abs(h[0] - r_h) <= 1e-12 * max(abs(r_h), 1e-3), f"{tag}: d2 log Z/dc2 {h[0]!r} vs mpmath {r_h!r}"


@pytest.mark.parametrize("c, delta", BOUNDARY)
def test_interval_kernel_regime_boundaries(c, delta):
    ell, g, h = normal_interval(np.array([c]), np.array([delta]), second=True)
    r_ell, r_g, r_h = mp_interval(c, delta)
    assert _rel(ell[0], r_ell) <= 1e-13 and _rel(g[0], r_g) <= 1e-13 and abs(h[0] - r_h) <= 1e-13, (
        f"c={c}, delta={delta}: {(ell[0], g[0], h[0])} vs mpmath {(r_ell, r_g, r_h)}"
    )


def test_interval_kernel_random_pairs_vs_mpmath():
    # 300 (c, delta) pairs, |c| log-uniform in [1e-3, 3e4], delta in [1e-9, 3e4] (all three regimes).
    # A 3000-pair sweep measured max errors 4e-16 (ell, relative to max(|ell|, 1)), 8e-14 (g: the
    # conditioning ~eps u'^2 of phi(u') at u' ~ 30) and 4e-15 (h, relative to max(|h|, 1e-3)).
    rng = np.random.default_rng(7)
    c = rng.choice([-1.0, 1.0], 300) * 10 ** rng.uniform(-3, 4.5, 300)
    delta = 10 ** rng.uniform(-9, 4.5, 300)
    ell, g, h = normal_interval(c, delta, second=True)
    for i in range(c.size):
        r_ell, r_g, r_h = mp_interval(c[i], delta[i])
        tag = f"c={c[i]!r}, delta={delta[i]!r}"
        assert abs(ell[i] - r_ell) <= 1e-14 * max(abs(r_ell), 1.0), f"{tag}: ell {ell[i]!r} vs {r_ell!r}"
        assert _rel(g[i], r_g) <= 1e-12, f"{tag}: g {g[i]!r} vs {r_g!r}"
        assert abs(h[i] - r_h) <= 1e-13 * max(abs(r_h), 1e-3), f"{tag}: h {h[i]!r} vs {r_h!r}"


def test_kappa_vs_mpmath():
    # kappa(A) = lambda(-A) - A, lambda = phi/Phi (inverse Mills): direct below A = 3, continued fraction above.
    A = np.array([0.0, 0.5, 2.999, 3.0, 3.001, 4.0, 10.0, 1e3, 1e6])
    ref = [float(-mp.mpf(a) + mp.npdf(-mp.mpf(a)) / mp.ncdf(-mp.mpf(a))) for a in A]
    np.testing.assert_allclose(_kappa(A), ref, rtol=1e-14)


def test_interval_kernel_finite_without_warnings():
    # Extreme grid incl. delta = 0 (alpha_t underflow) and |c| up to 1e100: finite, no warning of any kind.
    c = np.array([0.0, 1e-300, -1e-8, 1.0, -40.0, 1e3, -1e5, 1e8, -1e50, 1e100])[:, None]
    delta = np.array([0.0, 1e-300, 1e-12, 1e-3, 1.0, 1e3, 1e8, 1e50])[None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ell, g, h = normal_interval(c, delta, second=True)
    assert ell.shape == g.shape == h.shape == (10, 8)
    assert np.isfinite(ell).all() and np.isfinite(g).all() and np.isfinite(h).all()
    assert np.all(h <= 0) and np.all(h >= -1), "d^2 log Z/dc^2 = -1 + Var must lie in [-1, 0]"
    assert np.all(g * c <= 0), "d log Z/dc points back to the interval centre"


def test_interval_kernel_delta_zero_is_gaussian():
    # delta -> 0: Z / delta -> phi(c), so ell = log phi(c), g = -c, h = -1 (exactly at delta = 0).
    c = np.array([-30.0, -1.0, 0.0, 2.5, 1e3])
    ell, g, h = normal_interval(c, 0.0, second=True)
    np.testing.assert_allclose(ell, ss.norm.logpdf(c), rtol=1e-15)
    np.testing.assert_allclose(g, -c, rtol=1e-15)
    np.testing.assert_array_equal(h, -1.0)


@pytest.mark.parametrize("u_far", [30.0, 1e3, 1e4])
def test_mixture_tails_vs_mpmath(u_far):
    # K = 1, d = 1 at small t (sigma = 0.01): points u_far sigma beyond either box edge and at the box
    # centre; logpdf and score against mpmath (log Z - log(b - a), (phi(u) - phi(v)) / (sigma Z)), rtol 1e-12.
    mix = UniformBoxMixture([[0.7]], 0.4)
    t = -np.log1p(-1e-4)  # sigma_t^2 = 1e-4 (to rounding)
    a_t, s = _at(t)
    lo, hi = a_t * (0.7 - np.sqrt(1.2)), a_t * (0.7 + np.sqrt(1.2))
    x = np.array([[lo - u_far * s], [hi + u_far * s], [0.5 * (lo + hi)], [hi - 3 * s]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp, sc = mix.logpdf(x, t), mix.score(x, t)
    for q in range(x.shape[0]):
        c = (x[q, 0] - a_t * 0.7) / s
        r_ell, r_g, _ = mp_interval(c, (hi - lo) / s)
        ref_lp = r_ell - np.log(s)
        assert _rel(lp[q], ref_lp) <= 1e-12, f"x={x[q, 0]!r}: logpdf {lp[q]!r} vs mpmath {ref_lp!r}"
        assert _rel(sc[q, 0], r_g / s) <= 1e-12 or abs(sc[q, 0] - r_g / s) <= 1e-12 * abs(c) / s, (
            f"x={x[q, 0]!r}: score {sc[q, 0]!r} vs mpmath {r_g / s!r}"
        )


def test_mixture_far_tails_finite_without_warnings():
    # K > 1, d > 1, t from 1e-8 to the as_time cap 1e4 (alpha_t = 0), points up to 1e6 away.
    mix = _case("K3-d3")
    x = np.array([[0.0, 0.0, 0.0], [1e6, -1e6, 3.0], [-50.0, 20.0, 1e3], [1e-300, 5.0, -5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in (1e-8, 1e-3, 1.0, 40.0, 1e4):
            out = [mix.logpdf(x, t), mix.score(x, t), mix.responsibilities(x, t), mix.hessian(x, t)]
            assert all(np.isfinite(o).all() for o in out), f"t={t}: non-finite output"


# ---- score and Hessian against autograd and finite differences -------------------------------------------
def torch_logpdf_fn(mix: UniformBoxMixture, t: float):
    """x (m, d) -> log p_t(x) (m,) from the definition: logsumexp_k(log pi_k + sum_j log((Phi(u) - Phi(v)) / (b - a))).

    Independent of theory (which uses erfcx and Gauss-Legendre): log(Phi(u) - Phi(v)) = log_ndtr(u)
    + log(-expm1(log_ndtr(v) - log_ndtr(u))) with torch.special.log_ndtr, mirrored to log_ndtr(-v), log_ndtr(-u)
    right of the box centre (so a far component gives a finite log-density and gradient, not log 0).
    Accurate to ~1e-14 where the boxes are not narrow on the sigma_t scale (the queries below).
    """
    tt = torch.tensor(float(t), dtype=torch.float64)
    a, s = torch.exp(-tt / 2), torch.sqrt(-torch.expm1(-tt))
    mu = torch.as_tensor(np.array(mix.means), dtype=torch.float64)
    h = torch.sqrt(3 * torch.as_tensor(np.array(mix.variances), dtype=torch.float64))
    logw = torch.log(torch.as_tensor(np.array(mix.weights), dtype=torch.float64))
    lo, hi = a * (mu - h), a * (mu + h)

    def f(x: torch.Tensor) -> torch.Tensor:  # x: (..., d) -> (...)
        x = x[..., None, :]  # (..., 1, d)
        u, v = (x - lo) / s, (x - hi) / s  # (..., K, d)
        right = x > a * mu
        hi_end, lo_end = torch.where(right, -v, u), torch.where(right, -u, v)  # Phi(hi_end) - Phi(lo_end)
        l_hi, l_lo = torch.special.log_ndtr(hi_end), torch.special.log_ndtr(lo_end)
        log_z = l_hi + torch.log(-torch.expm1(l_lo - l_hi))
        return torch.logsumexp(logw + (log_z - torch.log(hi - lo)).sum(dim=-1), dim=-1)

    return f


def autograd_score(f, x: np.ndarray) -> np.ndarray:
    """Rows of x are independent, so grad of sum_i f(x_i) is the per-row gradient (no vmap: torch has
    no batching rule for log_ndtr)."""
    xt = torch.as_tensor(x, dtype=torch.float64).clone().requires_grad_(True)
    return torch.autograd.grad(f(xt).sum(), xt)[0].numpy()


def autograd_hessian(f, x: np.ndarray) -> np.ndarray:
    """torch.autograd.functional.hessian row by row (double backward, no vmap)."""
    return np.stack(
        [torch.autograd.functional.hessian(f, torch.as_tensor(row, dtype=torch.float64)).numpy() for row in x]
    )


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_score_vs_autograd(case, t):
    # Queries within ~2 sigma of the boxes: every Z >= ~0.02, so the naive torch route is accurate to ~1e-14.
    mix = _case(case)
    x = _queries(mix, t)
    check_close(
        mix.score(x, t),
        autograd_score(torch_logpdf_fn(mix, t), x),
        1e-11,
        f"{case}, t={t}: score vs torch autograd",
        floor=1 / _at(t)[1],
    )


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("case", CASES)
def test_hessian_vs_autograd(case, t):
    mix = _case(case)
    x = _queries(mix, t)
    h = mix.hessian(x, t)
    assert h.shape == (x.shape[0], mix.d, mix.d)
    np.testing.assert_array_equal(h, np.swapaxes(h, 1, 2))
    check_close(
        h,
        autograd_hessian(torch_logpdf_fn(mix, t), x),
        1e-10,
        f"{case}, t={t}: hessian vs autograd",
        floor=1 / _at(t)[1] ** 2,
    )


def _central_diff(f, x: np.ndarray, h: float) -> np.ndarray:
    """Fourth-order central differences of f: (m, d) -> (m, ...) along each coordinate: (m, d, ...)."""
    cols = []
    for j in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[j] = h
        cols.append((-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("t", [1e-2, 1.0])
@pytest.mark.parametrize("case", ["K3-d1", "K3-d3", "K4-d5"])
def test_score_and_hessian_vs_finite_differences(case, t):
    # Step h = 1e-3 sigma_t (sigma_t is the smallest length scale of p_t: the blur of the box edges).
    # Truncation ~ (h/sigma)^4 = 1e-12 and rounding ~ eps |log p| / h relative to |score| ~ 1/sigma; rtol 1e-8.
    mix = _case(case)
    x = _queries(mix, t)
    s = _at(t)[1]
    h = 1e-3 * s
    check_close(
        mix.score(x, t),
        _central_diff(lambda y: mix.logpdf(y, t), x, h),
        1e-8,
        f"{case}, t={t}: score vs central differences of logpdf",
        floor=1 / s,
    )
    check_close(
        mix.hessian(x, t),
        _central_diff(lambda y: mix.score(y, t), x, h),
        1e-8,
        f"{case}, t={t}: hessian vs central differences of score",
        floor=1 / s**2,
    )


def test_large_t_approaches_standard_normal():
    # P_t = alpha_t X + sigma_t z: at t = 30 (alpha = 3e-7) the score is -x to O(alpha (1 + |x|)); at the
    # as_time cap t = 1e4, alpha_t underflows to 0 and P_t is exactly N(0, I) in float64.
    mix = _case("K3-d3")
    x = np.random.default_rng(1).standard_normal((20, 3)) * 3
    a30, _ = _at(30.0)
    err = np.abs(mix.score(x, 30.0) + x)
    assert np.all(err <= 20 * a30 * (1 + np.abs(x))), f"t=30: max |score + x| = {err.max():.3g}"
    np.testing.assert_allclose(mix.score(x, 1e4), -x, rtol=1e-15)
    np.testing.assert_allclose(mix.logpdf(x, 1e4), ss.norm.logpdf(x).sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(mix.hessian(x, 1e4), np.broadcast_to(-np.eye(3), (20, 3, 3)), rtol=0, atol=4 * EPS)
    np.testing.assert_allclose(mix.responsibilities(x, 1e4), np.broadcast_to(mix.weights, (20, 3)), rtol=1e-14)


def test_zero_weight_component_is_ignored():
    full = UniformBoxMixture(
        [[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]], [[1.0, 1.0], [0.3, 0.3], [1.0, 2.0]], weights=[0.5, 0.0, 0.5]
    )
    reduced = UniformBoxMixture([[0.0, 0.0], [2.0, -1.0]], [[1.0, 1.0], [1.0, 2.0]])
    x = np.random.default_rng(0).standard_normal((8, 2))
    for t in (0.01, 0.5):
        np.testing.assert_allclose(full.logpdf(x, t), reduced.logpdf(x, t), rtol=1e-14)
        np.testing.assert_allclose(full.score(x, t), reduced.score(x, t), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(full.hessian(x, t), reduced.hessian(x, t), rtol=1e-14, atol=1e-15)
    assert np.all(full.sample(200, 0, return_labels=True)[1] != 1)


# ---- constructor, properties, moments -----------------------------------------------------------------------
def test_properties_and_variance_forms():
    means = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    scalar = UniformBoxMixture(means, 0.5)
    shared = UniformBoxMixture(means, [0.5, 1.0, 2.0])
    full = UniformBoxMixture(means, [[0.5, 1.0, 2.0], [0.1, 0.2, 0.3]], weights=[0.25, 0.75])
    assert (scalar.K, scalar.d) == (2, 3) and repr(scalar) == "UniformBoxMixture(K=2, d=3)"
    np.testing.assert_array_equal(scalar.weights, [0.5, 0.5])
    np.testing.assert_array_equal(scalar.variances, np.full((2, 3), 0.5))
    np.testing.assert_array_equal(shared.variances, [[0.5, 1.0, 2.0]] * 2)
    np.testing.assert_array_equal(full.weights, [0.25, 0.75])
    np.testing.assert_array_equal(full.covs, np.stack([np.diag([0.5, 1.0, 2.0]), np.diag([0.1, 0.2, 0.3])]))
    np.testing.assert_array_equal(full.means, means)
    for arr in (full.weights, full.means, full.variances, full.covs):
        assert not arr.flags.writeable


@pytest.mark.parametrize("t", [0.0, 1e-3, 1.0, 5.0])
@pytest.mark.parametrize("case", CASES)
def test_moments_vs_naive(case, t):
    # Law of total variance; Cov xi = I (Var of Uniform[-sqrt 3, sqrt 3] = (2 sqrt 3)^2 / 12 = 1).
    mix = _case(case)
    a, s = _at(t)
    mean = sum(w * a * mu for w, mu in zip(mix.weights, mix.means))
    second = sum(
        w * (a * a * np.diag(v) + s * s * np.eye(mix.d) + a * a * np.outer(mu, mu))
        for w, mu, v in zip(mix.weights, mix.means, mix.variances)
    )
    m, c = mix.moments(t)
    np.testing.assert_allclose(m, mean, rtol=1e-13, atol=1e-14 * np.abs(mix.means).max())
    np.testing.assert_allclose(c, second - np.outer(mean, mean), rtol=1e-12, atol=1e-12 * np.abs(second).max())


# ---- sampling -----------------------------------------------------------------------------------------
Z_MAX = 5.0  # two-sided P(|Z| > 5) = 5.7e-7 per statistic for a correct sampler


@pytest.mark.parametrize("t", [0.0, 0.3, 3.0])
@pytest.mark.parametrize("case", ["K3-d1", "K2-d2", "K3-d3"])
def test_sample_moments(case, t):
    """Sample mean and covariance of n = 100,000 draws vs moments(t): |z| < 5 for every entry.

    z for a mean entry uses the exact variance; z for a covariance entry the sample sd of
    (x_i - m_i)(x_j - m_j) around the exact mean (CLT). At most d + d(d+1)/2 = 9 statistics per case,
    9 cases: a correct sampler fails with probability < 81 * 5.7e-7 = 5e-5 over seeds (the seed is fixed).
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


def test_sample_t0_is_uniform_on_boxes():
    """At t = 0 with labels: every draw lies in its box, and the standardised entries s = (x - mu)/sqrt(D)
    have E s^4 = 9/5 (uniform; a Gaussian would give 3), Var s^4 = E s^8 - (9/5)^2 = 9 - 3.24 = 5.76.
    One z-test per coordinate and component (K d = 9 statistics, |z| < 5): false failure < 9 * 5.7e-7.
    """
    mix = _case("K3-d3")
    x, k = mix.sample(60_000, np.random.default_rng(5), 0.0, return_labels=True)
    s = (x - mix.means[k]) / np.sqrt(mix.variances[k])
    assert np.all(np.abs(s) <= SQRT3 * (1 + 1e-12)), "a t = 0 draw left its box"
    for j in range(mix.K):
        s4 = s[k == j] ** 4
        z = (s4.mean(axis=0) - 1.8) / np.sqrt(5.76 / s4.shape[0])
        assert np.abs(z).max() < Z_MAX, f"component {j}: fourth-moment z = {z}"


def test_sample_draw_order_and_coupling():
    # Documented order: labels (rng.choice), xi (rng.uniform), z (rng.standard_normal), z drawn also at t = 0.
    mix = _case("K3-d3")
    n, t = 300, 0.7
    a, s = _at(t)
    rng = np.random.default_rng(17)
    k = rng.choice(mix.K, size=n, p=mix.weights)
    xi = rng.uniform(-SQRT3, SQRT3, size=(n, mix.d))
    z = rng.standard_normal((n, mix.d))
    x0 = mix.means[k] + np.sqrt(mix.variances[k]) * xi
    np.testing.assert_allclose(mix.sample(n, 17, t), a * x0 + s * z, rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(mix.sample(n, 17, 0.0), x0)
    r2 = np.random.default_rng(17)
    mix.sample(n, r2, 0.0)
    np.testing.assert_array_equal(r2.standard_normal(3), rng.standard_normal(3))  # same stream consumed


def test_sample_reproducible_with_seed():
    mix = _case("K4-d5")
    x1 = mix.sample(500, np.random.default_rng(42), 0.7)
    x2 = mix.sample(500, 42, 0.7)  # an int seed means default_rng(seed)
    x3 = mix.sample(500, np.random.default_rng(43), 0.7)
    np.testing.assert_array_equal(x1, x2)
    assert not np.any(np.all(x1 == x3, axis=1))
    rng = np.random.default_rng(3)
    assert not np.array_equal(mix.sample(10, rng), mix.sample(10, rng))


def test_sample_return_labels():
    """Same draws as without labels; label counts ~ Binomial(n, pi_k): |z| < 5 (3 statistics, < 2e-6)."""
    mix = _case("K3-d1")
    n = 50_000
    x, k = mix.sample(n, np.random.default_rng(9), 0.5, return_labels=True)
    np.testing.assert_array_equal(x, mix.sample(n, np.random.default_rng(9), 0.5))
    assert k.shape == (n,) and np.issubdtype(k.dtype, np.integer) and k.min() >= 0 and k.max() < mix.K
    z = (np.bincount(k, minlength=mix.K) - n * mix.weights) / np.sqrt(n * mix.weights * (1 - mix.weights))
    assert np.abs(z).max() < Z_MAX, f"label counts z = {z}"


# ---- bad input: one test per case -------------------------------------------------------------------------
GOOD = dict(means=[[0.0, 0.0], [1.0, 1.0]], variances=[[1.0, 1.0], [0.5, 2.0]], weights=[0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(means=[[0.0, np.nan], [1.0, 1.0]]), r"^means: must be finite"),
        (dict(means=[[0.0, np.inf], [1.0, 1.0]]), r"^means: must be finite"),
        (dict(means=[0.0, 1.0]), r"^means: must have 2 dimension"),
        (dict(means=np.zeros((2, 0))), r"^means: must have at least one"),
        (dict(variances=[[1.0, -1.0], [0.5, 2.0]]), r"^variances: must be > 0"),
        (dict(variances=[[1.0, 0.0], [0.5, 2.0]]), r"^variances: must be > 0"),
        (dict(variances=0.0), r"^variances: must be > 0"),
        (dict(variances=[[1.0, np.nan], [0.5, 2.0]]), r"^variances: must be finite"),
        (dict(variances=[1.0, 1.0, 1.0]), r"^variances: a 1-D array must have shape \(2,\)"),
        (dict(variances=[[1.0, 1.0, 1.0]] * 2), r"^variances: must be a scalar or have shape"),
        (dict(variances=np.ones((2, 2, 2))), r"^variances: must be a scalar or have shape"),
        (dict(weights=[0.5, 0.6]), r"^weights: must sum to 1"),
        (dict(weights=[1.5, -0.5]), r"^weights: must be non-negative"),
        (dict(weights=[0.2, 0.3, 0.5]), r"^weights: must have K = 2 entries"),
        (dict(weights=[np.nan, 0.5]), r"^weights: must be finite"),
    ],
    ids=[
        "means-nan",
        "means-inf",
        "means-1d",
        "means-no-coords",
        "var-negative",
        "var-zero",
        "var-scalar-zero",
        "var-nan",
        "var-1d-wrong-length",
        "var-2d-wrong-shape",
        "var-3d",
        "weights-sum",
        "weights-negative",
        "weights-length",
        "weights-nan",
    ],
)
def test_constructor_rejects(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        UniformBoxMixture(**{**GOOD, **kwargs})


@pytest.mark.parametrize("method", ["logpdf", "score", "responsibilities", "hessian"])
@pytest.mark.parametrize("t", [0.0, -1.0], ids=["t-zero", "t-negative"])
def test_density_methods_need_positive_t(method, t):
    with pytest.raises(ValueError, match=r"^t: must be > 0"):
        getattr(UniformBoxMixture(**GOOD), method)(np.zeros((1, 2)), t)


@pytest.mark.parametrize(
    "x, msg",
    [
        (np.zeros(2), r"^x: must have 2 dimension"),  # a (d,) vector is not promoted
        (np.zeros((3, 3)), r"^x: must have d = 2 columns"),
        (np.zeros((0, 2)), r"^x: must contain at least one point"),
        (np.array([[0.0, np.nan]]), r"^x: must be finite"),
        (np.array([[np.inf, 0.0]]), r"^x: must be finite"),
    ],
    ids=["x-1d", "x-wrong-d", "x-empty", "x-nan", "x-inf"],
)
def test_query_validation(x, msg):
    with pytest.raises(ValueError, match=msg):
        UniformBoxMixture(**GOOD).score(x, 0.5)


@pytest.mark.parametrize(
    "t, msg", [(np.nan, r"^t: must be finite"), (-0.1, r"^t: must be >= 0")], ids=["t-nan", "t-negative"]
)
def test_sample_and_moments_reject_bad_t(t, msg):
    mix = UniformBoxMixture(**GOOD)
    with pytest.raises(ValueError, match=msg):
        mix.sample(3, 0, t)
    with pytest.raises(ValueError, match=msg):
        mix.moments(t)


@pytest.mark.parametrize(
    "n, rng, msg",
    [(0, 0, r"^n: "), (2.5, 0, r"^n: "), (3, -1, r"^rng: "), (3, "a", r"^rng: ")],
    ids=["n-zero", "n-float", "rng-negative", "rng-str"],
)
def test_sample_rejects_bad_n_and_rng(n, rng, msg):
    with pytest.raises(ValueError, match=msg):
        UniformBoxMixture(**GOOD).sample(n, rng)


# ---- use as the true law in the Loss-Gap and Fisher estimators ----------------------------------------------
def test_works_in_loss_gap_and_fisher_divergence():
    # Smoke test: both estimators only call .score(x, t) and read .d. With the same seed they evaluate the
    # same points; Proposition 4.1 says both estimate the same number, so their 99.9% intervals must overlap
    # (their difference has mean zero; a false failure needs a > ~3.3 sigma deviation).
    mix = _case("K2-d2")
    data = mix.sample(64, np.random.default_rng(0))
    t = 0.1
    gap = loss_gap(data, mix, t, method="mc", n_draws=4000, seed=3, level=0.999)
    fis = fisher_divergence(EmpiricalDistribution(data), mix, t, method="mc", n_draws=4000, seed=3, level=0.999)
    for est in (gap, fis):
        assert np.isfinite(est.value) and est.value > 0 and est.stderr > 0
    assert gap.ci_low <= fis.ci_high and fis.ci_low <= gap.ci_high, f"Loss-Gap {gap} vs Fisher {fis}"


# ---- property test -------------------------------------------------------------------------------------
@st.composite
def box_mixtures(draw, d=st.integers(1, 4), K=st.integers(1, 4)):
    """A valid UniformBoxMixture: means ~ N(0, 2^2), variances log-uniform in [0.1, 3], weights >= 1/(2K)."""
    dd, kk = draw(d), draw(K)
    rng = np.random.default_rng(draw(seeds()))
    w = 0.5 / kk + 0.5 * rng.dirichlet(np.ones(kk))
    return UniformBoxMixture(
        2.0 * rng.standard_normal((kk, dd)),
        np.exp(rng.uniform(np.log(0.1), np.log(3.0), size=(kk, dd))),
        weights=w / w.sum(),
    )


@given(mix=box_mixtures(), t=times(1e-3, 10.0), seed=seeds())
def test_property_score_and_hessian_vs_autograd(mix, t, seed):
    x = _queries(mix, t, m=6, seed=seed % 2**16)
    f = torch_logpdf_fn(mix, t)
    s = _at(t)[1]
    check_close(mix.score(x, t), autograd_score(f, x), 1e-10, f"{mix}, t={t}: score vs autograd", floor=1 / s)
    check_close(mix.hessian(x, t), autograd_hessian(f, x), 1e-9, f"{mix}, t={t}: hessian vs autograd", floor=1 / s**2)
