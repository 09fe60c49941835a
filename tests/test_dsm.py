"""Denoising score-matching losses (theory.dsm): closed forms, quadrature vs Monte Carlo, seeds.

Closed forms used as references (hand derivations, x = alpha_t x_i + sigma_t z, z ~ N(0, I_d),
DSM target A = -z / sigma_t):
  * zero score:      Lhat_t(0) = E||z||^2 / sigma_t^2 = d / sigma_t^2, for any data;
  * n = 1, empirical score: grad log phat_t(x) = -(x - alpha_t x_1) / sigma_t^2 = -z / sigma_t = A,
    so Lhat_t = 0 identically;
  * linear score s(x) = -x / v: A - s(x) = z (sigma_t / v - 1 / sigma_t) + alpha_t x_i / v, the
    cross term has mean 0, so Lhat_t = d (sigma_t / v - 1 / sigma_t)^2 + alpha_t^2 mean_i ||x_i||^2 / v^2;
  * integrated zero score: int_{t0}^{T} d / (1 - e^{-t}) dt = d [log(e^t - 1)]_{t0}^{T}
    (d/dt log(e^t - 1) = e^t / (e^t - 1) = 1 / (1 - e^{-t})).
Quadrature of these polynomial-in-z integrands is exact up to rounding (rtol 1e-12). Monte-Carlo
checks use the 99.9% normal interval: each such assertion has a false-failure rate of about 1e-3
for a correct implementation (CLT; the seeds are fixed, so a given run is deterministic).
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import check_scalar
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from memsep import theory
from memsep.theory import (
    EmpiricalDistribution,
    GaussianMixture,
    dsm_loss,
    dsm_loss_difference,
    dsm_loss_integrated,
    noise_draws,
)
from memsep.theory.forward import alpha, sigma2
from memsep.verify.strategies import times

MC_LEVEL = 0.999  # false-failure rate ~1e-3 per Monte-Carlo interval check


def zero_score(x, t):
    return np.zeros_like(x)


def linear_score(v):
    return lambda x, t: -x / v


def linear_closed_form(data: np.ndarray, t: float, v: float) -> float:
    """Lhat_t(-x/v) = d (sigma/v - 1/sigma)^2 + alpha^2 mean_i ||x_i||^2 / v^2 (module docstring)."""
    a, s = alpha(t), np.sqrt(sigma2(t))
    d = data.shape[1]
    return d * (s / v - 1.0 / s) ** 2 + a * a * float(np.mean(np.einsum("nd,nd->n", data, data))) / v**2


def check_in_interval(case: str, relation: str, est, ref: float):
    assert est.ci_low <= ref <= est.ci_high, (
        f"{case}: {relation}: reference {ref!r} outside {est.level:.3%} interval {est.ci} "
        f"(value {est.value!r}, z = {(est.value - ref) / est.stderr:.2f})"
    )


def _data(n, d, seed, scale=1.5):
    return np.random.default_rng(seed).normal(scale=scale, size=(n, d))


# ---- closed forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("t", [1e-3, 0.1, 2.0])
def test_single_point_empirical_score_has_zero_loss(d, t):
    data = _data(1, d, seed=11, scale=3.0)
    est = dsm_loss(data, EmpiricalDistribution(data).score, t, method="quadrature")
    # The integrand is |A - A|^2 up to rounding of alpha x_1 + sigma z - alpha x_1, so the
    # value is ~(eps ||x_1|| / sigma^2)^2; compare with the natural scale d / sigma^2.
    # (converged is not asserted: the relative stopping rule cannot be met by pure rounding noise.)
    assert 0.0 <= est.value <= 1e-12 * d / sigma2(t), f"d={d} t={t}: Lhat_t(emp score, n=1) = {est.value!r}"


ZERO_CASES = [(1, 1, 1e-3), (5, 1, 0.5), (7, 2, 1e-2), (3, 2, 1.0), (4, 2, 8.0)]


@pytest.mark.parametrize("n, d, t", ZERO_CASES)
def test_zero_score_loss_is_d_over_sigma2_by_quadrature(n, d, t):
    est = dsm_loss(_data(n, d, seed=n + d), zero_score, t, method="quadrature")
    assert est.converged
    check_scalar(f"n={n} d={d} t={t}", "Lhat_t(0) = d/sigma_t^2", est.value, d / sigma2(t), rtol=1e-12)


@pytest.mark.parametrize("n, d, t", ZERO_CASES + [(20, 5, 0.3)])
def test_zero_score_loss_by_monte_carlo_inside_interval(n, d, t):
    data = _data(n, d, seed=n + d)
    est = dsm_loss(data, zero_score, t, method="mc", n_draws=4000, seed=100 + n, level=MC_LEVEL)
    assert est.method == "mc" and est.n_draws == 4000 and est.seed == 100 + n
    check_in_interval(f"n={n} d={d} t={t}", "Lhat_t(0) = d/sigma_t^2", est, d / sigma2(t))
    # Naive definition: the same draws (noise_draws with the same seed), explicit mean.
    _, z = noise_draws(n, d, 4000, 100 + n)
    check_scalar(
        f"n={n} d={d} t={t}",
        "MC value = mean ||z||^2/sigma^2",
        est.value,
        float(np.mean(np.sum(z**2, axis=1))) / sigma2(t),
        rtol=1e-13,
    )


@st.composite
def small_datasets(draw, d=st.integers(1, 2), n=st.integers(1, 8)):
    """(n, d) data with entries N(0, 2^2), built from a drawn seed."""
    return _data(draw(n), draw(d), seed=draw(st.integers(0, 2**32 - 1)), scale=2.0)


@given(small_datasets(), times(1e-3, 10.0))
def test_zero_score_closed_form_for_any_data(data, t):
    est = dsm_loss(data, zero_score, t, method="quadrature")
    check_scalar(
        f"data {data.shape} t={t}", "Lhat_t(0) = d/sigma_t^2", est.value, data.shape[1] / sigma2(t), rtol=1e-12
    )


LINEAR_CASES = [(1, 4, 0.01, 1.0), (1, 3, 0.5, 0.3), (2, 6, 0.05, 2.0), (2, 2, 3.0, 0.7)]


@pytest.mark.parametrize("d, n, t, v", LINEAR_CASES)
def test_linear_score_closed_form(d, n, t, v):
    data = _data(n, d, seed=7 * n + d)
    ref = linear_closed_form(data, t, v)
    case = f"d={d} n={n} t={t} v={v}"
    quad = dsm_loss(data, linear_score(v), t, method="quadrature")
    assert quad.converged
    check_scalar(case, "Lhat_t(-x/v) closed form (quadrature)", quad.value, ref, rtol=1e-12)
    mc = dsm_loss(data, linear_score(v), t, method="mc", n_draws=5000, seed=21, level=MC_LEVEL)
    check_in_interval(case, "Lhat_t(-x/v) closed form (MC)", mc, ref)


@given(small_datasets(), times(1e-2, 5.0), st.floats(0.2, 3.0))
def test_linear_score_closed_form_property(data, t, v):
    est = dsm_loss(data, linear_score(v), t, method="quadrature")
    check_scalar(
        f"data {data.shape} t={t} v={v}",
        "Lhat_t(-x/v) closed form",
        est.value,
        linear_closed_form(data, t, v),
        rtol=1e-11,
    )


def test_nonlinear_score_matches_per_point_scipy_quad():
    # Naive definition: (1/n) sum_i int phi(z) (-z/sigma - s(alpha x_i + sigma z))^2 dz with an
    # explicit loop over data points and scipy's adaptive quadrature (epsrel 1e-13).
    t = 0.2
    a, s = alpha(t), np.sqrt(sigma2(t))
    data = np.array([[-1.3], [0.2], [2.1]])
    score = lambda x, t_: -np.sin(x) - 0.5 * x  # noqa: E731
    ref = np.mean(
        [
            integrate.quad(
                lambda z, xi=xi: stats.norm.pdf(z) * (-z / s - score(a * xi + s * z, t)) ** 2,
                -np.inf,
                np.inf,
                epsabs=0,
                epsrel=1e-13,
                limit=400,
            )[0]
            for xi in data[:, 0]
        ]
    )
    est = dsm_loss(data, score, t, method="quadrature")
    assert est.converged
    check_scalar("1-D, n=3, s=-sin x - x/2", "Lhat_t vs per-point scipy quad", est.value, ref, rtol=1e-10)


# ---- integrated loss ---------------------------------------------------------------------------


def integrated_zero_closed_form(d, t0, T):
    return d * (np.log(np.expm1(T)) - np.log(np.expm1(t0)))


@pytest.mark.parametrize("d, t0, T, n_times", [(1, 1e-3, 10.0, 16), (2, 1e-2, 8.0, 16), (2, 1e-3, 20.0, 32)])
def test_integrated_zero_score_closed_form_by_quadrature(d, t0, T, n_times):
    data = _data(3, d, seed=4)
    est = dsm_loss_integrated(data, zero_score, t0, T, n_times=n_times, method="quadrature")
    ref = integrated_zero_closed_form(d, t0, T)
    case = f"d={d} [{t0}, {T}] n_times={n_times}"
    assert est.method == "quadrature+gauss-legendre(log t)" and est.converged and est.seed is None
    check_scalar(case, "int d/sigma_t^2 dt = d [log(e^t - 1)]", est.value, ref, rtol=1e-6)
    # The reported error (|I(n) - I(n/2)| + node errors) covers the actual error.
    assert abs(est.value - ref) <= est.error, f"{case}: error estimate {est.error} below actual {abs(est.value - ref)}"


def test_integrated_zero_score_by_monte_carlo_inside_interval():
    d, t0, T = 2, 1e-2, 8.0
    est = dsm_loss_integrated(_data(5, d, seed=8), zero_score, t0, T, method="mc", n_draws=2000, seed=3, level=MC_LEVEL)
    assert est.method == "mc+gauss-legendre(log t)" and est.seed == 3 and est.stderr > 0
    check_in_interval(f"d={d} [{t0}, {T}]", "int d/sigma_t^2 dt (MC)", est, integrated_zero_closed_form(d, t0, T))


def test_integrated_loss_monte_carlo_is_reproducible_and_seed_dependent():
    data = _data(4, 1, seed=9)
    kw = dict(method="mc", n_draws=500, n_times=4)
    a = dsm_loss_integrated(data, linear_score(0.5), 0.01, 4.0, seed=1, **kw)
    b = dsm_loss_integrated(data, linear_score(0.5), 0.01, 4.0, seed=1, **kw)
    c = dsm_loss_integrated(data, linear_score(0.5), 0.01, 4.0, seed=2, **kw)
    assert a == b
    assert a.value != c.value


# ---- paired differences ------------------------------------------------------------------------


@pytest.fixture
def mixture_and_data():
    mix = GaussianMixture.isotropic([0.4, 0.6], [[-1.0, 0.5], [1.2, -0.3]], [0.5, 0.9])
    return mix, mix.sample(6, np.random.default_rng(31))


@pytest.mark.parametrize("t", [0.05, 0.5])
def test_loss_difference_equals_difference_of_losses_by_quadrature(mixture_and_data, t):
    mix, data = mixture_and_data
    sa, sb = mix.score, linear_score(0.8)
    diff = dsm_loss_difference(data, sa, sb, t, method="quadrature")
    la = dsm_loss(data, sa, t, method="quadrature")
    lb = dsm_loss(data, sb, t, method="quadrature")
    assert diff.converged and la.converged and lb.converged
    check_scalar(f"t={t}", "Lhat(a) - Lhat(b) paired vs unpaired", diff.value, la.value - lb.value, rtol=1e-9)
    back = dsm_loss_difference(data, sb, sa, t, method="quadrature")
    check_scalar(f"t={t}", "antisymmetry diff(a, b) = -diff(b, a)", back.value, -diff.value, rtol=1e-12)


def test_loss_difference_monte_carlo_uses_common_random_numbers(mixture_and_data):
    mix, data = mixture_and_data
    t, kw = 0.1, dict(method="mc", n_draws=3000, seed=17)
    sa, sb = mix.score, linear_score(0.8)
    diff = dsm_loss_difference(data, sa, sb, t, **kw)
    la, lb = dsm_loss(data, sa, t, **kw), dsm_loss(data, sb, t, **kw)
    # Same seed -> same draws: the paired mean equals the difference of the two means up to
    # rounding of the per-draw algebra (relative to the size of the losses themselves).
    assert abs(diff.value - (la.value - lb.value)) <= 1e-12 * (la.value + lb.value)
    back = dsm_loss_difference(data, sb, sa, t, **kw)
    assert abs(back.value + diff.value) <= 1e-12 * (la.value + lb.value)
    assert back.stderr == pytest.approx(diff.stderr, rel=1e-12)


# ---- quadrature vs Monte Carlo -------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.02, 0.3])
def test_quadrature_value_inside_monte_carlo_interval(mixture_and_data, t):
    mix, data = mixture_and_data
    quad = dsm_loss(data, mix.score, t, method="quadrature")
    mc = dsm_loss(data, mix.score, t, method="mc", n_draws=20000, seed=41, level=MC_LEVEL)
    check_in_interval(f"t={t}", "Lhat_t(true score): quadrature vs MC", mc, quad.value)
    qd = dsm_loss_difference(data, mix.score, linear_score(0.8), t, method="quadrature")
    md = dsm_loss_difference(data, mix.score, linear_score(0.8), t, method="mc", n_draws=20000, seed=42, level=MC_LEVEL)
    check_in_interval(f"t={t}", "Lhat_t(a) - Lhat_t(b): quadrature vs MC", md, qd.value)


# ---- seeds, method selection, chunking -----------------------------------------------------------


def test_monte_carlo_reproducible_for_fixed_seed_and_changes_with_seed():
    data = _data(10, 3, seed=2)
    emp = EmpiricalDistribution(data)
    a = dsm_loss(data, emp.score, 0.2, method="mc", n_draws=2000, seed=5, keep_samples=True)
    b = dsm_loss(data, emp.score, 0.2, method="mc", n_draws=2000, seed=5, keep_samples=True)
    c = dsm_loss(data, emp.score, 0.2, method="mc", n_draws=2000, seed=6, keep_samples=True)
    assert a == b and np.array_equal(a.samples, b.samples)
    assert a.value != c.value and not np.array_equal(a.samples, c.samples)


@pytest.mark.parametrize(
    "d, n, expected",
    [
        (1, 1, "quadrature"),
        (1, 256, "quadrature"),
        (2, 256, "quadrature"),
        (1, 257, "mc"),
        (2, 300, "mc"),
        (3, 1, "mc"),
        (5, 10, "mc"),
    ],
)
def test_auto_method_selection(d, n, expected):
    est = dsm_loss(_data(n, d, seed=n), zero_score, 0.5, method="auto", n_draws=200)
    assert est.method == expected, f"d={d} n={n}: auto chose {est.method}, expected {expected}"
    diff = dsm_loss_difference(_data(n, d, seed=n), zero_score, linear_score(1.0), 0.5, n_draws=200)
    assert diff.method == expected


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_monte_carlo_does_not_depend_on_chunk_size(monkeypatch, chunk):
    data = _data(12, 2, seed=6)
    emp = EmpiricalDistribution(data)
    kw = dict(method="mc", n_draws=3001, seed=13, keep_samples=True)
    ref_lin = dsm_loss(data, linear_score(0.6), 0.2, **kw)
    ref_emp = dsm_loss(data, emp.score, 0.2, **kw)
    monkeypatch.setattr(theory.dsm, "MC_CHUNK", chunk)
    lin = dsm_loss(data, linear_score(0.6), 0.2, **kw)
    got_emp = dsm_loss(data, emp.score, 0.2, **kw)
    # An elementwise score gives bit-identical terms; the empirical score goes through BLAS
    # matrix products whose blocking may depend on the row count, so allow rounding.
    np.testing.assert_array_equal(lin.samples, ref_lin.samples)
    np.testing.assert_allclose(got_emp.samples, ref_emp.samples, rtol=1e-12, atol=1e-12 * ref_emp.value)
    assert got_emp.value == pytest.approx(ref_emp.value, rel=1e-13)


# ---- input validation ----------------------------------------------------------------------------


def test_invalid_inputs_raise():
    data3 = _data(3, 3, seed=0)
    data1 = _data(3, 1, seed=0)
    with pytest.raises(ValueError, match="d <= 2"):
        dsm_loss(data3, zero_score, 0.1, method="quadrature")
    with pytest.raises(ValueError, match="method"):
        dsm_loss(data1, zero_score, 0.1, method="simpson")
    for bad_seed in (-1, 1.5, True, None):
        with pytest.raises(ValueError, match="seed"):
            dsm_loss(data1, zero_score, 0.1, method="mc", n_draws=10, seed=bad_seed)
    with pytest.raises(ValueError, match="score"):
        dsm_loss(data1, lambda x, t: x[:, :0], 0.1)
    with pytest.raises(FloatingPointError):
        dsm_loss(data1, lambda x, t: x * np.nan, 0.1)
    with pytest.raises(ValueError, match="t"):
        dsm_loss(data1, zero_score, 0.0)
    with pytest.raises(ValueError, match="T"):
        dsm_loss_integrated(data1, zero_score, 1.0, 0.5)
