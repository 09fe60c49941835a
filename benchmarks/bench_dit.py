"""Benchmark: DiT training speed and memory per preset, and the pruned model's forward time.

1. For each preset: training steps/s (DSM step: forward, backward, AdamW, EMA) at a given batch,
   and the peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: the process's peak RSS from
   resource.getrusage, which includes the interpreter and every preset run before: run one preset
   per process for its own figure).
2. Forward time of head-pruned models against the fraction of forward FLOPs (and of all
   parameters) they keep: eta = 0, 0.25, 0.5, 0.75 of the heads removed at random, timed as ratios
   to the unpruned model measured in the same run.
3. With ``--precision``: for each arithmetic, the training speed as a ratio to float32's in the same run, and what
   it changes, from the same initial weights and the same seeded batches: the loss and the weights after the timed
   steps (max |difference| against float32's) and the forward output of the float32-trained model (max
   |difference| / RMS). ``tf32``: TF32 matrix products (torch.backends flags, CUDA only); ``bf16``: bfloat16
   autocast around forward and loss (CPU or CUDA). The claims compute in float32; an arithmetic is adopted for
   them only where a GPU run (benchmarks/gpu_check.py) shows their verdicts unchanged.

    python benchmarks/bench_dit.py                              # dit-mini, dit-tiny, DiT-S/2 on CPU
    python benchmarks/bench_dit.py --presets DiT-S/2,DiT-B/2 --device cuda --batch 128
    python benchmarks/bench_dit.py --device cuda --precision fp32,tf32,bf16 --save   # the GPU readiness run
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import resource
import sys
import time

import numpy as np
import saved
import torch

from memsep.empirical.diffusion import DiffusionConfig, count_parameters, train_diffusion
from memsep.empirical.dit import make_dit
from memsep.empirical.pruning import head_count, prune_heads, random_heads


def forward_flops(model) -> float:
    """Multiply-add FLOPs (x2) of one image through the DiT's linear layers and attention products.

    Per block: qkv 2 N D (3 h hd), attention 2 (2 N^2 h hd), proj 2 N (h hd) D, MLP 2 (2 N D m), adaLN
    2 D (6 D); plus patch embedding, time MLP and the final layer (N tokens, D hidden, m MLP width)."""
    c = model.cfg
    N, D, hd = (c.image_size // c.patch) ** 2, c.hidden, c.head_dim
    m = int(D * c.mlp_ratio)
    f = 2 * N * D * c.patch**2 * c.channels * 2 + 2 * (c.freq_dim * D + D * D) + 2 * D * 2 * D
    for blk in model.blocks:
        h = blk.attn.heads
        f += 2 * N * D * 3 * h * hd + 4 * N * N * h * hd + 2 * N * h * hd * D + 4 * N * D * m + 12 * D * D
    return float(f)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_train(preset: str, batch: int, steps: int, device: str) -> dict:
    torch.manual_seed(0)
    model = make_dit(preset)
    c = model.cfg
    data = np.random.default_rng(0).uniform(-1, 1, (64, c.channels, c.image_size, c.image_size))
    cfg = DiffusionConfig(steps=2, batch=batch, device=device, log_every=1)
    train_diffusion(data, cfg, model=model)  # warm-up
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    res = train_diffusion(data, DiffusionConfig(steps=steps, batch=batch, device=device, log_every=steps), model=model)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else rss_mib()
    return {
        "preset": preset,
        "parameters": count_parameters(model),
        "batch": batch,
        "steps_per_s": steps / res.seconds,
        "peak_mib": peak,
        "memory": "cuda max allocated"
        if device == "cuda"
        else "process peak RSS so far (cumulative over the presets run before; run one preset for its own)",
    }


def bench_pruned(preset: str, batch: int, device: str, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    base = make_dit(preset).to(device).eval()
    c = base.cfg
    x = torch.randn(batch, c.channels, c.image_size, c.image_size, device=device)
    t = torch.full((batch,), 0.1, device=device)

    def timed(m) -> float:
        with torch.no_grad():
            m(x, t)
            best = np.inf
            for _ in range(repeats):
                if device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                m(x, t)
                if device == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
        return best

    t_base = timed(base)
    rows = []
    for eta in (0.0, 0.25, 0.5, 0.75):
        m = prune_heads(base, random_heads(base, eta, seed=1)).to(device).eval()
        rows.append(
            {
                "preset": preset,
                "eta": eta,
                "heads_kept": head_count(m) / head_count(base),
                "flops_kept": forward_flops(m) / forward_flops(base),
                "parameters_kept": count_parameters(m) / count_parameters(base),
                "forward_time_ratio": timed(m) / t_base,
            }
        )
    return rows


PRECISIONS = ("fp32", "tf32", "bf16")


@contextlib.contextmanager
def arithmetic(precision: str, device: str):
    """float32 as is; TF32 matmul/cuDNN flags (restored after); bfloat16 autocast."""
    if precision == "fp32":
        yield
    elif precision == "tf32":
        old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    else:
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            yield


def bench_precision(preset: str, batch: int, steps: int, device: str, precisions: list[str]) -> list[dict]:
    """Per arithmetic: steps/s, its ratio to float32's, and the changes it makes (module doc, item 3)."""
    torch.manual_seed(0)
    init = make_dit(preset)
    c = init.cfg
    data = np.random.default_rng(0).uniform(-1, 1, (64, c.channels, c.image_size, c.image_size))
    cfg = DiffusionConfig(steps=steps, batch=batch, device=device, log_every=1, seed=1)
    x = torch.randn(batch, c.channels, c.image_size, c.image_size, generator=torch.Generator().manual_seed(2))
    t = torch.full((batch,), 0.1)
    x, t = x.to(device), t.to(device)
    runs = {}
    for p in ["fp32"] + [q for q in precisions if q != "fp32"]:
        with arithmetic(p, device):
            train_diffusion(data, DiffusionConfig(steps=2, batch=batch, device=device), model=copy.deepcopy(init))
            res = train_diffusion(data, cfg, model=copy.deepcopy(init))
            model = res.model.to(device).eval()
            with torch.no_grad():  # the float32-trained model's forward under this arithmetic
                fwd = (runs["fp32"]["model"] if runs else model)(x, t).float()
        runs[p] = {"model": model, "seconds": res.seconds, "loss": res.losses[-1][1], "forward": fwd}
    rows = []
    base = runs["fp32"]
    w0 = torch.cat([v.detach().float().flatten().cpu() for v in base["model"].state_dict().values()])
    rms = float(base["forward"].pow(2).mean().sqrt())
    for p, r in runs.items():
        if p not in precisions:
            continue
        w = torch.cat([v.detach().float().flatten().cpu() for v in r["model"].state_dict().values()])
        rows.append(
            {
                "preset": preset,
                "precision": p,
                "batch": batch,
                "steps": steps,
                "steps_per_s": steps / r["seconds"],
                "speed_vs_fp32": base["seconds"] / r["seconds"],
                "loss": r["loss"],
                "loss_change": abs(r["loss"] - base["loss"]),
                "weights_max_change": float((w - w0).abs().max()),
                "forward_max_change_over_rms": float((r["forward"] - base["forward"]).abs().max()) / rms,
            }
        )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="dit-mini,dit-tiny,DiT-S/2", help="comma-separated DiT presets")
    ap.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps (default 10)")
    ap.add_argument("--repeats", type=int, default=5, help="forward timings, best of (default 5)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument(
        "--precision",
        default=None,
        help="comma-separated arithmetics to compare instead (fp32, tf32: CUDA only, bf16); see the module doc",
    )
    ap.add_argument(
        "--save",
        action="store_true",
        help="also write benchmarks/results/bench_dit[_precision].json; prints now / last",
    )
    args = ap.parse_args(argv)
    if args.precision is not None:
        precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
        bad = [p for p in precisions if p not in PRECISIONS]
        if not precisions or bad:
            print(
                f"bench_dit: error: precision: must be among {', '.join(PRECISIONS)}, got {args.precision!r}",
                file=sys.stderr,
            )
            return 2
        if "tf32" in precisions and args.device != "cuda":
            print("bench_dit: error: precision: tf32 needs --device cuda (TF32 is a CUDA arithmetic)", file=sys.stderr)
            return 2
        return _precision_main(args, precisions)
    last = saved.load("bench_dit")
    last_train = {"rows": last.get("train", [])} if last and last.get("device") == args.device else None
    out = {
        "device": args.device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train": [],
        "pruned": [],
    }
    for p in args.presets.split(","):
        r = bench_train(p, args.batch, args.steps, args.device)
        out["train"].append(r)
        print(
            f"{p:9s} {r['parameters']:>11,d} params  batch {args.batch}: {r['steps_per_s']:7.2f} steps/s, "
            f"peak {r['peak_mib']:8.1f} MiB ({r['memory']})"
            + saved.versus(last_train, ("preset", p), "steps_per_s", r["steps_per_s"]),
            flush=True,
        )
        for row in bench_pruned(p, args.batch, args.device, args.repeats):
            out["pruned"].append(row)
            print(
                f"    eta {row['eta']:.2f}: heads kept {row['heads_kept']:.2f}, FLOPs kept {row['flops_kept']:.3f}, "
                f"parameters kept "
                f"{row['parameters_kept']:.3f}, forward time x{row['forward_time_ratio']:.3f}",
                flush=True,
            )
    return _write(args, out, "bench_dit")


def _precision_main(args, precisions: list[str]) -> int:
    last = saved.load("bench_dit_precision")
    last = last if last and last.get("device") == args.device else None
    out = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(), "rows": []}
    for preset in args.presets.split(","):
        for r in bench_precision(preset, args.batch, args.steps, args.device, precisions):
            out["rows"].append(r)
            prior = {"rows": [q for q in (last or {}).get("rows", []) if q["preset"] == preset]}
            print(
                f"{preset:9s} {r['precision']}: {r['steps_per_s']:7.2f} steps/s = {r['speed_vs_fp32']:.2f}x fp32; "
                f"loss change {r['loss_change']:.2e}, weights max change {r['weights_max_change']:.2e}, "
                f"forward max change {r['forward_max_change_over_rms']:.2e} of RMS"
                + saved.versus(prior, ("precision", r["precision"]), "steps_per_s", r["steps_per_s"]),
                flush=True,
            )
    return _write(args, out, "bench_dit_precision")


def _write(args, out: dict, name: str) -> int:
    """--json FILE and --save (benchmarks/results/<name>.json)."""
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    if args.save:
        print(f"wrote {saved.save(name, out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
