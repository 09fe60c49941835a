"""Statistical decision rules used by the checks, each with its false-failure rate.

Monte-Carlo identity checks test H0: E[r] = 0 for a per-draw residual r (paired draws) with
the two-sided z-test |mean r| <= z * se(r). With M such tests in one check and a family
false-failure rate alpha, z = Phi^{-1}(1 - alpha / (2M)) (Bonferroni), so under H0 and the
CLT the check fails with probability at most alpha across all M tests.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["bonferroni_z", "zero_mean_z"]


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
