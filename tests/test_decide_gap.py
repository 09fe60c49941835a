"""decide() of S3, S4 and S5 on synthetic measurements (tests/decide_harness.py), and the shared rules of
verify/claims/_gap.py. Synthetic numbers only: no sampling, no training."""

from __future__ import annotations

import numpy as np
import pytest
from decide_harness import parametrize_synthetic, verdict_for
from scipy.stats import norm

from memsep.theory.bounds import RegimeConstants, regime_check_dist
from memsep.verify.claims._gap import Curve, b_form, g_iso, interval_equivalence, margin_rule
from memsep.verify.claims.s3 import Campaign, RegimePoint, S3Measurements, corner_case, corner_mixture
from memsep.verify.claims.s4 import S4Case, S4Measurements
from memsep.verify.claims.s5 import S5Measurements


def _noise(shape, scale, seed):
    """Multiplicative per-data-set noise exp(N(0, scale^2)) (a fixed seed: the builders are deterministic)."""
    return np.exp(scale * np.random.default_rng(seed).standard_normal(shape))


def curve(label: dict, ts, mean_fn, B=6, scale=0.01, seed=0) -> Curve:
    """A Curve whose data set b has gap mean_fn(t) x exp(noise_b(t))."""
    ts = list(ts)
    g = np.array([[mean_fn(t) for t in ts]] * B) * _noise((B, len(ts)), scale, seed)
    return Curve(dict(label), ts, g.tolist())


# ---- S5 -----------------------------------------------------------------------------------------------------
S5_TIMES = (1e-3, 1e-2, 0.1, 1.0)


def s5_curve(d, n, scale=0.01, flat=False, factor=1.0, seed=0) -> Curve:
    fn = (lambda t: factor * d / np.expm1(0.1)) if flat else (lambda t: factor * d / np.expm1(t))
    return curve({"d": d, "n": n, "tr_sigma": float(d)}, S5_TIMES, fn, scale=scale, seed=seed)


def s5() -> S5Measurements:
    return S5Measurements(
        dims=[32, 2],
        ns=[100, 1000],
        times=list(S5_TIMES),
        K=8,
        n_draws=1000,
        curves=[s5_curve(d, n, seed=d + n) for d in (32, 2) for n in (100, 1000)],
    )


# ---- S4 -----------------------------------------------------------------------------------------------------
T0S = [1e-4, 1e-3, 1e-2]


def s4_case(d, slope_factor=1.0, scale=0.005, B=6, quad=1e-4, seed=0) -> S4Case:
    x = -np.log(np.array(T0S))
    rng = np.random.default_rng(seed)
    per_set_slope = slope_factor * d * (1 + scale * rng.standard_normal(B))
    I = per_set_slope[:, None] * x[None, :] - 5.0 * d
    return S4Case(
        d=d, n=1000, t0s=list(T0S), I=I.tolist(), I_coarse=(I * (1 + quad)).tolist(), g_integral=(d * x).tolist()
    )


def s4(*cases) -> S4Measurements:
    return S4Measurements(
        T=10.0,
        n_times=8,
        n_datasets=6,
        n_draws=600,
        cases=list(cases) or [s4_case(4, seed=1), s4_case(16, seed=2), s4_case(64, seed=3)],
    )


# ---- S3 -----------------------------------------------------------------------------------------------------
GRID_T = (1e-3, 1e-2, 0.05, 0.5)
CORNER_D = (4, 5, 6, 7, 8, 9)


def point(source, d, R, se, family="gaussian", capped=False, t=0.1, n=100) -> RegimePoint:
    B = b_form(t, d, 0.25 * d)
    case = {"family": family, "K": 2, "d": d, "n": n, "v_lo": 0.25, "v_hi": 0.25, "t": t, "seed": d, "capped": capped}
    return RegimePoint(source, case, R * B, se * B, B, 1.0, 16, 500, True, "inside")


def corners(R_of=lambda d: 0.06 * (d / 4) ** 0.2, se=0.001, family="gaussian") -> list[RegimePoint]:
    return [point("corner", d, R_of(d), se, family) for d in CORNER_D] + (
        [point("corner", 12, 0.3, se, family, capped=True)] if family == "gaussian" else []
    )


def s3(
    grid=None, variance=None, dims=None, n_high=None, n_low=None, corner_pts=None, campaign_pts=None, uniform=None
) -> S3Measurements:
    if grid is None:
        grid = [
            curve(
                {"family": "gaussian", "d": d, "n": 1000, "tr_sigma": float(d)},
                GRID_T,
                lambda t, d=d: g_iso(t, d, 1.0),
                seed=d,
            )
            for d in (8, 32)
        ]
        grid.append(
            curve({"family": "uniform", "d": 8, "n": 1000, "tr_sigma": 8.0}, GRID_T, lambda t: g_iso(t, 8, 1.0), seed=3)
        )
    if variance is None:  # paired: the same noise (seed) at every v
        variance = [
            curve(
                {"v": v, "d": 32, "n": 1000, "t": 0.01, "tr_sigma": 32 * v},
                [0.01],
                lambda t, v=v: g_iso(t, 32, v),
                scale=1e-4,
                seed=7,
            )
            for v in (0.25, 1.0, 4.0)
        ]
    if dims is None:
        dims = [
            curve({"d": d, "n": 1000, "t": 0.01, "tr_sigma": float(d)}, [0.01], lambda t, d=d: g_iso(t, d, 1.0), seed=d)
            for d in (8, 32)
        ]
    if n_high is None:
        n_high = [
            curve({"d": 32, "n": n, "t": 0.01, "tr_sigma": 32.0}, [0.01], lambda t: 3180.0, seed=n) for n in (100, 1000)
        ]
    if n_low is None:
        n_low = [
            curve({"d": 2, "n": n, "t": 0.01, "tr_sigma": 2.0}, [0.01], lambda t, n=n: 2e4 * n**-0.66, seed=n)
            for n in (100, 1000, 10000)
        ]
    cps = campaign_pts if campaign_pts is not None else [point("campaign", d, 0.4, 0.02, n=50) for d in (4, 20, 64)]
    cam = Campaign(
        examples_run=len(cps),
        shrink_examples=0,
        search_s=1.0,
        stop_reason="examples",
        seed=0,
        min_margin=1.0,
        worst_case=cps[0].case if cps else None,
        shrunk_case=None,
        points=cps,
    )
    cs = (corners() if corner_pts is None else corner_pts) + (
        corners(lambda d: 0.04, family="uniform") if uniform is None else uniform
    )
    return S3Measurements(
        constants=RegimeConstants().as_dict(),
        grid=grid,
        variance=variance,
        dims=dims,
        n_high=n_high,
        n_low=n_low,
        corners=cs,
        campaign=cam,
    )


SYNTHETIC = {
    "S3": {
        "CONFIRMED": s3,
        # the smallest R falls like 1/d over the corners: the Omega bound's finite-d form is violated
        "NOT CONFIRMED": lambda: s3(corner_pts=corners(lambda d: 0.24 / d)),
        # corners too noisy to resolve the trend (se 20% of R at every d)
        "INCONCLUSIVE": lambda: s3(corner_pts=corners(se=0.012)),
    },
    "S4": {
        "CONFIRMED": s4,
        # the integral grows like (d / 2) log(1/t0) at d = 16, precisely
        "NOT CONFIRMED": lambda: s4(s4_case(4, seed=1), s4_case(16, slope_factor=0.5, seed=2)),
        # per-data-set slopes spread by 30%: the 10% equivalence cannot be shown nor excluded
        "INCONCLUSIVE": lambda: s4(s4_case(4, seed=1), s4_case(16, scale=0.3, seed=2)),
    },
    "S5": {
        "CONFIRMED": s5,
        # the gap at d = 2, n = 1000 does not change with t
        "NOT CONFIRMED": lambda: _s5_replace((2, 1000), s5_curve(2, 1000, flat=True, seed=5)),
        # three data sets whose gaps spread over orders of magnitude at d = 2, n = 100: steps not resolved
        "INCONCLUSIVE": lambda: _s5_replace((2, 100), s5_curve(2, 100, scale=3.0, seed=11)),
    },
}


def _s5_replace(key, new: Curve) -> S5Measurements:
    m = s5()
    m.curves = [new if (c.label["d"], c.label["n"]) == key else c for c in m.curves]
    return m


test_decide_on_synthetic_measurements = parametrize_synthetic(SYNTHETIC)


def _only_failure(claim_id, m, key):
    verdict, decisions = verdict_for(claim_id, m)
    failed = [a.key for a in decisions if a.outcome == "fail"]
    assert failed == [key], (key, [(a.key, a.outcome, a.detail) for a in decisions])
    assert verdict == "NOT CONFIRMED"


def _flat_variance():
    return [
        curve({"v": v, "d": 32, "n": 1000, "t": 0.01, "tr_sigma": 32 * v}, [0.01], lambda t: 3100.0, scale=1e-4, seed=7)
        for v in (0.25, 1.0, 4.0)
    ]


@pytest.mark.parametrize(
    "key, build",
    [
        (
            "S3.decreasing_in_t",
            lambda: s3(
                grid=[curve({"family": "gaussian", "d": 8, "n": 1000, "tr_sigma": 8.0}, GRID_T, lambda t: 50.0, seed=1)]
            ),
        ),
        ("S3.grows_with_variance", lambda: s3(variance=_flat_variance())),
        (
            "S3.grows_with_d",
            lambda: s3(
                dims=[
                    curve({"d": d, "n": 1000, "t": 0.01, "tr_sigma": float(d)}, [0.01], lambda t: 800.0, seed=d)
                    for d in (8, 32)
                ]
            ),
        ),
        # the gap falls tenfold from n = 100 to 1000
        (
            "S3.not_vanishing_in_n",
            lambda: s3(
                n_high=[
                    curve(
                        {"d": 32, "n": n, "t": 0.01, "tr_sigma": 32.0},
                        [0.01],
                        lambda t, n=n: 3180.0 * (100 / n),
                        seed=n,
                    )
                    for n in (100, 1000)
                ]
            ),
        ),
        (
            "S3.shrinks_with_n_low_d",
            lambda: s3(
                n_low=[
                    curve({"d": 2, "n": n, "t": 0.01, "tr_sigma": 2.0}, [0.01], lambda t: 140.0, seed=n)
                    for n in (100, 1000, 10000)
                ]
            ),
        ),
        # one campaign example at d = 40 (not a corner dimension) far below the floor
        ("S3.omega_floor", lambda: s3(campaign_pts=[point("campaign", 40, 0.005, 0.0005)])),
        ("S3.omega_nondecreasing_in_d", lambda: s3(corner_pts=corners(lambda d: 0.24 / d))),
    ],
)
def test_each_s3_rule_fails_on_its_own_violation(key, build):
    _only_failure("S3", build(), key)


def test_each_s4_s5_rule_fails_on_its_own_violation():
    _only_failure("S4", s4(s4_case(4, seed=1), s4_case(16, slope_factor=1.3, seed=2)), "S4.slope_close_to_d")
    _only_failure("S5", _s5_replace((2, 1000), s5_curve(2, 1000, flat=True, seed=5)), "S5.decreasing_in_t")
    # the d = 32 gap at 1% of B_t (still falling with t): far from zero fails, decreasing holds
    _only_failure("S5", _s5_replace((32, 1000), s5_curve(32, 1000, factor=0.01, seed=9)), "S5.far_from_zero")


def test_uniform_boxes_are_not_in_the_verdict():
    """Uniform-box corners (outside Assumption 4.2) far below the floor and falling with d change nothing."""
    verdict, decisions = verdict_for("S3", s3(uniform=corners(lambda d: 0.001 / d, family="uniform")))
    assert verdict == "CONFIRMED", [(a.key, a.outcome, a.detail) for a in decisions]


def test_campaign_examples_join_the_smallest_r_per_d():
    """A campaign example below the corner at a corner dimension becomes that d's smallest R (and can make the
    trend fail: R_min(9) far below R_min(4))."""
    verdict, decisions = verdict_for("S3", s3(campaign_pts=[point("campaign", 9, 0.025, 0.0005)]))
    trend = next(a for a in decisions if a.key == "S3.omega_nondecreasing_in_d")
    assert trend.outcome == "fail" and "0.0250" in trend.detail


def test_capped_corners_are_not_in_the_trend():
    """A capped corner (n = 10^4 < e^d) with a small R enters the floor rule but not the slope."""
    pts = corners() + [point("corner", 16, 0.03, 0.001, capped=True)]
    verdict, decisions = verdict_for("S3", s3(corner_pts=pts))
    assert verdict == "CONFIRMED", [(a.key, a.outcome, a.detail) for a in decisions]


@pytest.mark.parametrize("d", [4, 5, 9, 10, 12, 40])
def test_corners_lie_inside_the_regime(d):
    c = RegimeConstants()
    for family in ("gaussian", "uniform"):
        case = corner_case(family, d, c)
        dist = corner_mixture(case, c)
        rep = regime_check_dist(dist, case["n"], case["t"], c)
        assert rep.inside, rep.failing
        assert case["capped"] == (np.exp(d) > 10_000) and case["n"] == int(min(np.exp(d), 10_000))
        assert np.linalg.norm(dist.means[0] - dist.means[1]) == pytest.approx(c.c1 * np.sqrt(d), rel=1e-8)
        assert np.allclose(dist.covs[0], c.c7 * np.eye(d))


def test_margin_rule_error_semantics():
    # non-inferiority against 0: a significant pass, a significant fail, and an undecided middle
    assert margin_rule(1.0, 0.1, 0.01, pass_above=0, fail_below=0, power_at=1, effect_source="")[0] == "pass"
    assert margin_rule(-1.0, 0.1, 0.01, pass_above=0, fail_below=0, power_at=1, effect_source="")[0] == "fail"
    assert margin_rule(0.05, 0.1, 0.01, pass_above=0, fail_below=0, power_at=1, effect_source="")[0] == "inconclusive"
    # the trend form: pass above -0.25, fail below 0; a significant decrease fails even inside (-0.25, 0)
    assert margin_rule(-0.1, 0.02, 0.01, pass_above=-0.25, fail_below=0, power_at=0, effect_source="")[0] == "fail"
    o, t = margin_rule(0.0, 0.05, 0.01, pass_above=-0.25, fail_below=0, power_at=0, effect_source="")
    assert o == "pass" and t["power"] == pytest.approx(norm.cdf(0.25 / 0.05 - norm.isf(0.01)), rel=1e-12)


def test_interval_equivalence_counts_the_numerical_error():
    assert interval_equivalence(0.02, 0.01, 0.1, 3.0)[0] == "pass"  # [-0.01, 0.05]
    assert interval_equivalence(0.02, 0.01, 0.1, 3.0, error=0.06)[0] == "inconclusive"  # [-0.07, 0.11]
    assert interval_equivalence(-0.5, 0.01, 0.1, 3.0, error=0.06)[0] == "fail"  # [-0.59, -0.41]
    assert interval_equivalence(0.5, 0.2, 0.1, 3.0)[0] == "inconclusive"  # straddles +0.1
