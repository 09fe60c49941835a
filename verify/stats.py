"""Statistical decision rules used by the checks, each with its false-failure rate and power.

Directional rules (``directional_rule``): the paper says a quantity theta (a difference, a slope, a
rate) is positive, and where it gives a number, how large (the effect delta > 0, with its source).
With an estimate theta_hat and its standard error se, at one-sided level alpha (z_a = Phi^-1(1 - alpha)):

    pass           theta_hat / se >= z_a                      (significant in the paper's direction)
    fail           theta_hat + z_a se < delta                 (the one-sided 1 - alpha upper bound excludes the
                                                               paper's effect; this includes a significant
                                                               effect the other way)
    inconclusive   otherwise                                  (not significant, and the data cannot exclude delta)

    power at delta = Phi(delta / se - z_a);   minimum detectable effect (power 0.8) = (z_a + z_0.8) se.

"pass" wrongly happens with probability <= alpha when theta <= 0; "fail" wrongly happens with
probability <= alpha when theta >= delta. A non-significant result is INCONCLUSIVE unless the
interval excludes the paper's effect; the power says how likely a pass was had the paper's effect
been true (below 0.8 the experiment is too small to expect a decision).

Equivalence rules (``equivalence_rule``) for identities (S1, S2, A1): the claim is theta = 0. With a
tolerance tol (what counts as equal) and a floor (float64 rounding):

    fail           |theta_hat| > z se + floor                 (significantly non-zero beyond rounding)
    pass           |theta_hat| + z se <= tol                  (the interval lies inside +-tol: two one-sided tests)
    inconclusive   otherwise                                  (too noisy to tell)

Monte-Carlo identity checks test H0: E[r] = 0 for a per-draw residual r (paired draws) with
the two-sided z-test |mean r| <= z * se(r). With M such tests in one check and a family
false-failure rate alpha, z = Phi^{-1}(1 - alpha / (2M)) (Bonferroni), so under H0 and the
CLT the check fails with probability at most alpha across all M tests.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "bonferroni_z",
    "zero_mean_z",
    "loglog_slope",
    "diff_z",
    "directional_rule",
    "equivalence_rule",
    "two_proportions",
    "paired_proportions",
    "POWER_TARGET",
]

POWER_TARGET = 0.8


def bonferroni_z(alpha: float, m: int) -> float:
    """Critical |z| for m two-sided tests with family-wise false-failure rate alpha."""
    if not (0 < alpha < 1) or m < 1:
        raise ValueError(f"alpha, m: need 0 < alpha < 1 and m >= 1, got {alpha}, {m}")
    return float(stats.norm.isf(alpha / (2 * m)))


def zero_mean_z(residual: np.ndarray) -> tuple[float, float, float]:
    """(mean, standard error, z = mean / se) of per-draw residuals (N,)."""
    r = np.asarray(residual, dtype=np.float64)
    mean = float(r.mean())
    se = float(r.std(ddof=1) / np.sqrt(r.size))
    return mean, se, (mean / se if se > 0 else (0.0 if mean == 0 else np.inf))


def loglog_slope(x, means, ses) -> tuple[float, float]:
    """Least-squares slope of log(means) against log(x), with its standard error.

    The points are independent estimates; var(log m_i) ~= (se_i / m_i)^2 (delta method), so
    var(slope) = sum_i c_i^2 var(log m_i) with c_i = (u_i - mean u) / sum_j (u_j - mean u)^2, u = log x.
    """
    u = np.log(np.asarray(x, dtype=np.float64))
    m = np.asarray(means, dtype=np.float64)
    s = np.asarray(ses, dtype=np.float64)
    if np.any(m <= 0):
        raise ValueError(f"means: must be > 0 for a log-log slope, got min {m.min():.3g}")
    uc = u - u.mean()
    c = uc / (uc @ uc)
    slope = float(c @ np.log(m))
    se = float(np.sqrt(np.sum((c * s / m) ** 2)))
    return slope, se


def diff_z(a_mean: float, a_se: float, b_mean: float, b_se: float) -> float:
    """z of a - b for independent estimates."""
    se = float(np.hypot(a_se, b_se))
    return (a_mean - b_mean) / se if se > 0 else float(np.sign(a_mean - b_mean) * np.inf)


def directional_rule(
    estimate: float, se: float, effect: float, alpha: float, *, effect_source: str, what: str = ""
) -> tuple[str, dict]:
    """(outcome, test record) of the directional rule (module doc) for H1: theta > 0 with the paper's effect
    ``effect`` > 0 (``effect_source`` says where the number comes from)."""
    if not (0 < alpha < 0.5) or not effect > 0 or not (se >= 0):
        raise ValueError(f"alpha, effect, se: need 0 < alpha < 0.5, effect > 0, se >= 0; got {alpha}, {effect}, {se}")
    z_a = float(stats.norm.isf(alpha))
    z_p = float(stats.norm.ppf(POWER_TARGET))
    if se == 0:
        z = np.inf if estimate > 0 else (-np.inf if estimate < 0 else 0.0)
        power = 1.0
    else:
        z = estimate / se
        power = float(stats.norm.cdf(effect / se - z_a))
    upper = estimate + z_a * se
    if z >= z_a:
        outcome = "pass"
    elif upper < effect:
        outcome = "fail"
    else:
        outcome = "inconclusive"
    test = {
        "rule": "one-sided z",
        "what": what,
        "estimate": float(estimate),
        "se": float(se),
        "z": float(z),
        "p": float(stats.norm.sf(z)),
        "alpha": float(alpha),
        "effect": float(effect),
        "effect_source": effect_source,
        "power": power,
        "mde": (z_a + z_p) * float(se),
        "interval": [float(estimate - z_a * se), float(upper)],
    }
    return outcome, test


def equivalence_rule(
    estimate: float, se: float, tol: float, z: float, *, floor: float = 0.0, what: str = ""
) -> tuple[str, dict]:
    """(outcome, test record) of the equivalence rule (module doc) for H: theta = 0 with tolerance ``tol``."""
    if not (tol > 0 and z > 0 and se >= 0 and floor >= 0):
        raise ValueError(f"tol, z, se, floor: need tol > 0, z > 0, se >= 0, floor >= 0; got {tol}, {z}, {se}, {floor}")
    a = abs(estimate)
    if a > z * se + floor:
        outcome = "fail"
    elif a + z * se <= tol:
        outcome = "pass"
    else:
        outcome = "inconclusive"
    test = {
        "rule": "equivalence",
        "what": what,
        "estimate": float(estimate),
        "se": float(se),
        "z": float(z),
        "tolerance": float(tol),
        "floor": float(floor),
        "interval": [float(estimate - z * se), float(estimate + z * se)],
    }
    return outcome, test


def two_proportions(k1: int, m1: int, k2: int, m2: int) -> tuple[float, float]:
    """(p1 - p2, its unpooled standard error) for independent binomial counts k1 / m1 and k2 / m2."""
    if min(m1, m2) < 1 or not (0 <= k1 <= m1 and 0 <= k2 <= m2):
        raise ValueError(f"k, m: need 0 <= k <= m and m >= 1, got {k1}/{m1}, {k2}/{m2}")
    p1, p2 = k1 / m1, k2 / m2
    return p1 - p2, float(np.sqrt(p1 * (1 - p1) / m1 + p2 * (1 - p2) / m2))


def paired_proportions(b: int, c: int, n: int) -> tuple[float, float]:
    """(p_a - p_b, its standard error) for n pairs with b pairs where only a holds and c where only b does
    (the difference behind McNemar's test): (b - c) / n, sqrt((b + c) / n - ((b - c) / n)^2) / sqrt(n)."""
    if n < 1 or b < 0 or c < 0 or b + c > n:
        raise ValueError(f"b, c, n: need b, c >= 0 and b + c <= n >= 1, got {b}, {c}, {n}")
    d = (b - c) / n
    return d, float(np.sqrt(max((b + c) / n - d * d, 0.0) / n))
