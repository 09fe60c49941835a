"""The test suite is itself a verification run: every registered claim's check runs at the ``ci`` size, and
every one of its rules must pass, by key, except the documented disagreements (KNOWN_FAILURES, which must
fail) and the documented scale exemptions (CI_INCONCLUSIVE, which may be inconclusive). Negative controls
(here for the identity machinery, and tests/test_decide_*.py for every claim's rules) show that the rules do
fail when what they test is false."""

from __future__ import annotations

import numpy as np
import pytest

from memsep.theory import EmpiricalDistribution, GaussianMixture, dsm_loss_difference, fisher_divergence, loss_gap
from memsep.verify.claims._identity import mc_case, quad_case
from memsep.verify.registry import REGISTRY, claim_ids
from memsep.verify.runner import run_claim
from memsep.verify.stats import bonferroni_z

# Documented disagreements with the paper, by rule key (README "Findings that disagree with the paper"): these
# rules fail by design of the measurement, and must keep failing: a change that makes one pass is news and should
# update this table, the README and REPORT.md.
KNOWN_FAILURES = {
    # Figure 3b's "at a larger n strong weight decay hurts" with the likelihood read as the model's own likelihood of
    # held-out draws (the primary reading): the strongest decay RAISES it, at ci (d = 8, n = 64, wd 1: ELBO -53 against
    # -78, seeds 0-2), at quick (d = 32, n = 256, wd 0.3: -406 +- 14 against -549 +- 15, 2 seeds) and at standard
    # (the same cells trained to a plateau or 12,000 steps: -395 +- 16 against -763 +- 26)
    "A6": {"A6.b_strong_decay_hurts_at_large_n"},
}
# Rules that fail at the ci size, by what that size cannot reach or resolve (measured at ci seeds 0, 1, 2; README
# "Documented disagreements and exemptions"). They must fail there, so that a change of behaviour is seen.
CI_KNOWN_FAILURES = {
    # 2,500 training steps and widths 4, 16, 128: no width comes within 0.5 nat of the truth's held-out likelihood
    # (width 16: deficit 3.3 nats, se 0.24)
    "A5": {"A5.intermediate_generalizes"},
    # the likelihood read as mean log p_data(x_gen) (the secondary reading) cannot be raised by weight decay: a
    # memorized sample copies a training point, itself a draw from p_data, so decay lowers memorization only by
    # degrading the fit (at quick it fails too: QUICK_KNOWN_FAILURES)
    "A6": {"A6.b_weight_decay_helps_both_samples"},
}
# Scale exemptions (README "Documented disagreements and exemptions"): rules the ci size cannot decide. They may be
# INCONCLUSIVE there (never NOT CONFIRMED); every other rule must pass at ci.
CI_INCONCLUSIVE = {
    # ci trains no time-conditioned networks (tc_reps = 0); its other rules are t-tests over 2 replicates (1 degree
    # of freedom, critical t 6.31 at level 0.05): they pass at ci by thin margins (t = 7.1, 8.1, 5.6 against 6.31,
    # 6.31, 4.70 when measured), which another CPU's rounding may tip
    "A3": {"A3.time_conditioned", "A3.empirical_slope", "A3.true_bounded", "A3.slopes_differ"},
    "A4": {"A4.width_tracks_distinct"},  # as A3: 2 replicates, measured t = 6.66 against 6.31
    # one seed, 256 held-out draws: the held-out ELBO's se (7.5 nats at d = 8) hides a 1-nat gain (measured +5.7)
    "A6": {"A6.b_weight_decay_helps_both"},
    # 4 training digits, 1 original, 100 fine-tuning steps, 128 samples: the paper's 5-point effects are far below
    # what this size can detect (power 0.2-0.4 at the Table 1 effects), and with one original the quality contrasts
    # have no error estimate between models
    "M1": {"M1.rationale_small_t"},
    "M2": {
        "M2.importance_lowers_memorization",
        "M2.random_lowers_memorization",
        "M2.importance_vs_control",
        "M2.random_vs_control",
        "M2.importance_better_fd",
        "M2.importance_better_recall",
    },
    "M3": {"M3.same_noise_paired", "M3.similar_quality"},
}


@pytest.fixture(scope="module")
def pruning_out(tmp_path_factory):
    """One output folder for M1-M4: they share the pruning experiment (one original DiT), as in `memsep run`."""
    return tmp_path_factory.mktemp("pruning")


def check_outcomes(claim_id: str, rec: dict, may_be_inconclusive: set, also_failing: set = frozenset()) -> None:
    """Every rule passes, except the known failures (which must fail) and the exempt ones (pass or inconclusive)."""
    res = rec["result"]
    assert res["verdict"] != "ERROR", rec["error"]
    known = KNOWN_FAILURES.get(claim_id, set()) | set(also_failing)
    outcome = {a["key"]: a["outcome"] for a in res["assertions"]}
    assert set(outcome) == set(REGISTRY[claim_id].rules)
    wrong = {
        k: o
        for k, o in outcome.items()
        if (k in known and o != "fail")
        or (k not in known and o == "fail")
        or (o == "inconclusive" and k not in may_be_inconclusive)
    }
    details = {a["key"]: a["detail"] for a in res["assertions"]}
    assert not wrong, "\n".join(f"{k}: {o}: {details[k]}" for k, o in wrong.items())


@pytest.mark.parametrize("claim_id", claim_ids())
def test_claim_at_ci_size(claim_id, tmp_path, pruning_out):
    out = pruning_out if claim_id.startswith("M") else tmp_path
    rec = run_claim(REGISTRY[claim_id], "ci", seed=0, out=out)
    check_outcomes(claim_id, rec, CI_INCONCLUSIVE.get(claim_id, set()), CI_KNOWN_FAILURES.get(claim_id, set()))
    assert (out / "results" / f"{claim_id}.json").is_file()
    for fig in rec["result"]["figures"]:
        assert (out / fig).stat().st_size > 1000


def test_every_claim_has_its_profiles():
    """ci, quick and full everywhere; standard (the decisive size: pruning, and the mixture experiments trained to a
    plateau) only where a claim needs one, else quick."""
    for cid in claim_ids():
        c = REGISTRY[cid]
        assert {"ci", "quick", "full"} <= set(c.configs) <= {"ci", "quick", "standard", "full"}
        assert c.config("standard") is c.configs.get("standard", c.configs["quick"])
    assert {cid for cid in claim_ids() if "standard" in REGISTRY[cid].configs} == {"A5", "A6", "M1", "M2", "M3", "M4"}


# ---- negative controls: the decision rules reject a false identity --------------------------


@pytest.fixture
def setting():
    rng = np.random.default_rng(7)
    mix = GaussianMixture.isotropic([0.5, 0.5], [[-1.0, 0.0], [1.5, 0.5]], [0.3, 0.6])
    data = mix.sample(6, rng)
    return mix, data, EmpiricalDistribution(data)


def test_quadrature_rule_rejects_a_wrong_right_hand_side(setting):
    mix, data, emp = setting
    t = 0.1
    lhs = lambda **kw: loss_gap(data, mix, t, **kw)  # noqa: E731
    wrong = lambda **kw: fisher_divergence(emp, mix, 1.1 * t, **kw)  # noqa: E731  (wrong time)
    case = quad_case({"t": t}, lhs, wrong, rtol=1e-11)
    assert not case.passed(1e-8)
    good = quad_case({"t": t}, lhs, lambda **kw: fisher_divergence(emp, mix, t, **kw), rtol=1e-11)
    assert good.passed(1e-8)


def test_monte_carlo_rule_rejects_a_score_that_is_not_the_minimiser(setting):
    # If the "empirical score" in the DSM difference is replaced by a slightly wrong score, the
    # paired residual no longer has mean zero and the z-test must notice at this sample size.
    mix, data, emp = setting
    t = 0.1
    wrong_e = lambda x, t_: emp.score(x, t_) * 1.3  # noqa: E731
    lhs = lambda **kw: dsm_loss_difference(data, mix.score, wrong_e, t, **kw)  # noqa: E731
    rhs = lambda **kw: fisher_divergence(emp, mix, t, **kw)  # noqa: E731
    case = mc_case({"t": t}, lhs, rhs, n_draws=20000, seed=3)
    assert not case.identity_ok(bonferroni_z(1e-3, 1))
    ok = mc_case({"t": t}, lambda **kw: loss_gap(data, mix, t, **kw), rhs, n_draws=20000, seed=3)
    assert ok.identity_ok(bonferroni_z(1e-3, 1))


# Rules that fail at the quick size, as at ci (measured at run seed 0, df3fbeb, one seed per A6 cell): they must fail.
QUICK_KNOWN_FAILURES = {
    # the samples reading (see CI_KNOWN_FAILURES): decay lowers mean log p_data(x_gen) at every strength (n = 64:
    # gains -5.7, -12.0, -141.5 nats at wd 0.03, 0.1, 0.3, upper bounds -2.4, -8.2, -112.4). With 2 seeds per cell
    # (before 2026-12-07) wd 0.1's two seeds (-61.6 and -86.0 nats) had left it inconclusive
    "A6": {"A6.b_weight_decay_helps_both_samples"},
}
# Rules the quick size cannot decide (README "Documented disagreements and exemptions" says why, with the numbers).
QUICK_INCONCLUSIVE = {
    # one replicate of 512 samples per width (2 before 2026-12-07): the best widths' held-out deficits (0.55 +- 0.21
    # and 0.54 +- 0.20 nats at widths 12 and 16, run seed 0, df3fbeb; tolerance 0.5) are not decisive at the rule's
    # Bonferroni level (with 2 replicates at 30c5da6: 0.39 +- 0.32 at run seed 0; the rule failed at run seed 2)
    "A5": {"A5.intermediate_generalizes"},
    # one seed per cell: wd 0.03's held-out ELBO gain (-18.6 nats, upper bound +15.6) is not decisive (wd 0.1 and
    # 0.3 fail; the rule needs one decay that passes both); the standard profile (2 seeds, trained to a plateau) decides
    "A6": {"A6.b_weight_decay_helps_both"},
    # one original model at quick (the decisive size is the standard profile): provisional
    "M1": {"M1.rationale_small_t"},
    "M2": set(CI_INCONCLUSIVE["M2"]),
    "M3": set(CI_INCONCLUSIVE["M3"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", claim_ids())
def test_claim_at_quick_size(claim_id, tmp_path):
    """The quick profile (what `memsep run` does by default), selected with `pytest -m slow`."""
    rec = run_claim(REGISTRY[claim_id], "quick", seed=0, out=tmp_path)
    check_outcomes(claim_id, rec, QUICK_INCONCLUSIVE.get(claim_id, set()), QUICK_KNOWN_FAILURES.get(claim_id, set()))


def test_pruning_stages_recover_when_model_weights_are_missing(pruning_out):
    # Model weights (.pt) are not kept in git. With only the JSON points and the training checkpoint left, a
    # pruned stage that must be recomputed rebuilds the original from its checkpoint, bit-identically.
    import json

    import torch

    from memsep.empirical.dit import load_dit
    from memsep.empirical.prune_experiment import arm_point, run_stage
    from memsep.empirical.sweep import record_key
    from memsep.verify.claims._pruning import CONFIGS, SWEEP_OWNER

    run_claim(REGISTRY["M1"], "ci", seed=0, out=pruning_out)  # read back when the ci test ran first
    folder = pruning_out / "results" / "sweeps" / SWEEP_OWNER / "ci" / "stages"
    originals = [p for p in folder.glob("*.json") if '"stage": "original"' in p.read_text()]
    assert len(originals) == 1
    weights = originals[0].with_suffix(".pt")
    before = load_dit(weights).state_dict()
    weights.unlink()
    cfg = CONFIGS["ci"]
    seed = json.loads(originals[0].read_text())["point"]["seed"]
    point = arm_point(cfg.setting, seed, "random", cfg.eta, draw=7)
    res = run_stage(point, folder)
    after = load_dit(weights).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert res["heads_removed"] == int(cfg.eta * sum(load_dit(weights).cfg.heads))
    assert (folder / f"{record_key(point)}.pt").is_file()
    assert set(res["evals"]) == {"0", str(cfg.setting.finetune.steps)}  # right after pruning and after fine-tuning
