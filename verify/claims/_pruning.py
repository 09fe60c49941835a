"""The pruning experiment shared by M1-M4: one original DiT per experiment seed, importance and random
pruning at eta, and the eta sweep; every stage a resumable sweep point (empirical.prune_experiment)
under results/sweeps/pruning/<profile>/stages, so whichever of M1-M4 runs first trains the models and
the others read them back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from empirical.diffusion import DiffusionConfig
from empirical.prune_experiment import PruneSetting, original_point, pruned_point, run_stage
from empirical.sweep import run_sweep

from ..registry import Context

SWEEP_OWNER = "pruning"


@dataclass(frozen=True)
class PruningConfig:
    setting: PruneSetting = field(default_factory=PruneSetting)
    eta: float = 0.2                                   # Table 1's ratio
    seeds: int = 1                                     # original models (experiment seeds); the paper: 5 runs
    random_reps: int = 3                               # random prunings per original model
    etas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)     # M4 sweep (0 = the original itself)


CONFIGS = {
    "ci": PruningConfig(setting=PruneSetting(preset="dit-mini", n=4,
                                             train=DiffusionConfig(steps=1500, batch=64, lr=2e-3, warmup=50,
                                                                   log_every=100),
                                             finetune=DiffusionConfig(steps=100, batch=64, lr=1e-4, warmup=0,
                                                                      log_every=50),
                                             importance_batches=4, importance_batch=32, n_samples=128,
                                             sample_steps=50, classifier_steps=150),
                        eta=0.25, random_reps=2, etas=(0.25, 0.5)),
    "quick": PruningConfig(),
    "full": PruningConfig(setting=PruneSetting(dataset="cifar10", data_path=None, n=5000, preset="DiT-S/2",
                                               train=DiffusionConfig(steps=400000, batch=128, lr=1e-4, warmup=1000,
                                                                     log_every=1000, grad_clip=1.0),
                                               finetune=DiffusionConfig(steps=20000, batch=128, lr=1e-4, warmup=0,
                                                                        log_every=500, grad_clip=1.0),
                                               importance_batches=100, importance_batch=128, n_samples=10000,
                                               sample_steps=250),
                          seeds=5, random_reps=5, etas=(0.1, 0.2, 0.3, 0.4, 0.5)),
}

FULL_COMMAND = ("memsep run --claims M1,M2,M3,M4 --profile full --device cuda --data /path/to/cifar-10-batches-py")


def run_experiment(ctx: Context, cfg: PruningConfig, *, sweep: bool = False) -> dict:
    """{("original", seed) | ("importance", seed, eta) | ("random", seed, eta, rep): record} (resumable)."""
    s = cfg.setting
    if s.dataset == "cifar10":
        if not (ctx.data_path or s.data_path):
            raise ValueError("data: this profile reads CIFAR-10 from a local cifar-10-batches-py folder; pass --data PATH")
        s = dataclasses.replace(s, data_path=ctx.data_path or s.data_path)
    base = ctx.shared_seed(SWEEP_OWNER)
    folder = ctx.sweep_dir("stages", owner=SWEEP_OWNER)
    jobs = []
    for k in range(cfg.seeds):
        seed = int(base + k) % 2**62
        jobs.append((("original", k), original_point(s, seed)))
        etas = sorted({cfg.eta, *cfg.etas}) if sweep else [cfg.eta]
        for eta in etas:
            jobs.append((("importance", k, eta), pruned_point(s, seed, "importance", eta)))
            for r in range(cfg.random_reps if eta == cfg.eta or not sweep else 1):
                jobs.append((("random", k, eta, r), pruned_point(s, seed, "random", eta, r)))
    out = {}
    for key, point in ctx.progress_bar(jobs, "pruning stages"):
        out[key] = run_sweep([point], lambda p: run_stage(p, folder, ctx.device, ctx.progress), folder)[0]
    return out


def reuse_note(res: dict) -> str:
    """How many stages this check computed and how many it read back, with the original's training time."""
    reused = sum(r["reused"] for r in res.values())
    train = [r["result"]["train_seconds"] for k, r in res.items() if k[0] == "original"]
    stage_s = sum(r["seconds"] for r in res.values())
    return (f"{len(res)} stages ({reused} read back from results/sweeps/pruning/, computed once for M1-M4); they took "
            f"{stage_s:.0f} s when computed, of which {sum(train):.0f} s training the original model(s). The runtime "
            "above counts only what this check computed.")


def mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
