"""The two regression targets of Theorem 5.1 (claim A3), in torch, for batches inside a training loop.

    alpha_t = exp(-t/2),  sigma_t^2 = -expm1(-t)

Empirical score of n points x_i with weights pi_i (1/n, or multiplicities summing to one):
    w_i(x)             = softmax_i( log pi_i - ||x - alpha_t x_i||^2 / (2 sigma_t^2) )
    grad log phat_t(x) = -(x - alpha_t sum_i w_i(x) x_i) / sigma_t^2
    Phat_t             = sum_i pi_i N(alpha_t x_i, sigma_t^2 I)           (``sample``)

True score of a Gaussian mixture P = sum_k pi_k N(mu_k, Sigma_k):
    C_k                = alpha_t^2 Sigma_k + sigma_t^2 I = U_k diag(alpha_t^2 lam_k + sigma_t^2) U_k^T
    g_k(x)             = -C_k^{-1} (x - alpha_t mu_k)
    r_k(x)             = softmax_k( log pi_k + log N(x; alpha_t mu_k, C_k) )
    grad log p_t(x)    = sum_k r_k(x) g_k(x)

Both take x: (B, d) and t: a float or a (B,) tensor (one time per row, for time-conditioned
training) and return (B, d) in the target's dtype on its device. The empirical logits use the
centred expansion of ``theory.EmpiricalDistribution`` (points p_i' = x_i - c, c their mean,
x' = x - alpha_t c): b_i = log pi_i + (alpha_t / sigma_t^2)(x'.p_i' - (alpha_t/2)||p_i'||^2), which
differs from the logits above by a per-row constant; torch.softmax subtracts the row maximum,
so nothing overflows at small t. The mixture's C_k^{-1} uses the eigendecomposition of Sigma_k
(computed once, float64), so a different t per row costs no factorisation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from memsep.theory import GaussianMixture
from memsep.theory.validation import as_points, as_positive_int, as_weights

__all__ = ["EmpiricalScoreTarget", "MixtureScoreTarget", "alpha_sigma2"]

_LOG_2PI = math.log(2.0 * math.pi)


def alpha_sigma2(t, batch: int, *, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha_t, sigma_t^2), each (B, 1), from t: a positive float or a (B,) tensor of positive times."""
    if isinstance(t, torch.Tensor):
        t64 = t.detach().to(device=device, dtype=torch.float64)
        if t64.ndim == 0:
            t64 = t64.expand(batch)
        if t64.shape != (batch,):
            raise ValueError(f"t: must be a float or have shape ({batch},), got {tuple(t64.shape)}")
        if not bool(torch.all(t64 > 0)):
            raise ValueError("t: must be > 0")
    else:
        t = float(t)
        if not (t > 0 and math.isfinite(t)):
            raise ValueError(f"t: must be > 0 and finite, got {t}")
        t64 = torch.full((batch,), t, dtype=torch.float64, device=device)
    a = torch.exp(-0.5 * t64)
    s2 = -torch.expm1(-t64)
    return a.to(dtype)[:, None], s2.to(dtype)[:, None]  # (B, 1), (B, 1)


def _check_x(x: torch.Tensor, d: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x: must be a (B, {d}) tensor, got {getattr(x, 'shape', type(x).__name__)}")


class EmpiricalScoreTarget:
    """grad log phat_t of points (n, d) with weights (n,) (default 1/n); ``sample`` draws from Phat_t.

    ``loss_weight_power`` = 4: Theorem 5.1 bounds this target's error by eps / sigma_t^4, so
    time-conditioned training weights the squared error by sigma_t^4 (see ``regression``).
    """

    loss_weight_power = 4
    name = "empirical"

    def __init__(self, points, weights=None, *, dtype=torch.float64, device="cpu"):
        pts = as_points(points, "points")  # (n, d) float64
        n = pts.shape[0]
        pi = np.full(n, 1.0 / n) if weights is None else as_weights(weights, "weights")
        if pi.shape != (n,):
            raise ValueError(f"weights: must have shape ({n},) to match points, got {pi.shape}")
        self._points64, self._weights64 = pts, pi
        self.uniform = weights is None
        self.dtype, self.device = dtype, torch.device(device)
        c = pts.mean(axis=0)
        self.center = torch.tensor(c, dtype=dtype, device=self.device)  # (d,)
        self.points = torch.tensor(pts, dtype=dtype, device=self.device)  # (n, d)
        self.pc = torch.tensor(pts - c, dtype=dtype, device=self.device)  # (n, d) centred
        self.half_sq = 0.5 * (self.pc * self.pc).sum(1)  # (n,)
        with np.errstate(divide="ignore"):
            self.log_pi = torch.tensor(np.log(pi), dtype=dtype, device=self.device)  # (n,)
        self.pi = torch.tensor(pi, dtype=torch.float64, device=self.device)

    @property
    def n(self) -> int:
        return self.points.shape[0]

    @property
    def d(self) -> int:
        return self.points.shape[1]

    def __repr__(self) -> str:
        return f"EmpiricalScoreTarget(n={self.n}, d={self.d}, dtype={self.dtype}, device={self.device})"

    def to(self, device=None, dtype=None) -> EmpiricalScoreTarget:
        """The same target on another device and/or dtype."""
        return EmpiricalScoreTarget(
            self._points64,
            None if self.uniform else self._weights64,
            dtype=dtype or self.dtype,
            device=device or self.device,
        )

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        """grad log phat_t(x): (B, d)."""
        _check_x(x, self.d)
        x = x.to(device=self.device, dtype=self.dtype)
        a, s2 = alpha_sigma2(t, x.shape[0], dtype=self.dtype, device=self.device)  # (B, 1)
        xc = x - a * self.center  # (B, d) x'
        logits = self.log_pi + (a / s2) * (xc @ self.pc.T - a * self.half_sq)  # (B, n)
        w = torch.softmax(logits, dim=1)  # (B, n)
        return (a * (w @ self.pc) - xc) / s2  # (B, d)

    def sample(self, m: int, generator: torch.Generator, t) -> torch.Tensor:
        """m draws X ~ Phat_t: i ~ pi, z ~ N(0, I), X = alpha_t x_i + sigma_t z; (m, d).

        Draws run on the generator's device (indices first, then normals) and the result is
        moved to the target's device; t is a float or an (m,) tensor.
        """
        m = as_positive_int(m, "m")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator: must be a torch.Generator, got {type(generator).__name__}")
        gdev = generator.device
        if self.uniform:
            idx = torch.randint(self.n, (m,), generator=generator, device=gdev)
        else:
            idx = torch.multinomial(self.pi.to(gdev), m, replacement=True, generator=generator)
        z = torch.randn((m, self.d), generator=generator, device=gdev, dtype=torch.float64)
        a, s2 = alpha_sigma2(t, m, dtype=torch.float64, device=self.device)
        x0 = self.points.to(torch.float64)[idx.to(self.device)]  # (m, d)
        return (a * x0 + torch.sqrt(s2) * z.to(self.device)).to(self.dtype)


class MixtureScoreTarget:
    """grad log p_t of a ``theory.GaussianMixture``, in closed form.

    ``loss_weight_power`` = 2: Theorem 5.1 bounds this target's error by eps / sigma_t^2.
    """

    loss_weight_power = 2
    name = "true"

    def __init__(self, mixture: GaussianMixture, *, dtype=torch.float64, device="cpu"):
        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"mixture: must be a theory.GaussianMixture, got {type(mixture).__name__}")
        self.mixture = mixture
        self.dtype, self.device = dtype, torch.device(device)
        lam, U = np.linalg.eigh(mixture.covs)  # (K, d), (K, d, d)
        as_t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device)  # noqa: E731
        self.lam, self.U, self.means = as_t(lam), as_t(U), as_t(mixture.means)
        with np.errstate(divide="ignore"):
            self.log_pi = as_t(np.log(mixture.weights))  # (K,)

    @property
    def d(self) -> int:
        return self.mixture.d

    @property
    def K(self) -> int:
        return self.mixture.K

    def __repr__(self) -> str:
        return f"MixtureScoreTarget(K={self.K}, d={self.d}, dtype={self.dtype}, device={self.device})"

    def to(self, device=None, dtype=None) -> MixtureScoreTarget:
        """The same target on another device and/or dtype."""
        return MixtureScoreTarget(self.mixture, dtype=dtype or self.dtype, device=device or self.device)

    def sample(self, m: int, generator: torch.Generator, t) -> torch.Tensor:
        """m draws X ~ P_t: k ~ pi, z ~ N(0, I), X = alpha_t mu_k + U_k diag(alpha_t^2 lam_k + sigma_t^2)^1/2 z; (m, d).

        The population law (n = infinity) against which the true target's W* is a reference (A3).
        Draws run on the generator's device; t is a float or an (m,) tensor.
        """
        m = as_positive_int(m, "m")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator: must be a torch.Generator, got {type(generator).__name__}")
        gdev = generator.device
        pi = torch.tensor(self.mixture.weights, dtype=torch.float64, device=gdev)
        k = torch.multinomial(pi, m, replacement=True, generator=generator)
        z = torch.randn((m, self.d), generator=generator, device=gdev, dtype=torch.float64).to(self.device)
        k = k.to(self.device)
        a, s2 = alpha_sigma2(t, m, dtype=torch.float64, device=self.device)  # (m, 1)
        lam = self.lam.to(torch.float64)[k]  # (m, d)
        U = self.U.to(torch.float64)[k]  # (m, d, d)
        y = torch.sqrt(a * a * lam + s2) * z  # (m, d) in the eigenbasis
        x = a * self.means.to(torch.float64)[k] + torch.einsum("mij,mj->mi", U, y)
        return x.to(self.dtype)

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        """grad log p_t(x) = sum_k r_k g_k: (B, d)."""
        _check_x(x, self.d)
        x = x.to(device=self.device, dtype=self.dtype)
        a, s2 = alpha_sigma2(t, x.shape[0], dtype=self.dtype, device=self.device)  # (B, 1)
        diff = x[:, None, :] - a[:, :, None] * self.means[None]  # (B, K, d)
        y = torch.einsum("kji,bkj->bki", self.U, diff)  # (B, K, d) U_k^T diff
        c = a[:, :, None] ** 2 * self.lam[None] + s2[:, :, None]  # (B, K, d) eig(C_k)
        q = y / c  # (B, K, d)
        logp = self.log_pi - 0.5 * ((y * q).sum(2) + torch.log(c).sum(2) + self.d * _LOG_2PI)  # (B, K)
        r = torch.softmax(logp, dim=1)  # (B, K)
        g = -torch.einsum("kij,bkj->bki", self.U, q)  # (B, K, d) -C_k^{-1} diff
        return torch.einsum("bk,bkd->bd", r, g)  # (B, d)
