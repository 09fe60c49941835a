"""The approximation experiment of claims A3 and A4: how wide must a ReLU network be to fit a score?

Setting (Theorem 5.1, measured instead of bounded):

    P   = (1/K) sum_k N(mu_k, I_d),   mu_k ~ N(0, mean_scale^2 I_d)       (fixed per d by ``mixture_seed``)
    D   = {x_1..x_n} iid P (replicate r: the first n rows of one draw of n_max points, so the data
          sets of one replicate are nested across n and the comparison between n is paired)
    fit = ``regression.fit_score`` of a ReLUMLP(d, W, depth) to
          target "empirical": grad log phat_t of D,  or  target "true": grad log p_t of P,
          under X ~ Phat_t (fresh draws each step), at a fixed t
    rel(W) = E_{Phat_t} ||s - target||^2 / E_{Phat_t} ||target||^2    (16,384 shared evaluation draws)

W*(n) = the smallest width reaching rel <= eps, interpolated linearly in (log W, log rel)
between the last grid width above eps and the first at or below it (``crossing``). A curve that
is already <= eps at the smallest width is left-censored (W* <= w_min), one that never reaches
eps is right-censored (W* > w_max); censored values are reported and enter the fit at the bound.
N*(n) is the same crossing with the nonzero-parameter count N in place of W.

Scaling: slope of mean_r log W*(n, r) against log n by least squares; confidence interval by a
cluster bootstrap over replicates (a resample draws replicate indices with replacement and
keeps each drawn replicate's whole curve across n, preserving the pairing). Percentile CI.

Duplication (A4): a data set of n rows of which m are copies of rows among the first n - m
(chosen uniformly at random by ``dup_seed``) has the empirical law of the n - m distinct
points with multiplicity weights; its fit uses ``EmpiricalScoreTarget(distinct, weights)``,
which equals the empirical score of all n rows (``theory.EmpiricalDistribution.deduplicated``).

Every fit is one sweep point (``empirical.sweep``): a JSON-ready dict that determines it fully,
so reruns skip finished fits and any changed setting is a new point.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from memsep.theory import GaussianMixture, derive_seed

from .mixture_diffusion import make_mixture
from .regression import ADAMW_IMPLS

__all__ = [
    "ApproxSetting",
    "mixture_for",
    "dataset_for",
    "fit_point",
    "run_fit",
    "width_search",
    "crossing",
    "censored_crossing",
    "slope_bootstrap",
    "TARGETS",
]

TARGETS = ("empirical", "true")


@dataclass(frozen=True)
class ApproxSetting:
    """Everything that fixes one fit except (n, replicate, target, width, t)."""

    d: int = 8
    K: int = 4
    mean_scale: float = 2.0  # mu_k ~ N(0, mean_scale^2 I)
    depth: int = 2  # hidden ReLU layers
    steps: int = 2000
    batch: int = 256
    lr: float = 3e-3
    eval_draws: int = 16384
    dtype: str = "float32"
    adamw: str = "fused"  # AdamW's kernel (empirical.regression.ADAMW_IMPLS)

    def validate(self) -> ApproxSetting:
        for name in ("d", "K", "depth", "steps", "batch", "eval_draws"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        if not (self.mean_scale > 0 and math.isfinite(self.mean_scale)):
            raise ValueError(f"mean_scale: must be > 0, got {self.mean_scale}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if self.adamw not in ADAMW_IMPLS:
            raise ValueError(f"adamw: must be one of {', '.join(ADAMW_IMPLS)}, got {self.adamw!r}")
        return self


def mixture_for(setting: ApproxSetting, mixture_seed: int) -> GaussianMixture:
    """P = (1/K) sum_k N(mu_k, I_d), mu_k ~ N(0, mean_scale^2 I_d) drawn from ``mixture_seed``."""
    return make_mixture(setting.d, setting.K, setting.mean_scale, mixture_seed)


def dataset_for(
    mixture: GaussianMixture, n: int, data_seed: int, n_max: int, dup: int = 0, dup_seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """(points (n - dup, d), weights (n - dup,) or None) for a data set of n rows, ``dup`` of them copies.

    The rows are the first n - dup of one draw of n_max points from ``mixture`` (seed ``data_seed``),
    so data sets of one replicate are nested. With dup = m > 0, m extra rows copy rows chosen
    uniformly among those n - m (seed ``dup_seed``); the result is returned in deduplicated form:
    the n - m distinct points with multiplicity weights (count / n).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: must be an int >= 2, got {n!r}")
    if n > n_max:
        raise ValueError(f"n: must be <= n_max = {n_max}, got {n}")
    if isinstance(dup, bool) or not isinstance(dup, (int, np.integer)) or not 0 <= dup <= n - 2:
        raise ValueError(f"dup: must be an int in [0, n - 2] = [0, {n - 2}] (at least 2 distinct points), got {dup!r}")
    draw = mixture.sample(n_max, np.random.default_rng(data_seed))  # (n_max, d)
    distinct = draw[: n - dup]
    if dup == 0:
        return distinct, None
    copies = np.random.default_rng(dup_seed).integers(0, n - dup, size=dup)
    counts = 1 + np.bincount(copies, minlength=n - dup)
    return distinct, counts / n


def fit_point(
    setting: ApproxSetting,
    *,
    target: str,
    n: int | None,
    rep: int,
    width: int,
    t: float | None,
    seed: int,
    n_max: int,
    dup: int = 0,
    t_range: tuple[float, float] | None = None,
    eval_times: tuple[float, ...] = (),
) -> dict:
    """The sweep point (JSON-ready) of one fit; seeds are derived from ``seed`` per (d, rep) and per fit.

    t = None: one time-conditioned network for all t in t_range = (t0, T) (t log-uniform, loss
    and error weighted by sigma_t^2 for BOTH targets: the usual score-matching weight, under
    which E sigma_t^2 ||score||^2 <= d gives every t a comparable share; Theorem 5.1's own scales,
    sigma_t^4 for the empirical target and sigma_t^2 for the true one, would all but ignore the
    empirical target at small t, where its bound eps / sigma_t^4 is loosest); the trained
    network is also evaluated at each fixed time in ``eval_times`` (result "rel_error_at").

    n = None: the population reference (only for target "true"): train and evaluate under P_t
    itself instead of Phat_t, the n -> infinity limit of the true target's problem. The device
    is not part of the point's identity (a result is the same experiment on any device); it is
    passed to ``run_fit`` separately.
    """
    if target not in TARGETS:
        raise ValueError(f"target: must be one of {TARGETS}, got {target!r}")
    if n is None and (target != "true" or dup):
        raise ValueError("n: None (the population law P_t) is only defined for target 'true' without duplicates")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width: must be a positive int, got {width!r}")
    if t is None and (t_range is None or not 0 < t_range[0] < t_range[1]):
        raise ValueError(f"t_range: must be (t0, T) with 0 < t0 < T when t is None, got {t_range!r}")
    nkey = "population" if n is None else n
    tkey = {}
    if t is None:
        tkey = {
            "t_range": [float(t_range[0]), float(t_range[1])],
            "eval_times": [float(v) for v in eval_times],
            "weight_power": 2.0,
        }
        nkey = f"{nkey}-tc"
    return {
        **tkey,
        "setting": asdict(setting),
        "target": target,
        "n": None if n is None else int(n),
        "rep": int(rep),
        "width": int(width),
        "t": None if t is None else float(t),
        "n_max": int(n_max),
        "dup": int(dup),
        "mixture_seed": derive_seed(seed, "mixture", setting.d),
        "data_seed": derive_seed(seed, "data", setting.d, rep),
        "dup_seed": derive_seed(seed, "dup", setting.d, rep, nkey, dup),
        "train_seed": derive_seed(seed, "train", setting.d, rep, nkey, dup, width, target) % (2**62),
    }


def run_fit(point: dict, device: str = "cpu") -> dict:
    """Fit the network of ``point`` (see ``fit_point``); return the JSON-ready FitResult summary."""
    import dataclasses

    import torch  # noqa: F401  (empirical imports torch anyway; explicit for readers)

    from .regression import RegressionConfig, evaluate, fit_score
    from .targets import EmpiricalScoreTarget, MixtureScoreTarget

    setting = ApproxSetting(**point["setting"]).validate()
    mix = mixture_for(setting, point["mixture_seed"])
    if point["n"] is None:  # population reference: P_t itself
        pts = None
        target = sampler = MixtureScoreTarget(mix)
    else:
        pts, weights = dataset_for(mix, point["n"], point["data_seed"], point["n_max"], point["dup"], point["dup_seed"])
        sampler = EmpiricalScoreTarget(pts, weights)
        target = sampler if point["target"] == "empirical" else MixtureScoreTarget(mix)
    t0, T = point.get("t_range") or (1e-3, 8.0)  # used only when t is None (time-conditioned)
    cfg = RegressionConfig(
        width=point["width"],
        depth=setting.depth,
        steps=setting.steps,
        batch=setting.batch,
        lr=setting.lr,
        t=point["t"],
        t0=t0,
        T=T,
        weight_power=point.get("weight_power"),
        seed=point["train_seed"],
        eval_draws=setting.eval_draws,
        dtype=setting.dtype,
        adamw=setting.adamw,
        device=device,
        log_every=max(1, setting.steps // 20),
    )
    r = fit_score(target, sampler, cfg)
    at = {}
    for te in point.get("eval_times") or ():
        ev = evaluate(r.model, target, sampler, dataclasses.replace(cfg, t=float(te)))
        at[repr(float(te))] = ev["rel_error"]
    return {
        "rel_error_at": at,
        "rel_error": r.rel_error,
        "rel_error_se": r.rel_error_se,
        "error": r.error,
        "error_se": r.error_se,
        "target_sq": r.target_sq,
        "init_rel_error": r.init_rel_error,
        "complexity": r.complexity,
        "losses": [list(p) for p in r.losses],
        "train_seconds": r.seconds,
        "device": r.device,
        "distinct": None if pts is None else int(pts.shape[0]),
    }


def width_search(fit, widths, eps: float, mode: str = "grid", hint: float | None = None) -> list:
    """Fit the widths needed for W*; return [(width, fit(width)), ...] in increasing width.

    fit: width -> a record whose ["rel_error"] is the fitted relative error.
    mode "grid": every width in ``widths`` (increasing).
    mode "stop": increasing widths, stopping after the first with rel_error <= eps.
    mode "bracket": start at the largest width <= ``hint`` (a guess of W*, e.g. the same
        replicate's W* at the previous n; the smallest width without one); step up until
        rel_error <= eps, or, if the start is already <= eps, step down until it is > eps.
        The fitted widths always contain the crossing pair of neighbouring grid widths, so
        ``crossing`` on them equals ``crossing`` on the whole grid whenever the error decreases
        with width (as it did in every full-grid curve we ran; the full profile uses "grid").
    """
    widths = [int(w) for w in widths]
    if not widths or any(b <= a for a, b in zip(widths, widths[1:])):
        raise ValueError("widths: must be a non-empty strictly increasing sequence")
    if mode not in ("grid", "stop", "bracket"):
        raise ValueError(f"mode: must be 'grid', 'stop' or 'bracket', got {mode!r}")
    done: dict[int, dict] = {}

    def err(i: int) -> float:
        if widths[i] not in done:
            done[widths[i]] = fit(widths[i])
        return done[widths[i]]["rel_error"]

    if mode == "grid":
        for i in range(len(widths)):
            err(i)
    elif mode == "stop" or hint is None:
        for i in range(len(widths)):
            if err(i) <= eps:
                break
    else:
        below = [i for i, w in enumerate(widths) if w <= hint]
        i = below[-1] if below else 0
        if err(i) <= eps:
            while i > 0 and err(i - 1) <= eps:
                i -= 1
        else:
            while i + 1 < len(widths) and err(i + 1) > eps:
                i += 1
    return sorted(done.items())


def crossing(sizes, errors, eps: float) -> tuple[float, str]:
    """(size*, status): the smallest size with error <= eps, interpolated in (log size, log error).

    sizes: increasing (m,); errors: (m,) positive. status "ok", "left" (errors[0] <= eps: the
    value returned is sizes[0], an upper bound) or "right" (never <= eps: sizes[-1], a lower bound).
    """
    s = np.asarray(sizes, dtype=float)
    e = np.asarray(errors, dtype=float)
    if s.ndim != 1 or s.shape != e.shape or s.size < 1:
        raise ValueError(f"sizes, errors: must be 1-D of one length >= 1, got {s.shape} and {e.shape}")
    if np.any(np.diff(s) <= 0):
        raise ValueError("sizes: must be strictly increasing")
    if not np.all(e > 0) or not np.all(np.isfinite(e)):
        raise ValueError("errors: must be positive and finite")
    if not 0 < eps < 1:
        raise ValueError(f"eps: must be in (0, 1), got {eps}")
    below = np.nonzero(e <= eps)[0]
    if below.size == 0:
        return float(s[-1]), "right"
    j = int(below[0])
    if j == 0:
        return float(s[0]), "left"
    le0, le1 = math.log(e[j - 1]), math.log(e[j])
    frac = (le0 - math.log(eps)) / (le0 - le1)
    return float(math.exp(math.log(s[j - 1]) + frac * (math.log(s[j]) - math.log(s[j - 1])))), "ok"


def censored_crossing(curves: dict, eps: float) -> dict:
    """{key: (W*, N*, status)} for curves {key: [(width, N, rel_error), ...]} (any order)."""
    out = {}
    for key, pts in curves.items():
        pts = sorted(pts)
        w, nn, e = (np.array([p[i] for p in pts], dtype=float) for i in range(3))
        ws, status = crossing(w, e, eps)
        ns, _ = crossing(nn, e, eps)
        out[key] = (ws, ns, status)
    return out


def slope_bootstrap(ns, logw: np.ndarray, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Slope of mean_r logw[:, r] against log n, with a cluster-bootstrap percentile CI over replicates.

    ns: (J,) data-set sizes; logw: (J, R) log W* per n and replicate. Returns {'slope',
    'intercept', 'ci': (lo, hi), 'n_boot', 'level', 'boot_se'}.
    """
    x = np.log(np.asarray(ns, dtype=float))
    logw = np.asarray(logw, dtype=float)
    if logw.ndim != 2 or logw.shape[0] != x.size or x.size < 2:
        raise ValueError(f"logw: must have shape (len(ns) >= 2, R), got {logw.shape} for {x.size} sizes")
    if not 0 < level < 1:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    slope, icpt = np.polyfit(x, logw.mean(axis=1), 1)
    R = logw.shape[1]
    idx = np.random.default_rng(seed).integers(0, R, size=(n_boot, R))  # (B, R)
    means = logw[:, idx].mean(axis=2)  # (J, B)
    xc = x - x.mean()
    boot = (xc @ (means - means.mean(axis=0))) / (xc @ xc)  # (B,)
    a = (1 - level) / 2
    return {
        "slope": float(slope),
        "intercept": float(icpt),
        "ci": (float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))),
        "n_boot": int(n_boot),
        "level": float(level),
        "boot_se": float(boot.std(ddof=1)),
    }
