"""A4: duplicated samples: the empirical score is that of the distinct points, and so is the width it needs.

    n rows, m of them copies:  phat_t = sum_j (c_j / n) N(alpha_t y_j, sigma_t^2 I)   over the n - m distinct y_j
                               (c_j = multiplicity), so grad log phat_t is the weighted empirical score
                               of n - m points.

Checked (1) exactly: theory.EmpiricalDistribution of the n rows against the deduplicated law
with multiplicity weights (numpy) and against empirical.EmpiricalScoreTarget (the torch target
the fits use), over random data sets and t in [1e-4, 10]; (2) by experiment: with the A3 setting,
W* of a data set of n rows with m duplicates sits at W*(n - m distinct), not at W*(n distinct).
The replicate's distinct points ARE the A3 data set of size n - m (nested draws), so the
comparison is paired; only the multiplicity weights differ.

    r = (log W*_dup - log W*(n - m)) / (log W*(n) - log W*(n - m))    (0: tracks n - m; 1: tracks n)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from empirical.approx import dataset_for, mixture_for
from empirical.targets import EmpiricalScoreTarget
from theory import EmpiricalDistribution

from ..io import figure
from ..registry import Context, Findings, register
from .a3 import CONFIGS as A3_CONFIGS
from .a3 import SWEEP_OWNER, A3Config, run_curves, wstar_table


@dataclass(frozen=True)
class A4Config:
    a3: A3Config = field(default_factory=A3Config)      # fit setting, widths, eps, replicates (shared fits)
    n: int = 64
    dups: tuple[int, ...] = (32, 48)                     # m: duplicated rows
    r_max: float = 0.5                                   # CI upper bound of r below this: closer to n - m than n
    n_boot: int = 2000
    exact_cases: int = 24
    exact_times: tuple[float, ...] = (1e-4, 1e-2, 1.0, 10.0)
    exact_rtol: float = 1e-12


CONFIGS = {
    "ci": A4Config(a3=A3_CONFIGS["ci"], n=32, dups=(16, 24), n_boot=500, exact_cases=8),
    "quick": A4Config(a3=A3_CONFIGS["quick"]),
    "full": A4Config(a3=A3_CONFIGS["full"], n=256, dups=(128, 192, 224), n_boot=10000, exact_cases=100),
}


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


@register("A4", title="Duplicated samples: the empirical score and the width it needs follow the distinct points",
          paper_ref="Section 5, remark after Theorem 5.1 (duplication)",
          statement="If m of the n samples duplicate others, the empirical score is that of the n - m distinct points "
                    "(with multiplicity weights); it is easier to represent (the network size it needs follows n - m), "
                    "so memorization is likelier.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg: A4Config = ctx.config
    a3 = cfg.a3
    s = a3.setting.validate()
    f = Findings()

    # (1) exact identity
    worst = [exact_case(ctx.seed_for("exact", i), cfg.exact_times) for i in range(cfg.exact_cases)]
    f.check("the empirical score of n rows equals that of the distinct points with multiplicity weights",
            max(worst) <= cfg.exact_rtol,
            f"{cfg.exact_cases} random data sets (d 1-16, n 3-200, 1 to n - 2 copies, shuffled), t in "
            f"{list(cfg.exact_times)}, 64 draws of Phat_t each: largest relative difference {max(worst):.2e} "
            f"(numpy deduplicated law and the torch regression target)")
    f.tolerance("identity", cfg.exact_rtol, "float64 rounding: both sides are softmax averages over the same "
                                             "points (measured up to 5e-14 of the largest score component)")

    # (2) W* with duplicates against W*(n - m) and W*(n)
    n_max = max(a3.ns)
    if cfg.n > n_max:
        raise ValueError(f"n: must be <= the A3 grid's largest n = {n_max}, got {cfg.n}")
    # The A3 grid up to n (so the fits, and the bracket search's path through them, are the A3 run's own and are
    # read back when A3 ran first), plus any n - m not on it.
    ref_ns = sorted({*[k for k in a3.ns if k <= cfg.n], cfg.n, *[cfg.n - m for m in cfg.dups]})
    ref = run_curves(ctx, s, ref_ns, a3.widths, a3.reps, a3.t, a3.eps, a3.search, n_max,
                     targets=("empirical",), desc="reference fits")
    ref_ws = wstar_table(ref, a3.eps)
    rows, tab, status = [], [], []
    rng_seed = ctx.seed_for("boot")
    logw_ref = {n: np.array([np.log(ref_ws[("empirical", n, r)][0]) for r in range(a3.reps)]) for n in ref_ns}
    for m in cfg.dups:
        hints = {("empirical", r): ref_ws[("empirical", cfg.n - m, r)][0] for r in range(a3.reps)}
        dup = run_curves(ctx, s, [cfg.n], a3.widths, a3.reps, a3.t, a3.eps, a3.search, n_max, dup=m,
                         targets=("empirical",), desc=f"fits with {m} duplicates", hints=hints)
        dws = wstar_table(dup, a3.eps)
        lw = np.array([np.log(dws[("empirical", cfg.n, r)][0]) for r in range(a3.reps)])
        lo_, hi_ = logw_ref[cfg.n - m], logw_ref[cfg.n]
        ratio = lambda ix: (lw[ix].mean() - lo_[ix].mean()) / (hi_[ix].mean() - lo_[ix].mean())  # noqa: E731
        r_hat = float(ratio(np.arange(a3.reps)))
        idx = np.random.default_rng(rng_seed + m).integers(0, a3.reps, size=(cfg.n_boot, a3.reps))
        boot = np.array([ratio(ix) for ix in idx])
        boot = boot[np.isfinite(boot)]
        ci = (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975)))
        rows.append((m, r_hat, ci))
        status += [v[2] for v in dws.values()]
        tab.append([cfg.n, m, cfg.n - m, float(np.exp(lw.mean())), float(np.exp(lo_.mean())), float(np.exp(hi_.mean())),
                    r_hat, f"{ci[0]:.3f} to {ci[1]:.3f}"])
        f.check(f"W* with {m} of {cfg.n} rows duplicated tracks n - m = {cfg.n - m}, not n",
                ci[1] < cfg.r_max,
                f"r = {r_hat:.3f} (95% CI {ci[0]:.3f} to {ci[1]:.3f}; 0 = W*(n - m), 1 = W*(n)); W* = "
                f"{np.exp(lw.mean()):.3g} against W*({cfg.n - m}) = {np.exp(lo_.mean()):.3g} and W*({cfg.n}) = "
                f"{np.exp(hi_.mean()):.3g}; required CI upper < {cfg.r_max:g}")
    f.table(f"W* with duplicated rows (d = {s.d}, t = {a3.t:g}, eps = {a3.eps:g}, {a3.reps} replicates)",
            ["n rows", "m copies", "distinct", "W* (with copies)", "W* (n - m distinct)", "W* (n distinct)", "r",
             "95% CI of r"], tab,
            note="W* geometric means over replicates; the copies repeat rows chosen uniformly among the distinct ones, "
                 "so multiplicities are unequal. r by a cluster bootstrap over replicates "
                 f"({cfg.n_boot} resamples, percentile).")
    f.tolerance("r", f"CI upper < {cfg.r_max:g}", "closer to W*(n - m) than to W*(n) on the log scale")
    if any(c != "ok" for c in status):
        f.notes.append("Some W* with copies are censored (outside the width grid); the bound enters r.")

    path, rel = ctx.figure_path("duplicates")
    with figure(path, 1, (6, 4.3)) as ax:
        ns = np.array(ref_ns)
        ax.plot(ns, [np.exp(logw_ref[n].mean()) for n in ref_ns], "o-", color="C3", label="n distinct points")
        for (m, r_hat, _), row in zip(rows, tab):
            ax.plot([cfg.n], [row[3]], "s", ms=8, label=f"{cfg.n} rows, {m} copies ({cfg.n - m} distinct)")
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel=f"W* (rel. error <= {a3.eps:g})",
               title="A4: width needed with duplicated rows")
        ax.legend(fontsize=7)
    f.figures.append(rel)
    f.seeds.update({"claim": ctx.seed, "fits (shared with A3)": ctx.shared_seed(SWEEP_OWNER), "replicates": a3.reps})
    headline = (f"identity exact to {max(worst):.1e}; with copies W* follows the distinct count: r = " +
                ", ".join(f"{r_hat:.2f} (m = {m})" for m, r_hat, _ in rows) + " (0 = n - m, 1 = n)")
    method = ("Exact: theory.EmpiricalDistribution.deduplicated and empirical.EmpiricalScoreTarget against the "
              "rows with copies. Experiment: the A3 fits (empirical.approx, shared sweep) on the A3 data sets of "
              f"size n - m plus m copies; {a3.reps} replicates; cluster bootstrap.")
    return f.result(headline, method)
