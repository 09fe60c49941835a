"""theory.gap: E_D[Loss-Gap_t] over data sets (two-stage Monte Carlo) and its integral in t."""

from __future__ import annotations

import numpy as np
import pytest

from memsep.theory import EmpiricalDistribution, GaussianMixture, derive_seed, fisher_divergence
from memsep.theory.gap import GapCurve, IntegratedGap, integrated_gap, loss_gap_curve

MIX = GaussianMixture.isotropic([0.5, 0.5], [[-2.0, 0.0, 1.0], [2.0, 1.0, 0.0]], 1.0)


def test_curve_is_the_mean_of_per_data_set_fisher_estimates():
    ts = [0.01, 0.3]
    c = loss_gap_curve(MIX, 20, ts, n_datasets=3, n_draws=50, seed=7)
    assert c.g.shape == (3, 2)
    for b in range(3):
        data = MIX.sample(20, np.random.default_rng(derive_seed(7, "data", b)))
        for j, t in enumerate(ts):
            ref = fisher_divergence(
                EmpiricalDistribution(data), MIX, t, method="mc", n_draws=50, seed=derive_seed(7, "draws", b, j)
            ).value
            assert c.g[b, j] == ref
    e = c.estimate(1)
    assert e.value == pytest.approx(c.g[:, 1].mean())
    assert e.stderr == pytest.approx(c.g[:, 1].std(ddof=1) / np.sqrt(3))
    assert e.ci_low < e.value < e.ci_high


def test_curve_is_reproducible_and_depends_on_the_seed():
    a = loss_gap_curve(MIX, 10, [0.1], n_datasets=2, n_draws=20, seed=1)
    b = loss_gap_curve(MIX, 10, [0.1], n_datasets=2, n_draws=20, seed=1)
    c = loss_gap_curve(MIX, 10, [0.1], n_datasets=2, n_draws=20, seed=2)
    assert np.array_equal(a.g, b.g) and not np.array_equal(a.g, c.g)


def test_dsm_and_fisher_estimators_agree():
    # Proposition 4.1 at the level of E_D: both estimators target the same number; the two
    # intervals (95% each, independent noise on shared data sets) must overlap.
    f = loss_gap_curve(MIX, 30, [0.1], n_datasets=4, n_draws=4000, seed=3).estimate(0)
    d = loss_gap_curve(MIX, 30, [0.1], n_datasets=4, n_draws=4000, seed=3, estimator="dsm").estimate(0)
    assert abs(f.value - d.value) < 4 * np.hypot(f.stderr, d.stderr)


def test_integrated_gap_is_the_weighted_sum_of_the_curve():
    ig = integrated_gap(MIX, 15, [1e-3, 1e-2], 1.0, n_times=4, n_datasets=2, n_draws=20, seed=4)
    assert ig.I.shape == (2, 2)
    # The integral from the smaller t0 exceeds the one from the larger (the gap is positive).
    assert np.all(ig.I[:, 0] > ig.I[:, 1])
    e = ig.estimate(0)
    assert e.error >= 0 and e.ci_low < e.value < e.ci_high


def test_slope_recovers_a_planted_linear_law():
    t0s = np.array([1e-4, 1e-3, 1e-2])
    rng = np.random.default_rng(0)
    I = 3.0 + 7.0 * np.log(1 / t0s)[None, :] + 0.01 * rng.standard_normal((50, 3))
    curve = GapCurve(np.array([0.1]), np.ones((50, 1)), 10, 10, 0, 0.95, "fisher")
    ig = IntegratedGap(t0s, 1.0, I, np.zeros(3), 0.95, curve)
    s = ig.slope()
    assert s.value == pytest.approx(7.0, abs=0.01)
    # Planted noise sd 0.01 per point: the slope's se must match (|error| < 5 se, false-failure 6e-7).
    assert abs(s.value - 7.0) < 5 * s.stderr
    assert s.stderr == pytest.approx(
        0.01 / np.sqrt(50) / np.sqrt(np.sum((np.log(1 / t0s) - np.log(1 / t0s).mean()) ** 2)), rel=0.3
    )


def test_integral_slope_is_close_to_d_in_a_small_case():
    # Separated components, small t0: t Loss-Gap_t -> d, so the slope in log(1/t0) is ~ d = 3.
    ig = integrated_gap(MIX, 20, [1e-4, 1e-3, 1e-2], 2.0, n_times=6, n_datasets=3, n_draws=200, seed=9)
    assert ig.slope().value == pytest.approx(3.0, rel=0.1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: loss_gap_curve("x", 10, [0.1]), r"^dist: must have .sample and .score"),
        (lambda: loss_gap_curve(MIX, 1, [0.1]), r"^n: must be an integer >= 2"),
        (lambda: loss_gap_curve(MIX, 10, []), r"^ts: must be a non-empty list"),
        (lambda: loss_gap_curve(MIX, 10, [0.1, -1.0]), r"^ts: must be a non-empty list of times > 0"),
        (lambda: loss_gap_curve(MIX, 10, [0.1], n_datasets=1), r"^n_datasets: must be an integer >= 2"),
        (lambda: loss_gap_curve(MIX, 10, [0.1], estimator="x"), r"^estimator: must be"),
        (lambda: loss_gap_curve(MIX, 10, [0.1], seed=-1), r"^seed: must be a non-negative int"),
        (lambda: integrated_gap(MIX, 10, [0.5, 2.0], 1.0), r"^t0s: must all be < T"),
        (lambda: integrated_gap(MIX, 10, [0.1], 1.0, n_times=1), r"^n_times: must be an integer >= 2"),
    ],
    ids=["dist", "n", "ts-empty", "ts-negative", "datasets", "estimator", "seed", "t0-above-T", "n_times"],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
