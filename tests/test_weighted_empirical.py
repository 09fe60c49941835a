"""EmpiricalDistribution with multiplicity weights, and the duplication identity of claim A4."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from memsep.theory import EmpiricalDistribution, alpha, sigma2


@pytest.mark.parametrize("t", [1e-3, 0.1, 2.0])
def test_duplicated_data_equal_distinct_points_with_multiplicities(t):
    # A4: n points of which m duplicate others have exactly the law of the n - m distinct points
    # with weights c_j / n; every method must agree to rounding.
    rng = np.random.default_rng(1)
    pts = rng.standard_normal((15, 3))
    dup = np.concatenate([pts, pts[:6], pts[:2], pts[:1]])
    full, dedup = EmpiricalDistribution(dup), EmpiricalDistribution.deduplicated(dup)
    assert dedup.n == 15 and full.n == 24
    x = rng.standard_normal((9, 3))
    np.testing.assert_allclose(dedup.score(x, t), full.score(x, t), rtol=1e-12, atol=1e-12 / sigma2(t))
    np.testing.assert_allclose(dedup.logpdf(x, t), full.logpdf(x, t), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(dedup.denoiser(x, t), full.denoiser(x, t), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dedup.hessian(x, t), full.hessian(x, t), rtol=1e-11, atol=1e-11 / sigma2(t) ** 2)


def test_weighted_logpdf_against_an_explicit_sum():
    pts = np.array([[0.0, 0.0], [1.0, -1.0], [3.0, 0.5]])
    w = np.array([0.5, 0.3, 0.2])
    t = 0.2
    emp = EmpiricalDistribution(pts, weights=w)
    x = np.array([[0.2, 0.1], [2.5, 0.0]])
    ref = np.log(sum(wi * multivariate_normal(alpha(t) * p, sigma2(t) * np.eye(2)).pdf(x) for wi, p in zip(w, pts)))
    np.testing.assert_allclose(emp.logpdf(x, t), ref, rtol=1e-12)


def test_weighted_sampling_frequencies_and_zero_weights():
    pts = np.array([[0.0], [10.0], [20.0]])
    emp = EmpiricalDistribution(pts, weights=[0.7, 0.3, 0.0])
    assert emp.n == 2  # the zero-weight point is dropped
    draws = emp.sample(20000, np.random.default_rng(0))
    frac = float(np.mean(draws[:, 0] == 0.0))
    # Binomial(20000, 0.7): sd 0.0032; |z| < 5 (false-failure rate 6e-7).
    assert abs(frac - 0.7) < 5 * np.sqrt(0.7 * 0.3 / 20000)


@pytest.mark.parametrize(
    "weights, match",
    [
        ([0.5, 0.5], r"^weights: must have one entry per point"),
        ([0.5, 0.6, -0.1], r"^weights: must be non-negative"),
        ([0.2, 0.2, 0.2], r"^weights: must sum to 1"),
    ],
    ids=["length", "negative", "sum"],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        EmpiricalDistribution(np.eye(3), weights=weights)
