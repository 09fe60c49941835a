"""S5 (Figure 1): Loss-Gap_t against t for a Gaussian mixture at several n.

The paper's caption makes two statements, tested on E_D[Loss-Gap_t] (Monte Carlo over data sets):
(1) smaller t gives a larger gap; (2) for n not large the gap is far from zero. The setting
(inferred: the paper's Figure 1 parameters are not available) is the Gaussian-mixture
setting of Figure 3: K = 8, mu_k ~ N(0, 4 I_d), Sigma = I, here at d = 32 (inside Theorem
4.3's regime) and, for contrast, d = 2 (outside it).

Rules (verify/claims/_gap.py): (1) per curve and consecutive pair of times, the paired mean over data
sets of log g_b(t_j) - log g_b(t_{j+1}) must be significantly > 0; a step fails when its one-sided
upper bound lies below half the fall of the bound form, log(B_{t_j} / B_{t_{j+1}}) / 2. (2) at the first
dimension, for every n and t <= 0.1, R = E_D[gap] / B_t against the margin 0.1 (non-inferiority).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memsep.theory.bounds import leading_order_gap
from memsep.theory.gap import loss_gap_curve

from ..registry import Context, Findings, decision, register
from ._gap import Curve, b_form, combine, decreasing_steps, figure3_mixture, margin_rule

__all__ = ["S5Config", "S5Measurements", "figure3_mixture"]


@dataclass(frozen=True)
class S5Config:
    dims: tuple[int, ...] = (32, 2)
    ns: tuple[int, ...] = (100, 1000, 10000)
    times: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
    K: int = 8
    mean_scale: float = 2.0
    n_datasets: int = 6
    n_draws: int = 1000
    far_t_max: float = 0.1  # statement (2) is tested for t <= far_t_max ...
    far_fraction: float = 0.1  # ... as E_D[gap] / B_t > far_fraction (at the first dimension)
    step_fraction: float = 0.5  # smallest fall of interest per step: this fraction of B_t's log-fall
    family_alpha: float = 1e-3


CONFIGS = {
    "ci": S5Config(ns=(100, 1000), times=(1e-3, 1e-2, 0.1, 1.0), n_datasets=3, n_draws=300),
    "quick": S5Config(),
    "full": S5Config(
        ns=(100, 300, 1000, 3000, 10000), times=tuple(np.geomspace(1e-3, 5.0, 14).round(6)), n_datasets=16, n_draws=4000
    ),
}

RULES = {
    "S5.decreasing_in_t": "(1) smaller t gives a larger gap: for every (d, n) curve and consecutive times "
    "t_j < t_{j+1}, the mean over data sets of log gap_b(t_j) - log gap_b(t_{j+1}) (paired: the same data sets "
    "at every t) is significantly > 0 (one-sided z, Bonferroni over all steps, family-wise "
    "false-failure rate 1e-3); a step fails when its upper bound is below the smallest fall of "
    "interest, half of log(B_{t_j} / B_{t_{j+1}}) (B_t = d/sigma_t^2 + tr Sigma, the paper's "
    "bound form); fail if any step fails, pass if all pass, else inconclusive",
    "S5.far_from_zero": "(2) the gap is far from zero: at the first dimension (d = 32, inside Theorem 4.3's regime), "
    "for every n and t <= 0.1, R = E_D[gap] / B_t exceeds 0.1 (one-sided lower bound at level "
    "1e-3 above 0.1 for every point: pass); fail if some point's upper bound (Bonferroni over "
    "the points, level 1e-3) is below 0.1; else inconclusive. Power stated at R = 0.2",
}


@dataclass
class S5Measurements:
    dims: list[int]
    ns: list[int]
    times: list[float]
    K: int
    n_draws: int
    curves: list[Curve] = field(default_factory=list)  # one per (d, n): label {d, n, tr_sigma}
    seed: int = 0


def measure(ctx: Context, cfg: S5Config) -> S5Measurements:
    m = S5Measurements(
        dims=list(cfg.dims),
        ns=list(cfg.ns),
        times=[float(t) for t in cfg.times],
        K=cfg.K,
        n_draws=cfg.n_draws,
        seed=ctx.seed,
    )
    for d in cfg.dims:
        mix = figure3_mixture(ctx.seed_for("mixture", d), d, cfg.K, cfg.mean_scale)
        for n in ctx.progress_bar(cfg.ns, f"d={d} sizes"):
            gc = loss_gap_curve(
                mix, n, cfg.times, n_datasets=cfg.n_datasets, n_draws=cfg.n_draws, seed=ctx.seed_for("curve", d, n)
            )
            m.curves.append(Curve.of({"d": d, "n": n, "tr_sigma": float(d)}, gc))
    return m


def _steps(m: S5Measurements, cfg: S5Config) -> list:
    n_steps = sum(max(len(c.ts) - 1, 0) for c in m.curves)
    a = cfg.family_alpha / max(n_steps, 1)
    return [
        it
        for c in m.curves
        for it in decreasing_steps(c, a, fraction=cfg.step_fraction, prefix=f"d = {c.label['d']}, n = {c.label['n']}: ")
    ]


def _far_points(m: S5Measurements, cfg: S5Config) -> list:
    """(curve, j, R, se of R) at the first dimension and t <= far_t_max."""
    d0 = m.dims[0]
    out = []
    for c in m.curves:
        if c.label["d"] != d0:
            continue
        for j, t in enumerate(c.ts):
            if t <= cfg.far_t_max:
                B = b_form(t, d0, c.label["tr_sigma"])
                out.append((c, j, c.mean(j) / B, c.se(j) / B))
    return out


def decide(m: S5Measurements, cfg: S5Config) -> list:
    steps = _steps(m, cfg)
    o1, t1, fails, incs = combine(steps)
    detail = (
        f"{sum(o == 'pass' for _, o, _ in steps)}/{len(steps)} consecutive steps significantly decreasing "
        f"(paired log-ratio over data sets, one-sided level {cfg.family_alpha:g} / {len(steps)})"
    )
    if t1:
        detail += (
            f"; least significant: {t1['item']} (log-ratio {t1['estimate']:.3g} +- {t1['se']:.2g}, "
            f"z = {t1.get('z', float('nan')):.1f}); weakest power at the smallest fall of interest "
            f"{t1.get('min_power', float('nan')):.2f}"
        )
    if fails:
        detail += "; below the smallest fall of interest: " + "; ".join(fails)
    if incs:
        detail += "; not decided: " + "; ".join(incs)
    out = [decision("S5.decreasing_in_t", o1 if steps else "inconclusive", detail if steps else "no steps", t1)]

    far = _far_points(m, cfg)
    items = []
    for c, j, R, se in far:
        o, test = margin_rule(
            R,
            se,
            cfg.family_alpha,
            pass_above=cfg.far_fraction,
            fail_below=cfg.far_fraction,
            power_at=2 * cfg.far_fraction,
            fail_alpha=cfg.family_alpha / max(len(far), 1),
            effect_source=f"R = 2 x the margin {cfg.far_fraction:g} (a gap of the order of B_t)",
            what=f"R = E_D gap / B_t at d = {c.label['d']}, n = {c.label['n']}, t = {c.ts[j]:g}",
        )
        items.append((f"n = {c.label['n']}, t = {c.ts[j]:g}", o, test))
    o2, t2, fails2, incs2 = combine(items)
    if far:
        c, j, R, se = min(far, key=lambda x: x[2])
        detail2 = (
            f"d = {m.dims[0]}: smallest R = E_D gap / B_t = {R:.3f} +- {se:.3f} at n = {c.label['n']}, "
            f"t = {c.ts[j]:g} over {len(far)} points with t <= {cfg.far_t_max:g} (margin {cfg.far_fraction:g})"
        )
        if fails2:
            detail2 += "; significantly below the margin: " + "; ".join(fails2)
        if incs2:
            detail2 += "; not decided: " + "; ".join(incs2)
    else:
        detail2 = f"no point at d = {m.dims[0]} with t <= {cfg.far_t_max:g}"
    out.append(decision("S5.far_from_zero", o2, detail2, t2))
    return out


def report(ctx: Context, cfg: S5Config, m: S5Measurements, f: Findings) -> tuple[str, str]:
    rows = []
    z95 = 1.959963984540054
    for c in m.curves:
        d = c.label["d"]
        for j, t in enumerate(c.ts):
            mu, se = c.mean(j), c.se(j)
            B = b_form(t, d, c.label["tr_sigma"])
            rows.append([d, c.label["n"], t, mu, mu - z95 * se, mu + z95 * se, leading_order_gap(t, np.eye(d)), mu / B])
    f.table(
        "E_D[Loss-Gap_t] per dimension, n and t",
        ["d", "n", "t", "E_D gap", "CI low", "CI high", "G_t (derived here)", "gap / B_t"],
        rows,
        note=f"{cfg.n_datasets} data sets x {cfg.n_draws} draws per point (Fisher form, Proposition 4.1); 95% "
        "normal intervals from the spread over data sets; B_t = d/sigma_t^2 + tr Sigma; G_t is the "
        "leading-order prediction derived in theory.bounds (not in the paper).",
    )
    steps = _steps(m, cfg)
    f.table(
        "Steps in t: paired log-ratio of the gap (rule S5.decreasing_in_t)",
        ["step", "log gap(t_j) - log gap(t_j+1)", "se", "z", "smallest fall of interest", "power", "outcome"],
        [[lab, t["estimate"], t["se"], t.get("z"), t["effect"], t.get("power"), o] for lab, o, t in steps],
    )
    f.tolerance(
        "decreasing in t",
        f"one-sided level {cfg.family_alpha:g} / {len(steps)} per step",
        f"Bonferroni over {len(steps)} steps (family-wise false-failure rate {cfg.family_alpha:g}); smallest "
        f"fall of interest {cfg.step_fraction:g} x log(B_tj / B_tj+1), a fraction of what the bound form "
        "itself falls over the step (chosen before running)",
    )
    f.tolerance(
        "far from zero",
        f"R = gap / B_t > {cfg.far_fraction:g} for t <= {cfg.far_t_max:g}",
        "operational reading of the caption chosen before running: a gap of the order of the bound's "
        "form, not a vanishing fraction of it",
    )
    with f.figure(ctx, "figure1", len(m.dims), (5.5 * len(m.dims), 4.3)) as ax:
        ax = np.atleast_1d(ax)
        for a, d in zip(ax, m.dims):
            for i, c in enumerate(c for c in m.curves if c.label["d"] == d):
                mus = np.array([c.mean(j) for j in range(len(c.ts))])
                ses = np.array([c.se(j) for j in range(len(c.ts))])
                a.plot(c.ts, mus, "o-", ms=3, color=f"C{i}", label=f"n = {c.label['n']}")
                a.fill_between(c.ts, np.maximum(mus - z95 * ses, 1e-12), mus + z95 * ses, color=f"C{i}", alpha=0.25)
            tt = np.geomspace(min(m.times), max(m.times), 100)
            a.plot(
                tt,
                [leading_order_gap(t, np.eye(d)) for t in tt],
                "k--",
                lw=0.8,
                label="G_t = d/sigma^2 - tr C^-1 (derived here)",
            )
            a.set(
                xscale="log",
                yscale="log",
                xlabel="t",
                ylabel="E_D[Loss-Gap_t]",
                title=f"Figure 1 (regenerated): K = {m.K} mixture, d = {d}",
            )
            a.legend(fontsize=7)
    f.add_seeds({"claim": m.seed})
    far = _far_points(m, cfg)
    n_dec = sum(o == "pass" for _, o, _ in steps)
    worst = min((x[2] for x in far), default=float("nan"))
    headline = (
        f"gap decreases in t in {n_dec}/{len(steps)} steps (significant); at d = {m.dims[0]} it stays >= "
        f"{worst:.2f} B_t for t <= {cfg.far_t_max:g} at every n up to {max(m.ns)}"
    )
    method = (
        "Figure 3's mixture setting (K = 8, mu_k ~ N(0, 4 I), Sigma = I; Figure 1's own parameters are not "
        "available). For each (d, n): E_D[Loss-Gap_t] over independent data sets (theory.gap.loss_gap_curve: "
        "per data set the Fisher form of Proposition 4.1 by Monte Carlo; the same data sets at every t, so "
        "differences in t are paired). CI bands: 95% two-stage intervals (data sets and noise)."
    )
    return headline, method


register(
    "S5",
    title="Figure 1: the Loss-Gap against t for several n",
    paper_ref="Figure 1, Section 4",
    statement="Loss-Gap_t against t (log axis) for a Gaussian mixture at several n: smaller t gives a larger "
    "gap; for n not large the gap is far from zero.",
    inferred="Figure 1's parameters are not given: the mixture is Figure 3's (K = 8, mu_k ~ N(0, 4 I), Sigma = "
    "I) at d = 32 and d = 2. 'Far from zero' is read as E_D[gap] > 0.1 B_t for t <= 0.1 at d = 32, and "
    "a step in t counts when the gap falls by at least half of what B_t falls (both chosen here).",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
