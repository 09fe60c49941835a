"""Diffusion transformer (DiT, Peebles & Xie 2023), unconditional, for the pruning claims M1-M4.

    x (B, C, H, W) -> patches (B, N, D), N = (H/p)(W/p), + fixed 2-D sin-cos position embedding
    c = MLP(freq_embed(100 log t))                                      time conditioning (B, D)
    block: (shift, scale, gate) x 2 = Linear(SiLU(c)) -> 6D, ZERO-initialised (adaLN-Zero)
           x = x + gate_msa * Attn(LN(x) (1 + scale_msa) + shift_msa)
           x = x + gate_mlp * MLP(LN(x) (1 + scale_mlp) + shift_mlp)
    final: LN(x) (1 + scale) + shift -> Linear(D, p^2 C), ZERO-initialised -> unpatchify (B, C, H, W)

so a fresh model outputs exactly 0. The output is the noise prediction eps_theta(x_t, t) of the
OU process (``empirical.diffusion``); time enters through log t, the natural scale of t in
[t0, T] = [1e-3, 8] (sinusoidal frequencies up to 1 on 100 log t).

Attention is multi-head self-attention through ``torch.nn.functional.scaled_dot_product_attention``
with a fixed head dimension and a per-layer head count (``heads`` may differ between layers after
pruning: ``empirical.pruning`` slices the qkv and output projections). Each attention layer has an
optional head gate xi (h_l,) multiplying every head's output before the output projection (the
mask of Algorithm 2); None (the default) means all ones and costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiTConfig", "DiT", "DIT_PRESETS", "make_dit", "save_dit", "load_dit"]


@dataclass
class DiTConfig:
    image_size: int = 8
    channels: int = 1
    patch: int = 2
    hidden: int = 128
    depth: int = 4
    heads: list[int] = field(default_factory=lambda: [4] * 4)  # per layer (may differ after pruning)
    head_dim: int = 32
    mlp_ratio: float = 4.0
    freq_dim: int = 256

    def validate(self) -> DiTConfig:
        for name in ("image_size", "channels", "patch", "hidden", "depth", "head_dim", "freq_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        if self.image_size % self.patch:
            raise ValueError(f"patch: must divide image_size = {self.image_size}, got {self.patch}")
        if len(self.heads) != self.depth or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 0 for h in self.heads
        ):
            raise ValueError(f"heads: must be {self.depth} non-negative ints (one per layer), got {self.heads!r}")
        if self.hidden % 2 or self.freq_dim % 2:
            raise ValueError(f"hidden, freq_dim: must be even, got {self.hidden}, {self.freq_dim}")
        if not self.mlp_ratio > 0:
            raise ValueError(f"mlp_ratio: must be > 0, got {self.mlp_ratio}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _preset(image_size, channels, patch, hidden, depth, n_heads) -> DiTConfig:
    return DiTConfig(image_size, channels, patch, hidden, depth, [n_heads] * depth, hidden // n_heads)


DIT_PRESETS: dict[str, DiTConfig] = {
    "dit-tiny": _preset(8, 1, 2, 128, 4, 4),  # 8x8 digits, about 1.3M parameters (the quick profile's model)
    "dit-mini": _preset(8, 1, 2, 64, 2, 4),  # tests: a few seconds of training
    "DiT-S/2": _preset(32, 3, 2, 384, 12, 6),  # Peebles & Xie's S/2 on 32x32 RGB
    "DiT-B/2": _preset(32, 3, 2, 768, 12, 12),  # B/2
}


def make_dit(preset: str, **overrides) -> DiT:
    """A fresh DiT from a preset name (fields of DiTConfig can be overridden)."""
    if preset not in DIT_PRESETS:
        raise ValueError(f"preset: unknown {preset!r}; known: {', '.join(DIT_PRESETS)}")
    cfg = DiTConfig(**{**DIT_PRESETS[preset].to_dict(), **overrides})
    if "depth" in overrides and "heads" not in overrides:
        cfg.heads = [DIT_PRESETS[preset].heads[0]] * cfg.depth
    return DiT(cfg)


def sincos_2d(dim: int, grid: int) -> np.ndarray:
    """(grid^2, dim) fixed 2-D sin-cos position embedding (half the channels per axis)."""
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))  # (dim/4,)
    ys, xs = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def axis(pos):
        out = np.einsum("m,d->md", pos.reshape(-1), omega)  # (N, dim/4)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)  # (N, dim/2)

    return np.concatenate([axis(ys), axis(xs)], axis=1)  # (N, dim)


def freq_embed(s: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B, dim) sinusoidal embedding of a scalar per row s (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=s.device) / half)
    arg = s.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
    """Multi-head self-attention with h heads of size head_dim; h = 0 outputs zeros."""

    def __init__(self, hidden: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(hidden, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, hidden)
        self.gate: torch.Tensor | None = None  # xi (h,), Algorithm 2's head mask; None = ones

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        if self.heads == 0:  # every head pruned: proj of nothing = its bias
            return self.proj.bias.expand(B, N, -1).clone()
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, h, N, hd)
        o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, h, N, hd)
        if self.gate is not None:
            o = o * self.gate.to(o.dtype)[None, :, None, None]
        return self.proj(o.transpose(1, 2).reshape(B, N, self.heads * self.head_dim))  # (B, N, D)


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int, head_dim: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads, head_dim)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        m = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, m), nn.GELU(approximate="tanh"), nn.Linear(m, hidden))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c):
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=1)
        x = x + g1[:, None, :] * self.attn(modulate(self.norm1(x), sh1, sc1))
        return x + g2[:, None, :] * self.mlp(modulate(self.norm2(x), sh2, sc2))


class DiT(nn.Module):
    """eps_theta(x (B, C, H, W), t (B,) or float) -> (B, C, H, W); see the module doc."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg = cfg.validate()
        D, p = cfg.hidden, cfg.patch
        self.grid = cfg.image_size // p
        self.patch_embed = nn.Conv2d(cfg.channels, D, kernel_size=p, stride=p)
        self.register_buffer("pos", torch.from_numpy(sincos_2d(D, self.grid)).float()[None], persistent=False)
        self.t_mlp = nn.Sequential(nn.Linear(cfg.freq_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.blocks = nn.ModuleList(Block(D, h, cfg.head_dim, cfg.mlp_ratio) for h in cfg.heads)
        self.norm_f = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.ada_f = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.out = nn.Linear(D, p * p * cfg.channels)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        w = self.patch_embed.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        nn.init.normal_(self.t_mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_mlp[2].weight, std=0.02)
        for blk in self.blocks:  # adaLN-Zero
            nn.init.zeros_(blk.ada[-1].weight)
            nn.init.zeros_(blk.ada[-1].bias)
        for m in (self.ada_f[-1], self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def attentions(self) -> list[Attention]:
        return [b.attn for b in self.blocks]

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        B, C, H, W = x.shape
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(B)
        h = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos  # (B, N, D)
        c = self.t_mlp(freq_embed(100.0 * torch.log(t), self.cfg.freq_dim).to(x.dtype))  # (B, D)
        for blk in self.blocks:
            h = blk(h, c)
        shift, scale = self.ada_f(c).chunk(2, dim=1)
        h = self.out(modulate(self.norm_f(h), shift, scale))  # (B, N, p*p*C)
        p, g = self.cfg.patch, self.grid
        h = h.reshape(B, g, g, p, p, C).permute(0, 5, 1, 3, 2, 4)  # (B, C, g, p, g, p)
        return h.reshape(B, C, H, W)


# A loaded configuration may describe at most this many position-embedding entries ((H/p)^2 x hidden; DiT-B/2 on
# 32x32 images has 196,608): a model file from elsewhere must not make the loader allocate gigabytes.
_MAX_POS_ENTRIES = 2**26


def save_dit(path, model: DiT) -> None:
    """Write ``{"config": DiTConfig as a dict, "state": state_dict}`` atomically (``empirical.fileio``)."""
    from .fileio import save_torch

    save_torch(path, {"config": model.cfg.to_dict(), "state": model.state_dict()})


def load_dit(path) -> DiT:
    """The DiT in a file written by :func:`save_dit`, in eval mode, on the CPU.

    Loaded without running code (``empirical.fileio.load_torch``, weights only); the configuration is validated and
    every weight is checked against the shape the configuration implies (built on the meta device, so a
    bad file costs no memory) and for finiteness. Any failure is a BadFileError naming the file."""
    from .fileio import BadFileError, load_torch, require_keys

    what = "a memsep DiT model file (config and state)"
    ck = require_keys(path, load_torch(path, what), ("config", "state"), what)
    if not isinstance(ck["config"], dict) or not isinstance(ck["state"], dict):
        raise BadFileError(path, f"is not {what} (config and state must be dicts)")
    try:
        cfg = DiTConfig(**ck["config"]).validate()
    except (TypeError, ValueError) as exc:
        raise BadFileError(path, f"has an invalid DiT configuration ({exc})") from None
    if (cfg.image_size // cfg.patch) ** 2 * cfg.hidden > _MAX_POS_ENTRIES:
        raise BadFileError(
            path,
            f"has an implausibly large DiT configuration (image_size {cfg.image_size}, "
            f"patch {cfg.patch}, hidden {cfg.hidden})",
        )
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in DiT(cfg).state_dict().items()}
    state = ck["state"]
    problems = [f"{k} missing" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} is not a float tensor of shape {expected[k]}"
        for k, v in state.items()
        if k in expected
        and not (isinstance(v, torch.Tensor) and v.is_floating_point() and tuple(v.shape) == expected[k])
    ]
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise BadFileError(path, f"does not match its DiT configuration ({'; '.join(problems[:3])}{more})")
    bad = [k for k, v in state.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise BadFileError(path, f"has non-finite weights in {', '.join(bad[:3])}")
    model = DiT(cfg)
    model.load_state_dict(state)
    return model.eval()
