"""Fitting ReLU networks to an exact score by regression (claim A3, Theorem 5.1).

Theorem 5.1 asks how large a network s in F(W, L, N) must be for

    E_{X ~ Phat_t} ||s(X) - grad log phat_t(X)||^2 <= eps / sigma_t^4     (empirical target)
    E_{X ~ Phat_t} ||s(X) - grad log p_t(X)||^2    <= eps / sigma_t^2     (true target)

Both errors are measured under the EMPIRICAL noised law Phat_t. ``fit_score`` therefore trains
by plain regression on the exact target, each step on a FRESH batch X ~ Phat_t:

    fixed t:          loss = mean_b ||s(X_b) - target(X_b, t)||^2
    time-conditioned: t_b log-uniform on [t0, T] per sample,
                      loss = mean_b sigma_{t_b}^p ||s(X_b, t_b) - target(X_b, t_b)||^2

with p = ``weight_power`` (default: the target's ``loss_weight_power``, 4 for the empirical
score and 2 for the true score). Rationale: the theorem's bounds are eps/sigma_t^4 and
eps/sigma_t^2, so sigma_t^p ||s - target||^2 is the quantity it bounds by eps at every t;
weighting by sigma_t^p gives every time an equal share of the loss on the theorem's scale
(without it, the t near t0 dominate by a factor (T/t0)^p).

Optimiser: AdamW, learning rate with a linear warm-up over the first ``warmup`` fraction of
the steps and cosine decay to zero afterwards (the decay lets the last steps settle into the
small relative errors that separate widths; a constant rate stalls at the noise floor of Adam).

Evaluation (``evaluate``): ``eval_draws`` fresh draws from Phat_t (log-uniform t in the
time-conditioned case) made with a CPU generator seeded by ``eval_seed``, so every width,
training seed and device is scored on the same points; the model runs in its dtype, the
target and the squared errors in float64.

    error      = mean_j e_j,    e_j = w_j ||s(X_j) - target(X_j)||^2,  w_j = 1 (fixed t) or sigma_{t_j}^p
    target_sq  = mean_j w_j ||target(X_j)||^2
    rel_error  = error / target_sq;  standard errors: std(e_j)/sqrt(m), and for the ratio the
                 delta method std(e_j - rel_error * w_j ||target_j||^2) / (sqrt(m) target_sq).

Determinism: the network is initialised from a CPU torch.Generator seeded with
derive_seed(seed, "init") and the training data come from a generator on the run's device
seeded with derive_seed(seed, "data"); no global RNG is touched, so on CPU the same config
gives the same loss curve bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import torch

from memsep.theory import derive_seed

from .mlp import ReLUMLP
from .networks import default_device
from .targets import alpha_sigma2

__all__ = [
    "RegressionConfig",
    "FitResult",
    "fit_score",
    "evaluate",
    "torch_device",
    "DTYPES",
    "ADAMW_IMPLS",
    "make_adamw",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


ADAMW_IMPLS = ("torch-default", "foreach", "fused")


def check_adamw_and_device(cfg) -> None:
    """The fields RegressionConfig and DiffusionConfig share: ``adamw`` (ADAMW_IMPLS) and ``device``."""
    if cfg.adamw not in ADAMW_IMPLS:
        raise ValueError(f"adamw: must be one of {', '.join(ADAMW_IMPLS)}, got {cfg.adamw!r}")
    torch_device(cfg.device)


def make_adamw(params, impl: str, **kw) -> torch.optim.AdamW:
    """torch.optim.AdamW with the implementation ``impl`` (ADAMW_IMPLS): one update rule, three kernels."""
    if impl not in ADAMW_IMPLS:
        raise ValueError(f"adamw: must be one of {', '.join(ADAMW_IMPLS)}, got {impl!r}")
    extra = {} if impl == "torch-default" else {impl: True}
    return torch.optim.AdamW(params, **kw, **extra)


@dataclass
class RegressionConfig:
    """One regression fit. Defaults: the approximation setting first measured on 2 CPU cores (d = 2, t = 0.05,
    2 hidden layers, 3,000 steps), at which one fit takes seconds on a 2-core CPU."""

    width: int = 128  # W: hidden width
    depth: int = 2  # hidden ReLU layers (complexity()['L'] = depth + 1 weight layers)
    steps: int = 3000  # optimiser steps, one fresh batch each
    batch: int = 256  # draws from Phat_t per step
    lr: float = 3e-3  # peak AdamW learning rate
    warmup: float = 0.02  # fraction of steps of linear warm-up, then cosine decay to 0
    weight_decay: float = 0.0  # AdamW decoupled weight decay (0: pure approximation)
    t: float | None = 0.05  # fixed time; None = time-conditioned on [t0, T]
    t0: float = 1e-3  # time-conditioned: smallest time (log-uniform draws)
    T: float = 8.0  # time-conditioned: largest time
    weight_power: float | None = None  # time-conditioned loss weight sigma_t^p; None = target's (4 emp., 2 true)
    emb_dim: int = 16  # time-conditioned: sinusoidal embedding size of log t
    seed: int = 0  # init and training data (derived seeds)
    eval_seed: int = 5101  # evaluation draws: fixed, shared across fits
    eval_draws: int = 16384  # draws for the final error estimate
    device: str = "cpu"  # "cpu", "cuda" or "auto" (cuda when available)
    dtype: str = "float32"  # network dtype ("float32" or "float64"); targets stay float64
    log_every: int = 100  # loss-curve resolution (mean training loss per window)
    grad_clip: float | None = None  # max global gradient norm; None = no clipping (Adam is scale-free)
    adamw: str = "fused"  # AdamW's kernel (ADAMW_IMPLS; fused: fastest, benchmarks/bench_optimizer.py)

    def validate(self) -> RegressionConfig:
        """Raise ValueError naming the first bad field; return self."""
        for name in ("width", "depth", "steps", "batch", "emb_dim", "eval_draws", "log_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive int, got {v!r}")
        for name in ("seed", "eval_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}: must be a non-negative int, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if not (0 <= self.warmup < 1):
            raise ValueError(f"warmup: must be in [0, 1), got {self.warmup}")
        if not (self.weight_decay >= 0):
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if self.t is not None and not (self.t > 0 and math.isfinite(self.t)):
            raise ValueError(f"t: must be > 0 or None, got {self.t}")
        if self.t is None and not (0 < self.t0 < self.T and math.isfinite(self.T)):
            raise ValueError(f"t0, T: must satisfy 0 < t0 < T < inf, got t0={self.t0}, T={self.T}")
        if self.weight_power is not None and not (self.weight_power >= 0):
            raise ValueError(f"weight_power: must be >= 0 or None, got {self.weight_power}")
        if self.grad_clip is not None and not (self.grad_clip > 0):
            raise ValueError(f"grad_clip: must be > 0 or None, got {self.grad_clip}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        check_adamw_and_device(self)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class FitResult:
    """What one fit produced; ``to_dict`` is JSON-ready (no model)."""

    model: ReLUMLP = field(repr=False)
    losses: list  # [(step, mean training loss over the window ending at step)]
    error: float  # E ||s - target||^2 (weighted by sigma_t^p if time-conditioned)
    error_se: float  # its standard error
    target_sq: float  # E ||target||^2 on the same draws (same weights)
    rel_error: float  # error / target_sq
    rel_error_se: float  # delta-method standard error of rel_error
    init_rel_error: float  # rel_error of the untrained network, same draws
    complexity: dict  # ReLUMLP.complexity()
    seconds: float  # wall time of training (evaluation excluded)
    config: RegressionConfig
    device: str  # resolved device
    weight_power: float | None  # the loss weight power used (None for a fixed t)
    target: str = ""  # target name ("empirical", "true", ...)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        out["config"] = self.config.to_dict()
        out["losses"] = [list(p) for p in self.losses]
        return out


def torch_device(device) -> torch.device:
    """ "auto" -> cuda when available else cpu; "cpu"/"cuda"/torch.device pass through (checked)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return default_device()
    if device == "cpu" or (isinstance(device, str) and device.startswith("cuda")):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")
        return torch.device(device)
    raise ValueError(f"device: must be 'cpu', 'cuda' or 'auto', got {device!r}")


def _times(m: int, cfg: RegressionConfig, generator: torch.Generator, device) -> float | torch.Tensor:
    """cfg.t, or m times log-uniform on [t0, T] (float64, on ``device``)."""
    if cfg.t is not None:
        return float(cfg.t)
    u = torch.rand(m, generator=generator, device=generator.device, dtype=torch.float64)
    return torch.exp(math.log(cfg.t0) + u * (math.log(cfg.T) - math.log(cfg.t0))).to(device)


def _weight_power(target, cfg: RegressionConfig) -> float | None:
    if cfg.t is not None:
        return None
    if cfg.weight_power is not None:
        return float(cfg.weight_power)
    return float(getattr(target, "loss_weight_power", 0))


@torch.no_grad()
def evaluate(
    model, target, sampler, cfg: RegressionConfig, *, weight_power: float | None = None, chunk: int = 8192
) -> dict:
    """Error of ``model`` against ``target`` under Phat_t (draws from ``sampler``), see the module doc.

    Uses cfg.t (or log-uniform t on [cfg.t0, cfg.T]), cfg.eval_draws and cfg.eval_seed; returns
    {'error', 'error_se', 'target_sq', 'rel_error', 'rel_error_se'}.
    """
    param = next(model.parameters())
    gen = torch.Generator().manual_seed(derive_seed(cfg.eval_seed, "eval"))
    m = cfg.eval_draws
    t = _times(m, cfg, gen, "cpu")
    x = sampler.sample(m, gen, t).to(torch.float64)  # (m, d)
    e, q = [], []
    for i in range(0, m, chunk):
        xb = x[i : i + chunk]
        tb = t if isinstance(t, float) else t[i : i + chunk]
        y = target(xb, tb).to(device="cpu", dtype=torch.float64)  # (b, d)
        s = model(xb.to(param.device, param.dtype), tb if isinstance(tb, float) else tb.to(param.device))
        err = ((s.to(device="cpu", dtype=torch.float64) - y) ** 2).sum(1)  # (b,)
        sq = (y**2).sum(1)
        if weight_power is not None:
            _, s2 = alpha_sigma2(tb, xb.shape[0], dtype=torch.float64, device="cpu")
            w = s2[:, 0] ** weight_power
            err, sq = err * w, sq * w
        e.append(err)
        q.append(sq)
    e, q = torch.cat(e), torch.cat(q)
    error, target_sq = float(e.mean()), float(q.mean())
    rel = error / target_sq
    return {
        "error": error,
        "error_se": float(e.std()) / math.sqrt(m),
        "target_sq": target_sq,
        "rel_error": rel,
        "rel_error_se": float((e - rel * q).std()) / (math.sqrt(m) * target_sq),
    }


def _moved(obj, device):
    return obj.to(device=device) if hasattr(obj, "to") else obj


def fit_score(target, sampler_target, cfg: RegressionConfig | None = None) -> FitResult:
    """Train a ReLUMLP(d, cfg.width, cfg.depth) to ``target`` under X ~ Phat_t; see the module doc.

    target: callable (x (B, d) tensor, t float or (B,) tensor) -> (B, d), e.g. an
    EmpiricalScoreTarget or MixtureScoreTarget. sampler_target: provides
    ``sample(m, generator, t)`` drawing from Phat_t (the EmpiricalScoreTarget of the data) and ``d``.
    """
    cfg = (cfg or RegressionConfig()).validate()
    device = torch_device(cfg.device)
    dtype = DTYPES[cfg.dtype]
    target, sampler = _moved(target, device), _moved(sampler_target, device)
    d = sampler.d
    p = _weight_power(target, cfg)
    model = ReLUMLP(
        d,
        cfg.width,
        cfg.depth,
        time_conditioned=cfg.t is None,
        emb_dim=cfg.emb_dim,
        generator=torch.Generator().manual_seed(derive_seed(cfg.seed, "init")),
        device=device,
        dtype=dtype,
    )
    init = evaluate(model, target, sampler, cfg, weight_power=p)

    gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "data"))
    opt = make_adamw(model.parameters(), cfg.adamw, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_warm = int(cfg.warmup * cfg.steps)

    def lr_factor(step: int) -> float:  # step = optimiser steps taken so far
        if step < n_warm:
            return (step + 1) / n_warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - n_warm) / max(1, cfg.steps - n_warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    losses: list[tuple[int, float]] = []
    window = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    start = time.perf_counter()
    model.train()
    for step in range(1, cfg.steps + 1):
        t = _times(cfg.batch, cfg, gen, device)
        x = sampler.sample(cfg.batch, gen, t)  # (B, d)
        y = target(x, t).to(dtype)  # (B, d)
        per = ((model(x.to(dtype), t) - y) ** 2).sum(1)  # (B,)
        if p is not None:
            _, s2 = alpha_sigma2(t, cfg.batch, dtype=dtype, device=device)
            per = per * s2[:, 0] ** p
        loss = per.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        window += loss.detach().to(torch.float64)
        count += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            losses.append((step, float(window) / count))
            window.zero_()
            count = 0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    model.eval()
    final = evaluate(model, target, sampler, cfg, weight_power=p)
    return FitResult(
        model=model,
        losses=losses,
        error=final["error"],
        error_se=final["error_se"],
        target_sq=final["target_sq"],
        rel_error=final["rel_error"],
        rel_error_se=final["rel_error_se"],
        init_rel_error=init["rel_error"],
        complexity=model.complexity(),
        seconds=seconds,
        config=cfg,
        device=str(device),
        weight_power=p,
        target=getattr(target, "name", type(target).__name__),
    )
