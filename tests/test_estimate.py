"""Estimates with uncertainty and seed derivation (theory.estimate).

References: the mean / standard error / normal interval written out by hand (explicit loops,
scipy.stats.norm for the quantile); the exact coverage of the z-interval for normal data,
P(|T_{N-1}| <= z_{0.975}) with T Student-t (the studentised mean of normal data is exactly
t-distributed); a binomial acceptance region for the observed coverage count.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from memsep.theory import Estimate, derive_seed, mean_estimate
from memsep.theory.estimate import quadrature_estimate


def hand_mean_estimate(values, level, error=0.0):
    """Naive definition: explicit sums, ddof = 1, z = Phi^{-1}((1 + level) / 2)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    se = math.sqrt(var) / math.sqrt(n)
    half = stats.norm.ppf(0.5 + 0.5 * level) * se + error
    return mean, se, mean - half, mean + half


@pytest.mark.parametrize(
    "values, level, error",
    [
        ([1.0, 2.0, 3.0, 4.0], 0.95, 0.0),
        ([1.0, 2.0, 3.0, 4.0], 0.999, 0.0),
        ([-3.5, 0.25, 7.0], 0.9, 0.125),
        (list(np.random.default_rng(0).exponential(size=50)), 0.95, 0.0),
    ],
)
def test_mean_estimate_matches_hand_computation(values, level, error):
    est = mean_estimate(values, level=level, seed=7, error=error)
    mean, se, lo, hi = hand_mean_estimate(values, level, error)
    assert est.value == pytest.approx(mean, rel=1e-14)
    assert est.stderr == pytest.approx(se, rel=1e-13)
    assert est.ci_low == pytest.approx(lo, rel=1e-13, abs=1e-15)
    assert est.ci_high == pytest.approx(hi, rel=1e-13, abs=1e-15)
    assert est.halfwidth == pytest.approx(0.5 * (hi - lo), rel=1e-13)
    assert est.ci == (est.ci_low, est.ci_high)
    assert (est.n_draws, est.seed, est.method, est.level, est.error) == (len(values), 7, "mc", level, error)
    assert est.converged is None and est.samples is None


def test_mean_estimate_known_numbers():
    # [1, 2, 3, 4]: mean 2.5, sample variance 5/3, se = sqrt(5/12); z_{0.975} = 1.959963984540054.
    est = mean_estimate([1.0, 2.0, 3.0, 4.0], seed=None)
    se = math.sqrt(5.0 / 12.0)
    assert est.value == 2.5
    assert est.stderr == pytest.approx(se, rel=1e-15)
    assert est.ci_high == pytest.approx(2.5 + 1.959963984540054 * se, rel=1e-15)
    assert f"{est}" == f"{2.5:.4g} +- {1.959963984540054 * se:.2g} (mc)"


def test_mean_estimate_rejects_bad_input():
    with pytest.raises(ValueError, match="n_draws"):
        mean_estimate([1.0], seed=0)
    with pytest.raises(FloatingPointError):
        mean_estimate([1.0, np.nan, 2.0], seed=0)
    with pytest.raises(FloatingPointError):
        mean_estimate([1.0, np.inf], seed=0)


def test_interval_coverage_over_independent_seeds():
    # 400 independent data sets of N = 500 draws from N(mu, 2^2). For normal data the
    # studentised mean is exactly t_{N-1}, so the 95% z-interval covers mu with probability
    # p = 2 F_t(z_{0.975}; N - 1) - 1 = 0.94944. The count of covering intervals is
    # Binomial(400, p); the acceptance region below has false-failure probability < 1e-4
    # (and rejects a 90%-coverage interval about half the time).
    n_sets, N, mu = 400, 500, 1.7
    p = 2.0 * stats.t.cdf(stats.norm.ppf(0.975), N - 1) - 1.0
    lo = int(stats.binom.ppf(5e-5, n_sets, p))
    hi = int(stats.binom.isf(5e-5, n_sets, p))
    false_failure = stats.binom.cdf(lo - 1, n_sets, p) + stats.binom.sf(hi, n_sets, p)
    assert false_failure < 1e-4
    covered = 0
    for child in np.random.SeedSequence(20240611).spawn(n_sets):
        est = mean_estimate(np.random.default_rng(child).normal(mu, 2.0, size=N), seed=None)
        covered += est.ci_low <= mu <= est.ci_high
    assert lo <= covered <= hi, f"{covered}/{n_sets} intervals cover; acceptance region [{lo}, {hi}] at p = {p:.5f}"


def test_quadrature_estimate_fields():
    est = quadrature_estimate(3.25, 1e-9, 1234, True)
    assert est == Estimate(
        value=3.25,
        stderr=0.0,
        ci_low=3.25 - 1e-9,
        ci_high=3.25 + 1e-9,
        level=None,
        n_draws=1234,
        seed=None,
        method="quadrature",
        error=1e-9,
        converged=True,
    )
    assert isinstance(est.converged, bool) and isinstance(est.n_draws, int)


def test_to_dict_drops_samples_and_is_json_ready():
    values = np.random.default_rng(3).normal(size=100)
    est = mean_estimate(values, seed=11, keep_samples=True)
    np.testing.assert_array_equal(est.samples, values)
    out = est.to_dict()
    assert "samples" not in out
    assert set(out) == {
        "value",
        "stderr",
        "ci_low",
        "ci_high",
        "level",
        "n_draws",
        "seed",
        "method",
        "error",
        "converged",
    }
    assert json.loads(json.dumps(out)) == out
    assert est.samples is not None  # to_dict does not mutate the estimate
    # samples do not take part in equality
    assert est == mean_estimate(values, seed=11, keep_samples=False)
    assert json.loads(json.dumps(quadrature_estimate(1.0, 0.0, 10, False).to_dict()))["converged"] is False


# ---- derive_seed ---------------------------------------------------------------------------------


def test_derive_seed_is_deterministic_and_63_bit():
    for key in [(), (0,), (3, 16), ("node",), ("S2", 4, "mc")]:
        a, b = derive_seed(123, *key), derive_seed(123, *key)
        assert a == b and isinstance(a, int) and 0 <= a < 2**63, key


def test_derive_seed_differs_across_keys_and_seeds():
    seeds = {derive_seed(0, j, m) for m in (8, 16) for j in range(m)}
    assert len(seeds) == 24  # (j, m) pairs all distinct
    assert derive_seed(0, 1, 2) != derive_seed(0, 2, 1)  # order of key parts matters
    assert derive_seed(0, 5) != derive_seed(1, 5)  # parent seed matters
    assert derive_seed(0, "a") != derive_seed(0, "b")
    assert len({derive_seed(s) for s in range(100)}) == 100


def test_derive_seed_of_an_item_does_not_depend_on_other_items():
    # The seed of item k is a function of (seed, k) only: computing it alone, after many other
    # items, or in reverse order gives the same value.
    alone = derive_seed(99, 7, 32)
    batch = [derive_seed(99, j, 32) for j in range(32)]
    reverse = [derive_seed(99, j, 32) for j in reversed(range(32))][::-1]
    assert batch[7] == alone and reverse == batch


def test_derive_seed_matches_seedsequence_definition():
    # Naive definition from the docstring: SeedSequence(seed, spawn_key), 2 x uint32 -> 64 bits >> 1;
    # string keys through CRC-32.
    import zlib

    ss = np.random.SeedSequence(42, spawn_key=(zlib.crc32(b"fisher"), 3))
    hi, lo = (int(v) for v in ss.generate_state(2, dtype=np.uint32))
    assert derive_seed(42, "fisher", 3) == ((hi << 32) | lo) >> 1


def test_derive_seed_with_string_keys_is_stable_across_processes():
    # Unlike hash(str), CRC-32 does not depend on PYTHONHASHSEED.
    code = "from memsep.theory import derive_seed; print(derive_seed(5, 'loss_gap', 2))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": h},
        ).stdout.strip()
        for h in ("0", "12345")
    }
    assert outs == {str(derive_seed(5, "loss_gap", 2))}
