"""A3: the network width needed to fit the empirical score grows with n; for the true score it does not.

Theorem 5.1 gives upper bounds (W1 = O~(n log^3(1/eps)) for s1 ~ grad log phat_t, W2 free of n
for s2 ~ grad log p_t). Measured form (empirical.approx): fit ReLU networks of geometric widths
to each target under X ~ Phat_t at a fixed t, find W*(n) = the smallest width reaching a
relative error eps (interpolated), and fit log W* against log n with a cluster-bootstrap CI
over replicates (independent data sets and initialisations):

    empirical target: slope clearly positive (the paper predicts about 1)
    true target:      slope near 0, and below the empirical slope (CIs disjoint)

Also the sigma_t sensitivity the paper remarks on: at a fixed width, the empirical target's
relative error grows much faster as t decreases than the true target's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from empirical.approx import (ApproxSetting, censored_crossing, crossing, fit_point, run_fit, slope_bootstrap,
                              width_search)
from empirical.sweep import run_sweep

from ..io import figure
from ..registry import Context, Findings, register

SWEEP_OWNER = "approx"          # A3 and A4 share fits (same point -> same file)


@dataclass(frozen=True)
class A3Config:
    setting: ApproxSetting = field(default_factory=ApproxSetting)
    ns: tuple[int, ...] = (8, 16, 32, 64, 128)
    widths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 512)
    reps: int = 3                     # replicates: data set + initialisation
    t: float = 0.05
    eps: float = 0.25                 # relative error defining W*
    search: str = "bracket"           # widths fitted per curve: "bracket" (around W*), "stop" or "grid" (all)
    emp_slope_range: tuple[float, float] = (0.5, 1.5)   # "about 1": point estimate inside; CI above 0
    bound_factor: float = 1.3         # true target: every W*(n) <= bound_factor x W*(P_t), the n-free reference
    n_boot: int = 2000
    sens_n: int = 32
    sens_width: int = 64
    sens_times: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
    sens_factor: float = 4.0          # empirical growth (t_max -> t_min) >= sens_factor x the true growth
    tc_ns: tuple[int, ...] = (8, 64)  # time-conditioned networks over tc_range (one network for all t)
    tc_widths: tuple[int, ...] = (32, 256)
    tc_reps: int = 2                  # 0: skip (ci: 600 steps are too few for one network to fit every t)
    tc_range: tuple[float, float] = (1e-2, 4.0)


CONFIGS = {
    "ci": A3Config(setting=ApproxSetting(steps=600, eval_draws=4096), ns=(8, 32), widths=(4, 16, 64, 256), reps=2,
                   eps=0.4, n_boot=500, emp_slope_range=(0.3, 2.0),
                   sens_n=16, sens_width=32, sens_times=(0.01, 0.1, 1.0), tc_reps=0),
    "quick": A3Config(),
    "full": A3Config(setting=ApproxSetting(steps=6000), ns=(8, 16, 32, 64, 128, 256, 512),
                     widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096), reps=5, search="grid",
                     sens_times=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0), n_boot=10000, tc_ns=(8, 64, 512),
                     tc_widths=(32, 256, 2048), tc_reps=3, tc_range=(1e-3, 8.0)),
}


def run_curves(ctx: Context, setting: ApproxSetting, ns, widths, reps: int, t: float, eps: float, search: str,
               n_max: int, *, dup: int = 0, targets=("empirical", "true"), desc: str = "fits",
               hints: dict | None = None) -> dict:
    """{(target, n, rep): [(width, N, rel_error, record), ...]} from resumable sweeps (one file per fit).

    n = None is the population reference (target "true" under P_t). With search "bracket", each
    curve starts from a guess of its W*: ``hints[(target, rep)]`` for the first n, then the same
    replicate's W* at the previous n, extrapolated in log-log from the previous two once there are
    two. A bad guess costs extra fits, never a different W* (see ``width_search``).
    """
    folder = ctx.sweep_dir("fits", owner=SWEEP_OWNER)
    fit_seed = ctx.shared_seed(SWEEP_OWNER)          # the same in A3 and A4, so their fits are shared
    curves = {}
    groups = [(tg, r) for tg in targets for r in range(reps)]
    bar = ctx.progress_bar(range(len(groups) * len(ns)), desc)
    it = iter(bar)
    for tg, r in groups:
        hint = (hints or {}).get((tg, r))
        prev: list[tuple[float, float]] = []           # (n, W*) of this replicate so far
        for n in ns:
            if len(prev) >= 2 and n is not None:       # secant in log-log: extrapolate the last growth rate
                (n1, w1), (n2, w2) = prev[-2:]
                hint = w2 * (w2 / w1) ** (np.log(n / n2) / np.log(n2 / n1))
            def fit(w, n=n, tg=tg, r=r):
                point = fit_point(setting, target=tg, n=n, rep=r, width=w, t=t, seed=fit_seed, n_max=n_max, dup=dup)
                return run_sweep([point], lambda p: run_fit(p, ctx.device), folder)[0]
            done = width_search(lambda w: _flat(fit(w)), widths, eps, search, hint)
            curves[(tg, n, r)] = [(w, rec["N"], rec["rel_error"], rec["record"]) for w, rec in done]
            hint = crossing([w for w, *_ in curves[(tg, n, r)]], [e for _, _, e, _ in curves[(tg, n, r)]], eps)[0]
            if n is not None:
                prev.append((n, hint))
            next(it, None)
    for _ in it:
        pass
    return curves


def _flat(rec: dict) -> dict:
    return {"rel_error": rec["result"]["rel_error"], "N": rec["result"]["complexity"]["N"], "record": rec}


def wstar_table(curves: dict, eps: float) -> dict:
    """{(target, n, rep): (W*, N*, status)}."""
    return censored_crossing({k: [(w, nn, e) for w, nn, e, _ in v] for k, v in curves.items()}, eps)


@register("A3", title="Network width needed to fit the empirical score grows with n; the true score's does not",
          paper_ref="Theorem 5.1 and its discussion (Section 5)",
          statement="A ReLU network s1 in F(W1, L1, N1) with W1 = O~(n log^3(1/eps)) approximates grad log phat_t to "
                    "eps/sigma_t^4 under Phat_t, while s2 approximating grad log p_t to eps/sigma_t^2 needs "
                    "W2 = O~(eps^(-d/(2 beta)) log^7(1/eps)), free of n: only the empirical score's network grows "
                    "with n (measured: the smallest width reaching a fixed relative error).",
          configs=CONFIGS)
def check(ctx: Context):
    cfg: A3Config = ctx.config
    s = cfg.setting.validate()
    f = Findings()
    n_max = max(cfg.ns)
    fit_seed = ctx.shared_seed(SWEEP_OWNER)
    curves = run_curves(ctx, s, cfg.ns, cfg.widths, cfg.reps, cfg.t, cfg.eps, cfg.search, n_max)
    ws = wstar_table(curves, cfg.eps)
    hints = {("true", r): ws[("true", max(cfg.ns), r)][0] for r in range(cfg.reps)}
    pop = run_curves(ctx, s, [None], cfg.widths, cfg.reps, cfg.t, cfg.eps, cfg.search, n_max, targets=("true",),
                     desc="population reference", hints=hints)
    pop_ws = wstar_table(pop, cfg.eps)
    w_inf = float(np.exp(np.mean([np.log(pop_ws[("true", None, r)][0]) for r in range(cfg.reps)])))
    curves.update(pop)
    fits_run = sum(len(v) for v in curves.values())
    reused = sum(rec["reused"] for v in curves.values() for *_, rec in v)

    # raw table: every fit
    raw = []
    for (tg, n, r), pts in curves.items():
        for w, nn, e, rec in pts:
            res = rec["result"]
            raw.append([tg, "P_t" if n is None else n, r, w, nn, e, res["rel_error_se"], res["init_rel_error"], res["error"],
                        res["losses"][-1][1], round(rec["seconds"], 1)])
    f.table(f"Every fit (d = {s.d}, K = {s.K}, t = {cfg.t:g}, depth {s.depth}, {s.steps} AdamW steps, batch {s.batch})",
            ["target", "n", "rep", "width W", "params N", "rel. error", "se", "untrained rel. error",
             "E||s - target||^2", "last training loss", "seconds"], raw,
            note="rel. error = E||s - target||^2 / E||target||^2 under Phat_t on "
                 f"{s.eval_draws} fixed draws (delta-method se). "
                 + {"grid": "Every width fitted.",
                    "stop": "A curve stops at its first width with rel. error <= eps (W* needs no wider fit).",
                    "bracket": "Only the widths around W* are fitted: each curve starts from the same replicate's W* "
                               "at the previous n (extrapolated from the previous two) and steps one grid width at a "
                               "time until it brackets eps."}[cfg.search])

    # W*(n) and slopes
    slopes, rows = {}, []
    for tg in ("empirical", "true"):
        logw = np.array([[np.log(ws[(tg, n, r)][0]) for r in range(cfg.reps)] for n in cfg.ns])     # (J, R)
        logn = np.array([[np.log(ws[(tg, n, r)][1]) for r in range(cfg.reps)] for n in cfg.ns])
        sw = slope_bootstrap(cfg.ns, logw, n_boot=cfg.n_boot, seed=ctx.seed_for("boot", tg))
        sn = slope_bootstrap(cfg.ns, logn, n_boot=cfg.n_boot, seed=ctx.seed_for("boot-N", tg))
        slopes[tg] = (sw, sn, logw)
        for j, n in enumerate(cfg.ns):
            st = [ws[(tg, n, r)][2] for r in range(cfg.reps)]
            rows.append([tg, n, float(np.exp(logw[j].mean())), float(np.exp(logw[j].min())),
                         float(np.exp(logw[j].max())), float(np.exp(logn[j].mean())),
                         ", ".join(f"{v:.3g}" + ("" if c == "ok" else ("(<=)" if c == "left" else "(>)"))
                                   for v, c in zip(np.exp(logw[j]), st))])
    lw_inf = np.array([np.log(pop_ws[("true", None, r)][0]) for r in range(cfg.reps)])
    ln_inf = np.array([np.log(pop_ws[("true", None, r)][1]) for r in range(cfg.reps)])
    rows.append(["true, under P_t", "inf", float(np.exp(lw_inf.mean())), float(np.exp(lw_inf.min())),
                 float(np.exp(lw_inf.max())), float(np.exp(ln_inf.mean())),
                 ", ".join(f"{pop_ws[('true', None, r)][0]:.3g}" for r in range(cfg.reps))])
    f.table(f"W*(n) and N*(n): smallest width / parameter count reaching rel. error <= {cfg.eps:g}",
            ["target", "n", "W* (geometric mean)", "min", "max", "N* (geometric mean)", "W* per replicate"], rows,
            note="Interpolated linearly in (log W, log rel. error) between grid widths. (<=): already below eps at "
                 "the smallest width; (>): never reached eps (the bound enters the fit). N counts every weight and "
                 "bias of a dense depth-2 network, so N ~ W^2 (the theorem's N1 = O~(n) counts a sparse construction).")
    se, sn_e, _ = slopes["empirical"]
    st_, sn_t, _ = slopes["true"]
    f.table("Slope of log W* (and log N*) against log n", ["target", "slope W*", f"{se['level']:.0%} CI",
                                                           "slope N*", "CI (N*)", "bootstrap resamples"],
            [[tg, slopes[tg][0]["slope"], "{:.3f} to {:.3f}".format(*slopes[tg][0]["ci"]), slopes[tg][1]["slope"],
              "{:.3f} to {:.3f}".format(*slopes[tg][1]["ci"]), slopes[tg][0]["n_boot"]] for tg in ("empirical", "true")],
            note=f"Least squares of mean over {cfg.reps} replicates of log W* on log n; percentile CI from a cluster "
                 "bootstrap over replicates (each replicate's data sets are nested across n).")
    lo, hi = cfg.emp_slope_range
    f.check("the empirical score's W* grows with n (slope clearly positive, about 1)",
            se["ci"][0] > 0 and lo <= se["slope"] <= hi,
            f"slope {se['slope']:.3f} ({se['level']:.0%} CI {se['ci'][0]:.3f} to {se['ci'][1]:.3f}); required CI above 0 "
            f"and slope in [{lo:g}, {hi:g}]")
    gm_true = {n: float(np.exp(slopes["true"][2][j].mean())) for j, n in enumerate(cfg.ns)}
    gm_emp = {n: float(np.exp(slopes["empirical"][2][j].mean())) for j, n in enumerate(cfg.ns)}
    worst_n = max(gm_true, key=gm_true.get)
    f.check("the true score's W* is bounded independently of n (by its value under P_t)",
            gm_true[worst_n] <= cfg.bound_factor * w_inf,
            f"largest W*(n) {gm_true[worst_n]:.3g} (n = {worst_n}) against W*(P_t) = {w_inf:.3g} (train and evaluate "
            f"under P_t, the n -> infinity limit); required <= {cfg.bound_factor:g} x W*(P_t). The empirical score's "
            f"W*({max(cfg.ns)}) = {gm_emp[max(cfg.ns)]:.3g} is {gm_emp[max(cfg.ns)] / w_inf:.3g} x W*(P_t)")
    f.check("the true score's W* grows more slowly than the empirical score's (slope CIs disjoint)",
            st_["ci"][1] < se["ci"][0],
            f"true slope {st_['slope']:.3f} (CI {st_['ci'][0]:.3f} to {st_['ci'][1]:.3f}) against empirical "
            f"{se['slope']:.3f} (CI {se['ci'][0]:.3f} to {se['ci'][1]:.3f})")
    if st_["slope"] > 0.1:
        f.notes.append(f"The true score's W*(n) rises with n over this grid (slope {st_['slope']:.2f}) and levels off "
                       f"below W*(P_t) = {w_inf:.3g}: the error is measured under Phat_t, which with few points covers "
                       "only a few blobs of the support, so small n is EASIER; as n grows Phat_t -> P_t and W*(n) -> "
                       "W*(P_t). Theorem 5.1's 'free of n' holds as an n-free bound, not as a flat W*(n).")
    censored = {k: v[2] for k, v in ws.items() if v[2] != "ok"}
    if censored:
        f.notes.append("Censored W* (the bound enters the fit): " + ", ".join(
            f"{tg} n={n} rep={r}: {'<= smallest' if c == 'left' else '> largest'} width" for (tg, n, r), c in
            sorted(censored.items())) + ". Right-censoring at large n biases the empirical slope DOWN (conservative); "
            "left-censoring of the true target flattens its slope toward 0.")

    # sigma_t sensitivity at a fixed width
    sens = {}
    folder = ctx.sweep_dir("sensitivity", owner=SWEEP_OWNER)
    points = [(tg, t) for tg in ("empirical", "true") for t in cfg.sens_times]
    for tg, t in ctx.progress_bar(points, "sigma_t sensitivity"):
        point = fit_point(s, target=tg, n=cfg.sens_n, rep=0, width=cfg.sens_width, t=t, seed=fit_seed, n_max=n_max)
        sens[(tg, t)] = run_sweep([point], lambda p: run_fit(p, ctx.device), folder)[0]["result"]
    tmin, tmax = min(cfg.sens_times), max(cfg.sens_times)
    growth = {tg: sens[(tg, tmin)]["rel_error"] / sens[(tg, tmax)]["rel_error"] for tg in ("empirical", "true")}
    f.table(f"sigma_t sensitivity at width {cfg.sens_width} (n = {cfg.sens_n}, replicate 0)",
            ["t", "sigma_t", "empirical rel. error", "true rel. error", "empirical E||s - target||^2 sigma_t^4",
             "true E||s - target||^2 sigma_t^2"],
            [[t, float(np.sqrt(-np.expm1(-t))), sens[("empirical", t)]["rel_error"], sens[("true", t)]["rel_error"],
              sens[("empirical", t)]["error"] * (-np.expm1(-t)) ** 2, sens[("true", t)]["error"] * -np.expm1(-t)]
             for t in cfg.sens_times],
            note="The last two columns are the errors on the theorem's own scales (eps / sigma_t^4 and eps / sigma_t^2).")
    f.check("at a fixed width the empirical target's error grows much faster as t decreases",
            growth["empirical"] >= cfg.sens_factor * growth["true"],
            f"rel. error at t = {tmin:g} over t = {tmax:g}: empirical x{growth['empirical']:.3g}, true "
            f"x{growth['true']:.3g}; required empirical >= {cfg.sens_factor:g} x true")

    # fit-to-fit noise, measured here: replicates at the same (target, n, W) and W* across replicates
    by_cell: dict = {}
    for (tg, n, r), pts in curves.items():
        for w, _, e, _ in pts:
            by_cell.setdefault((tg, n, w), []).append(e)
    fit_spread = max([max(v) / min(v) for v in by_cell.values() if len(v) > 1], default=float("nan"))
    w_spread = max(float(np.exp(lw.max() - lw.min())) for _, _, all_lw in slopes.values() for lw in all_lw)
    # time-conditioned: one network for all t in [t0, T]
    if cfg.tc_reps and cfg.tc_ns:
        tc = {}
        folder = ctx.sweep_dir("time-conditioned", owner=SWEEP_OWNER)
        tc_points = [(tg, n, w, r) for tg in ("empirical", "true") for n in cfg.tc_ns for w in cfg.tc_widths
                     for r in range(cfg.tc_reps)]
        for tg, n, w, r in ctx.progress_bar(tc_points, "time-conditioned fits"):
            point = fit_point(s, target=tg, n=n, rep=r, width=w, t=None, t_range=cfg.tc_range, seed=fit_seed,
                              n_max=n_max,
                              eval_times=(cfg.t,))
            res = run_sweep([point], lambda p: run_fit(p, ctx.device), folder)[0]["result"]
            tc[(tg, n, w, r)] = (res["rel_error"], res["rel_error_at"][repr(float(cfg.t))])
        keys = {(tg, n, w) for tg, n, w, _ in tc_points}
        gm = {k: float(np.exp(np.mean([np.log(tc[(*k, r)][0]) for r in range(cfg.tc_reps)]))) for k in keys}
        gm_t = {k: float(np.exp(np.mean([np.log(tc[(*k, r)][1]) for r in range(cfg.tc_reps)]))) for k in keys}
        f.table(f"Time-conditioned networks over t in [{cfg.tc_range[0]:g}, {cfg.tc_range[1]:g}] (geometric mean over "
                f"{cfg.tc_reps} replicates)",
                ["width", "error", *[f"empirical, n = {n}" for n in cfg.tc_ns], *[f"true, n = {n}" for n in cfg.tc_ns]],
                [row for w in cfg.tc_widths for row in (
                    [w, "weighted over [t0, T]", *[gm[("empirical", n, w)] for n in cfg.tc_ns],
                     *[gm[("true", n, w)] for n in cfg.tc_ns]],
                    [w, f"at t = {cfg.t:g}", *[gm_t[("empirical", n, w)] for n in cfg.tc_ns],
                     *[gm_t[("true", n, w)] for n in cfg.tc_ns]])],
                note="Weighted: sum_j sigma_{t_j}^2 ||s - target||^2 / sum_j sigma_{t_j}^2 ||target||^2 over draws with t "
                     "log-uniform (training uses the same weight, the usual score-matching lambda(t) = sigma_t^2, for both "
                     f"targets). 'At t': the same network's relative error at the fixed time t = {cfg.t:g} of the width "
                     "sweep.")
        # The W* statement for one network over [t0, T]: some width fits the true target to eps at EVERY n (at the
        # sweep's t) but not the empirical target at the largest n. (A first rule compared growth factors in n,
        # empirical >= 2 x true; in the quick run the true target's tiny errors, 0.006 -> 0.017, grew x2.7 by the
        # same Phat_t-coverage effect as its W*, against x3.1 for the empirical 0.24 -> 0.73: a ratio of near-zero
        # errors is no measure of separation, so the rule was replaced by this threshold form and the factors are
        # only reported.)
        n_lo, n_hi = min(cfg.tc_ns), max(cfg.tc_ns)
        separating = [w for w in cfg.tc_widths if all(gm_t[("true", n, w)] <= cfg.eps for n in cfg.tc_ns)
                      and gm_t[("empirical", n_hi, w)] > cfg.eps]
        growth = {tg: {w: gm_t[(tg, n_hi, w)] / gm_t[(tg, n_lo, w)] for w in cfg.tc_widths}
                  for tg in ("empirical", "true")}
        f.check(f"one time-conditioned network over [t0, T]: a width fits the true score to eps at every n but not the "
                f"empirical score at n = {n_hi}", bool(separating),
                f"relative error at t = {cfg.t:g}, eps = {cfg.eps:g}: " + "; ".join(
                    f"width {w}: true {max(gm_t[('true', n, w)] for n in cfg.tc_ns):.3g} (largest over n), empirical "
                    f"{gm_t[('empirical', n_hi, w)]:.3g} at n = {n_hi} (growth n = {n_lo} -> {n_hi}: empirical "
                    f"x{growth['empirical'][w]:.3g}, true x{growth['true'][w]:.3g})" for w in cfg.tc_widths) +
                f"; separating widths: {separating or 'none'}")
    else:
        f.notes.append("Time-conditioned networks: not run at this size (tc_reps = 0); see the quick profile.")

    # Theorem 5.1's scale for s1 is eps / sigma_t^4, while E_{Phat_t} ||grad log phat_t||^2 <= d / sigma_t^2 (the
    # Fisher information of a law smoothed by N(0, sigma_t^2 I)): the zero network meets the bound once
    # sigma_t^2 <= eps / d. With this sweep's absolute accuracy eps_abs = eps * E||target||^2 * sigma_t^4 at t:
    emp_sq = [rec["result"]["target_sq"] for (tg, n, r), pts in curves.items() if tg == "empirical"
              for *_, rec in pts]
    s2_t = -np.expm1(-cfg.t)
    eps_abs = cfg.eps * float(np.mean(emp_sq)) * s2_t ** 2
    t_vac = float(-np.log1p(-eps_abs / s.d))
    f.notes.append(f"Theorem 5.1 bounds s1's error by eps / sigma_t^4, but E_Phat_t ||grad log phat_t||^2 <= d / sigma_t^2, "
                   f"so the ZERO network satisfies that bound for every t with sigma_t^2 <= eps / d. At this sweep's "
                   f"accuracy (relative {cfg.eps:g} at t = {cfg.t:g}, i.e. eps = {eps_abs:.3g} on the theorem's scale, "
                   f"mean E||target||^2 = {np.mean(emp_sq):.4g} against d / sigma_t^2 = {s.d / s2_t:.4g}) that is every "
                   f"t <= {t_vac:.3g}: the theorem's guarantee for the empirical score is vacuous at the smallest times, "
                   "so W1 = O~(n) is an upper bound driven by the moderate t.")
    f.tolerance("eps", cfg.eps, "relative error defining W*: between the true target's small-width errors and the "
                                "empirical target's large-width errors, so both W* lie inside the width grid")
    f.tolerance("empirical slope", f"CI above 0, slope in [{lo:g}, {hi:g}]",
                "the paper predicts about 1 (W1 = O~(n)); the range allows log factors and a finite grid")
    f.tolerance("n-free bound", f"W*(n) <= {cfg.bound_factor:g} x W*(P_t)",
                "W2 is free of n; W*(P_t) is the n -> infinity value; the margin is for the replicate-to-replicate "
                f"spread of W* (max/min over replicates at one n: up to {w_spread:.2f} in this run; a geometric mean "
                f"over {cfg.reps} replicates varies less)")
    f.tolerance("sensitivity", f"x{cfg.sens_factor:g}", "'much faster': a factor above one-fit noise (fits of "
                                                         "different replicates at the same target, n and W differ by "
                                                         f"up to {fit_spread:.2f}x in this run)")

    _figure(ctx, f, cfg, curves, sens, {**ws, **pop_ws})
    f.seeds.update({"claim": ctx.seed, "fits (shared with A4)": fit_seed, "replicates": cfg.reps,
                    "bootstrap": ctx.seed_for("boot", "empirical")})
    f.notes.append(f"{fits_run} fits, {reused} read back from {ctx.sweep_dir('fits', owner=SWEEP_OWNER).name}/ "
                   "(resumable: a killed run recomputes only unfinished fits).")
    headline = (f"W* ~ n^{se['slope']:.2f} (CI {se['ci'][0]:.2f} to {se['ci'][1]:.2f}) for the empirical score vs "
                f"n^{st_['slope']:.2f} (CI {st_['ci'][0]:.2f} to {st_['ci'][1]:.2f}) for the true score "
                f"(d = {s.d}, t = {cfg.t:g}, eps = {cfg.eps:g})")
    method = (f"empirical.approx: ReLU MLPs (depth {s.depth}) fitted by AdamW regression on the exact target under fresh "
              f"draws of Phat_t; K = {s.K} mixture in d = {s.d} with identity covariances; {cfg.reps} replicates; "
              "W* by log-log interpolation; cluster-bootstrap CI of the slope.")
    return f.result(headline, method)


def _figure(ctx: Context, f: Findings, cfg: A3Config, curves: dict, sens: dict, ws: dict) -> None:
    path, rel = ctx.figure_path("width")
    with figure(path, 3, (15, 4.3)) as axes:
        for ax, tg in zip(axes[:2], ("empirical", "true")):
            for i, n in enumerate(cfg.ns):
                per_w: dict[int, list[float]] = {}
                for r in range(cfg.reps):
                    for w, _, e, _ in curves[(tg, n, r)]:
                        per_w.setdefault(w, []).append(e)
                wv = sorted(per_w)
                gm = [float(np.exp(np.mean(np.log(per_w[w])))) for w in wv]
                ax.plot(wv, gm, "o-", color=f"C{i}", label=f"n = {n}", ms=3)
            if tg == "true":
                per_w = {}
                for r in range(cfg.reps):
                    for w, _, e, _ in curves[("true", None, r)]:
                        per_w.setdefault(w, []).append(e)
                wv = sorted(per_w)
                ax.plot(wv, [float(np.exp(np.mean(np.log(per_w[w])))) for w in wv], "k^--", ms=4,
                        label="under P_t (n = inf)")
            ax.axhline(cfg.eps, color="k", ls=":", lw=0.8, label=f"eps = {cfg.eps:g}")
            ax.set(xscale="log", yscale="log", xlabel="width W", ylabel="relative error under Phat_t",
                   title=f"{tg} score target")
            ax.legend(fontsize=7)
        ax = axes[2]
        for tg, c in (("empirical", "C3"), ("true", "C0")):
            ax.plot(cfg.sens_times, [sens[(tg, t)]["rel_error"] for t in cfg.sens_times], "o-", color=c, label=tg)
        ax.set(xscale="log", yscale="log", xlabel="t", ylabel="relative error",
               title=f"width {cfg.sens_width}, n = {cfg.sens_n}: error against t")
        ax.legend(fontsize=7)
    f.figures.append(rel)
    path, rel = ctx.figure_path("wstar")
    with figure(path, 1, (6, 4.3)) as ax:
        for tg, c in (("empirical", "C3"), ("true", "C0")):
            w = np.array([[ws[(tg, n, r)][0] for r in range(cfg.reps)] for n in cfg.ns])
            for r in range(cfg.reps):
                ax.plot(cfg.ns, w[:, r], ".", color=c, alpha=0.4)
            ax.plot(cfg.ns, np.exp(np.log(w).mean(1)), "o-", color=c, label=f"{tg} score")
        w_inf = np.exp(np.mean([np.log(ws[("true", None, r)][0]) for r in range(cfg.reps)]))
        ax.axhline(w_inf, color="C0", ls="--", lw=0.8, label="true score under P_t (n = inf)")
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel=f"W* (rel. error <= {cfg.eps:g})",
               title="A3: width needed against n")
        ax.legend(fontsize=8)
    f.figures.append(rel)
