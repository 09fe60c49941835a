"""Benchmark: the exact nearest-neighbour methods of empirical.metrics.nearest_two (theory.neighbours).

Decides ``KDTREE_MAX_DIM`` (the "auto" switch): for each dimension d, the time of the KD-tree method against the
matrix method (a float32 first pass with a proven rounding margin, then the float64 order of the candidates), on n
training points and m samples drawn from a K = 8 mixture (the experiments' setting), reported as the ratio
matrix / KD-tree measured in one run (> 1: the KD-tree is faster). Also times, in the same run, the two float64
matrix forms the claims used before (reconstructed here for the ratios only): ``matrix_f64``, 2026-12-02 to the
switch to theory.neighbours (the block -2 x.y + ||y||^2 built in place, two argmin passes), and ``matrix_before``,
before 2026-12-02 (full distance block, clipped, argpartition and a sort of the two); and checks that all give the
same nearest neighbours and the same memorization decisions (d1 <= d2 / 9 in squared distances).

    python benchmarks/bench_memorization.py                       # n = 4,096, m = 2,048, d = 2..128
    python benchmarks/bench_memorization.py --n 100000 --m 4096   # the full profile's largest n
    python benchmarks/bench_memorization.py --save                # also benchmarks/results/; prints now / last saved
    python benchmarks/bench_memorization.py --n 10000 --dims 3072 --no-kdtree   # image dimensions
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import saved

from memsep.empirical.metrics import KDTREE_MAX_DIM, nearest_two
from memsep.empirical.mixture_diffusion import make_dataset, make_mixture


def matrix_before(x: np.ndarray, p: np.ndarray, chunk: int = 2048, memory_budget: int = 256 * 2**20):
    """The matrix form of nearest_two before 2026-12-02 (for the before/after ratio only)."""
    chunk = max(1, min(chunk, memory_budget // (8 * p.shape[0])))
    pn = np.einsum("ij,ij->i", p, p)
    d1, d2, i1 = np.empty(x.shape[0]), np.empty(x.shape[0]), np.empty(x.shape[0], dtype=np.int64)
    for s in range(0, x.shape[0], chunk):
        xb = x[s : s + chunk]
        sq = np.einsum("ij,ij->i", xb, xb)[:, None] - 2.0 * (xb @ p.T) + pn[None, :]
        np.maximum(sq, 0.0, out=sq)
        two = np.argpartition(sq, 1, axis=1)[:, :2]
        v = np.take_along_axis(sq, two, 1)
        order = np.argsort(v, axis=1, kind="stable")
        v = np.take_along_axis(v, order, 1)
        d1[s : s + chunk], d2[s : s + chunk] = v[:, 0], v[:, 1]
        i1[s : s + chunk] = np.take_along_axis(two, order, 1)[:, 0]
    return d1, d2, i1


def matrix_f64(x: np.ndarray, p: np.ndarray, chunk: int = 2048, memory_budget: int = 256 * 2**20):
    """The float64 matrix form of nearest_two from 2026-12-02 to its replacement (for the ratio only)."""
    chunk = max(1, min(chunk, memory_budget // (8 * p.shape[0])))
    pn = np.einsum("ij,ij->i", p, p)
    pt = np.ascontiguousarray((-2.0 * p).T)
    d1, d2, i1 = np.empty(x.shape[0]), np.empty(x.shape[0]), np.empty(x.shape[0], dtype=np.int64)
    for s in range(0, x.shape[0], chunk):
        xb = x[s : s + chunk]
        rows = np.arange(xb.shape[0])
        g = xb @ pt
        g += pn[None, :]
        first = np.argmin(g, axis=1)
        v1 = g[rows, first]
        g[rows, first] = np.inf
        v2 = g[rows, np.argmin(g, axis=1)]
        xn = np.einsum("ij,ij->i", xb, xb)
        d1[s : s + chunk] = np.maximum(v1 + xn, 0.0)
        d2[s : s + chunk] = np.maximum(v2 + xn, 0.0)
        i1[s : s + chunk] = first
    return d1, d2, i1


def data(d: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(training points (n, d), samples (m, d)): up to d = 256 a K = 8 mixture and its samples at t = 1e-3 (the
    claims' setting); above, where a full-covariance mixture does not fit in memory, 8 isotropic clusters
    (centres N(0, 4 I), spread N(0, I)), half the samples near-copies of training points (offset N(0, 1e-4 I)),
    the other half fresh cluster draws, as for a model that memorizes half of its samples."""
    if d <= 256:
        mix = make_mixture(d, 8, 2.0, 0)
        return make_dataset(mix, n, n, 1), mix.sample(m, np.random.default_rng(2), t=1e-3)
    rng = np.random.default_rng(1)
    centres = 2.0 * rng.normal(size=(8, d))
    pts = centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))
    half = m // 2
    copies = pts[rng.integers(0, n, half)] + 1e-2 * rng.normal(size=(half, d))
    fresh = centres[rng.integers(0, 8, m - half)] + rng.normal(size=(m - half, d))
    return pts, np.concatenate([copies, fresh])


def best_time(fn, repeats: int) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="training points (default 4096)")
    ap.add_argument("--m", type=int, default=2048, help="samples (default 2048)")
    ap.add_argument("--dims", default="2,4,8,16,32,64,128", help="comma-separated dimensions")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument(
        "--no-kdtree", action="store_true", help="skip the KD-tree (minutes at image dimensions, where it is not used)"
    )
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument(
        "--save", action="store_true", help="write the results to benchmarks/results/bench_memorization.json"
    )
    args = ap.parse_args(argv)
    last = saved.load("bench_memorization")
    rows = []
    for d in (int(v) for v in args.dims.split(",")):
        pts, xs = data(d, args.n, args.m)
        b = nearest_two(xs, pts, method="matrix")
        a = b if args.no_kdtree else nearest_two(xs, pts, method="kdtree")
        c = matrix_before(xs, pts)
        f = matrix_f64(xs, pts)
        for other in (a, c, f):
            assert np.array_equal(other[2], b[2]), "the methods disagree on the nearest neighbour"
            assert np.array_equal(other[0] <= other[1] / 9, b[0] <= b[1] / 9), "the methods disagree on a decision"
        tk = (
            float("nan")
            if args.no_kdtree
            else best_time(lambda pts=pts, xs=xs: nearest_two(xs, pts, method="kdtree"), args.repeats)
        )
        tm = best_time(lambda pts=pts, xs=xs: nearest_two(xs, pts, method="matrix"), args.repeats)
        tb = best_time(lambda pts=pts, xs=xs: matrix_before(xs, pts), args.repeats)
        tf = best_time(lambda pts=pts, xs=xs: matrix_f64(xs, pts), args.repeats)
        rows.append(
            {
                "d": d,
                "kdtree_s": tk,
                "matrix_s": tm,
                "matrix_over_kdtree": tm / tk,
                "matrix_before_s": tb,
                "before_over_now": tb / tm,
                "matrix_f64_s": tf,
                "f64_over_now": tf / tm,
                "auto": "kdtree" if d <= KDTREE_MAX_DIM else "matrix",
            }
        )
        print(
            f"d = {d:4d}: KD-tree {tk * 1e3:8.1f} ms, matrix {tm * 1e3:8.1f} ms, ratio matrix/KD-tree "
            f"{tm / tk:6.2f}; before 2026-12-02 {tb * 1e3:8.1f} ms = {tb / tm:5.2f}x today's; float64 in place "
            f"{tf * 1e3:8.1f} ms = {tf / tm:5.2f}x today's  (auto: {rows[-1]['auto']})"
            + saved.versus(
                last if last and (last["n"], last["m"]) == (args.n, args.m) else None, ("d", d), "matrix_s", tm
            ),
            flush=True,
        )
    out = {
        "n": args.n,
        "m": args.m,
        "rows": rows,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    if args.save:
        print(f"wrote {saved.save('bench_memorization', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
