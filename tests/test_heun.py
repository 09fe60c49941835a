"""The Heun solver of the probability-flow ODE (empirical.heun): its order, its pairing with sampling's first-order
solver, and its input checks.

Reference: data N(0, s^2 I) has p_t = N(0, v_t I), v_t = alpha_t^2 s^2 + sigma_t^2, score -x / v_t, and the
probability-flow map x_t0 = x_T sqrt(v_t0 / v_T) (hand derivation: d log sqrt(v_t) / dt = v_t' / (2 v_t)
= (1 - v_t) / (2 v_t), the ODE's rate for this score). Float64 throughout, so the solver's error is the only error.
"""

import math

import numpy as np
import pytest
import torch

from memsep.empirical.heun import sample_heun, sample_with
from memsep.empirical.sampling import _noise, sample, time_grid

S2 = 0.01  # data variance s^2: a narrow Gaussian, stiff at small t like the memorizing scores
T0, T = 1e-3, 8.0
SEEDS = list(range(16))


def v(t: float) -> float:
    return math.exp(-t) * S2 - math.expm1(-t)


def score(x: torch.Tensor, t: float) -> torch.Tensor:
    return -x / v(t)


def exact() -> torch.Tensor:
    x_T = _noise(SEEDS, (3,), 1, torch.float64)[0]
    return x_T * math.sqrt(v(T0) / v(T))


def err(method: str, steps: int) -> float:
    if method == "heun":
        x = sample_heun(score, (3,), seeds=SEEDS, steps=steps, t0=T0, T=T, dtype=torch.float64)
    else:
        x = sample(score, (3,), seeds=SEEDS, method="ode", steps=steps, t0=T0, T=T, dtype=torch.float64)
    return float(torch.max(torch.abs(x - exact())))


def test_heun_is_second_order_and_the_first_order_solver_first_order():
    """Doubling the steps divides the global error by about 4 (Heun) and 2 (sampling's "ode"); on this log grid the
    observed orders lie in [1.8, 2.2] and [0.8, 1.2] from 100 to 400 steps (deterministic: no tolerance for noise)."""
    for method, order in (("heun", 2.0), ("ode", 1.0)):
        e = [err(method, n) for n in (100, 200, 400)]
        rates = [math.log2(e[i] / e[i + 1]) for i in range(2)]
        assert all(abs(r - order) < 0.2 for r in rates), (method, e, rates)
    assert err("heun", 50) < err("ode", 300)  # the reason to use it: fewer score evaluations for a smaller error


def test_the_euler_predictor_is_the_first_order_solver_and_the_start_is_shared():
    """Heun's predictor in (x / alpha, sigma / alpha) is exactly sampling's DDIM step (rounding only), and both
    solvers start from the same x_T per sample seed (one step with a zero score moves x_T by a known factor)."""
    steps = 20
    ts = time_grid(T, T0, steps)
    alpha, sigma = np.exp(-0.5 * ts), np.sqrt(-np.expm1(-ts))
    st = sigma / alpha
    x = _noise(SEEDS, (3,), 1, torch.float64)[0]
    for k in range(steps):
        x = alpha[k + 1] * (x / alpha[k] + (st[k + 1] - st[k]) * (-sigma[k] * score(x, float(ts[k]))))
    ref = sample(score, (3,), seeds=SEEDS, method="ode", steps=steps, t0=T0, T=T, dtype=torch.float64)
    assert torch.allclose(x, ref, rtol=1e-12, atol=1e-12)

    def zero(x, t):
        return torch.zeros_like(x)

    a = sample_heun(zero, (3,), seeds=SEEDS, steps=1, t0=T0, T=T, dtype=torch.float64)
    b = sample(zero, (3,), seeds=SEEDS, method="ode", steps=1, t0=T0, T=T, dtype=torch.float64)
    assert torch.equal(a, b)


def test_samples_do_not_depend_on_the_chunk():
    a = sample_heun(score, (3,), seeds=SEEDS, steps=10, chunk=5, dtype=torch.float64)
    b = sample_heun(score, (3,), seeds=SEEDS, steps=10, chunk=512, dtype=torch.float64)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"steps": 0}, "steps"),
        ({"seeds": []}, "seeds"),
        ({"chunk": 0}, "chunk"),
        ({"t0": 2.0, "T": 1.0}, "t0, T"),
        ({"shape": (0,)}, "shape"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, needle):
    args = {"seeds": SEEDS, "shape": (3,), **kwargs}
    shape = args.pop("shape")
    with pytest.raises(ValueError, match=needle):
        sample_heun(score, shape, **args)


def test_a_non_finite_score_is_an_error():
    def bad(x, t):
        return x * float("nan")

    with pytest.raises(FloatingPointError, match="non-finite"):
        sample_heun(bad, (3,), seeds=SEEDS, steps=3)


@pytest.mark.parametrize("method", ["heun", "ode", "sde"])
def test_sample_with_dispatches_to_the_named_solver(method):
    """``sample_with`` (the pruning claims' and the convergence test's entry) gives exactly the named solver's
    samples; an unknown name is an error naming ``method``."""
    kw = {"seeds": SEEDS, "steps": 12, "t0": T0, "T": T}
    got = sample_with(method, score, (3,), **kw)
    if method == "heun":
        want = sample_heun(score, (3,), **kw)
    else:
        want = sample(score, (3,), method=method, **kw)
    assert torch.equal(got, want)
    with pytest.raises(ValueError, match="method"):
        sample_with("euler", score, (3,), **kw)
