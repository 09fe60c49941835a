"""sympy derivations of theory.symbolic (claims S1, A1) and their use as numeric references."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from memsep.theory import EmpiricalDistribution, GaussianMixture, alpha, sigma, symbolic


@pytest.mark.parametrize("n", [1, 2, 3])
def test_s1_decomposition_holds_symbolically(n):
    res = symbolic.s1_decomposition(n)
    assert res.extra["kernel_facts_hold"]
    assert res.extra["cross_term_is_zero"]
    assert res.residual == 0
    assert res.holds


@pytest.mark.parametrize("n", [1, 2, 3])
def test_empirical_hessian_identity_holds_symbolically(n):
    assert symbolic.empirical_hessian_identity(n).holds


def test_the_machinery_detects_a_false_identity():
    # Same kernel facts, but a wrong power of sigma in Lemma C.1: must NOT simplify to zero.
    xs, P, T, facts = symbolic._kernel_facts(2)
    a, s = symbolic.alpha_, symbolic.sigma_
    total = sp.Add(*P)
    w = [p / total for p in P]
    mean = sp.Add(*[wi * xi for wi, xi in zip(w, xs)])
    var = sp.Add(*[wi * (xi - mean) ** 2 for wi, xi in zip(w, xs)])
    hess = (
        sp.Add(*[p * (t**2 - 1 / s**2) for p, t in zip(P, T)]) / total
        - (sp.Add(*[p * t for p, t in zip(P, T)]) / total) ** 2
    )
    assert facts
    assert symbolic._is_zero(hess - (-1 / s**2 + a**2 / s**4 * var))
    assert not symbolic._is_zero(hess - (-1 / s**2 + a**2 / s**2 * var))


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("t", [1e-3, 0.3, 5.0])
def test_gaussian_closed_forms_match_the_mixture_class(d, t):
    der = symbolic.gaussian_score_hessian(d)
    assert der.holds
    rng = np.random.default_rng(11 + d)
    mu = rng.standard_normal(d)
    S = np.array([[1.7]]) if d == 1 else np.array([[1.2, -0.3], [-0.3, 0.5]])
    g = GaussianMixture([1.0], mu[None], S[None])
    x = rng.standard_normal((4, d))
    for xi, s_num, h_num in zip(x, g.score(x, t), g.hessian(x, t)):
        s_sym = np.array(der.extra["score_fn"](xi, mu, S, alpha(t), sigma(t)))
        h_sym = np.array(der.extra["hessian_fn"](xi, mu, S, alpha(t), sigma(t)))
        # Reference: sympy's exact expression evaluated in float64; rounding ~1e-15 relative.
        np.testing.assert_allclose(s_num, s_sym, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_num, h_sym, rtol=1e-12, atol=1e-14)


def test_symbolic_empirical_hessian_matches_numeric():
    # The sympy expression for (log phat)'' (n = 3), with phi_i replaced by their values,
    # against EmpiricalDistribution.hessian at the same point.
    der = symbolic.empirical_hessian_identity(3)
    xs, P = der.extra["symbols"]
    pts = np.array([-0.4, 0.1, 0.9])
    t, x0 = 0.05, 0.3
    a, s = alpha(t), sigma(t)
    phis = [np.exp(-((x0 - a * p) ** 2) / (2 * s * s)) / np.sqrt(2 * np.pi * s * s) for p in pts]
    subs = {symbolic.alpha_: a, symbolic.sigma_: s, symbolic.x_: x0, **dict(zip(xs, pts)), **dict(zip(P, phis))}
    expected = float(der.extra["hessian"].subs(subs))
    emp = EmpiricalDistribution(pts[:, None])
    assert float(emp.hessian(np.array([[x0]]), t)[0, 0, 0]) == pytest.approx(expected, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n: must be"):
        symbolic.s1_decomposition(0)
    with pytest.raises(ValueError, match="d: must be 1 or 2"):
        symbolic.gaussian_score_hessian(3)
