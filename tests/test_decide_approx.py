"""decide() of A3 and A4 on synthetic measurements (tests/decide_harness.py), and the t rule they share."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from decide_harness import parametrize_synthetic, verdict_for

from memsep.verify.claims._approx import pooled_log_variance, replicate_mean, t_rule, welch
from memsep.verify.claims.a3 import A3Measurements, Fit, SensFit, SlopeBootstrap, TCFit, WStar, replicate_slopes
from memsep.verify.claims.a4 import A4Measurements, DupCase, DupSeed, WStarRef, rate_ratio
from memsep.verify.stats import directional_rule

NS = [8, 16, 32, 64, 128]
NOISE = (1.0, 1.06, 0.95)  # replicate-to-replicate factors on W* and on errors (log sd about 0.05)


# ---- A3 -------------------------------------------------------------------------------------------------------------


def a3(
    emp=lambda n: 3.0 * n**0.95,
    true=lambda n: 4.0 * n**0.1,
    w_inf=7.0,
    sens_emp=(0.6, 0.045),
    sens_true=(0.0023, 0.003),
    tc_true=0.01,
    tc_emp=0.75,
    tc=True,
    noise=NOISE,
) -> A3Measurements:
    """A3 measurements: W*(n_j, r) = law(n_j) x noise[(j + r) % R] (so replicate slopes differ); errors at
    (t_min, t_max) of the sensitivity fits; time-conditioned errors of the wide network at t (true: every n,
    empirical: the largest n)."""
    reps = len(noise)
    ws = [
        WStar(tg, n, r, law(n) * noise[(j + r) % reps], law(n) ** 2, "ok")
        for tg, law in (("empirical", emp), ("true", true))
        for j, n in enumerate(NS)
        for r in range(reps)
    ]
    ws += [WStar("true", None, r, w_inf * noise[r], w_inf**2, "ok") for r in range(reps)]
    fits = [
        Fit(tg, n, r, w, w * w, e * noise[r], 1e-3, 1.0, e, e, 1.0)
        for tg in ("empirical", "true")
        for n in NS
        for r in range(reps)
        for w, e in ((16, 0.5), (32, 0.2))
    ]
    sens = [
        SensFit("empirical", 0.01, sens_emp[0], 1e-3, 1.0),
        SensFit("empirical", 1.0, sens_emp[1], 1e-4, 1.0),
        SensFit("true", 0.01, sens_true[0], 1e-5, 1.0),
        SensFit("true", 1.0, sens_true[1], 1e-5, 1.0),
    ]
    tcf = []
    if tc:
        for r in range(min(2, reps)):
            for n in (8, 64):
                tcf += [
                    TCFit("true", n, 32, r, 0.5 * noise[r], 0.5 * noise[r]),
                    TCFit("true", n, 256, r, tc_true * noise[r], tc_true * noise[r]),
                    TCFit("empirical", n, 32, r, 0.9 * noise[r], 0.9 * noise[r]),
                    TCFit("empirical", n, 256, r, tc_emp * noise[r], tc_emp * noise[r]),
                ]
    boots = [SlopeBootstrap(tg, 0.5, [0.4, 0.6], 0.95, 100, 0.05, 1.0, [0.8, 1.2]) for tg in ("empirical", "true")]
    return A3Measurements(
        setting={},
        t=0.05,
        eps=0.25,
        ns=list(NS),
        reps=reps,
        search="bracket",
        fits=fits,
        wstar=ws,
        slopes=boots,
        sens_n=32,
        sens_width=64,
        sens=sens,
        tc_range=[0.01, 4.0],
        tc_ns=[8, 64] if tc else [],
        tc_widths=[32, 256] if tc else [],
        tc=tcf,
        emp_target_sq=100.0,
    )


# ---- A4 -------------------------------------------------------------------------------------------------------------


def _w(n):
    return 3.0 * n**0.95


def mem_seeds(ratio=14.0, base=1.2, reps=3, n_dup=8, n_single=56, factor=8, m=512, seed=0) -> list[DupSeed]:
    """Duplicates-experiment replicates: per-point copies Poisson(base) for single points and Poisson(base x ratio)
    for the n_dup points written ``factor`` times (fixed generator: the same numbers every run)."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(reps):
        mult = np.array([factor] * n_dup + [1] * n_single)
        copies = np.concatenate([rng.poisson(base * ratio, n_dup), rng.poisson(base, n_single)])
        out.append(
            DupSeed(
                rep=r,
                multiplicity=mult.tolist(),
                copies=copies.tolist(),
                null_copies=[0] * mult.size,
                m=m,
                memorized=int(copies.sum()),
                null_memorized=0,
            )
        )
    return out


def a4(
    dup_law=lambda n, m: _w(n - m), exact=1e-13, noise=NOISE, dup_noise=(0.97, 1.0, 1.04), mem=None
) -> A4Measurements:
    """A4 measurements: W*(n distinct) = _w(n) x noise[r]; W* with m copies = dup_law(n, m) x dup_noise[r]; the
    duplicates experiment ``mem`` (default: mem_seeds(), copy-rate ratio 14 as measured at quick)."""
    reps = len(noise)
    ref = [WStarRef(n, r, _w(n) * noise[r], "ok") for n in (8, 16, 32, 64) for r in range(reps)]
    dup = [
        DupCase(m, [dup_law(64, m) * dup_noise[r] for r in range(reps)], ["ok"] * reps, [-0.1, 0.1], 100)
        for m in (32, 48)
    ]
    return A4Measurements(
        n=64,
        t=0.05,
        eps=0.25,
        reps=reps,
        d=8,
        exact_times=[1e-4, 1.0],
        exact_worst=[exact] * 4,
        ref=ref,
        dup=dup,
        mem=mem_seeds() if mem is None else mem,
    )


SYNTHETIC = {
    "A3": {
        "CONFIRMED": a3,
        # W* of the empirical score flat in n (slope 0.1, tight): it does not grow like n, nor faster than the true's
        "NOT CONFIRMED": lambda: a3(emp=lambda n: 30.0 * n**0.1),
        # the time-conditioned networks were not trained (the ci size)
        "INCONCLUSIVE": lambda: a3(tc=False),
    },
    "A4": {
        "CONFIRMED": a4,
        # W* with copies is W* of all n rows (r = 1): duplicates do not make the score easier to fit
        "NOT CONFIRMED": lambda: a4(dup_law=lambda n, m: _w(n)),
        # r = 0.5 +- a lot: replicates too noisy to place W* between n - m and n
        "INCONCLUSIVE": lambda: a4(dup_law=lambda n, m: math.sqrt(_w(n) * _w(n - m)), dup_noise=(1.0, 2.0, 0.5)),
    },
}

test_decide_on_synthetic_measurements = parametrize_synthetic(SYNTHETIC)


def test_each_approx_rule_fails_on_its_own_violation():
    """Every rule key of A3 and A4 fails on the violation it is about, and no other rule fails."""
    cases = {
        # W* grows like n^2.5: faster than 'about 1' allows (Theorem 5.1: W1 = O~(n))
        "A3.empirical_slope": a3(emp=lambda n: 0.1 * n**2.5),
        # the true score's W*(n) is twice its population value at every n
        "A3.true_bounded": a3(w_inf=2.0),
        # the true score's W* grows as fast as the empirical score's (slopes 0.9; bounded only by a huge W*(P_t))
        "A3.slopes_differ": a3(emp=lambda n: 3.0 * n**0.9, true=lambda n: 3.0 * n**0.9, w_inf=1000.0),
        # the empirical error grows x2 from t = 1 to t = 0.01, the true x1: ratio 2, significantly below 4
        "A3.sigma_sensitivity": a3(sens_emp=(0.2, 0.1), sens_true=(0.003, 0.003)),
        # the wide time-conditioned network does not fit the true score either (error 0.5 > eps = 0.25 at every n)
        "A3.time_conditioned": a3(tc_true=0.5),
        "A4.dedup_identity": a4(exact=1e-6),
        "A4.width_tracks_distinct": a4(dup_law=lambda n, m: _w(n)),
        # duplicated points copied no more often per point than single ones (ratio 1): the upper bound excludes 2
        "A4.duplicates_memorized_more": a4(mem=mem_seeds(ratio=1.0)),
    }
    for key, m in cases.items():
        verdict, decisions = verdict_for(key.split(".")[0], m)
        failed = [a.key for a in decisions if a.outcome == "fail"]
        assert failed == [key], (key, [(a.key, a.outcome, a.detail) for a in decisions])
        assert verdict == "NOT CONFIRMED"


def test_inconclusive_when_replicates_are_too_noisy_or_too_few():
    # replicate factors 0.4 to 3 on W* and on errors: the bound and the sensitivity cannot be told from noise
    verdict, dec = verdict_for("A3", a3(noise=(1.0, 3.0, 0.4)))
    by = {a.key: a.outcome for a in dec}
    assert by["A3.true_bounded"] == by["A3.sigma_sensitivity"] == "inconclusive" and verdict == "INCONCLUSIVE", by
    # one replicate: no standard error, no decision (never a pass or a fail on a single fit per point)
    _, dec = verdict_for("A4", a4(noise=(1.0,), dup_noise=(1.0,)))
    assert {a.key: a.outcome for a in dec}["A4.width_tracks_distinct"] == "inconclusive"
    _, dec = verdict_for("A3", a3(noise=(1.0,)))
    by = {a.key: a.outcome for a in dec}
    assert by["A3.empirical_slope"] == by["A3.true_bounded"] == by["A3.slopes_differ"] == "inconclusive"


def _mem_outcome(mem) -> tuple[str, dict]:
    _, dec = verdict_for("A4", a4(mem=mem))
    a = {x.key: x for x in dec}["A4.duplicates_memorized_more"]
    return a.outcome, a.test or {}


def test_duplicates_rule_pass_fail_inconclusive():
    # the measured size of the effect (ratio 14, 3 replicates of 512 samples): pass, powered
    o, rec = _mem_outcome(mem_seeds())
    assert o == "pass" and rec["power"] >= 0.8 and rec["ratio_interval"][0] > 2
    # a ratio of 2 exactly (the effect looked for): the test has power; it passes here
    o, rec = _mem_outcome(mem_seeds(ratio=2.0, base=3.0))
    assert o == "pass" and rec["power"] >= 0.8, rec
    # copy rates proportional to nothing: ratio 1 -> fail (upper bound below 2); ratio 0.5 -> fail
    for ratio in (1.0, 0.5):
        o, rec = _mem_outcome(mem_seeds(ratio=ratio))
        assert o == "fail" and rec["ratio_interval"][1] < 2, (ratio, rec)
    # too few copies (the model hardly memorizes): inconclusive, with power below 0.8
    o, rec = _mem_outcome(mem_seeds(ratio=2.0, base=0.02, reps=2))
    assert o == "inconclusive" and rec["power"] < 0.8, rec
    # no copies at all: ratio 1 with a huge se -> inconclusive (never a fail on no data)
    o, rec = _mem_outcome(mem_seeds(base=0.0))
    assert o == "inconclusive", rec
    # the experiment was not run, or had no duplicated points
    assert _mem_outcome([])[0] == "inconclusive"
    flat = [DupSeed(0, [1] * 10, [3] * 10, [0] * 10, 100, 30, 0)]
    assert _mem_outcome(flat)[0] == "inconclusive"
    # decided also when the width experiment has no duplication case
    _, dec = verdict_for("A4", dataclasses.replace(a4(), dup=[]))
    assert {a.key: a.outcome for a in dec} == {
        "A4.dedup_identity": "pass",
        "A4.width_tracks_distinct": "inconclusive",
        "A4.duplicates_memorized_more": "pass",
    }


def test_rate_ratio_estimator():
    # one replicate, Poisson-like counts (phi floored at 1): L = log((C_D + a_D) / N_D) - log((C_S + a_S) / N_S)
    s = DupSeed(0, [4] * 2 + [1] * 6, [5, 5, 1, 1, 1, 1, 1, 1], [0] * 8, 100, 16, 0)
    rr = rate_ratio([s], 4)
    assert rr["phi_dup"] == rr["phi_single"] == 1.0 and math.isinf(rr["df"])
    want = math.log((10 + 0.25) / 2) - math.log((6 + 0.75) / 6)
    assert rr["log_ratio"] == pytest.approx(want)
    assert rr["se"] == pytest.approx(math.sqrt(1 / 10.25 + 1 / 6.75))
    # no copies at all: ratio 1 (the pseudo-copy is split by group size)
    z = DupSeed(0, [4] * 2 + [1] * 6, [0] * 8, [0] * 8, 100, 0, 0)
    assert rate_ratio([z], 4)["log_ratio"] == pytest.approx(0.0)
    # overdispersed counts between points inflate the se (phi > 1, finite df)
    o = DupSeed(0, [4] * 4 + [1] * 8, [0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 8], [0] * 12, 100, 48, 0)
    ro = rate_ratio([o], 4)
    assert ro["phi_dup"] > 1 and ro["phi_single"] > 1 and math.isfinite(ro["df"])
    # pooling two identical replicates halves the variance
    two = rate_ratio([s, dataclasses.replace(s, rep=1)], 4)
    assert two["log_ratio"] == pytest.approx(rr["log_ratio"]) and two["se"] == pytest.approx(rr["se"] / math.sqrt(2))
    assert two["Q"] == pytest.approx(0.0) and two["Q_df"] == 1
    # the null counts are read with null=True
    assert rate_ratio([s], 4, null=True)["log_ratio"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="factor"):
        rate_ratio([s], 1)
    with pytest.raises(ValueError, match="mem"):
        rate_ratio([DupSeed(0, [4, 1], [1], [0], 10, 1, 0)], 4)


def test_replicate_slopes_average_to_the_slope_of_the_mean():
    rng = np.random.default_rng(0)
    logw = rng.normal(size=(5, 3)) + np.log(NS)[:, None]
    assert np.isclose(replicate_slopes(NS, logw).mean(), np.polyfit(np.log(NS), logw.mean(1), 1)[0])


def test_t_rule_with_infinite_df_is_the_directional_rule():
    for est, se in ((0.9, 0.1), (0.1, 0.2), (0.2, 0.05), (-0.3, 0.1), (0.5, 0.0)):
        o1, t1 = t_rule(est, se, math.inf, 0.05, effect=0.5, effect_source="s")
        o2, t2 = directional_rule(est, se, 0.5, 0.05, effect_source="s")
        assert o1 == o2, (est, se)
        for k in ("z", "p", "power", "mde"):
            assert t1[k] == pytest.approx(t2[k]), (k, est, se)
        assert t1["interval"] == pytest.approx(t2["interval"])


def test_t_rule_levels_and_threshold_semantics():
    # t(2) at one-sided 0.05 is 2.92: a t statistic of 2.5 is not significant (it would be under the normal's 1.64)
    o, rec = t_rule(2.5, 1.0, 2.0, 0.05, effect=5.0, effect_source="s")
    assert o == "inconclusive" and rec["t_crit"] == pytest.approx(2.919986, rel=1e-5)
    # threshold rule: pass significantly above, fail significantly below, inconclusive between
    kw = dict(threshold=1.0, fail_at=1.0, effect=2.0, effect_source="s")
    assert t_rule(1.5, 0.1, 10.0, 0.05, **kw)[0] == "pass"
    assert t_rule(0.5, 0.1, 10.0, 0.05, **kw)[0] == "fail"
    assert t_rule(1.05, 0.1, 10.0, 0.05, **kw)[0] == "inconclusive"
    assert t_rule(1.5, float("nan"), float("nan"), 0.05, **kw)[0] == "inconclusive"
    with pytest.raises(ValueError):
        t_rule(1.0, 0.1, 3.0, 0.05, effect=0.5, effect_source="s", threshold=1.0)


def test_replicate_statistics():
    mean, se, df = replicate_mean([1.0, 2.0, 3.0])
    assert (mean, df) == (2.0, 2.0) and se == pytest.approx(1 / math.sqrt(3))
    d, se, df = welch([1.0, 2.0, 3.0], [0.0, 0.0, 1.0])
    assert d == pytest.approx(5 / 3) and se == pytest.approx(math.sqrt(1 / 3 + 1 / 9))
    assert 2.0 <= df <= 4.0
    v, df = pooled_log_variance([[1.0, math.e], [5.0], [1.0, 1.0, 1.0]])
    assert df == 3.0 and v == pytest.approx(0.5 / 3)
    assert dataclasses.is_dataclass(a3()) and dataclasses.is_dataclass(a4())
