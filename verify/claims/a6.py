"""A6 (Figure 3): memorization of diffusion models on Gaussian mixtures against network size, n, d
and weight decay, with the mean log-likelihood of the samples.

Setting (paper): K = 8, mu_k ~ N(0, 4 I_d), Sigma = I. Measured (empirical.mixture_diffusion):
DSM-trained time-conditioned MLPs of the named presets (empirical.diffusion.PRESETS), samples by
the probability-flow ODE from per-sample seeds shared by every model at one (d, n) (paired), the
memorization count k of m samples over distinct training points, the NULL count (m fresh draws from
P_t0 scored by the same rule), and the mean log-likelihood of the samples under the true mixture,
mean log p_data(x_gen), with its standard error. Panels:

  (a-left)  d = d0: memorization against network size, one line per n
  (a-right) fixed network: memorization against n, one line per d
  (b-left)  fixed depth, growing width (the presets of a-left): memorization (solid) and mean
            negative log-likelihood (dashed) per n
  (b-right) fixed "moderate" width (``wd_network``), growing weight decay, the same two curves

Rules (tests in verify/claims/_mixtures.py: one-sided Agresti-Caffo two-proportion z-tests for
memorization, z-tests on the means for log-likelihoods; effects looked for 5 percentage points and
1 nat, smallest effects of interest since Figure 3 gives no number; each rule wrongly fails with
probability at most alpha = 0.01, its tests sharing alpha by Bonferroni). Rules:
  a_rises_with_size     largest minus smallest network, at every n where the largest memorizes
                        beyond the null rate (at least two such n);
  a_falls_with_n        smallest minus largest n at the fixed network, at every d where it memorizes
                        beyond the null rate at the smallest n (at least one such d);
  a_falls_with_d        smallest minus largest d at the fixed network, at the smaller n;
  b_weight_decay_helps_both   at the smaller n some (moderate width, weight decay > 0) has BOTH lower
                        memorization and a higher likelihood than the widest network without decay, the
                        likelihood read as the MODEL's likelihood of held-out draws (primary; measured by
                        the ELBO of empirical.likelihood, cross-checked by the probability-flow ODE);
  b_strong_decay_hurts_at_large_n   at the larger n the strongest weight decay lowers the held-out
                        likelihood (against no decay);
  b_*_samples           the same two rules with the likelihood read as mean log p_data(x_gen) of the
                        samples (secondary). b_weight_decay_helps_both_samples is a documented
                        disagreement (README, "Findings"; tests/test_claims.py KNOWN_FAILURES): memorized
                        samples score like fresh draws, so weight decay lowers memorization only by
                        degrading the fit and the rule is expected to FAIL.
Each cell has ``reps`` training seeds (2 in standard, 1 in quick): memorization counts are pooled over them; the
likelihoods are means over seeds with se the larger of the between-seed and the within-model se.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memsep.empirical.diffusion import DiffusionConfig
from memsep.empirical.metrics import wilson_interval
from memsep.empirical.mixture_diffusion import MixtureDiffusionSetting, PlateauRule, diffusion_point, run_point
from memsep.empirical.sweep import record_key, run_sweep

from ..registry import Context, Findings, decision, register
from ._mixtures import (
    LOGLIK_EFFECT,
    MEM_EFFECT,
    Rate,
    Test,
    all_of,
    any_of,
    combine,
    fmt_plateau,
    fmt_rate,
    grid_figure,
    loglik_gain,
    loss_figure,
    loss_refs,
    nanmean,
    null_rate,
    plateau_summary,
    pooled_rate,
    progress,
    rep_mean,
    rises,
    tests_table,
    thin_curve,
)


@dataclass(frozen=True)
class A6Config:
    setting: MixtureDiffusionSetting = field(default_factory=MixtureDiffusionSetting)  # K = 8, 4,000 steps, 512 samples
    d: int = 32
    ns: tuple[int, ...] = (64, 256)  # the "smaller" and "larger" n are the first and last
    networks: tuple[str, ...] = ("mlp-24k", "mlp-100k", "mlp-400k", "mlp-1.6m")
    fixed_network: str = "mlp-400k"  # (a-right)
    ds: tuple[int, ...] = (8, 32, 64)
    wd_network: str = "mlp-400k"  # (b-right): moderate width
    weight_decays: tuple[float, ...] = (0.0, 0.03, 0.1, 0.3)
    reps: int = 2  # models (training seeds) per cell
    alpha: float = 0.01  # false-failure rate of each rule (Bonferroni inside a rule)


CONFIGS = {
    "ci": A6Config(
        setting=MixtureDiffusionSetting(train=DiffusionConfig(steps=1500), n_samples=256),
        d=8,
        ns=(16, 64),
        networks=("mlp-6k", "mlp-100k"),
        fixed_network="mlp-100k",
        ds=(4, 16),
        wd_network="mlp-100k",
        weight_decays=(0.0, 1.0),
        reps=1,
    ),
    # one seed per cell (18 models): the quick profile exercises every rule in minutes (issue 17: under 45 min on 2
    # cores for every claim); the standard profile's 2 seeds per cell decide
    "quick": A6Config(reps=1),
    # the decisive size (at most 2 h on 2 cores): the quick grid, each model trained until its DSM loss plateaus
    # (mixture_diffusion.PlateauRule: < 1% decrease between rounds of 2,000 steps) or 12,000 steps, 3x quick
    "standard": A6Config(
        setting=MixtureDiffusionSetting(
            train=DiffusionConfig(steps=12000), plateau=PlateauRule(round=2000, tol=0.01, until=True)
        )
    ),
    "full": A6Config(
        setting=MixtureDiffusionSetting(
            train=DiffusionConfig(steps=100000, batch=1024),
            n_samples=4096,
            plateau=PlateauRule(round=5000, tol=0.01, until=True),
        ),
        ns=(1000, 3200, 10000, 32000, 100000),
        networks=("mlp-24k", "mlp-100k", "mlp-400k", "mlp-1.6m", "mlp-6m", "mlp-12m", "mlp-44m"),
        fixed_network="mlp-12m",
        ds=(8, 16, 32, 64),
        wd_network="mlp-1.6m",
        weight_decays=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
        reps=3,
    ),
}

FULL_COMMAND = "memsep run --claims A6 --profile full --device cuda"

_MEM = (
    f"{MEM_EFFECT * 100:g} percentage points (a smallest effect of interest: Figure 3 gives no number; the size of "
    "Table 1's effect, 73.8% -> 68.6%)"
)
_LL = f"{LOGLIK_EFFECT:g} nat per sample (a smallest effect of interest: Figure 3 gives no number)"
_AC = (
    "one-sided Agresti-Caffo two-proportion z-test on counts pooled over the replicates, each arm's se the larger "
    "of its binomial se and the between-replicate se of its rate"
)
_NULL = (
    "the null rate (fresh draws from the true mixture at t0 scored by the same 1/3 rule: what a perfect "
    "generalizer shows)"
)

RULES = {
    "A6.a_rises_with_size": "(a-left) d = d0, no weight decay: at every n where the largest network memorizes beyond "
    f"{_NULL} ({_AC} significant), its memorization ratio minus the smallest network's > 0 ({_AC}, effect looked for "
    f"{_MEM}); pass if at least two n are tested and every tested n is significant; fail if at some tested n the "
    f"one-sided upper bound excludes a {MEM_EFFECT:g} rise; inconclusive otherwise (including fewer than two n where "
    "the largest memorizes). Bonferroni over the 2 x (number of n) tests, false-failure rate 0.01",
    "A6.a_falls_with_n": "(a-right) fixed network, no weight decay: at every d where it memorizes beyond the null rate "
    f"at the smallest n ({_AC} significant), memorization at the smallest n minus at the largest n > 0 ({_AC}, effect "
    f"looked for {_MEM}); pass if at least one d is tested and every tested d is significant; fail if at some tested d "
    f"the upper bound excludes a {MEM_EFFECT:g} fall; else inconclusive. Bonferroni over the 2 x (number of d) tests, "
    "false-failure rate 0.01",
    "A6.a_falls_with_d": "(a-right) fixed network, smallest n: memorization at the smallest d minus at the largest "
    f"d > 0 ({_AC}, level 0.01, effect looked for {_MEM}); fail if the upper bound excludes a {MEM_EFFECT:g} fall; "
    "else inconclusive",
    "A6.b_weight_decay_helps_both": "(b) smallest n, the likelihood read as the MODEL's likelihood of held-out data "
    "(primary reading: what diffusion papers report as likelihood, and the one memorization lowers): a moderate width "
    "with weight decay has lower memorization AND a higher likelihood than the widest network without decay: some "
    f"weight decay > 0 on the moderate network has both lower memorization ({_AC}, effect looked for {_MEM}) and a "
    "higher mean variational bound (ELBO) of held-out draws from P_t0 at t0 (one-sided z on the means, effect looked "
    f"for {_LL}; se the larger of the between-seed and the Monte Carlo se); pass if some weight decay passes both "
    f"tests; fail if every weight decay fails one of them (a {MEM_EFFECT:g} drop in memorization or a "
    f"{LOGLIK_EFFECT:g} nat gain excluded); else inconclusive. Bonferroni over the 2 x (number of weight decays "
    "> 0) tests, false-failure rate 0.01",
    "A6.b_weight_decay_helps_both_samples": "the same rule with the likelihood read as the mean log p_data(x_gen) of "
    f"the generated samples under the true mixture (one-sided z on the means, effect looked for {_LL}). Secondary "
    "reading, documented disagreement expected to FAIL (README, 'Findings'): memorized samples score like fresh draws "
    "under it",
    "A6.b_strong_decay_hurts_at_large_n": "(b) largest n, moderate network, held-out reading: the mean ELBO of "
    "held-out draws without weight decay minus with the strongest weight decay > 0 (one-sided z on the means, level "
    f"0.01, effect looked for {_LL}); fail if the upper bound excludes a {LOGLIK_EFFECT:g} nat loss; else inconclusive",
    "A6.b_strong_decay_hurts_at_large_n_samples": "the same rule with the likelihood read as the mean log "
    "p_data(x_gen) of the generated samples (secondary reading; one-sided z on the means, level 0.01, effect looked "
    f"for {_LL})",
}


@dataclass
class A6Cell:
    """One cell of the grid (d, n, network, weight decay): its models' results pooled over replicates."""

    d: int
    n: int
    network: str
    weight_decay: float
    parameters: int
    memorized: int  # pooled over replicates
    m: int
    null_memorized: int  # the null draws (fresh draws from P_t0), pooled likewise
    null_m: int
    loglik: float  # mean over replicates of the per-model mean log p_data(x_gen)
    loglik_se: float  # max(between-replicate se, sqrt(sum se_r^2) / R)
    loglik_fresh: float
    loglik_memorized: float | None = None  # mean log p of the samples the rule calls memorized / novel
    loglik_novel: float | None = None
    seconds: float = 0.0
    reused: bool = False
    replicates: int = 1
    # the model's own likelihood at t0 (empirical.mixture_diffusion.model_likelihood), mean over replicates; se
    # the larger of the between-replicate and the within-model (Monte Carlo over points) standard errors
    heldout_elbo: float | None = None
    heldout_elbo_se: float | None = None
    train_elbo: float | None = None
    train_elbo_se: float | None = None
    heldout_truth: float | None = None
    train_truth: float | None = None
    heldout_ode_median: float | None = None
    train_ode_median: float | None = None
    ode_diverged: float | None = None  # share of held-out ODE paths that left the prior's 1 - 1e-6 ball
    per_rep: list = field(default_factory=list)  # (memorization ratio, held-out ELBO) per replicate
    between_se: float = 0.0  # between-replicate se of the memorization rate (0 with one replicate)
    null_between_se: float = 0.0  # ... and of the null rate
    plateau: dict = field(default_factory=dict)  # convergence of the DSM loss (_mixtures.plateau_summary)
    curves: list = field(default_factory=list)  # the DSM loss curve [(step, loss)] of each replicate
    refs: list = field(default_factory=list)  # (L_true, L_emp) of each replicate (_mixtures.loss_refs)
    last_loss: float | None = None  # mean over replicates of the last round's mean DSM loss
    progress: float | None = None  # mean over replicates of u (_mixtures.progress) at that loss

    @property
    def count(self) -> tuple[int, int]:
        return self.memorized, self.m

    @property
    def null(self) -> tuple[int, int]:
        return self.null_memorized, self.null_m

    @property
    def rate(self) -> Rate:
        """The memorization count with its between-replicate se: what the tests compare (_mixtures.Rate)."""
        return Rate(self.memorized, self.m, self.between_se)

    @property
    def null_rate(self) -> Rate:
        return Rate(self.null_memorized, self.null_m, self.null_between_se)

    @property
    def ratio(self) -> float:
        return self.memorized / self.m

    @property
    def ll(self) -> tuple[float, float]:
        return self.loglik, self.loglik_se

    @property
    def heldout(self) -> tuple[float, float]:
        return self.heldout_elbo, self.heldout_elbo_se

    def reading(self, which: str) -> tuple[float, float]:
        """(mean, se) of the likelihood under a reading: "heldout" (the model's ELBO of held-out draws, primary) or
        "samples" (mean log p_data(x_gen))."""
        return self.heldout if which == "heldout" else self.ll


@dataclass
class A6Measurements:
    cells: list[A6Cell]
    seeds: dict = field(default_factory=dict)

    def cell(self, d: int, n: int, network: str, weight_decay: float = 0.0) -> A6Cell:
        for c in self.cells:
            if (c.d, c.n, c.network, c.weight_decay) == (d, n, network, float(weight_decay)):
                return c
        raise KeyError(f"no cell d={d} n={n} {network} wd={weight_decay:g}")


@dataclass(frozen=True)
class _Key:
    d: int
    n: int
    network: str
    weight_decay: float


def _grid(cfg: A6Config) -> list[_Key]:
    keys = (
        [_Key(cfg.d, n, net, 0.0) for n in cfg.ns for net in cfg.networks]
        + [_Key(d, n, cfg.fixed_network, 0.0) for d in cfg.ds for n in cfg.ns]
        + [_Key(cfg.d, n, cfg.wd_network, float(wd)) for n in cfg.ns for wd in cfg.weight_decays]
    )
    return list(dict.fromkeys(keys))


def _likelihood_fields(rs: list[dict]) -> dict:
    lls = [r.get("likelihood") for r in rs]
    if not all(lls):
        return {}
    he = rep_mean([x["heldout"]["elbo"]["mean"] for x in lls], [x["heldout"]["elbo"]["se"] for x in lls])
    te = rep_mean([x["train"]["elbo"]["mean"] for x in lls], [x["train"]["elbo"]["se"] for x in lls])
    med = lambda name: nanmean([(x[name]["ode"] or {}).get("median") for x in lls])  # noqa: E731
    return {
        "heldout_elbo": he[0],
        "heldout_elbo_se": he[1],
        "train_elbo": te[0],
        "train_elbo_se": te[1],
        "heldout_truth": float(np.mean([x["heldout"]["truth"]["mean"] for x in lls])),
        "train_truth": float(np.mean([x["train"]["truth"]["mean"] for x in lls])),
        "heldout_ode_median": med("heldout"),
        "train_ode_median": med("train"),
        "ode_diverged": float(np.mean([x["heldout"]["ode_diverged"] for x in lls])),
    }


def _loss_fields(rs: list[dict]) -> dict:
    """The references, the last round's loss and its progress u, over a cell's replicates."""
    refs = loss_refs(rs)
    last = [(r.get("plateau") or {}).get("round_means") or [r["final_loss"]] for r in rs]
    last = [x[-1] for x in last]
    us = [progress(x, ref) for x, ref in zip(last, refs)]
    return {"refs": refs, "last_loss": float(np.mean(last)), "progress": nanmean(us)}


def _cell(key: _Key, recs: list[dict]) -> A6Cell:
    rs = [r["result"] for r in recs]
    k, m, spread = pooled_rate(rs)
    k0, m0, null_spread = null_rate(rs)
    ll = rep_mean([r["loglik"] for r in rs], [r["loglik_se"] for r in rs])
    return A6Cell(
        d=key.d,
        n=key.n,
        network=key.network,
        weight_decay=key.weight_decay,
        parameters=int(rs[0]["parameters"]),
        memorized=k,
        m=m,
        null_memorized=k0,
        null_m=m0,
        between_se=spread,
        null_between_se=null_spread,
        plateau=plateau_summary(rs),
        curves=[thin_curve(r["losses"]) for r in rs],
        **_loss_fields(rs),
        loglik=ll[0],
        loglik_se=ll[1],
        loglik_fresh=float(np.mean([r["loglik_fresh"] for r in rs])),
        loglik_memorized=nanmean([r["loglik_memorized"] for r in rs]),
        loglik_novel=nanmean([r["loglik_novel"] for r in rs]),
        seconds=float(sum(rec["seconds"] for rec in recs)),
        reused=all(rec["reused"] for rec in recs),
        replicates=len(rs),
        **_likelihood_fields(rs),
        per_rep=[
            (r["memorization"], (r.get("likelihood") or {}).get("heldout", {}).get("elbo", {}).get("mean")) for r in rs
        ],
    )


def measure(ctx: Context, cfg: A6Config) -> A6Measurements:
    s = cfg.setting
    n_max = max(cfg.ns)
    todo = [
        (
            key,
            rep,
            diffusion_point(
                s,
                d=key.d,
                n=key.n,
                n_max=n_max,
                network=key.network,
                weight_decay=key.weight_decay,
                rep=rep,
                seed=ctx.seed,
            ),
        )
        for key in _grid(cfg)
        for rep in range(cfg.reps)
    ]
    folder = ctx.sweep_dir("points")
    # one list: under torchrun the workers share it (empirical.workers); alone, the same points in the same order
    done = run_sweep(
        [p for _, _, p in todo], lambda q: run_point(q, ctx.device), folder, desc="models", progress=ctx.progress
    )
    by_cell: dict[_Key, list[dict]] = {}
    for (key, _, _), rec in zip(todo, done):
        by_cell.setdefault(key, []).append(rec)
    return A6Measurements(
        cells=[_cell(key, recs) for key, recs in by_cell.items()],
        seeds={
            "claim": ctx.seed,
            "replicates": cfg.reps,
            "points": {f"d={k.d} n={k.n} {k.network} wd={k.weight_decay:g} rep={r}": record_key(p) for k, r, p in todo},
        },
    )


# ---- the rules ------------------------------------------------------------------------------------------------


def _gated(gates: list[Test], trends: list[Test], need: int) -> tuple[str, list[int]]:
    """Outcome of a trend tested where the gate passes: (outcome, indices tested). fail if a tested trend fails; pass
    if at least ``need`` are tested and all pass; else inconclusive."""
    tested = [i for i, g in enumerate(gates) if g.outcome == "tested"]
    o = all_of(trends[i].outcome for i in tested)
    if o == "pass" and len(tested) < need:
        o = "inconclusive"
    return o, tested


def _gate(gates: list[Test], trends: list[Test]) -> list[Test]:
    """Gates first (outcome 'tested' where the model memorizes significantly beyond the null rate, else 'not
    tested'), then the trend tests, whose outcome is 'not tested' where the gate is closed."""
    gs = [Test(f"gate: {g.label}", "tested" if g.outcome == "pass" else "not tested", g.test) for g in gates]
    return gs + [t if g.outcome == "tested" else Test(t.label, "not tested", t.test) for g, t in zip(gs, trends)]


def _tests(m: A6Measurements, cfg: A6Config) -> dict[str, list[Test]]:
    """Every test behind the rules, by rule key (pure: decide and report both read it). Gated rules list the
    gates first, then the trend tests, one per n (or d)."""
    a = cfg.alpha
    n_lo, n_hi = min(cfg.ns), max(cfg.ns)
    d_lo, d_hi = min(cfg.ds), max(cfg.ds)
    small, large = cfg.networks[0], cfg.networks[-1]
    a1 = a / (2 * len(cfg.ns))
    g1 = [
        rises(f"n = {n}: {large} vs null", m.cell(cfg.d, n, large).rate, m.cell(cfg.d, n, large).null_rate, a1)
        for n in cfg.ns
    ]
    t1 = [
        rises(f"n = {n}: {large} vs {small}", m.cell(cfg.d, n, large).rate, m.cell(cfg.d, n, small).rate, a1)
        for n in cfg.ns
    ]
    a2 = a / (2 * len(cfg.ds))
    fx = cfg.fixed_network
    g2 = [
        rises(f"d = {d}, n = {n_lo}: {fx} vs null", m.cell(d, n_lo, fx).rate, m.cell(d, n_lo, fx).null_rate, a2)
        for d in cfg.ds
    ]
    t2 = [
        rises(f"d = {d}: n = {n_lo} vs n = {n_hi}", m.cell(d, n_lo, fx).rate, m.cell(d, n_hi, fx).rate, a2)
        for d in cfg.ds
    ]
    t3 = [rises(f"n = {n_lo}: d = {d_lo} vs d = {d_hi}", m.cell(d_lo, n_lo, fx).rate, m.cell(d_hi, n_lo, fx).rate, a)]
    widest = m.cell(cfg.d, n_lo, large)
    wds = [wd for wd in cfg.weight_decays if wd > 0]
    a4 = a / max(1, 2 * len(wds))
    wd_max = max(cfg.weight_decays)
    c0, c1 = m.cell(cfg.d, n_hi, cfg.wd_network, 0.0), m.cell(cfg.d, n_hi, cfg.wd_network, wd_max)
    b = {}
    for suffix, which, name in (("", "heldout", "held-out ELBO"), ("_samples", "samples", "log p_data(x_gen)")):
        needed = [widest, c0, c1] + [m.cell(cfg.d, n_lo, cfg.wd_network, wd) for wd in wds]
        if any(c.reading(which)[0] is None for c in needed):
            continue  # not measured (decide: inconclusive)
        t4 = []
        for wd in wds:
            c = m.cell(cfg.d, n_lo, cfg.wd_network, wd)
            t4 += [
                rises(f"n = {n_lo}: {large} (no decay) vs {cfg.wd_network} wd {wd:g}", widest.rate, c.rate, a4),
                loglik_gain(
                    f"n = {n_lo}, {name}: {cfg.wd_network} wd {wd:g} vs {large} (no decay)",
                    c.reading(which),
                    widest.reading(which),
                    a4,
                ),
            ]
        b[f"A6.b_weight_decay_helps_both{suffix}"] = t4
        b[f"A6.b_strong_decay_hurts_at_large_n{suffix}"] = [
            loglik_gain(
                f"n = {n_hi}, {name}: {cfg.wd_network} no decay vs wd {wd_max:g}",
                c0.reading(which),
                c1.reading(which),
                a,
            )
        ]
    return {"A6.a_rises_with_size": _gate(g1, t1), "A6.a_falls_with_n": _gate(g2, t2), "A6.a_falls_with_d": t3, **b}


def _wd_outcome(tests: list[Test]) -> tuple[str, list[int]]:
    """any_of over weight decays of all_of(its two tests); indices of the weight decays passing both."""
    per = [all_of(t.outcome for t in tests[i : i + 2]) for i in range(0, len(tests), 2)]
    return any_of(per), [i for i, o in enumerate(per) if o == "pass"]


def _gated_decision(key: str, tests: list[Test], items: list, name: str, need: int, describe) -> object:
    k = len(items)
    gates, trends = tests[:k], tests[k:]
    o, tested = _gated(gates, trends, need)
    parts = []
    for i, it in enumerate(items):
        t = trends[i]
        parts.append(
            describe(it)
            + (
                f" (difference {t.test['estimate']:.3f} +- {t.test['se']:.3f}, z = {t.test['z']:.2f}: {t.outcome})"
                if i in tested
                else " (not beyond the null rate: not tested)"
            )
        )
    detail = "; ".join(parts) + (
        f"; {name} tested: {len(tested)} (at least {need} needed); level per test {trends[0].test['alpha']:.2g}"
    )
    return decision(key, o, detail, combine(o, [trends[i] for i in tested]) or gates[0].test)


def decide(m: A6Measurements, cfg: A6Config) -> list:
    T = _tests(m, cfg)
    n_lo, n_hi = min(cfg.ns), max(cfg.ns)
    d_lo, d_hi = min(cfg.ds), max(cfg.ds)
    small, large, fx = cfg.networks[0], cfg.networks[-1], cfg.fixed_network
    out = [
        _gated_decision(
            "A6.a_rises_with_size",
            T["A6.a_rises_with_size"],
            list(cfg.ns),
            "n",
            min(2, len(cfg.ns)),
            lambda n: (
                f"n = {n}: {small} {fmt_rate(*m.cell(cfg.d, n, small).count)} -> {large} "
                f"{fmt_rate(*m.cell(cfg.d, n, large).count)}, null "
                f"{fmt_rate(*m.cell(cfg.d, n, large).null)}"
            ),
        ),
        _gated_decision(
            "A6.a_falls_with_n",
            T["A6.a_falls_with_n"],
            list(cfg.ds),
            "d",
            1,
            lambda d: (
                f"d = {d}: n = {n_lo} {fmt_rate(*m.cell(d, n_lo, fx).count)} -> n = {n_hi} "
                f"{fmt_rate(*m.cell(d, n_hi, fx).count)}, null at n = {n_lo} "
                f"{fmt_rate(*m.cell(d, n_lo, fx).null)}"
            ),
        ),
    ]
    t = T["A6.a_falls_with_d"][0]
    out.append(
        decision(
            "A6.a_falls_with_d",
            t.outcome,
            f"{fx}, n = {n_lo}: d = {d_lo} {fmt_rate(*m.cell(d_lo, n_lo, fx).count)}; d = {d_hi} "
            f"{fmt_rate(*m.cell(d_hi, n_lo, fx).count)}; difference {t.test['estimate']:.3f} +- "
            f"{t.test['se']:.3f} (z = {t.test['z']:.2f}); all d: "
            + ", ".join(f"{d}: {m.cell(d, n_lo, fx).ratio:.3f}" for d in cfg.ds),
            t.test,
        )
    )

    widest = m.cell(cfg.d, n_lo, large)
    wds = [wd for wd in cfg.weight_decays if wd > 0]
    wd_max = max(cfg.weight_decays)
    c0, c1 = m.cell(cfg.d, n_hi, cfg.wd_network, 0.0), m.cell(cfg.d, n_hi, cfg.wd_network, wd_max)
    for suffix, which, name in (("", "heldout", "held-out ELBO"), ("_samples", "samples", "mean log p_data(x_gen)")):
        key = f"A6.b_weight_decay_helps_both{suffix}"
        t4 = T.get(key)
        if t4 is None:
            out.append(decision(key, "inconclusive", f"no {name} measured"))
            out.append(decision(f"A6.b_strong_decay_hurts_at_large_n{suffix}", "inconclusive", f"no {name} measured"))
            continue
        if not wds:
            out.append(decision(key, "inconclusive", "no weight decay > 0 in the grid"))
        else:
            o, good = _wd_outcome(t4)
            parts = []
            for i, wd in enumerate(wds):
                c, tm, tl = m.cell(cfg.d, n_lo, cfg.wd_network, wd), t4[2 * i], t4[2 * i + 1]
                mean, se = c.reading(which)
                parts.append(
                    f"wd {wd:g}: memorization {fmt_rate(*c.count)} (drop {tm.test['estimate']:.3f}, z = "
                    f"{tm.test['z']:.2f}: {tm.outcome}), {name} {mean:.4g} +- {se:.2g} (gain "
                    f"{tl.test['estimate']:.4g}, upper bound {tl.test['interval'][1]:.4g}: {tl.outcome})"
                )
            wm, ws = widest.reading(which)
            detail = (
                f"n = {n_lo}, widest ({large}, no decay): memorization {fmt_rate(*widest.count)}, {name} "
                f"{wm:.4g} +- {ws:.2g}; {cfg.wd_network}: "
                + "; ".join(parts)
                + f"; level per test {t4[0].test['alpha']:.2g}; passing both: {[wds[i] for i in good] or 'none'}"
            )
            out.append(decision(key, o, detail, combine(o, t4)))
        key = f"A6.b_strong_decay_hurts_at_large_n{suffix}"
        t = T[key][0]
        (m0, s0), (m1, s1) = c0.reading(which), c1.reading(which)
        out.append(
            decision(
                key,
                t.outcome,
                f"n = {n_hi}, {cfg.wd_network}: {name} {m0:.4g} +- {s0:.2g} without decay, {m1:.4g} +- "
                f"{s1:.2g} at wd {wd_max:g} (loss {t.test['estimate']:.4g} nats, z = {t.test['z']:.2f}); "
                f"memorization {fmt_rate(*c0.count)} -> {fmt_rate(*c1.count)}",
                t.test,
            )
        )
    return out


# ---- the report -------------------------------------------------------------------------------------------------


def report(ctx: Context, cfg: A6Config, m: A6Measurements, f: Findings) -> tuple[str, str]:
    s = cfg.setting
    n_lo, n_hi = min(cfg.ns), max(cfg.ns)
    rows = []
    for c in m.cells:
        lo, hi = wilson_interval(*c.count)
        rows.append(
            [
                c.d,
                c.n,
                c.network,
                c.weight_decay,
                c.parameters,
                c.ratio,
                f"{lo:.3f} to {hi:.3f}",
                c.between_se,
                c.null_memorized / c.null_m,
                c.null_between_se,
                c.loglik,
                c.loglik_se,
                c.loglik_memorized,
                c.loglik_novel,
                c.loglik_fresh,
                c.last_loss,
                _ref(c, 0),
                _ref(c, 1),
                c.progress,
                fmt_plateau(c.plateau),
                round(c.seconds, 1),
                c.reused,
            ]
        )
    pr = s.plateau
    f.table(
        f"Every model (K = {s.K}, {_training(s)}, batch {s.train.batch}, {s.n_samples} samples x {cfg.reps} "
        "replicate(s))",
        [
            "d",
            "n",
            "network",
            "weight decay",
            "parameters",
            "memorization",
            "95% Wilson CI (pooled)",
            "between-seed se",
            "null rate",
            "between-seed se (null)",
            "mean log p(x_gen)",
            "se",
            "log p: memorized",
            "log p: novel",
            "log p: fresh draws",
            "DSM loss (last round)",
            "L_true",
            "L_emp",
            "progress u",
            "DSM loss plateaued",
            "train+sample s",
            "read back",
        ],
        rows,
        note="Null rate: fresh draws from P_t0 scored by the same rule (a perfect generalizer). 'log p: memorized / "
        "novel': mean log-likelihood of the samples the rule calls memorized / not memorized. Between-seed "
        "se: sd of the replicates' rates / sqrt(replicates); the tests use the larger of it and the binomial "
        f"se. DSM loss plateaued: replicates whose mean loss fell by less than {pr.tol:.0%} between the last "
        f"two rounds of {pr.round} steps, or of half the run if shorter (delta, the last relative decrease, "
        "per replicate; empirical.mixture_diffusion.PlateauRule); curves in Figure A6_losses. L_true / L_emp: "
        "the DSM loss of the true / the empirical score on the same training rows (the generalizer's and the "
        "memorizer's, the minimum over all functions); progress u = (L_true - loss) / (L_true - L_emp), 0 at "
        "the generalizer's loss, 1 at the memorizer's (empirical.mixture_diffusion.loss_references).",
    )
    lrows = [
        [
            c.d,
            c.n,
            c.network,
            c.weight_decay,
            c.heldout_truth,
            c.heldout_elbo,
            c.heldout_elbo_se,
            c.train_elbo,
            c.train_elbo_se,
            c.train_elbo - c.heldout_elbo,
            c.heldout_ode_median,
            c.train_ode_median,
            c.ode_diverged,
            "; ".join(f"{r:.3f} / {e:.4g}" if e is not None else f"{r:.3f}" for r, e in c.per_rep),
        ]
        for c in m.cells
        if c.heldout_elbo is not None
    ]
    if lrows:
        f.table(
            "The models' own likelihood at t0 (held-out draws from P_t0 and the distinct training points)",
            [
                "d",
                "n",
                "network",
                "weight decay",
                "truth: log P_t0 (held-out)",
                "held-out ELBO",
                "se",
                "train ELBO",
                "se",
                "gap train - held-out (ELBO)",
                "held-out ODE (median)",
                "train ODE (median)",
                "held-out ODE paths diverged",
                "per seed: memorization / held-out ELBO",
            ],
            lrows,
            note="ELBO: the reverse SDE's variational bound (empirical.likelihood.elbo, trapezoid in log t, Hutchinson "
            "trace); it equals log P_t0 for the exact score (tests/test_likelihood.py). ODE: the probability-flow "
            "likelihood; its forward paths from held-out points leave the region the network was trained on and "
            "diverge, so only medians and the diverged share are shown. The truth's train-minus-held-out gap "
            "is 0 up to sampling.",
        )
        agree = _ordering(m)
        if agree:
            f.note(agree)
    T = _tests(m, cfg)
    tests_table(f, "Every test behind the rules", T)

    mem_cells = [c for c in m.cells if c.loglik_memorized is not None and c.loglik_novel is not None]
    if mem_cells:
        f.note(
            "Mean log p_data of memorized against novel samples of the same model: "
            + "; ".join(
                f"d = {c.d}, n = {c.n}, {c.network}, wd {c.weight_decay:g}: {c.loglik_memorized:.4g} vs "
                f"{c.loglik_novel:.4g} (fresh draws {c.loglik_fresh:.4g})"
                for c in mem_cells
            )
            + ". A memorized sample "
            "sits on a training point, itself a draw from P, so its log p_data is that of a typical draw: "
            "memorization as such does not lower the mean log p_data(x_gen); only poorly fitted (novel) samples do."
        )
    f.note(
        "Two readings of Figure 3b's likelihood, both decided: the model's likelihood of held-out data "
        "(primary: the A6.b_* rules without suffix, measured by the ELBO of held-out draws) and the mean "
        "log p_data(x_gen) of the samples (secondary: the *_samples rules). Under the second, memorization "
        "cannot lower the likelihood (the split above), so weight decay can lower memorization only by "
        "degrading the fit."
    )
    f.note(
        f"The paper's grid (n = 1K to 100K, networks 24K to 44M parameters) is the full profile: "
        f"`{FULL_COMMAND}` (a GPU job)."
    )
    f.tolerance(
        "memorization comparisons",
        f"one-sided Agresti-Caffo two-proportion z, effect {MEM_EFFECT:g}",
        f"verify/claims/_mixtures.py; counts pooled over replicates, each arm's se the larger of the binomial "
        f"and the between-seed se; each rule's tests share its false-failure "
        f"rate {cfg.alpha:g} (Bonferroni), so the claim wrongly fails with probability <= "
        f"{len(RULES) * cfg.alpha:g}; covers the sampling noise of the trained models only",
    )
    f.tolerance(
        "log-likelihood comparisons",
        f"one-sided z on the means, effect {LOGLIK_EFFECT:g} nat",
        f"mean over {cfg.reps} training seed(s); se the larger of the between-seed se and the within-model se "
        "(samples or held-out points); Bonferroni inside each rule as above",
    )
    _figure(ctx, f, cfg, m)
    if all(c.curves for c in m.cells):
        _loss_figure(ctx, f, cfg, m)
    f.add_seeds(m.seeds)
    f.note(
        f"{len(m.seeds.get('points', {}))} models; per-point files (config, seeds, versions, loss curve) "
        f"under results/sweeps/A6/{ctx.profile}/points/ (resumable)."
    )
    small, large = cfg.networks[0], cfg.networks[-1]
    r = {n: (m.cell(cfg.d, n, small).ratio, m.cell(cfg.d, n, large).ratio) for n in (n_lo, n_hi)}
    headline = (
        f"d = {cfg.d}: {small} -> {large} memorizes {r[n_lo][0]:.0%} -> {r[n_lo][1]:.0%} at n = {n_lo} and "
        f"{r[n_hi][0]:.0%} -> {r[n_hi][1]:.0%} at n = {n_hi}; {sum(a.passed for a in f.assertions)}/"
        f"{len(f.assertions)} trend rules hold at this scale"
    )
    method = (
        f"empirical.mixture_diffusion: depth-3 residual MLPs trained by DSM noise prediction ({_training(s)} of AdamW, "
        f"batch {s.train.batch}, lr {s.train.lr:g}, EMA {s.train.ema:g}, t log-uniform on "
        f"[{s.train.t0:g}, {s.train.T:g}]); {s.n_samples} ODE samples ({s.sample_steps} steps) per model; "
        "memorization compared by one-sided Agresti-Caffo two-proportion z-tests, log-likelihoods (under the "
        "true mixture) by z-tests on the means."
    )
    return headline, method


def _ref(c: A6Cell, i: int) -> float | None:
    """Mean over replicates of L_true (i = 0) or L_emp (i = 1)."""
    return nanmean([r[i] if r else None for r in c.refs])


def _training(s) -> str:
    """How long the models were trained, in words."""
    pr = s.plateau
    if pr.until:
        return (
            f"trained until the DSM loss fell by less than {pr.tol:.0%} between rounds of {pr.round} steps, "
            f"at most {s.train.steps} steps"
        )
    return f"{s.train.steps} steps"


def _line(label: str, c: A6Cell, color: str, ls: str) -> tuple:
    return label, c.curves, c.refs, color, ls


def _loss_figure(ctx: Context, f: Findings, cfg: A6Config, m: A6Measurements) -> None:
    path = f.figure_file(ctx, "losses")
    styles = {n: ls for n, ls in zip(cfg.ns, ("-", "--", ":", "-."))}
    panels = [
        (
            f"(a-left) d = {cfg.d}, by network",
            [
                _line(f"{net}, n = {n}", m.cell(cfg.d, n, net), f"C{i}", styles[n])
                for i, net in enumerate(cfg.networks)
                for n in cfg.ns
            ],
        ),
        (
            f"(a-right) {cfg.fixed_network}, by d",
            [
                _line(f"d = {d}, n = {n}", m.cell(d, n, cfg.fixed_network), f"C{i}", styles[n])
                for i, d in enumerate(cfg.ds)
                for n in cfg.ns
            ],
        ),
        (
            f"(b) {cfg.wd_network}, d = {cfg.d}, by weight decay",
            [
                _line(f"wd {wd:g}, n = {n}", m.cell(cfg.d, n, cfg.wd_network, wd), f"C{i}", styles[n])
                for i, wd in enumerate(cfg.weight_decays)
                for n in cfg.ns
            ],
        ),
    ]
    loss_figure(path, panels)
    f.note(
        f"Figure A6_losses (profile {ctx.profile}): the DSM training loss of every model (window means of "
        f"{cfg.setting.train.log_every} steps; one line per replicate); line style by n."
    )


def _ordering(m: A6Measurements) -> str:
    """Whether the ODE likelihood orders the models and the train / held-out sets as the ELBO does."""
    from scipy import stats

    cells = [
        c
        for c in m.cells
        if c.heldout_elbo is not None and c.heldout_ode_median is not None and c.train_ode_median is not None
    ]
    if len(cells) < 3:
        return ""
    same_sign = sum(
        (c.train_elbo - c.heldout_elbo > 0) == (c.train_ode_median - c.heldout_ode_median > 0) for c in cells
    )
    rho = stats.spearmanr([c.heldout_elbo for c in cells], [c.heldout_ode_median for c in cells])[0]
    return (
        f"ODE against ELBO on the trained networks: the train-minus-held-out gap has the same sign in "
        f"{same_sign}/{len(cells)} models; Spearman rank correlation of the held-out likelihoods across models "
        f"{rho:.2f} (ELBO means against ODE medians)."
    )


def _figure(ctx: Context, f: Findings, cfg: A6Config, m: A6Measurements) -> None:
    path = f.figure_file(ctx, "figure3")

    def mem_line(ax, xs, cells, color, label, marker="o"):
        r = np.array([c.ratio for c in cells])
        ci = np.array([wilson_interval(*c.count) for c in cells])
        ax.errorbar(
            xs, r, yerr=[r - ci[:, 0], ci[:, 1] - r], fmt=f"{marker}-", color=color, label=label, ms=5, capsize=3
        )

    def ll_lines(ax, xs, cells, color, n):
        """Both likelihood readings, negated (lower is better), with the truth; se bars over seeds and points."""
        ax.errorbar(
            xs,
            [-c.loglik for c in cells],
            yerr=[c.loglik_se for c in cells],
            fmt="s--",
            color=color,
            ms=4,
            capsize=2,
            label=rf"n = {n}: $-$mean log $p_{{data}}(x_{{gen}})$",
        )
        if all(c.heldout_elbo is not None for c in cells):
            ax.errorbar(
                xs,
                [-c.heldout_elbo for c in cells],
                yerr=[c.heldout_elbo_se for c in cells],
                fmt="^-.",
                color=color,
                ms=5,
                capsize=2,
                label=f"n = {n}: $-$held-out ELBO",
            )
        ax.axhline(-cells[0].loglik_fresh, color=color, ls=":", lw=1.0, label=f"n = {n}: truth (fresh draws)")

    with grid_figure(path, 2, 2, (13, 10)) as axes:
        ax = axes[0, 0]
        for i, n in enumerate(cfg.ns):
            cells = [m.cell(cfg.d, n, net) for net in cfg.networks]
            mem_line(ax, [c.parameters for c in cells], cells, f"C{i}", f"n = {n}")
            ax.plot(
                [c.parameters for c in cells],
                [c.null_memorized / c.null_m for c in cells],
                "x:",
                color=f"C{i}",
                label=f"n = {n}: null rate",
            )
        ax.set(
            xscale="log",
            xlabel="parameters",
            ylabel="memorization ratio",
            ylim=(-0.02, 1.02),
            title=f"(a-left) d = {cfg.d}, no weight decay: against network size",
        )
        ax.legend()
        ax = axes[0, 1]
        for i, d in enumerate(cfg.ds):
            cells = [m.cell(d, n, cfg.fixed_network) for n in cfg.ns]
            mem_line(ax, list(cfg.ns), cells, f"C{i}", f"d = {d}")
        ax.set(
            xscale="log",
            xlabel="n (training points)",
            ylabel="memorization ratio",
            ylim=(-0.02, 1.02),
            title=f"(a-right) {cfg.fixed_network}: against n, by d",
        )
        ax.set_xticks(list(cfg.ns), [str(n) for n in cfg.ns])
        ax.minorticks_off()
        ax.legend()
        ax = axes[1, 0]
        for i, n in enumerate(cfg.ns):
            cells = [m.cell(cfg.d, n, net) for net in cfg.networks]
            ll_lines(ax, [c.parameters for c in cells], cells, f"C{i}", n)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="parameters",
            ylabel="$-$log-likelihood (nats; lower is better)",
            title=f"(b-left) d = {cfg.d}, no weight decay: likelihood against network size",
        )
        ax.legend(fontsize=8)
        ax = axes[1, 1]
        ax2 = ax.twinx()
        wds = list(cfg.weight_decays)
        for i, n in enumerate(cfg.ns):
            cells = [m.cell(cfg.d, n, cfg.wd_network, wd) for wd in wds]
            mem_line(ax, wds, cells, f"C{i}", f"n = {n}: memorization (left axis)")
            ll_lines(ax2, wds, cells, f"C{i}", n)
        ax.set(
            xscale="symlog",
            xlabel="weight decay",
            ylabel="memorization ratio",
            ylim=(-0.02, 1.02),
            title=f"(b-right) {cfg.wd_network}, d = {cfg.d}: against weight decay",
        )
        ax.set_xscale("symlog", linthresh=min(w for w in wds if w > 0))
        ax2.set(yscale="log", ylabel="$-$log-likelihood (nats; right axis)")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    f.note(
        f"Figure A6_figure3 (profile {ctx.profile}): Figure 3's panels. Memorization with 95% Wilson "
        "intervals (pooled over seeds), beside the null rate of fresh draws; the likelihoods NEGATED on a log "
        "axis (lower is better) with se bars (over seeds and points): squares (dashed), the samples' mean "
        "log p_data(x_gen); triangles (dash-dot), the model's ELBO of held-out draws; dotted, fresh draws (the truth)."
    )


register(
    "A6",
    title="Memorization rises with network size, falls with n and d; weight decay trades it against likelihood",
    paper_ref="Figure 3 (Section 5)",
    statement="Gaussian mixtures (K = 8, mu_k ~ N(0, 4 I_d), Sigma = I): the memorization ratio rises with network "
    "size and falls with n; with the network fixed it falls as d grows. At a smaller n, wide networks or "
    "weak weight decay memorize and score a low likelihood while a moderate width with suitable weight "
    "decay avoids both; at a larger n memorization is unlikely and strong weight decay hurts.",
    inferred="The paper does not say which likelihood its dashed curves show; this project decides both readings: "
    "the model's likelihood of held-out draws at t0 (primary, by the reverse SDE's variational bound) and "
    "the mean log p_data(x_gen) of the generated samples under the true mixture (secondary). Trends are tested on "
    "their end points (smallest against largest size, n, d), where the model memorizes beyond the null rate; the "
    "effects looked for (5 points of memorization, 1 nat) are this project's choices.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
