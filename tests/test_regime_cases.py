"""Regime configurations for Theorem 4.3 (claim S3): strategies, generators and the fuzz spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import find, given, settings

from memsep.theory import GaussianMixture, UniformBoxMixture, alpha, sigma2
from memsep.theory.bounds import concentration_ratio, regime_check_dist
from memsep.verify.fuzz import FUZZ_SPECS, fuzzable_ids
from memsep.verify.generators import regime_mixture
from memsep.verify.strategies import regime_cases


@settings(max_examples=40)
@given(case=regime_cases())
def test_every_generated_case_lies_inside_the_regime(case):
    dist = regime_mixture(case)
    assert isinstance(dist, GaussianMixture if case["family"] == "gaussian" else UniformBoxMixture)
    assert dist.d == case["d"] and dist.K == case["K"]
    rep = regime_check_dist(dist, case["n"], case["t"])
    assert rep.inside, (case, rep.failing)
    lam = np.linalg.eigvalsh(dist.covs[0])
    assert case["v_lo"] * (1 - 1e-9) <= lam.min() and lam.max() <= case["v_hi"] * (1 + 1e-9)


def test_regime_mixture_is_deterministic_in_the_case():
    case = {"family": "uniform", "K": 5, "d": 6, "n": 40, "v_lo": 0.3, "v_hi": 2.0, "t": 0.05, "seed": 3}
    a, b = regime_mixture(case), regime_mixture(dict(case))
    assert np.array_equal(a.means, b.means) and np.array_equal(a.variances, b.variances)


def test_concentration_ratio_formula():
    t, d, n = 0.1, 8, 100
    S = np.diag(np.linspace(0.5, 2.0, d))
    assert concentration_ratio(t, S, n) == pytest.approx(alpha(t) ** 2 * 0.5 * d / (sigma2(t) * np.log(n)), rel=1e-12)


def test_s3_fuzz_spec_on_its_simplest_example():
    assert "S3" in fuzzable_ids()
    spec = FUZZ_SPECS["S3"]
    ex = find(spec.strategy, lambda e: True)
    desc = spec.describe(ex)
    assert json.loads(json.dumps(desc)) == desc and "seed" in desc
    assert spec.margin(ex) >= 0  # R well above the floor in the simplest configuration
