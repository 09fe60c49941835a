"""decide() of M1-M4 on synthetic measurements of the controlled pruning experiment (tests/decide_harness.py).

The synthetic experiment: K originals, n shared-noise samples each; memorization masks are built so that the
arms' rates and the same-noise discordance are what a case needs (e.g. importance memorizing 10 points less
than the original, every discordant pair in the paper's direction).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from decide_harness import parametrize_synthetic, verdict_for

from memsep.verify.claims._pruning import ModelEval, OriginalRun, PruningMeasurements, RankRun, paired_drop, rank_test
from memsep.verify.claims.m4 import points, wls_slope

H, HD, D = 16, 32, 128
P0 = 1_000_000


def mask(n: int, ones: int, start: int = 0) -> str:
    """n flags with ``ones`` ones starting at ``start`` (cyclic)."""
    f = ["0"] * n
    for j in range(ones):
        f[(start + j) % n] = "1"
    return "".join(f)


def ev(
    k,
    arm,
    *,
    eta=0.2,
    tm="ddpm",
    draw=0,
    length=500,
    ones=None,
    n=400,
    fd=100.0,
    recall=0.3,
    loss=1.0,
    removed=None,
    start=0,
) -> ModelEval:
    k_rm = 0 if arm in ("original", "control") else math.floor(eta * H) if removed is None else removed
    ones = int(0.7 * n) if ones is None else ones
    return ModelEval(
        seed_index=k,
        arm=arm,
        eta=0.0 if arm in ("original", "control") else eta,
        time_map=tm if arm == "importance" else None,
        draw=draw,
        length=0 if arm == "original" else length,
        heads=[(H - k_rm) // 4 + (1 if i < (H - k_rm) % 4 else 0) for i in range(4)],
        heads_removed=k_rm,
        parameters=P0 - k_rm * HD * (4 * D + 3),
        memorized=ones,
        m=n,
        mask=mask(n, ones, start),
        small_t_loss=loss,
        precision_classifier=0.3,
        recall_classifier=recall,
        fd_classifier=fd,
        fd_inf_classifier=fd,
        precision_pixels=0.3,
        recall_pixels=0.3,
        fd_pixels=5.0,
        fd_inf_pixels=5.0,
        classifier_accuracy=0.9,
    )


def experiment(
    *,
    K=3,
    n=400,
    orig=0.72,
    ctrl=0.72,
    imp=0.60,
    rnd=0.58,
    fd_imp=90.0,
    fd_rnd=(110.0, 112.0, 108.0),
    rec_imp=0.40,
    rec_rnd=(0.25, 0.26, 0.24),
    imp_loss=1.0,
    rnd_losses=None,
    etas_imp=None,
    before=None,
    converged=True,
    jitter=0.0,
    shift=0,
) -> PruningMeasurements:
    """A synthetic experiment; rates are fractions of n (importance below the original etc.); fd/recall per arm;
    etas_imp: {eta: rate after fine-tuning} (default: falling 0.35 per unit eta); before: rate right after pruning;
    shift: the pruned arms' memorized samples start ``shift`` samples later (discordant pairs both ways)."""
    m = PruningMeasurements(
        eta=0.2,
        etas=[0.1, 0.2, 0.3, 0.5],
        primary_length=500,
        lengths=[0, 100, 500],
        time_map="ddpm",
        time_maps=["ddpm", "log"],
        n_samples=n,
        seeds=K,
        random_reps=3,
        experiment_seed=1,
    )
    etas_imp = etas_imp or {e: orig - 0.35 * e for e in m.etas}
    etas_imp[0.2] = imp
    for k in range(K):
        sh = jitter * (k - (K - 1) / 2)
        m.originals.append(
            OriginalRun(
                k,
                100 + k,
                6000,
                10.0,
                [[s, 2.0 - s / 10000] for s in range(250, 6001, 250)],
                {
                    "rate": 0.01 if converged else 0.1,
                    "rate_se": 0.005,
                    "converged": converged,
                    "from_step": 4250,
                    "points": 8,
                },
                H,
                HD,
                D,
            )
        )
        m.evals.append(ev(k, "original", ones=int((orig + sh) * n), n=n, fd=95.0, recall=0.3))
        for length in (0, 100, 500):
            m.evals.append(ev(k, "control", length=length, ones=int((ctrl + sh) * n), n=n, fd=96.0))
        for eta, rate in etas_imp.items():
            r_after = rate + sh
            r_before = (before if before is not None else rate - 0.1) + sh
            for length, r in ((0, r_before), (500, r_after)):
                m.evals.append(
                    ev(
                        k,
                        "importance",
                        eta=eta,
                        length=length,
                        ones=int(r * n),
                        n=n,
                        fd=fd_imp,
                        recall=rec_imp,
                        start=shift,
                    )
                )
        m.evals.append(ev(k, "importance", tm="log", length=500, ones=int((imp + 0.02 + sh) * n), n=n, fd=fd_imp))
        for r, (f_, rc) in enumerate(zip(fd_rnd, rec_rnd)):
            for length in (0, 500):
                m.evals.append(
                    ev(
                        k,
                        "random",
                        draw=r,
                        length=length,
                        ones=int((rnd + sh) * n),
                        n=n,
                        fd=f_ + k,
                        recall=rc,
                        start=shift,
                    )
                )
        rl = list(rnd_losses if rnd_losses is not None else np.linspace(2.0, 6.0, 39))
        sc = [np.array([1.0, 2.0, 3.0, 4.0]) / np.linalg.norm([1.0, 2.0, 3.0, 4.0]) for _ in range(4)]
        m.ranks.append(
            RankRun(
                k,
                0.5,
                rl,
                {"ddpm": imp_loss, "log": imp_loss * 1.1},
                {"ddpm": ["0:0", "1:0", "2:0"], "log": ["0:0", "1:0", "3:0"]},
                {"ddpm": [v.tolist() for v in sc], "log": [v.tolist() for v in sc]},
            )
        )
    return m


SYNTHETIC = {
    "M1": {
        "CONFIRMED": experiment,  # importance below all 39 random draws
        "NOT CONFIRMED": lambda: experiment(imp_loss=10.0),  # above all of them: significantly worse
        "INCONCLUSIVE": lambda: experiment(imp_loss=4.0),  # in the middle
    },
    "M2": {
        "CONFIRMED": experiment,
        # the prunings memorize MORE than the original and the control: the paper's drop is excluded
        "NOT CONFIRMED": lambda: experiment(imp=0.78, rnd=0.79),
        # 40 samples per original: a 3-point drop cannot be told from 0 or from 5.24 points
        "INCONCLUSIVE": lambda: experiment(
            n=40,
            imp=0.675,
            rnd=0.675,
            shift=8,
            fd_imp=105.0,
            fd_rnd=(80.0, 110.0, 140.0),
            rec_imp=0.26,
            rec_rnd=(0.15, 0.25, 0.35),
        ),
    },
    "M3": {
        "CONFIRMED": experiment,
        "NOT CONFIRMED": lambda: experiment(imp=0.80),
        "INCONCLUSIVE": lambda: experiment(n=40, imp=0.675, shift=8),
    },
    "M4": {
        "CONFIRMED": experiment,
        # memorization RISES with eta, before and after fine-tuning
        "NOT CONFIRMED": lambda: experiment(
            etas_imp={0.1: 0.74, 0.2: 0.76, 0.3: 0.78, 0.5: 0.80}, imp=0.76, before=0.75
        ),
        "INCONCLUSIVE": lambda: experiment(
            n=20, etas_imp={0.1: 0.72, 0.2: 0.70, 0.3: 0.70, 0.5: 0.68}, imp=0.70, before=0.70
        ),
    },
}

test_decide_on_synthetic_measurements = parametrize_synthetic(SYNTHETIC)


def test_each_pruning_rule_fails_on_its_own_violation():
    base = experiment()
    assert all(a.outcome == "pass" for c in ("M1", "M2", "M3", "M4") for a in verdict_for(c, base)[1])
    broken_surgery = experiment()
    broken_surgery.evals[5].parameters += 1
    unnormalized = experiment()
    unnormalized.ranks[0].importance_scores["ddpm"][1] = [0.5, 0.5, 0.5, 0.6]
    wrong_heads = experiment()
    wrong_heads.ranks[0].removed["ddpm"] = ["0:3", "1:0", "2:0"]  # head 3 of layer 0 is the MOST important
    cases = {
        "M1.surgery": broken_surgery,
        "M1.importance_normalized": unnormalized,
        "M1.least_important_removed": wrong_heads,
        "M1.rationale_small_t": experiment(imp_loss=10.0),
        "M2.importance_lowers_memorization": experiment(imp=0.80),
        "M2.random_lowers_memorization": experiment(rnd=0.80),
        "M2.importance_vs_control": experiment(orig=0.80, ctrl=0.60, imp=0.66, rnd=0.50),
        "M2.random_vs_control": experiment(orig=0.80, ctrl=0.60, rnd=0.66),
        "M2.importance_better_fd": experiment(fd_imp=150.0),
        "M2.importance_better_recall": experiment(rec_imp=0.05),
        "M3.same_noise_paired": experiment(imp=0.80),
        "M3.similar_quality": experiment(fd_imp=200.0, fd_rnd=(220.0, 222.0, 218.0), jitter=0.0),
        "M4.trend_after_finetune": experiment(etas_imp={0.1: 0.74, 0.2: 0.76, 0.3: 0.78, 0.5: 0.80}, imp=0.76),
        "M4.trend_before_finetune": experiment(before=0.95),
    }
    for key, m in cases.items():
        verdict, decisions = verdict_for(key.split(".")[0], m)
        failed = [a.key for a in decisions if a.outcome == "fail"]
        assert key in failed, (key, [(a.key, a.outcome, a.detail[:200]) for a in decisions])
        assert verdict == "NOT CONFIRMED"


def test_paired_drop_pools_same_noise_pairs_over_originals():
    m = experiment(K=2, n=100, orig=0.70, imp=0.60)
    d = paired_drop(m, "original", "importance")
    # 10 discordant pairs of 100 per original, all in the same direction: d = 0.1, se = sqrt(0.1 - 0.01) / sqrt(200)
    assert d["pairs"] == 200 and abs(d["estimate"] - 0.10) < 1e-12
    assert abs(d["se"] - np.sqrt(0.1 * 0.9 * 200 / 199) / np.sqrt(200)) < 1e-12
    assert d["per_seed"] == pytest.approx([0.10, 0.10])


def test_rank_test_is_exact_and_its_power_grows_with_draws():
    rt = rank_test([0, 0, 0], 39, 0.05)
    assert rt["p_low"] == pytest.approx((1 / 40) ** 3) and rt["p_high"] == 1.0
    assert rank_test([39, 39, 39], 39, 0.05)["p_high"] == pytest.approx((1 / 40) ** 3)
    one = rank_test([0], 9, 0.05)  # with 9 draws the smallest one-sided p is 1/10 > 0.05
    assert one["p_low"] == pytest.approx(0.1) and one["power"] == 0.0
    assert rank_test([5, 5, 5], 39, 0.05)["power"] > rank_test([5], 39, 0.05)["power"]


def test_m4_slope_is_weighted_least_squares():
    m = experiment(n=400)
    pts = points(m, 500)
    b, se = wls_slope(pts)
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    w = 1 / np.array([p[2] for p in pts])
    ref = np.polyfit(x, y, 1, w=np.sqrt(w))
    assert b == pytest.approx(ref[0], rel=1e-10) and se > 0
