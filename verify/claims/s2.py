"""S2 (Proposition 4.1): the Loss-Gap equals the Fisher divergence under the EMPIRICAL noised law.

    Loss-Gap_t = Lhat_t(grad log p_t) - Lhat_t(grad log phat_t) = E_{X ~ Phat_t} ||grad log phat_t - grad log p_t||^2

for every t <= T. Both sides are computed with the library functions ``theory.loss_gap`` and
``theory.fisher_divergence`` (quadrature for d <= 2, paired Monte Carlo for any d). The
reverse divergence E_{X ~ P_t} ||.||^2, which ordinary generalization bounds control, is
shown beside them: it is a different number, which is the paper's point.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from theory import EmpiricalDistribution, fisher_divergence, loss_gap

from ..fuzz import FuzzSpec, identity_margin, register_fuzz
from ..generators import random_problem
from ..io import figure
from ..registry import Context, Findings, register
from ..stats import bonferroni_z
from ..strategies import problem_cases, times
from ._identity import ROUND_RTOL, identity_figure, mc_case, mc_detail, quad_case


@dataclass(frozen=True)
class S2Config:
    T: float = 10.0
    quad_cases: tuple[tuple[int, int], ...] = ((1, 2), (1, 16), (1, 128), (2, 2), (2, 8), (2, 24))   # (d, n)
    quad_times: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    mc_cases: tuple[tuple[int, int], ...] = ((1, 2), (1, 100), (2, 2), (2, 100), (2, 10000), (8, 100), (32, 2),
                                             (32, 1000), (64, 100), (64, 10000))        # (d, n)
    mc_times: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    mc_draws: int = 20000
    reverse_draws: int = 4000               # draws for the (informative) reverse divergence under P_t
    K: int = 3
    rtol: float = 1e-8
    family_alpha: float = 1e-3


CONFIGS = {
    "ci": S2Config(quad_cases=((1, 2), (1, 16), (2, 4)), quad_times=(1e-3, 0.1, 10.0),
                   mc_cases=((2, 2), (2, 300), (16, 2), (16, 300)), mc_times=(1e-3, 0.1, 10.0), mc_draws=4000,
                   reverse_draws=1000),
    "quick": S2Config(),
    "full": S2Config(T=20.0, quad_cases=((1, 2), (1, 16), (1, 128), (1, 256), (2, 2), (2, 8), (2, 24), (2, 32)),
                     quad_times=(1e-3, 3e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 10.0, 20.0),
                     mc_cases=tuple((d, n) for d in (1, 2, 8, 16, 32, 64) for n in (2, 10, 100, 1000, 10000)),
                     mc_times=(1e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 10.0, 20.0), mc_draws=50000, reverse_draws=10000),
}


def sides(data, mix, emp: EmpiricalDistribution, t: float):
    """(Loss-Gap_t, Fisher(Phat_t, P_t)) estimators; each takes method/seed keywords."""
    return (lambda **kw: loss_gap(data, mix, t, **kw),
            lambda **kw: fisher_divergence(emp, mix, t, **kw))


def _gap_figure(path, quad, mc, reverse, title):
    with figure(path, 2, (11, 4.2)) as ax:
        for c_list, a, kind in ((quad, ax[0], "quadrature"), (mc, ax[1], "Monte Carlo")):
            if not c_list:
                continue
            d = max(c.label["d"] for c in c_list)
            for i, n in enumerate(sorted({c.label["n"] for c in c_list if c.label["d"] == d})):
                cs = sorted([c for c in c_list if c.label["d"] == d and c.label["n"] == n], key=lambda c: c.label["t"])
                t = [c.label["t"] for c in cs]
                a.errorbar(t, [c.lhs.value for c in cs], yerr=[c.lhs.halfwidth for c in cs], fmt="o-", ms=4,
                           color=f"C{i}", label=f"Loss-Gap, n = {n}")
                a.plot(t, [c.rhs.value for c in cs], "x", color="k", ms=7)
                rv = [reverse.get((d, n, tt)) for tt in t]
                if kind == "Monte Carlo" and all(v is not None for v in rv):
                    a.plot(t, [v.value for v in rv], ":", color=f"C{i}", label=f"Fisher(P_t, Phat_t), n = {n}")
            a.plot([], [], "x", color="k", label="Fisher(Phat_t, P_t)")
            a.set(xscale="log", yscale="log", xlabel="t", ylabel="value", title=f"{title}: d = {d} ({kind})")
            a.legend(fontsize=7)


@register("S2", title="Loss-Gap = Fisher divergence under the empirical law (Proposition 4.1)",
          paper_ref="Proposition 4.1, Section 4",
          statement="Loss-Gap_t := Lhat_t(grad log p_t) - Lhat_t(grad log phat_t) = Fisher(Phat_t, P_t) := "
                    "E_{X ~ Phat_t} ||grad log phat_t(X) - grad log p_t(X)||^2 for every t <= T; the expectation "
                    "is under the empirical marginal.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg: S2Config = ctx.config
    f = Findings()
    times_ok = all(t <= cfg.T for t in cfg.quad_times + cfg.mc_times)
    quad, mc, reverse = [], [], {}
    for d, n in ctx.progress_bar(cfg.quad_cases, "quadrature data sets"):
        seed = ctx.seed_for("quad", d, n)
        mix, data, emp = random_problem(seed, cfg.K, d, n)
        for t in cfg.quad_times:
            lhs, rhs = sides(data, mix, emp, t)
            quad.append(quad_case(dict(d=d, n=n, t=t), lhs, rhs, rtol=1e-3 * cfg.rtol))
    for d, n in ctx.progress_bar(cfg.mc_cases, "Monte-Carlo data sets"):
        seed = ctx.seed_for("mc", d, n)
        mix, data, emp = random_problem(seed, cfg.K, d, n)
        for k, t in enumerate(cfg.mc_times):
            lhs, rhs = sides(data, mix, emp, t)
            mc.append(mc_case(dict(d=d, n=n, t=t), lhs, rhs, cfg.mc_draws, seed=ctx.seed_for("mc-draws", d, n, k)))
            reverse[(d, n, t)] = fisher_divergence(mix, emp, t, method="mc", n_draws=cfg.reverse_draws,
                                                   seed=ctx.seed_for("reverse", d, n, k))
    z_crit = bonferroni_z(cfg.family_alpha, max(1, len(mc)))

    worst = max(quad, key=lambda c: c.rel_residual)
    f.check("times cover [1e-3, T]", times_ok and min(cfg.quad_times + cfg.mc_times) <= 1e-3,
            f"t from {min(cfg.quad_times + cfg.mc_times):g} to {max(cfg.quad_times + cfg.mc_times):g}, T = {cfg.T:g}")
    f.check("quadrature: Loss-Gap = Fisher (d <= 2)", all(c.passed(cfg.rtol) for c in quad),
            f"{sum(c.passed(cfg.rtol) for c in quad)}/{len(quad)} cases within relative {cfg.rtol:g}; worst "
            f"{worst.rel_residual:.2e} at {worst.label}; error estimate <= tolerance in {sum(c.rel_quad_error <= cfg.rtol for c in quad)}/{len(quad)}")
    f.check("Monte Carlo: paired residual has mean 0", all(c.identity_ok(z_crit) for c in mc), mc_detail(mc, z_crit))
    f.check("Loss-Gap never significantly negative", all(c.passed(z_crit) for c in mc) and
            all(c.lhs.value >= -c.lhs.error for c in quad),
            f"min quadrature gap {min(c.lhs.value for c in quad):.3e}; min MC (gap + z_crit se) "
            f"{min(c.lhs.value + z_crit * c.lhs.stderr for c in mc):.3e}")

    f.table("Quadrature cases (d <= 2)",
            ["d", "n", "t", "Loss-Gap_t", "Fisher(Phat_t, P_t)", "rel. residual", "rel. quad. error", "converged"],
            [[c.label["d"], c.label["n"], c.label["t"], c.lhs.value, c.rhs.value, c.rel_residual, c.rel_quad_error,
              c.converged] for c in quad],
            note="Both by adaptive Gauss-Hermite quadrature per data point / per component, converged to relative 1e-11.")
    f.table("Monte-Carlo cases, with the reverse divergence for contrast",
            ["d", "n", "t", "Loss-Gap_t", "se", "Fisher(Phat_t, P_t)", "se", "z (paired residual)",
             "residual / Fisher", "pass", "Fisher(P_t, Phat_t)", "se"],
            [[c.label["d"], c.label["n"], c.label["t"], c.lhs.value, c.lhs.stderr, c.rhs.value, c.rhs.stderr, c.z,
              c.res_mean / c.rhs.value, c.passed(z_crit),
              reverse[(c.label["d"], c.label["n"], c.label["t"])].value,
              reverse[(c.label["d"], c.label["n"], c.label["t"])].stderr] for c in mc],
            note=f"{cfg.mc_draws} paired draws per case (same points for both sides); reverse divergence "
                 f"E_(P_t)||e - grad log p_t||^2 from {cfg.reverse_draws} draws of P_t (informative, not asserted).")
    f.tolerance("quadrature relative residual", f"{cfg.rtol:g}", "issue #2 acceptance; rules converge to 1e-11")
    f.tolerance("Monte-Carlo |z|", f"{z_crit:.3f}", f"Bonferroni over {len(mc)} tests, family-wise false-failure "
                f"rate {cfg.family_alpha:g}, plus a float64 rounding floor {ROUND_RTOL:g} x RHS (verify/claims/_identity.py)")
    p1, r1 = ctx.figure_path("identity")
    identity_figure(p1, quad, mc, rtol=cfg.rtol, z_crit=z_crit, lhs_name="Loss-Gap_t",
                    rhs_name="Fisher(Phat_t, P_t)", title="S2: Proposition 4.1")
    p2, r2 = ctx.figure_path("gap_vs_t")
    _gap_figure(p2, quad, mc, reverse, "Loss-Gap_t and Fisher divergences")
    f.figures += [r1, r2]
    f.seeds["claim"] = ctx.seed
    small_t = [c for c in mc if c.label["t"] == min(cfg.mc_times) and c.label["n"] == max(n for _, n in cfg.mc_cases)]
    note = ""
    if small_t:
        c = max(small_t, key=lambda c: c.label["d"])
        rv = reverse[(c.label["d"], c.label["n"], c.label["t"])]
        note = (f"; at d = {c.label['d']}, n = {c.label['n']}, t = {c.label['t']:g}: Loss-Gap {c.lhs.value:.4g} vs "
                f"Fisher {c.rhs.value:.4g} (reverse divergence {rv.value:.4g})")
    headline = (f"equal in {sum(c.passed(cfg.rtol) for c in quad)}/{len(quad)} quadrature cases (worst rel. "
                f"{worst.rel_residual:.1e}) and {sum(c.passed(z_crit) for c in mc)}/{len(mc)} Monte-Carlo cases{note}")
    method = ("Random K = 3 mixtures with general covariances; data sets of n points from them; Loss-Gap_t by "
              "theory.loss_gap (paired DSM difference of the true and empirical scores), Fisher(Phat_t, P_t) by "
              "theory.fisher_divergence. d <= 2: adaptive Gauss-Hermite quadrature. Any d: the two estimators share "
              "their draws (same seed), and the per-draw residual must have mean zero.")
    return f.result(headline, method)


# ---- fuzz spec: `memsep fuzz S2` (verify/fuzz.py) ---------------------------------------------
FUZZ_RTOL = S2Config.rtol                  # the check's tolerance
FUZZ_QUAD_RTOL = 1e-3 * S2Config.rtol      # the check's quadrature rule tolerance


def fuzz_margin(case: dict) -> float:
    """1 - |Loss-Gap - Fisher| / (1e-8 Fisher + quadrature error estimates) for one (problem, t) case."""
    mix, data, emp = random_problem(case["seed"], case["K"], case["d"], case["n"])
    lhs, rhs = sides(data, mix, emp, case["t"])
    return identity_margin(lhs(method="quadrature", rtol=FUZZ_QUAD_RTOL), rhs(method="quadrature", rtol=FUZZ_QUAD_RTOL),
                           FUZZ_RTOL)


register_fuzz("S2", FuzzSpec(
    strategy=problem_cases(d=st.integers(1, 2), K=st.integers(1, 4), n=st.integers(1, 12), t=times(1e-3, 10.0)),
    margin=fuzz_margin, describe=dict,
    property="Loss-Gap_t = Fisher(Phat_t, P_t) (quadrature, d <= 2, relative 1e-8 plus the quadrature error "
             "estimates) for a random mixture, data set (n <= 12) and t in [1e-3, 10]"))
