"""One-shot attention-head pruning of a DiT (Algorithms 1 and 2 of the paper; claim M1).

Algorithm 2 (ImportanceScore). Attach a gate xi_h = 1 to every head's output. For each batch of
training images x_0: draw t from the time law T, z ~ N(0, I), compute the DSM loss L of
``empirical.diffusion.dsm_noise_loss`` and accumulate

    S(h) += | dL / dxi_h |,          then   I(h) = S(h) / sqrt( sum_{h' in layer(h)} S(h')^2 ).

The time law puts more mass on small t: u ~ Beta(0.8, 2) on [0, 1], mapped onto the diffusion's
time range [t0, T] by ``time_map``:

    "ddpm"    (default) the DiT code base's discrete schedule: 1,000 steps with betas linear from 1e-4 to
              0.02 (Ho et al. 2020; facebookresearch/DiT's ``create_diffusion``), step i = floor(1000 u), and
              the OU time with the same signal level, alpha_t^2 = exp(-t) = alpha_bar_i, i.e.
              t = -log alpha_bar_i = -sum_{j <= i} log(1 - beta_j), clipped to [t0, T];
    "log"     t = exp(log t0 + u (log T - log t0)), the geometry our training draws t in;
    "linear"  t = t0 + u (T - t0).

[The paper gives the Beta law on [0, 1] without the map. The paper's models are DiTs trained with the
DiT code base, whose time variable is the DDPM step index, so Beta(0.8, 2) on [0, 1] most likely
scales the step index: "ddpm" is the default (chosen before any result under it was seen). Its median
noise level is sigma_t^2 ~ 0.5, against ~ 0.01 under "log", so the maps disagree on which heads are
"unimportant at small t"; M2 reports the outcome under each.]

Algorithm 1. Remove the floor(eta * H) heads with the lowest I over all layers (H = total heads)
PHYSICALLY: ``prune_heads`` slices the rows of each layer's qkv projection and the columns of its
output projection that belong to the removed heads, so per-layer head counts may differ; then
fine-tune M steps (``empirical.diffusion.train_diffusion`` with ``model=``). Random pruning at the
same eta (``random_heads``) is the baseline.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch

from memsep.theory import derive_seed

from .diffusion import dsm_noise_loss
from .dit import DiT

__all__ = [
    "draw_importance_times",
    "importance_scores",
    "select_heads",
    "random_heads",
    "prune_heads",
    "head_count",
    "ddpm_times",
    "TIME_MAPS",
]

TIME_MAPS = ("ddpm", "log", "linear")
DDPM_STEPS = 1000
DDPM_BETAS = (1e-4, 0.02)


def ddpm_times(u: torch.Tensor, t0: float, T: float) -> torch.Tensor:
    """(m,) OU times of the DDPM steps floor(1000 u) (module doc): t = -log alpha_bar_i, clipped to [t0, T]."""
    betas = np.linspace(DDPM_BETAS[0], DDPM_BETAS[1], DDPM_STEPS, dtype=np.float64)
    t_of_step = torch.as_tensor(-np.cumsum(np.log1p(-betas)), dtype=torch.float64)  # (1000,)
    i = torch.clamp((u * DDPM_STEPS).floor().long(), 0, DDPM_STEPS - 1)
    return torch.clamp(t_of_step[i], t0, T)


def head_count(model: DiT) -> int:
    return sum(a.heads for a in model.attentions)


def draw_importance_times(
    m: int, t0: float, T: float, generator: torch.Generator, *, a: float = 0.8, b: float = 2.0, time_map: str = "ddpm"
) -> torch.Tensor:
    """(m,) float64 times: u ~ Beta(a, b) mapped onto [t0, T] (module doc)."""
    if time_map not in TIME_MAPS:
        raise ValueError(f"time_map: must be one of {TIME_MAPS}, got {time_map!r}")
    if not (0 < t0 < T):
        raise ValueError(f"t0, T: must satisfy 0 < t0 < T, got {t0}, {T}")
    # Beta(a, b) = G_a / (G_a + G_b) from gamma draws of torch's generator (reproducible from ``generator``)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    rng = np.random.default_rng(seed)
    u = torch.as_tensor(rng.beta(a, b, size=m), dtype=torch.float64)
    if time_map == "ddpm":
        return ddpm_times(u, t0, T)
    if time_map == "log":
        return torch.exp(math.log(t0) + u * (math.log(T) - math.log(t0)))
    return t0 + u * (T - t0)


def importance_scores(
    model: DiT,
    data,
    *,
    batches: int = 20,
    batch: int = 64,
    t0: float = 1e-3,
    T: float = 8.0,
    time_map: str = "ddpm",
    seed: int = 0,
) -> list[np.ndarray]:
    """Algorithm 2: per layer, the normalised importances I (h_l,) of its heads. data: (n, C, H, W)."""
    x_all = torch.as_tensor(np.asarray(data), dtype=next(model.parameters()).dtype)
    if x_all.ndim != 4:
        raise ValueError(f"data: must have shape (n, C, H, W), got {tuple(x_all.shape)}")
    device = next(model.parameters()).device
    x_all = x_all.to(device)
    gen = torch.Generator().manual_seed(derive_seed(seed, "importance"))
    attns = model.attentions
    S = [torch.zeros(a.heads, dtype=torch.float64) for a in attns]
    was_training = model.training
    model.eval()
    try:
        for a in attns:
            a.gate = torch.ones(a.heads, device=device, requires_grad=True)
        for _ in range(batches):
            idx = torch.randint(0, x_all.shape[0], (batch,), generator=gen)
            t = draw_importance_times(batch, t0, T, gen, time_map=time_map).to(device)
            z = torch.randn(x_all[idx].shape, generator=gen).to(device=device, dtype=x_all.dtype)
            loss = dsm_noise_loss(model, x_all[idx.to(device)], t, z).mean()
            grads = torch.autograd.grad(loss, [a.gate for a in attns if a.heads > 0])
            it = iter(grads)
            for l, a in enumerate(attns):
                if a.heads > 0:
                    S[l] += next(it).detach().abs().double().cpu()
    finally:
        for a in attns:
            a.gate = None
        model.train(was_training)
    out = []
    for s in S:
        norm = float(torch.sqrt((s**2).sum()))
        out.append((s / norm).numpy() if norm > 0 else s.numpy())
    return out


def select_heads(importance: list[np.ndarray], eta: float) -> dict[int, list[int]]:
    """Algorithm 1 step 2: {layer: [head indices]} of the floor(eta * H) least important heads overall."""
    if not 0 <= eta < 1:
        raise ValueError(f"eta: must be in [0, 1), got {eta}")
    flat = [(float(v), l, h) for l, imp in enumerate(importance) for h, v in enumerate(imp)]
    k = math.floor(eta * len(flat))
    chosen = sorted(flat)[:k]  # ties broken by (layer, head): deterministic
    out: dict[int, list[int]] = {}
    for _, l, h in chosen:
        out.setdefault(l, []).append(h)
    return {l: sorted(v) for l, v in sorted(out.items())}


def random_heads(model: DiT, eta: float, seed: int) -> dict[int, list[int]]:
    """The baseline: floor(eta * H) heads drawn uniformly without replacement (seeded)."""
    if not 0 <= eta < 1:
        raise ValueError(f"eta: must be in [0, 1), got {eta}")
    heads = [(l, h) for l, a in enumerate(model.attentions) for h in range(a.heads)]
    k = math.floor(eta * len(heads))
    pick = np.random.default_rng(derive_seed(seed, "random-heads")).choice(len(heads), size=k, replace=False)
    out: dict[int, list[int]] = {}
    for i in sorted(pick):
        l, h = heads[i]
        out.setdefault(l, []).append(h)
    return out


def prune_heads(model: DiT, remove: dict[int, list[int]]) -> DiT:
    """A new DiT without the given heads: qkv rows and proj columns of those heads are sliced away."""
    new = copy.deepcopy(model)
    for l, hs in remove.items():
        if not 0 <= l < len(new.blocks):
            raise ValueError(f"remove: layer {l} out of range [0, {len(new.blocks)})")
        attn = new.blocks[l].attn
        hs = sorted(set(hs))
        if any(not 0 <= h < attn.heads for h in hs):
            raise ValueError(f"remove: layer {l} has heads 0..{attn.heads - 1}, got {hs}")
        keep = [h for h in range(attn.heads) if h not in hs]
        hd = attn.head_dim
        cols = torch.tensor([h * hd + i for h in keep for i in range(hd)], dtype=torch.long)  # (h' hd,)
        rows = torch.cat([part * attn.heads * hd + cols for part in range(3)])  # q, k, v blocks
        qkv, proj = attn.qkv, attn.proj
        with warnings.catch_warnings():  # every head removed: zero-size layers, whose init is a no-op
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            attn.qkv = torch.nn.Linear(qkv.in_features, rows.numel(), device=qkv.weight.device, dtype=qkv.weight.dtype)
            attn.proj = torch.nn.Linear(
                cols.numel(), proj.out_features, device=proj.weight.device, dtype=proj.weight.dtype
            )
        with torch.no_grad():
            attn.qkv.weight.copy_(qkv.weight[rows])
            attn.qkv.bias.copy_(qkv.bias[rows])
            attn.proj.weight.copy_(proj.weight[:, cols])
            attn.proj.bias.copy_(proj.bias)
        attn.heads = len(keep)
        new.cfg.heads[l] = len(keep)
    return new
