"""A4: duplicated samples: the empirical score is that of the distinct points, and so is the width it needs.

    n rows, m of them copies:  phat_t = sum_j (c_j / n) N(alpha_t y_j, sigma_t^2 I)   over the n - m distinct y_j
                               (c_j = multiplicity), so grad log phat_t is the weighted empirical score
                               of n - m points.

Checked (1) exactly: theory.EmpiricalDistribution of the n rows against the deduplicated law
with multiplicity weights (numpy) and against empirical.EmpiricalScoreTarget (the torch target
the fits use), over random data sets and t in [1e-4, 10]; (2) by experiment: with the A3 setting,
W* of a data set of n rows with m duplicates sits at W*(n - m distinct), not at W*(n distinct).
The replicate's distinct points ARE the A3 data set of size n - m (nested draws), so the
comparison is paired; only the multiplicity weights differ. Per replicate r, with
u_r = log W*_dup - log W*(n - m) and v_r = log W*(n) - log W*(n - m):

    r = mean_r u_r / mean_r v_r        (0: W* tracks n - m; 1: it tracks n)
    se(r) = sd_r(u_r - r v_r) / (sqrt(R) |mean_r v_r|)     (delta method for a ratio of means), df = R - 1

Decision rules (RULES): A4.dedup_identity is exact (float64 rounding); A4.width_tracks_distinct
is a one-sided Student-t test of r < 1/2 for every m (verify/claims/_approx.py). The cluster
bootstrap CI of r is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from empirical.targets import EmpiricalScoreTarget
from theory import EmpiricalDistribution

from ..io import figure
from ..registry import Context, Findings, decision, register
from ._approx import combine_all, t_rule
from .a3 import CONFIGS as A3_CONFIGS
from .a3 import SWEEP_OWNER, A3Config, run_curves, wstar_table


@dataclass(frozen=True)
class A4Config:
    a3: A3Config = field(default_factory=A3Config)      # fit setting, widths, eps, replicates (shared fits)
    n: int = 64
    dups: tuple[int, ...] = (32, 48)                     # m: duplicated rows
    r_max: float = 0.5                                   # r below this: closer to n - m than to n (log scale)
    n_boot: int = 2000
    exact_cases: int = 24
    exact_times: tuple[float, ...] = (1e-4, 1e-2, 1.0, 10.0)
    exact_rtol: float = 1e-12
    alpha: float = 0.05                                  # one-sided level of the width rule


CONFIGS = {
    "ci": A4Config(a3=A3_CONFIGS["ci"], n=32, dups=(16, 24), n_boot=500, exact_cases=8),
    "quick": A4Config(a3=A3_CONFIGS["quick"]),
    "full": A4Config(a3=A3_CONFIGS["full"], n=256, dups=(128, 192, 224), n_boot=10000, exact_cases=100),
}

RULES = {
    "A4.dedup_identity": "exact: the empirical score of n rows, m of them copies, equals the score of the n - m distinct "
                         "points with multiplicity weights, both in numpy (theory.EmpiricalDistribution.deduplicated) "
                         "and in the torch regression target the fits use: over random data sets (d 1-16, n 3-200, "
                         "1 to n - 2 copies, shuffled), t in [1e-4, 10] and 64 draws of Phat_t each, the largest "
                         "difference relative to the largest score component is <= 1e-12 (float64 rounding)",
    "A4.width_tracks_distinct": "W* of n rows with m copies tracks the n - m distinct points, not n: for every m, "
                                "r = (log W*_dup - log W*(n - m)) / (log W*(n) - log W*(n - m)) (replicate means; 0 "
                                "= tracks n - m, 1 = tracks n) is < 0.5 (closer to n - m on the log scale) by a "
                                "one-sided t-test over replicates (delta-method se of the ratio, df = R - 1) at level "
                                "0.05; every m must pass (intersection-union test); effect looked for r = 0 (the "
                                "paper: the size follows n - m); fail if for some m r is significantly above 0.5 "
                                "(level 0.05 / number of m, Bonferroni); else inconclusive",
}


@dataclass
class WStarRef:
    """W* of the A3 data set of n distinct rows, replicate ``rep`` (empirical target)."""

    n: int
    rep: int
    W: float
    status: str


@dataclass
class DupCase:
    """n rows with m copies: W* per replicate, and the cluster-bootstrap CI of r (reported only)."""

    m: int
    W: list[float]
    status: list[str]
    r_boot_ci: list[float]
    n_boot: int


@dataclass
class A4Measurements:
    n: int
    t: float
    eps: float
    reps: int
    d: int
    exact_times: list[float]
    exact_worst: list[float] = field(default_factory=list)   # per random data set: largest relative difference
    ref: list[WStarRef] = field(default_factory=list)
    dup: list[DupCase] = field(default_factory=list)
    seeds: dict = field(default_factory=dict)


def exact_case(seed: int, times) -> float:
    """Largest relative score difference over ``times`` between n rows with duplicates and their dedup forms."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 17))
    n = int(rng.integers(3, 200))
    m = int(rng.integers(1, n - 1))
    distinct = rng.normal(0, 2, (n - m, d))
    rows = np.concatenate([distinct, distinct[rng.integers(0, n - m, m)]])[rng.permutation(n)]
    full = EmpiricalDistribution(rows)
    dedup = EmpiricalDistribution.deduplicated(rows)
    worst = 0.0
    for t in times:
        x = full.sample(64, rng, t)
        ref = full.score(x, t)
        scale = np.abs(ref).max()
        ded = dedup.score(x, t)
        tgt = EmpiricalScoreTarget(dedup.points, dedup.probabilities)(torch.from_numpy(x), t)
        worst = max(worst, np.abs(ded - ref).max() / scale, np.abs(tgt.numpy() - ref).max() / scale)
    return worst


def _ratio(lw_dup, lw_lo, lw_hi, ix) -> float:
    """r over the replicates ``ix``: (mean log W*_dup - mean log W*(n - m)) / (mean log W*(n) - mean log W*(n - m))."""
    return float((lw_dup[ix].mean() - lw_lo[ix].mean()) / (lw_hi[ix].mean() - lw_lo[ix].mean()))


def measure(ctx: Context, cfg: A4Config) -> A4Measurements:
    a3 = cfg.a3
    s = a3.setting.validate()
    m_ = A4Measurements(n=cfg.n, t=a3.t, eps=a3.eps, reps=a3.reps, d=s.d, exact_times=list(cfg.exact_times))
    m_.exact_worst = [float(exact_case(ctx.seed_for("exact", i), cfg.exact_times)) for i in range(cfg.exact_cases)]

    n_max = max(a3.ns)
    if cfg.n > n_max:
        raise ValueError(f"n: must be <= the A3 grid's largest n = {n_max}, got {cfg.n}")
    # The A3 grid up to n (so the fits, and the bracket search's path through them, are the A3 run's own and are
    # read back when A3 ran first), plus any n - m not on it.
    ref_ns = sorted({*[k for k in a3.ns if k <= cfg.n], cfg.n, *[cfg.n - m for m in cfg.dups]})
    ref = run_curves(ctx, s, ref_ns, a3.widths, a3.reps, a3.t, a3.eps, a3.search, n_max,
                     targets=("empirical",), desc="reference fits")
    ref_ws = wstar_table(ref, a3.eps)
    m_.ref = [WStarRef(n, r, float(ref_ws[("empirical", n, r)][0]), ref_ws[("empirical", n, r)][2])
              for n in ref_ns for r in range(a3.reps)]
    logw_ref = {n: np.array([np.log(ref_ws[("empirical", n, r)][0]) for r in range(a3.reps)]) for n in ref_ns}
    rng_seed = ctx.seed_for("boot")
    for m in cfg.dups:
        hints = {("empirical", r): ref_ws[("empirical", cfg.n - m, r)][0] for r in range(a3.reps)}
        dup = run_curves(ctx, s, [cfg.n], a3.widths, a3.reps, a3.t, a3.eps, a3.search, n_max, dup=m,
                         targets=("empirical",), desc=f"fits with {m} duplicates", hints=hints)
        dws = wstar_table(dup, a3.eps)
        lw = np.array([np.log(dws[("empirical", cfg.n, r)][0]) for r in range(a3.reps)])
        idx = np.random.default_rng(rng_seed + m).integers(0, a3.reps, size=(cfg.n_boot, a3.reps))
        boot = np.array([_ratio(lw, logw_ref[cfg.n - m], logw_ref[cfg.n], ix) for ix in idx])
        boot = boot[np.isfinite(boot)]
        m_.dup.append(DupCase(m, [float(np.exp(v)) for v in lw], [dws[("empirical", cfg.n, r)][2] for r in range(a3.reps)],
                              [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))], cfg.n_boot))
    m_.seeds = {"claim": ctx.seed, "fits (shared with A3)": ctx.shared_seed(SWEEP_OWNER), "replicates": a3.reps,
                "bootstrap": rng_seed}
    return m_


def _logw_ref(m: A4Measurements, n: int) -> np.ndarray:
    by = {(x.n, x.rep): x.W for x in m.ref}
    return np.log(np.array([by[(n, r)] for r in range(m.reps)], dtype=np.float64))


def ratio_test(m: A4Measurements, case: DupCase) -> tuple[float, float, float]:
    """(r, its delta-method se, df = R - 1) for one duplication case (module doc)."""
    lw = np.log(np.asarray(case.W, dtype=np.float64))
    lo, hi = _logw_ref(m, m.n - case.m), _logw_ref(m, m.n)
    u, v = lw - lo, hi - lo
    r = float(u.mean() / v.mean())
    R = u.size
    if R < 2:
        return r, float("nan"), float("nan")
    return r, float(np.std(u - r * v, ddof=1) / (math.sqrt(R) * abs(v.mean()))), float(R - 1)


def decide(m: A4Measurements, cfg: A4Config) -> list:
    worst = max(m.exact_worst) if m.exact_worst else float("nan")
    out = [decision("A4.dedup_identity", bool(m.exact_worst) and worst <= cfg.exact_rtol,
                    f"{len(m.exact_worst)} random data sets, t in {m.exact_times}: largest relative difference "
                    f"{worst:.2e} (numpy deduplicated law and the torch regression target) against {cfg.exact_rtol:g}")]
    if not m.dup:
        out.append(decision("A4.width_tracks_distinct", "inconclusive", "no duplication case was run"))
        return out
    outs, recs, parts = [], [], []
    for case in m.dup:
        r, se, df = ratio_test(m, case)
        kw = dict(effect=cfg.r_max, fail_at=0.0, effect_source="the paper: the network size follows n - m (r = 0)",
                  what=f"{cfg.r_max:g} - r for m = {case.m} of n = {m.n}")
        o, rec = t_rule(cfg.r_max - r, se, df, cfg.alpha, **kw)
        o_fail, _ = t_rule(cfg.r_max - r, se, df, cfg.alpha / len(m.dup), **kw)
        outs.append(o if o == "pass" else ("fail" if o_fail == "fail" else "inconclusive"))
        recs.append(rec)
        lo, hi = rec["interval"]
        parts.append(f"m = {case.m} ({outs[-1]}): r = {r:.3f}, one-sided {1 - cfg.alpha:.0%} upper bound "
                     f"{cfg.r_max - lo:.3f} (t({df:g}) = {rec['z']:.2f} against {rec['t_crit']:.2f}; bootstrap 95% CI "
                     f"{case.r_boot_ci[0]:.3f} to {case.r_boot_ci[1]:.3f}, reported); W* = "
                     f"{np.exp(np.mean(np.log(case.W))):.3g} against W*({m.n - case.m}) = "
                     f"{np.exp(_logw_ref(m, m.n - case.m).mean()):.3g} and W*({m.n}) = {np.exp(_logw_ref(m, m.n).mean()):.3g}")
    binding = min(range(len(recs)), key=lambda i: recs[i]["z"] if recs[i]["z"] == recs[i]["z"] else -np.inf)
    rec = {**recs[binding], "subtests": [{"m": c.m, "estimate": x["estimate"], "se": x["se"], "df": x["df"],
                                          "z": x["z"], "outcome": o} for c, x, o in zip(m.dup, recs, outs)]}
    out.append(decision("A4.width_tracks_distinct", combine_all(outs),
                        "; ".join(parts) + f"; required r < {cfg.r_max:g} for every m (0 = n - m, 1 = n)", rec))
    return out


def report(ctx: Context, cfg: A4Config, m: A4Measurements, f: Findings) -> tuple[str, str]:
    f.tolerance("identity", cfg.exact_rtol, "float64 rounding: both sides are softmax averages over the same "
                                             "points (measured up to 5e-14 of the largest score component)")
    tab, rs = [], []
    for case in m.dup:
        r, se, df = ratio_test(m, case)
        rs.append((case.m, r))
        tab.append([m.n, case.m, m.n - case.m, float(np.exp(np.mean(np.log(case.W)))),
                    float(np.exp(_logw_ref(m, m.n - case.m).mean())), float(np.exp(_logw_ref(m, m.n).mean())), r, se,
                    f"{case.r_boot_ci[0]:.3f} to {case.r_boot_ci[1]:.3f}",
                    ", ".join(f"{w:.3g}" + ("" if s == "ok" else "(censored)") for w, s in zip(case.W, case.status))])
    f.table(f"W* with duplicated rows (d = {m.d}, t = {m.t:g}, eps = {m.eps:g}, {m.reps} replicates)",
            ["n rows", "m copies", "distinct", "W* (with copies)", "W* (n - m distinct)", "W* (n distinct)", "r",
             "se(r)", "bootstrap 95% CI of r", "W* with copies per replicate"], tab,
            note="W* geometric means over replicates; the copies repeat rows chosen uniformly among the distinct ones, "
                 "so multiplicities are unequal. se(r) by the delta method over replicates (the rule's, with Student "
                 f"t, df = {m.reps - 1}); the cluster-bootstrap CI ({cfg.n_boot} resamples, percentile) is shown as a "
                 "description.")
    f.tolerance("r", f"r < {cfg.r_max:g}, one-sided level {cfg.alpha:g}",
                "closer to W*(n - m) than to W*(n) on the log scale")
    if any(s != "ok" for c in m.dup for s in c.status):
        f.notes.append("Some W* with copies are censored (outside the width grid); the bound enters r.")

    ref_ns = sorted({x.n for x in m.ref})
    path, rel = ctx.figure_path("duplicates")
    with figure(path, 1, (6, 4.3)) as ax:
        ax.plot(ref_ns, [np.exp(_logw_ref(m, n).mean()) for n in ref_ns], "o-", color="C3", label="n distinct points")
        for case, row in zip(m.dup, tab):
            ax.plot([m.n], [row[3]], "s", ms=8, label=f"{m.n} rows, {case.m} copies ({m.n - case.m} distinct)")
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel=f"W* (rel. error <= {m.eps:g})",
               title="A4: width needed with duplicated rows")
        ax.legend(fontsize=7)
    f.figures.append(rel)
    f.seeds.update(m.seeds)
    headline = (f"identity exact to {max(m.exact_worst):.1e}; with copies W* follows the distinct count: r = " +
                ", ".join(f"{r:.2f} (m = {k})" for k, r in rs) + " (0 = n - m, 1 = n)")
    method = ("Exact: theory.EmpiricalDistribution.deduplicated and empirical.EmpiricalScoreTarget against the "
              "rows with copies. Experiment: the A3 fits (empirical.approx, shared sweep) on the A3 data sets of "
              f"size n - m plus m copies; {m.reps} replicates; one-sided Student-t rule on r over replicates "
              "(cluster-bootstrap CI reported).")
    return headline, method


register("A4", title="Duplicated samples: the empirical score and the width it needs follow the distinct points",
         paper_ref="Section 5, remark after Theorem 5.1 (duplication)",
         statement="If m of the n samples duplicate others, the empirical score is that of the n - m distinct points "
                   "(with multiplicity weights); it is easier to represent (the network size it needs follows n - m), "
                   "so memorization is likelier.",
         inferred="'The network size it needs follows n - m' is measured as the smallest width W* reaching a fixed "
                  "relative error in the A3 setting, and read as W* closer to W*(n - m) than to W*(n) on the log "
                  "scale (r < 1/2). That memorization is likelier is not measured here.",
         configs=CONFIGS, rules=RULES, measure=measure, decide=decide, report=report)
