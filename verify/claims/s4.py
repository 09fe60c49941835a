"""S4: the integrated gap grows like d log(1/t0).

    E_D[ Lhat(grad log p) - Lhat(grad log phat) ] = int_{t0}^{T} E_D[Loss-Gap_t] dt
        >~ d log(1/t0) + (t1 - t0) tr(Sigma)

Checked by computing the integral for several t0 (Gauss-Legendre in log t, theory.gap) and
fitting its slope against log(1/t0), per data set, for several d: the slope must be close
to d. The leading-order prediction G_t (derived here, not in the paper) gives a reference
integral by deterministic quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from theory.bounds import leading_order_gap
from theory.gap import integrated_gap

from ..io import figure
from ..registry import Context, Findings, register
from .s5 import figure3_mixture


@dataclass(frozen=True)
class S4Config:
    cases: tuple[tuple[int, int], ...] = ((4, 50), (16, 1000), (64, 1000))    # (d, n), n <= e^d
    t0s: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    T: float = 10.0
    n_times: int = 8                  # Gauss-Legendre nodes per segment (and n_times // 2 for the error)
    K: int = 8
    n_datasets: int = 6
    n_draws: int = 600
    slope_rtol: float = 0.1           # |slope / d - 1| <= slope_rtol


CONFIGS = {
    "ci": S4Config(cases=((4, 50), (16, 300)), n_times=6, n_datasets=3, n_draws=200),
    "quick": S4Config(),
    "full": S4Config(cases=((4, 50), (8, 1000), (16, 1000), (32, 1000), (64, 1000), (128, 1000)),
                     t0s=(1e-5, 1e-4, 1e-3, 1e-2), n_times=12, n_datasets=12, n_draws=2000),
}


def g_integral(d: int, t0: float, T: float) -> float:
    """int_{t0}^{T} G_t dt for Sigma = I, by adaptive quadrature in u = log t (G_t derived here)."""
    val, _ = integrate.quad(lambda u: np.exp(u) * leading_order_gap(float(np.exp(u)), np.eye(d)),
                            np.log(t0), np.log(T), epsabs=0, epsrel=1e-10, limit=200)
    return val


@register("S4", title="The integrated gap grows like d log(1/t0)",
          paper_ref="Section 4, consequence of Theorem 4.3 (integrated Loss-Gap)",
          statement="E_D[Lhat(grad log p) - Lhat(grad log phat)] = int_{t0}^{T} E_D[Loss-Gap_t] dt >~ "
                    "d log(1/t0) + (t1 - t0) tr(Sigma): it grows like d log(1/t0) as t0 -> 0.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg: S4Config = ctx.config
    f = Findings()
    rows, slope_rows, results = [], [], {}
    for d, n in ctx.progress_bar(cfg.cases, "dimensions"):
        mix = figure3_mixture(ctx.seed_for("mixture", d), d, cfg.K)
        ig = integrated_gap(mix, n, cfg.t0s, cfg.T, n_times=cfg.n_times, n_datasets=cfg.n_datasets,
                            n_draws=cfg.n_draws, seed=ctx.seed_for("integral", d, n))
        results[(d, n)] = ig
        for k, t0 in enumerate(ig.t0s):
            e = ig.estimate(k)
            rows.append([d, n, float(t0), e.value, e.stderr, e.error, g_integral(d, float(t0), cfg.T),
                         d * np.log(1 / t0)])
        sl = ig.slope()
        g_slope = np.polyfit(-np.log(ig.t0s), [g_integral(d, float(t0), cfg.T) for t0 in ig.t0s], 1)[0]
        ok = abs(sl.value / d - 1) <= cfg.slope_rtol
        slope_rows.append([d, n, sl.value, sl.ci_low, sl.ci_high, sl.value / d, g_slope, ok])
        f.check(f"slope close to d = {d}", ok,
                f"slope {sl.value:.3f} (95% CI {sl.ci_low:.3f} to {sl.ci_high:.3f}), slope / d = {sl.value / d:.3f}; "
                f"required |slope / d - 1| <= {cfg.slope_rtol:g}")
    f.table("Integrated gap int_{t0}^{T} E_D[Loss-Gap_t] dt",
            ["d", "n", "t0", "E_D integral", "se (data sets + noise)", "time-quadrature error",
             "int G_t dt (derived here)", "d log(1/t0)"], rows,
            note=f"T = {cfg.T:g}; Gauss-Legendre in log t with {cfg.n_times} nodes per segment between consecutive "
                 f"t0 values; error = difference with {cfg.n_times // 2} nodes; {cfg.n_datasets} data sets x "
                 f"{cfg.n_draws} draws per node.")
    f.table("Slope of the integrated gap against log(1/t0)",
            ["d", "n", "slope", "CI low", "CI high", "slope / d", "slope of int G_t", "within tolerance"],
            slope_rows, note="Per-data-set least-squares slope, then mean and standard error over data sets.")
    f.tolerance("slope / d", f"1 +- {cfg.slope_rtol:g}",
                "t Loss-Gap_t -> d as t -> 0, so the slope is d up to O(t0 (d/2 + tr Sigma^-1)) / d corrections "
                "(< 3% for t0 <= 1e-2, Sigma = I) and Monte-Carlo noise; 10% leaves room for both")
    path, rel = ctx.figure_path("integrated_gap")
    with figure(path, 1, (6, 4.3)) as ax:
        for i, ((d, n), ig) in enumerate(results.items()):
            x = np.log(1 / ig.t0s)
            es = [ig.estimate(k) for k in range(ig.t0s.size)]
            ax.errorbar(x, [e.value for e in es], yerr=[e.halfwidth for e in es], fmt="o", color=f"C{i}",
                        label=f"d = {d}, n = {n}")
            ax.plot(x, [g_integral(d, float(t0), cfg.T) for t0 in ig.t0s], "--", color=f"C{i}", lw=0.8)
        ax.set(xlabel="log(1/t0)", ylabel="int_{t0}^{T} E_D[Loss-Gap_t] dt",
               title="S4: integrated gap (dashed: int G_t dt, derived here)")
        ax.legend(fontsize=7)
    f.figures.append(rel)
    f.seeds["claim"] = ctx.seed
    headline = "slopes / d = " + ", ".join(f"{r[5]:.3f} (d = {r[0]})" for r in slope_rows)
    method = ("Figure 3's mixture setting (K = 8, mu_k ~ N(0, 4 I), Sigma = I) with n <= e^d. For each d: "
              "theory.gap.integrated_gap integrates E_D[Loss-Gap_t] (Fisher form of Proposition 4.1, per data set) "
              "from each t0 to T by Gauss-Legendre in log t, sharing data sets across t0, and fits the slope "
              "against log(1/t0) per data set.")
    return f.result(headline, method)
