"""Benchmark: EmpiricalDistribution.score at scale against one matrix product of the same shape.

Targets, for m = 1024 queries, n = 50,000 points, d = 3072, against ONE product (m x d) @ (d x n) measured in the
same run, in float64 and float32, with extra memory under 512 MiB:
  - dense (``sparse=False``, the only path before 2026-12-02): at most 2.5x (it needs two such products, so 2x is
    the floor of the dense formulation);
  - sparse (the default): at most 1.3x at t <= 0.1, where the weights are nearly one-hot and the second product is
    replaced by a gather of the few weights above exp(-45) of each row's maximum (``theory.empirical``), and no
    slower than dense at large t (it falls back to the dense product where the weights spread).
Both are timed at every --ts value in the same run; the ratio sparse / dense is "before / after".

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


def run(m: int, n: int, d: int, dtype: str, repeats: int, ts: list[float], budget: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, d), dtype=np.float32 if dtype == "float32" else np.float64)
    x = rng.standard_normal((m, d)).astype(dtype)
    sparse = EmpiricalDistribution(points, dtype=dtype, memory_budget=budget)
    dense = EmpiricalDistribution(points, dtype=dtype, memory_budget=budget, sparse=False)
    t_matmul = time_matmul(x, points, repeats)
    rows = []
    for t in ts:
        t_dense = best_time(lambda t=t: dense.score(x, t), repeats)
        t_sparse = best_time(lambda t=t: sparse.score(x, t), repeats)
        err = float(np.abs(sparse.score(x, t).astype(np.float64) - dense.score(x, t).astype(np.float64)).max())
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        sparse.score(x, t)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        rows.append(
            {
                "m": m,
                "n": n,
                "d": d,
                "dtype": dtype,
                "t": t,
                "memory_budget": budget,
                "matmul_s": t_matmul,
                "dense_s": t_dense,
                "sparse_s": t_sparse,
                "dense_ratio": t_dense / t_matmul,
                "sparse_ratio": t_sparse / t_matmul,
                "max_abs_diff": err,
                "extra_memory_MiB": peak / 2**20,
                "gflops_matmul": 2.0 * m * n * d / t_matmul / 1e9,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--m", type=int, default=1024, help="queries")
    p.add_argument("--n", type=int, default=50000, help="training points")
    p.add_argument("--d", type=int, default=3072, help="dimension")
    p.add_argument("--dtypes", default="float64,float32", help="comma-separated dtypes")
    p.add_argument("--ts", default="1e-4,0.1,1,10", help="comma-separated diffusion times")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    p.add_argument("--budget-mib", type=int, default=256, help="EmpiricalDistribution memory_budget in MiB")
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    a = p.parse_args()
    ts = [float(v) for v in a.ts.split(",")]
    rows = [
        r for dt in a.dtypes.split(",") for r in run(a.m, a.n, a.d, dt, a.repeats, ts, a.budget_mib * 2**20, a.seed)
    ]
    print(
        f"{'dtype':8s} {'t':>7s} {'matmul s':>9s} {'dense/GEMM':>10s} {'sparse/GEMM':>11s} {'max diff':>9s} {'MiB':>6s}"
    )
    for r in rows:
        print(
            f"{r['dtype']:8s} {r['t']:7.0e} {r['matmul_s']:9.3f} {r['dense_ratio']:10.2f} {r['sparse_ratio']:11.2f} "
            f"{r['max_abs_diff']:9.1e} {r['extra_memory_MiB']:6.1f}"
        )
    if a.json:
        meta = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "numpy": np.__version__}
        with open(a.json, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
