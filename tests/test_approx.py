"""empirical.approx: W* crossings, the bootstrap slope, nested and duplicated data sets, sweep points.

Reference values are hand computations (log-linear interpolation between two grid points),
exact power laws (slope known by construction), and the theory module's EmpiricalDistribution
for the duplicated data sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memsep.empirical.approx import (
    ApproxSetting,
    censored_crossing,
    crossing,
    dataset_for,
    fit_point,
    mixture_for,
    run_fit,
    slope_bootstrap,
    width_search,
)
from memsep.empirical.sweep import point_key
from memsep.empirical.targets import EmpiricalScoreTarget
from memsep.theory import EmpiricalDistribution


# ---- crossing -------------------------------------------------------------------------------
def test_crossing_interpolates_in_log_log():
    # errors 0.8 at W=8 and 0.2 at W=32; eps = 0.4 is halfway in log error -> W* = 16 exactly.
    w, status = crossing([4, 8, 32, 64], [0.9, 0.8, 0.2, 0.1], 0.4)
    assert status == "ok" and w == pytest.approx(16.0, rel=1e-12)
    # a grid point exactly at eps: W* is that point
    w, status = crossing([4, 8, 32], [0.9, 0.5, 0.2], 0.5)
    assert status == "ok" and w == pytest.approx(8.0, rel=1e-12)


def test_crossing_censoring_and_first_crossing():
    assert crossing([4, 8], [0.1, 0.05], 0.25) == (4.0, "left")
    assert crossing([4, 8], [0.9, 0.5], 0.25) == (8.0, "right")
    # non-monotone curve: the FIRST width at or below eps counts (smallest width reaching eps)
    w, status = crossing([2, 4, 8, 16], [0.9, 0.3, 0.5, 0.1], 0.3)
    assert status == "ok" and w == pytest.approx(4.0)


@pytest.mark.parametrize(
    "sizes, errors, eps, name",
    [
        ([4, 8], [0.5, 0.2], 0.0, "eps"),
        ([4, 8], [0.5, 0.2], 1.0, "eps"),
        ([4, 8], [0.5, 0.2], 1.5, "eps"),
        ([8, 4], [0.5, 0.2], 0.3, "sizes"),
        ([4, 8], [0.5, 0.0], 0.3, "errors"),
        ([4, 8], [0.5, np.nan], 0.3, "errors"),
        ([4, 8, 16], [0.5, 0.2], 0.3, "sizes, errors"),
    ],
)
def test_crossing_rejects_bad_input(sizes, errors, eps, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        crossing(sizes, errors, eps)


def test_censored_crossing_uses_parameter_counts_too():
    curves = {"a": [(32, 1000, 0.2), (8, 100, 0.8)]}  # unsorted input
    ((ws, ns, status),) = censored_crossing(curves, 0.4).values()
    assert status == "ok" and ws == pytest.approx(16.0) and ns == pytest.approx(math.sqrt(100 * 1000))


# ---- slope_bootstrap ------------------------------------------------------------------------
def test_slope_of_exact_power_law_has_degenerate_ci():
    ns = np.array([8, 16, 32, 64])
    logw = np.log(3 * ns**0.9)[:, None] + np.zeros((1, 4))  # every replicate identical
    out = slope_bootstrap(ns, logw, n_boot=200, seed=1)
    assert out["slope"] == pytest.approx(0.9, abs=1e-12)
    assert out["ci"][0] == pytest.approx(0.9, abs=1e-12) and out["ci"][1] == pytest.approx(0.9, abs=1e-12)


def test_slope_bootstrap_ci_covers_truth_with_noise():
    # replicate effects (constant per replicate) cancel in a paired design: the slope stays exact;
    # independent noise widens the CI, which must cover the true slope in most repetitions.
    rng = np.random.default_rng(0)
    ns = np.array([8, 16, 32, 64, 128])
    paired = np.log(ns)[:, None] * 1.0 + rng.normal(0, 1, (1, 5))
    assert slope_bootstrap(ns, paired, n_boot=200)["slope"] == pytest.approx(1.0, abs=1e-12)
    cover = 0
    for k in range(200):
        logw = np.log(ns)[:, None] * 1.0 + rng.normal(0, 0.3, (5, 5))
        lo, hi = slope_bootstrap(ns, logw, n_boot=400, seed=k)["ci"]
        cover += lo <= 1.0 <= hi
    # The percentile cluster bootstrap with 5 replicates under-covers (nominal 95%); measured 170-180/200.
    # 150/200 fails only if coverage were below ~80%: binomial tail P(X < 150 | p = 0.85) ~ 0.02.
    assert cover >= 150, cover


@pytest.mark.parametrize(
    "ns, logw, kw, name",
    [
        ([8], np.zeros((1, 3)), {}, "logw"),
        ([8, 16], np.zeros((3, 3)), {}, "logw"),
        ([8, 16], np.zeros((2, 3)), {"level": 1.0}, "level"),
    ],
)
def test_slope_bootstrap_rejects_bad_input(ns, logw, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        slope_bootstrap(ns, logw, **kw)


# ---- data sets ------------------------------------------------------------------------------
def test_datasets_are_nested_across_n():
    mix = mixture_for(ApproxSetting(d=3), 7)
    a, wa = dataset_for(mix, 8, 11, 64)
    b, _ = dataset_for(mix, 32, 11, 64)
    assert wa is None and a.shape == (8, 3) and np.array_equal(a, b[:8])
    c, _ = dataset_for(mix, 8, 12, 64)
    assert not np.array_equal(a, c)


def test_duplicated_dataset_is_the_law_of_its_rows():
    mix = mixture_for(ApproxSetting(d=2), 3)
    n, m = 20, 12
    pts, w = dataset_for(mix, n, 5, 64, dup=m, dup_seed=9)
    ref, _ = dataset_for(mix, n - m, 5, 64)
    assert np.array_equal(pts, ref)  # distinct points = the n - m data set
    assert w.shape == (n - m,) and np.all(w >= 1 / n) and w.sum() == pytest.approx(1.0)
    counts = np.rint(w * n).astype(int)
    rows = np.repeat(pts, counts, axis=0)  # written out: n rows
    assert rows.shape == (n, 2) and counts.max() > 1
    x = EmpiricalDistribution(rows).sample(100, np.random.default_rng(0), 0.05)
    got = EmpiricalScoreTarget(pts, w)(torch.from_numpy(x), 0.05).numpy()
    ref_score = EmpiricalDistribution(rows).score(x, 0.05)
    assert np.abs(got - ref_score).max() <= 1e-10 * np.abs(ref_score).max()


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(n=1), "n"),
        (dict(n=65), "n"),
        (dict(n=True), "n"),
        (dict(n=10, dup=9), "dup"),
        (dict(n=10, dup=-1), "dup"),
    ],
)
def test_dataset_rejects_bad_input(kw, name):
    mix = mixture_for(ApproxSetting(d=2), 0)
    with pytest.raises(ValueError, match=rf"^{name}: "):
        dataset_for(mix, n_max=64, data_seed=0, **kw)


def test_setting_rejects_bad_fields():
    for kw, name in (
        (dict(d=0), "d"),
        (dict(steps=-1), "steps"),
        (dict(lr=0.0), "lr"),
        (dict(mean_scale=-1.0), "mean_scale"),
    ):
        with pytest.raises(ValueError, match=rf"^{name}: "):
            ApproxSetting(**kw).validate()


# ---- sweep points ---------------------------------------------------------------------------
def test_fit_points_identify_the_experiment():
    s = ApproxSetting(d=2, steps=10)
    p = fit_point(s, target="empirical", n=8, rep=0, width=4, t=0.05, seed=0, n_max=32)
    assert p == fit_point(s, target="empirical", n=8, rep=0, width=4, t=0.05, seed=0, n_max=32)
    others = [
        fit_point(s, target="true", n=8, rep=0, width=4, t=0.05, seed=0, n_max=32),
        fit_point(s, target="empirical", n=8, rep=1, width=4, t=0.05, seed=0, n_max=32),
        fit_point(s, target="empirical", n=8, rep=0, width=8, t=0.05, seed=0, n_max=32),
        fit_point(ApproxSetting(d=2, steps=11), target="empirical", n=8, rep=0, width=4, t=0.05, seed=0, n_max=32),
    ]
    keys = {point_key(q) for q in [p, *others]}
    assert len(keys) == 5
    # replicate 0's data seed is shared by every n (nested data sets), the mixture by every replicate
    q = fit_point(s, target="empirical", n=16, rep=0, width=4, t=0.05, seed=0, n_max=32)
    assert q["data_seed"] == p["data_seed"] and others[1]["mixture_seed"] == p["mixture_seed"]
    with pytest.raises(ValueError, match=r"^target: "):
        fit_point(s, target="oops", n=8, rep=0, width=4, t=0.05, seed=0, n_max=32)
    with pytest.raises(ValueError, match=r"^width: "):
        fit_point(s, target="true", n=8, rep=0, width=-4, t=0.05, seed=0, n_max=32)


def test_run_fit_is_deterministic_and_reports_sizes():
    s = ApproxSetting(d=2, steps=40, batch=64, eval_draws=512)
    p = fit_point(s, target="empirical", n=8, rep=0, width=4, t=0.1, seed=0, n_max=16, dup=3)
    a, b = run_fit(p), run_fit(p)
    assert a["rel_error"] == b["rel_error"] and a["losses"] == b["losses"]
    assert a["distinct"] == 5 and a["complexity"]["W"] == 4
    assert a["complexity"]["params"] == 2 * 4 + 4 * 4 + 4 * 2 + 4 + 4 + 2


# ---- width_search ---------------------------------------------------------------------------
GRID = [2, 4, 8, 16, 32, 64, 128]


def power_curve(w0):
    """rel(W) = min(1, (W / w0)^-1 / 4): crosses eps = 0.25 exactly at W = w0; records every call."""
    calls = []

    def fit(w):
        calls.append(w)
        return {"rel_error": min(0.99, 0.25 * w0 / w)}

    return fit, calls


@pytest.mark.parametrize("w0", [3.0, 10.0, 50.0, 100.0])
@pytest.mark.parametrize("hint", [None, 2, 5, 16, 40, 500])
def test_bracket_search_gives_the_grid_crossing_with_fewer_fits(w0, hint):
    fit, calls = power_curve(w0)
    full = width_search(fit, GRID, 0.25, "grid")
    ref = crossing([w for w, _ in full], [r["rel_error"] for _, r in full], 0.25)
    fit2, calls2 = power_curve(w0)
    got = width_search(fit2, GRID, 0.25, "bracket", hint)
    assert crossing([w for w, _ in got], [r["rel_error"] for _, r in got], 0.25) == pytest.approx(ref)
    assert ref[0] == pytest.approx(w0) and ref[1] == "ok"
    assert len(calls2) <= len(GRID) and len(set(calls2)) == len(calls2)  # no width fitted twice
    if hint is not None and 0.5 * w0 <= hint <= 2 * w0:
        assert len(calls2) <= 3


def test_stop_search_and_censoring():
    fit, calls = power_curve(10.0)
    out = width_search(fit, GRID, 0.25, "stop")
    assert [w for w, _ in out] == [2, 4, 8, 16] == calls
    fit, calls = power_curve(1000.0)  # never reaches eps: right-censored
    out = width_search(fit, GRID, 0.25, "bracket", 64)
    assert crossing([w for w, _ in out], [r["rel_error"] for _, r in out], 0.25) == (128.0, "right")
    fit, calls = power_curve(1.0)  # below eps at once: left-censored
    out = width_search(fit, GRID, 0.25, "bracket", 64)
    assert crossing([w for w, _ in out], [r["rel_error"] for _, r in out], 0.25) == (2.0, "left")


def test_width_search_rejects_bad_input():
    fit, _ = power_curve(10.0)
    with pytest.raises(ValueError, match=r"^widths: "):
        width_search(fit, [4, 2], 0.25)
    with pytest.raises(ValueError, match=r"^mode: "):
        width_search(fit, GRID, 0.25, "binary")


def test_population_point_only_for_the_true_target():
    s = ApproxSetting(d=2, steps=30, batch=64, eval_draws=512)
    p = fit_point(s, target="true", n=None, rep=0, width=4, t=0.1, seed=0, n_max=16)
    assert p["n"] is None
    res = run_fit(p)
    assert res["distinct"] is None and 0 < res["rel_error"] < 10
    with pytest.raises(ValueError, match=r"^n: "):
        fit_point(s, target="empirical", n=None, rep=0, width=4, t=0.1, seed=0, n_max=16)


def test_time_conditioned_point_reports_fixed_time_errors():
    s = ApproxSetting(d=2, steps=30, batch=64, eval_draws=512)
    p = fit_point(
        s,
        target="empirical",
        n=8,
        rep=0,
        width=8,
        t=None,
        t_range=(1e-2, 4.0),
        seed=0,
        n_max=16,
        eval_times=(0.05, 1.0),
    )
    assert p["t"] is None and p["weight_power"] == 2.0 and p["eval_times"] == [0.05, 1.0]
    fixed = fit_point(s, target="empirical", n=8, rep=0, width=8, t=0.05, seed=0, n_max=16)
    assert "t_range" not in fixed and fixed["train_seed"] != p["train_seed"]
    res = run_fit(p)
    assert set(res["rel_error_at"]) == {"0.05", "1.0"} and all(v > 0 for v in res["rel_error_at"].values())
    with pytest.raises(ValueError, match=r"^t_range: "):
        fit_point(s, target="empirical", n=8, rep=0, width=8, t=None, seed=0, n_max=16)


def test_a3_check_resumes_after_a_crash_without_refitting(tmp_path, monkeypatch):
    # End to end through the registry: a run that dies after 4 fits keeps them; the rerun reads them back.
    from memsep.verify.claims import _approx, a3
    from memsep.verify.registry import REGISTRY
    from memsep.verify.runner import run_claim

    real, calls = a3.run_fit, []

    def dying(point, device="cpu"):
        if len(calls) == 4:
            raise RuntimeError("simulated crash")
        calls.append(point)
        return real(point, device)

    monkeypatch.setattr(a3, "run_fit", dying)  # the sensitivity and time-conditioned fits
    monkeypatch.setattr(_approx, "run_fit", dying)  # the width sweep (run_curves, shared with A4)
    rec = run_claim(REGISTRY["A3"], "ci", seed=0, out=tmp_path)
    assert rec["result"]["verdict"] == "ERROR" and len(calls) == 4
    monkeypatch.setattr(a3, "run_fit", real)
    monkeypatch.setattr(_approx, "run_fit", real)
    rec = run_claim(REGISTRY["A3"], "ci", seed=0, out=tmp_path)
    # INCONCLUSIVE at ci: A3.time_conditioned is not run at this size (tc_reps = 0); every other rule passes
    assert rec["result"]["verdict"] in ("CONFIRMED", "INCONCLUSIVE") and not any(
        a["outcome"] == "fail" for a in rec["result"]["assertions"]
    ), rec["result"]["assertions"]
    sweeps = rec["provenance"]["sweeps"]
    assert sweeps["read_back"] == 4 and sweeps["computed"] > 0, sweeps
