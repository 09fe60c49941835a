"""Time-conditioned MLP score networks s_theta(x, t) (used as "a random small network" in S1).

    emb(t)   = [sin(f_j log t), cos(f_j log t)]_j,  f_j geometric in [1, 100]   (sinusoidal, of log t)
    h_0      = W_in [x, emb(t)]
    h_{l+1}  = h_l + W_l2 SiLU(W_l1 SiLU(h_l))                                   (residual blocks)
    s(x, t)  = W_out SiLU(h_L)

``as_numpy_score`` wraps a module as the numpy callable s(x (m, d), t) -> (m, d) that the
theory functions take, evaluated without gradients in the module's dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ScoreMLP", "as_numpy_score", "default_device"]


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ScoreMLP(nn.Module):
    """s(x, t): x (B, d), t (B,) or scalar -> (B, d). width, depth (residual blocks) >= 1."""

    def __init__(self, d: int, width: int = 64, depth: int = 2, emb_dim: int = 16):
        super().__init__()
        for name, v in (("d", d), ("width", width), ("depth", depth), ("emb_dim", emb_dim)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        if emb_dim % 2:
            raise ValueError(f"emb_dim: must be even, got {emb_dim}")
        self.d, self.emb_dim = d, emb_dim
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(100.0), emb_dim // 2)))
        self.inp = nn.Linear(d + emb_dim, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width)) for _ in range(depth)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, d))

    def embed(self, t: torch.Tensor) -> torch.Tensor:
        arg = torch.log(t)[:, None] * self.freqs[None, :]  # (B, emb/2)
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)  # (B, emb)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        h = self.inp(torch.cat([x, self.embed(t)], dim=1))  # (B, W)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)  # (B, d)


def as_numpy_score(module: nn.Module, batch: int = 65536):
    """Wrap ``module(x, t)`` as a numpy score callable (m, d), t -> (m, d) (float64 output)."""
    param = next(module.parameters())

    def score(x: np.ndarray, t: float) -> np.ndarray:
        out = np.empty((x.shape[0], x.shape[1]))
        with torch.no_grad():
            for i in range(0, x.shape[0], batch):
                xb = torch.as_tensor(x[i : i + batch], dtype=param.dtype, device=param.device)
                out[i : i + batch] = module(xb, float(t)).double().cpu().numpy()
        return out

    return score
