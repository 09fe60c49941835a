"""Denoising score-matching losses of the paper (Section 3, eq. 3.1; claims S1, S2, S4).

For data D = {x_1..x_n} and a score s(x, t):

    l_t(x_i, s) = E_{z ~ N(0, I)} || -z / sigma_t - s(alpha_t x_i + sigma_t z, t) ||^2
    Lhat_t(s)   = (1/n) sum_i l_t(x_i, s)
    Lhat(s)     = integral_{t0}^{T} Lhat_t(s) dt              (unweighted)

(-z/sigma_t is the DSM target -(X_t - alpha_t x_i)/sigma_t^2.) Paired differences use

    ||A - s_a||^2 - ||A - s_b||^2 = (s_b - s_a) . (2A - s_a - s_b),     A = -z/sigma_t,

evaluated per draw/node, so Lhat_t(s_a) - Lhat_t(s_b) never subtracts two large totals.

Methods: ``"quadrature"`` (Gauss-Hermite over z per data point, d <= 2, see
``theory.quadrature``), ``"mc"`` (i.i.d. draws (i, z), i uniform over the data; standard
error and normal interval, see ``theory.estimate``), ``"auto"`` (quadrature when d <= 2 and
n <= 256, else Monte Carlo).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import roots_legendre

from .estimate import Estimate, derive_seed, mean_estimate, two_sided_z
from .forward import alpha, sigma2
from .quadrature import GaussianComponents, expectation
from .validation import as_generator, as_points, as_positive_int, as_probability, as_time

__all__ = [
    "as_seed",
    "noise_draws",
    "dsm_loss",
    "dsm_loss_difference",
    "dsm_loss_integrated",
    "resolve_method",
    "evaluate_score",
]

AUTO_QUADRATURE_MAX_COMPONENTS = 256
MC_CHUNK = 16384  # draws evaluated per call of the score (memory only; results do not depend on it)

Score = Callable[[np.ndarray, float], np.ndarray]


def resolve_method(method: str, d: int, n_components: int) -> str:
    """'auto' -> 'quadrature' if d <= 2 and n_components <= 256, else 'mc'."""
    if method not in ("auto", "quadrature", "mc"):
        raise ValueError(f"method: must be 'auto', 'quadrature' or 'mc', got {method!r}")
    if method == "auto":
        return "quadrature" if d <= 2 and n_components <= AUTO_QUADRATURE_MAX_COMPONENTS else "mc"
    if method == "quadrature" and d > 2:
        raise ValueError(f"method: 'quadrature' supports d <= 2, got d = {d}; use method='mc'")
    return method


def evaluate_score(score: Score, x: np.ndarray, t: float, name: str = "score") -> np.ndarray:
    """Call a score s(x, t) on (m, d) points; check it returns a finite (m, d) array."""
    raw = score(x, t)
    if np.iscomplexobj(raw):
        raise ValueError(f"{name}: must return real values, got a complex array")
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: must return an array of real numbers ({exc})") from None
    if out.shape != x.shape:
        raise ValueError(f"{name}: must return an array of shape {x.shape} for x of that shape, got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{name}: returned NaN or inf at t = {t:g}")
    return out


def as_seed(seed) -> int:
    """A Monte-Carlo seed: a non-negative int."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a non-negative int, got {seed!r}")
    return int(seed)


def noise_draws(n: int, d: int, n_draws: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """i.i.d. (i, z): i ~ Uniform{0..n-1} (n_draws,), z ~ N(0, I_d) (n_draws, d), in that order."""
    rng = as_generator(rng)
    idx = rng.integers(n, size=n_draws)
    z = rng.standard_normal((n_draws, d))
    return idx, z


def _common(data, t, n_draws, level):
    data = as_points(data, "data")
    t = as_time(t)
    n_draws = as_positive_int(n_draws, "n_draws", minimum=2)
    level = as_probability(level, "level")
    return data, t, n_draws, level


def _dsm_terms(
    data: np.ndarray,
    t: float,
    term: Callable,
    *,
    method: str,
    n_draws: int,
    seed: int,
    level: float,
    rtol: float,
    keep_samples: bool,
    atol: float = 0.0,
) -> Estimate:
    """E over (i, z) of term(x, A) with x = alpha_t x_i + sigma_t z, A = -z / sigma_t."""
    a, s = alpha(t), float(np.sqrt(sigma2(t)))
    method = resolve_method(method, data.shape[1], data.shape[0])
    if method == "quadrature":
        comps = GaussianComponents(np.full(data.shape[0], 1.0 / data.shape[0]), a * data, scale=s)
        return expectation(comps, lambda x, z, k: term(x, -z / s), rtol=rtol, atol=atol)
    seed = as_seed(seed)
    idx, z = noise_draws(data.shape[0], data.shape[1], n_draws, seed)
    vals = np.empty(n_draws)
    for c0 in range(0, n_draws, MC_CHUNK):
        sl = slice(c0, c0 + MC_CHUNK)
        vals[sl] = term(a * data[idx[sl]] + s * z[sl], -z[sl] / s)
    return mean_estimate(vals, level=level, seed=seed, keep_samples=keep_samples)


def dsm_loss(
    data,
    score: Score,
    t: float,
    *,
    method: str = "auto",
    n_draws: int = 20000,
    seed: int = 0,
    level: float = 0.95,
    rtol: float = 1e-11,
    keep_samples: bool = False,
) -> Estimate:
    """Lhat_t(s) = (1/n) sum_i E_z ||-z/sigma_t - s(alpha_t x_i + sigma_t z, t)||^2.

    data: (n, d); score: callable (m, d), t -> (m, d); t > 0.
    """
    data, t, n_draws, level = _common(data, t, n_draws, level)

    def term(x, target):
        r = target - evaluate_score(score, x, t)
        return np.einsum("md,md->m", r, r)

    # Quadrature rounding floor: a score equal to the target up to its float64 rounding,
    # |ds| ~ 100 eps (||x|| + 1) / sigma_t^2 per coordinate, leaves ||A - s||^2 ~ d |ds|^2 of noise
    # (the n = 1 empirical score is such a case); the rules cannot resolve below that.
    s2 = sigma2(t)
    atol = data.shape[1] * (100 * np.finfo(float).eps * (np.abs(data).max() + 1.0 + 10 * np.sqrt(s2)) / s2) ** 2
    return _dsm_terms(
        data,
        t,
        term,
        method=method,
        n_draws=n_draws,
        seed=seed,
        level=level,
        rtol=rtol,
        keep_samples=keep_samples,
        atol=atol,
    )


def dsm_loss_difference(
    data,
    score_a: Score,
    score_b: Score,
    t: float,
    *,
    method: str = "auto",
    n_draws: int = 20000,
    seed: int = 0,
    level: float = 0.95,
    rtol: float = 1e-11,
    keep_samples: bool = False,
) -> Estimate:
    """Lhat_t(s_a) - Lhat_t(s_b), paired: E (s_b - s_a).(2A - s_a - s_b), A = -z/sigma_t.

    Common random numbers (Monte Carlo) or common nodes (quadrature) for both scores.
    """
    data, t, n_draws, level = _common(data, t, n_draws, level)

    def term(x, target):
        sa = evaluate_score(score_a, x, t, "score_a")
        sb = evaluate_score(score_b, x, t, "score_b")
        return np.einsum("md,md->m", sb - sa, 2.0 * target - sa - sb)

    return _dsm_terms(
        data, t, term, method=method, n_draws=n_draws, seed=seed, level=level, rtol=rtol, keep_samples=keep_samples
    )


def dsm_loss_integrated(
    data,
    score: Score,
    t0: float,
    T: float,
    *,
    n_times: int = 16,
    method: str = "auto",
    n_draws: int = 20000,
    seed: int = 0,
    level: float = 0.95,
    rtol: float = 1e-11,
) -> Estimate:
    """Lhat(s) = integral_{t0}^{T} Lhat_t(s) dt by Gauss-Legendre in u = log t.

    integral = int_{log t0}^{log T} t Lhat_t(s) du; t Lhat_t is smooth in u (Lhat_t ~ d/t as
    t -> 0). The time-quadrature error is estimated as |I(n_times) - I(n_times // 2)|; the
    Monte-Carlo standard error combines the independent per-node errors,
    se = sqrt(sum_j (w_j t_j se_j)^2) (node j seeded with derive_seed(seed, j, n_times)).
    The interval is value +- (z se + time error + sum of per-node quadrature errors).
    """
    t0 = as_time(t0, "t0")
    T = as_time(T, "T")
    if not T > t0:
        raise ValueError(f"T: must be > t0 = {t0}, got {T}")
    n_times = as_positive_int(n_times, "n_times", minimum=2)
    level = as_probability(level, "level")
    seed = as_seed(seed)

    def rule(m):
        u, w = roots_legendre(m)
        lo, hi = np.log(t0), np.log(T)
        u = 0.5 * (hi - lo) * u + 0.5 * (hi + lo)
        return np.exp(u), 0.5 * (hi - lo) * w

    def integrate(m):
        ts, ws = rule(m)
        ests = [
            dsm_loss(
                data,
                score,
                float(tj),
                method=method,
                n_draws=n_draws,
                seed=derive_seed(seed, j, m),
                level=level,
                rtol=rtol,
            )
            for j, tj in enumerate(ts)
        ]
        c = ws * ts
        value = float(c @ [e.value for e in ests])
        se = float(np.sqrt(np.sum((c * [e.stderr for e in ests]) ** 2)))
        node_err = float(np.abs(c) @ [e.error for e in ests])
        conv = all(e.converged in (None, True) for e in ests)
        return value, se, node_err, sum(e.n_draws for e in ests), ests[0].method, conv

    fine = integrate(n_times)
    coarse = integrate(max(2, n_times // 2))
    value, se, node_err, draws, meth, conv = fine
    err = abs(fine[0] - coarse[0]) + node_err
    half = two_sided_z(level) * se + err
    return Estimate(
        value=value,
        stderr=se,
        ci_low=value - half,
        ci_high=value + half,
        level=level,
        n_draws=draws + coarse[3],
        seed=int(seed) if meth == "mc" else None,
        method=f"{meth}+gauss-legendre(log t)",
        error=err,
        converged=conv and coarse[5],
    )
