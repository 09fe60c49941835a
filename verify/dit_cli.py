"""``memsep dit train | prune | sample | evaluate``: the pruning pipeline of M1-M4 on the user's data.

Each command works in a run directory (``--run DIR``) holding ``config.json`` (the resolved
configuration, seeds and versions), ``metrics.jsonl`` (one JSON line per logged event: training
losses, importances, metrics), ``checkpoint.pt`` (written atomically every ``--checkpoint-every``
steps; ``--resume`` continues exactly) and ``model.pt`` (the EMA weights). ``--dry-run`` prints the
resolved configuration and exits. Under ``torchrun --nproc_per_node=N memsep dit train ...`` the
training is data-parallel (gloo on CPU, nccl on GPU).

    memsep dit train    --run runs/orig  [--dataset digits|cifar10 --data PATH] [--n 32] [--preset dit-tiny]
    memsep dit prune    --run runs/imp20 --from runs/orig [--method importance|random] [--eta 0.2]
    memsep dit sample   --run runs/imp20 [--samples 256] [--seed 0]
    memsep dit evaluate --run runs/imp20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

__all__ = ["add_dit_parser", "run_dit"]


def add_dit_parser(sub, parser_class, positive_int, seed_type) -> None:
    dit = sub.add_parser("dit", help="train, prune, sample and evaluate a DiT on your data (M1-M4 pipeline)")
    steps = dit.add_subparsers(dest="dit_command", required=True, parser_class=parser_class)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    def common(p, run_help):
        p.add_argument("--run", type=Path, required=True, help=run_help)
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device")
        p.add_argument("--dry-run", action="store_true", help="print the resolved configuration as JSON and exit")
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    t = steps.add_parser("train", help="train a DiT by DSM on a random subset of n images", formatter_class=fmt)
    common(t, "run directory (created): config.json, metrics.jsonl, checkpoint.pt, model.pt")
    t.add_argument("--dataset", choices=("digits", "cifar10"), default="digits", help="embedded digits or CIFAR-10")
    t.add_argument("--data", type=str, default=None, help="local cifar-10-batches-py folder (for --dataset cifar10)")
    t.add_argument("--n", type=positive_int, default=32, help="training subset size")
    t.add_argument("--preset", default="dit-tiny", help="DiT preset: dit-mini, dit-tiny, DiT-S/2, DiT-B/2")
    t.add_argument("--steps", type=positive_int, default=6000, help="optimiser steps")
    t.add_argument("--batch", type=positive_int, default=128, help="global batch size")
    t.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    t.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    t.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (default: none)")
    t.add_argument("--seed", type=seed_type, default=0, help="seed of the subset, init and batches")
    t.add_argument("--checkpoint-every", type=positive_int, default=500, help="steps between checkpoints")
    t.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")

    p = steps.add_parser("prune", help="Algorithm 1: prune heads of a trained DiT, then fine-tune", formatter_class=fmt)
    common(p, "run directory of the pruned model (created)")
    p.add_argument("--from", dest="source", type=Path, required=True, help="run directory of the trained model")
    p.add_argument("--method", choices=("importance", "random"), default="importance", help="which heads to remove")
    p.add_argument("--eta", type=float, default=0.2, help="pruning ratio: floor(eta H) heads are removed")
    p.add_argument("--finetune-steps", type=int, default=500, help="fine-tuning steps after pruning (0: none)")
    p.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate")
    p.add_argument("--time-map", choices=("log", "linear"), default="log",
                   help="how Beta(0.8, 2) on [0, 1] maps onto [t0, T] for the importance scores")
    p.add_argument("--importance-batches", type=positive_int, default=20, help="batches of Algorithm 2")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the importance batches / random heads")
    p.add_argument("--resume", action="store_true", help="continue the fine-tuning from its checkpoint")

    s = steps.add_parser("sample", help="draw samples (per-sample seeds) from a run's model", formatter_class=fmt)
    common(s, "run directory with model.pt; writes samples.npy")
    s.add_argument("--samples", type=positive_int, default=256, help="number of samples")
    s.add_argument("--seed", type=seed_type, default=0, help="sample i uses a seed derived from (seed, i)")
    s.add_argument("--steps", type=positive_int, default=100, help="sampler steps (log-spaced from T to t0)")
    s.add_argument("--method", choices=("ode", "sde"), default="ode", help="probability-flow ODE or reverse SDE")

    e = steps.add_parser("evaluate", help="memorization, precision/recall and FD of a run's samples", formatter_class=fmt)
    common(e, "run directory with samples.npy; writes metrics to metrics.jsonl and evaluation.json")
    e.add_argument("--features", default="classifier",
                   help="feature space: classifier (trained here), pixels, or a TorchScript file path (e.g. Inception)")


def _write_config(run: Path, cfg: dict) -> None:
    from .env import environment
    from .io import atomic_write_json

    atomic_write_json(run / "config.json", {**cfg, "environment": {k: v for k, v in environment().items()
                                                                   if k in ("packages", "git_commit")}})


def _log(run: Path, record: dict) -> None:
    from .io import to_jsonable

    with open(run / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(to_jsonable(record)) + "\n")


def _data(cfg: dict):
    from empirical.datasets import load_cifar10, load_digits, subset

    x, y = load_digits() if cfg["dataset"] == "digits" else load_cifar10(cfg["data"] or "")
    idx = subset(len(x), cfg["n"], cfg["seed"])
    return x, y, idx


def run_dit(args) -> int:
    import torch

    from empirical.diffusion import DiffusionConfig, train_diffusion

    from .runner import resolve_device

    device = resolve_device(args.device)
    run: Path = args.run
    cmd = args.dit_command
    if cmd == "train":
        if args.dataset == "cifar10" and not args.data:
            raise ValueError("data: --dataset cifar10 needs --data PATH (a local cifar-10-batches-py folder)")
        cfg = {"command": "train", "dataset": args.dataset, "data": args.data, "n": args.n, "preset": args.preset,
               "seed": args.seed,
               "train": dataclasses.asdict(DiffusionConfig(steps=args.steps, batch=args.batch, lr=args.lr,
                                                           weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                                                           seed=args.seed, device=device).validate())}
        if args.dry_run:
            print(json.dumps(cfg, indent=1))
            return 0
        from empirical.dit import make_dit
        from empirical.prune_experiment import _save_model

        x, _, idx = _data(cfg)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device == "cuda" else "gloo")
        rank = int(os.environ.get("RANK", "0"))
        torch.manual_seed(args.seed)
        model = make_dit(args.preset, image_size=x.shape[2], channels=x.shape[1])
        run.mkdir(parents=True, exist_ok=True)
        if rank == 0:
            _write_config(run, {**cfg, "indices": idx.tolist()})
        res = train_diffusion(x[idx], DiffusionConfig(**cfg["train"]), model=model, checkpoint=run / "checkpoint.pt",
                              checkpoint_every=args.checkpoint_every, resume=args.resume,
                              progress=not args.no_progress)
        if rank == 0:
            for step, loss in res.losses:
                _log(run, {"event": "train", "step": step, "loss": loss})
            _save_model(run / "model.pt", res.ema_model.cpu())
            print(f"trained {res.parameters:,} parameters for {cfg['train']['steps']} steps in {res.seconds:.1f} s; "
                  f"final loss {res.losses[-1][1]:.4g}; wrote {run / 'model.pt'}")
        return 0
    if cmd == "prune":
        src = json.loads((args.source / "config.json").read_text()) if (args.source / "config.json").is_file() else None
        if src is None or not (args.source / "model.pt").is_file():
            raise ValueError(f"from: {args.source} is not a trained run directory (config.json and model.pt needed)")
        if not 0 <= args.eta < 1:
            raise ValueError(f"eta: must be in [0, 1), got {args.eta}")
        if args.finetune_steps < 0:
            raise ValueError(f"finetune-steps: must be >= 0, got {args.finetune_steps}")
        cfg = {"command": "prune", "from": str(args.source), "source": {k: src[k] for k in ("dataset", "data", "n", "seed")},
               "method": args.method, "eta": args.eta, "time_map": args.time_map, "seed": args.seed,
               "importance_batches": args.importance_batches,
               "finetune": dataclasses.asdict(DiffusionConfig(steps=max(args.finetune_steps, 1), batch=src["train"]["batch"],
                                                              lr=args.lr, warmup=0, seed=args.seed, device=device))}
        cfg["finetune"]["steps"] = args.finetune_steps
        if args.dry_run:
            print(json.dumps(cfg, indent=1))
            return 0
        from empirical.prune_experiment import _save_model, load_model
        from empirical.pruning import importance_scores, prune_heads, random_heads, select_heads

        x, _, idx = _data(src)
        base = load_model(args.source / "model.pt").to(device)
        run.mkdir(parents=True, exist_ok=True)
        _write_config(run, {**cfg, "dataset": src["dataset"], "data": src["data"], "n": src["n"],
                            "indices": idx.tolist()})
        if args.method == "importance":
            imp = importance_scores(base, x[idx], batches=args.importance_batches, t0=src["train"]["t0"],
                                    T=src["train"]["T"], time_map=args.time_map, seed=args.seed)
            remove = select_heads(imp, args.eta)
            _log(run, {"event": "importance", "importance": [v.tolist() for v in imp]})
        else:
            remove = random_heads(base, args.eta, args.seed)
        pruned = prune_heads(base, remove)
        _log(run, {"event": "pruned", "removed": {str(k): v for k, v in remove.items()}, "heads": pruned.cfg.heads})
        if args.finetune_steps > 0:
            res = train_diffusion(x[idx], DiffusionConfig(**cfg["finetune"]), model=pruned,
                                  checkpoint=run / "checkpoint.pt", resume=args.resume, progress=not args.no_progress)
            for step, loss in res.losses:
                _log(run, {"event": "finetune", "step": step, "loss": loss})
            pruned = res.ema_model
        _save_model(run / "model.pt", pruned.cpu())
        print(f"removed {sum(len(v) for v in remove.values())} heads ({args.method}); heads per layer {pruned.cfg.heads}; "
              f"wrote {run / 'model.pt'}")
        return 0
    if not (run / "config.json").is_file():
        raise ValueError(f"run: {run} is not a run directory (no config.json)")
    cfg = json.loads((run / "config.json").read_text())
    if cmd == "sample":
        plan = {"command": "sample", "samples": args.samples, "seed": args.seed, "steps": args.steps,
                "method": args.method}
        if args.dry_run:
            print(json.dumps(plan, indent=1))
            return 0
        import numpy as np

        from empirical.diffusion import NoiseScore
        from empirical.prune_experiment import load_model
        from empirical.sampling import sample, sample_seeds

        if not (run / "model.pt").is_file():
            raise ValueError(f"run: {run} has no model.pt (train or prune first)")
        model = load_model(run / "model.pt").to(device)
        c = model.cfg
        xs = sample(NoiseScore(model), (c.channels, c.image_size, c.image_size), seeds=sample_seeds(args.seed, args.samples),
                    method=args.method, steps=args.steps, device=device, progress=not args.no_progress).numpy()
        np.save(run / "samples.npy", xs)
        _log(run, {"event": "sample", **plan})
        print(f"wrote {run / 'samples.npy'} ({xs.shape[0]} samples)")
        return 0
    # evaluate
    if args.dry_run:
        print(json.dumps({"command": "evaluate", "features": args.features}, indent=1))
        return 0
    import numpy as np

    from empirical.image_metrics import (PixelFeatures, TorchScriptFeatures, frechet_distance, precision_recall,
                                         train_classifier)
    from empirical.metrics import memorization

    from .io import atomic_write_json

    if not (run / "samples.npy").is_file():
        raise ValueError(f"run: {run} has no samples.npy (run `memsep dit sample --run {run}` first)")
    xs = np.load(run / "samples.npy")
    src = cfg.get("source", cfg)
    x, y, idx = _data({"dataset": cfg["dataset"], "data": cfg["data"], "n": cfg["n"], "seed": src["seed"]})
    mem = memorization(xs.reshape(len(xs), -1), x[idx].reshape(len(idx), -1))
    feats = (PixelFeatures() if args.features == "pixels" else train_classifier(x, y) if args.features == "classifier"
             else TorchScriptFeatures(args.features))
    fr, fg = feats(x), feats(xs)
    prec, rec = precision_recall(fr, fg, k=3)
    out = {"event": "evaluate", "features": args.features, "memorization": mem["ratio"], "memorization_ci": mem["ci"],
           "precision": prec, "recall": rec, "fd": frechet_distance(fr, fg), "samples": len(xs)}
    _log(run, out)
    atomic_write_json(run / "evaluation.json", out)
    print(json.dumps(out, indent=1, default=float))
    return 0
