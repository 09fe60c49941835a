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
