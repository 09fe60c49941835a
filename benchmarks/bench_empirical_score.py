"""Benchmark: EmpiricalDistribution.score at scale against one matrix product of the same shape.

Target: for m = 1024 queries, n = 50,000 points, d = 3072, the score takes at most
2.5x the time of ONE product (m x d) @ (d x n) measured in the same run (the computation needs
two such products, so 2x is the floor), in float64 and float32, with extra memory under 512 MiB.

    python benchmarks/bench_empirical_score.py                    # the target sizes
    python benchmarks/bench_empirical_score.py --n 5000 --d 512   # a quick look

Times are the best of --repeats runs (after one warm-up); memory is the peak of Python-traced
allocations (numpy registers its buffers with tracemalloc) during one score call, above what
was allocated before it, the returned (m, d) array included. Results are printed and, with
--json, written to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc

import numpy as np

from memsep.theory import EmpiricalDistribution


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up (page faults, BLAS thread start-up)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_matmul(x: np.ndarray, points: np.ndarray, repeats: int) -> float:
    """Best time of one (m x d) @ (d x n) product into a preallocated output (freed on return)."""
    out = np.empty((x.shape[0], points.shape[0]), dtype=x.dtype)
    return best_time(lambda: np.matmul(x, points.T, out=out), repeats)


def run(m: int, n: int, d: int, dtype: str, repeats: int, t: float, budget: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, d), dtype=np.float32 if dtype == "float32" else np.float64)
    x = rng.standard_normal((m, d)).astype(dtype)
    emp = EmpiricalDistribution(points, dtype=dtype, memory_budget=budget)
    t_matmul = time_matmul(x, points, repeats)
    t_score = best_time(lambda: emp.score(x, t), repeats)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    emp.score(x, t)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {
        "m": m,
        "n": n,
        "d": d,
        "dtype": dtype,
        "t": t,
        "memory_budget": budget,
        "matmul_s": t_matmul,
        "score_s": t_score,
        "ratio": t_score / t_matmul,
        "extra_memory_MiB": peak / 2**20,
        "gflops_matmul": 2.0 * m * n * d / t_matmul / 1e9,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--m", type=int, default=1024, help="queries")
    p.add_argument("--n", type=int, default=50000, help="training points")
    p.add_argument("--d", type=int, default=3072, help="dimension")
    p.add_argument("--dtypes", default="float64,float32", help="comma-separated dtypes")
    p.add_argument("--t", type=float, default=0.1, help="diffusion time")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    p.add_argument("--budget-mib", type=int, default=256, help="EmpiricalDistribution memory_budget in MiB")
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    a = p.parse_args()
    rows = [run(a.m, a.n, a.d, dt, a.repeats, a.t, a.budget_mib * 2**20, a.seed) for dt in a.dtypes.split(",")]
    print(f"{'dtype':8s} {'matmul s':>9s} {'score s':>9s} {'ratio':>6s} {'extra MiB':>10s} {'GFLOP/s':>8s}")
    for r in rows:
        print(
            f"{r['dtype']:8s} {r['matmul_s']:9.3f} {r['score_s']:9.3f} {r['ratio']:6.2f} "
            f"{r['extra_memory_MiB']:10.1f} {r['gflops_matmul']:8.1f}"
        )
    if a.json:
        meta = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "numpy": np.__version__}
        with open(a.json, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
