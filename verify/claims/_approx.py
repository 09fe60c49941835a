"""Decision statistics shared by A3 and A4: one-sided tests on replicate means with Student-t levels.

The approximation experiment (empirical.approx) repeats every fit over R replicates (an
independent data set and initialisation each): 3 in the quick profile, 2 in ci. Every rule of
A3 and A4 compares a quantity theta, averaged over replicates, with a threshold. With R
replicate values theta_r (or a pooled variance with df degrees of freedom) the test is

    se = sd(theta_r) / sqrt(R),   df = R - 1,   t_a = the 1 - alpha quantile of Student's t(df)

    pass           (theta_hat - threshold) / se >= t_a          (significant on the claim's side)
    fail           theta_hat + t_a se < fail_at                  (the one-sided 1 - alpha upper bound excludes
                                                                  every value >= fail_at: fail_at = the paper's
                                                                  effect or smallest effect of interest for a
                                                                  directional rule, the threshold itself for a
                                                                  threshold rule)
    inconclusive   otherwise

    power at the effect: P(T'(df, ncp = (effect - threshold) / se) >= t_a) (noncentral t);
    minimum detectable effect (power 0.8) ~= (t_a + t_0.8(df)) se.

Under normal replicate errors the false-pass rate is <= alpha when theta <= threshold and the
false-failure rate <= alpha when theta >= fail_at, exactly (Student), for any R >= 2. With
df = inf this is ``verify.stats.directional_rule`` (a test checks it).

Why not the cluster bootstrap's percentile interval that the tables show: with R = 3 replicates a
resample is one of 10 multisets, and the bootstrap spread is sd(theta_r) sqrt((R - 1) / R) / sqrt(R)
while the normal quantile replaces t(R - 1). A nominal one-sided 5% test then errs about 16% of
the time at R = 3; a nominal 95% interval from R = 2 replicates covers about 50%. The bootstrap
CIs stay in the tables as a description; the decisions use the t levels above.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..stats import POWER_TARGET

__all__ = ["t_crit", "replicate_mean", "welch", "pooled_log_variance", "t_rule", "combine_all", "fmt_test"]


def t_crit(alpha: float, df: float) -> float:
    """1 - alpha quantile of Student's t(df) (the normal's for df = inf)."""
    if not (0 < alpha < 0.5) or not df > 0:
        raise ValueError(f"alpha, df: need 0 < alpha < 0.5 and df > 0, got {alpha}, {df}")
    return float(stats.norm.isf(alpha) if math.isinf(df) else stats.t.isf(alpha, df))


def replicate_mean(values) -> tuple[float, float, float]:
    """(mean, standard error sd / sqrt(R), df = R - 1) of replicate values; se and df are nan for R < 2."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 1 or not np.all(np.isfinite(v)):
        raise ValueError(f"values: must be a non-empty 1-D array of finite numbers, got shape {v.shape}")
    if v.size < 2:
        return float(v.mean()), float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)), float(v.size - 1)


def welch(a, b) -> tuple[float, float, float]:
    """(mean a - mean b, its standard error, Welch-Satterthwaite df) for independent replicate samples;
    se and df are nan when either sample has fewer than two values."""
    ma, sa, da = replicate_mean(a)
    mb, sb, db = replicate_mean(b)
    if not (sa >= 0 and sb >= 0):
        return ma - mb, float("nan"), float("nan")
    se2 = sa ** 2 + sb ** 2
    if se2 == 0:
        return ma - mb, 0.0, da + db
    df = se2 ** 2 / ((sa ** 4 / da) + (sb ** 4 / db))
    return ma - mb, math.sqrt(se2), float(df)


def pooled_log_variance(cells) -> tuple[float, float]:
    """(pooled variance of log values, df) over cells, each a list of replicate values (>= 2 used):
    sum_c sum_r (log x_cr - mean_c)^2 / sum_c (R_c - 1). (nan, 0) when no cell has two values."""
    ss, df = 0.0, 0
    for c in cells:
        lv = np.log(np.asarray(c, dtype=np.float64))
        if lv.size >= 2:
            ss += float(((lv - lv.mean()) ** 2).sum())
            df += lv.size - 1
    return (ss / df if df else float("nan")), float(df)


def t_rule(estimate: float, se: float, df: float, alpha: float, *, effect: float, effect_source: str,
           threshold: float = 0.0, fail_at: float | None = None, what: str = "") -> tuple[str, dict]:
    """(outcome, test record) of the one-sided t rule of the module doc for H1: theta > threshold.

    ``effect``: the value of theta the paper's statement implies (or the smallest effect of interest), > threshold;
    the power is computed there. ``fail_at``: fail when the upper bound is below it (default ``effect``: the
    directional rule; ``threshold``: a threshold rule). An se or df that is not a number (fewer than two
    replicates) gives "inconclusive". The record has the keys of ``directional_rule``'s (``z`` is the t statistic
    (estimate - threshold) / se, ``p`` its one-sided p-value) plus ``df``, ``t_crit``, ``threshold``, ``fail_at``.
    """
    fail_at = effect if fail_at is None else fail_at
    if not effect > threshold or not fail_at >= threshold:
        raise ValueError(f"effect, fail_at: need effect > threshold and fail_at >= threshold, got {effect}, {fail_at}, "
                         f"threshold {threshold}")
    rec = {"rule": "one-sided t", "what": what, "estimate": float(estimate), "se": float(se), "df": float(df),
           "threshold": float(threshold), "alpha": float(alpha), "effect": float(effect),
           "effect_source": effect_source, "fail_at": float(fail_at)}
    if not (se >= 0 and df > 0):               # nan se or df: fewer than two replicates
        rec.update(z=float("nan"), p=float("nan"), t_crit=float("nan"), power=float("nan"), mde=float("nan"),
                   interval=[float("nan"), float("nan")])
        return "inconclusive", rec
    tc = t_crit(alpha, df)
    diff = estimate - threshold
    if se == 0:
        z = math.inf if diff > 0 else (-math.inf if diff < 0 else 0.0)
        p, power = (0.0 if diff > 0 else 1.0), 1.0
    else:
        z = diff / se
        dist = stats.norm if math.isinf(df) else stats.t(df)
        p = float(dist.sf(z))
        ncp = (effect - threshold) / se
        power = float(stats.norm.sf(tc - ncp) if math.isinf(df) else stats.nct.sf(tc, df, ncp))
    upper = estimate + tc * se
    if z >= tc:
        outcome = "pass"
    elif upper < fail_at:
        outcome = "fail"
    else:
        outcome = "inconclusive"
    t_pow = float(stats.norm.ppf(POWER_TARGET) if math.isinf(df) else stats.t.ppf(POWER_TARGET, df))
    rec.update(z=float(z), p=float(p), t_crit=tc, power=power, mde=(tc + t_pow) * float(se),
               interval=[float(estimate - tc * se), float(upper)])
    return outcome, rec


def combine_all(outcomes: list[str]) -> str:
    """Intersection of sub-tests that must all pass: fail if any fails, pass if all pass, else inconclusive."""
    if "fail" in outcomes:
        return "fail"
    return "pass" if outcomes and all(o == "pass" for o in outcomes) else "inconclusive"


def fmt_test(rec: dict, digits: int = 3) -> str:
    """'estimate, one-sided 95% bounds [lo, hi], t(df) = z against t_crit' for a detail string."""
    lo, hi = rec["interval"]
    df = "inf" if math.isinf(rec["df"]) else (f"{rec['df']:.3g}" if rec["df"] == rec["df"] else "-")
    return (f"{rec['estimate']:.{digits}g}, one-sided {1 - rec['alpha']:.4g} bounds [{lo:.{digits}g}, "
            f"{hi:.{digits}g}], t({df}) = {rec['z']:.3g} against {rec['t_crit']:.3g}")
