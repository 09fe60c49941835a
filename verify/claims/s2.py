"""S2 (Proposition 4.1): the Loss-Gap equals the Fisher divergence under the EMPIRICAL noised law.

    Loss-Gap_t = Lhat_t(grad log p_t) - Lhat_t(grad log phat_t) = E_{X ~ Phat_t} ||grad log phat_t - grad log p_t||^2

for every t <= T. Both sides are computed with the library functions ``theory.loss_gap`` and
``theory.fisher_divergence`` (quadrature for d <= 2, paired Monte Carlo for any d). The
reverse divergence E_{X ~ P_t} ||.||^2, which ordinary generalization bounds control, is
shown beside them: it is a different number, which is the paper's point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from memsep.theory import EmpiricalDistribution, fisher_divergence, loss_gap

from ..fuzz import FuzzSpec, identity_margin, register_fuzz
from ..generators import random_problem
from ..io import figure
from ..registry import Context, Findings, decision, register
from ..stats import bonferroni_z, equivalence_rule
from ..strategies import problem_cases, times
from ._identity import (
    MC_TOL,
    ROUND_RTOL,
    MCCase,
    QuadCase,
    identity_figure,
    mc_case,
    mc_rule,
    nonnegative_rule,
    quad_case,
    quad_rule,
)


@dataclass(frozen=True)
class S2Config:
    T: float = 10.0
    quad_cases: tuple[tuple[int, int], ...] = ((1, 2), (1, 16), (1, 128), (2, 2), (2, 8), (2, 24))  # (d, n)
    quad_times: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    mc_cases: tuple[tuple[int, int], ...] = (
        (1, 2),
        (1, 100),
        (2, 2),
        (2, 100),
        (2, 10000),
        (8, 100),
        (32, 2),
        (32, 1000),
        (64, 100),
        (64, 10000),
    )  # (d, n)
    mc_times: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    mc_draws: int = 20000
    reverse_draws: int = 4000  # draws for the reverse divergence under P_t
    K: int = 3
    rtol: float = 1e-8
    family_alpha: float = 1e-3
    reverse_tol: float = 0.1  # S2.not_reverse: "the same" means within 10%


CONFIGS = {
    "ci": S2Config(
        quad_cases=((1, 2), (1, 16), (2, 4)),
        quad_times=(1e-3, 0.1, 10.0),
        mc_cases=((2, 2), (2, 300), (16, 2), (16, 300)),
        mc_times=(1e-3, 0.1, 10.0),
        mc_draws=4000,
        reverse_draws=1000,
    ),
    "quick": S2Config(),
    "full": S2Config(
        T=20.0,
        quad_cases=((1, 2), (1, 16), (1, 128), (1, 256), (2, 2), (2, 8), (2, 24), (2, 32)),
        quad_times=(1e-3, 3e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 10.0, 20.0),
        mc_cases=tuple((d, n) for d in (1, 2, 8, 16, 32, 64) for n in (2, 10, 100, 1000, 10000)),
        mc_times=(1e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 10.0, 20.0),
        mc_draws=50000,
        reverse_draws=10000,
    ),
}

RULES = {
    "S2.quadrature": "d <= 2, every quadrature case (times 1e-3 to T): |Loss-Gap_t - Fisher(Phat_t, P_t)| <= rtol x "
    "Fisher with both quadrature error estimates <= rtol x Fisher (rtol = 1e-8); fail if the sides "
    "differ by more than rtol x Fisher plus both error estimates",
    "S2.monte_carlo": "any d, every Monte-Carlo case (paired draws): the per-draw residual's mean is not significantly "
    "non-zero (Bonferroni over the cases, family-wise false-failure rate 1e-3, plus a float64 "
    "rounding floor of 1e-10 x Fisher); and in every d tested, at least one case shows equivalence "
    "(|mean| + z_crit se <= 5% of Fisher); inconclusive when no case of some d resolves 5%",
    "S2.nonnegative": "Loss-Gap_t >= 0: no quadrature value below minus its error estimate, no Monte-Carlo value "
    "significantly negative (z_crit as above)",
    "S2.not_reverse": "the expectation is under the EMPIRICAL law, and that matters: in at least one case Loss-Gap_t "
    "differs significantly from the reverse divergence Fisher(P_t, Phat_t) (two-sided z, Bonferroni, "
    "level 1e-3); fail if every case is equal to it within 10%; else inconclusive",
}


@dataclass
class ReverseCase:
    label: dict
    value: float
    se: float


@dataclass
class S2Measurements:
    T: float
    times: list[float]
    quad: list[QuadCase] = field(default_factory=list)
    mc: list[MCCase] = field(default_factory=list)
    reverse: list[ReverseCase] = field(default_factory=list)  # Fisher(P_t, Phat_t), one per Monte-Carlo case
    seed: int = 0


def sides(data, mix, emp: EmpiricalDistribution, t: float):
    """(Loss-Gap_t, Fisher(Phat_t, P_t)) estimators; each takes method/seed keywords."""
    return (lambda **kw: loss_gap(data, mix, t, **kw), lambda **kw: fisher_divergence(emp, mix, t, **kw))


def measure(ctx: Context, cfg: S2Config) -> S2Measurements:
    m = S2Measurements(T=cfg.T, times=sorted(set(cfg.quad_times + cfg.mc_times)), seed=ctx.seed)
    for d, n in ctx.progress_bar(cfg.quad_cases, "quadrature data sets"):
        mix, data, emp = random_problem(ctx.seed_for("quad", d, n), cfg.K, d, n)
        for t in cfg.quad_times:
            lhs, rhs = sides(data, mix, emp, t)
            m.quad.append(quad_case(dict(d=d, n=n, t=t), lhs, rhs, rtol=1e-3 * cfg.rtol))
    for d, n in ctx.progress_bar(cfg.mc_cases, "Monte-Carlo data sets"):
        mix, data, emp = random_problem(ctx.seed_for("mc", d, n), cfg.K, d, n)
        for k, t in enumerate(cfg.mc_times):
            lhs, rhs = sides(data, mix, emp, t)
            m.mc.append(mc_case(dict(d=d, n=n, t=t), lhs, rhs, cfg.mc_draws, seed=ctx.seed_for("mc-draws", d, n, k)))
            rv = fisher_divergence(
                mix, emp, t, method="mc", n_draws=cfg.reverse_draws, seed=ctx.seed_for("reverse", d, n, k)
            )
            m.reverse.append(ReverseCase(dict(d=d, n=n, t=t), rv.value, rv.stderr))
    return m


def _z_crit(m: S2Measurements, cfg: S2Config) -> float:
    return bonferroni_z(cfg.family_alpha, max(1, len(m.mc)))


def _reverse_z(c: MCCase, r: ReverseCase) -> float:
    se = (c.lhs_se**2 + r.se**2) ** 0.5
    return (c.lhs - r.value) / se if se > 0 else (0.0 if c.lhs == r.value else float("inf"))


def decide(m: S2Measurements, cfg: S2Config) -> list:
    z_crit = _z_crit(m, cfg)
    out = [
        decision("S2.quadrature", *quad_rule(m.quad, cfg.rtol))
        if m.quad
        else decision("S2.quadrature", "inconclusive", "no quadrature case was run"),
        decision("S2.monte_carlo", *mc_rule(m.mc, z_crit))
        if m.mc
        else decision("S2.monte_carlo", "inconclusive", "no Monte-Carlo case was run"),
        decision("S2.nonnegative", *nonnegative_rule(m.quad, m.mc, z_crit)),
    ]
    pairs = list(zip(m.mc, m.reverse))
    differ = [(c, r, _reverse_z(c, r)) for c, r in pairs if abs(_reverse_z(c, r)) > z_crit]
    same = []
    for c, r in pairs:  # equal within reverse_tol: the z_crit interval of the difference inside +-tol
        o, _ = equivalence_rule(c.lhs - r.value, (c.lhs_se**2 + r.se**2) ** 0.5, cfg.reverse_tol * abs(r.value), z_crit)
        same.append(o == "pass")
    if differ:
        c, r, z = max(differ, key=lambda x: abs(x[2]))
        outcome = "pass"
        detail = (
            f"{len(differ)}/{len(pairs)} cases differ significantly; largest at {c.label}: Loss-Gap {c.lhs:.4g} "
            f"against Fisher(P_t, Phat_t) {r.value:.4g} (z = {z:.1f})"
        )
    else:
        outcome = "fail" if pairs and all(same) else "inconclusive"
        detail = f"no case differs significantly; {sum(same)}/{len(pairs)} are equal within {cfg.reverse_tol:.0%}"
    out.append(decision("S2.not_reverse", outcome, detail))
    return out


def report(ctx: Context, cfg: S2Config, m: S2Measurements, f: Findings) -> tuple[str, str]:
    z_crit = _z_crit(m, cfg)
    rev = {tuple(r.label.values()): r for r in m.reverse}
    f.table(
        "Quadrature cases (d <= 2)",
        ["d", "n", "t", "Loss-Gap_t", "Fisher(Phat_t, P_t)", "rel. residual", "rel. quad. error", "outcome"],
        [
            [
                c.label["d"],
                c.label["n"],
                c.label["t"],
                c.lhs,
                c.rhs,
                c.rel_residual,
                c.rel_quad_error,
                c.outcome(cfg.rtol),
            ]
            for c in m.quad
        ],
        note="Both by adaptive Gauss-Hermite quadrature per data point / per component, converged to relative 1e-11.",
    )
    f.table(
        "Monte-Carlo cases, with the reverse divergence for contrast",
        [
            "d",
            "n",
            "t",
            "Loss-Gap_t",
            "se",
            "Fisher(Phat_t, P_t)",
            "se",
            "z (paired residual)",
            "residual / Fisher",
            "outcome",
            "Fisher(P_t, Phat_t)",
            "se",
        ],
        [
            [
                c.label["d"],
                c.label["n"],
                c.label["t"],
                c.lhs,
                c.lhs_se,
                c.rhs,
                c.rhs_se,
                c.z,
                c.res_mean / c.rhs if c.rhs else float("nan"),
                c.outcome(z_crit),
                rev[tuple(c.label.values())].value,
                rev[tuple(c.label.values())].se,
            ]
            for c in m.mc
        ],
        note=f"{cfg.mc_draws} paired draws per case (same points for both sides); outcome: pass = equivalence "
        f"within {MC_TOL:g} of Fisher shown, inconclusive = not significant but too imprecise to show it, "
        f"fail = significantly non-zero. Reverse divergence E_(P_t)||e - grad log p_t||^2 from "
        f"{cfg.reverse_draws} draws of P_t.",
    )
    f.tolerance("quadrature relative residual", f"{cfg.rtol:g}", "set before running; the rules converge to 1e-11")
    f.tolerance(
        "Monte-Carlo |z|",
        f"{z_crit:.3f}",
        f"Bonferroni over {len(m.mc)} tests, family-wise false-failure "
        f"rate {cfg.family_alpha:g}, plus a float64 rounding floor {ROUND_RTOL:g} x RHS (verify/claims/_identity.py)",
    )
    f.tolerance(
        "Monte-Carlo equivalence",
        f"{MC_TOL:g} x Fisher",
        "an O(1) relative change is what a failure of the "
        "identity looks like; 5% is resolved by 20,000 paired draws where the gap is not tiny",
    )
    identity_figure(
        f.figure_file(ctx, "identity"),
        m.quad,
        m.mc,
        rtol=cfg.rtol,
        z_crit=z_crit,
        lhs_name=r"Loss-Gap$_t$",
        rhs_name=r"Fisher$(\hat P_t, P_t)$",
        title="S2: Proposition 4.1",
    )
    _gap_figure(f.figure_file(ctx, "gap_vs_t"), m.quad, m.mc, rev, "Loss-Gap_t and Fisher divergences")
    f.add_seeds({"claim": m.seed})
    note = ""
    small_t = [c for c in m.mc if c.label["t"] == min(c.label["t"] for c in m.mc)]
    if small_t:
        c = max(small_t, key=lambda c: (c.label["d"], c.label["n"]))
        rv = rev[tuple(c.label.values())]
        note = (
            f"; at d = {c.label['d']}, n = {c.label['n']}, t = {c.label['t']:g}: Loss-Gap {c.lhs:.4g} vs "
            f"Fisher {c.rhs:.4g} (reverse divergence {rv.value:.4g})"
        )
    headline = (
        f"equal in {sum(c.passed(cfg.rtol) for c in m.quad)}/{len(m.quad)} quadrature cases (worst rel. "
        f"{max((c.rel_residual for c in m.quad), default=0):.1e}); Monte Carlo: "
        f"{sum(c.outcome(z_crit) != 'fail' for c in m.mc)}/{len(m.mc)} not significantly different, "
        f"{sum(c.outcome(z_crit) == 'pass' for c in m.mc)} shown equal within {MC_TOL:.0%}{note}"
    )
    method = (
        "Random K = 3 mixtures with general covariances; data sets of n points from them; Loss-Gap_t by "
        "theory.loss_gap (paired DSM difference of the true and empirical scores), Fisher(Phat_t, P_t) by "
        "theory.fisher_divergence. d <= 2: adaptive Gauss-Hermite quadrature. Any d: the two estimators share "
        "their draws (same seed), and the per-draw residual must have mean zero. The reverse divergence "
        "Fisher(P_t, Phat_t) (what generalization bounds control) from independent draws of P_t."
    )
    return headline, method


def _gap_figure(path, quad, mc, reverse, title):
    with figure(path, 2, (11, 4.2)) as ax:
        for c_list, a, kind in ((quad, ax[0], "quadrature"), (mc, ax[1], "Monte Carlo")):
            if not c_list:
                continue
            d = max(c.label["d"] for c in c_list)
            for i, n in enumerate(sorted({c.label["n"] for c in c_list if c.label["d"] == d})):
                cs = sorted([c for c in c_list if c.label["d"] == d and c.label["n"] == n], key=lambda c: c.label["t"])
                t = [c.label["t"] for c in cs]
                err = [c.lhs_err if kind == "quadrature" else 1.96 * c.lhs_se for c in cs]
                a.errorbar(t, [c.lhs for c in cs], yerr=err, fmt="o-", ms=4, color=f"C{i}", label=f"Loss-Gap, n = {n}")
                a.plot(t, [c.rhs for c in cs], "x", color="k", ms=7)
                rv = [reverse.get((d, n, tt)) for tt in t]
                if kind == "Monte Carlo" and all(v is not None for v in rv):
                    a.plot(t, [v.value for v in rv], ":", color=f"C{i}", label=f"Fisher(P_t, Phat_t), n = {n}")
            a.plot([], [], "x", color="k", label="Fisher(Phat_t, P_t)")
            a.set(xscale="log", yscale="log", xlabel="t", ylabel="value", title=f"{title}: d = {d} ({kind})")
            a.legend(fontsize=7)


register(
    "S2",
    title="Loss-Gap = Fisher divergence under the empirical law (Proposition 4.1)",
    paper_ref="Proposition 4.1, Section 4",
    statement="Loss-Gap_t := Lhat_t(grad log p_t) - Lhat_t(grad log phat_t) = Fisher(Phat_t, P_t) := "
    "E_{X ~ Phat_t} ||grad log phat_t(X) - grad log p_t(X)||^2 for every t <= T; the expectation "
    "is under the empirical marginal.",
    inferred="Nothing: the identity is exact. The data laws (random K = 3 Gaussian mixtures with general "
    "covariances) and the 5% Monte-Carlo equivalence margin are this project's choices.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)


# ---- fuzz spec: `memsep fuzz S2` (verify/fuzz.py) ---------------------------------------------
FUZZ_RTOL = S2Config.rtol  # the check's tolerance
FUZZ_QUAD_RTOL = 1e-3 * S2Config.rtol  # the check's quadrature rule tolerance


def fuzz_margin(case: dict) -> float:
    """1 - |Loss-Gap - Fisher| / (1e-8 Fisher + quadrature error estimates) for one (problem, t) case."""
    mix, data, emp = random_problem(case["seed"], case["K"], case["d"], case["n"])
    lhs, rhs = sides(data, mix, emp, case["t"])
    return identity_margin(
        lhs(method="quadrature", rtol=FUZZ_QUAD_RTOL), rhs(method="quadrature", rtol=FUZZ_QUAD_RTOL), FUZZ_RTOL
    )


register_fuzz(
    "S2",
    FuzzSpec(
        strategy=problem_cases(d=st.integers(1, 2), K=st.integers(1, 4), n=st.integers(1, 12), t=times(1e-3, 10.0)),
        margin=fuzz_margin,
        describe=dict,
        property="Loss-Gap_t = Fisher(Phat_t, P_t) (quadrature, d <= 2, relative 1e-8 plus the quadrature error "
        "estimates) for a random mixture, data set (n <= 12) and t in [1e-3, 10]",
    ),
)
