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

(3) By experiment, "so memorization is likelier" (empirical.duplicates): per replicate s (its own
mixture, n distinct points, choice of duplicated points, training seed and sample seeds) a diffusion
model is DSM-trained on the rows, g of the n distinct points written f times each (the others once),
and m samples from the probability-flow ODE are scored by the 1/3 rule; c_i = how many samples
memorize distinct point i (NN1 over distinct points). With D = the points written f times, S = the
single points, C_sg = sum_{i in g} c_i, N_sg = |g| in replicate s, the per-point copy rates are
C_sg / (N_sg m) and their ratio (paired: the same model, samples and data set) is estimated by

    L_s = log((C_sD + a_D) / N_sD) - log((C_sS + a_S) / N_sS),   a_g = N_sg / (N_sD + N_sS)
          (one pseudo-copy split in proportion to the group sizes: no copies at all gives L_s = 0)
    v_s = phi_D / (C_sD + a_D) + phi_S / (C_sS + a_S)             (quasi-Poisson variance of L_s)
    phi_g = max(1, X2_g / df_g),  X2_g = sum_s sum_{i in g} (c_i - mu_sg)^2 / mu_sg,  mu_sg = C_sg / N_sg,
          df_g = sum_s (N_sg - 1) over the cells with C_sg > 0    (Pearson dispersion between points:
          points differ in how often they are copied beyond Poisson noise)
    L = sum_s w_s L_s / sum_s w_s,   w_s = 1 / v_s,   se(L) = (sum_s w_s)^(-1/2)
    df = Satterthwaite's for se^2 = phi_D A + phi_S B (A, B the Poisson parts; an estimated phi_g
          has df_g degrees of freedom, a floored one (phi_g = 1, Poisson) counts as known)

and A4.duplicates_memorized_more is the one-sided t rule of verify/claims/_approx.py on L with the
effect log 2 (a doubling). A model that reproduces the empirical law copies point i with probability
c_i / N, a rate ratio of f; 2 is the ratio that argument gives at the smallest factor of the full
profile (f = 2), so a ratio below 2 at f = 8 would contradict it. The test covers the sampling noise
and the point-to-point spread of the copy counts given the trained models; the spread of the ratio
between training seeds is shown (Cochran's Q), not modelled. Other factors of a run are reported
with the same estimator. The null (m fresh draws from P_t0, a perfect generalizer, scored by the
same rule) is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from memsep.empirical.diffusion import DiffusionConfig
from memsep.empirical.duplicates import duplicates_point, run_duplicates_point
from memsep.empirical.mixture_diffusion import MixtureDiffusionSetting
from memsep.empirical.sweep import record_key, run_sweep
from memsep.empirical.targets import EmpiricalScoreTarget
from memsep.theory import EmpiricalDistribution

from ..io import figure
from ..registry import Context, Findings, decision, register
from ._approx import FIT_CONFIGS as A3_CONFIGS
from ._approx import SWEEP_OWNER, A3Config, combine_all, fmt_test, run_curves, t_rule, wstar_table


@dataclass(frozen=True)
class DupMemConfig:
    """The duplicates-and-memorization experiment (module doc, (3)); defaults: the quick profile."""

    setting: MixtureDiffusionSetting = field(default_factory=lambda: MixtureDiffusionSetting(likelihood=False))
    # 4,000 steps, 512 ODE samples; the models' likelihood is not needed here
    d: int = 8
    n_distinct: int = 64
    groups: tuple[tuple[int, int], ...] = ((8, 8),)  # (factor f, number of points written f times)
    network: str = "mlp-100k"  # memorizes about 40-50% of its samples here (measured)
    reps: int = 3  # replicates: data set, duplicated points, training seed
    effect: float = 2.0  # rate ratio looked for (module doc)
    alpha: float = 0.05  # one-sided level


@dataclass(frozen=True)
class A4Config:
    a3: A3Config = field(default_factory=A3Config)  # fit setting, widths, eps, replicates (shared fits)
    n: int = 64
    dups: tuple[int, ...] = (32, 48)  # m: duplicated rows
    r_max: float = 0.5  # r below this: closer to n - m than to n (log scale)
    n_boot: int = 2000
    exact_cases: int = 24
    exact_times: tuple[float, ...] = (1e-4, 1e-2, 1.0, 10.0)
    exact_rtol: float = 1e-12
    alpha: float = 0.05  # one-sided level of the width rule
    mem: DupMemConfig = field(default_factory=DupMemConfig)  # duplicates and memorization


CONFIGS = {
    "ci": A4Config(
        a3=A3_CONFIGS["ci"],
        n=32,
        dups=(16, 24),
        n_boot=500,
        exact_cases=8,
        mem=DupMemConfig(
            setting=MixtureDiffusionSetting(
                train=DiffusionConfig(steps=1500), n_samples=256, sample_steps=100, likelihood=False
            ),
            n_distinct=32,
            groups=((8, 4),),
            reps=2,
        ),
    ),
    "quick": A4Config(a3=A3_CONFIGS["quick"]),
    "full": A4Config(
        a3=A3_CONFIGS["full"],
        n=256,
        dups=(128, 192, 224),
        n_boot=10000,
        exact_cases=100,
        mem=DupMemConfig(
            setting=MixtureDiffusionSetting(train=DiffusionConfig(steps=20000), n_samples=2048, likelihood=False),
            n_distinct=256,
            groups=((2, 16), (4, 16), (8, 16)),
            network="mlp-400k",
            reps=5,
        ),
    ),
}

FULL_COMMAND = "memsep run --claims A4 --profile full --device cuda"

RULES = {
    "A4.dedup_identity": "exact: the empirical score of n rows, m of them copies, equals the score of the n - m "
    "distinct points with multiplicity weights, both in numpy (theory.EmpiricalDistribution.deduplicated) "
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
    "A4.duplicates_memorized_more": "duplicated training points are copied more often: diffusion models trained on n "
    "distinct points of a Gaussian mixture, some of them written f times (the largest "
    "factor of the run), each sample memorized by the 1/3 rule counted against its "
    "nearest distinct point; estimator: the log of the per-point copy rate of the "
    "duplicated points over that of the single points, paired within each replicate "
    "(same model and samples), pooled over replicates by inverse-variance weights "
    "with a quasi-Poisson standard error (Pearson dispersion between points, floored "
    "at 1; Satterthwaite df); one-sided t-test of a ratio > 1 at level 0.05; effect "
    "looked for a rate ratio of 2 (a model of the empirical law copies a point in "
    "proportion to its multiplicity, ratio f; 2 is that ratio at the smallest factor "
    "2); pass if significant; fail if the one-sided 95% upper bound of the ratio is "
    "below 2; else inconclusive; power at ratio 2 and the minimum detectable ratio "
    "are reported. The claim's two statistical rules each wrongly fail with "
    "probability <= 0.05, so the verdict wrongly fails with probability <= 0.10 "
    "(union bound, no further correction)",
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
class DupSeed:
    """One replicate of the duplicates experiment: per distinct point its multiplicity and its copies among the
    samples and among the null draws (lists aligned with the distinct points)."""

    rep: int
    multiplicity: list[int]
    copies: list[int]
    null_copies: list[int]
    m: int
    memorized: int
    null_memorized: int
    parameters: int = 0
    seconds: float = 0.0
    reused: bool = False


@dataclass
class A4Measurements:
    n: int
    t: float
    eps: float
    reps: int
    d: int
    exact_times: list[float]
    exact_worst: list[float] = field(default_factory=list)  # per random data set: largest relative difference
    ref: list[WStarRef] = field(default_factory=list)
    dup: list[DupCase] = field(default_factory=list)
    seeds: dict = field(default_factory=dict)
    mem: list[DupSeed] = field(default_factory=list)  # duplicates and memorization, one per replicate
    mem_design: dict = field(default_factory=dict)  # d, n_distinct, groups, network, steps, samples


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
    ref = run_curves(
        ctx,
        s,
        ref_ns,
        a3.widths,
        a3.reps,
        a3.t,
        a3.eps,
        a3.search,
        n_max,
        targets=("empirical",),
        desc="reference fits",
    )
    ref_ws = wstar_table(ref, a3.eps)
    m_.ref = [
        WStarRef(n, r, float(ref_ws[("empirical", n, r)][0]), ref_ws[("empirical", n, r)][2])
        for n in ref_ns
        for r in range(a3.reps)
    ]
    logw_ref = {n: np.array([np.log(ref_ws[("empirical", n, r)][0]) for r in range(a3.reps)]) for n in ref_ns}
    rng_seed = ctx.seed_for("boot")
    for m in cfg.dups:
        hints = {("empirical", r): ref_ws[("empirical", cfg.n - m, r)][0] for r in range(a3.reps)}
        dup = run_curves(
            ctx,
            s,
            [cfg.n],
            a3.widths,
            a3.reps,
            a3.t,
            a3.eps,
            a3.search,
            n_max,
            dup=m,
            targets=("empirical",),
            desc=f"fits with {m} duplicates",
            hints=hints,
        )
        dws = wstar_table(dup, a3.eps)
        lw = np.array([np.log(dws[("empirical", cfg.n, r)][0]) for r in range(a3.reps)])
        idx = np.random.default_rng(rng_seed + m).integers(0, a3.reps, size=(cfg.n_boot, a3.reps))
        boot = np.array([_ratio(lw, logw_ref[cfg.n - m], logw_ref[cfg.n], ix) for ix in idx])
        boot = boot[np.isfinite(boot)]
        m_.dup.append(
            DupCase(
                m,
                [float(np.exp(v)) for v in lw],
                [dws[("empirical", cfg.n, r)][2] for r in range(a3.reps)],
                [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
                cfg.n_boot,
            )
        )
    m_.seeds = {
        "claim": ctx.seed,
        "fits (shared with A3)": ctx.shared_seed(SWEEP_OWNER),
        "replicates": a3.reps,
        "bootstrap": rng_seed,
    }
    measure_memorization(ctx, cfg.mem, m_)
    return m_


def measure_memorization(ctx: Context, mc: DupMemConfig, m_: A4Measurements) -> None:
    """The duplicates experiment (module doc, (3)): one resumable sweep point per replicate, under
    results/sweeps/A4/<profile>/duplicates/; fills ``m_.mem``, ``m_.mem_design`` and the seeds."""
    if isinstance(mc.reps, bool) or not isinstance(mc.reps, int) or mc.reps < 1:
        raise ValueError(f"reps: must be a positive int, got {mc.reps!r}")
    if not mc.effect > 1:
        raise ValueError(f"effect: the rate ratio looked for must be > 1, got {mc.effect}")
    s = mc.setting
    seed = ctx.seed_for("duplicates")
    points = [
        duplicates_point(s, d=mc.d, n_distinct=mc.n_distinct, groups=mc.groups, network=mc.network, rep=r, seed=seed)
        for r in range(mc.reps)
    ]
    folder = ctx.sweep_dir("duplicates")
    # one list: under torchrun the workers share it (empirical.workers); alone, the same points in the same order
    done = run_sweep(
        points, lambda q: run_duplicates_point(q, ctx.device), folder, desc="duplicates", progress=ctx.progress
    )
    for r, rec in enumerate(done):
        res = rec["result"]
        m_.mem.append(
            DupSeed(
                rep=r,
                multiplicity=[int(v) for v in res["multiplicity"]],
                copies=[int(v) for v in res["copies"]],
                null_copies=[int(v) for v in res["null_copies"]],
                m=int(res["m"]),
                memorized=int(res["memorized"]),
                null_memorized=int(res["null_memorized"]),
                parameters=int(res["parameters"]),
                seconds=float(rec["seconds"]),
                reused=bool(rec["reused"]),
            )
        )
    m_.mem_design = {
        "d": mc.d,
        "K": s.K,
        "mean_scale": s.mean_scale,
        "n_distinct": mc.n_distinct,
        "groups": [list(g) for g in mc.groups],
        "network": mc.network,
        "steps": s.train.steps,
        "batch": s.train.batch,
        "n_samples": s.n_samples,
        "sample_steps": s.sample_steps,
        "method": s.method,
    }
    m_.seeds.update(
        {"duplicates experiment": seed, "duplicates points": {f"rep={r}": record_key(p) for r, p in enumerate(points)}}
    )


# ---- duplicates and memorization: the pooled log rate ratio -------------------------------------------------------


def _group(seed: DupSeed, factor: int, null: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(copies of the points written ``factor`` times, copies of the single points) in one replicate."""
    mult = np.asarray(seed.multiplicity, dtype=np.int64)
    c = np.asarray(seed.null_copies if null else seed.copies, dtype=np.float64)
    if mult.shape != c.shape or mult.ndim != 1:
        raise ValueError(f"mem: replicate {seed.rep} has {mult.size} multiplicities and {c.size} copy counts")
    return c[mult == factor], c[mult == 1]


def _dispersion(cells: list[np.ndarray]) -> tuple[float, float]:
    """(phi, df): Pearson X2 / df of per-point counts about their cell means (module doc), floored at 1; df = inf
    when phi is the floor or no cell has a copy (Poisson, known)."""
    x2, df = 0.0, 0
    for c in cells:
        tot = float(c.sum())
        if tot > 0 and c.size >= 2:
            mu = tot / c.size
            x2 += float(((c - mu) ** 2).sum() / mu)
            df += c.size - 1
    if df == 0 or x2 / df <= 1.0:
        return 1.0, math.inf
    return x2 / df, float(df)


def rate_ratio(seeds: list[DupSeed], factor: int, null: bool = False) -> dict:
    """The pooled log rate ratio of points written ``factor`` times over single points (module doc).

    Returns {"log_ratio", "se", "df", "ratio", "per_seed": [{"rep", "C_dup", "N_dup", "C_single", "N_single",
    "rate_dup", "rate_single", "log_ratio", "se"}], "phi_dup", "df_dup", "phi_single", "df_single", "Q", "Q_df"};
    rates are copies per point per sample. ``null``: the same for the null draws. Replicates without points of
    both kinds are skipped; with none left the estimate is 0 with an infinite se."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
        raise ValueError(f"factor: must be an int >= 2, got {factor!r}")
    groups = [(s, *_group(s, factor, null)) for s in seeds]
    groups = [(s, cd, cs) for s, cd, cs in groups if cd.size and cs.size]
    out = {"factor": int(factor), "null": bool(null), "per_seed": []}
    if not groups:
        return {
            **out,
            "log_ratio": 0.0,
            "se": math.inf,
            "df": math.inf,
            "ratio": 1.0,
            "phi_dup": 1.0,
            "df_dup": math.inf,
            "phi_single": 1.0,
            "df_single": math.inf,
            "Q": float("nan"),
            "Q_df": 0,
        }
    phi_d, df_d = _dispersion([cd for _, cd, _ in groups])
    phi_s, df_s = _dispersion([cs for _, _, cs in groups])
    ls, pd, ps = [], [], []
    for s, cd, cs in groups:
        nd, ns = cd.size, cs.size
        a_d, a_s = nd / (nd + ns), ns / (nd + ns)
        l_s = math.log((cd.sum() + a_d) / nd) - math.log((cs.sum() + a_s) / ns)
        ls.append(l_s)
        pd.append(1.0 / (cd.sum() + a_d))
        ps.append(1.0 / (cs.sum() + a_s))
        out["per_seed"].append(
            {
                "rep": s.rep,
                "C_dup": int(cd.sum()),
                "N_dup": nd,
                "C_single": int(cs.sum()),
                "N_single": ns,
                "rate_dup": float(cd.sum() / (nd * s.m)),
                "rate_single": float(cs.sum() / (ns * s.m)),
                "log_ratio": l_s,
                "se": math.sqrt(phi_d * pd[-1] + phi_s * ps[-1]),
            }
        )
    ls, pd, ps = np.array(ls), np.array(pd), np.array(ps)
    w = 1.0 / (phi_d * pd + phi_s * ps)
    W = float(w.sum())
    L = float((w * ls).sum() / W)
    A, B = float((w**2 * pd).sum() / W**2), float((w**2 * ps).sum() / W**2)
    var = phi_d * A + phi_s * B  # = 1 / W
    den = sum(0.0 if math.isinf(dfg) else (v**2) / dfg for v, dfg in ((phi_d * A, df_d), (phi_s * B, df_s)))
    df = var**2 / den if den > 0 else math.inf
    Q = float((w * (ls - L) ** 2).sum())
    return {
        **out,
        "log_ratio": L,
        "se": math.sqrt(var),
        "df": float(df),
        "ratio": math.exp(L),
        "phi_dup": phi_d,
        "df_dup": df_d,
        "phi_single": phi_s,
        "df_single": df_s,
        "Q": Q,
        "Q_df": len(groups) - 1,
    }


def _factors(m: A4Measurements) -> list[int]:
    """Duplication factors present in the replicates, ascending."""
    return sorted({int(v) for s in m.mem for v in s.multiplicity if v >= 2})


def memorization_test(m: A4Measurements, cfg: A4Config, factor: int | None = None) -> tuple[str, dict, dict]:
    """(outcome, t_rule record, rate_ratio) of A4.duplicates_memorized_more at ``factor`` (default: the largest)."""
    mc = cfg.mem
    fs = _factors(m)
    factor = (fs[-1] if fs else 2) if factor is None else factor
    rr = rate_ratio(m.mem, factor)
    o, rec = t_rule(
        rr["log_ratio"],
        rr["se"],
        rr["df"],
        mc.alpha,
        effect=math.log(mc.effect),
        effect_source=f"a rate ratio of {mc.effect:g}: a model of the empirical law copies a point in "
        f"proportion to its multiplicity (ratio f); {mc.effect:g} is that ratio at the "
        "smallest factor 2",
        what=f"log(copy rate of points written {factor} times / copy rate of single points)",
    )
    return o, rec, rr


def _ratio_text(rr: dict, rec: dict) -> str:
    lo, hi = rec["interval"]
    return (
        f"ratio {rr['ratio']:.3g} (one-sided {1 - rec['alpha']:.0%} bounds {math.exp(lo):.3g} to "
        f"{math.exp(hi):.3g}; {fmt_test(rec)} on the log scale)"
    )


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
    out = [
        decision(
            "A4.dedup_identity",
            bool(m.exact_worst) and worst <= cfg.exact_rtol,
            f"{len(m.exact_worst)} random data sets, t in {m.exact_times}: largest relative difference "
            f"{worst:.2e} (numpy deduplicated law and the torch regression target) against {cfg.exact_rtol:g}",
        )
    ]
    if not m.dup:
        out.append(decision("A4.width_tracks_distinct", "inconclusive", "no duplication case was run"))
        out.append(_decide_memorization(m, cfg))
        return out
    outs, recs, parts = [], [], []
    for case in m.dup:
        r, se, df = ratio_test(m, case)
        kw = dict(
            effect=cfg.r_max,
            fail_at=0.0,
            effect_source="the paper: the network size follows n - m (r = 0)",
            what=f"{cfg.r_max:g} - r for m = {case.m} of n = {m.n}",
        )
        o, rec = t_rule(cfg.r_max - r, se, df, cfg.alpha, **kw)
        o_fail, _ = t_rule(cfg.r_max - r, se, df, cfg.alpha / len(m.dup), **kw)
        outs.append(o if o == "pass" else ("fail" if o_fail == "fail" else "inconclusive"))
        recs.append(rec)
        lo, hi = rec["interval"]
        parts.append(
            f"m = {case.m} ({outs[-1]}): r = {r:.3f}, one-sided {1 - cfg.alpha:.0%} upper bound "
            f"{cfg.r_max - lo:.3f} (t({df:g}) = {rec['z']:.2f} against {rec['t_crit']:.2f}; bootstrap 95% CI "
            f"{case.r_boot_ci[0]:.3f} to {case.r_boot_ci[1]:.3f}, reported); W* = "
            f"{np.exp(np.mean(np.log(case.W))):.3g} against W*({m.n - case.m}) = "
            f"{np.exp(_logw_ref(m, m.n - case.m).mean()):.3g} and W*({m.n}) = {np.exp(_logw_ref(m, m.n).mean()):.3g}"
        )
    binding = min(range(len(recs)), key=lambda i: recs[i]["z"] if recs[i]["z"] == recs[i]["z"] else -np.inf)
    rec = {
        **recs[binding],
        "subtests": [
            {"m": c.m, "estimate": x["estimate"], "se": x["se"], "df": x["df"], "z": x["z"], "outcome": o}
            for c, x, o in zip(m.dup, recs, outs)
        ],
    }
    out.append(
        decision(
            "A4.width_tracks_distinct",
            combine_all(outs),
            "; ".join(parts) + f"; required r < {cfg.r_max:g} for every m (0 = n - m, 1 = n)",
            rec,
        )
    )
    out.append(_decide_memorization(m, cfg))
    return out


def _decide_memorization(m: A4Measurements, cfg: A4Config):
    key = "A4.duplicates_memorized_more"
    fs = _factors(m)
    if not m.mem or not fs:
        return decision(
            key, "inconclusive", "the duplicates experiment was not run (no replicate with duplicated points)"
        )
    o, rec, rr = memorization_test(m, cfg)
    seeds = "; ".join(
        f"rep {p['rep']}: {p['C_dup']} copies of {p['N_dup']} duplicated points, {p['C_single']} of "
        f"{p['N_single']} single points (per-point rates {p['rate_dup']:.4f} vs {p['rate_single']:.4f})"
        for p in rr["per_seed"]
    )
    mde = math.exp(rec["mde"]) if rec["mde"] == rec["mde"] else float("nan")
    detail = (
        f"factor {fs[-1]}, {len(rr['per_seed'])} replicates: pooled copy-rate {_ratio_text(rr, rec)}; power "
        f"at ratio {cfg.mem.effect:g}: {rec['power']:.3f}; minimum detectable ratio (power 0.8) {mde:.3g}; "
        f"dispersion phi {rr['phi_dup']:.2f} (duplicated), {rr['phi_single']:.2f} (single); Cochran's Q between "
        f"replicates {rr['Q']:.2f} on {rr['Q_df']} df; {seeds}"
    )
    rec = {
        **rec,
        "ratio": rr["ratio"],
        "ratio_interval": [math.exp(v) for v in rec["interval"]],
        "min_detectable_ratio": mde,
        "factor": fs[-1],
    }
    return decision(key, o, detail, rec)


def report(ctx: Context, cfg: A4Config, m: A4Measurements, f: Findings) -> tuple[str, str]:
    f.tolerance(
        "identity",
        cfg.exact_rtol,
        "float64 rounding: both sides are softmax averages over the same "
        "points (measured up to 5e-14 of the largest score component)",
    )
    tab, rs = [], []
    for case in m.dup:
        r, se, df = ratio_test(m, case)
        rs.append((case.m, r))
        tab.append(
            [
                m.n,
                case.m,
                m.n - case.m,
                float(np.exp(np.mean(np.log(case.W)))),
                float(np.exp(_logw_ref(m, m.n - case.m).mean())),
                float(np.exp(_logw_ref(m, m.n).mean())),
                r,
                se,
                f"{case.r_boot_ci[0]:.3f} to {case.r_boot_ci[1]:.3f}",
                ", ".join(f"{w:.3g}" + ("" if s == "ok" else "(censored)") for w, s in zip(case.W, case.status)),
            ]
        )
    f.table(
        f"W* with duplicated rows (d = {m.d}, t = {m.t:g}, eps = {m.eps:g}, {m.reps} replicates)",
        [
            "n rows",
            "m copies",
            "distinct",
            "W* (with copies)",
            "W* (n - m distinct)",
            "W* (n distinct)",
            "r",
            "se(r)",
            "bootstrap 95% CI of r",
            "W* with copies per replicate",
        ],
        tab,
        note="W* geometric means over replicates; the copies repeat rows chosen uniformly among the distinct ones, "
        "so multiplicities are unequal. se(r) by the delta method over replicates (the rule's, with Student "
        f"t, df = {m.reps - 1}); the cluster-bootstrap CI ({cfg.n_boot} resamples, percentile) is shown as a "
        "description.",
    )
    f.tolerance(
        "r", f"r < {cfg.r_max:g}, one-sided level {cfg.alpha:g}", "closer to W*(n - m) than to W*(n) on the log scale"
    )
    if any(s != "ok" for c in m.dup for s in c.status):
        f.note("Some W* with copies are censored (outside the width grid); the bound enters r.")

    ref_ns = sorted({x.n for x in m.ref})
    with f.figure(ctx, "duplicates", 1, (6, 4.3)) as ax:
        ax.plot(ref_ns, [np.exp(_logw_ref(m, n).mean()) for n in ref_ns], "o-", color="C3", label="n distinct points")
        for case, row in zip(m.dup, tab):
            ax.plot([m.n], [row[3]], "s", ms=8, label=f"{m.n} rows, {case.m} copies ({m.n - case.m} distinct)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="n",
            ylabel=f"W* (rel. error <= {m.eps:g})",
            title="A4: width needed with duplicated rows",
        )
        ax.legend(fontsize=7)
    mem_head = _report_memorization(ctx, cfg, m, f)
    f.add_seeds(m.seeds)
    headline = (
        f"identity exact to {max(m.exact_worst):.1e}; with copies W* follows the distinct count: r = "
        + ", ".join(f"{r:.2f} (m = {k})" for k, r in rs)
        + " (0 = n - m, 1 = n)"
        + mem_head
    )
    dd = m.mem_design
    method = (
        "Exact: theory.EmpiricalDistribution.deduplicated and empirical.EmpiricalScoreTarget against the "
        "rows with copies. Experiment: the A3 fits (empirical.approx, shared sweep) on the A3 data sets of "
        f"size n - m plus m copies; {m.reps} replicates; one-sided Student-t rule on r over replicates "
        "(cluster-bootstrap CI reported)."
        + (
            f" Memorization (empirical.duplicates): {dd['network']} DSM-trained ({dd['steps']} steps, batch "
            f"{dd['batch']}) on {dd['n_distinct']} distinct points of a K = {dd['K']} mixture in d = {dd['d']} "
            f"with groups (factor, points) {dd['groups']}, {dd['n_samples']} {dd['method'].upper()} samples "
            f"({dd['sample_steps']} steps) per model, {len(m.mem)} replicates (resumable sweep points); copies "
            "per distinct point by the 1/3 rule; pooled quasi-Poisson log rate ratio, one-sided t rule."
            if m.mem
            else ""
        )
    )
    return headline, method


def _report_memorization(ctx: Context, cfg: A4Config, m: A4Measurements, f: Findings) -> str:
    """Tables, figure and notes of the duplicates experiment; the headline's part."""
    if not m.mem or not _factors(m):
        f.note("The duplicates-and-memorization experiment was not run.")
        return ""
    mc, dd = cfg.mem, m.mem_design
    fs = _factors(m)
    rows = []
    for s in m.mem:
        mult = np.asarray(s.multiplicity)
        c = np.asarray(s.copies, dtype=np.float64)
        single = c[mult == 1].mean() / s.m
        for fac in fs:
            cd = c[mult == fac]
            rows.append(
                [
                    s.rep,
                    int(mult.sum()),
                    f"{s.memorized}/{s.m}",
                    f"{s.null_memorized}/{s.m}",
                    fac,
                    cd.size,
                    int(cd.sum()),
                    int((mult == 1).sum()),
                    int(c[mult == 1].sum()),
                    cd.mean() / s.m,
                    single,
                    (cd.mean() / s.m) / single if single > 0 else float("inf"),
                    round(s.seconds, 1),
                    s.reused,
                ]
            )
    f.table(
        f"Duplicated points and memorization, per replicate (d = {dd['d']}, {dd['n_distinct']} distinct points, "
        f"{dd['network']}, {dd['steps']} steps, {dd['n_samples']} samples)",
        [
            "replicate",
            "rows",
            "memorized",
            "null memorized",
            "factor",
            "duplicated points",
            "their copies",
            "single points",
            "their copies",
            "copy rate per duplicated point",
            "copy rate per single point",
            "rate ratio",
            "train+sample s",
            "read back",
        ],
        rows,
        note="A sample is memorized by the 1/3 rule over distinct training points and counted against its "
        "nearest distinct point; a copy rate is copies per point per sample. Null: m fresh draws from the "
        "true mixture at t0 scored by the same rule (a perfect generalizer).",
    )
    o, rec, rr = memorization_test(m, cfg)
    frows = []
    for fac in fs:
        o_f, rec_f, rr_f = memorization_test(m, cfg, fac)
        nl = rate_ratio(m.mem, fac, null=True)
        lo, hi = rec_f["interval"]
        frows.append(
            [
                fac,
                rr_f["ratio"],
                math.exp(lo),
                math.exp(hi),
                rr_f["ratio"] / fac,
                rec_f["z"],
                rec_f["df"],
                rec_f["power"],
                math.exp(rec_f["mde"]),
                rr_f["phi_dup"],
                rr_f["phi_single"],
                f"{rr_f['Q']:.2f} ({rr_f['Q_df']} df)",
                (f"{nl['ratio']:.3g}" if any(p["C_dup"] + p["C_single"] for p in nl["per_seed"]) else "no null copies"),
                o_f + (" (the rule)" if fac == fs[-1] else " (reported)"),
            ]
        )
    f.table(
        "Copy-rate ratio, duplicated over single points, pooled over replicates",
        [
            "factor f",
            "rate ratio",
            f"one-sided {1 - mc.alpha:.0%} lower",
            f"one-sided {1 - mc.alpha:.0%} upper",
            "ratio / f",
            "t",
            "df",
            f"power at ratio {mc.effect:g}",
            "min. detectable ratio",
            "phi (duplicated)",
            "phi (single)",
            "Cochran's Q",
            "null draws' ratio",
            "outcome",
        ],
        frows,
        note="Log rate ratio per replicate with one pseudo-copy split by group size, pooled by inverse-variance "
        "weights with quasi-Poisson variances (Pearson dispersion phi between points, floored at 1), "
        "Satterthwaite df (module doc of verify/claims/a4.py). 'ratio / f' = 1: copies in proportion to the "
        "multiplicity, as a model of the empirical law would. The rule tests the largest factor; the other "
        "rows are reported (each at level "
        f"{mc.alpha:g}, no correction).",
    )
    passing = [r[0] for r in frows if r[-1].startswith("pass")]
    f.note(
        f"Duplicates and memorization: at factor {fs[-1]} duplicated points are copied {rr['ratio']:.3g} "
        f"times as often per point as single ones (one-sided 95% lower bound {math.exp(rec['interval'][0]):.3g}; "
        f"power at {mc.effect:g}: {rec['power']:.2f}; outcome {o})"
        + (
            f"; the excess is significant from factor {min(passing)} on (factors tried: {fs})"
            if passing and len(fs) > 1
            else ""
        )
        + ". Factors 2, 4 and 8 side by side (16 points each, 256 distinct points, 5 replicates) are the "
        f"full profile: `{FULL_COMMAND}`."
    )
    f.note(
        f"{len(m.mem)} duplicates models; per-point files (config, seeds, versions) under "
        f"results/sweeps/A4/{ctx.profile}/duplicates/ (resumable)."
    )
    f.tolerance(
        "duplicates_memorized_more",
        f"copy-rate ratio > 1, one-sided level {mc.alpha:g}, effect {mc.effect:g}",
        "pooled quasi-Poisson log rate ratio (module doc)",
    )
    _memorization_figure(ctx, m, f, fs)
    return (
        f"; points written {fs[-1]} times are copied {rr['ratio']:.3g} times as often per point as single points "
        f"(95% lower bound {math.exp(rec['interval'][0]):.3g}, {len(m.mem)} replicates)"
    )


def _memorization_figure(ctx: Context, m: A4Measurements, f: Findings, fs: list[int]) -> None:
    path = f.figure_file(ctx, "duplicates_memorization")
    rng = np.random.default_rng(0)  # jitter only
    kinds = [1, *fs]
    with figure(path, 1, (max(5.0, 1.6 * len(m.mem) * len(kinds)), 4.3)) as ax:
        for j, s in enumerate(m.mem):
            mult = np.asarray(s.multiplicity)
            c = np.asarray(s.copies, dtype=np.float64)
            for k, fac in enumerate(kinds):
                x0 = j * (len(kinds) + 1) + k
                y = c[mult == fac]
                ax.scatter(
                    x0 + rng.uniform(-0.25, 0.25, y.size),
                    y,
                    s=10,
                    alpha=0.6,
                    color=f"C{k}",
                    label=("single points" if fac == 1 else f"written {fac} times") if j == 0 else None,
                )
                if y.size:
                    ax.plot([x0 - 0.35, x0 + 0.35], [y.mean()] * 2, color="k", lw=1.5)
        ax.set_xticks(
            [j * (len(kinds) + 1) + (len(kinds) - 1) / 2 for j in range(len(m.mem))],
            [f"replicate {s.rep}" for s in m.mem],
        )
        ax.set(
            ylabel=f"samples memorizing the point (of {m.mem[0].m})",
            title="A4: copies per distinct training point, duplicated vs single (bar: mean)",
        )
        ax.legend(fontsize=7)


register(
    "A4",
    title="Duplicated samples: the empirical score and the width it needs follow the distinct points",
    paper_ref="Section 5, remark after Theorem 5.1 (duplication)",
    statement="If m of the n samples duplicate others, the empirical score is that of the n - m distinct points "
    "(with multiplicity weights); it is easier to represent (the network size it needs follows n - m), "
    "so memorization is likelier.",
    inferred="'The network size it needs follows n - m' is measured as the smallest width W* reaching a fixed "
    "relative error in the A3 setting, and read as W* closer to W*(n - m) than to W*(n) on the log "
    "scale (r < 1/2). 'Memorization is likelier' is read per training point: diffusion models trained "
    "on a Gaussian mixture data set in which some points are written several times copy (1/3 rule) "
    "each duplicated point more often than each single point; the effect looked for (a rate ratio of "
    "2) is this project's choice.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
