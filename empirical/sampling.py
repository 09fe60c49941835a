"""Sampling a diffusion model backwards in time from a score s(x, t) ~ grad log p_t(x) (A5, A6, M2-M4).

Forward OU process dX = -X/2 dt + dB (alpha_t = e^{-t/2}, sigma_t^2 = 1 - e^{-t}). Started from
x_T ~ N(0, I) (the stationary law; at T = 8, alpha_T = 0.018) and run from T down to t0 on the
log-spaced grid t_k = exp(linspace(log T, log t0, steps + 1)), k = 0..steps:

  "sde": reverse-time SDE dY = [Y/2 + s(Y, t)] dtau + dB (tau = T - t), Euler-Maruyama:
         x_{k+1} = x_k + h_k (x_k / 2 + s(x_k, t_k)) + sqrt(h_k) z_k,   h_k = t_k - t_{k+1}
  "ode": probability-flow ODE dx/dt = -x/2 - s(x, t)/2, integrated with the first-order
         exponential integrator in the noise parameterisation eps = -sigma_t s (DDIM):
         x0_hat = (x_k - sigma_{t_k} eps) / alpha_{t_k},  x_{k+1} = alpha_{t_{k+1}} x0_hat + sigma_{t_{k+1}} eps
         (exact when eps is constant along the path, and stable for the stiff small-t scores).

The result is x at t0 (no final denoising step). Per-sample seeds: sample i's starting point and
its SDE noise come from its own generator (seed ``seeds[i]``), so sample i is the same whatever
the chunk size or the other samples, and the same noise can drive two models (Figure 4).
Shapes: a sample has shape ``shape`` (``(d,)`` for mixtures, ``(C, H, W)`` for images);
``score(x (B, *shape), t float) -> (B, *shape)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from memsep.theory import derive_seed

__all__ = ["time_grid", "sample", "sample_seeds"]

METHODS = ("ode", "sde")


def time_grid(T: float, t0: float, steps: int) -> np.ndarray:
    """(steps + 1,) float64 times from T down to t0, log-spaced."""
    if not (0 < t0 < T and math.isfinite(T)):
        raise ValueError(f"t0, T: must satisfy 0 < t0 < T < inf, got t0={t0}, T={T}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: must be a positive int, got {steps!r}")
    t = np.exp(np.linspace(math.log(T), math.log(t0), int(steps) + 1))
    t[0], t[-1] = T, t0
    return t


def sample_seeds(seed: int, m: int) -> list[int]:
    """Seeds of samples 0..m-1 of run ``seed`` (sample i's seed does not depend on m)."""
    return [derive_seed(seed, "sample", i) for i in range(m)]


def _noise(seeds, shape, count: int, dtype) -> torch.Tensor:
    """(count, B, *shape): row j of sample b from sample b's generator (draw 0 = x_T, 1.. = SDE noise)."""
    out = torch.empty((len(seeds), count, *shape), dtype=dtype)
    for b, s in enumerate(seeds):
        out[b] = torch.randn((count, *shape), generator=torch.Generator().manual_seed(int(s)), dtype=dtype)
    return out.transpose(0, 1)


def sample(
    score,
    shape,
    *,
    seeds,
    method: str = "ode",
    steps: int = 300,
    t0: float = 1e-3,
    T: float = 8.0,
    chunk: int = 512,
    device="cpu",
    dtype=torch.float32,
    progress: bool = False,
) -> torch.Tensor:
    """(m, *shape) samples at t0, m = len(seeds); see the module doc. Returns a CPU tensor of ``dtype``."""
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
    shape = tuple(int(s) for s in ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"shape: must be a non-empty tuple of positive ints, got {shape}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds: need at least one sample seed")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: must be a positive int, got {chunk!r}")
    ts = time_grid(T, t0, steps)
    alpha = np.exp(-0.5 * ts)
    sigma = np.sqrt(-np.expm1(-ts))
    n_noise = 1 + (steps if method == "sde" else 0)
    out = []
    bar = None
    if progress:  # counts solver steps over all chunks (a bar of chunks would sit at 0/1 for a whole run)
        from tqdm.auto import tqdm

        n_chunks = (len(seeds) + chunk - 1) // chunk
        bar = tqdm(total=n_chunks * steps, desc=f"sampling ({method}, {len(seeds)} samples)", unit="step", leave=False)
    for c in range(0, len(seeds), chunk):
        noise = _noise(seeds[c : c + chunk], shape, n_noise, dtype).to(device)  # (n_noise, B, *shape)
        x = noise[0]  # x_T ~ N(0, I)
        for k in range(steps):
            t, s = float(ts[k]), float(ts[k + 1])
            sc = score(x, t)
            if not torch.all(torch.isfinite(sc)):
                raise FloatingPointError(f"score: non-finite values at t = {t:.4g} (step {k} of {steps})")
            if method == "ode":
                eps = -sigma[k] * sc
                x0_hat = (x - sigma[k] * eps) / alpha[k]
                x = alpha[k + 1] * x0_hat + sigma[k + 1] * eps
            else:
                h = t - s
                x = x + h * (0.5 * x + sc) + math.sqrt(h) * noise[k + 1]
            if bar is not None:
                bar.update(1)
        out.append(x.detach().to("cpu"))
    if bar is not None:
        bar.close()
    return torch.cat(out)
