"""Shared machinery of S3, S4 and S5, the claims about E_D[Loss-Gap_t] (Theorem 4.3, its integral, Figure 1).

Measurements. ``Curve`` keeps the per-data-set Loss-Gap estimates g_b(t_j) of ``theory.gap.loss_gap_curve``
(B data sets x T times, the same data sets at every t) as JSON lists, so the rules can form paired
statistics across t and the two-stage standard error (theory/gap.py):

    E_D[Loss-Gap_t] ~= mean_b g_b(t),   se = std_b g_b(t) / sqrt(B).

Forms the rules compare with (theory.bounds): the paper's bound form B_t = d / sigma_t^2 + tr Sigma
(Theorem 4.3) and, for an isotropic Sigma = v I, the leading-order prediction (derived here, not in the
paper) G_t = d / sigma_t^2 - d / (alpha_t^2 v + sigma_t^2).

Rules (all one-sided z-tests on an estimate theta_hat with standard error se; z_a = Phi^-1(1 - alpha)):

* direction steps (``step_rule``): the paper says theta > 0 (e.g. the gap falls from t_j to t_{j+1});
  ``verify.stats.directional_rule`` with a smallest effect of interest delta: pass if theta_hat / se >= z_a,
  fail if theta_hat + z_a se < delta, else inconclusive. A family of M steps uses alpha = family alpha / M
  (Bonferroni) for each step, and ``combine`` gives fail if any step fails, pass if all pass.
* equivalence with a deterministic error (``interval_equivalence``): the interval theta_hat +- (z se + e), e a
  bound on a numerical (not random) error, against +-tol: pass if it lies inside, fail if it lies outside
  (entirely above tol or below -tol), else inconclusive (two one-sided tests at level alpha each side).
* margins (``margin_rule``): pass if theta_hat - z_a se > pass_above; fail if theta_hat + z_f se < fail_below
  (z_f from the false-failure rate, Bonferroni-adjusted where one of several items may fail); otherwise
  inconclusive. With pass_above = fail_below = m it is a non-inferiority test against the margin m: a wrong
  pass has probability <= alpha when theta <= m, a wrong fail probability <= alpha_f when theta >= m. The
  power is the probability of a pass at a stated theta (``power_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from memsep.theory import GaussianMixture
from memsep.theory.forward import alpha as alpha_t
from memsep.theory.forward import sigma2

from ..stats import POWER_TARGET, directional_rule

__all__ = [
    "Curve",
    "figure3_mixture",
    "b_form",
    "g_iso",
    "paired_log_ratio",
    "log_ratio_independent",
    "step_rule",
    "margin_rule",
    "interval_equivalence",
    "combine",
    "decreasing_steps",
]


def figure3_mixture(seed: int, d: int, K: int = 8, mean_scale: float = 2.0) -> GaussianMixture:
    """The paper's Gaussian-mixture setting: K equal weights, mu_k ~ N(0, mean_scale^2 I_d), Sigma = I."""
    rng = np.random.default_rng(seed)
    return GaussianMixture.isotropic(np.full(K, 1.0 / K), mean_scale * rng.standard_normal((K, d)), 1.0)


@dataclass
class Curve:
    """Per-data-set estimates g[b][j] of Loss-Gap_{t_j} for one (distribution, n); label names it and holds
    at least d and tr_sigma (the trace of the components' shared covariance)."""

    label: dict
    ts: list[float]
    g: list[list[float]] = field(default_factory=list)  # [data set][time]

    @classmethod
    def of(cls, label: dict, gc) -> Curve:
        """From a theory.gap.GapCurve."""
        return cls(dict(label), [float(t) for t in gc.ts], np.asarray(gc.g, dtype=float).tolist())

    def values(self, j: int) -> np.ndarray:
        return np.array([row[j] for row in self.g], dtype=float)

    def mean(self, j: int = 0) -> float:
        return float(self.values(j).mean())

    def se(self, j: int = 0) -> float:
        v = self.values(j)
        return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("inf")

    @property
    def n_datasets(self) -> int:
        return len(self.g)


def b_form(t: float, d: int, tr_sigma: float) -> float:
    """The paper's bound form B_t = d / sigma_t^2 + tr Sigma (theory.bounds.bound_form)."""
    return d / sigma2(float(t)) + float(tr_sigma)


def g_iso(t: float, d: int, v: float) -> float:
    """Leading-order gap G_t for Sigma = v I (derived here, theory.bounds.leading_order_gap):
    d / sigma_t^2 - d / (alpha_t^2 v + sigma_t^2)."""
    s2 = sigma2(float(t))
    return d / s2 - d / (alpha_t(float(t)) ** 2 * v + s2)


def _safe_log(x) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, dtype=float), np.finfo(float).tiny))


def paired_log_ratio(num, den) -> tuple[float, float]:
    """(mean, se) over data sets of log num_b - log den_b (the same data sets on both sides)."""
    r = _safe_log(num) - _safe_log(den)
    return float(r.mean()), (float(r.std(ddof=1) / np.sqrt(r.size)) if r.size > 1 else float("inf"))


def log_ratio_independent(m1: float, se1: float, m0: float, se0: float) -> tuple[float, float]:
    """(log m1 - log m0, its delta-method se) for independent estimates m1 +- se1 and m0 +- se0."""
    if m1 <= 0 or m0 <= 0:
        return float("-inf") if m1 <= 0 < m0 else float("nan"), float("inf")
    return float(np.log(m1 / m0)), float(np.hypot(se1 / m1, se0 / m0))


def step_rule(estimate: float, se: float, effect: float, alpha: float, *, effect_source: str, what: str):
    """``verify.stats.directional_rule`` for one direction step (theta > 0 with smallest effect of interest
    ``effect``); a non-finite se (one data set) is inconclusive."""
    if not np.isfinite(se) or not np.isfinite(estimate):
        return "inconclusive", {
            "rule": "one-sided z",
            "what": what,
            "estimate": float(estimate),
            "se": float(se),
            "effect": float(effect),
            "effect_source": effect_source,
            "alpha": float(alpha),
        }
    return directional_rule(estimate, se, effect, alpha, effect_source=effect_source, what=what)


def margin_rule(
    estimate: float,
    se: float,
    alpha: float,
    *,
    pass_above: float,
    fail_below: float,
    power_at: float,
    effect_source: str,
    what: str = "",
    fail_alpha: float | None = None,
) -> tuple[str, dict]:
    """(outcome, test record) of the margin rule (module doc): fail if estimate + z_f se < fail_below (z_f at
    ``fail_alpha``, default ``alpha``), else pass if estimate - z_a se > pass_above, else inconclusive; power =
    P(pass) at theta = ``power_at``."""
    fa = alpha if fail_alpha is None else fail_alpha
    if not (0 < alpha < 0.5 and 0 < fa < 0.5) or not se >= 0:
        raise ValueError(
            f"alpha, fail_alpha, se: need 0 < alpha, fail_alpha < 0.5 and se >= 0; got {alpha}, {fa}, {se}"
        )
    z_a, z_f = float(stats.norm.isf(alpha)), float(stats.norm.isf(fa))
    z_p = float(stats.norm.ppf(POWER_TARGET))
    finite = bool(np.isfinite(se) and np.isfinite(estimate))
    lower = estimate - z_a * se if finite else float("-inf")
    upper = estimate + z_f * se if finite else float("inf")
    if upper < fail_below:
        outcome = "fail"
    elif lower > pass_above:
        outcome = "pass"
    else:
        outcome = "inconclusive"
    if se > 0 and finite:
        z = (estimate - pass_above) / se
        power = float(stats.norm.cdf((power_at - pass_above) / se - z_a))
    else:
        z = float("inf") if estimate > pass_above else float("-inf") if estimate < pass_above else 0.0
        power = 1.0 if (power_at > pass_above and se == 0) else 0.0
    test = {
        "rule": "one-sided z with margins",
        "what": what,
        "estimate": float(estimate),
        "se": float(se),
        "z": float(z),
        "p": float(stats.norm.sf(z)),
        "alpha": float(alpha),
        "fail_alpha": float(fa),
        "pass_above": float(pass_above),
        "fail_below": float(fail_below),
        "effect": float(power_at),
        "effect_source": effect_source,
        "power": power,
        "mde": (z_a + z_p) * float(se),
        "interval": [float(lower), float(upper)],
    }
    return outcome, test


def interval_equivalence(
    estimate: float, se: float, tol: float, z: float, *, error: float = 0.0, what: str = ""
) -> tuple[str, dict]:
    """(outcome, test record) of the equivalence of theta to 0 within +-tol (module doc); power = P(pass) at
    theta = 0 (normal approximation)."""
    if not (tol > 0 and z > 0 and error >= 0):
        raise ValueError(f"tol, z, error: need tol > 0, z > 0, error >= 0; got {tol}, {z}, {error}")
    finite = bool(np.isfinite(se) and np.isfinite(estimate))
    half = z * se + error if finite else float("inf")
    lo, hi = (estimate - half, estimate + half) if finite else (float("-inf"), float("inf"))
    if lo > tol or hi < -tol:
        outcome = "fail"
    elif -tol <= lo and hi <= tol:
        outcome = "pass"
    else:
        outcome = "inconclusive"
    room = (tol - error) / se - z if finite and se > 0 else (float("inf") if tol > error else float("-inf"))
    power = float(max(2 * stats.norm.cdf(room) - 1, 0.0)) if np.isfinite(room) else (1.0 if room > 0 else 0.0)
    test = {
        "rule": "equivalence interval",
        "what": what,
        "estimate": float(estimate),
        "se": float(se),
        "z": float(z),
        "numerical_error": float(error),
        "tolerance": float(tol),
        "interval": [float(lo), float(hi)],
        "power": power,
        "mde": float((z + stats.norm.ppf(POWER_TARGET)) * se) if finite else float("inf"),
    }
    return outcome, test


def combine(items: list[tuple[str, str, dict]], rank=None) -> tuple[str, dict | None, list, list]:
    """Items (label, outcome, test) of one rule: fail if any fails, pass if all pass, else inconclusive.

    Returns (outcome, the test record shown for the rule, failing labels, inconclusive labels). The record
    shown is the worst item's (the failing one with the lowest interval, else the least significant one),
    with 'items' (how many) and 'min_power' (the weakest item's power) added. ``rank(test)`` orders the items
    (smallest: worst; default the test's z statistic)."""
    if not items:
        return "inconclusive", None, [], []
    outs = [o for _, o, _ in items]
    fails = [lab for lab, o, _ in items if o == "fail"]
    incs = [lab for lab, o, _ in items if o == "inconclusive"]
    outcome = "fail" if fails else ("pass" if all(o == "pass" for o in outs) else "inconclusive")
    pool = [it for it in items if it[1] == "fail"] or items

    def z_of(it):
        z = it[2].get("z") if rank is None else rank(it[2])
        return float("inf") if z is None or np.isnan(z) else z

    worst = min(pool, key=z_of)
    test = dict(worst[2])
    test["item"] = worst[0]
    test["items"] = len(items)
    powers = [it[2]["power"] for it in items if "power" in it[2]]
    if powers:
        test["min_power"] = float(min(powers))
    return outcome, test, fails, incs


def decreasing_steps(curve: Curve, alpha: float, *, fraction: float = 0.5, prefix: str = "") -> list:
    """Direction steps "the gap falls from t_j to t_{j+1}" of one curve: items (label, outcome, test).

    theta_j = E_b[log g_b(t_j) - log g_b(t_{j+1})] (paired per data set; log-ratios because a data set's gap
    varies over orders of magnitude between data sets at large t while its ratio across t does not), its
    standard error over data sets, and the smallest effect of interest delta_j = ``fraction`` x
    log(B_{t_j} / B_{t_{j+1}}), a fraction of the fall of the paper's bound form over the step."""
    d, tr = curve.label["d"], curve.label["tr_sigma"]
    out = []
    for j in range(len(curve.ts) - 1):
        t1, t2 = curve.ts[j], curve.ts[j + 1]
        est, se = paired_log_ratio(curve.values(j), curve.values(j + 1))
        delta = fraction * float(np.log(b_form(t1, d, tr) / b_form(t2, d, tr)))
        lab = f"{prefix}t = {t1:g} -> {t2:g}"
        o, test = step_rule(
            est,
            se,
            delta,
            alpha,
            what=f"E_D log gap(t = {t1:g}) - log gap(t = {t2:g}), {prefix}",
            effect_source=f"{fraction:g} x log(B_t1 / B_t2), the paper's bound form",
        )
        out.append((lab, o, test))
    return out
