"""Hypothesis strategies for valid inputs of the paper's objects (importable by tests and fuzzers).

Examples are drawn as small parameters plus a seed, and arrays are built from the seed with
``verify.generators``; so shrinking reduces K, d, n and the seed, not array entries.

    mixtures(d=..., K=...)        GaussianMixture: weights sum to one, ||mu|| bounded,
                                  SPD covariances with condition number <= cond_max
    datasets(mixture, n=...)      (n, d) samples of a mixture
    mixture_and_data(...)         (mixture, data) pairs
    times(lo, hi)                 t log-uniform in [lo, hi]
    seeds()                       non-negative ints for numpy/torch generators
    problem_cases(...)            {'d', 'K', 'n', 'seed', 't', ...}: random_problem(seed, K, d, n) at time t
    hessian_cases(...)            {'law', 'd', 'K' or 'n', 'seed', 't', 'queries'}: a mixture or an
                                  empirical law, a time and a number of query points

The ``*_cases`` strategies return dicts of plain values (what ``memsep fuzz`` records and
shrinks); the objects are built from them with ``verify.generators`` where they are used.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .generators import random_mixture

__all__ = ["seeds", "times", "mixtures", "datasets", "mixture_and_data", "problem_cases", "hessian_cases"]


def _as_strategy(value):
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def seeds() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=2**32 - 1)


def times(lo: float = 1e-3, hi: float = 10.0) -> st.SearchStrategy[float]:
    """t with log t uniform-ish on [log lo, log hi] (Hypothesis also tries the end points)."""
    if not (0 < lo < hi):
        raise ValueError(f"lo, hi: must satisfy 0 < lo < hi, got {lo}, {hi}")
    return st.floats(min_value=np.log(lo), max_value=np.log(hi), allow_nan=False).map(
        lambda u: float(min(hi, max(lo, np.exp(u))))
    )


@st.composite
def mixtures(
    draw,
    d=st.integers(1, 3),
    K=st.integers(1, 4),
    *,
    mean_scale: float = 2.0,
    v_min: float = 0.2,
    cond_max: float = 10.0,
    isotropic=st.booleans(),
):
    """A valid GaussianMixture; d, K and isotropic may be ints/bools or strategies."""
    dd = draw(_as_strategy(d))
    kk = draw(_as_strategy(K))
    iso = draw(_as_strategy(isotropic))
    seed = draw(seeds())
    return random_mixture(
        np.random.default_rng(seed), kk, dd, mean_scale=mean_scale, v_min=v_min, cond_max=cond_max, isotropic=iso
    )


@st.composite
def datasets(draw, mixture, n=st.integers(2, 32)):
    """(n, d) i.i.d. samples of ``mixture``."""
    nn = draw(_as_strategy(n))
    return mixture.sample(nn, np.random.default_rng(draw(seeds())))


@st.composite
def mixture_and_data(draw, d=st.integers(1, 3), K=st.integers(1, 4), n=st.integers(2, 32), **kw):
    mix = draw(mixtures(d=d, K=K, **kw))
    return mix, draw(datasets(mix, n=n))


@st.composite
def problem_cases(
    draw,
    d=st.integers(1, 2),
    K=st.integers(1, 4),
    n=st.integers(1, 12),
    t=None,
    **extra,  # t None: times(1e-3, 10)
) -> dict:
    """{'d', 'K', 'n', 'seed', 't', **extra}: build with ``random_problem(seed, K, d, n)``.

    ``extra`` maps more keys to values or strategies (e.g. ``score=st.sampled_from(names)``),
    drawn last, in the order given.
    """
    case = {
        "d": draw(_as_strategy(d)),
        "K": draw(_as_strategy(K)),
        "n": draw(_as_strategy(n)),
        "seed": draw(seeds()),
        "t": draw(_as_strategy(times(1e-3, 10.0) if t is None else t)),
    }
    case.update({k: draw(_as_strategy(v)) for k, v in extra.items()})
    return case


@st.composite
def hessian_cases(
    draw,
    d=st.integers(1, 6),
    K=st.integers(1, 4),
    n=st.integers(1, 20),
    t=None,
    queries=st.integers(1, 8),
    law=st.sampled_from(("mixture", "empirical")),
) -> dict:
    """{'law', 'd', 'K' (mixture) or 'n' (empirical), 'seed', 't', 'queries'}.

    law "mixture": ``random_mixture(rng, K, d)``; law "empirical": the n points of
    ``random_problem(seed, 3, d, n)``. ``queries`` is the number of query points.
    """
    which = draw(_as_strategy(law))
    case = {"law": which, "d": draw(_as_strategy(d))}
    if which == "mixture":
        case["K"] = draw(_as_strategy(K))
    else:
        case["n"] = draw(_as_strategy(n))
    case.update(
        seed=draw(seeds()),
        t=draw(_as_strategy(times(1e-3, 20.0) if t is None else t)),
        queries=draw(_as_strategy(queries)),
    )
    return case


@st.composite
def regime_cases(
    draw,
    d=st.integers(4, 128),
    K=st.integers(2, 16),
    families=("gaussian", "uniform"),
    n_max: int = 10_000,
    constants=None,
) -> dict:
    """A configuration inside Theorem 4.3's regime (theory.bounds), as plain parameters and a seed.

    {'family', 'K', 'd', 'n', 'v_lo', 'v_hi', 't', 'seed'}: n log-uniform in [10, min(e^(c4 d), n_max)],
    covariance eigenvalues in [v_lo, v_hi] within [c7, c3], t log-uniform in [max(t0, 1e-4), t1].
    Build the mixture with ``verify.generators.regime_mixture(case)``.
    """
    from memsep.theory import RegimeConstants, regime_times

    c = constants or RegimeConstants()
    dd = draw(_as_strategy(d))
    case = {"family": draw(st.sampled_from(families)), "K": draw(_as_strategy(K)), "d": dd}
    n_hi = int(min(np.exp(c.c4 * dd), n_max))
    case["n"] = int(round(np.exp(draw(st.floats(np.log(10), np.log(n_hi))))))
    lo = np.log(max(c.c7, 1e-3))
    hi = np.log(c.c3)
    a, b = sorted(draw(st.floats(lo, hi)) for _ in range(2))
    case["v_lo"], case["v_hi"] = float(np.exp(a)), float(np.exp(b))
    t0, t1 = regime_times(dd, c)
    # Pulled 1e-9 (relative) inside [t0, t1]: exp(log(t1)) can round above t1, and sigma_t <= d^-c6 is then
    # missed by one ulp (Hypothesis found t = t1 for d = 50).
    case["t"] = float(np.exp(draw(st.floats(np.log(max(t0, 1e-4)) + 1e-9, np.log(t1) - 1e-9))))
    case["seed"] = draw(seeds())
    return case
