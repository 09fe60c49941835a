"""Training a diffusion model by denoising score matching (eq. 3.1; claims A5, A6).

Forward process (theory.forward): X_t = alpha_t X_0 + sigma_t Z, alpha_t = exp(-t/2),
sigma_t^2 = 1 - exp(-t). The network predicts the noise, eps_theta(x_t, t) ~ Z, and is turned
into a score EXACTLY by

    s_theta(x, t) = -eps_theta(x, t) / sigma_t                                    (``NoiseScore``)

since the DSM target of (3.1) is grad_x log N(x_t; alpha_t x_0, sigma_t^2 I) = -Z / sigma_t. The
training loss is the DSM loss of s_theta with the usual weight lambda(t) = sigma_t^2 and t drawn
from a time law on [t0, T] (log-uniform by default, uniform as the option):

    L(theta) = E_t E_{x_0 ~ Phat} E_Z || eps_theta(alpha_t x_0 + sigma_t Z, t) - Z ||^2
             = E_t sigma_t^2 E || s_theta(X_t, t) - grad log N(X_t; alpha_t x_0, sigma_t^2 I) ||^2.

So its minimiser over all functions is the EMPIRICAL score (S1): what a network of enough
capacity learns, and memorizes with. Optimiser: AdamW (decoupled weight decay, the parameter the
paper sweeps in Figure 3b), linear warm-up then a constant rate, optional gradient clipping, and
an exponential moving average of the weights (``ema`` with the warm-up decay min(ema, (1+k)/(10+k))
after k updates) that is the model one samples from. Batches draw training rows uniformly with
replacement; every random draw comes from generators seeded by ``seed``.

Networks: ``ScoreMLP`` (sinusoidal embedding of log t, residual blocks) used as eps_theta, in the
named size presets of ``PRESETS``, which span the paper's Figure 3 range (about 24K to 44M
parameters at d = 32; counts differ slightly with d and are always reported measured).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from memsep.theory import derive_seed

from .fileio import save_torch
from .networks import ScoreMLP
from .regression import ADAMW_IMPLS, check_adamw_and_device, make_adamw, torch_device

__all__ = [
    "PRESETS",
    "make_network",
    "count_parameters",
    "DiffusionConfig",
    "ADAMW_IMPLS",
    "make_adamw",
    "DiffusionResult",
    "train_diffusion",
    "NoiseScore",
    "dsm_noise_loss",
    "load_checkpoint",
]

# name -> (width, residual blocks). Parameter count of ScoreMLP(d, W, L, emb 16):
# (d + 17) W + L (2 W^2 + 2 W) + W d + d, i.e. 6 W^2 + 87 W + 32 at d = 32 and L = 3.
PRESETS: dict[str, tuple[int, int]] = {
    "mlp-6k": (28, 3),
    "mlp-24k": (56, 3),
    "mlp-100k": (124, 3),
    "mlp-400k": (252, 3),
    "mlp-1.6m": (512, 3),
    "mlp-6m": (1000, 3),
    "mlp-12m": (1414, 3),  # the paper's fixed network of Figure 3a (right)
    "mlp-44m": (2700, 3),  # the paper's largest
}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def make_network(
    d: int, preset: str | None = None, *, width: int | None = None, depth: int | None = None, emb_dim: int = 16
) -> ScoreMLP:
    """eps_theta as a ScoreMLP: by ``preset`` name, or by explicit ``width`` (and ``depth``, default 3)."""
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"preset: unknown {preset!r}; known: {', '.join(PRESETS)}")
        if width is not None:
            raise ValueError("width: give a preset or a width, not both")
        width, pdepth = PRESETS[preset]
        depth = pdepth if depth is None else depth
    elif width is None:
        raise ValueError("preset, width: give one of them")
    return ScoreMLP(d, width=width, depth=3 if depth is None else depth, emb_dim=emb_dim)


@dataclass
class DiffusionConfig:
    """One DSM training run. Defaults: the mixture setting first measured on 2 CPU cores (batch 256, lr 1e-3, t
    log-uniform on [1e-3, 8], no weight decay)."""

    steps: int = 4000
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW decoupled weight decay (Figure 3b sweeps it)
    warmup: int = 100  # optimiser steps of linear warm-up, then constant lr (or the decay below)
    lr_final: float | None = None  # None: constant lr after warm-up; else cosine decay from lr to lr_final at the
    # last step (lr_k = lr_final + (lr - lr_final) (1 + cos(pi u)) / 2, u = progress)
    ema: float = 0.999  # EMA decay of the sampled weights (0: no EMA, sample the raw weights)
    grad_clip: float | None = None  # max global gradient norm
    t0: float = 1e-3
    T: float = 8.0
    time_law: str = "loguniform"  # "loguniform" or "uniform" on [t0, T]
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    log_every: int = 100
    adamw: str = "fused"  # AdamW's kernel: "fused" (fastest on every preset measured, benchmarks/bench_optimizer.py),
    # "foreach" or "torch-default" (torch's own choice); the same update, different rounding in the last bits

    def validate(self) -> DiffusionConfig:
        for name in ("steps", "batch", "log_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        for name in ("warmup", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}: must be a non-negative int, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: must be > 0 and finite, got {self.lr}")
        if self.lr_final is not None and not (0 < self.lr_final <= self.lr and math.isfinite(self.lr_final)):
            raise ValueError(f"lr_final: must be None or in (0, lr = {self.lr}], got {self.lr_final}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay: must be >= 0 and finite, got {self.weight_decay}")
        if not (0 <= self.ema < 1):
            raise ValueError(f"ema: must be in [0, 1), got {self.ema}")
        if self.grad_clip is not None and not (self.grad_clip > 0):
            raise ValueError(f"grad_clip: must be > 0 or None, got {self.grad_clip}")
        if not (0 < self.t0 < self.T and math.isfinite(self.T)):
            raise ValueError(f"t0, T: must satisfy 0 < t0 < T < inf, got t0={self.t0}, T={self.T}")
        if self.time_law not in ("loguniform", "uniform"):
            raise ValueError(f"time_law: must be 'loguniform' or 'uniform', got {self.time_law!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: must be 'float32' or 'float64', got {self.dtype!r}")
        check_adamw_and_device(self)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class DiffusionResult:
    model: nn.Module = field(repr=False)  # the raw trained weights
    ema_model: nn.Module = field(repr=False)  # the EMA weights (what one samples from); == model if ema = 0
    losses: list  # [(step, mean loss over the window ending at step)]
    seconds: float
    parameters: int
    config: DiffusionConfig
    snapshots: dict = field(default_factory=dict, repr=False)  # {step: EMA state_dict (CPU)} at ``snapshot_steps``

    def to_dict(self) -> dict:
        return {
            "losses": [list(p) for p in self.losses],
            "seconds": self.seconds,
            "parameters": self.parameters,
            "config": self.config.to_dict(),
        }


def lr_factor(k: int, cfg: DiffusionConfig) -> float:
    """Multiplier of cfg.lr at optimiser step k (0-based): linear warm-up over cfg.warmup steps, then constant, or a
    cosine decay to cfg.lr_final at the last step."""
    if cfg.warmup and k + 1 < cfg.warmup:
        return (k + 1) / cfg.warmup
    if cfg.lr_final is None:
        return 1.0
    span = max(cfg.steps - cfg.warmup, 1)
    u = min(max(k + 1 - cfg.warmup, 0) / span, 1.0)
    low = cfg.lr_final / cfg.lr
    return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * u))


def draw_times(m: int, t0: float, T: float, law: str, generator: torch.Generator, device) -> torch.Tensor:
    """(m,) float64 times on [t0, T]: log-uniform or uniform."""
    u = torch.rand(m, generator=generator, device=device, dtype=torch.float64)
    if law == "loguniform":
        return torch.exp(math.log(t0) + u * (math.log(T) - math.log(t0)))
    return t0 + u * (T - t0)


def dsm_noise_loss(model: nn.Module, x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Per-row || eps_theta(alpha_t x0 + sigma_t z, t) - z ||^2 for x0, z: (B, *shape) and t: (B,) (float64 times)."""
    bshape = (-1,) + (1,) * (x0.ndim - 1)
    alpha_t = torch.exp(-0.5 * t).to(x0.dtype).view(bshape)  # (B, 1, ...)
    sigma_t = torch.sqrt(-torch.expm1(-t)).to(x0.dtype).view(bshape)  # (B, 1, ...)
    x_t = alpha_t * x0 + sigma_t * z  # (B, *shape)
    return ((model(x_t, t.to(x0.dtype)) - z) ** 2).flatten(1).sum(1)  # (B,)


def _dist() -> tuple[int, int]:
    """(rank, world size) of torch.distributed when initialised (torchrun), else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


_CHECKPOINT_KEYS = (
    "step",
    "model",
    "ema",
    "opt",
    "sched",
    "gen",
    "losses",
    "window",
    "count",
    "seconds",
    "config",
    "n",
)


def load_checkpoint(path: Path, device) -> dict:
    """A training checkpoint written by ``train_diffusion``, loaded without running code
    (``empirical.fileio.load_torch``) and checked for the entries and types a resume needs."""
    from .fileio import BadFileError, load_torch, require_keys

    what = "a memsep training checkpoint"
    st = require_keys(path, load_torch(path, what, map_location=device), _CHECKPOINT_KEYS, what)
    checks = {
        "step": isinstance(st["step"], int) and st["step"] >= 1,
        "count": isinstance(st["count"], int) and st["count"] >= 0,
        "n": isinstance(st["n"], int),
        "config": isinstance(st["config"], dict),
        "model": isinstance(st["model"], dict),
        "opt": isinstance(st["opt"], dict),
        "sched": isinstance(st["sched"], dict),
        "ema": st["ema"] is None or isinstance(st["ema"], dict),
        "gen": isinstance(st["gen"], torch.Tensor) and st["gen"].dtype == torch.uint8,
        "losses": isinstance(st["losses"], list)
        and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in st["losses"]),
        "window": isinstance(st["window"], float),
        "seconds": isinstance(st["seconds"], float),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise BadFileError(path, f"is not {what} (bad {', '.join(bad)})")
    return st


def train_diffusion(
    data,
    cfg: DiffusionConfig | None = None,
    *,
    model: nn.Module | None = None,
    preset: str | None = "mlp-100k",
    width: int | None = None,
    depth: int | None = None,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
    snapshot_steps: tuple[int, ...] = (),
) -> DiffusionResult:
    """Train eps_theta on ``data`` (n, d), or (n, *shape) with a given ``model`` (a DiT on (n, C, H, W)
    images), with the DSM noise-prediction loss; see the module doc.

    The network is ``model`` if given, else ``make_network(d, preset, width=, depth=)`` initialised
    from ``cfg.seed`` (torch's default init under a seeded generator state).

    checkpoint: a file written atomically every ``checkpoint_every`` steps and at the end (model, EMA,
    optimiser, schedule, batch-generator state, loss curve); with ``resume`` an existing checkpoint is
    loaded and training continues from its step exactly as if it had never stopped (same batches, same
    numbers). Under torchrun (torch.distributed initialised) every rank draws the same global batch and
    trains on its 1/world slice, DistributedDataParallel averages the gradients, so the update is the
    single-process one up to the order of floating-point sums; only rank 0 writes the checkpoint.

    snapshot_steps: steps (1..steps) after which a CPU copy of the EMA weights is kept in
    ``DiffusionResult.snapshots`` (the checkpoint carries them, so a resumed run returns them too): one run
    of M_max steps gives the models fine-tuned M steps for every M in the list (the same batches as separate
    runs of M steps, since the batch stream does not depend on the length).
    """
    cfg = (cfg or DiffusionConfig()).validate()
    snapshot_steps = tuple(sorted(set(int(k) for k in snapshot_steps)))
    if any(not 1 <= k <= cfg.steps for k in snapshot_steps):
        raise ValueError(f"snapshot_steps: must lie in [1, steps = {cfg.steps}], got {snapshot_steps}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: must be a positive int, got {checkpoint_every!r}")
    x = np.asarray(data, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 1 or min(x.shape[1:]) < 1 or (model is None and x.ndim != 2):
        raise ValueError(f"data: must have shape (n, d) (or (n, *shape) with a given model), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("data: must be finite")
    rank, world = _dist()
    if cfg.batch % world:
        raise ValueError(f"batch: must be divisible by the number of processes ({world}), got {cfg.batch}")
    device = torch_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    dtype = {"float32": torch.float32, "float64": torch.float64}[cfg.dtype]
    n, d = x.shape[0], x.shape[1]
    if model is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, "init"))
            model = make_network(d, None if width is not None else preset, width=width, depth=depth)
    model = model.to(device=device, dtype=dtype)
    ema_model = copy.deepcopy(model).requires_grad_(False) if cfg.ema > 0 else model
    x0_all = torch.as_tensor(x, dtype=dtype, device=device)
    gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "batches"))
    opt = make_adamw(model.parameters(), cfg.adamw, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, cfg))
    losses: list[tuple[int, float]] = []
    window = torch.zeros((), dtype=torch.float64, device=device)
    count, first, seconds = 0, 1, 0.0
    snapshots: dict[int, dict] = {}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.is_file():
        st = load_checkpoint(ckpt, device)
        if st["config"] != cfg.to_dict() or st["n"] != n or st["step"] > cfg.steps:
            raise ValueError(
                f"resume: checkpoint {ckpt} was written for another configuration or data set; "
                "delete it or change the run directory"
            )
        try:
            model.load_state_dict(st["model"])
            if cfg.ema > 0:
                ema_model.load_state_dict(st["ema"])
            opt.load_state_dict(st["opt"])
            sched.load_state_dict(st["sched"])
            gen.set_state(st["gen"].cpu() if device.type == "cpu" else st["gen"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            from .fileio import BadFileError, reason

            raise BadFileError(ckpt, f"does not fit this model and optimiser ({reason(exc)})") from None
        losses, count, first, seconds = [tuple(v) for v in st["losses"]], st["count"], st["step"] + 1, st["seconds"]
        window.fill_(st["window"])
        snaps = st.get("snapshots") or {}
        if not isinstance(snaps, dict) or not all(isinstance(v, dict) for v in snaps.values()):
            from .fileio import BadFileError

            raise BadFileError(ckpt, "is not a memsep training checkpoint (bad snapshots)")
        snapshots.update({int(k): v for k, v in snaps.items()})
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    params = list(model.parameters())
    ema_params = list(ema_model.parameters())
    lo, hi = rank * cfg.batch // world, (rank + 1) * cfg.batch // world

    def state(step: int) -> dict:
        return {
            "step": step,
            "model": model.state_dict(),
            "ema": ema_model.state_dict() if cfg.ema > 0 else None,
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "gen": gen.get_state(),
            "losses": losses,
            "window": float(window),
            "count": count,
            "seconds": seconds + time.perf_counter() - start,
            "config": cfg.to_dict(),
            "n": n,
            **({"snapshots": {str(k): v for k, v in snapshots.items()}} if snapshot_steps else {}),
        }

    steps = range(first, cfg.steps + 1)
    if progress and rank == 0:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="DSM training", leave=False, initial=first - 1, total=cfg.steps)
    start = time.perf_counter()
    model.train()
    for step in steps:
        idx = torch.randint(0, n, (cfg.batch,), generator=gen, device=device)
        t = draw_times(cfg.batch, cfg.t0, cfg.T, cfg.time_law, gen, device)
        z = torch.randn((cfg.batch, *x.shape[1:]), generator=gen, device=device, dtype=dtype)
        loss = dsm_noise_loss(net, x0_all[idx[lo:hi]], t[lo:hi], z[lo:hi]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        if cfg.ema > 0:
            decay = min(cfg.ema, step / (step + 9.0))  # (1 + k) / (10 + k), k = step - 1
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        window += loss.detach().to(torch.float64)
        count += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            if world > 1:
                import torch.distributed as dist

                dist.all_reduce(window)
                window /= world
            losses.append((step, float(window) / count))
            if not math.isfinite(losses[-1][1]):
                raise FloatingPointError(
                    f"DSM training diverged at step {step} (loss {losses[-1][1]}); lower lr "
                    f"(now {cfg.lr}) or set grad_clip"
                )
            window.zero_()
            count = 0
            if progress and rank == 0 and hasattr(steps, "set_postfix"):
                steps.set_postfix(loss=f"{losses[-1][1]:.4g}")
        if step in snapshot_steps:
            snapshots[step] = {k: v.detach().to("cpu", copy=True) for k, v in ema_model.state_dict().items()}
        if ckpt is not None and rank == 0 and (step % checkpoint_every == 0 or step == cfg.steps):
            save_torch(ckpt, state(step))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds += time.perf_counter() - start
    model.eval()
    ema_model.eval()
    return DiffusionResult(
        model=model,
        ema_model=ema_model,
        losses=losses,
        seconds=seconds,
        parameters=count_parameters(model),
        config=cfg,
        snapshots=dict(sorted(snapshots.items())),
    )


class NoiseScore:
    """The score s(x, t) = -eps_theta(x, t) / sigma_t of a noise-prediction network; x: (B, *shape), t a float.

    Evaluated without gradients, in the network's dtype and device; returns the input's dtype."""

    def __init__(self, model: nn.Module):
        self.model = model
        p = next(model.parameters())
        self.dtype, self.device = p.dtype, p.device

    def eps(self, x: torch.Tensor, t: float) -> torch.Tensor:
        with torch.no_grad():
            tt = torch.full((x.shape[0],), float(t), dtype=self.dtype, device=self.device)
            return self.model(x.to(device=self.device, dtype=self.dtype), tt).to(device=x.device, dtype=x.dtype)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return -self.eps(x, t) / math.sqrt(-math.expm1(-float(t)))
