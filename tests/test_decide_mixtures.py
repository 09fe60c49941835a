"""decide() of A5 and A6 on synthetic measurements (tests/decide_harness.py), and the tests of
verify/claims/_mixtures.py they rest on."""

from __future__ import annotations

import dataclasses

import pytest

from decide_harness import parametrize_synthetic, verdict_for
from verify.claims import _mixtures as mx
from verify.claims.a5 import A5Measurements, A5Size
from verify.claims.a6 import CONFIGS as A6_CONFIGS
from verify.claims.a6 import A6Cell, A6Measurements

# ---- A5: widths of the quick profile (4, 8, 16, 64, 256) ----------------------------------------------------------

A5_WIDTHS = (4, 8, 16, 64, 256)
# A generalizing sequence, roughly the committed quick run: (memorization ratio, mean log-likelihood, its se)
A5_GOOD = {4: (0.03, -600.0, 70.0), 8: (0.08, -20.0, 3.0), 16: (0.10, -8.0, 3.0), 64: (0.40, -3.82, 0.1),
           256: (0.73, -3.7, 0.03)}


def a5(m: int = 2048, null: float = 0.11, **over) -> A5Measurements:
    """A5 measurements with m samples per model; ``over`` maps 'w<width>' to (ratio, loglik, se)."""
    spec = {w: over.get(f"w{w}", A5_GOOD[w]) for w in A5_WIDTHS}
    sizes = [A5Size(width=w, parameters=10 * w * w, memorized=round(r * m), m=m, loglik=ll, loglik_se=se)
             for w, (r, ll, se) in spec.items()]
    return A5Measurements(d=2, n=64, sizes=sizes, null_memorized=round(null * m), null_m=m, loglik_fresh=-3.8,
                          loglik_fresh_se=0.04)


# The committed quick run (results/A5.json, 512 samples): width 8 memorizes 11.1% against a null rate of 11.3%, but
# 512 samples cannot show its excess below 5 points at the rule's level (upper bound +5.6 points).
A5_QUICK = dict(m=512, null=58 / 512, w4=(33 / 512, -599.8, 73.3), w8=(57 / 512, -23.7, 3.69),
                w16=(68 / 512, -7.75, 3.01), w64=(203 / 512, -3.82, 0.108), w256=(375 / 512, -3.68, 0.0286))

# ---- A6: the quick profile's grid ---------------------------------------------------------------------------------

A6_CFG = A6_CONFIGS["quick"]


def a6_cells() -> dict:
    """(d, n, network, wd) -> [ratio, loglik, se] of a grid where every rule passes (d0 = 32, n = 64 and 256)."""
    g = {}
    for n, rates, lls in ((64, (0.0, 0.01, 0.25, 0.43), (-585, -89, -56.4, -49.6)),
                          (256, (0.0, 0.0, 0.02, 0.12), (-1030, -234, -65.2, -57.9))):
        for net, r, ll in zip(A6_CFG.networks, rates, lls):
            g[(32, n, net, 0.0)] = [r, ll, 1.0]
    for d, (lo, hi) in {8: (0.74, 0.32), 64: (0.008, 0.0)}.items():
        g[(d, 64, "mlp-400k", 0.0)] = [lo, -13.2 * d / 8, 0.1]
        g[(d, 256, "mlp-400k", 0.0)] = [hi, -13.8 * d / 8, 0.3]
    # weight decay on mlp-400k: at n = 64 less memorization AND a better fit than mlp-1.6m (what the paper shows)
    for wd, r, ll in ((0.03, 0.34, -48.0), (0.1, 0.19, -45.0), (0.3, 0.05, -60.0)):
        g[(32, 64, "mlp-400k", wd)] = [r, ll, 0.5]
    for wd, r, ll in ((0.03, 0.015, -85.6), (0.1, 0.014, -103.3), (0.3, 0.004, -132.1)):
        g[(32, 256, "mlp-400k", wd)] = [r, ll, 10.0]
    g[(32, 256, "mlp-400k", 0.0)][2] = 2.0
    return g


def a6(grid: dict | None = None, m: int = 512) -> A6Measurements:
    """A6 measurements from a grid (default a6_cells()), null rate 0 (as in d = 32 at the quick profile)."""
    g = a6_cells() if grid is None else grid
    cells = [A6Cell(d=d, n=n, network=net, weight_decay=wd, parameters=1000, memorized=round(r * m), m=m,
                    null_memorized=0, null_m=m, loglik=ll, loglik_se=se, loglik_fresh=-47.6)
             for (d, n, net, wd), (r, ll, se) in g.items()]
    return A6Measurements(cells=cells)


# The committed quick run (results/A6.json): weight decay lowers memorization only by degrading the fit.
A6_QUICK_WD = {(32, 64, "mlp-400k", 0.03): [174 / 512, -55.35, 0.502],
               (32, 64, "mlp-400k", 0.1): [99 / 512, -61.63, 0.845],
               (32, 64, "mlp-400k", 0.3): [8 / 512, -191.2, 9.96],
               (32, 64, "mlp-1.6m", 0.0): [221 / 512, -49.65, 0.994]}


def a6_quick_wd() -> A6Measurements:
    g = a6_cells()
    g.update({k: list(v) for k, v in A6_QUICK_WD.items()})
    return a6(g)


def a6_one_n_memorizes() -> A6Measurements:
    """The largest network memorizes beyond the null rate at one n only (4/512 at n = 256 is not significant)."""
    g = a6_cells()
    g[(32, 256, "mlp-1.6m", 0.0)] = [4 / 512, -57.9, 1.0]
    return a6(g)


def a6_noisy_wd() -> A6Measurements:
    g = a6_cells()
    for wd in (0.03, 0.1, 0.3):
        g[(32, 64, "mlp-400k", wd)][2] = 5.0          # likelihood too noisy to show a gain or exclude 1 nat
    g[(32, 64, "mlp-400k", 0.1)][1] = -49.0
    return a6(g)


SYNTHETIC = {
    "A5": {
        "CONFIRMED": a5,
        # the largest network memorizes at the null rate (2048 samples: an excess of 5 points is excluded)
        "NOT CONFIRMED": lambda: a5(w64=(0.10, -3.82, 0.1), w256=(0.11, -3.7, 0.03)),
        # the committed quick run: 512 samples cannot show width 8 or 16 within 5 points of the null rate
        "INCONCLUSIVE": lambda: a5(**A5_QUICK),
    },
    "A6": {
        "CONFIRMED": a6,
        # the committed quick run's weight-decay cells: the documented disagreement (A6.b_weight_decay_helps_both)
        "NOT CONFIRMED": a6_quick_wd,
        # the largest network memorizes beyond chance at one n only: "rises with size" needs two
        "INCONCLUSIVE": a6_one_n_memorizes,
    },
}

test_decide_on_synthetic_measurements = parametrize_synthetic(SYNTHETIC)


def _failed(claim_id, m):
    verdict, decisions = verdict_for(claim_id, m)
    return verdict, {a.key: a for a in decisions}, [a.key for a in decisions if a.outcome == "fail"]


# rule key -> (measurements violating it, whether it is the only rule that fails)
VIOLATIONS = {
    # widths 64 -> 256: memorization falls from 60% to 45% (a significant step down)
    "A5.memorization_rises": (lambda: a5(w64=(0.60, -3.82, 0.1), w256=(0.45, -3.7, 0.03)), True),
    # the smallest network fits like fresh draws (the intermediate widths then fit no better either)
    "A5.smallest_fails_to_fit": (lambda: a5(w4=(0.03, -3.8, 0.05)), False),
    # the smallest network memorizes 20% against a null rate of 11% (and memorization then falls to width 8)
    "A5.smallest_not_memorizing": (lambda: a5(w4=(0.20, -600.0, 70.0)), False),
    # every intermediate width memorizes half its samples
    "A5.intermediate_generalizes": (lambda: a5(w8=(0.5, -20.0, 3.0), w16=(0.5, -8.0, 3.0), w64=(0.5, -3.82, 0.1)),
                                    True),
    # the largest network memorizes at the null rate (and so do the intermediate ones: no step down)
    "A5.largest_memorizes": (lambda: a5(w8=(0.10, -20.0, 3.0), w16=(0.10, -8.0, 3.0), w64=(0.10, -3.82, 0.1),
                                        w256=(0.11, -3.7, 0.03)), True),
    # n = 64: the smallest network memorizes more (50%) than the largest (43%)
    "A6.a_rises_with_size": (lambda: _a6_over((32, 64, "mlp-24k", 0.0), [0.50, -585, 1.0]), True),
    # d = 8: memorization rises from 74% at n = 64 to 80% at n = 256
    "A6.a_falls_with_n": (lambda: _a6_over((8, 256, "mlp-400k", 0.0), [0.80, -13.8, 0.3]), True),
    # n = 64: d = 64 memorizes 80%, more than d = 8 (74%)
    "A6.a_falls_with_d": (lambda: _a6_over((64, 64, "mlp-400k", 0.0), [0.80, -105.6, 0.1]), True),
    # the committed quick run: the documented disagreement
    "A6.b_weight_decay_helps_both": (a6_quick_wd, True),
    # n = 256: the strongest weight decay fits as well as none (gain of 1 nat excluded)
    "A6.b_strong_decay_hurts_at_large_n": (lambda: _a6_strong_decay_harmless(), True),
}


def _a6_over(key, value) -> A6Measurements:
    g = a6_cells()
    g[key] = value
    return a6(g)


def _a6_strong_decay_harmless() -> A6Measurements:
    g = a6_cells()
    g[(32, 256, "mlp-400k", 0.0)] = [0.02, -65.0, 0.5]
    g[(32, 256, "mlp-400k", 0.3)] = [0.004, -64.0, 0.5]
    return a6(g)


@pytest.mark.parametrize("key", list(VIOLATIONS))
def test_each_mixture_rule_fails_on_its_own_violation(key):
    """Every rule key of A5 and A6 can fail, each on the violation it is about (alone where the violation allows)."""
    build, alone = VIOLATIONS[key]
    verdict, decisions, failed = _failed(key.split(".")[0], build())
    assert key in failed, {k: (a.outcome, a.detail) for k, a in decisions.items()}
    if alone:
        assert failed == [key], {k: (a.outcome, a.detail) for k, a in decisions.items()}
    assert verdict == "NOT CONFIRMED"


def test_rules_are_confirmed_by_the_good_builders_with_every_key():
    for cid, m in (("A5", a5()), ("A6", a6())):
        verdict, decisions, failed = _failed(cid, m)
        assert verdict == "CONFIRMED" and all(a.outcome == "pass" for a in decisions.values()), \
            {k: (a.outcome, a.detail) for k, a in decisions.items()}
        assert all(a.test and a.test["rule"] == "one-sided z" for a in decisions.values())


def test_a5_quick_is_inconclusive_only_on_the_generalizing_stage():
    _, decisions, _ = _failed("A5", a5(**A5_QUICK))
    assert {k for k, a in decisions.items() if a.outcome != "pass"} == {"A5.intermediate_generalizes"}
    assert decisions["A5.intermediate_generalizes"].outcome == "inconclusive"


def test_a6_gate_leaves_untested_where_nothing_memorizes():
    # at d = 64 mlp-400k memorizes 4/512 against a null of 0/512: not beyond chance, so "falls with n" skips d = 64
    _, decisions, _ = _failed("A6", a6())
    assert "d = 64" in decisions["A6.a_falls_with_n"].detail and "not tested" in decisions["A6.a_falls_with_n"].detail
    # if nothing memorizes at the smallest n for any d, the rule cannot be tested: inconclusive, not a pass
    g = a6_cells()
    for d in (8, 32, 64):
        g[(d, 64, "mlp-400k", 0.0)][0] = 0.0
    _, decisions, _ = _failed("A6", a6(g))
    assert decisions["A6.a_falls_with_n"].outcome == "inconclusive"


def test_a6_noisy_likelihoods_leave_the_weight_decay_rule_inconclusive():
    _, decisions, _ = _failed("A6", a6_noisy_wd())
    assert decisions["A6.b_weight_decay_helps_both"].outcome == "inconclusive"


# ---- _mixtures ----------------------------------------------------------------------------------------------------

def test_agresti_caffo_handles_zero_counts():
    t = mx.rises("0/512 vs 0/512", (0, 512), (0, 512), 0.01)
    assert t.test["se"] > 0 and t.outcome == "fail"            # a 5-point rise is excluded, not "exactly zero"
    t = mx.rises("0/16 vs 0/16", (0, 16), (0, 16), 0.01)
    assert t.outcome == "inconclusive"                         # 16 samples cannot exclude 5 points


def test_near_null_is_a_non_inferiority_test():
    assert mx.near_null("equal", (200, 2048), (200, 2048), 0.01).outcome == "pass"
    assert mx.near_null("far above", (400, 2048), (200, 2048), 0.01).outcome == "fail"
    assert mx.near_null("few samples", (20, 200), (20, 200), 0.01).outcome == "inconclusive"
    # significantly above the null rate but shown within the 5-point margin: a pass (non-inferiority)
    assert mx.near_null("3 points above", (26000, 200000), (20000, 200000), 0.01).outcome == "pass"
    # significantly above the null rate and not shown within the margin: a fail
    assert mx.near_null("4 points above", (307, 2048), (225, 2048), 0.01).outcome == "fail"


def test_combiners():
    assert mx.all_of(["pass", "pass"]) == "pass" and mx.all_of(["pass", "inconclusive"]) == "inconclusive"
    assert mx.all_of(["inconclusive", "fail"]) == "fail" and mx.all_of([]) == "inconclusive"
    assert mx.any_of(["fail", "pass"]) == "pass" and mx.any_of(["fail", "inconclusive"]) == "inconclusive"
    assert mx.any_of(["fail", "fail"]) == "fail" and mx.any_of([]) == "inconclusive"


def test_loglik_gain_uses_both_standard_errors():
    t = mx.loglik_gain("a vs b", (-48.0, 0.3), (-50.0, 0.4), 0.01)
    assert t.test["se"] == pytest.approx(0.5) and t.outcome == "pass"
    assert mx.loglik_gain("worse", (-55.0, 0.5), (-50.0, 1.0), 0.01).outcome == "fail"


def test_measurements_are_small_and_json_ready():
    import json

    from empirical.fileio import to_jsonable

    for m in (a5(), a6()):
        text = json.dumps(to_jsonable(dataclasses.asdict(m)))
        assert len(text) < 300_000
