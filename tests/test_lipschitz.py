"""theory.lipschitz (claim A2): the bounds and the estimator on hand-made data sets."""

from __future__ import annotations

import numpy as np
import pytest

from memsep.theory import EmpiricalDistribution, GaussianMixture, alpha, sigma2
from memsep.theory.lipschitz import empirical_lipschitz, lipschitz_bounds, search_lipschitz, spectral_norms


@pytest.mark.parametrize("t", [1e-4, 1e-2, 0.3])
def test_two_points_exact_supremum(t):
    # Two points at distance delta in 1-D: log phat'' = -1/s^2 + a^2/s^4 w(1-w) delta^2 with w(1-w) in
    # (0, 1/4], 1/4 at the midpoint and -> 0 far away, so (hand derivation)
    # C_t = max(a^2 delta^2/(4 s^4) - 1/s^2, 1/s^2): the second is the limit |x| -> infinity.
    delta = 1.3
    pts = np.array([[0.0], [delta]])
    a2, s2 = alpha(t) ** 2, sigma2(t)
    exact = max(a2 * delta**2 / (4 * s2 * s2) - 1 / s2, 1 / s2)
    est = empirical_lipschitz(pts, t)
    assert est.value == pytest.approx(exact, rel=1e-9)
    lo, hi = lipschitz_bounds(pts, t)
    assert lo == pytest.approx(-1 / s2 + a2 * delta**2 / (16 * s2 * s2))
    assert hi == pytest.approx(1 / s2 + a2 * delta**2 / (4 * s2 * s2))
    assert lo <= est.value <= hi


def test_collinear_points_and_ascent_reach_the_widest_gap():
    # Collinear, unequal gaps 0.5, 1.5, 2: at small t the weights at the midpoint of two
    # neighbours are (1/2, 1/2), so the norm there is a^2 gap^2/(4 s^4) - 1/s^2: the WIDEST gap between
    # neighbours wins (the closest pair only gives the paper's lower bound). The search starts at the
    # closest-pair midpoints and must climb to the midpoint of the widest gap, x = 3 a.
    pts = np.array([[0.0, 0.0], [0.5, 0.0], [2.0, 0.0], [4.0, 0.0]])
    t = 1e-3
    est = empirical_lipschitz(pts, t)
    assert np.linalg.norm(est.x - alpha(t) * np.array([3.0, 0.0])) < 3 * np.sqrt(sigma2(t))
    a2, s2 = alpha(t) ** 2, sigma2(t)
    assert est.value == pytest.approx(a2 * 4.0 / (4 * s2 * s2) - 1 / s2, rel=1e-6)
    lo, hi = lipschitz_bounds(pts, t)
    assert lo <= est.value <= hi


def test_duplicates_do_not_change_the_bounds_or_the_estimate():
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((12, 3))
    dup = np.concatenate([pts, pts[:4], pts[:1]])
    for t in (1e-3, 0.1):
        assert lipschitz_bounds(dup, t) == pytest.approx(lipschitz_bounds(pts, t))
        lo, hi = lipschitz_bounds(dup, t)
        v = empirical_lipschitz(dup, t).value
        assert lo <= v <= hi


def test_estimate_is_a_real_norm_at_the_returned_point():
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((30, 4))
    est = empirical_lipschitz(pts, 0.01, rng=1)
    h = EmpiricalDistribution(pts).hessian(est.x[None], 0.01)
    assert spectral_norms(h)[0] == pytest.approx(est.value, rel=1e-12)


def test_gaussian_search_equals_the_closed_form():
    S = np.diag([0.3, 2.0])
    g = GaussianMixture([1.0], [[0.0, 1.0]], S[None])
    for t in (1e-4, 0.1, 3.0):
        assert search_lipschitz(g, t).value == pytest.approx(1 / (sigma2(t) + alpha(t) ** 2 * 0.3), rel=1e-10)


def test_spectral_norm_uses_the_largest_magnitude_eigenvalue():
    h = np.array([[[-5.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 3.0]]])
    assert spectral_norms(h).tolist() == [5.0, 3.0]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lipschitz_bounds(np.ones((3, 2)), 0.1), r"^points: need at least 2 distinct points"),
        (lambda: empirical_lipschitz(np.zeros((1, 2)), 0.1), r"^points: need at least 2 distinct points"),
        (lambda: lipschitz_bounds(np.eye(2), 0.0), r"^t: must be > 0"),
        (lambda: empirical_lipschitz(np.eye(2), 0.1, n_pairs=0), r"^n_pairs: must be an integer >= 1"),
    ],
    ids=["bounds-one-distinct", "estimate-one-point", "t-zero", "n-pairs"],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
