"""Hypothesis property tests over random mixtures, data sets and times (profile: HYPOTHESIS_PROFILE).

Each property is an identity of the paper that must hold for EVERY valid input; the
strategies of verify.strategies build valid mixtures (weights summing to one, bounded means,
SPD covariances of condition number <= 10) from drawn seeds.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from memsep.theory import (
    EmpiricalDistribution,
    GaussianMixture,
    alpha,
    dsm_loss_difference,
    fisher_divergence,
    loss_gap,
    sigma2,
)
from memsep.verify.strategies import mixture_and_data, mixtures, seeds, times


@given(mix=mixtures(d=st.integers(1, 4), K=st.integers(1, 4)), t=times(1e-3, 20.0), seed=seeds())
def test_score_is_gradient_of_logpdf(mix, t, seed):
    # Central differences with step h: truncation O(h^2 |f'''|), rounding O(eps |f| / h).
    x = mix.sample(3, np.random.default_rng(seed), t)
    h = 1e-5 * np.sqrt(sigma2(t) + alpha(t) ** 2 * 0.2)
    fd = np.stack([(mix.logpdf(x + h * e, t) - mix.logpdf(x - h * e, t)) / (2 * h) for e in np.eye(mix.d)], axis=1)
    sc = mix.score(x, t)
    scale = np.abs(sc).max() + 1.0 / np.sqrt(sigma2(t) + alpha(t) ** 2 * 0.2)
    assert np.abs(fd - sc).max() <= 1e-5 * scale


@given(mix=mixtures(d=st.integers(1, 4), K=st.integers(1, 4)), t=times(1e-3, 20.0), seed=seeds())
def test_tweedie_and_hessian_identity(mix, t, seed):
    x = mix.sample(4, np.random.default_rng(seed), t)
    a, s2 = alpha(t), sigma2(t)
    np.testing.assert_allclose(
        mix.score(x, t), (a * mix.denoiser(x, t) - x) / s2, rtol=1e-8, atol=1e-9 * np.abs(x).max() / s2
    )
    h = mix.hessian(x, t)
    cov = mix.posterior_cov(x, t)
    ident = -np.eye(mix.d)[None] / s2 + a * a / s2**2 * cov
    # The identity cancels terms of size 1/sigma^2: float64 error ~ 1e-16 / sigma^2 relative to ||H||.
    assert np.abs(h - ident).max() <= 1e-9 * (np.abs(h).max() + 1.0 / s2)
    assert np.allclose(h, np.swapaxes(h, 1, 2))
    assert np.all(np.linalg.eigvalsh(cov) >= -1e-12 * np.abs(cov).max(axis=(1, 2))[:, None])


@given(mix_data=mixture_and_data(d=st.integers(1, 3), n=st.integers(1, 12)), t=times(1e-2, 10.0), seed=seeds())
def test_empirical_law_is_a_mixture_of_point_masses(mix_data, t, seed):
    # Phat_t equals the Gaussian mixture with means x_i and (vanishing) covariance eps I:
    # P_t = (1/n) sum N(alpha x_i, alpha^2 eps I + sigma^2 I), a relative change of ~eps/sigma^2.
    _, data = mix_data
    n, d = data.shape
    emp = EmpiricalDistribution(data)
    eps = 1e-13
    as_mix = GaussianMixture.isotropic(np.full(n, 1.0 / n), data, eps)
    x = emp.sample(5, np.random.default_rng(seed), t)
    np.testing.assert_allclose(emp.logpdf(x, t), as_mix.logpdf(x, t), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(emp.score(x, t), as_mix.score(x, t), rtol=1e-7, atol=1e-7 / sigma2(t))
    np.testing.assert_allclose(emp.denoiser(x, t), as_mix.denoiser(x, t), rtol=1e-7, atol=1e-7)


@given(mix_data=mixture_and_data(d=1, K=st.integers(1, 3), n=st.integers(1, 8)), t=times(1e-3, 10.0))
@example(mix_data=(GaussianMixture.isotropic([1.0], [[0.0]], 1.0), np.array([[0.0], [1e-3]])), t=1e-3)
def test_proposition_4_1_quadrature_1d(mix_data, t):
    # S2 for every data set: Loss-Gap_t = Fisher(Phat_t, P_t), both by quadrature (1-D).
    mix, data = mix_data
    emp = EmpiricalDistribution(data)
    gap = loss_gap(data, mix, t, method="quadrature")
    fis = fisher_divergence(emp, mix, t, method="quadrature")
    assert fis.value >= 0
    assert abs(gap.value - fis.value) <= 1e-8 * fis.value + gap.error + fis.error


@given(
    mix_data=mixture_and_data(d=1, K=st.integers(1, 3), n=st.integers(1, 6)),
    t=times(1e-3, 10.0),
    c=st.floats(-2.0, 2.0),
    v=st.floats(0.1, 5.0),
)
def test_s1_decomposition_for_linear_perturbations_1d(mix_data, t, c, v):
    # S1 for a family of scores s(x) = -(x - c)/v (any c, v): excess loss = E_{Phat_t}(s - e)^2 >= 0.
    _, data = mix_data
    emp = EmpiricalDistribution(data)
    s = lambda x, t_: -(x - c) / v  # noqa: E731
    lhs = dsm_loss_difference(data, s, emp.score, t, method="quadrature")
    rhs = fisher_divergence(emp, s, t, method="quadrature")
    assert lhs.value >= -lhs.error
    assert abs(lhs.value - rhs.value) <= 1e-8 * rhs.value + lhs.error + rhs.error
