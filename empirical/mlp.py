"""Plain ReLU networks, the class F(W, L, N) of Theorem 5.1 (claim A3).

    h_0     = [x, emb(t)]                                  (emb(t) only when time_conditioned)
    h_l     = ReLU(A_l h_{l-1} + b_l),   l = 1..depth      (hidden layers, width W)
    s(x, t) = A_{depth+1} h_depth + b_{depth+1}            (linear output, (B, d))

emb(t) = [sin(f_j log t), cos(f_j log t)]_j with f_j geometric in [1, 100]: the same
embedding as ``ScoreMLP`` (its ``embed`` is reused, not copied).

Size, as Theorem 5.1 counts it (``complexity()``):
    W = the largest hidden width (number of ReLU units in one layer);
    L = the number of weight (affine) layers = depth + 1, the convention of the
        score-approximation literature the theorem builds on (f = A_L ReLU(... ReLU(A_1 x + b_1)) + b_L);
        ``hidden_layers`` = depth is reported alongside;
    N = the number of NONZERO weights and biases (torch.count_nonzero), so pruning lowers it;
    params = the total number of weights and biases.

Initialisation: PyTorch's nn.Linear law (weights and biases uniform on +-1/sqrt(fan_in)),
drawn from the ``generator`` passed in (no global RNG), on CPU, then moved to ``device``,
so a seed gives the same network on every device.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .networks import ScoreMLP

__all__ = ["ReLUMLP"]

_embed = ScoreMLP.embed  # (module with a `freqs` buffer, t (B,)) -> (B, emb_dim); shared with ScoreMLP


class ReLUMLP(nn.Module):
    """s(x) or s(x, t): x (B, d), t scalar or (B,) -> (B, d); ``depth`` hidden ReLU layers of ``width``."""

    def __init__(
        self,
        d: int,
        width: int,
        depth: int,
        *,
        time_conditioned: bool = False,
        emb_dim: int = 16,
        generator: torch.Generator | None = None,
        device=None,
        dtype=torch.float32,
    ):
        super().__init__()
        for name, v in (("d", d), ("width", width), ("depth", depth), ("emb_dim", emb_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        if emb_dim % 2:
            raise ValueError(f"emb_dim: must be even, got {emb_dim}")
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator: must be a CPU torch.Generator (init runs on CPU), got {generator.device}")
        self.d, self.width, self.depth = d, width, depth
        self.time_conditioned = bool(time_conditioned)
        self.emb_dim = emb_dim if self.time_conditioned else 0
        if self.time_conditioned:
            self.register_buffer(
                "freqs", torch.exp(torch.linspace(0.0, math.log(100.0), emb_dim // 2, dtype=torch.float64))
            )
        dims = [d + self.emb_dim] + [width] * depth + [d]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=torch.float64) for a, b in zip(dims[:-1], dims[1:]))
        self.reset_parameters(generator)
        self.to(device=device, dtype=dtype)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Weights and biases uniform on +-1/sqrt(fan_in) (nn.Linear's law), from ``generator``."""
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                sample = torch.empty(p.shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
                p.copy_(sample.to(p.device, p.dtype))

    def forward(self, x: torch.Tensor, t=None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x: must have shape (B, {self.d}), got {tuple(x.shape)}")
        h = x
        if self.time_conditioned:
            if t is None:
                raise ValueError("t: required by a time-conditioned network")
            t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
            if t.ndim == 0:
                t = t.expand(x.shape[0])
            h = torch.cat([x, _embed(self, t).to(x.dtype)], dim=1)  # (B, d + emb)
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))  # (B, W)
        return self.layers[-1](h)  # (B, d)

    def complexity(self) -> dict:
        """{'W': max hidden width, 'L': weight layers (depth + 1), 'hidden_layers': depth,
        'N': nonzero weights and biases, 'params': all weights and biases}."""
        with torch.no_grad():
            n_nonzero = sum(int(torch.count_nonzero(p)) for p in self.parameters())
        return {
            "W": max(layer.out_features for layer in self.layers[:-1]),
            "L": len(self.layers),
            "hidden_layers": len(self.layers) - 1,
            "N": n_nonzero,
            "params": sum(p.numel() for p in self.parameters()),
        }

    def extra_repr(self) -> str:
        return f"d={self.d}, width={self.width}, depth={self.depth}, time_conditioned={self.time_conditioned}"
