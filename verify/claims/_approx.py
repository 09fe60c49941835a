"""What A3 and A4 share: the fit sweep (presets, width curves, W* table) and one-sided tests on replicate means
with Student-t levels.

A4 reruns A3's fits at the same points (``SWEEP_OWNER``: the same point gives the same file), so A3's presets
(``FIT_CONFIGS``) and ``run_curves`` live here, where both claim modules import them.

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
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from memsep.empirical.approx import ApproxSetting, censored_crossing, crossing, fit_point, run_fit, width_search
from memsep.empirical.sweep import run_sweep

from ..registry import Context
from ..stats import POWER_TARGET

__all__ = [
    "SWEEP_OWNER",
    "A3Config",
    "FIT_CONFIGS",
    "run_curves",
    "wstar_table",
    "t_crit",
    "replicate_mean",
    "welch",
    "pooled_log_variance",
    "t_rule",
    "combine_all",
    "fmt_test",
]


SWEEP_OWNER = "approx"  # A3 and A4 share fits (same point -> same file)


@dataclass(frozen=True)
class A3Config:
    setting: ApproxSetting = field(default_factory=ApproxSetting)
    ns: tuple[int, ...] = (8, 16, 32, 64, 128)
    widths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 512)
    reps: int = 3  # replicates: data set + initialisation
    t: float = 0.05
    eps: float = 0.25  # relative error defining W*
    search: str = "bracket"  # widths fitted per curve: "bracket" (around W*), "stop" or "grid" (all)
    emp_slope_range: tuple[float, float] = (0.5, 1.5)  # "about 1": fail when the slope is significantly outside
    bound_factor: float = 1.3  # true target: every W*(n) <= bound_factor x W*(P_t), the n-free reference
    n_boot: int = 2000
    sens_n: int = 32
    sens_width: int = 64
    sens_times: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
    sens_factor: float = 4.0  # empirical growth (t_max -> t_min) >= sens_factor x the true growth
    tc_ns: tuple[int, ...] = (8, 64)  # time-conditioned networks over tc_range (one network for all t)
    tc_widths: tuple[int, ...] = (32, 256)
    tc_reps: int = 2  # 0: skip (ci: 600 steps are too few for one network to fit every t)
    tc_range: tuple[float, float] = (1e-2, 4.0)
    alpha: float = 0.05  # one-sided level of every rule (false pass and false failure)


FIT_CONFIGS = {
    "ci": A3Config(
        setting=ApproxSetting(steps=600, eval_draws=4096),
        ns=(8, 32),
        widths=(4, 16, 64, 256),
        reps=2,
        eps=0.4,
        n_boot=500,
        emp_slope_range=(0.3, 2.0),
        sens_n=16,
        sens_width=32,
        sens_times=(0.01, 0.1, 1.0),
        tc_reps=0,
    ),
    "quick": A3Config(),
    "full": A3Config(
        setting=ApproxSetting(steps=6000),
        ns=(8, 16, 32, 64, 128, 256, 512),
        widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
        reps=5,
        search="grid",
        sens_times=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
        n_boot=10000,
        tc_ns=(8, 64, 512),
        tc_widths=(32, 256, 2048),
        tc_reps=3,
        tc_range=(1e-3, 8.0),
    ),
}


def run_curves(
    ctx: Context,
    setting: ApproxSetting,
    ns,
    widths,
    reps: int,
    t: float,
    eps: float,
    search: str,
    n_max: int,
    *,
    dup: int = 0,
    targets=("empirical", "true"),
    desc: str = "fits",
    hints: dict | None = None,
) -> dict:
    """{(target, n, rep): [(width, N, rel_error, record), ...]} from resumable sweeps (one file per fit).

    n = None is the population reference (target "true" under P_t). With search "bracket", each
    curve starts from a guess of its W*: ``hints[(target, rep)]`` for the first n, then the same
    replicate's W* at the previous n, extrapolated in log-log from the previous two once there are
    two. A bad guess costs extra fits, never a different W* (see ``width_search``).
    """
    folder = ctx.sweep_dir("fits", owner=SWEEP_OWNER)
    fit_seed = ctx.shared_seed(SWEEP_OWNER)  # the same in A3 and A4, so their fits are shared
    curves = {}
    groups = [(tg, r) for tg in targets for r in range(reps)]
    bar = ctx.progress_bar(range(len(groups) * len(ns)), desc)
    it = iter(bar)
    for tg, r in groups:
        hint = (hints or {}).get((tg, r))
        prev: list[tuple[float, float]] = []  # (n, W*) of this replicate so far
        for n in ns:
            if len(prev) >= 2 and n is not None:  # secant in log-log: extrapolate the last growth rate
                (n1, w1), (n2, w2) = prev[-2:]
                hint = w2 * (w2 / w1) ** (np.log(n / n2) / np.log(n2 / n1))

            def fit(w, n=n, tg=tg, r=r):
                point = fit_point(setting, target=tg, n=n, rep=r, width=w, t=t, seed=fit_seed, n_max=n_max, dup=dup)
                return run_sweep([point], lambda p: run_fit(p, ctx.device), folder)[0]

            done = width_search(lambda w: _flat(fit(w)), widths, eps, search, hint)
            curves[(tg, n, r)] = [(w, rec["N"], rec["rel_error"], rec["record"]) for w, rec in done]
            hint = crossing([w for w, *_ in curves[(tg, n, r)]], [e for _, _, e, _ in curves[(tg, n, r)]], eps)[0]
            if n is not None:
                prev.append((n, hint))
            next(it, None)
    for _ in it:
        pass
    return curves


def _flat(rec: dict) -> dict:
    return {"rel_error": rec["result"]["rel_error"], "N": rec["result"]["complexity"]["N"], "record": rec}


def wstar_table(curves: dict, eps: float) -> dict:
    """{(target, n, rep): (W*, N*, status)}."""
    return censored_crossing({k: [(w, nn, e) for w, nn, e, _ in v] for k, v in curves.items()}, eps)


# ---- decision statistics ----------------------------------------------------------------------------------------


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
    se2 = sa**2 + sb**2
    if se2 == 0:
        return ma - mb, 0.0, da + db
    df = se2**2 / ((sa**4 / da) + (sb**4 / db))
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


def t_rule(
    estimate: float,
    se: float,
    df: float,
    alpha: float,
    *,
    effect: float,
    effect_source: str,
    threshold: float = 0.0,
    fail_at: float | None = None,
    what: str = "",
) -> tuple[str, dict]:
    """(outcome, test record) of the one-sided t rule of the module doc for H1: theta > threshold.

    ``effect``: the value of theta the paper's statement implies (or the smallest effect of interest), > threshold;
    the power is computed there. ``fail_at``: fail when the upper bound is below it (default ``effect``: the
    directional rule; ``threshold``: a threshold rule). An se or df that is not a number (fewer than two
    replicates) gives "inconclusive". The record has the keys of ``directional_rule``'s (``z`` is the t statistic
    (estimate - threshold) / se, ``p`` its one-sided p-value) plus ``df``, ``t_crit``, ``threshold``, ``fail_at``.
    """
    fail_at = effect if fail_at is None else fail_at
    if not effect > threshold or not fail_at >= threshold:
        raise ValueError(
            f"effect, fail_at: need effect > threshold and fail_at >= threshold, got {effect}, {fail_at}, "
            f"threshold {threshold}"
        )
    rec = {
        "rule": "one-sided t",
        "what": what,
        "estimate": float(estimate),
        "se": float(se),
        "df": float(df),
        "threshold": float(threshold),
        "alpha": float(alpha),
        "effect": float(effect),
        "effect_source": effect_source,
        "fail_at": float(fail_at),
    }
    if not (se >= 0 and df > 0):  # nan se or df: fewer than two replicates
        rec.update(
            z=float("nan"),
            p=float("nan"),
            t_crit=float("nan"),
            power=float("nan"),
            mde=float("nan"),
            interval=[float("nan"), float("nan")],
        )
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
    rec.update(
        z=float(z),
        p=float(p),
        t_crit=tc,
        power=power,
        mde=(tc + t_pow) * float(se),
        interval=[float(estimate - tc * se), float(upper)],
    )
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
    return (
        f"{rec['estimate']:.{digits}g}, one-sided {1 - rec['alpha']:.4g} bounds [{lo:.{digits}g}, "
        f"{hi:.{digits}g}], t({df}) = {rec['z']:.3g} against {rec['t_crit']:.3g}"
    )
