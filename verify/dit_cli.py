"""``memsep dit train | prune | sample | evaluate``: the pruning pipeline of M1-M4 on the user's data.

Each command works in a run directory (``--run DIR``) holding ``config.json`` (the resolved
configuration, seeds and versions), ``metrics.jsonl`` (one JSON line per logged event: training
losses, importances, metrics; each with the command's invocation id, its UTC time and the seconds since
the command started), ``checkpoint.pt`` (written atomically every ``--checkpoint-every`` steps;
``--resume`` continues exactly), ``model.pt`` (the EMA weights), ``samples.npy`` with ``samples.png`` (a
grid of the first 64) and ``evaluation.json``. ``--dry-run`` checks everything a run would check, prints the resolved
configuration and exits. Under ``torchrun --nproc_per_node=N memsep dit train ...`` the training is
data-parallel (gloo on CPU, nccl on GPU).

    memsep dit train    --run runs/orig  [--dataset digits|cifar10 --data PATH] [--n 32] [--preset dit-tiny]
    memsep dit prune    --run runs/imp20 --from runs/orig [--method importance|random] [--eta 0.2]
    memsep dit sample   --run runs/imp20 [--samples 256] [--seed 0]
    memsep dit evaluate --run runs/imp20 [--features classifier|pixels|FILE.pt] [--k 3]

``evaluate`` writes evaluation.json: memorization (with its Wilson interval), precision and recall
(k-NN, ``k`` recorded), FD of the N samples (``fd``) and FD extrapolated to N = infinity
(``fd_extrapolated``: fd_inf with its se, ``empirical.image_metrics.frechet_distance_extrapolated``),
the feature dimension, the reference set's size (the whole data set) and, for the classifier features,
its held-out accuracy. The classifier is trained once per (dataset, data, classifier seed and steps,
data digest) and kept in ``<run>/../.memsep-cache/``; every run evaluated next to it reuses it (the
same feature space for every arm). A cache file that is not exactly such a classifier is refused
(one line naming it, exit 2; delete it to retrain): it is never silently replaced. A warning line
goes to stderr when the samples are too few for FD to mean much (fewer than twice the feature
dimension), when the extrapolation's smallest subset (a quarter of them) is, or when there are too
few to extrapolate at all (2 samples: fd_extrapolated is null).

Safety of run directories (a run directory may come from someone else):
  - every file is read without running code (``empirical.fileio``: weights-only torch loads, numpy
    without pickles, JSON checked key by key); a bad file is one line naming it, exit 2;
  - everything is validated before anything is written, so a refused command changes nothing;
  - no command replaces what an earlier command made: ``train`` and ``prune`` refuse a run directory
    that holds results unless given ``--resume`` (continue its checkpoint) or ``--overwrite`` (delete
    the run's files first); ``sample`` refuses an existing samples.npy and ``evaluate`` an existing
    evaluation.json without ``--overwrite``; ``prune --run X --from X`` is always refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["add_dit_parser", "run_dit", "RunInfo", "read_run_config"]

# Every file a run directory can hold, in the order a pipeline makes them.
RUN_FILES = (
    "config.json",
    "metrics.jsonl",
    "checkpoint.pt",
    "model.pt",
    "samples.npy",
    "samples.png",
    "evaluation.json",
)
_CONFIG = "a memsep run configuration"


def add_dit_parser(sub, parser_class, positive_int, seed_type) -> None:
    dit = sub.add_parser("dit", help="train, prune, sample and evaluate a DiT on your data (M1-M4 pipeline)")
    steps = dit.add_subparsers(dest="dit_command", required=True, parser_class=parser_class)
    from .cli import _Formatter as fmt  # defaults shown only where they say something

    def common(p, run_help, overwrite_help):
        p.add_argument("--run", type=Path, required=True, help=run_help)
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device")
        p.add_argument(
            "--dry-run", action="store_true", help="check everything, print the resolved configuration as JSON and exit"
        )
        p.add_argument(
            "--no-progress",
            action="store_true",
            help="hide progress bars (they are shown only when stderr is a terminal, so a log file gets none)",
        )
        p.add_argument("--overwrite", action="store_true", help=overwrite_help)

    t = steps.add_parser("train", help="train a DiT by DSM on a random subset of n images", formatter_class=fmt)
    common(
        t,
        "run directory (created): config.json, metrics.jsonl, checkpoint.pt, model.pt",
        "replace a run directory that already holds a run (its files are deleted first)",
    )
    t.add_argument("--dataset", choices=("digits", "cifar10"), default="digits", help="embedded digits or CIFAR-10")
    t.add_argument("--data", type=str, default=None, help="local cifar-10-batches-py folder (for --dataset cifar10)")
    t.add_argument("--n", type=positive_int, default=32, help="training subset size")
    t.add_argument("--preset", default="dit-tiny", help="DiT preset: dit-mini, dit-tiny, DiT-S/2, DiT-B/2")
    t.add_argument("--steps", type=positive_int, default=6000, help="optimiser steps")
    t.add_argument("--batch", type=positive_int, default=128, help="global batch size")
    t.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    t.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    t.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (default: none)")
    t.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="steps of linear learning-rate warm-up (default: 100, or steps / 10 for shorter runs, so that "
        "a short run reaches its learning rate; the loss is logged about 20 times per run, at most "
        "every 100 steps)",
    )
    t.add_argument("--seed", type=seed_type, default=0, help="seed of the subset, init and batches")
    t.add_argument("--checkpoint-every", type=positive_int, default=500, help="steps between checkpoints")
    t.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")

    p = steps.add_parser("prune", help="Algorithm 1: prune heads of a trained DiT, then fine-tune", formatter_class=fmt)
    common(
        p,
        "run directory of the pruned model (created; must differ from --from)",
        "replace a run directory that already holds a run (its files are deleted first)",
    )
    p.add_argument(
        "--from", dest="source", type=Path, required=True, help="run directory of the trained (or already pruned) model"
    )
    p.add_argument("--method", choices=("importance", "random"), default="importance", help="which heads to remove")
    p.add_argument("--eta", type=float, default=0.2, help="pruning ratio: floor(eta H) heads are removed")
    p.add_argument("--finetune-steps", type=int, default=500, help="fine-tuning steps after pruning (0: none)")
    p.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate")
    p.add_argument(
        "--time-map",
        choices=("ddpm", "log", "linear"),
        default="ddpm",
        help="how Beta(0.8, 2) on [0, 1] maps onto [t0, T] for the importance scores",
    )
    p.add_argument("--importance-batches", type=positive_int, default=20, help="batches of Algorithm 2")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the importance batches / random heads")
    p.add_argument("--resume", action="store_true", help="continue the fine-tuning from its checkpoint")

    s = steps.add_parser("sample", help="draw samples (per-sample seeds) from a run's model", formatter_class=fmt)
    common(
        s,
        "run directory with model.pt; writes samples.npy",
        "replace an existing samples.npy (and delete the evaluation.json made from it)",
    )
    s.add_argument("--samples", type=positive_int, default=256, help="number of samples")
    s.add_argument("--seed", type=seed_type, default=0, help="sample i uses a seed derived from (seed, i)")
    s.add_argument("--steps", type=positive_int, default=100, help="sampler steps (log-spaced from T to t0)")
    s.add_argument("--method", choices=("ode", "sde"), default="ode", help="probability-flow ODE or reverse SDE")

    e = steps.add_parser(
        "evaluate", help="memorization, precision/recall and FD of a run's samples", formatter_class=fmt
    )
    common(
        e,
        "run directory with samples.npy; writes metrics to metrics.jsonl and evaluation.json",
        "replace an existing evaluation.json",
    )
    e.add_argument(
        "--features",
        default="classifier",
        help="feature space: classifier (trained here once and cached in <run>/../.memsep-cache/), "
        "pixels, or a TorchScript file path (e.g. the FID Inception network; a TorchScript file is "
        "a program: give only files you trust)",
    )
    e.add_argument("--k", type=positive_int, default=3, help="k of the k-NN precision and recall")
    e.add_argument(
        "--classifier-seed",
        type=seed_type,
        default=0,
        help="seed of the feature classifier (the same for every run compared)",
    )
    e.add_argument(
        "--classifier-steps", type=positive_int, default=600, help="training steps of the feature classifier"
    )
    e.add_argument(
        "--feature-size",
        type=int,
        default=299,
        help="TorchScript features: images are resized (bilinear) to this square size before the network "
        "(299 for Inception-v3); 0: no resize, for a network that resizes itself",
    )


# ---- reading a run directory --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What a later command needs from a run's config.json, for a trained or a pruned run alike."""

    path: Path  # the config.json it came from
    command: str  # "train" or "prune"
    dataset: str
    data: str | None
    n: int
    subset_seed: int  # the seed of the training subset (the train command's --seed)
    indices: tuple[int, ...]  # the training subset, as recorded
    t0: float
    T: float
    batch: int


def _diffusion_config(path: Path, d, key: str):
    from memsep.empirical.diffusion import DiffusionConfig
    from memsep.empirical.fileio import BadFileError

    if not isinstance(d, dict):
        raise BadFileError(path, f"is not {_CONFIG} ({key} must be an object)")
    # a run directory written before the AdamW kernel was a field trained with torch's default: keep it on resume
    d = {"adamw": "torch-default", **d}
    try:
        return DiffusionConfig(**{**d, "device": "cpu"}).validate()  # the device it ran on need not exist here
    except (TypeError, ValueError) as exc:
        raise BadFileError(path, f"is not {_CONFIG} ({key}: {exc})") from None


def read_run_config(run: Path) -> tuple[dict, RunInfo]:
    """(the config.json dict, its RunInfo) of a run directory, every field a later command uses checked."""
    from memsep.empirical.fileio import BadFileError, read_json, require_keys

    path = run / "config.json"
    if not path.is_file():
        raise ValueError(f"run: {run} is not a run directory (no config.json)")
    cfg = read_json(path, _CONFIG)
    require_keys(path, cfg, ("command",), _CONFIG)
    if cfg["command"] == "train":
        require_keys(path, cfg, ("dataset", "data", "n", "preset", "seed", "train", "indices"), _CONFIG)
        seed, train = cfg["seed"], _diffusion_config(path, cfg["train"], "train")
    elif cfg["command"] == "prune":
        require_keys(path, cfg, ("source", "dataset", "data", "n", "finetune", "indices"), _CONFIG)
        src = require_keys(path, cfg["source"], ("seed",), f"{_CONFIG} (its source)")
        seed, train = src["seed"], _diffusion_config(path, cfg["finetune"], "finetune")
    else:
        raise BadFileError(path, f"is not {_CONFIG} (command must be 'train' or 'prune', got {cfg['command']!r})")
    if cfg["dataset"] not in ("digits", "cifar10"):
        raise BadFileError(path, f"is not {_CONFIG} (dataset must be 'digits' or 'cifar10', got {cfg['dataset']!r})")
    if cfg["dataset"] == "cifar10" and not (isinstance(cfg["data"], str) and cfg["data"]):
        raise BadFileError(path, f"is not {_CONFIG} (dataset cifar10 needs data: the cifar-10-batches-py folder)")
    if isinstance(cfg["n"], bool) or not isinstance(cfg["n"], int) or cfg["n"] < 2:
        raise BadFileError(path, f"is not {_CONFIG} (n must be an int >= 2, got {cfg['n']!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadFileError(path, f"is not {_CONFIG} (seed must be an int >= 0, got {seed!r})")
    idx = cfg["indices"]
    if not (
        isinstance(idx, list)
        and len(idx) == cfg["n"]
        and all(isinstance(i, int) and not isinstance(i, bool) for i in idx)
    ):
        raise BadFileError(path, f"is not {_CONFIG} (indices must be n = {cfg['n']} ints)")
    return cfg, RunInfo(
        path, cfg["command"], cfg["dataset"], cfg["data"], cfg["n"], seed, tuple(idx), train.t0, train.T, train.batch
    )


def _data(dataset: str, data: str | None, n: int, seed: int):
    """(all images, labels, indices of the training subset)."""
    from memsep.empirical.datasets import load_cifar10, load_digits, subset

    x, y = load_digits() if dataset == "digits" else load_cifar10(data or "")
    return x, y, subset(len(x), n, seed)


def _run_data(info: RunInfo):
    """The data of a run, checked against the indices its config.json recorded."""
    from memsep.empirical.fileio import BadFileError

    x, y, idx = _data(info.dataset, info.data, info.n, info.subset_seed)
    if tuple(idx.tolist()) != info.indices:
        raise BadFileError(
            info.path,
            "records training indices that its dataset, n and seed do not give (edited, or made by another version)",
        )
    return x, y, idx


def _existing(run: Path) -> list[str]:
    if run.exists() and not run.is_dir():
        raise ValueError(f"run: {run} exists and is not a directory")
    return [f for f in RUN_FILES if (run / f).exists()]


def _resume_or_refuse(run: Path, args, train_cfg: dict, n: int) -> bool:
    """Decide, before anything is written, how train/prune treats an existing run directory; True when an
    existing checkpoint will be resumed. Refusals are ValueErrors naming what is there and the flags."""
    from memsep.empirical.diffusion import load_checkpoint

    there = _existing(run)
    if args.resume and args.overwrite:
        raise ValueError("resume, overwrite: give one of them, not both")
    if args.overwrite or not there:
        return False
    ckpt = run / "checkpoint.pt"
    if not args.resume:
        raise ValueError(
            f"run: {run} already holds {', '.join(there)}; pass --resume to continue it or --overwrite to replace it"
        )
    if not ckpt.exists():
        made = [f for f in there if f in ("model.pt", "samples.npy", "evaluation.json")]
        if made:
            raise ValueError(
                f"run: {run} has no checkpoint.pt to resume from but holds {', '.join(made)}; "
                "pass --overwrite to replace it"
            )
        return False
    st = load_checkpoint(ckpt, "cpu")
    if st["config"] != train_cfg or st["n"] != n or st["step"] > train_cfg["steps"]:
        diff = sorted(k for k in set(st["config"]) | set(train_cfg) if st["config"].get(k) != train_cfg.get(k))
        what = f"settings {', '.join(diff)}" if diff else f"n = {st['n']}"
        raise ValueError(
            f"resume: {ckpt} was written with other {what}; resume with the same settings, or pass "
            "--overwrite to start again"
        )
    return True


def _check_same_run(run: Path, cfg: dict) -> None:
    """On --resume the run's recorded configuration must be the one asked for now."""
    from memsep.empirical.fileio import read_json

    if not (run / "config.json").is_file():
        return
    old = read_json(run / "config.json", _CONFIG)
    if not isinstance(old, dict):
        return
    diff = sorted(k for k in cfg if k != "indices" and old.get(k) != cfg[k])
    if diff:
        raise ValueError(
            f"resume: {run / 'config.json'} records other {', '.join(diff)}; resume with the same "
            "settings, or pass --overwrite to start again"
        )


def _clear(run: Path) -> None:
    """--overwrite: delete the run's own files (nothing else in the folder)."""
    for f in RUN_FILES:
        (run / f).unlink(missing_ok=True)


def _write_config(run: Path, cfg: dict) -> None:
    from memsep.empirical.fileio import atomic_write_json

    from .env import environment

    atomic_write_json(
        run / "config.json",
        {**cfg, "environment": {k: v for k, v in environment().items() if k in ("packages", "git_commit")}},
    )


_INVOCATION = {"id": None, "start": None}


def _stamp(records: list[dict]) -> list[dict]:
    """Each event with the command's invocation id (one per `memsep dit ...` process), the UTC time it was written
    and the seconds since the command started."""
    import datetime
    import secrets
    import time

    if _INVOCATION["id"] is None:
        _INVOCATION.update(id=secrets.token_hex(6), start=time.monotonic())
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    wall = round(time.monotonic() - _INVOCATION["start"], 3)
    return [{**r, "invocation": _INVOCATION["id"], "time_utc": now, "wall_s": wall} for r in records]


def _log(run: Path, records: list[dict]) -> None:
    """Append events to the run's metrics.jsonl (atomically: the old log or the new one, never a torn line)."""
    from memsep.empirical.fileio import append_lines

    append_lines(run / "metrics.jsonl", _stamp(records))


_STAMP = ("invocation", "time_utc", "wall_s")


def _loss_events(event: str, losses: list, cfg) -> list[dict]:
    """metrics.jsonl events of a loss curve [(step, window mean)]: with the learning rate of the window's last step
    (empirical.diffusion.lr_factor: warm-up, then constant or cosine)."""
    from memsep.empirical.diffusion import lr_factor

    return [
        {"event": event, "step": step, "loss": loss, "lr": cfg.lr * lr_factor(step - 1, cfg)} for step, loss in losses
    ]


def _write_log(run: Path, records: list[dict]) -> None:
    """Start the run's metrics.jsonl afresh with these events (train and prune: a resumed run's checkpoint
    carries the earlier losses, so the history is written once, whole). An event already in the old log (same
    content) keeps its stamp: when and by which invocation it was first logged."""
    from memsep.empirical.fileio import atomic_write_text, to_jsonable

    old = {}
    try:
        for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            old[json.dumps({k: v for k, v in rec.items() if k not in _STAMP}, sort_keys=True)] = rec
    except (OSError, ValueError, AttributeError):
        old = {}
    fresh = [json.loads(json.dumps(to_jsonable(r))) for r in records]
    stamped = _stamp(fresh)
    out = [old.get(json.dumps(r, sort_keys=True), s) for r, s in zip(fresh, stamped)]
    atomic_write_text(run / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in out))


def write_grid(path: Path, images, ncols: int = 8, limit: int = 64) -> Path:
    """A PNG grid of the first ``limit`` images (m, C, H, W) in [-1, 1] (values outside are clipped), ``ncols``
    per row, one pixel of grey between images; written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from memsep.empirical.fileio import atomic_open

    x = np.clip((np.asarray(images, dtype=np.float64)[:limit] + 1.0) / 2.0, 0.0, 1.0)
    if x.ndim != 4 or x.shape[0] < 1 or x.shape[1] not in (1, 3):
        raise ValueError(f"images: must have shape (m, 1 or 3, H, W) with m >= 1, got {x.shape}")
    m, c, h, w = x.shape
    cols = min(ncols, m)
    rows = -(-m // cols)
    grid = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 0.5)
    for i in range(m):
        r, q = divmod(i, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = x[i].transpose(1, 2, 0)
    buf = io.BytesIO()
    scale = max(1, 256 // max(h, w))  # small images: enlarge without interpolation
    big = grid.repeat(scale, 0).repeat(scale, 1)
    plt.imsave(buf, big[..., 0] if c == 1 else big, cmap="gray" if c == 1 else None, vmin=0.0, vmax=1.0, format="png")
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


def _show(plan: dict) -> int:
    print(json.dumps(plan, indent=1))
    return 0


# ---- the commands ---------------------------------------------------------------------------------------------


def _train(args, device: str) -> int:
    import torch

    from memsep.empirical.diffusion import DiffusionConfig, train_diffusion
    from memsep.empirical.dit import DIT_PRESETS, make_dit, save_dit
    from memsep.theory import derive_seed

    run: Path = args.run
    if args.dataset == "cifar10" and not args.data:
        raise ValueError("data: --dataset cifar10 needs --data PATH (a local cifar-10-batches-py folder)")
    if args.preset not in DIT_PRESETS:
        raise ValueError(f"preset: unknown {args.preset!r}; known: {', '.join(DIT_PRESETS)}")
    base = DiffusionConfig()
    warmup = args.warmup if args.warmup is not None else min(base.warmup, args.steps // 10)
    if warmup >= args.steps:
        raise ValueError(f"warmup: must be below --steps = {args.steps}, got {warmup}")
    train = DiffusionConfig(
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        grad_clip=args.grad_clip,
        seed=args.seed,
        device=device,
        warmup=warmup,
        log_every=max(1, min(base.log_every, args.steps // 20)),
    ).validate()
    x, _, idx = _data(args.dataset, args.data, args.n, args.seed)
    cfg = {
        "command": "train",
        "dataset": args.dataset,
        "data": args.data,
        "n": args.n,
        "preset": args.preset,
        "seed": args.seed,
        "train": dataclasses.asdict(train),
        "indices": idx.tolist(),
    }
    resume = _resume_or_refuse(run, args, cfg["train"], args.n)
    if resume:
        _check_same_run(run, cfg)
    if args.dry_run:
        return _show({k: v for k, v in cfg.items() if k != "indices"})
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    rank = int(os.environ.get("RANK", "0"))
    torch.manual_seed(derive_seed(args.seed, "init"))
    model = make_dit(args.preset, image_size=x.shape[2], channels=x.shape[1])
    if rank == 0:
        if args.overwrite:
            _clear(run)
        run.mkdir(parents=True, exist_ok=True)
        _write_config(run, cfg)
    res = train_diffusion(
        x[idx],
        train,
        model=model,
        checkpoint=run / "checkpoint.pt",
        checkpoint_every=args.checkpoint_every,
        resume=resume,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    if rank == 0:
        _write_log(run, _loss_events("train", res.losses, train))
        save_dit(run / "model.pt", res.ema_model.cpu())
        print(
            f"trained {res.parameters:,} parameters for {train.steps} steps in {res.seconds:.1f} s; "
            f"final loss {res.losses[-1][1]:.4g}; wrote {run / 'model.pt'}"
        )
    return 0


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _prune(args, device: str) -> int:
    from memsep.empirical.diffusion import DiffusionConfig, train_diffusion
    from memsep.empirical.dit import load_dit, save_dit
    from memsep.empirical.pruning import importance_scores, prune_heads, random_heads, select_heads

    run: Path = args.run
    if _same_folder(run, args.source):
        raise ValueError(
            f"run: must differ from --from ({args.source}); pruning writes a new run directory and "
            "never replaces the model it prunes"
        )
    if (
        not args.source.is_dir()
        or not (args.source / "config.json").is_file()
        or not (args.source / "model.pt").is_file()
    ):
        raise ValueError(f"from: {args.source} is not a trained run directory (config.json and model.pt needed)")
    if not 0 <= args.eta < 1:
        raise ValueError(f"eta: must be in [0, 1), got {args.eta}")
    if args.finetune_steps < 0:
        raise ValueError(f"finetune-steps: must be >= 0, got {args.finetune_steps}")
    _, src = read_run_config(args.source)
    base = load_dit(args.source / "model.pt")
    x, _, idx = _run_data(src)
    if tuple(x.shape[1:]) != (base.cfg.channels, base.cfg.image_size, base.cfg.image_size):
        raise ValueError(
            f"from: {args.source / 'model.pt'} is a model of {base.cfg.channels}x{base.cfg.image_size}"
            f"x{base.cfg.image_size} images but its data set has {'x'.join(map(str, x.shape[1:]))}"
        )
    finetune = DiffusionConfig(
        steps=max(args.finetune_steps, 1),
        batch=src.batch,
        lr=args.lr,
        warmup=0,
        seed=args.seed,
        device=device,
        t0=src.t0,
        T=src.T,
    ).validate()
    cfg = {
        "command": "prune",
        "from": str(args.source),
        "source": {
            "dataset": src.dataset,
            "data": src.data,
            "n": src.n,
            "seed": src.subset_seed,
            "command": src.command,
        },
        "method": args.method,
        "eta": args.eta,
        "time_map": args.time_map,
        "seed": args.seed,
        "importance_batches": args.importance_batches,
        "finetune": {**dataclasses.asdict(finetune), "steps": args.finetune_steps},
        "dataset": src.dataset,
        "data": src.data,
        "n": src.n,
        "indices": idx.tolist(),
    }
    resume = _resume_or_refuse(run, args, cfg["finetune"], src.n)
    if resume:
        _check_same_run(run, cfg)
    if args.dry_run:
        return _show({k: v for k, v in cfg.items() if k != "indices"})
    base = base.to(device)
    if args.overwrite:
        _clear(run)
    run.mkdir(parents=True, exist_ok=True)
    _write_config(run, cfg)
    log = []
    if args.method == "importance":
        imp = importance_scores(
            base, x[idx], batches=args.importance_batches, t0=src.t0, T=src.T, time_map=args.time_map, seed=args.seed
        )
        remove = select_heads(imp, args.eta)
        log.append({"event": "importance", "importance": [v.tolist() for v in imp]})
    else:
        remove = random_heads(base, args.eta, args.seed)
    pruned = prune_heads(base, remove)
    log.append({"event": "pruned", "removed": {str(k): v for k, v in remove.items()}, "heads": pruned.cfg.heads})
    if args.finetune_steps > 0:
        ft = DiffusionConfig(**{**cfg["finetune"], "device": device})
        res = train_diffusion(
            x[idx],
            ft,
            model=pruned,
            checkpoint=run / "checkpoint.pt",
            resume=resume,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
        log += _loss_events("finetune", res.losses, ft)
        pruned = res.ema_model
    _write_log(run, log)
    save_dit(run / "model.pt", pruned.cpu())
    print(
        f"removed {sum(len(v) for v in remove.values())} heads ({args.method}); heads per layer {pruned.cfg.heads}; "
        f"wrote {run / 'model.pt'}"
    )
    return 0


def _sample(args, device: str) -> int:
    from memsep.empirical.diffusion import NoiseScore
    from memsep.empirical.dit import load_dit
    from memsep.empirical.fileio import save_npy
    from memsep.empirical.sampling import sample, sample_seeds

    run: Path = args.run
    _, info = read_run_config(run)
    if not (run / "model.pt").is_file():
        raise ValueError(f"run: {run} has no model.pt (train or prune first)")
    model = load_dit(run / "model.pt")
    if (run / "samples.npy").exists() and not args.overwrite:
        raise ValueError(
            f"run: {run} already holds samples.npy; pass --overwrite to replace it (and the "
            "evaluation.json made from it)"
        )
    plan = {
        "command": "sample",
        "samples": args.samples,
        "seed": args.seed,
        "steps": args.steps,
        "method": args.method,
        "t0": info.t0,
        "T": info.T,
    }
    if args.dry_run:
        return _show(plan)
    c = model.cfg
    xs = sample(
        NoiseScore(model.to(device)),
        (c.channels, c.image_size, c.image_size),
        seeds=sample_seeds(args.seed, args.samples),
        method=args.method,
        steps=args.steps,
        t0=info.t0,
        T=info.T,
        device=device,
        progress=not args.no_progress and sys.stderr.isatty(),
    ).numpy()
    (run / "evaluation.json").unlink(missing_ok=True)  # made from the samples being replaced
    save_npy(run / "samples.npy", xs)
    write_grid(run / "samples.png", xs)
    _log(run, [{"event": "sample", **plan}])
    print(
        f"wrote {run / 'samples.npy'} ({xs.shape[0]} samples) and {run / 'samples.png'} (the first "
        f"{min(64, xs.shape[0])})"
    )
    return 0


def _read_samples(run: Path, image_shape: tuple[int, ...]):
    import numpy as np

    from memsep.empirical.fileio import BadFileError, load_npy

    path = run / "samples.npy"
    if not path.is_file():
        raise ValueError(f"run: {run} has no samples.npy (run `memsep dit sample --run {run}` first)")
    xs = load_npy(path, "an array of samples")
    if xs.dtype.kind != "f" or xs.ndim != 4 or tuple(xs.shape[1:]) != tuple(image_shape) or xs.shape[0] < 2:
        raise BadFileError(
            path,
            f"holds a {xs.dtype} array of shape {xs.shape}; expected float samples of shape "
            f"(m >= 2, {', '.join(map(str, image_shape))})",
        )
    if not np.all(np.isfinite(xs)):
        raise BadFileError(path, "holds non-finite samples (NaN or inf): the model diverged or the file is damaged")
    return xs


CACHE_DIR = ".memsep-cache"
FD_FRACTIONS, FD_REPS = (1.0, 0.5, 0.25), 5


def _cache_dir(run: Path) -> Path:
    """Where evaluate keeps feature classifiers: next to the run directory, shared by its siblings."""
    return run.resolve().parent / CACHE_DIR


def _warn(message: str) -> None:
    import sys

    print(f"memsep: warning: {message}", file=sys.stderr)


def _say(message: str) -> None:
    """A progress line on stderr (stdout keeps the JSON result)."""
    import sys

    print(f"memsep dit evaluate: {message}", file=sys.stderr, flush=True)


def _neighbour_grid(path: Path, samples, train, mem: dict, pairs: int = 32) -> dict:
    """neighbours.png: the first ``pairs`` samples (rows of 8) each above its nearest training image (the 1/3
    rule's NN1 among the distinct training images); what the JSON says about them (file, memorized, ratio)."""
    import numpy as np

    from memsep.empirical.metrics import distinct_points

    k = min(pairs, len(samples))
    distinct = distinct_points(np.asarray(train).reshape(len(train), -1)).reshape((-1,) + tuple(train.shape[1:]))
    nn = distinct[np.asarray(mem["nn1"])[:k]]
    blocks = [np.concatenate([samples[i : i + 8], nn[i : i + 8]]) for i in range(0, k, 8)]
    write_grid(path, np.concatenate(blocks), ncols=min(8, k), limit=2 * k)
    return {
        "file": path.name,
        "shown": k,
        "layout": "rows of 8 samples, each above its nearest training image",
        "memorized": [bool(b) for b in np.asarray(mem["memorized"])[:k]],
        "distance_ratio": [round(float(r), 4) for r in np.asarray(mem["distance_ratio"])[:k]],
    }


def _evaluate(args) -> int:
    from memsep.empirical.fileio import atomic_write_json

    run: Path = args.run
    _, info = read_run_config(run)
    x, y, idx = _run_data(info)
    xs = _read_samples(run, x.shape[1:])
    if (run / "evaluation.json").exists() and not args.overwrite:
        raise ValueError(f"run: {run} already holds evaluation.json; pass --overwrite to replace it")
    if args.features not in ("classifier", "pixels") and not Path(args.features).is_file():
        raise ValueError(f"features: must be classifier, pixels or an existing TorchScript file, got {args.features!r}")
    if args.k >= min(len(x), len(xs)):
        raise ValueError(
            f"k: must be smaller than the number of samples ({len(xs)}) and of reference images "
            f"({len(x)}), got {args.k}"
        )
    if args.feature_size < 0:
        raise ValueError(f"feature-size: must be >= 0 (0: no resize), got {args.feature_size}")
    plan = {"command": "evaluate", "features": args.features, "samples": len(xs), "reference_size": len(x), "k": args.k}
    if args.features == "classifier":
        plan["classifier"] = {
            "seed": args.classifier_seed,
            "steps": args.classifier_steps,
            "cache": str(_cache_dir(run)),
        }
    elif args.features != "pixels":
        plan["feature_size"] = args.feature_size or None
    if args.dry_run:
        return _show(plan)
    from memsep.empirical.image_metrics import (
        PixelFeatures,
        TorchScriptFeatures,
        cached_classifier,
        frechet_distance_extrapolated,
        precision_recall,
        subset_sizes,
    )
    from memsep.empirical.metrics import memorization

    _say(f"memorization of {len(xs)} samples against {len(idx)} training images ...")
    train = x[idx]
    mem = memorization(xs.reshape(len(xs), -1), train.reshape(len(idx), -1))
    clf_info, accuracy = None, None
    if args.features == "pixels":
        feats = PixelFeatures()
    elif args.features == "classifier":
        _say(
            "feature classifier: "
            + (
                "read from the cache"
                if any(_cache_dir(run).glob("*.pt"))
                else f"training it ({args.classifier_steps} steps; cached for the next runs)"
            )
            + " ..."
        )
        feats, path, _ = cached_classifier(
            x,
            y,
            _cache_dir(run),
            dataset=info.dataset,
            data=info.data,
            seed=args.classifier_seed,
            steps=args.classifier_steps,
        )
        accuracy = feats.accuracy
        clf_info = {
            "seed": args.classifier_seed,
            "steps": args.classifier_steps,
            "holdout": 0.2,
            "accuracy": accuracy,
            "cache": str(path),
        }
    else:
        feats = TorchScriptFeatures(args.features, size=args.feature_size or None)
    _say(f"features of {len(x)} reference images and {len(xs)} samples; precision, recall and FD ...")
    fr, fg = feats(x), feats(xs)
    dim = int(fg.shape[1])
    prec, rec = precision_recall(fr, fg, k=args.k)
    warnings = []
    if len(xs) < 2 * dim:
        warnings.append(
            f"{len(xs)} samples for {dim} features: FD needs at least {2 * dim} (twice the feature "
            "dimension) to mean much; fd is dominated by its finite-sample bias and fd_extrapolated "
            "by the fit's higher-order terms"
        )
    sizes = subset_sizes(len(xs), FD_FRACTIONS)
    if len(xs) >= 2 * dim and len(sizes) >= 2 and sizes[-1] < 2 * dim:
        warnings.append(
            f"the FD extrapolation's smallest subset ({sizes[-1]} samples) is below twice the feature "
            f"dimension ({2 * dim}): fd_inf leans on the 1/N law where higher-order terms still matter"
        )
    if len(sizes) >= 2:
        ext = frechet_distance_extrapolated(fr, fg, fractions=FD_FRACTIONS, reps=FD_REPS, seed=0)
        fd, fd_ext = (
            ext.fd_n,
            {
                "fd_inf": ext.fd_inf,
                "se": ext.se,
                "se_method": ext.se_method,
                "slope": ext.slope,
                "fractions": list(FD_FRACTIONS),
                "reps": ext.reps,
                "sizes": list(ext.sizes),
                "values": list(ext.values),
            },
        )
    else:
        from memsep.empirical.image_metrics import frechet_distance

        fd, fd_ext = frechet_distance(fr, fg), None
        warnings.append(f"{len(xs)} samples are too few to extrapolate FD in 1/N (fd_extrapolated is null)")
    neighbours = _neighbour_grid(run / "neighbours.png", xs, train, mem)  # written once the metrics succeeded
    out = {
        "event": "evaluate",
        "features": args.features,
        "feature_dim": dim,
        "samples": len(xs),
        "reference_size": len(x),
        "k": args.k,
        "classifier_accuracy": accuracy,
        "classifier": clf_info,
        "memorization": mem["ratio"],
        "memorization_ci": mem["ci"],
        "precision": prec,
        "recall": rec,
        "fd": fd,
        "fd_extrapolated": fd_ext,
        "neighbours": neighbours,
        "warnings": warnings,
    }
    for w in warnings:
        _warn(w)
    atomic_write_json(run / "evaluation.json", out)
    _log(run, [out])
    print(json.dumps(out, indent=1, default=float))
    return 0


def run_dit(args) -> int:
    _INVOCATION.update(id=None, start=None)  # one invocation id per command, also in one process
    from .runner import choose_device

    device = choose_device(args.device)
    if args.dit_command == "train":
        return _train(args, device)
    if args.dit_command == "prune":
        return _prune(args, device)
    if args.dit_command == "sample":
        return _sample(args, device)
    return _evaluate(args)
