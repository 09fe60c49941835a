"""Gauss-Hermite rules and adaptive expectations under Gaussian mixtures (theory.quadrature).

Reference values and their provenance:
  * standard-normal moments E z^(2m) = (2m - 1)!!, odd moments 0 (textbook closed form);
  * the 1-D rule against numpy's independent ``hermegauss`` (weights / sqrt(2 pi));
  * Gaussian closed forms E||x||^2 = ||m||^2 + tr C, E exp(a.x) = exp(a.m + a^T C a / 2),
    E cos(a.x) = cos(a.m) exp(-a^T C a / 2) (moment / characteristic functions);
  * a non-polynomial 1-D integrand against scipy.integrate.quad (epsrel 1e-13).
Polynomial cases are exact up to rounding, so they use rtol ~1e-13; smooth analytic
integrands converge to the requested rtol = 1e-11 and are checked at 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import check_scalar
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate, stats
from scipy.special import expit, factorial2

from memsep.theory.quadrature import ORDERS, GaussianComponents, expectation, gauss_hermite


def normal_moment(k: int) -> float:
    """E z^k for z ~ N(0, 1): (k - 1)!! for even k, 0 for odd k."""
    if k % 2:
        return 0.0
    return 1.0 if k == 0 else float(factorial2(k - 1))


def check_rule_moment(case: str, z: np.ndarray, w: np.ndarray, powers: tuple[int, ...], rtol: float):
    """sum_j w_j prod_c z_jc^p_c == prod_c E z^p_c, relative to the rule's sum of |terms|."""
    mono = np.prod([z[:, c] ** p for c, p in enumerate(powers)], axis=0)
    got = float(w @ mono)
    ref = float(np.prod([normal_moment(p) for p in powers]))
    scale = float(w @ np.abs(mono))
    assert abs(got - ref) <= rtol * scale, f"{case}: E prod z^{powers} = {got!r}, closed form {ref!r}"


# ---- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("q", [1, 2, 3, 5, 8, 16, 32])
def test_1d_rule_matches_numpy_hermegauss(q):
    # numpy's hermegauss is an independent implementation (Golub-Welsch on a different
    # recurrence); its weights integrate against exp(-z^2/2), so divide by sqrt(2 pi).
    z_ref, w_ref = hermegauss(q)
    z, w = gauss_hermite(q, 1)
    order = np.argsort(z[:, 0])
    np.testing.assert_allclose(z[order, 0], z_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w[order], w_ref / np.sqrt(2 * np.pi), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("q", [1, 2, 3, 5, 8, 16, 20, 32])
def test_1d_rule_exact_for_all_monomials_up_to_degree_2q_minus_1(q):
    # For q <= 32 no node is pruned (smallest/largest weight ~2e-22 at q = 32), so the
    # textbook exactness statement applies in full.
    z, w = gauss_hermite(q, 1)
    assert z.shape == (q, 1)
    for k in range(2 * q):
        check_rule_moment(f"q={q}", z, w, (k,), rtol=1e-13)


@pytest.mark.parametrize("q", [1, 2, 4, 8, 16])
def test_2d_tensor_rule_exact_for_mixed_moments(q):
    # Unpruned 2-D rules (q <= 16) are exact for z1^a z2^b with a, b <= 2q - 1.
    z, w = gauss_hermite(q, 2)
    assert z.shape == (q * q, 2)
    for a in range(2 * q):
        for b in range(2 * q):
            check_rule_moment(f"q={q}", z, w, (a, b), rtol=1e-13)


def test_2d_rule_is_the_outer_product_of_1d_rules():
    # Naive tensor construction, explicit double loop.
    q = 6
    z1, w1 = gauss_hermite(q, 1)
    z, w = gauss_hermite(q, 2)
    j = 0
    for i1 in range(q):
        for i2 in range(q):
            np.testing.assert_array_equal(z[j], [z1[i1, 0], z1[i2, 0]])
            assert w[j] == pytest.approx(w1[i1] * w1[i2], rel=1e-15)
            j += 1


@pytest.mark.parametrize("d", [1, 2])
def test_low_degree_moments_exact_at_every_scheduled_order(d):
    # The orders the adaptive scheme actually uses prune nodes of weight < 1e-30 of the
    # largest; that must not affect the low-degree moments the DSM/Fisher integrands need
    # (E z^2 = 1, E z^4 = 3, E z1^2 z2^2 = 1, ..., total degree <= 8).
    lo, hi = ORDERS[d]
    q = lo
    while q <= hi:
        z, w = gauss_hermite(q, d)
        assert z.shape[0] <= q**d
        assert np.all(w > 0)
        check_scalar(f"d={d} q={q}", "sum of weights", float(w.sum()), 1.0, rtol=1e-14)
        for powers in np.ndindex(*([9] * d)):
            if sum(powers) <= 8:
                check_rule_moment(f"d={d} q={q}", z, w, powers, rtol=1e-13)
        q *= 2


@pytest.mark.parametrize("q, d", [(1, 1), (7, 1), (64, 1), (3, 2), (16, 2), (32, 2)])
def test_rule_weights_sum_to_one_and_nodes_are_symmetric(q, d):
    z, w = gauss_hermite(q, d)
    assert abs(w.sum() - 1.0) <= 1e-14
    # The rule is symmetric under z -> -z: the sorted node sets coincide.
    key = np.lexsort(z.T[::-1])
    key_neg = np.lexsort((-z).T[::-1])
    np.testing.assert_allclose(z[key], -z[key_neg], atol=1e-13)
    assert not z.flags.writeable and not w.flags.writeable


# ---- expectation(): closed forms ---------------------------------------------------------------


def _components(form: str, K: int, d: int, seed: int) -> GaussianComponents:
    rng = np.random.default_rng(seed)
    w = 0.5 / K + 0.5 * rng.dirichlet(np.ones(K))
    w /= w.sum()
    m = rng.normal(scale=1.5, size=(K, d))
    if form == "scale":
        return GaussianComponents(w, m, scale=float(rng.uniform(0.3, 1.5)))
    a = rng.normal(size=(K, d, d))
    chol = np.linalg.cholesky(np.einsum("kij,klj->kil", a, a) + 0.3 * np.eye(d))
    return GaussianComponents(w, m, chol=chol)


def _covs(c: GaussianComponents) -> np.ndarray:
    K, d = c.means.shape
    if c.chol is None:
        return np.broadcast_to(c.scale**2 * np.eye(d), (K, d, d))
    return np.einsum("kij,klj->kil", c.chol, c.chol)


def _a(d):
    return np.array([0.7, -0.4])[:d]


def _quad_form(c: GaussianComponents, C: np.ndarray) -> np.ndarray:
    """a^T C_k a per component: (K,)."""
    a = _a(c.d)
    return np.einsum("i,kij,j->k", a, C, a)


# name -> (f(x) on (N, d) points, closed form E f under the component list); see module docstring.
FUNCTIONS = {
    "||x||^2": (
        lambda x: np.einsum("nd,nd->n", x, x),
        lambda c, C: float(c.weights @ (np.einsum("kd,kd->k", c.means, c.means) + np.trace(C, axis1=1, axis2=2))),
    ),
    "exp(a.x)": (
        lambda x: np.exp(x @ _a(x.shape[1])),
        lambda c, C: float(c.weights @ np.exp(c.means @ _a(c.d) + 0.5 * _quad_form(c, C))),
    ),
    "cos(a.x)": (
        lambda x: np.cos(x @ _a(x.shape[1])),
        lambda c, C: float(c.weights @ (np.cos(c.means @ _a(c.d)) * np.exp(-0.5 * _quad_form(c, C)))),
    ),
    "x_1 x_d": (
        lambda x: x[:, 0] * x[:, -1],
        lambda c, C: float(c.weights @ (c.means[:, 0] * c.means[:, -1] + C[:, 0, -1])),
    ),
}


@pytest.mark.parametrize("fname", list(FUNCTIONS))
@pytest.mark.parametrize(
    "form, K, d", [("scale", 1, 1), ("scale", 3, 2), ("chol", 1, 1), ("chol", 1, 2), ("chol", 4, 2), ("scale", 5, 1)]
)
def test_expectation_matches_gaussian_closed_forms(fname, form, K, d):
    comps = _components(form, K, d, seed=10 * K + d)
    f, closed = FUNCTIONS[fname]
    est = expectation(comps, lambda x, z, k: f(x))
    ref = closed(comps, _covs(comps))
    case = f"{form} K={K} d={d}"
    assert est.method == "quadrature" and est.converged, f"{case}: {fname} did not converge: {est!r}"
    assert est.stderr == 0.0 and est.level is None and est.seed is None
    check_scalar(case, f"E {fname}", est.value, ref, rtol=1e-10, atol=1e-13)
    # The reported error is an upper bound on the actual one here (plus rounding slack).
    assert abs(est.value - ref) <= est.error + 1e-13 * abs(ref), f"{case}: error estimate {est.error} too small"


@st.composite
def gaussian_components(draw, d=st.integers(1, 2), K=st.integers(1, 4)):
    """A valid GaussianComponents: weights summing to one, bounded means, scale or chol form."""
    form = draw(st.sampled_from(["scale", "chol"]))
    return _components(form, draw(K), draw(d), seed=draw(st.integers(0, 2**32 - 1)))


@given(gaussian_components())
@example(GaussianComponents(np.array([1.0]), np.zeros((1, 1)), scale=1.0))
def test_second_moment_closed_form_for_random_components(comps):
    f, closed = FUNCTIONS["||x||^2"]
    est = expectation(comps, lambda x, z, k: f(x))
    assert est.converged
    check_scalar(
        repr(comps), "E||x||^2 = sum_k w_k (||m_k||^2 + tr C_k)", est.value, closed(comps, _covs(comps)), rtol=1e-12
    )


@pytest.mark.parametrize("form", ["scale", "chol"])
def test_integrand_receives_consistent_points_nodes_and_component_ids(form):
    comps = _components(form, 3, 2, seed=5)
    L = comps.chol if form == "chol" else np.broadcast_to(comps.scale * np.eye(2), (3, 2, 2))
    seen = []

    def f(x, z, k):
        np.testing.assert_allclose(x, comps.means[k] + np.einsum("nij,nj->ni", L[k], z), rtol=0, atol=1e-13)
        seen.append(np.unique(k))
        return z[:, 0] ** 2 + z[:, 1] ** 2  # E ||z||^2 = d

    est = expectation(comps, f)
    assert est.value == pytest.approx(2.0, rel=1e-13)
    assert set(np.concatenate(seen)) == {0, 1, 2}


def test_expectation_does_not_depend_on_batching():
    comps = _components("chol", 5, 2, seed=3)
    f = lambda x, z, k: np.cos(x @ _a(2)) + 0.1 * k  # noqa: E731
    big = expectation(comps, f)
    small = expectation(comps, f, max_rows=1)  # one component per batch
    assert small.value == pytest.approx(big.value, rel=1e-14)
    assert small.n_draws == big.n_draws


def test_d3_raises_value_error():
    comps = GaussianComponents(np.ones(1), np.zeros((1, 3)), scale=1.0)
    with pytest.raises(ValueError, match="d <= 2"):
        expectation(comps, lambda x, z, k: np.ones(x.shape[0]))


def test_non_finite_integrand_raises():
    comps = GaussianComponents(np.ones(1), np.zeros((1, 1)), scale=1.0)
    with pytest.raises(FloatingPointError):
        expectation(comps, lambda x, z, k: np.full(x.shape[0], np.nan))


# ---- 1-D against scipy.integrate.quad ----------------------------------------------------------


def test_1d_mixture_expectation_matches_scipy_quad():
    # f is analytic but not polynomial (a logistic transition of slope 3 at x = 0.4, times a
    # rational factor); reference: adaptive Gauss-Kronrod per component on (-inf, inf).
    w = np.array([0.2, 0.5, 0.3])
    m = np.array([-1.2, 0.3, 2.0])
    s = np.array([0.5, 1.1, 0.7])
    f = lambda x: expit(3.0 * (x - 0.4)) / (1.0 + 0.2 * x**2)  # noqa: E731
    ref = sum(
        wk
        * integrate.quad(
            lambda x, mk=mk, sk=sk: f(x) * stats.norm.pdf(x, mk, sk), -np.inf, np.inf, epsabs=0, epsrel=1e-13, limit=400
        )[0]
        for wk, mk, sk in zip(w, m, s)
    )
    comps = GaussianComponents(w, m[:, None], chol=s[:, None, None])
    est = expectation(comps, lambda x, z, k: f(x[:, 0]))
    assert est.converged
    check_scalar("3-component 1-D mixture", "E f vs scipy quad", est.value, ref, rtol=1e-10)


# ---- convergence flag and error estimate -------------------------------------------------------


def test_smooth_integrand_converges_quickly_and_counts_evaluations():
    comps = GaussianComponents(np.array([0.4, 0.6]), np.array([[0.0], [1.0]]), scale=0.8)
    est = expectation(comps, lambda x, z, k: x[:, 0] ** 2)
    # Degree-2 integrand: the first two rules (q0 = 32, 2 q0 = 64) agree to rounding, so
    # exactly those two rules are evaluated, once per component.
    q0 = ORDERS[1][0]
    assert est.converged
    assert est.n_draws == 2 * (gauss_hermite(q0, 1)[0].shape[0] + gauss_hermite(2 * q0, 1)[0].shape[0])
    assert 0 <= est.error <= 1e-11 * abs(est.value)
    assert est.ci == (est.value - est.error, est.value + est.error)


def test_sharp_integrand_is_flagged_not_converged():
    # tanh(50 x) under N(0.3, 1): poles at distance pi/100 from the real axis, far beyond
    # what a 64-point rule resolves. Reference by scipy quad with a break point at 0.
    comps = GaussianComponents(np.ones(1), np.array([[0.3]]), scale=1.0)
    f = lambda x, z, k: np.tanh(50.0 * x[:, 0])  # noqa: E731
    ref = integrate.quad(
        lambda x: np.tanh(50.0 * x) * stats.norm.pdf(x, 0.3, 1.0),
        -12,
        12,
        points=[0.0],
        epsabs=1e-15,
        epsrel=1e-13,
        limit=400,
    )[0]
    est = expectation(comps, f, q_max=64)
    assert est.converged is False
    assert est.error > 1e-3  # the estimate is visibly uncertain
    assert abs(est.value - ref) > 1e-11  # and genuinely inaccurate
    # With the order schedule allowed to grow, the same smooth-but-steep-at-scale integrand
    # tanh(5 x) does converge and is then accurate.
    f5 = lambda x, z, k: np.tanh(5.0 * x[:, 0])  # noqa: E731
    ref5 = integrate.quad(
        lambda x: np.tanh(5.0 * x) * stats.norm.pdf(x, 0.3, 1.0),
        -12,
        12,
        points=[0.0],
        epsabs=1e-15,
        epsrel=1e-13,
        limit=400,
    )[0]
    est5 = expectation(comps, f5)
    assert est5.converged
    check_scalar("tanh(5x)", "E f vs scipy quad", est5.value, ref5, rtol=1e-10)
