"""decide() of S1 and S2 on synthetic measurements (tests/decide_harness.py)."""

from __future__ import annotations

import dataclasses

from decide_harness import parametrize_synthetic, verdict_for

from memsep.verify.claims._identity import MCCase, QuadCase
from memsep.verify.claims.s1 import S1Measurements
from memsep.verify.claims.s2 import ReverseCase, S2Measurements


def quad(d=1, t=0.1, lhs=2.0, rhs=2.0, err=1e-12, **label) -> QuadCase:
    return QuadCase({"d": d, "n": 4, "t": t, **label}, lhs, err, rhs, err)


def mc(d=8, t=0.1, rhs=10.0, res_mean=0.0, res_se=1e-3, lhs=None, lhs_se=0.01, **label) -> MCCase:
    return MCCase(
        {"d": d, "n": 100, "t": t, **label},
        rhs + res_mean if lhs is None else lhs,
        lhs_se,
        rhs,
        0.01,
        res_mean,
        res_se,
        res_mean / res_se if res_se else 0.0,
    )


def good_quad():
    return [quad(d, t) for d in (1, 2) for t in (1e-3, 1.0)]


def good_mc():
    return [mc(d, t) for d in (4, 16) for t in (1e-3, 1.0)]


def s1(quad_cases=None, mc_cases=None) -> S1Measurements:
    return S1Measurements(
        quad=good_quad() if quad_cases is None else quad_cases, mc=good_mc() if mc_cases is None else mc_cases
    )


def s2(quad_cases=None, mc_cases=None, reverse=None) -> S2Measurements:
    mcs = good_mc() if mc_cases is None else mc_cases
    rev = reverse if reverse is not None else [ReverseCase(dict(c.label), 100 * c.rhs, 0.1) for c in mcs]
    return S2Measurements(
        T=10.0, times=[1e-3, 1.0], quad=good_quad() if quad_cases is None else quad_cases, mc=mcs, reverse=rev
    )


SYNTHETIC = {
    "S1": {
        "CONFIRMED": s1,
        # a false identity: one quadrature case off by 1e-6 relative (100x the tolerance)
        "NOT CONFIRMED": lambda: s1(quad_cases=good_quad() + [quad(lhs=2.0 + 2e-6)]),
        # the Monte-Carlo draws are too few to resolve 5% anywhere at d = 16 (se = 10% of RHS)
        "INCONCLUSIVE": lambda: s1(mc_cases=[mc(4), mc(16, res_se=1.0)]),
    },
    "S2": {
        "CONFIRMED": s2,
        # a significant paired residual (z = 8) at d = 16
        "NOT CONFIRMED": lambda: s2(mc_cases=good_mc() + [mc(16, res_mean=0.08, res_se=0.01)]),
        # quadrature error estimates larger than the tolerance: the identity is not resolved
        "INCONCLUSIVE": lambda: s2(quad_cases=good_quad() + [quad(err=1e-6)]),
    },
}

test_decide_on_synthetic_measurements = parametrize_synthetic(SYNTHETIC)


def test_each_identity_rule_fails_on_its_own_violation():
    """Every rule key of S1 and S2 can fail, each on the violation it is about (and only that rule fails)."""
    cases = {
        "S1.quadrature": s1(quad_cases=[quad(lhs=3.0)]),
        "S1.monte_carlo": s1(mc_cases=good_mc() + [mc(4, res_mean=1.0, res_se=0.01)]),
        "S1.nonnegative": s1(quad_cases=good_quad() + [quad(lhs=-1e-3, rhs=-1e-3)]),
        "S2.quadrature": s2(quad_cases=[quad(lhs=3.0)]),
        "S2.monte_carlo": s2(mc_cases=good_mc() + [mc(4, res_mean=1.0, res_se=0.01)]),
        "S2.nonnegative": s2(mc_cases=good_mc() + [mc(4, rhs=-5.0, lhs=-5.0, lhs_se=0.01)]),
        # the forward and reverse divergences agree to 1% everywhere: the empirical marginal would not matter
        "S2.not_reverse": s2(reverse=[ReverseCase(dict(c.label), c.lhs * 1.001, 0.01) for c in good_mc()]),
    }
    for key, m in cases.items():
        verdict, decisions = verdict_for(key.split(".")[0], m)
        failed = [a.key for a in decisions if a.outcome == "fail"]
        assert key in failed, (key, [(a.key, a.outcome, a.detail) for a in decisions])
        assert verdict == "NOT CONFIRMED"


def test_rounding_floor_cases_pass_but_a_real_residual_does_not():
    floor = mc(16, rhs=1e4, res_mean=1e-12, res_se=1e-14)  # z = 100, but 1e-16 relative: rounding
    assert floor.outcome(4.0) == "pass"
    assert mc(16, rhs=1e4, res_mean=1e-3, res_se=1e-5).outcome(4.0) == "fail"  # 1e-7 relative, z = 100
    assert dataclasses.replace(floor, res_se=400.0).outcome(4.0) == "inconclusive"
