"""Benchmark: AdamW's three implementations in the DSM training loop, per network preset.

``empirical.diffusion.train_diffusion`` (and ``empirical.regression.fit_score``) build AdamW through
``make_adamw(params, impl)``: "torch-default" (torch's own choice: on CPU the single-tensor loop), "foreach" or
"fused". The update rule is the same; the kernels differ, and so does the rounding in the last bits. For each preset
the loop is run ``--steps`` steps with each implementation, in interleaved rounds (the order rotated each round, so
drift in the machine's speed falls on all three alike), and the ratio of each implementation's time to
torch-default's is the median over rounds of the per-round ratios. Read differences under 10% as noise.

    python benchmarks/bench_optimizer.py                                  # MLP presets on CPU
    python benchmarks/bench_optimizer.py --presets dit-tiny --device cuda

Saves benchmarks/results/bench_optimizer.json (with ``--save``) and prints each ratio next to the last saved run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from memsep.empirical.diffusion import DiffusionConfig, train_diffusion
from memsep.empirical.regression import ADAMW_IMPLS

SAVED = Path(__file__).resolve().parent / "results" / "bench_optimizer.json"


def _data(preset: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if preset.startswith("dit") or preset.startswith("DiT"):
        c = _model(preset).cfg
        return rng.uniform(-1, 1, (n, c.channels, c.image_size, c.image_size))
    return rng.standard_normal((n, 32))


def _model(preset: str):
    if preset.startswith("dit") or preset.startswith("DiT"):
        from memsep.empirical.dit import make_dit

        return make_dit(preset)
    return None


def time_run(preset: str, impl: str, steps: int, batch: int, device: str) -> float:
    data = _data(preset, 1024, np.random.default_rng(0))
    cfg = DiffusionConfig(steps=steps, batch=batch, device=device, adamw=impl, log_every=steps, warmup=1)
    model = _model(preset)
    kw = {"model": model} if model is not None else {"preset": preset}
    t0 = time.perf_counter()
    train_diffusion(data, cfg, **kw)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="mlp-6k,mlp-100k,mlp-400k,mlp-1.6m", help="comma-separated presets")
    ap.add_argument("--steps", type=int, default=200, help="training steps per timed run (default 200)")
    ap.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--save", action="store_true", help="write the results to benchmarks/results/bench_optimizer.json")
    args = ap.parse_args(argv)
    last = json.loads(SAVED.read_text(encoding="utf-8")) if SAVED.is_file() else None
    last_rows = {(r["preset"], r["impl"]): r for r in (last or {}).get("rows", [])}
    rows = []
    for preset in args.presets.split(","):
        time_run(preset, "torch-default", 5, args.batch, args.device)  # warm-up
        times = {impl: [] for impl in ADAMW_IMPLS}
        for r in range(args.rounds):
            order = ADAMW_IMPLS[r % 3 :] + ADAMW_IMPLS[: r % 3]
            for impl in order:
                times[impl].append(time_run(preset, impl, args.steps, args.batch, args.device))
        base = np.asarray(times["torch-default"])
        for impl in ADAMW_IMPLS:
            ratio = float(np.median(np.asarray(times[impl]) / base))
            row = {"preset": preset, "impl": impl, "median_s": float(np.median(times[impl])), "ratio": ratio}
            rows.append(row)
            prev = last_rows.get((preset, impl))
            was = f"  (last saved run: {prev['ratio']:.2f})" if prev else ""
            print(f"{preset:10s} {impl:14s} {row['median_s'] / args.steps * 1e3:8.2f} ms/step  "
                  f"ratio to torch-default {ratio:5.2f}{was}", flush=True)  # fmt: skip
    out = {
        "steps": args.steps,
        "batch": args.batch,
        "rounds": args.rounds,
        "device": args.device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    if args.save:
        SAVED.parent.mkdir(parents=True, exist_ok=True)
        SAVED.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
