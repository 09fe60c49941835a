"""The test suite is itself a verification run: every registered claim's check runs at the
``ci`` size and must be CONFIRMED. Later claims join by registering. Negative controls show
that the decision rules of the checks do fail when the identity they test is false."""

from __future__ import annotations

import numpy as np
import pytest

from theory import EmpiricalDistribution, GaussianMixture, dsm_loss_difference, fisher_divergence, loss_gap
from verify.claims._identity import mc_case, quad_case
from verify.registry import REGISTRY, claim_ids
from verify.runner import run_claim
from verify.stats import bonferroni_z


# Documented disagreements with the paper: the sub-checks that fail by design of the measurement, with the
# finding that explains them (REPORT.md shows the numbers). Every OTHER sub-check of these claims must pass,
# and these must keep failing: a change that makes one pass is news and should update this table.
KNOWN_FAILURES = {
    # The likelihood of the paper's Figure 3b, read as the mean of log p_data(x_gen) (PAPER.md: inferred), cannot
    # be lowered by memorization: a memorized sample is a copy of a training point, itself a draw from p_data. Weight
    # decay lowers memorization only by degrading the fit, which lowers the likelihood (measured at ci and quick).
    "A6": ("a moderate width with weight decay has lower memorization AND higher likelihood",),
}
# Sub-checks that the ci size is too small to show (they may pass or fail there; REPORT.md shows the quick
# profile's verdict and numbers, and the full profile is the paper's scale). Every other sub-check must pass.
SCALE_LIMITED = {
    # 100 fine-tuning steps of a 180K-parameter DiT on 4 digits restore the memorization that pruning removes
    # (measured: 77% original, 77% importance-pruned, 70% random at eta = 0.25), so Table 1's memorization and
    # quality comparisons and Figure 4's paired test are not decided at this size.
    "M2": ("lowers memorization", "higher recall"),
    "M3": ("is memorized more often than the pruned model",),
}


@pytest.fixture(scope="module")
def pruning_out(tmp_path_factory):
    """One output folder for M1-M4: they share the pruning experiment (one original DiT), as in `memsep run`."""
    return tmp_path_factory.mktemp("pruning")


@pytest.mark.parametrize("claim_id", claim_ids())
def test_claim_is_confirmed_at_ci_size(claim_id, tmp_path, pruning_out):
    out = pruning_out if claim_id.startswith("M") else tmp_path
    rec = run_claim(REGISTRY[claim_id], "ci", seed=0, out=out)
    res = rec["result"]
    known = KNOWN_FAILURES.get(claim_id, ())
    allowed = known + SCALE_LIMITED.get(claim_id, ())
    failed = [a for a in res["assertions"] if not a["passed"]]
    unexpected = [f"{a['name']}: {a['detail']}" for a in failed if not any(k in a["name"] for k in allowed)]
    assert res["verdict"] != "ERROR" and not unexpected, (
        f"{claim_id} {res['verdict']}: {res['headline']}\n" + "\n".join(unexpected) + (rec["error"] or ""))
    for k in known:
        assert any(k in a["name"] for a in failed), (
            f"{claim_id}: the documented failure {k!r} now passes; update KNOWN_FAILURES")
    assert res["verdict"] == ("NOT CONFIRMED" if failed else "CONFIRMED")
    assert (out / "results" / f"{claim_id}.json").is_file()
    for fig in res["figures"]:
        assert (out / fig).stat().st_size > 1000


def test_every_claim_has_three_profiles():
    for cid in claim_ids():
        assert set(REGISTRY[cid].configs) == {"ci", "quick", "full"}


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
    lhs = lambda **kw: loss_gap(data, mix, t, **kw)                        # noqa: E731
    wrong = lambda **kw: fisher_divergence(emp, mix, 1.1 * t, **kw)        # noqa: E731  (wrong time)
    case = quad_case({"t": t}, lhs, wrong, rtol=1e-11)
    assert not case.passed(1e-8)
    good = quad_case({"t": t}, lhs, lambda **kw: fisher_divergence(emp, mix, t, **kw), rtol=1e-11)
    assert good.passed(1e-8)


def test_monte_carlo_rule_rejects_a_score_that_is_not_the_minimiser(setting):
    # If the "empirical score" in the DSM difference is replaced by a slightly wrong score, the
    # paired residual no longer has mean zero and the z-test must notice at this sample size.
    mix, data, emp = setting
    t = 0.1
    wrong_e = lambda x, t_: emp.score(x, t_) * 1.3                         # noqa: E731
    lhs = lambda **kw: dsm_loss_difference(data, mix.score, wrong_e, t, **kw)   # noqa: E731
    rhs = lambda **kw: fisher_divergence(emp, mix, t, **kw)                    # noqa: E731
    case = mc_case({"t": t}, lhs, rhs, n_draws=20000, seed=3)
    assert not case.identity_ok(bonferroni_z(1e-3, 1))
    ok = mc_case({"t": t}, lambda **kw: loss_gap(data, mix, t, **kw), rhs, n_draws=20000, seed=3)
    assert ok.identity_ok(bonferroni_z(1e-3, 1))


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", claim_ids())
def test_claim_is_confirmed_at_quick_size(claim_id, tmp_path):
    """The quick profile (what `memsep run` does by default), selected with `pytest -m slow`."""
    rec = run_claim(REGISTRY[claim_id], "quick", seed=0, out=tmp_path)
    failed = [a["name"] for a in rec["result"]["assertions"] if not a["passed"]]
    allowed = KNOWN_FAILURES.get(claim_id, ()) + SCALE_LIMITED.get(claim_id, ())
    assert not [f for f in failed if not any(k in f for k in allowed)], (
        rec["result"]["headline"] + (rec["error"] or ""))


def test_pruning_stages_recover_when_model_weights_are_missing(pruning_out):
    # Model weights (.pt) are not kept in git. With only the JSON points and the training checkpoint left, a
    # pruned stage that must be recomputed rebuilds the original from its checkpoint, bit-identically.
    import json

    import torch

    from empirical.dit import load_dit
    from empirical.prune_experiment import pruned_point, run_stage
    from empirical.sweep import record_key
    from verify.claims._pruning import CONFIGS, SWEEP_OWNER

    run_claim(REGISTRY["M1"], "ci", seed=0, out=pruning_out)           # read back when the ci test ran first
    folder = pruning_out / "results" / "sweeps" / SWEEP_OWNER / "ci" / "stages"
    originals = [p for p in folder.glob("*.json") if '"stage": "original"' in p.read_text()]
    assert len(originals) == 1
    weights = originals[0].with_suffix(".pt")
    before = load_dit(weights).state_dict()
    weights.unlink()
    cfg = CONFIGS["ci"]
    seed = json.loads(originals[0].read_text())["point"]["seed"]
    res = run_stage(pruned_point(cfg.setting, seed, "random", cfg.eta, 7), folder)
    after = load_dit(weights).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert res["heads_removed"] == int(cfg.eta * sum(load_dit(weights).cfg.heads))
    assert (folder / f"{record_key(pruned_point(cfg.setting, seed, 'random', cfg.eta, 7))}.pt").is_file()
