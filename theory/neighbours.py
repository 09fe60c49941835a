"""Exact k nearest neighbours, with a cheap first pass whose rounding is bounded (issue 17).

The answer is defined in float64 by the difference form: for query x_i and point p_j,

    R_ij = sum_l (x_il - p_jl)^2                (float64, ``_exact_sq``: the reference squared distance)

and the k nearest of x_i are the first k points in the order of (R_ij, j): exact ties go to the lower index,
whatever the chunking or the first pass. That is what a brute-force loop computes (tests/test_neighbours.py).

Cost. Computing R for every pair costs n d subtractions per query; instead a first pass in ``first_pass``
precision (float32 by default: half the memory traffic of float64 and twice the BLAS speed) evaluates the
expanded form on centred data scaled by a power of two 2^-e (exact; every |entry| < 1, so float32 neither
overflows nor underflows; c the points' mean),

    F_ij = ||p_j - c||^2 - 2 (x_i - c).(p_j - c)         (the row constant ||x_i - c||^2 dropped)

(one GEMM per query block: [x - c, 1] @ [-2 (p - c), ||p - c||^2]^T)

and only the points with F_ij <= U_i + 2 (B_i + S_i) get R computed, where U_i is an upper bound on the k-th
smallest F_ij of the row (the k-th smallest of the minima over 64 groups of columns, which belong to k distinct
points; one pass over the block finds them, and only the groups whose minimum is under the threshold are
searched). B_i bounds |F_ij + ||x_i - c||^2 - E_ij| (E_ij the true squared distance, in real arithmetic) for
every j and S_i bounds |R_ij - E_ij|; with u the unit roundoff of the first pass and u64 that of float64,

    B_i + S_i <= 2.5 (d + 8) (u + u64) (||x_i - c|| + max_j ||p_j - c||)^2

(rounding of the inputs to the pass, the dot product's gamma_(d+1) = (d + 1) u / (1 - (d + 1) u) bound, valid
for any summation order, the norm and the centring; a factor 1.25 over the first-order terms). Then every point
of the true top k is a candidate: the k points with F <= U_i have R <= U_i + ||x_i - c||^2 + B_i + S_i, so any j
with R_ij at most the k-th smallest R satisfies F_ij <= R_ij + S_i + B_i - ||x_i - c||^2 <= U_i + 2 (B_i + S_i).
The result is therefore the same, bit for bit, for either first pass and equal to the brute force: float32
errors (faiss's float32 search is off by up to 9e-3 in squared distance at d = 3,072) never reach it.
The margin is a worst-case bound; on the benchmark's data it leaves 2.0 candidates per query at d = 32 and 5.6 at
d = 3,072 (k = 2). When near ties are many (duplicated points, or a margin wide against the gaps) a query block's
candidate list may grow; blocks whose candidates exceed the memory budget are split, down to single queries.

Shapes: queries (m, d), points (n, d) -> (index (m, k) int64, squared distance (m, k) float64), nearest first.
``exclude_self=True`` treats the queries as the points themselves (m = n) and never returns j = i for row i:
the k nearest OTHER rows (precision / recall radii).

Not yet used by the claims: ``empirical.metrics.nearest_two``, ``empirical.image_metrics`` and
``EmpiricalDistribution.nearest`` keep their own implementations until the results they feed are recomputed
with this one (it changes which code computed every committed result; README "Benchmarks").
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from .validation import as_points, as_positive_int

__all__ = ["FIRST_PASSES", "KDTREE_MAX_DIM", "METHODS", "nearest_k", "nearest_k_scaled", "nearest_two"]

FIRST_PASSES = ("float32", "float64")
METHODS = ("auto", "kdtree", "matrix")
# "auto": the KD-tree up to this dimension, the float32 first pass above. Measured 2026-12-07 (benchmarks/
# bench_memorization.py, n = 50,000, m = 2,048, one thread under load): KD-tree 0.31 s against 0.40 s at d = 8,
# 1.13 s against 0.40 s at d = 12 (the float64 matrix form's switch had been 12).
KDTREE_MAX_DIM = 8
_U64 = float(np.finfo(np.float64).eps) / 2
_SAFETY = 2.5  # the bound's factor over (d + 8) (u + u64) (||x - c|| + max ||p - c||)^2 (module doc)
_PIECE = 2**23  # bytes of the float64 pieces (conversions, exact distances): fresh large arrays cost page faults
_GROUPS = 64  # column groups of the first pass's upper bound on the k-th smallest value


def _exact_sq(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """R = sum_l (x_l - p_l)^2 row by row, float64 (x, p: (q, d)): the reference every answer is defined by."""
    diff = x - p
    return np.einsum("ij,ij->i", diff, diff)


def _exponent(*arrays: np.ndarray) -> int:
    """e with every |entry| < 2^e (0 when all are zero): dividing by 2^e is exact and keeps float32 in range."""
    big = max(max(float(a.max()), -float(a.min())) for a in arrays)
    return int(np.frexp(big)[1]) if big > 0 else 0


def _rows(a: np.ndarray, e: int, c: np.ndarray, ft: np.dtype, lead: float, pad: int, step: int):
    """([lead (a / 2^e - c), ||a / 2^e - c||^2] in ``ft`` (rows + pad, d + 1), the norms (rows,) in float64), built
    ``step`` rows at a time (no full float64 copy); padding rows are (0, ..., 0, +inf)."""
    out = np.zeros((a.shape[0] + pad, a.shape[1] + 1), dtype=ft)
    norms = np.empty(a.shape[0])
    for s in range(0, a.shape[0], step):
        q = a[s : s + step] * math.ldexp(1.0, -e) - c
        norms[s : s + q.shape[0]] = np.einsum("ij,ij->i", q, q)
        out[s : s + q.shape[0], :-1] = lead * q  # lead = -2 or 1: exact scalings
    out[: a.shape[0], -1] = norms
    out[a.shape[0] :, -1] = np.inf
    return out, norms


def nearest_k(queries, points, k: int = 2, **options) -> tuple[np.ndarray, np.ndarray]:
    """(index (m, k), squared distance (m, k)) of the k nearest rows of ``points`` to each row of ``queries``,
    exact in the order (R_ij, j) of the module doc. ``options`` are ``nearest_k_scaled``'s (method, first_pass,
    exclude_self, chunk, memory_budget), which only change the time taken. A squared distance too large for
    float64 is a ValueError, never an inf."""
    idx, sq, e = nearest_k_scaled(queries, points, k, **options)
    with np.errstate(over="ignore"):
        sq = np.ldexp(sq, 2 * e)
    if not np.all(np.isfinite(sq)):
        raise ValueError(
            f"queries, points: squared distances overflow float64 (largest |coordinate| about 2^{e}); rescale the data"
        )
    return idx, sq


def nearest_k_scaled(
    queries,
    points,
    k: int = 2,
    *,
    method: str = "auto",
    first_pass: str = "float32",
    exclude_self: bool = False,
    chunk: int = 2048,
    memory_budget: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray, int]:
    """``nearest_k`` in units of 2^e: (index (m, k), squared distance / 4^e (m, k), e), with every |coordinate| <
    2^e. Never overflows, so scale-free decisions (the memorization rule) can be made on any finite data.

    ``method``: "matrix" (the float32 or float64 ``first_pass`` of the module doc; ``chunk`` queries at a time at
    most, fewer where the (chunk, n) block would exceed ``memory_budget`` bytes), "kdtree" (scipy's cKDTree finds
    the candidates) or "auto" (the KD-tree up to d = KDTREE_MAX_DIM). ``exclude_self``: the queries are the points
    themselves and row i never returns i."""
    x = as_points(queries, "queries")
    p = as_points(points, "points")
    if x.shape[1] != p.shape[1]:
        raise ValueError(f"queries, points: dimensions differ ({x.shape[1]} vs {p.shape[1]})")
    k = as_positive_int(k, "k")
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
    if first_pass not in FIRST_PASSES:
        raise ValueError(f"first_pass: must be one of {FIRST_PASSES}, got {first_pass!r}")
    if not isinstance(exclude_self, (bool, np.bool_)):
        raise ValueError(f"exclude_self: must be a bool, got {exclude_self!r}")
    if exclude_self and x.shape != p.shape:
        raise ValueError(f"exclude_self: queries must be the points themselves, got shapes {x.shape} and {p.shape}")
    n_avail = p.shape[0] - bool(exclude_self)
    if k > n_avail:
        raise ValueError(f"k: must be <= {n_avail} (the points{' other than the query' if exclude_self else ''})")
    chunk = as_positive_int(chunk, "chunk")
    memory_budget = as_positive_int(memory_budget, "memory_budget")
    e = _exponent(x, p)
    step = max(1, min(memory_budget, _PIECE) // (8 * x.shape[1]))  # rows per float64 piece: stays in cache
    if method == "auto":
        method = "kdtree" if x.shape[1] <= KDTREE_MAX_DIM else "matrix"
    if method == "kdtree":
        idx, sq = _kdtree(x, p, k, e, bool(exclude_self), step)
    else:
        idx, sq = _matrix(x, p, k, e, first_pass, bool(exclude_self), chunk, memory_budget, step)
    return idx, sq, e


def _select(r: np.ndarray, cols: np.ndarray, exact: np.ndarray, rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first k candidates of each row in the order (R, index): (index (rows, k), R (rows, k)). Every row has at
    least k candidates; r holds row numbers 0..rows-1."""
    order = np.lexsort((cols, exact, r))  # by row, then R, then index
    r, cols, exact = r[order], cols[order], exact[order]
    take = np.searchsorted(r, np.arange(rows))[:, None] + np.arange(k)[None, :]
    return cols[take], exact[take]


def _exact_pairs(x: np.ndarray, p: np.ndarray, r: np.ndarray, cols: np.ndarray, scale: float, step: int) -> np.ndarray:
    """R of the pairs (x[r], p[cols]) in units of 2^e (scale = 2^-e), ``step`` pairs at a time."""
    if r.size == 0:
        return np.empty(0)
    return np.concatenate(
        [_exact_sq(x[r[a : a + step]] * scale, p[cols[a : a + step]] * scale) for a in range(0, r.size, step)]
    )


def _kdtree(x: np.ndarray, p: np.ndarray, k: int, e: int, exclude_self: bool, step: int):
    """Candidates from a KD-tree: every point within the tree's k-th distance (the (k + 1)-th when the query is one
    of the points) times 1 + 8 (d + 8) u64, which covers the tree's rounding and R's; then the exact order."""
    scale = math.ldexp(1.0, -e)
    xs, ps = x * scale, p * scale
    tree = cKDTree(ps)
    kk = k + exclude_self
    dist, _ = tree.query(xs, kk)
    dist = np.asarray(dist).reshape(x.shape[0], kk)
    radius = dist[:, -1] * (1.0 + 8.0 * (x.shape[1] + 8) * _U64)
    lists = tree.query_ball_point(xs, radius)
    lens = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    r = np.repeat(np.arange(x.shape[0]), lens)
    cols = np.fromiter((j for v in lists for j in v), dtype=np.int64, count=int(lens.sum()))
    if exclude_self:
        keep = cols != r
        r, cols = r[keep], cols[keep]
    return _select(r, cols, _exact_pairs(x, p, r, cols, scale, step), x.shape[0], k)


def _matrix(x, p, k: int, e: int, first_pass: str, exclude_self: bool, chunk: int, memory_budget: int, step: int):
    """The first pass of the module doc, then the exact order of the candidates."""
    ft = np.dtype(np.float32 if first_pass == "float32" else np.float64)
    u = float(np.finfo(ft).eps) / 2
    d, n = x.shape[1], p.shape[0]
    scale = math.ldexp(1.0, -e)  # multiplying by a power of two is exact (as dividing by 2^e)
    c = p.mean(axis=0) * scale
    groups = min(n, _GROUPS)
    width = -(-n // groups)  # columns per group; the last group is padded with +inf
    pad = groups * width - n
    # one GEMM gives F: [x - c, 1] @ [-2 (p - c), ||p - c||^2]^T, padding columns +inf
    prow, pnorm = _rows(p, e, c, ft, -2.0, pad, step)
    xf, xnorm = _rows(x, e, c, ft, 1.0, 0, step)
    xf[:, -1] = 1.0
    reach = np.sqrt(xnorm) + float(np.sqrt(pnorm.max()))
    margin = 2.0 * _SAFETY * (d + 8) * (u + _U64) * reach**2  # 2 (B_i + S_i), (m,)
    block = max(1, min(chunk, memory_budget // (ft.itemsize * (n + pad))))
    pair_budget = max(n, memory_budget // 24)  # (row, column, R) per candidate pair
    idx = np.empty((x.shape[0], k), dtype=np.int64)
    sq = np.empty((x.shape[0], k))

    def solve(s: int, t: int) -> None:
        g = xf[s:t] @ prow.T  # (b, n + pad)
        rows = np.arange(t - s)
        if exclude_self:
            g[rows, s + rows] = np.inf
        # an upper bound U_i >= v_i (the k-th smallest F of the row) is all the margin argument needs: the k-th
        # smallest of the group minima (k distinct points) is one, and one pass over the block finds it
        gmin = g.reshape(t - s, groups, width).min(axis=2)
        v = np.partition(gmin, k - 1, axis=1)[:, k - 1] if groups > k else gmin.max(axis=1)
        thr = np.nextafter((v.astype(np.float64) + margin[s:t]).astype(ft), ft.type(np.inf))
        # candidates lie in the groups whose minimum is under the threshold: look only there
        rg, cg = np.nonzero(gmin <= thr[:, None])
        sub = g.reshape(t - s, groups, width)[rg, cg]  # (groups kept, width)
        a, col = np.nonzero(sub <= thr[rg][:, None])
        del g, sub
        r, cols = rg[a], cg[a] * width + col
        if r.size > pair_budget and t - s > 1:  # too many near ties for one block: split it
            mid = (s + t) // 2
            solve(s, mid)
            solve(mid, t)
            return
        idx[s:t], sq[s:t] = _select(r, cols, _exact_pairs(x[s:t], p, r, cols, scale, step), t - s, k)

    for s in range(0, x.shape[0], block):
        solve(s, min(s + block, x.shape[0]))
    return idx, sq


def nearest_two(samples, points, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d1^2 (m,), d2^2 (m,), index of NN1 (m,)): ``nearest_k`` with k = 2 (keywords as there), in the form the
    memorization rule reads (d1 <= d2 / 9 in squared distances)."""
    idx, sq = nearest_k(samples, points, 2, **kw)
    return sq[:, 0], sq[:, 1], idx[:, 0]
