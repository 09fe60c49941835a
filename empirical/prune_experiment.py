"""The pruning experiment of Section 6 (claims M1-M4), as resumable stages.

    data      digits (embedded) or CIFAR-10 (local folder): a random training subset of n images
              (indices saved), and the whole set as the reference of the quality metrics
    original  a DiT trained by DSM until it memorizes (checkpointed; resumes exactly)
    pruned    Algorithm 1: importance scores (Algorithm 2, time law Beta(0.8, 2) on log time) or the
              random baseline, floor(eta H) heads removed physically (memorization measured right
              then, from the same sample seeds), then M fine-tuning steps
    evaluate  m samples from per-sample seeds (the SAME seeds for every model: Figure 4 pairs them)
              -> memorization ratio (1/3 rule on flattened images, Wilson CI), precision / recall
              (k = 3) and Frechet distance in pixel space and in a small classifier's features, and
              the DSM loss at small t on the training images (what the importance score targets)

Each stage is a JSON point of ``empirical.sweep.run_sweep`` (one file per finished stage; the model
weights go next to it as ``<key>.pt``), so M1-M4 share one original model and a killed run resumes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from theory import derive_seed

from .datasets import load_cifar10, load_digits, subset
from .diffusion import DiffusionConfig, NoiseScore, count_parameters, dsm_noise_loss, train_diffusion
from .dit import DiT, load_dit, make_dit, save_dit
from .image_metrics import PixelFeatures, frechet_distance, precision_recall, train_classifier
from .metrics import memorization
from .pruning import draw_importance_times, head_count, importance_scores, prune_heads, random_heads, select_heads
from .sampling import sample, sample_seeds
from .sweep import record_key

__all__ = ["PruneSetting", "original_point", "pruned_point", "run_stage", "stage_samples"]


@dataclass(frozen=True)
class PruneSetting:
    """Defaults: the digits model first measured on 2 CPU cores (DiT depth 4, width 128, 4 heads, patch 2; n = 32, lr 1e-3, 6,000 steps:
    78% of samples memorized there)."""

    dataset: str = "digits"                # "digits" or "cifar10"
    data_path: str | None = None           # the cifar-10-batches-py folder for "cifar10"
    n: int = 32
    preset: str = "dit-tiny"
    train: DiffusionConfig = field(default_factory=lambda: DiffusionConfig(steps=6000, batch=128, lr=1e-3,
                                                                           warmup=200, log_every=250))
    finetune: DiffusionConfig = field(default_factory=lambda: DiffusionConfig(steps=500, batch=128, lr=1e-4,
                                                                              warmup=0, log_every=100))
    importance_batches: int = 20
    importance_batch: int = 64
    time_map: str = "log"
    small_t: tuple[float, float] = (1e-3, 0.1)   # the "small t" range of the loss diagnostic
    n_samples: int = 256
    sample_steps: int = 100
    method: str = "ode"
    classifier_steps: int = 600

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for k in ("train", "finetune"):
            out[k].pop("device")
        return out


def load_data(s: PruneSetting, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(training images (n, C, H, W), their indices, all images, all labels)."""
    if s.dataset == "digits":
        x, y = load_digits()
    elif s.dataset == "cifar10":
        if not s.data_path:
            raise ValueError("data_path: the cifar10 data set needs a local cifar-10-batches-py folder")
        x, y = load_cifar10(s.data_path)
    else:
        raise ValueError(f"dataset: must be 'digits' or 'cifar10', got {s.dataset!r}")
    idx = subset(len(x), s.n, derive_seed(seed, "subset"))
    return x[idx], idx, x, y


def original_point(s: PruneSetting, seed: int) -> dict:
    return {"stage": "original", "setting": s.to_dict(), "seed": seed}


def pruned_point(s: PruneSetting, seed: int, method: str, eta: float, prune_seed: int = 0) -> dict:
    if method not in ("importance", "random"):
        raise ValueError(f"method: must be 'importance' or 'random', got {method!r}")
    return {"stage": "pruned", "setting": s.to_dict(), "seed": seed, "method": method, "eta": float(eta),
            "prune_seed": int(prune_seed), "evaluate_before_finetune": True}


def _setting(d: dict) -> PruneSetting:
    d = dict(d)
    d["train"] = DiffusionConfig(**d["train"])
    d["finetune"] = DiffusionConfig(**d["finetune"])
    d["small_t"] = tuple(d["small_t"])
    return PruneSetting(**d)


def stage_samples(model: DiT, s: PruneSetting, seed: int, device="cpu") -> np.ndarray:
    """(m, C, H, W) samples from the per-sample seeds shared by every model of one experiment seed."""
    c = model.cfg
    return sample(NoiseScore(model), (c.channels, c.image_size, c.image_size),
                  seeds=sample_seeds(derive_seed(seed, "samples"), s.n_samples), method=s.method,
                  steps=s.sample_steps, t0=s.train.t0, T=s.train.T, device=device).double().numpy()


def small_t_loss(model: DiT, data: np.ndarray, s: PruneSetting, seed: int, draws: int = 512) -> float:
    """Mean DSM loss at small t (log-uniform on s.small_t) on the training images, fixed draws."""
    gen = torch.Generator().manual_seed(derive_seed(seed, "small-t"))
    p = next(model.parameters())
    x = torch.as_tensor(data, dtype=p.dtype)
    idx = torch.randint(0, x.shape[0], (draws,), generator=gen)
    lo, hi = s.small_t
    t = torch.exp(np.log(lo) + torch.rand(draws, generator=gen, dtype=torch.float64) * (np.log(hi) - np.log(lo)))
    z = torch.randn(x[idx].shape, generator=gen)
    with torch.no_grad():
        return float(dsm_noise_loss(model, x[idx].to(p.device), t.to(p.device), z.to(p.device)).mean())


_CLASSIFIERS: dict = {}


def _classifier(dataset, data_path, seed, steps, ref, labels):
    """The feature classifier of one experiment seed, trained once per process (deterministic, so caching
    only saves time)."""
    key = (dataset, data_path, seed, steps)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS.clear()
        _CLASSIFIERS[key] = train_classifier(ref, labels, seed=seed, steps=steps)
    return _CLASSIFIERS[key]


def _evaluate(model: DiT, s: PruneSetting, seed: int, data, ref, labels, device) -> dict:
    xs = stage_samples(model, s, seed, device)
    flat = xs.reshape(len(xs), -1)
    mem = memorization(flat, data.reshape(len(data), -1))
    out = {"memorization": mem["ratio"], "memorized": mem["count"], "m": mem["m"], "ci": list(mem["ci"]),
           "nn1": mem["nn1"].tolist(), "memorized_mask": mem["memorized"].tolist(),
           "small_t_loss": small_t_loss(model, data, s, seed), "parameters": count_parameters(model),
           "heads": list(model.cfg.heads)}
    feats = {"pixels": PixelFeatures()}
    clf = _classifier(s.dataset, s.data_path, seed, s.classifier_steps, ref, labels)
    feats["classifier"] = clf
    out["classifier_accuracy"] = clf.accuracy
    for name, f in feats.items():
        fr, fg = f(ref), f(xs)
        p, r = precision_recall(fr, fg, k=3)
        out[f"precision_{name}"], out[f"recall_{name}"] = p, r
        out[f"fd_{name}"] = frechet_distance(fr, fg)
    out["samples"] = xs.astype(np.float32).round(4).tolist() if s.n_samples <= 512 else None
    return out


def run_stage(point: dict, folder: Path, device: str = "cpu", progress: bool = False) -> dict:
    """Compute one stage (the ``fn`` of run_sweep); its model is written to folder/<key>.pt."""
    s = _setting(point["setting"])
    seed = point["seed"]
    data, idx, ref, labels = load_data(s, seed)
    folder = Path(folder)
    if point["stage"] == "original":
        torch.manual_seed(derive_seed(seed, "init"))
        model = make_dit(s.preset, image_size=data.shape[2], channels=data.shape[1])
        cfg = dataclasses.replace(s.train, seed=derive_seed(seed, "train"), device=device)
        res = train_diffusion(data, cfg, model=model, checkpoint=folder / f"{record_key(point)}.ckpt",
                              checkpoint_every=500, resume=True, progress=progress)
        model = res.ema_model.cpu()
        out = {"losses": res.losses, "train_seconds": res.seconds, "indices": idx.tolist()}
    else:
        orig = original_point(s, seed)
        path = folder / f"{record_key(orig)}.pt"
        if not path.is_file():          # weights are not kept in git: retrain (resuming its checkpoint if any)
            run_stage(orig, folder, device, progress)
        base = load_dit(path)
        if point["method"] == "importance":
            imp = importance_scores(base, data, batches=s.importance_batches, batch=s.importance_batch,
                                    t0=s.train.t0, T=s.train.T, time_map=s.time_map, seed=derive_seed(seed, "imp"))
            remove = select_heads(imp, point["eta"])
        else:
            imp = None
            remove = random_heads(base, point["eta"], derive_seed(seed, "random", point["prune_seed"]))
        pruned = prune_heads(base, remove)
        before = small_t_loss(pruned, data, s, seed)
        mem0 = memorization(stage_samples(pruned, s, seed, device).reshape(s.n_samples, -1),
                            data.reshape(len(data), -1))
        out = {"importance": [v.tolist() for v in imp] if imp is not None else None,
               "removed": {str(k): v for k, v in remove.items()}, "heads_removed": sum(len(v) for v in remove.values()),
               "heads_total": head_count(base), "small_t_loss_before_finetune": before,
               "memorization_before_finetune": mem0["ratio"], "memorized_before_finetune": mem0["count"],
               "memorized_mask_before_finetune": mem0["memorized"].tolist()}
        if s.finetune.steps > 0 and out["heads_removed"] > 0:
            cfg = dataclasses.replace(s.finetune, seed=derive_seed(seed, "finetune", point["method"], point["prune_seed"]),
                                      device=device)
            res = train_diffusion(data, cfg, model=pruned, checkpoint=folder / f"{record_key(point)}.ckpt",
                                  checkpoint_every=250, resume=True, progress=progress)
            pruned = res.ema_model.cpu()
            out["finetune_losses"] = res.losses
        model = pruned
    save_dit(folder / f"{record_key(point)}.pt", model)
    out.update(_evaluate(model, s, seed, data, ref, labels, device))
    return out
