"""The pruning experiment of Section 6 (claims M1-M4), as resumable stages.

    data      digits (embedded) or CIFAR-10 (local folder): a random training subset of n images
              (indices saved), and the whole set as the reference of the quality metrics
    original  a DiT trained by DSM until it memorizes (checkpointed; resumes exactly); its loss curve and
              a plateau statistic (``plateau``) say whether the training had converged
    arm       from the original: "control" (no pruning), "importance" (Algorithm 2 under a time map, then
              Algorithm 1's removal of floor(eta H) heads) or "random" (a random draw of as many heads), each
              evaluated right after pruning (M = 0) and after M fine-tuning steps for every M asked, from ONE
              fine-tuning run (EMA snapshots); every arm of an original uses the same fine-tuning batches
    rank      M1's reference: the small-t loss right after pruning for many random draws and for importance
              pruning under each time map (no fine-tuning)
    evaluate  m samples from per-sample seeds (the SAME seeds for every model of an original: same-noise pairs)
              -> memorization (1/3 rule on flattened images; the per-sample mask is kept, for paired tests),
              precision / recall (k = 3) and Frechet distance in pixel space and in a small classifier's
              features (at m samples, and extrapolated in 1/m to infinitely many), and the DSM loss at small t
              on the training images (what the importance score targets)

Each stage is a JSON point of ``empirical.sweep.run_sweep`` (one file per finished stage; the model
weights go next to it as ``<key>.pt``), so M1-M4 share one experiment and a killed run resumes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from memsep.theory import derive_seed

from .datasets import load_cifar10, load_digits, subset
from .diffusion import DiffusionConfig, NoiseScore, count_parameters, dsm_noise_loss, train_diffusion
from .dit import DiT, load_dit, make_dit, save_dit
from .heun import sample_with
from .image_metrics import PixelFeatures, frechet_distance, precision_recall
from .metrics import memorization
from .pruning import head_count, importance_scores, prune_heads, random_heads, select_heads
from .sampling import sample_seeds
from .sweep import record_key

__all__ = [
    "PruneSetting",
    "original_point",
    "arm_point",
    "rank_point",
    "run_stage",
    "stage_samples",
    "load_data",
    "plateau",
    "ARMS",
]

ARMS = ("control", "importance", "random")


@dataclass(frozen=True)
class PruneSetting:
    """Defaults: the digits model first measured on 2 CPU cores (DiT depth 4, width 128, 4 heads, patch 2; n = 32,
    lr 1e-3, 6,000 steps: 78% of samples memorized there). ``finetune.steps`` is the primary fine-tuning length M of
    Algorithm 1 (the arms' comparison); an arm may also be evaluated after other lengths (``arm_point(lengths=)``)."""

    dataset: str = "digits"  # "digits" or "cifar10"
    data_path: str | None = None  # the cifar-10-batches-py folder for "cifar10"
    n: int = 32
    preset: str = "dit-tiny"
    train: DiffusionConfig = field(
        default_factory=lambda: DiffusionConfig(
            steps=6000, batch=128, lr=1e-3, warmup=200, log_every=250, lr_final=1e-4
        )
    )
    finetune: DiffusionConfig = field(
        default_factory=lambda: DiffusionConfig(steps=500, batch=128, lr=1e-4, warmup=0, log_every=100)
    )
    importance_batches: int = 20
    importance_batch: int = 64
    time_map: str = "ddpm"  # Algorithm 2's map of Beta(0.8, 2) onto time (empirical.pruning)
    small_t: tuple[float, float] = (1e-3, 0.1)  # the "small t" range of the loss diagnostic
    n_samples: int = 256
    sample_steps: int = 50  # Heun x 50 (100 score evaluations): the smallest count the samplers' convergence test
    method: str = "heun"  # accepted on the quick original (results/samplers/convergence.json; first order x 100 failed)
    classifier_steps: int = 600
    plateau_window: float = 0.2  # convergence criterion of the original (``plateau``): over the last 20% of
    plateau_tol: float = 0.03  # the steps the training loss falls by less than 3% per 1,000 steps

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for k in ("train", "finetune"):
            out[k].pop("device")
        return out


def plateau(losses: list, window: float, tol: float) -> dict:
    """Convergence of a training run from its loss curve [(step, window mean)]: over the logged points of the last
    ``window`` fraction of the steps, the least-squares slope b of log(loss) against the step gives the relative
    decrease per 1,000 steps, rate = -1000 b (with its standard error from the fit);

        converged iff rate <= tol        (tol = 0.03: less than 3% per 1,000 steps)
    """
    steps = np.array([s for s, _ in losses], dtype=np.float64)
    vals = np.array([v for _, v in losses], dtype=np.float64)
    nan = {
        "rate": float("nan"),
        "rate_se": float("nan"),
        "converged": False,
        "points": 0,
        "from_step": None,
        "tol": tol,
        "window": window,
    }
    if steps.size < 4 or not np.all(vals > 0):
        return nan
    sel = steps >= steps.max() * (1 - window)
    x, y = steps[sel], np.log(vals[sel])
    if x.size < 3:
        return nan
    xm = x.mean()
    sxx = float(np.sum((x - xm) ** 2))
    b = float(np.sum((x - xm) * (y - y.mean())) / sxx)
    resid = y - (y.mean() + b * (x - xm))
    se = float(np.sqrt(np.sum(resid**2) / (x.size - 2) / sxx))
    rate = -1000.0 * b
    return {
        "rate": rate,
        "rate_se": 1000.0 * se,
        "converged": bool(rate <= tol),
        "points": int(x.size),
        "from_step": int(x.min()),
        "tol": tol,
        "window": window,
    }


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


def arm_point(
    s: PruneSetting,
    seed: int,
    arm: str,
    eta: float,
    *,
    time_map: str | None = None,
    draw: int = 0,
    lengths: tuple[int, ...] = (),
    keep_samples: bool = False,
) -> dict:
    """One arm of Algorithm 1 from the original of ``seed``: "control" (no pruning, the same fine-tuning),
    "importance" (Algorithm 2 under ``time_map``, default the setting's) or "random" (draw ``draw``) at ratio eta,
    fine-tuned for max(lengths) steps (at least the primary ``s.finetune.steps``) and evaluated after 0 steps
    (pruned arms) and after every length in ``lengths`` and the primary one; ``keep_samples`` keeps the samples
    after the primary length in the record (for a figure)."""
    if arm not in ARMS:
        raise ValueError(f"arm: must be one of {ARMS}, got {arm!r}")
    lens = tuple(sorted({int(v) for v in lengths} | {s.finetune.steps}))
    if any(v < 0 for v in lens):
        raise ValueError(f"lengths: must be >= 0, got {lengths}")
    return {
        "stage": "arm",
        "setting": s.to_dict(),
        "seed": seed,
        "arm": arm,
        "eta": 0.0 if arm == "control" else float(eta),
        "time_map": (time_map or s.time_map) if arm == "importance" else None,
        "draw": int(draw) if arm == "random" else 0,
        "lengths": list(lens),
        "keep_samples": bool(keep_samples),
    }


def rank_point(s: PruneSetting, seed: int, eta: float, draws: int, time_maps: tuple[str, ...]) -> dict:
    """M1's reference distribution: the small-t loss right after pruning for ``draws`` random prunings at eta, and
    for importance pruning under each time map (heads removed and their overlap), all from the original of seed."""
    return {
        "stage": "rank",
        "setting": s.to_dict(),
        "seed": seed,
        "eta": float(eta),
        "draws": int(draws),
        "time_maps": list(time_maps),
    }


def _setting(d: dict) -> PruneSetting:
    d = dict(d)
    d["train"] = DiffusionConfig(**d["train"])
    d["finetune"] = DiffusionConfig(**d["finetune"])
    d["small_t"] = tuple(d["small_t"])
    return PruneSetting(**d)


def stage_samples(model: DiT, s: PruneSetting, seed: int, device="cpu") -> np.ndarray:
    """(m, C, H, W) samples from the per-sample seeds shared by every model of one experiment seed."""
    c = model.cfg
    return (
        sample_with(
            s.method,
            NoiseScore(model),
            (c.channels, c.image_size, c.image_size),
            seeds=sample_seeds(derive_seed(seed, "samples"), s.n_samples),
            steps=s.sample_steps,
            t0=s.train.t0,
            T=s.train.T,
            device=device,
        )
        .double()
        .numpy()
    )


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


def _classifier(s: PruneSetting, seed: int, ref, labels, folder: Path):
    """The feature classifier of one experiment seed: trained once per (dataset, seed) and kept on disk next to the
    stages (``image_metrics.cached_classifier``: weights-only files, checked when read back) and in memory."""
    from .image_metrics import cached_classifier

    key = (s.dataset, s.data_path, seed, s.classifier_steps, str(folder))
    if key not in _CLASSIFIERS:
        _CLASSIFIERS.clear()
        _CLASSIFIERS[key] = cached_classifier(
            ref,
            labels,
            Path(folder) / "classifiers",
            dataset=s.dataset,
            data=s.data_path,
            seed=seed,
            steps=s.classifier_steps,
        )[0]
    return _CLASSIFIERS[key]


def _evaluate(
    model: DiT, s: PruneSetting, seed: int, data, ref, labels, device, folder: Path, *, keep_samples: bool = False
) -> dict:
    """Memorization (mask and NN1 per shared-noise sample), small-t loss, precision / recall (k = 3) and FD in pixel
    and classifier features (at the sample count, and extrapolated to infinitely many samples) of one model."""
    xs = stage_samples(model, s, seed, device)
    flat = xs.reshape(len(xs), -1)
    mem = memorization(flat, data.reshape(len(data), -1))
    out = {
        "memorized": mem["count"],
        "m": mem["m"],
        "nn1": mem["nn1"].tolist(),
        "mask": "".join("1" if v else "0" for v in mem["memorized"]),
        "small_t_loss": small_t_loss(model, data, s, seed),
        "parameters": count_parameters(model),
        "heads": list(model.cfg.heads),
        "k": 3,
    }
    clf = _classifier(s, seed, ref, labels, folder)
    out["classifier_accuracy"] = clf.accuracy
    for name, f in (("pixels", PixelFeatures()), ("classifier", clf)):
        fr, fg = f(ref), f(xs)
        p, r = precision_recall(fr, fg, k=3)
        out[f"precision_{name}"], out[f"recall_{name}"] = p, r
        out[f"fd_{name}"] = frechet_distance(fr, fg)
        out[f"fd_inf_{name}"], out[f"fd_inf_se_{name}"] = _fd_inf(fr, fg, seed)
    out["samples"] = xs.astype(np.float32).round(4).tolist() if keep_samples else None
    return out


def _fd_inf(fr, fg, seed) -> tuple[float, float]:
    """(FD extrapolated to infinitely many generated samples, the fit's se)
    (image_metrics.frechet_distance_extrapolated: FD at m, m/2 and m/4 generated samples, fitted as FD_inf + c / m)."""
    from .image_metrics import frechet_distance_extrapolated

    r = frechet_distance_extrapolated(fr, fg, seed=derive_seed(seed, "fd-extrapolation"))
    return float(r.fd_inf), float(r.se)


def _original_model(s: PruneSetting, seed: int, folder: Path, device, progress) -> DiT:
    orig = original_point(s, seed)
    path = folder / f"{record_key(orig)}.pt"
    if not path.is_file():  # weights are not kept: retrain (resuming its checkpoint if any), bit-identically
        run_stage(orig, folder, device, progress)
    return load_dit(path)


def _removed(model: DiT, data, s: PruneSetting, seed: int, eta: float, arm: str, time_map: str | None, draw: int):
    """(heads to remove {layer: [h]}, importance scores or None) of one arm."""
    if arm == "importance":
        imp = importance_scores(
            model,
            data,
            batches=s.importance_batches,
            batch=s.importance_batch,
            t0=s.train.t0,
            T=s.train.T,
            time_map=time_map,
            seed=derive_seed(seed, "imp"),
        )
        return select_heads(imp, eta), imp
    if arm == "random":
        return random_heads(model, eta, derive_seed(seed, "random", draw)), None
    return {}, None


def run_stage(point: dict, folder: Path, device: str = "cpu", progress: bool = False) -> dict:
    """Compute one stage (the ``fn`` of run_sweep); the original's and each arm's final weights go to
    folder/<key>.pt. Every arm of one seed fine-tunes with the same batch and noise stream (seed
    derive_seed(seed, "finetune")), so arms differ only in what was pruned."""
    s = _setting(point["setting"])
    seed = point["seed"]
    data, idx, ref, labels = load_data(s, seed)
    folder = Path(folder)
    if point["stage"] == "original":
        torch.manual_seed(derive_seed(seed, "init"))
        model = make_dit(s.preset, image_size=data.shape[2], channels=data.shape[1])
        cfg = dataclasses.replace(s.train, seed=derive_seed(seed, "train"), device=device)
        res = train_diffusion(
            data,
            cfg,
            model=model,
            checkpoint=folder / f"{record_key(point)}.ckpt",
            checkpoint_every=500,
            resume=True,
            progress=progress,
        )
        model = res.ema_model.cpu()
        save_dit(folder / f"{record_key(point)}.pt", model)
        return {
            "losses": res.losses,
            "train_seconds": res.seconds,
            "indices": idx.tolist(),
            "plateau": plateau(res.losses, s.plateau_window, s.plateau_tol),
            "eval": _evaluate(model, s, seed, data, ref, labels, device, folder, keep_samples=True),
        }
    base = _original_model(s, seed, folder, device, progress)
    if point["stage"] == "rank":
        out = {"original_small_t_loss": small_t_loss(base, data, s, seed), "importance": {}, "random_small_t_loss": []}
        for tm in point["time_maps"]:
            remove, imp = _removed(base, data, s, seed, point["eta"], "importance", tm, 0)
            out["importance"][tm] = {
                "removed": {str(k): v for k, v in remove.items()},
                "importance": [v.tolist() for v in imp],
                "small_t_loss": small_t_loss(prune_heads(base, remove), data, s, seed),
            }
        for r in range(point["draws"]):
            remove, _ = _removed(base, data, s, seed, point["eta"], "random", None, r)
            out["random_small_t_loss"].append(small_t_loss(prune_heads(base, remove), data, s, seed))
        out["heads_total"] = head_count(base)
        return out
    arm, eta = point["arm"], point["eta"]
    remove, imp = _removed(base, data, s, seed, eta, arm, point["time_map"], point["draw"])
    model = prune_heads(base, remove)
    out = {
        "removed": {str(k): v for k, v in remove.items()},
        "heads_removed": sum(len(v) for v in remove.values()),
        "heads_total": head_count(base),
        "importance": [v.tolist() for v in imp] if imp is not None else None,
        "evals": {},
    }
    lengths = [v for v in point["lengths"] if v > 0]
    if 0 in point["lengths"] or arm != "control":
        out["evals"]["0"] = _evaluate(model, s, seed, data, ref, labels, device, folder)
    if lengths:
        cfg = dataclasses.replace(s.finetune, steps=max(lengths), seed=derive_seed(seed, "finetune"), device=device)
        res = train_diffusion(
            data,
            cfg,
            model=model,
            checkpoint=folder / f"{record_key(point)}.ckpt",
            checkpoint_every=250,
            resume=True,
            progress=progress,
            snapshot_steps=tuple(lengths),
        )
        out["finetune_losses"] = res.losses
        for v in lengths:
            model.load_state_dict(res.snapshots[v])
            model.eval()
            out["evals"][str(v)] = _evaluate(
                model,
                s,
                seed,
                data,
                ref,
                labels,
                device,
                folder,
                keep_samples=point["keep_samples"] and v == s.finetune.steps,
            )
        model = res.ema_model.cpu()
    save_dit(folder / f"{record_key(point)}.pt", model)
    return out
