"""Shared machinery of S1 and S2: an identity LHS = RHS between a DSM-loss difference and a
Fisher-type expectation under Phat_t, checked by quadrature (d <= 2) and by paired Monte Carlo.

Quadrature: both sides by adaptive Gauss-Hermite (``theory.quadrature``, asked for relative
1e-11); the case passes when |LHS - RHS| <= rtol * RHS, both error estimates are <= rtol * RHS
(the rules resolve the tolerance), and LHS >= -(its quadrature error).

Monte Carlo: both sides from the same draws (same seed -> same points x = alpha_t x_i +
sigma_t z), so the per-draw residual r = lhs_term - rhs_term = 2 (e - s).(A - e) has mean 0
exactly when the identity holds (Tweedie); the case passes when |mean r| <= z_crit * se(r)
+ ROUND_RTOL * |RHS| (z_crit from ``verify.stats.bonferroni_z``) and LHS is not
significantly negative (LHS + z_crit * se >= 0).

ROUND_RTOL is the float64 rounding floor. Where the softmax weights sit on one point (small
t, far-apart points) the residual is pure rounding: the computed empirical score carries a
systematic error ~ eps ||x|| / sigma_t^2, so both the residual mean and its standard error
are ~1e-16 to 1e-13 relative to RHS, and a plain z-test would be testing rounding, not
Tweedie. 1e-10 sits well above that and still 9 orders of magnitude below a failure of the
identity (an O(1) relative change). The report lists the cases that pass only because of
the floor (|z| > z_crit) with their largest |mean residual| / RHS, so the headroom is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from theory import Estimate

from ..io import figure
from ..stats import zero_mean_z

ROUND_RTOL = 1e-10

__all__ = ["ROUND_RTOL", "QuadCase", "MCCase", "quad_case", "mc_case", "identity_figure"]

# lhs(method, seed, keep_samples) -> Estimate; rhs likewise.
Side = Callable[..., Estimate]


@dataclass
class QuadCase:
    label: dict
    lhs: Estimate
    rhs: Estimate

    @property
    def rel_residual(self) -> float:
        return abs(self.lhs.value - self.rhs.value) / abs(self.rhs.value) if self.rhs.value != 0 else (
            0.0 if self.lhs.value == 0 else np.inf)

    @property
    def rel_quad_error(self) -> float:
        return max(self.lhs.error, self.rhs.error) / max(abs(self.rhs.value), np.finfo(float).tiny)

    @property
    def converged(self) -> bool:
        return bool(self.lhs.converged and self.rhs.converged)

    def passed(self, rtol: float) -> bool:
        return self.rel_quad_error <= rtol and self.rel_residual <= rtol and self.lhs.value >= -self.lhs.error


@dataclass
class MCCase:
    label: dict
    lhs: Estimate
    rhs: Estimate
    res_mean: float
    res_se: float
    z: float

    def identity_ok(self, z_crit: float) -> bool:
        return abs(self.res_mean) <= z_crit * self.res_se + ROUND_RTOL * abs(self.rhs.value)

    def passed(self, z_crit: float) -> bool:
        return self.identity_ok(z_crit) and self.lhs.value + z_crit * self.lhs.stderr >= 0


def quad_case(label: dict, lhs: Side, rhs: Side, rtol: float) -> QuadCase:
    return QuadCase(label, lhs(method="quadrature", rtol=rtol), rhs(method="quadrature", rtol=rtol))


def mc_case(label: dict, lhs: Side, rhs: Side, n_draws: int, seed: int) -> MCCase:
    a = lhs(method="mc", n_draws=n_draws, seed=seed, keep_samples=True)
    b = rhs(method="mc", n_draws=n_draws, seed=seed, keep_samples=True)
    mean, se, z = zero_mean_z(a.samples - b.samples)
    return MCCase(label, a, b, mean, se, z)


def mc_detail(mc: list[MCCase], z_crit: float) -> str:
    """One line for the report: how many cases pass, split into statistical and rounding-limited ones."""
    limited = [c for c in mc if abs(c.z) > z_crit and c.identity_ok(z_crit)]
    stat = [c for c in mc if abs(c.z) <= z_crit]
    text = (f"{sum(c.identity_ok(z_crit) for c in mc)}/{len(mc)} cases with |mean residual| <= {z_crit:.2f} se + "
            f"{ROUND_RTOL:g} RHS. {len(limited)} pass only by the rounding floor (|z| > {z_crit:.2f} but |mean "
            f"residual| <= {ROUND_RTOL:g} RHS: the weights sit on one point and the empirical score equals the DSM "
            f"target to float64 rounding; largest |mean residual| / RHS among them "
            f"{max((abs(c.res_mean / c.rhs.value) for c in limited), default=0):.1e})")
    if stat:
        w = max(stat, key=lambda c: abs(c.z))
        text += f"; {len(stat)} pass the z-test itself (max |z| {abs(w.z):.2f} at {w.label})"
    return text


def identity_figure(path, quad: list[QuadCase], mc: list[MCCase], *, rtol: float, z_crit: float, lhs_name: str,
                    rhs_name: str, title: str):
    """Three panels: LHS against RHS; quadrature relative residual by t; Monte-Carlo |z| by t."""
    with figure(path, 3, (15, 4.3)) as ax:
        tiny = 1e-300
        if quad:
            ax[0].scatter([max(c.rhs.value, tiny) for c in quad], [max(c.lhs.value, tiny) for c in quad], s=14,
                          label="quadrature (d <= 2)", color="C0")
        if mc:
            ax[0].errorbar([max(c.rhs.value, tiny) for c in mc], [max(c.lhs.value, tiny) for c in mc],
                           yerr=[1.96 * c.lhs.stderr for c in mc], fmt="x", color="C1", label="Monte Carlo (95% CI)")
        vals = [c.rhs.value for c in quad + mc if c.rhs.value > 0]
        if vals:
            lo, hi = min(vals), max(vals)
            ax[0].plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
        ax[0].set(xscale="log", yscale="log", xlabel=rhs_name, ylabel=lhs_name, title=title)
        ax[0].legend(fontsize=8)
        if quad:
            ax[1].scatter([c.label["t"] for c in quad], [max(c.rel_residual, 1e-18) for c in quad], s=12, color="C0")
            ax[1].axhline(rtol, color="r", ls="--", lw=0.8, label=f"tolerance {rtol:g}")
            ax[1].set(xscale="log", yscale="log", xlabel="t", ylabel="|LHS - RHS| / RHS",
                      title="quadrature: relative residual")
            ax[1].legend(fontsize=8)
        if mc:
            floor = [c for c in mc if abs(c.z) > z_crit and c.identity_ok(z_crit)]
            rest = [c for c in mc if c not in floor]
            ax[2].scatter([c.label["t"] for c in rest], [abs(c.z) for c in rest], s=12, color="C1", label="z-test")
            ax[2].scatter([c.label["t"] for c in floor], [abs(c.z) for c in floor], s=12, color="0.6",
                          label="within the float64 rounding floor")
            ax[2].axhline(z_crit, color="r", ls="--", lw=0.8, label=f"Bonferroni |z| = {z_crit:.2f}")
            ax[2].set(xscale="log", yscale="log", xlabel="t", ylabel="|mean residual| / se",
                      title="Monte Carlo: paired residual")
            ax[2].legend(fontsize=8)
