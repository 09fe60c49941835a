"""The samplers' convergence test (empirical.sampler_check, verify.sampler_check): its statistics, its rule, a
small end-to-end run, the file and the report section."""

import dataclasses
import json

import numpy as np
import pytest

from memsep.empirical.diffusion import DiffusionConfig
from memsep.empirical.mixture_diffusion import MixtureDiffusionSetting
from memsep.empirical.sampler_check import (
    SamplerCheckConfig,
    agrees,
    chosen,
    paired_bootstrap,
    paired_mean,
    run_check,
)
from memsep.verify import sampler_check as vsc
from memsep.verify.cli import main
from memsep.verify.report import _sampler_section, load_check


def test_identical_samplers_agree_and_a_shifted_one_does_not():
    """Delta = 0 exactly when candidate = reference (interval [0, 0]); a shift of 3 reference half-widths lies
    outside the margin whatever the noise (deterministic: the shift is added to the same values)."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=400)
    same = paired_mean(ref, ref)
    assert same["delta"] == 0 and same["ci"] == [0, 0] and agrees(same)
    shifted = paired_mean(ref + 3 * same["margin"], ref)
    assert shifted["delta"] == pytest.approx(3 * same["margin"]) and not agrees(shifted)


def test_the_margin_of_a_ratio_is_wilsons_half_width():
    from memsep.empirical.metrics import wilson_interval

    ref = np.array([1] * 30 + [0] * 70, dtype=float)
    lo, hi = wilson_interval(30, 100)
    assert paired_mean(ref, ref)["margin"] == pytest.approx((hi - lo) / 2, rel=1e-12)


def test_paired_mean_interval_covers_at_its_level():
    """Coverage of the paired normal interval: 400 draws of m = 200 pairs with a known mean difference 0.1; the
    count of misses is Binomial(400, 0.05) if the level holds, so at most 35 misses fails with probability < 1e-3
    (binomial tail; the normal approximation at m = 200 for a Gaussian difference is exact up to the t quantile)."""
    rng = np.random.default_rng(1)
    miss = 0
    for _ in range(400):
        ref = rng.normal(size=200)
        cand = ref + 0.1 + 0.3 * rng.normal(size=200)
        lo, hi = paired_mean(cand, ref)["ci"]
        miss += not lo <= 0.1 <= hi
    assert miss <= 35


def test_paired_bootstrap_of_the_mean_matches_the_normal_interval():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(300, 1))
    cand = ref + 0.05 + 0.2 * rng.normal(size=(300, 1))
    b = paired_bootstrap(lambda a: float(a.mean()), cand, ref, 2000, 3)
    n = paired_mean(cand[:, 0], ref[:, 0])
    assert b["delta"] == pytest.approx(n["delta"], abs=1e-12)
    assert b["ci"] == pytest.approx(n["ci"], abs=0.01)  # percentile vs normal interval, 2,000 resamples
    assert b["margin"] == pytest.approx(n["margin"], rel=0.1)


@pytest.mark.parametrize(
    "accepted, ode",
    [
        ({25: False, 50: True, 100: True}, 50),
        ({25: True, 50: False, 100: True}, 100),  # accepted at 25 but not above it: not chosen
        ({25: True, 50: True, 100: False}, None),
    ],
)
def test_the_chosen_count_is_the_smallest_with_every_larger_count_accepted(accepted, ode):
    rows = [{"method": "ode", "steps": s, "accepted": a} for s, a in accepted.items()]
    assert chosen(rows, "ode") == ode


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="cand, ref"):
        paired_mean(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="cfg"):
        run_check(SamplerCheckConfig(), "unused")
    with pytest.raises(ValueError, match="profile"):
        vsc.config("full")


TINY = SamplerCheckConfig(
    mixture=MixtureDiffusionSetting(train=DiffusionConfig(steps=200, log_every=50), n_samples=64),
    cells=(("tiny memorizer", 2, 8, 8, "mlp-6k"),),
    ode_steps=(5, 60),
    heun_steps=(30, 119),
    reference_steps=120,
    bootstrap=50,
)


@pytest.fixture(scope="module")
def tiny_record(tmp_path_factory):
    return run_check(TINY, tmp_path_factory.mktemp("check"))


def test_a_small_check_runs_end_to_end_and_applies_its_rule(tiny_record):
    """A memorizing 2-d model sampled by the 120-step Heun reference, 5 and 60 first-order steps and 30 and 119
    Heun steps: every row's outcome is the rule applied to its recorded numbers; Heun at 119 steps (one step from
    the reference's grid) agrees with it; the first-order solver's log-likelihood error shrinks from 5 to 60
    steps (first order: by about 12x; required: 3x)."""
    rec = tiny_record
    (m,) = rec["models"]
    rows = {(r["method"], r["steps"]): r for r in m["rows"]}
    assert set(rows) == {("ode", 5), ("ode", 60), ("heun", 30), ("heun", 119)}
    assert rows[("heun", 30)]["nfe"] == 60 and rows[("ode", 60)]["nfe"] == 60
    for r in m["rows"]:
        assert set(r["metrics"]) == {"memorization", "loglik"}
        assert r["accepted"] == all(agrees(v) for v in r["metrics"].values())
    assert rows[("heun", 119)]["accepted"]
    e5, e60 = (abs(rows[("ode", s)]["metrics"]["loglik"]["delta"]) for s in (5, 60))
    assert e60 < e5 / 3, (e5, e60)
    assert rec["chosen"]["per_model"]["tiny memorizer"]["heun"] in (30, 119)
    assert json.loads(json.dumps(rec)) == rec  # JSON-ready


def test_the_record_renders_into_the_report(tiny_record, tmp_path):
    from memsep.verify.report import render_report

    rec = dict(tiny_record, profile="ci", command="memsep sampler-check --profile ci")
    rec["environment"] = {"git_commit": "0" * 40, "git_dirty": False}
    path = vsc.check_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rec), encoding="utf-8")
    assert vsc.check_path(tmp_path) == tmp_path / "results" / "samplers" / "convergence.json"  # where report reads
    loaded = load_check(tmp_path)
    text = render_report([], [], [], loaded)
    assert "## Sampler step counts (convergence test)" not in text  # nothing but "no results" without claims
    text = "\n".join(_sampler_section(loaded))
    assert "**tiny memorizer**" in text and "| heun | 30 | 60 |" in text
    ch = loaded["chosen"]["per_model"]["tiny memorizer"]
    assert f"Chosen for this model: first-order {ch['ode'] or 'none of the candidates'}" in text


def test_a_malformed_file_is_named(tmp_path):
    path = vsc.check_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"kind": "other"}), encoding="utf-8")
    with pytest.raises(ValueError, match="sampler-check file"):
        load_check(tmp_path)
    assert load_check(tmp_path / "nothing") is None


def test_the_cli_refuses_a_bad_profile_in_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sampler-check", "--profile", "full"])
    assert exc.value.code == 2
    assert "profile" in capsys.readouterr().err


def test_the_profiles_check_the_claims_own_models():
    """The quick check's cells are A6's quick memorizer and generalizer, its DiT the pruning claims' quick setting,
    with the seeds the runner gives those claims (A6: derive_seed(run seed, "A6"); the pruning experiment:
    derive_seed(run seed, "shared", "pruning")), and the claims' step counts are among its candidates (so the report
    can say whether they pass)."""
    from memsep.theory import derive_seed
    from memsep.verify.claims._pruning import CONFIGS as PRUNING
    from memsep.verify.claims.a6 import CONFIGS as A6

    cfg = vsc.config("quick")
    assert cfg.mixture == A6["quick"].setting and cfg.dit == PRUNING["quick"].setting
    assert [c[2] for c in cfg.cells] == [A6["quick"].ns[0], A6["quick"].ns[-1]]
    assert cfg.mixture.sample_steps in cfg.ode_steps and cfg.dit.sample_steps in cfg.ode_steps
    assert cfg.reference_steps == 1000
    assert (cfg.mixture_seed, cfg.dit_seed) == (derive_seed(0, "A6"), derive_seed(0, "shared", "pruning"))
    other = vsc.config("quick", 3)
    assert (other.mixture_seed, other.dit_seed) == (derive_seed(3, "A6"), derive_seed(3, "shared", "pruning"))
    assert dataclasses.replace(other, mixture_seed=cfg.mixture_seed, dit_seed=cfg.dit_seed) == cfg


def test_the_cli_writes_the_record_and_rebuilds_the_report(tmp_path, monkeypatch, capsys):
    """`memsep sampler-check` (its configuration replaced by the tiny one): the record lands in
    results/samplers/convergence.json with the environment and command, and an existing REPORT.md is rebuilt with
    the section."""
    from memsep.verify.report import load_results

    monkeypatch.setattr(vsc, "config", lambda profile, run_seed: TINY)
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "results").mkdir()
    shutil.copy(repo / "results" / "S4.json", tmp_path / "results" / "S4.json")
    assert main(["sampler-check", "--profile", "ci", "--out", str(tmp_path), "--no-progress"]) == 0
    rec = load_check(tmp_path)
    assert rec["command"] == "memsep sampler-check --profile ci" and "git_commit" in rec["environment"]
    report = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "## Sampler step counts (convergence test)" in report and load_results(tmp_path)
    assert "wrote" in capsys.readouterr().out
