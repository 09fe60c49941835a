"""The model's own log-likelihood of given points (A5, A6: the held-out reading of "likelihood").

A score s(x, t) on [t0, T] defines two models of the law at t0, the one the samplers draw from:

* **Probability-flow ODE** (Song et al. 2021, instantaneous change of variables). dx/dt = f(x, t) =
  -x/2 - s(x, t)/2 carries p_t0 to p_T, so

      log p_t0(x_t0) = log p_T(x_T) + int_{t0}^{T} div f(x_t, t) dt,   div f = -d/2 - tr(grad_x s)/2,

  with x_t the ODE solution from x_t0 forward to T and p_T taken as N(0, I) (the samplers' prior).
  ``ode_loglik``: Heun's method on the log-spaced grid of ``empirical.sampling.time_grid`` (reversed);
  the trace exact (d backward passes) or by Hutchinson's estimator with one Rademacher probe per point
  held along its path (unbiased: E[v^T J v] = tr J; zero variance where J is diagonal).

* **Variational bound of the reverse SDE** (Song, Durkan, Murray, Ermon 2021, Theorem 2, with the
  forward process started at y at time t0; f = -x/2, g = 1, div f = -d/2): for every y,

      log p^SDE_t0(y) >= ELBO(y) = E[log pi(x_T)] - 1/2 int_{t0}^{T} E[ ||s(x_t, t)||^2 + 2 div s(x_t, t) + d ] dt,
      x_t = a_t y + b_t z,  a_t = exp(-(t - t0)/2),  b_t^2 = 1 - a_t^2,  z ~ N(0, I),

  (the implicit score-matching form: no 1/b_t singularity at t0). With pi = N(0, I),
  E[log pi(x_T)] = -d/2 log(2 pi) - (a_T^2 ||y||^2 + d b_T^2)/2 exactly. The bound is tight for the exact
  score of a law whose time-T marginal is pi (the model's path posterior is then the forward process).
  ``elbo``: the t-integral by the trapezoid rule in log t on ``nodes`` nodes, one z and one Rademacher
  probe per point and node (Monte Carlo: the returned values are unbiased estimates of the quadrature).

Validation (tests/test_likelihood.py): for the exact mixture score both match the closed form log p_t0 of
the mixture at the samplers' t0 = 1e-3 (errors stated there). The two are different models of one score
(ODE and SDE), equal when the score is exact; on trained networks they are compared by their ordering.

Why trained networks can look broken here: they gave training points NOISED TO
t = 0.05 about -300 to -900 nats at t0 = 1e-3 (truth about -47). That is what a memorizing model does, not
an error of the integrator: it puts its mass within sigma_t0 = 0.03 of the training points, and a point
0.05-noised (about 1.3 away at d = 32) then lies hundreds of nats out in its tails. The exact empirical
score (a perfect memorizer, d = 32, n = 64) gives such points -700 to -900 nats by the same code; the held-
out draws and the training points themselves, not noised copies, are what the experiments score.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .sampling import time_grid

__all__ = ["ode_loglik", "elbo", "differentiable_noise_score", "TRACES"]

TRACES = ("exact", "hutchinson")


def differentiable_noise_score(model):
    """s(x, t) = -eps_theta(x, t) / sigma_t with gradients (``NoiseScore`` evaluates without them)."""
    p = next(model.parameters())

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), float(t), dtype=p.dtype, device=p.device)
        return -model(x, tt) / math.sqrt(-math.expm1(-float(t)))

    return score


def _score_and_div(score, x: torch.Tensor, t: float, probe: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """s(x, t) (B, d) and tr(grad_x s) (B,): exact (d backward passes) when ``probe`` is None, else v^T (grad_x s) v
    for the (B, d) probe v (one backward pass)."""
    d = x.shape[1]
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        s = score(x, t)  # (B, d)
        if probe is not None:
            (g,) = torch.autograd.grad((s * probe).sum(), x)
            tr = (g * probe).sum(1)
        else:
            tr = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
            for i in range(d):
                (g,) = torch.autograd.grad(s[:, i].sum(), x, retain_graph=i < d - 1)
                tr = tr + g[:, i]
    return s.detach(), tr.detach()


def _points(x) -> np.ndarray:
    xs = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[0] < 1:
        raise ValueError(f"x: must have shape (m, d) with m >= 1, got {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x: must be finite")
    return xs


def _check(t0: float, T: float, steps: int, name: str, trace: str, chunk: int) -> None:
    if not (math.isfinite(t0) and math.isfinite(T) and 0 < t0 < T):
        raise ValueError(f"t0, T: must satisfy 0 < t0 < T (finite), got t0 = {t0}, T = {T}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"{name}: must be an int >= 2, got {steps!r}")
    if trace not in TRACES:
        raise ValueError(f"trace: must be one of {TRACES}, got {trace!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk: must be a positive int, got {chunk!r}")


def _rademacher(shape, gen: torch.Generator, dtype, device) -> torch.Tensor:
    return (torch.randint(0, 2, shape, generator=gen, dtype=torch.int64) * 2 - 1).to(dtype=dtype, device=device)


def ode_loglik(
    score,
    x,
    *,
    t0: float = 1e-3,
    T: float = 8.0,
    steps: int = 100,
    chunk: int = 256,
    dtype=torch.float32,
    device="cpu",
    log_prior=None,
    trace: str = "exact",
    seed: int = 0,
    return_end: bool = False,
):
    """(m,) float64: log p_t0(x_j) of the probability-flow model defined by ``score`` (module doc), x: (m, d);
    with ``return_end`` also the (m, d) end points x_T of the paths (float64).

    log_prior: callable (m, d) float64 array -> (m,) giving log p_T; default N(0, I) (the samplers' prior).
    trace: "exact" or "hutchinson" (one Rademacher probe per point, from ``seed``, held along the path).
    """
    xs = _points(x)
    _check(t0, T, steps, "steps", trace, chunk)
    ts = time_grid(T, t0, steps)[::-1].copy()  # t0 -> T
    d = xs.shape[1]
    gen = torch.Generator().manual_seed(int(seed))
    out = np.empty(xs.shape[0])
    ends = np.empty_like(xs)
    for c in range(0, xs.shape[0], chunk):
        y = torch.as_tensor(xs[c : c + chunk], dtype=dtype, device=device)
        v = _rademacher(y.shape, gen, dtype, device) if trace == "hutchinson" else None

        def drift_div(z, t, v=v):
            s, tr = _score_and_div(score, z, t, v)
            return -0.5 * z - 0.5 * s, -0.5 * d - 0.5 * tr

        acc = torch.zeros(y.shape[0], dtype=torch.float64, device=device)
        f, div = drift_div(y, float(ts[0]))
        for k in range(steps):
            h = float(ts[k + 1] - ts[k])
            y_pred = y + h * f
            f2, div2 = drift_div(y_pred, float(ts[k + 1]))
            y = y + 0.5 * h * (f + f2)
            acc += 0.5 * h * (div + div2).to(torch.float64)
            f, div = drift_div(y, float(ts[k + 1])) if k < steps - 1 else (f2, div2)
        yT = y.to(torch.float64).cpu()
        if log_prior is None:
            lp = (-0.5 * (yT**2).sum(1) - 0.5 * d * math.log(2 * math.pi)).numpy()
        else:
            lp = np.asarray(log_prior(yT.numpy()), dtype=np.float64)
        out[c : c + chunk] = lp + acc.cpu().numpy()
        ends[c : c + chunk] = yT.numpy()
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("ode_loglik: non-finite log-likelihood (the score diverged along the ODE)")
    return (out, ends) if return_end else out


def elbo(
    score,
    x,
    *,
    t0: float = 1e-3,
    T: float = 8.0,
    nodes: int = 64,
    chunk: int = 256,
    dtype=torch.float32,
    device="cpu",
    trace: str = "hutchinson",
    seed: int = 0,
) -> np.ndarray:
    """(m,) float64: the variational lower bound ELBO(y_j) on log p^SDE_t0(y_j) of the reverse-SDE model defined
    by ``score`` (module doc), y: (m, d), prior N(0, I). ``nodes`` log-spaced times on [t0, T] (trapezoid rule in
    log t); one z ~ N(0, I) (and one Rademacher probe for trace = "hutchinson") per point and node, from ``seed``."""
    ys = _points(x)
    _check(t0, T, nodes, "nodes", trace, chunk)
    m, d = ys.shape
    ts = np.exp(np.linspace(math.log(t0), math.log(T), nodes))
    ts[0], ts[-1] = t0, T
    u = np.log(ts)
    w = np.zeros(nodes)  # trapezoid weights in u, times dt/du = t
    w[:-1] += 0.5 * np.diff(u)
    w[1:] += 0.5 * np.diff(u)
    w *= ts
    gen = torch.Generator().manual_seed(int(seed))
    aT2 = math.exp(-(T - t0))
    out = np.empty(m)
    for c in range(0, m, chunk):
        y = torch.as_tensor(ys[c : c + chunk], dtype=torch.float64)
        B = y.shape[0]
        integral = torch.zeros(B, dtype=torch.float64)
        for t, wt in zip(ts, w):
            a = math.exp(-0.5 * (t - t0))
            b = math.sqrt(-math.expm1(-(t - t0)))
            z = torch.randn((B, d), generator=gen, dtype=torch.float64)
            xt = (a * y + b * z).to(dtype=dtype, device=device)
            v = _rademacher((B, d), gen, dtype, device) if trace == "hutchinson" else None
            s, tr = _score_and_div(score, xt, float(t), v)
            integrand = (s.to(torch.float64) ** 2).sum(1).cpu() + 2.0 * tr.to(torch.float64).cpu() + d
            integral += wt * integrand
        prior = -0.5 * d * math.log(2 * math.pi) - 0.5 * (aT2 * (y**2).sum(1) + d * (1.0 - aT2))
        out[c : c + chunk] = (prior - 0.5 * integral).numpy()
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("elbo: non-finite bound (the score diverged)")
    return out
