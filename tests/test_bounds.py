"""theory.bounds: B_t, the leading-order G_t (derived in this project) and the explicit regime of Theorem 4.3."""

from __future__ import annotations

import numpy as np
import pytest

from memsep.theory import GaussianMixture, alpha, sigma, sigma2
from memsep.theory.bounds import (
    RegimeConstants,
    bound_form,
    leading_order_gap,
    regime_check,
    regime_check_dist,
    regime_times,
)


@pytest.mark.parametrize("d", [1, 4, 32])
@pytest.mark.parametrize("t", [1e-6, 1e-3, 0.1, 1.0, 10.0])
def test_leading_order_gap_for_identity_is_d_over_expm1(d, t):
    # Closed form (hand derivation): d/sigma^2 - d/(alpha^2 + sigma^2) = d (1 - sigma^2)/sigma^2 = d / (e^t - 1).
    assert leading_order_gap(t, np.eye(d)) == pytest.approx(d / np.expm1(t), rel=1e-12)
    assert bound_form(t, np.eye(d)) == pytest.approx(d / sigma2(t) + d, rel=1e-14)


def test_leading_order_gap_matches_its_definition_by_monte_carlo():
    # G_t := E || z/sigma - C^{-1}(x - alpha mu) ||^2 with x - alpha mu = alpha Sigma^(1/2) xi + sigma z.
    rng = np.random.default_rng(5)
    d, t = 6, 0.3
    A = rng.standard_normal((d, d))
    S = A @ A.T / d + 0.2 * np.eye(d)
    a, s = alpha(t), sigma(t)
    C = a * a * S + s * s * np.eye(d)
    N = 200_000
    xi = rng.standard_normal((N, d)) @ np.linalg.cholesky(S).T
    z = rng.standard_normal((N, d))
    v = z / s - np.linalg.solve(C, (a * xi + s * z).T).T
    terms = np.einsum("nd,nd->n", v, v)
    mean, se = terms.mean(), terms.std(ddof=1) / np.sqrt(N)
    # |z| < 5: false-failure rate 6e-7 under the CLT.
    assert abs(mean - leading_order_gap(t, S)) < 5 * se


def test_multi_component_forms_average_over_weights():
    S = np.stack([np.eye(3), 2 * np.eye(3)])
    w = np.array([0.25, 0.75])
    t = 0.2
    assert bound_form(t, S, w) == pytest.approx(3 / sigma2(t) + 0.25 * 3 + 0.75 * 6)
    expected = 3 / sigma2(t) - (0.25 * 3 / (alpha(t) ** 2 + sigma2(t)) + 0.75 * 3 / (2 * alpha(t) ** 2 + sigma2(t)))
    assert leading_order_gap(t, S, w) == pytest.approx(expected, rel=1e-13)


def _inside():
    rng = np.random.default_rng(0)
    d = 32
    mix = GaussianMixture.isotropic(np.full(8, 1 / 8), 2 * rng.standard_normal((8, d)), 1.0)
    return mix, 1000, 0.01


def test_figure3_setting_is_inside_the_regime():
    mix, n, t = _inside()
    rep = regime_check_dist(mix, n, t)
    assert rep.inside, rep.summary()
    assert rep.summary() == "inside"


@pytest.mark.parametrize(
    "name, change",
    [
        ("separation", lambda mu, S, n, t: (0.01 * mu, S, n, t)),
        ("max ||mu_k||", lambda mu, S, n, t: (100 * mu, S, n, t)),
        ("||Sigma||_2", lambda mu, S, n, t: (mu, 9 * S, n, t)),
        ("shared Sigma", lambda mu, S, n, t: (mu, np.stack([S[0]] * 7 + [2 * S[0]]), n, t)),
        ("lambda_min(Sigma)", lambda mu, S, n, t: (mu, 0.01 * S, n, t)),
        (
            "log n",
            lambda mu, S, n, t: (
                mu[:, :2] * 0 + np.array([[3.0 * k, 0.0] for k in range(8)]),
                S[:, :2, :2],
                10**4,
                0.01,
            ),
        ),
        ("sigma_t <= d^(-c6)", lambda mu, S, n, t: (mu, S, n, 2.0)),
        ("sigma_t >= exp(-c5 d)", lambda mu, S, n, t: (mu, S, n, 1e-30)),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_each_condition_fails_alone(name, change):
    mix, n, t = _inside()
    mu, S, n2, t2 = change(mix.means, mix.covs, n, t)
    rep = regime_check(mu, S, n2, t2)
    assert not rep.inside
    assert any(name in f for f in rep.failing), rep.failing


def test_regime_times_match_the_sigma_conditions():
    c = RegimeConstants()
    for d in (4, 32, 128):
        t0, t1 = regime_times(d, c)
        assert sigma(t1) == pytest.approx(d**-c.c6, rel=1e-12)
        assert sigma(t0) == pytest.approx(np.exp(-c.c5 * d), rel=1e-9)


def test_c7_zero_recovers_the_restated_regime():
    mix, n, t = _inside()
    assert not regime_check(mix.means, 0.001 * mix.covs, n, t).inside
    assert regime_check(mix.means, 0.001 * mix.covs, n, t, RegimeConstants(c7=0.0)).inside


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bound_form(0.0, np.eye(2)), r"^t: must be > 0"),
        (lambda: bound_form(0.1, np.ones((2, 3))), r"^Sigma: must have shape"),
        (lambda: regime_check(np.zeros((2, 3)), np.eye(2), 10, 0.1), r"^Sigma: must be 3 x 3"),
        (lambda: regime_check(np.zeros((2, 3)), np.eye(3), 1, 0.1), r"^n: must be an integer >= 2"),
        (lambda: regime_check_dist("mixture", 10, 0.1), r"^dist: must have .means and .covs"),
        (lambda: regime_times(0), r"^d: must be an integer >= 1"),
    ],
    ids=["t-zero", "sigma-shape", "sigma-d", "n-one", "dist-type", "d-zero"],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
