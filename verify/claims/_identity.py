"""Shared machinery of S1 and S2: an identity LHS = RHS between a DSM-loss difference and a
Fisher-type expectation under Phat_t, checked by quadrature (d <= 2) and by paired Monte Carlo.

Quadrature: both sides by adaptive Gauss-Hermite (``theory.quadrature``, asked for relative
1e-11). A case passes when |LHS - RHS| <= rtol * RHS and both error estimates are <= rtol * RHS
(the rules resolve the tolerance); it fails when the sides differ by more than rtol * RHS plus
both error estimates, or LHS < -(its error); otherwise it is inconclusive.

Monte Carlo: both sides from the same draws (same seed -> same points x = alpha_t x_i +
sigma_t z), so the per-draw residual r = lhs_term - rhs_term = 2 (e - s).(A - e) has mean 0
exactly when the identity holds (Tweedie). A case fails when |mean r| > z_crit * se(r) +
ROUND_RTOL * |RHS| (z_crit from ``verify.stats.bonferroni_z``: family-wise false-failure rate);
it shows equivalence when |mean r| + z_crit * se(r) <= MC_TOL * |RHS| (``verify.stats``,
equivalence rules); otherwise it cannot tell.

ROUND_RTOL is the float64 rounding floor. Where the softmax weights sit on one point (small
t, far-apart points) the residual is pure rounding: the computed empirical score carries a
systematic error ~ eps ||x|| / sigma_t^2, so both the residual mean and its standard error
are ~1e-16 to 1e-13 relative to RHS, and a plain z-test would be testing rounding, not
Tweedie. 1e-10 sits well above that and still 9 orders of magnitude below a failure of the
identity (an O(1) relative change). The report lists the cases that pass only because of
the floor (|z| > z_crit) with their largest |mean residual| / RHS, so the headroom is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memsep.theory import Estimate

from ..io import figure
from ..stats import zero_mean_z

ROUND_RTOL = 1e-10
# Monte-Carlo equivalence: a case shows LHS = RHS when |mean residual| + z_crit se <= MC_TOL |RHS|. A failure of
# the identity is an O(1) relative change (a wrong weighting or a missing term); 5% is the smallest relative
# precision the quick profile's 20,000 paired draws resolve in most cases (measured: residual se / RHS 1e-3 to 1e-2
# where the gap is not tiny).
MC_TOL = 0.05

__all__ = [
    "ROUND_RTOL",
    "MC_TOL",
    "QuadCase",
    "MCCase",
    "quad_case",
    "mc_case",
    "identity_figure",
    "quad_rule",
    "mc_rule",
    "nonnegative_rule",
]

# lhs(method, seed, keep_samples) -> Estimate; rhs likewise.
Side = Callable[..., Estimate]


@dataclass
class QuadCase:
    """Both sides of the identity by quadrature: values and the quadrature's own error estimates."""

    label: dict
    lhs: float
    lhs_err: float
    rhs: float
    rhs_err: float
    converged: bool = True

    @property
    def rel_residual(self) -> float:
        return abs(self.lhs - self.rhs) / abs(self.rhs) if self.rhs != 0 else (0.0 if self.lhs == 0 else np.inf)

    @property
    def rel_quad_error(self) -> float:
        return max(self.lhs_err, self.rhs_err) / max(abs(self.rhs), np.finfo(float).tiny)

    def outcome(self, rtol: float) -> str:
        """pass: equal to rtol and the quadrature resolves rtol; fail: the sides differ by more than rtol plus both
        error estimates (or LHS < -its error); inconclusive: the error estimates exceed rtol."""
        if abs(self.lhs - self.rhs) > rtol * abs(self.rhs) + self.lhs_err + self.rhs_err or self.lhs < -self.lhs_err:
            return "fail"
        return "pass" if self.rel_quad_error <= rtol and self.rel_residual <= rtol else "inconclusive"

    def passed(self, rtol: float) -> bool:
        return self.outcome(rtol) == "pass"


@dataclass
class MCCase:
    """Both sides from the same draws, and the paired per-draw residual's mean, standard error and z."""

    label: dict
    lhs: float
    lhs_se: float
    rhs: float
    rhs_se: float
    res_mean: float
    res_se: float
    z: float

    def identity_ok(self, z_crit: float) -> bool:
        """Not significantly non-zero beyond the rounding floor."""
        return abs(self.res_mean) <= z_crit * self.res_se + ROUND_RTOL * abs(self.rhs)

    def equivalent(self, z_crit: float, tol: float = MC_TOL) -> bool:
        """The z_crit interval of the residual lies within +-tol |RHS| (or within the rounding floor)."""
        return abs(self.res_mean) + z_crit * self.res_se <= max(tol * abs(self.rhs), ROUND_RTOL * abs(self.rhs)) or abs(
            self.res_mean
        ) + z_crit * self.res_se <= ROUND_RTOL * abs(self.rhs)

    def outcome(self, z_crit: float, tol: float = MC_TOL) -> str:
        if not self.identity_ok(z_crit):
            return "fail"
        return "pass" if self.equivalent(z_crit, tol) else "inconclusive"

    def passed(self, z_crit: float) -> bool:
        return self.identity_ok(z_crit) and self.lhs + z_crit * self.lhs_se >= 0


def quad_case(label: dict, lhs: Side, rhs: Side, rtol: float) -> QuadCase:
    a, b = lhs(method="quadrature", rtol=rtol), rhs(method="quadrature", rtol=rtol)
    return QuadCase(label, a.value, a.error, b.value, b.error, bool(a.converged and b.converged))


def mc_case(label: dict, lhs: Side, rhs: Side, n_draws: int, seed: int) -> MCCase:
    a = lhs(method="mc", n_draws=n_draws, seed=seed, keep_samples=True)
    b = rhs(method="mc", n_draws=n_draws, seed=seed, keep_samples=True)
    mean, se, z = zero_mean_z(a.samples - b.samples)
    return MCCase(label, a.value, a.stderr, b.value, b.stderr, mean, se, z)


# ---- the decision rules shared by S1 and S2 ---------------------------------------------------------------


def quad_rule(quad: list[QuadCase], rtol: float) -> tuple[str, str]:
    """Every quadrature case: fail if any fails, pass if all pass, else inconclusive (QuadCase.outcome)."""
    outs = [c.outcome(rtol) for c in quad]
    worst = max(quad, key=lambda c: c.rel_residual)
    detail = (
        f"{outs.count('pass')}/{len(quad)} cases equal within relative {rtol:g} with the quadrature resolving "
        f"it, {outs.count('fail')} differ beyond tolerance + error estimates, {outs.count('inconclusive')} "
        f"unresolved; worst relative residual {worst.rel_residual:.2e} at {worst.label}"
    )
    return ("fail" if "fail" in outs else "pass" if all(o == "pass" for o in outs) else "inconclusive"), detail


def mc_rule(mc: list[MCCase], z_crit: float, tol: float = MC_TOL) -> tuple[str, str]:
    """fail if any case's paired residual is significantly non-zero (Bonferroni z_crit, plus the rounding floor);
    pass if, besides, equivalence within tol is shown in at least one case of every dimension d; else
    inconclusive (the draws are too few to resolve tol anywhere in some d)."""
    outs = [c.outcome(z_crit, tol) for c in mc]
    dims = sorted({c.label["d"] for c in mc})
    shown = {d: sum(o == "pass" for c, o in zip(mc, outs) if c.label["d"] == d) for d in dims}
    limited = [c for c in mc if abs(c.z) > z_crit and c.identity_ok(z_crit)]
    bad = [c for c, o in zip(mc, outs) if o == "fail"]
    detail = (
        f"{len(mc) - len(bad)}/{len(mc)} cases not significantly non-zero (|mean residual| <= {z_crit:.2f} se + "
        f"{ROUND_RTOL:g} RHS; {len(limited)} of them only by the rounding floor, where the weights sit on one "
        f"point and e equals the DSM target to float64 rounding); equivalence within {tol:g} RHS shown in "
        + ", ".join(f"{shown[d]} case(s) at d = {d}" for d in dims)
    )
    if bad:
        w = max(bad, key=lambda c: abs(c.z))
        detail += f"; largest violation z = {w.z:.2f} at {w.label}"
    if bad:
        return "fail", detail
    return ("pass" if all(shown[d] > 0 for d in dims) else "inconclusive"), detail


def nonnegative_rule(quad: list[QuadCase], mc: list[MCCase], z_crit: float) -> tuple[bool, str]:
    """LHS >= 0 (it equals an expected squared norm): no quadrature case below minus its error estimate, no
    Monte-Carlo case significantly negative."""
    neg_q = [c for c in quad if c.lhs < -c.lhs_err]
    neg_m = [c for c in mc if c.lhs + z_crit * c.lhs_se < 0]
    parts = []
    if quad:
        parts.append(f"min quadrature LHS {min(c.lhs for c in quad):.3e} ({len(neg_q)} below minus its error)")
    if mc:
        parts.append(f"min Monte-Carlo LHS + {z_crit:.2f} se {min(c.lhs + z_crit * c.lhs_se for c in mc):.3e}")
    return not neg_q and not neg_m, "; ".join(parts)


def identity_figure(
    path,
    quad: list[QuadCase],
    mc: list[MCCase],
    *,
    rtol: float,
    z_crit: float,
    lhs_name: str,
    rhs_name: str,
    title: str,
):
    """Three panels: LHS against RHS; quadrature relative residual by t (exact zeros drawn on a marked floor);
    Monte-Carlo residual against what the rule allows (z_crit se plus the float64 rounding floor), by t."""
    zero = 1e-18  # where an exactly-zero residual is drawn on the log axis
    with figure(path, 3, (16, 4.8)) as ax:
        tiny = 1e-300
        if quad:
            ax[0].scatter(
                [max(c.rhs, tiny) for c in quad],
                [max(c.lhs, tiny) for c in quad],
                s=14,
                label="quadrature (d $\\leq$ 2)",
                color="C0",
            )
        if mc:
            ax[0].errorbar(
                [max(c.rhs, tiny) for c in mc],
                [max(c.lhs, tiny) for c in mc],
                yerr=[1.96 * c.lhs_se for c in mc],
                fmt="x",
                color="C1",
                label="Monte Carlo (95% CI)",
            )
        vals = [c.rhs for c in quad + mc if c.rhs > 0]
        if vals:
            lo, hi = min(vals), max(vals)
            ax[0].plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
        ax[0].set(xscale="log", yscale="log", xlabel=rhs_name, ylabel=lhs_name, title=title)
        ax[0].legend(fontsize=9)
        if quad:
            nz = [c for c in quad if c.rel_residual > 0]
            z0 = [c for c in quad if c.rel_residual <= 0]
            ax[1].scatter(
                [c.label["t"] for c in nz], [c.rel_residual for c in nz], s=12, color="C0", label="|LHS - RHS| / RHS"
            )
            if z0:
                ax[1].scatter(
                    [c.label["t"] for c in z0],
                    [zero] * len(z0),
                    s=16,
                    marker="v",
                    color="C2",
                    label=f"exactly 0 ({len(z0)} cases; drawn at {zero:g})",
                )
            ax[1].axhline(rtol, color="r", ls="--", lw=0.8, label=f"tolerance {rtol:g}")
            ax[1].set(
                xscale="log",
                yscale="log",
                xlabel="t",
                ylabel="relative residual",
                title="quadrature: relative residual (passes below the line)",
            )
            ax[1].legend(fontsize=9, loc="center right")
        if mc:
            allowed = [z_crit * c.res_se + ROUND_RTOL * abs(c.rhs) for c in mc]
            ratio = [abs(c.res_mean) / a if a > 0 else 0.0 for c, a in zip(mc, allowed)]
            ax[2].scatter(
                [c.label["t"] for c in mc],
                [max(r, zero) for r in ratio],
                s=12,
                color="C1",
                label="|mean residual| / allowed",
            )
            ax[2].axhline(
                1.0, color="r", ls="--", lw=0.8, label=f"allowed = {z_crit:.2f} se (Bonferroni) + rounding floor"
            )
            ax[2].set(
                xscale="log",
                yscale="log",
                xlabel="t",
                ylabel="|mean residual| / allowed",
                title="Monte Carlo: paired residual (passes below the line)",
            )
            ax[2].legend(fontsize=9)
