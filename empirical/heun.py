"""A second-order solver of the probability-flow ODE (Heun's method as in Karras et al. 2022, EDM, Algorithm 1).

Forward OU process dX = -X/2 dt + dB (alpha_t = e^{-t/2}, sigma_t^2 = 1 - e^{-t}), as in ``empirical.sampling``.
In the scaled variables x~ = x / alpha_t and sigma~_t = sigma_t / alpha_t the probability-flow ODE
dx/dt = -x/2 - s(x, t)/2 becomes, with the noise parameterisation eps(x, t) = -sigma_t s(x, t),

    dx~ / dsigma~ = eps(alpha_t x~, t),

the form EDM integrates. On the same log-spaced grid t_0 = T > ... > t_N = t0 (``sampling.time_grid``), one step
from t_k to t_{k+1} is

    d_k   = eps(x_k, t_k)
    x~'   = x~_k + (sigma~_{k+1} - sigma~_k) d_k                        (Euler: exactly sampling's "ode", i.e. DDIM)
    d'    = eps(alpha_{k+1} x~', t_{k+1})
    x~_{k+1} = x~_k + (sigma~_{k+1} - sigma~_k) (d_k + d') / 2            (the trapezoidal correction)

two score evaluations per step (2 N in all; t0 > 0, so the last step is corrected too). The Euler predictor alone is
first order in the step, the corrected step second order: the global error falls as N^-2 against sampling's N^-1
(measured in tests/test_heun.py on a Gaussian, whose flow is known in closed form).

Samples start from the same x_T as ``sampling.sample`` with the same per-sample seeds (draw 0 of sample i's own
generator), so a Heun run and a first-order run are paired sample by sample; the result is x at t0 (no final
denoising step). Used by ``empirical.sampler_check``, the convergence test that chooses the step counts, and by the
pruning claims (M1-M4: Heun x 50, the count that test accepted; ``sample_with`` picks the solver by name).
Shapes: a sample has shape ``shape``; ``score(x (B, *shape), t float) -> (B, *shape)``.
"""

from __future__ import annotations

import numpy as np
import torch

from .sampling import METHODS, _noise, sample, time_grid

__all__ = ["SOLVERS", "sample_heun", "sample_with"]

SOLVERS = (*METHODS, "heun")  # every sampler a setting may name: sampling's first-order ones and Heun


def sample_heun(
    score,
    shape,
    *,
    seeds,
    steps: int = 50,
    t0: float = 1e-3,
    T: float = 8.0,
    chunk: int = 512,
    device="cpu",
    dtype=torch.float32,
) -> torch.Tensor:
    """(m, *shape) samples at t0 by ``steps`` Heun steps (2 ``steps`` score evaluations), m = len(seeds); see the
    module doc. Returns a CPU tensor of ``dtype``."""
    shape = tuple(int(s) for s in ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"shape: must be a non-empty tuple of positive ints, got {shape}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds: need at least one sample seed")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: must be a positive int, got {chunk!r}")
    ts = time_grid(T, t0, steps)
    alpha = np.exp(-0.5 * ts)  # (N + 1,)
    sigma = np.sqrt(-np.expm1(-ts))
    sigma_tilde = sigma / alpha

    def eps(x: torch.Tensor, k: int) -> torch.Tensor:
        sc = score(x, float(ts[k]))
        if not torch.all(torch.isfinite(sc)):
            raise FloatingPointError(f"score: non-finite values at t = {ts[k]:.4g} (step {k} of {steps})")
        return -sigma[k] * sc

    out = []
    for c in range(0, len(seeds), chunk):
        x = _noise(seeds[c : c + chunk], shape, 1, dtype)[0].to(device)  # x_T ~ N(0, I), (B, *shape)
        for k in range(steps):
            h = float(sigma_tilde[k + 1] - sigma_tilde[k])  # < 0: sigma~ falls with t
            xt = x / alpha[k]  # x~_k
            d = eps(x, k)
            x_pred = xt + h * d  # x~' (Euler)
            d2 = eps(alpha[k + 1] * x_pred, k + 1)
            x = alpha[k + 1] * (xt + h * 0.5 * (d + d2))
        out.append(x.detach().to("cpu"))
    return torch.cat(out)


def sample_with(method: str, score, shape, *, seeds, steps: int, t0: float, T: float, device="cpu") -> torch.Tensor:
    """(m, *shape) samples at t0 by the solver named ``method``, one of SOLVERS: "heun" (``sample_heun``, 2 ``steps``
    score evaluations) or ``sampling.sample``'s "ode" / "sde" (``steps`` evaluations). Same x_T per seed for all."""
    if method not in SOLVERS:
        raise ValueError(f"method: must be one of {SOLVERS}, got {method!r}")
    if method == "heun":
        return sample_heun(score, shape, seeds=seeds, steps=steps, t0=t0, T=T, device=device)
    return sample(score, shape, seeds=seeds, method=method, steps=steps, t0=t0, T=T, device=device)
