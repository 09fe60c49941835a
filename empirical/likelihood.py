"""The model's own log-likelihood of given points, by the probability-flow ODE (A6, second reading).

A score s(x, t) defines the probability-flow ODE dx/dt = f(x, t) = -x/2 - s(x, t)/2 whose flow
carries p_t0 to p_T (Song et al. 2021, instantaneous change of variables):

    log p_t0(x_t0) = log p_T(x_T) + int_{t0}^{T} div f(x_t, t) dt,   div f = -d/2 - tr(grad_x s)/2,

with x_t the ODE solution from x_t0 forward to T, and p_T taken as N(0, I), the same prior the
samplers start from, so this is the density of the model the samplers draw from. The trace is
exact (d backward passes per evaluation; fine for the d <= 64 of the mixture experiments), and the
ODE is integrated by Heun's method on the log-spaced grid of ``empirical.sampling.time_grid``
(reversed). ``score`` must be differentiable in x with torch autograd (a network's
-eps_theta/sigma_t, ``differentiable_noise_score``; or an exact target of ``empirical.targets``).

Why (A6): the paper's Figure 3b plots a "log-likelihood" whose definition this project infers as the
mean of log p_data over generated samples. The model's likelihood of HELD-OUT draws is the other
common reading, and the one a memorizing model does score badly on: its density concentrates
on the training points. Status: exact for exact scores (tests: a mixture's log p_t0 to 0.01 nats
with 100 steps, second order in the step). With the exact empirical score (a perfect memorizer;
d = 32, n = 64, t0 = 0.05) held-out draws score about -420 to -437 nats against -47.6 for the true
law. On the networks trained in A6's quick profile it was NOT usable: the integral of the trace of
the learned score's Jacobian gave even noised training points -300 to -900 nats (truth about -47),
so no check relies on it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .sampling import time_grid

__all__ = ["ode_loglik", "differentiable_noise_score"]


def differentiable_noise_score(model):
    """s(x, t) = -eps_theta(x, t) / sigma_t with gradients (``NoiseScore`` evaluates without them)."""
    p = next(model.parameters())

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), float(t), dtype=p.dtype, device=p.device)
        return -model(x, tt) / math.sqrt(-math.expm1(-float(t)))

    return score


def _drift_and_div(score, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x, t) (B, d) and div f (B,), the trace of grad_x s by d backward passes."""
    d = x.shape[1]
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        s = score(x, t)                                                        # (B, d)
        tr = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(d):
            (g,) = torch.autograd.grad(s[:, i].sum(), x, retain_graph=i < d - 1)
            tr = tr + g[:, i]
    f = -0.5 * x.detach() - 0.5 * s.detach()
    return f, -0.5 * d - 0.5 * tr.detach()


def ode_loglik(score, x, *, t0: float = 1e-3, T: float = 8.0, steps: int = 100, chunk: int = 256,
               dtype=torch.float32, device="cpu", log_prior=None) -> np.ndarray:
    """(m,) float64: log p_t0(x_j) of the model defined by ``score`` (module doc), for x: (m, d).

    log_prior: callable (m, d) float64 array -> (m,) giving log p_T; default N(0, I) (the samplers' prior).
    """
    xs = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[0] < 1:
        raise ValueError(f"x: must have shape (m, d) with m >= 1, got {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x: must be finite")
    ts = time_grid(T, t0, steps)[::-1].copy()                                  # t0 -> T
    d = xs.shape[1]
    out = np.empty(xs.shape[0])
    for c in range(0, xs.shape[0], chunk):
        y = torch.as_tensor(xs[c:c + chunk], dtype=dtype, device=device)
        acc = torch.zeros(y.shape[0], dtype=torch.float64, device=device)
        f, div = _drift_and_div(score, y, float(ts[0]))
        for k in range(steps):
            h = float(ts[k + 1] - ts[k])
            y_pred = y + h * f
            f2, div2 = _drift_and_div(score, y_pred, float(ts[k + 1]))
            y = y + 0.5 * h * (f + f2)
            acc += 0.5 * h * (div + div2).to(torch.float64)
            f, div = _drift_and_div(score, y, float(ts[k + 1])) if k < steps - 1 else (f2, div2)
        yT = y.to(torch.float64).cpu()
        if log_prior is None:
            lp = (-0.5 * (yT ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi)).numpy()
        else:
            lp = np.asarray(log_prior(yT.numpy()), dtype=np.float64)
        out[c:c + chunk] = lp + acc.cpu().numpy()
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("ode_loglik: non-finite log-likelihood (the score diverged along the ODE)")
    return out
