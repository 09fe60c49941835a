"""Forward OU process (the setting of CLAIMS.md): alpha_t = exp(-t/2), sigma_t^2 = 1 - exp(-t).

Reference values come from mpmath at 50 significant digits (``mp.dps = 50``), evaluated from
the definitions exp(-t/2), 1 - exp(-t) and sqrt(1 - exp(-t)), then rounded once to float64.
float64 libm exp/expm1/sqrt are accurate to < 1 ulp (~1.1e-16 relative), so rtol = 1e-15
(about 4.5 ulp) allows for one rounding in expm1 plus one in sqrt and nothing more; the
naive 1 - exp(-t) would fail it by ~8 orders of magnitude at t = 1e-8.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from checks import check_rel
from hypothesis import example, given
from hypothesis import strategies as st

from memsep.theory import alpha, sigma, sigma2

RTOL = 1e-15
EPS = np.finfo(np.float64).eps

# 61 log-spaced times spanning [1e-8, 50], plus some round values.
TIMES = np.unique(np.concatenate([np.logspace(-8, np.log10(50.0), 61), [1e-8, 1e-3, 0.5, 1.0, 2.0, 10.0, 50.0]]))


def _mp_refs(t: float) -> tuple[float, float, float]:
    """(alpha_t, sigma_t^2, sigma_t) at 50 digits from the definitions (provenance: mpmath)."""
    with mpmath.workdps(50):
        tm = mpmath.mpf(float(t))  # the exact float64 value of t
        a = mpmath.exp(-tm / 2)
        s2 = 1 - mpmath.exp(-tm)
        return float(a), float(s2), float(mpmath.sqrt(s2))


REFS = np.array([_mp_refs(t) for t in TIMES])  # (T, 3)

FUNCS = {"alpha": (alpha, 0), "sigma2": (sigma2, 1), "sigma": (sigma, 2)}


@pytest.mark.parametrize("name", list(FUNCS))
def test_vectorised_matches_mpmath(name):
    f, col = FUNCS[name]
    check_rel(f(TIMES), REFS[:, col], RTOL, f"{name}(t) vs mpmath(50 digits), vectorised")


@pytest.mark.parametrize("name", list(FUNCS))
def test_scalar_matches_mpmath(name):
    f, col = FUNCS[name]
    out = [f(float(t)) for t in TIMES]
    assert all(type(v) is float for v in out), f"{name}: scalar input must return a Python float"
    check_rel(out, REFS[:, col], RTOL, f"{name}(t) vs mpmath(50 digits), scalar")


@pytest.mark.parametrize("name", list(FUNCS))
def test_small_t_keeps_relative_precision(name):
    # Hand derivation: sigma_t^2 = t - t^2/2 + t^3/6 - ..., alpha_t = 1 - t/2 + t^2/8; at t = 1e-8 the
    # neglected terms are < 1e-24 relative, far below float64 resolution, so these are exact references.
    t = 1e-8
    ref = {"alpha": 1 - t / 2 + t * t / 8, "sigma2": t - t * t / 2, "sigma": np.sqrt(t) * (1 - t / 4)}[name]
    check_rel(FUNCS[name][0](t), ref, RTOL, f"{name}(1e-8) vs Taylor series")


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (2, 3), (2, 1, 4)], ids=lambda s: "x".join(map(str, s)) or "0")
def test_shapes_preserved(name, shape):
    f, col = FUNCS[name]
    rng = np.random.default_rng(7)
    t = rng.uniform(0.0, 10.0, size=shape)
    out = f(t)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    # elementwise: the vectorised call equals the scalar call at every entry
    np.testing.assert_array_equal(out.ravel(), np.array([f(float(v)) for v in t.ravel()]))


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize(
    "t",
    [0, 1, 0.25, np.float64(0.25), np.float32(0.25), np.array(0.25)],
    ids=["int0", "int1", "float", "np.float64", "np.float32", "0d-array"],
)
def test_scalar_in_float_out(name, t):
    out = FUNCS[name][0](t)
    assert type(out) is float


def test_list_input():
    np.testing.assert_array_equal(alpha([0.0, 2.0]), np.exp([-0.0, -1.0]))


@pytest.mark.parametrize("name", list(FUNCS))
def test_t_zero_exact(name):
    # Hand derivation: alpha_0 = 1, sigma_0 = 0 exactly.
    assert FUNCS[name][0](0.0) == {"alpha": 1.0, "sigma2": 0.0, "sigma": 0.0}[name]


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize(
    "bad",
    [-1e-12, -1.0, np.array([0.5, -0.5]), np.nan, np.inf, "abc"],
    ids=["tiny-negative", "negative", "array-with-negative", "nan", "inf", "string"],
)
def test_invalid_times_raise(name, bad):
    with pytest.raises(ValueError, match=r"^t: "):
        FUNCS[name][0](bad)


def check_pythagoras(t) -> None:
    """alpha_t^2 + sigma_t^2 = 1 up to rounding (each term carries <= ~2 ulp)."""
    a, s2, s = alpha(t), sigma2(t), sigma(t)
    assert abs(a * a + s2 - 1.0) <= 4 * EPS, f"alpha^2 + sigma2 - 1 = {a * a + s2 - 1.0:.3g} at t = {t!r}"
    assert abs(a * a + s * s - 1.0) <= 4 * EPS, f"alpha^2 + sigma^2 - 1 = {a * a + s * s - 1.0:.3g} at t = {t!r}"
    assert abs(s * s - s2) <= 4 * EPS * s2, f"sigma^2 != sigma2 at t = {t!r}"


@pytest.mark.parametrize("t", TIMES[::6].tolist() + [0.0])
def test_pythagoras_table(t):
    check_pythagoras(float(t))


@given(st.floats(min_value=0.0, max_value=50.0, allow_nan=False))
@example(0.0)
@example(1e-300)
@example(5e-324)
@example(50.0)
def test_pythagoras_property(t):
    check_pythagoras(t)


def test_vectorised_pythagoras():
    a, s2 = alpha(TIMES), sigma2(TIMES)
    np.testing.assert_allclose(a * a + s2, 1.0, rtol=0, atol=4 * EPS)
