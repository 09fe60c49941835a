"""The empirical distribution of n training points and its noised marginal (Section 2; S1, S2, A1).

    Phat_t = (1/n) sum_i N(alpha_t x_i, sigma_t^2 I)
    w_i(x) = softmax_i( -||x - alpha_t x_i||^2 / (2 sigma_t^2) )
    E[X_0 | X_t = x]   = sum_i w_i(x) x_i                       (empirical denoiser)
    grad log phat_t(x) = (alpha_t E[X_0 | X_t = x] - x) / sigma_t^2   (= -(1/sigma_t^2) sum_i w_i (x - alpha_t x_i))
    Cov[X_0 | X_t = x] = sum_i w_i (x_i - m)(x_i - m)^T,  m = E[X_0 | X_t = x]
    grad^2 log phat_t(x) = -I / sigma_t^2 + (alpha_t^2 / sigma_t^4) Cov[X_0 | X_t = x]

(For this law the Hessian is the second derivative of a log-sum-exp of quadratics, which is
literally the last line; claim A1 checks it against autograd and sympy, not against itself.)

Large-scale evaluation. The points are stored centred (p_i' = x_i - c, c their mean), which
keeps the expansion below accurate far from the origin. Dropping the per-query constant,
the softmax logits are

    b_i(x) = (alpha_t / sigma_t^2) (x'.p_i' - (alpha_t / 2) ||p_i'||^2),   x' = x - alpha_t c,

so one pass over chunks of points costs two matrix products per chunk (x' P^T for the logits,
w P for the weighted sum) with an online (running-max) softmax, as in streaming attention.
Extra memory is one (m_chunk, n_chunk) logit block plus (m_chunk, d) accumulators, bounded
by ``memory_budget`` bytes.
"""

from __future__ import annotations

import numpy as np

from .forward import alpha, sigma2
from .neighbours import nearest_k
from .quadrature import GaussianComponents
from .validation import as_generator, as_points, as_positive_int, as_time, as_weights

__all__ = ["EmpiricalDistribution"]

_LOG_2PI = np.log(2.0 * np.pi)
# Softmax terms below exp(_EXP_FLOOR) of the largest are floored there (see _scan): low enough to be
# irrelevant (n * e^-600 and n * e^-60 relative), high enough that neither exp nor the products
# w_i x_i ever touch subnormal numbers, which are 20-100x slower on x86 in numpy's exp and in BLAS.
_EXP_FLOOR = {"d": -600.0, "f": -60.0}
# The sparse sum of the denoiser (_scan, _kept): in a block where few weights exceed exp(-_DROP) of their row's
# running maximum, only those are summed, by a gather, instead of the dense product w @ P. The weight dropped is at
# most n exp(-_DROP) of the total: 50,000 exp(-45) = 1.4e-15 in float64 (rounding level), 50,000 exp(-30) = 4.7e-9
# in float32 (below float32 rounding of 6e-8). _GATHER_COST: a kept weight's gathered row and scattered sum cost about
# this many entries of the dense product, whose multiply-adds run at matrix-product speed (benchmarks/
# bench_empirical_score.py: at 16 the gather lost 2x at t = 1, d = 1024); the gathered rows must also fit in half the
# memory budget.
_DROP = {"d": 45.0, "f": 30.0}
_DROP_BELOW = {k: float(np.exp(-v)) for k, v in _DROP.items()}
_GATHER_COST = {"d": 64, "f": 128}  # float32 products run twice as fast, the gather does not


class EmpiricalDistribution:
    """Phat = (1/n) sum_i delta_{x_i} and its noised marginals Phat_t.

    points: (n, d) finite. weights: optional probabilities pi (n,) (default 1/n; zero-weight
    points are dropped), for a law with multiplicities (see :meth:`deduplicated`). dtype:
    float64 (default, reference precision) or float32 (half the memory, about 3x faster matrix
    products; logits then carry float32 rounding, relative ~1e-7 * ||x|| ||x_i|| / sigma_t^2).
    memory_budget: bytes of scratch memory per call. sparse: where the weights are nearly one-hot (small t), the
    denoiser and the score sum only the weights above exp(-45) (float64; exp(-30) in float32) of each row's
    maximum, by a gather, instead of the dense product; the weight dropped is at most n exp(-45) (n exp(-30)) of the
    total, so the denoiser moves by at most 2 n exp(-45) max_i ||x_i - c|| (tested for t from 1e-4 to 10; False:
    always the dense product). Every method except sample(t=0) and nearest
    needs t > 0. score and denoiser return the distribution's dtype; logpdf, weights,
    posterior_cov and hessian are always float64.
    """

    def __init__(self, points, *, weights=None, dtype=np.float64, memory_budget: int = 256 * 2**20, sparse=True):
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"dtype: must be float64 or float32, got {dtype!r}") from None
        if dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype: must be float64 or float32, got {dtype}")
        self.memory_budget = as_positive_int(memory_budget, "memory_budget", minimum=2**16)
        if not isinstance(sparse, bool):
            raise ValueError(f"sparse: must be True or False, got {sparse!r}")
        self.sparse = sparse  # the denoiser's sparse sum where the weights are nearly one-hot (_kept)
        pts = as_points(points, "points", dtype=dtype)
        if weights is None:
            self.weights_ = None  # uniform 1/n
        else:
            w = as_weights(weights, "weights")
            if w.size != pts.shape[0]:
                raise ValueError(f"weights: must have one entry per point (n = {pts.shape[0]}), got {w.size}")
            keep = w > 0  # zero-weight points drop out
            pts, w = np.ascontiguousarray(pts[keep]), w[keep]
            self.weights_ = w
            self.weights_.setflags(write=False)
        self.points = pts
        self.points.setflags(write=False)
        self.dtype = dtype
        self.center = pts.mean(axis=0, dtype=np.float64)  # (d,)
        self._pc = np.ascontiguousarray(pts - self.center.astype(dtype))  # (n, d) centred
        self._half_sq = 0.5 * np.einsum("nd,nd->n", self._pc, self._pc)  # (n,) 0.5 ||p_i'||^2
        # log pi_i enters the logits only for non-uniform weights (uniform: a constant -log n).
        self._log_w = None if self.weights_ is None else np.log(self.weights_).astype(dtype)
        self._log_const = -np.log(self.n) if self.weights_ is None else 0.0

    @classmethod
    def deduplicated(cls, points, **kw) -> EmpiricalDistribution:
        """The same law from the distinct rows of ``points`` with multiplicity weights (claim A4).

        (1/n) sum_i delta_{x_i} = sum_j (c_j / n) delta_{u_j} over the distinct points u_j with
        counts c_j, so every method gives the same values (up to rounding).
        """
        pts = as_points(points, "points")
        uniq, counts = np.unique(pts, axis=0, return_counts=True)
        return cls(uniq, weights=counts / counts.sum(), **kw)

    @property
    def probabilities(self) -> np.ndarray:
        """pi_i: (n,) (1/n each unless weights were given)."""
        return np.full(self.n, 1.0 / self.n) if self.weights_ is None else self.weights_

    @property
    def n(self) -> int:
        return self.points.shape[0]

    @property
    def d(self) -> int:
        return self.points.shape[1]

    def __repr__(self) -> str:
        return f"EmpiricalDistribution(n={self.n}, d={self.d}, dtype={self.dtype.name})"

    def components(self, t: float) -> GaussianComponents:
        """Phat_t as n components pi_i N(alpha_t x_i, sigma_t^2 I) (for quadrature)."""
        t = as_time(t)
        return GaussianComponents(
            self.probabilities.copy(), alpha(t) * self.points.astype(np.float64), scale=float(np.sqrt(sigma2(t)))
        )

    def sample(self, m: int, rng, t: float = 0.0) -> np.ndarray:
        """m draws from Phat_t: i ~ pi (uniform: rng.integers), then z ~ N(0, I); x = alpha_t x_i + sigma_t z.

        The draw order (all indices, then all normals) matches ``theory.dsm.noise_draws``, so
        the same seed gives the same points in both.
        """
        m = as_positive_int(m, "m")
        rng = as_generator(rng)
        t = as_time(t, allow_zero=True)
        idx = rng.integers(self.n, size=m) if self.weights_ is None else rng.choice(self.n, size=m, p=self.weights_)
        if t == 0.0:
            return self.points[idx].astype(np.float64)
        z = rng.standard_normal((m, self.d))
        return alpha(t) * self.points[idx] + np.sqrt(sigma2(t)) * z

    # ---- streaming softmax core -----------------------------------------------------------
    def _blocks(self, m: int, itemsize: int) -> tuple[int, int]:
        """(query rows per block, points per chunk) with scratch memory within the budget.

        The logit block (rows x chunk) is the unit of work. In low dimension the elementwise
        passes over it dominate, so it is kept near cache size (2^17 entries at d <= 4); the
        matrix products gain from larger blocks as d grows (2^15 d entries), up to half the
        memory budget. Chunks hold at most 8192 points (and at most 1/64 of the block, so a
        small budget still chunks the points); rows fill the block.
        """
        budget = self.memory_budget
        block = int(min(max(2**17, 2**15 * self.d), budget // (2 * itemsize)))  # logit entries
        nc = max(1, min(self.n, 8192, block // 64))
        mc = max(1, min(m, block // nc, budget // (nc * itemsize + 32 * self.d)))
        return mc, nc

    def _scan(self, xc: np.ndarray, t: float, need_sum: bool):
        """One pass over the points for centred queries xc (m, d).

        Returns run_max (m,), denom (m,) with sum_i exp(b_i) = denom * exp(run_max), and, with
        need_sum, acc (m, d) = sum_i exp(b_i - run_max) p_i'.
        """
        a, s2 = alpha(t), sigma2(t)
        m = xc.shape[0]
        _, nc = self._blocks(m, self.dtype.itemsize)
        run_max = np.full(m, -np.inf)
        denom = np.zeros(m)
        acc = np.zeros((m, self.d)) if need_sum else None
        buf = np.empty((m, nc), dtype=self.dtype)
        coef = self.dtype.type(a / s2)
        half_a = self.dtype.type(a)
        for j0 in range(0, self.n, nc):
            p = self._pc[j0 : j0 + nc]  # (c, d)
            logits = buf[:, : p.shape[0]]  # (m, c)
            np.matmul(xc, p.T, out=logits)
            logits -= half_a * self._half_sq[j0 : j0 + nc]
            logits *= coef
            if self._log_w is not None:
                logits += self._log_w[j0 : j0 + nc]
            new_max = np.maximum(run_max, logits.max(axis=1))
            logits -= new_max[:, None].astype(self.dtype)
            # Floor far-away terms (see _EXP_FLOOR): avoids the subnormal slow paths.
            np.maximum(logits, _EXP_FLOOR[self.dtype.char], out=logits)
            np.exp(logits, out=logits)
            scale = np.exp(run_max - new_max)
            denom = denom * scale + logits.sum(axis=1, dtype=np.float64)
            if need_sum:
                acc *= scale[:, None]
                rows, cols = self._kept(logits, new_max) if self.sparse else (None, None)
                if rows is None:
                    acc += logits @ p  # dense: the weights spread over many points
                elif rows.size:  # sparse: sum only the weights above the drop threshold, by row
                    start = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
                    contrib = logits[rows, cols, None] * p[cols]  # (k, d)
                    acc[rows[start]] += np.add.reduceat(contrib, start, axis=0)
            run_max = new_max
        return run_max, denom, acc

    def _kept(self, w: np.ndarray, new_max: np.ndarray):
        """(rows, cols) of the weights in an exponentiated block ``w`` (m, c) (relative to each row's running max)
        above exp(-_DROP) when they are few enough for a gather to beat the dense product, else (None, None).

        A dropped weight is below exp(-_DROP) times the row's running maximum, hence below exp(-_DROP) times its
        final maximum term and its final sum: at most n exp(-_DROP) of the total weight is dropped (module doc)."""
        keep = w > _DROP_BELOW[self.dtype.char]
        k = int(np.count_nonzero(keep))
        if k * _GATHER_COST[self.dtype.char] > w.size or 2 * k * self.d * w.itemsize > self.memory_budget:
            return None, None
        return np.nonzero(keep)

    def _queries(self, x, t, allow_zero=False):
        t = as_time(t, allow_zero=allow_zero)
        x = as_points(x, "x", d=self.d)
        return x, t

    def _centred(self, x: np.ndarray, a: float) -> np.ndarray:
        return np.ascontiguousarray(x - a * self.center, dtype=self.dtype)

    def _denoise_centred(self, x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(x' (m, d), E[X_0 | X_t = x] - c (m, d)) in blocks of queries."""
        a = alpha(t)
        out = np.empty((x.shape[0], self.d))
        xc_all = self._centred(x, a)
        mc, _ = self._blocks(x.shape[0], self.dtype.itemsize)
        for i0 in range(0, x.shape[0], mc):
            _, denom, acc = self._scan(xc_all[i0 : i0 + mc], t, need_sum=True)
            out[i0 : i0 + mc] = acc / denom[:, None]
        return xc_all, out

    # ---- public math ----------------------------------------------------------------------
    def weights(self, x, t: float) -> np.ndarray:
        """Softmax weights w_i(x): (m, n). Materialises m x n; use score/denoiser at scale."""
        x, t = self._queries(x, t)
        a, s2 = alpha(t), sigma2(t)
        xc = self._centred(x, a).astype(np.float64)
        logits = (a / s2) * (xc @ self._pc.T.astype(np.float64) - a * self._half_sq.astype(np.float64))
        if self._log_w is not None:
            logits += self._log_w.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        return w / w.sum(axis=1, keepdims=True)

    def logpdf(self, x, t: float) -> np.ndarray:
        """log phat_t(x) = log (1/n) sum_i N(x; alpha_t x_i, sigma_t^2 I): (m,)."""
        x, t = self._queries(x, t)
        a, s2 = alpha(t), sigma2(t)
        xc = self._centred(x, a)
        out = np.empty(x.shape[0])
        mc, _ = self._blocks(x.shape[0], self.dtype.itemsize)
        for i0 in range(0, x.shape[0], mc):
            run_max, denom, _ = self._scan(xc[i0 : i0 + mc], t, need_sum=False)
            out[i0 : i0 + mc] = run_max + np.log(denom)
        sq = np.einsum("md,md->m", xc.astype(np.float64), xc.astype(np.float64))
        return out - sq / (2 * s2) + self._log_const - 0.5 * self.d * (_LOG_2PI + np.log(s2))

    def denoiser(self, x, t: float) -> np.ndarray:
        """E[X_0 | X_t = x] = sum_i w_i(x) x_i: (m, d)."""
        x, t = self._queries(x, t)
        _, mean_c = self._denoise_centred(x, t)
        return (mean_c + self.center).astype(self.dtype, copy=False)

    def score(self, x, t: float) -> np.ndarray:
        """grad log phat_t(x) = (alpha_t E[X_0 | X_t = x] - x) / sigma_t^2: (m, d)."""
        x, t = self._queries(x, t)
        a, s2 = alpha(t), sigma2(t)
        xc, mean_c = self._denoise_centred(x, t)
        return ((a * mean_c - xc) / s2).astype(self.dtype, copy=False)

    def posterior_cov(self, x, t: float) -> np.ndarray:
        """Cov[X_0 | X_t = x] = sum_i w_i (x_i - m)(x_i - m)^T: (m, d, d), centred form."""
        x, t = self._queries(x, t)
        pc = self._pc.astype(np.float64)
        out = np.empty((x.shape[0], self.d, self.d))
        rows = max(1, self.memory_budget // (8 * (self.n * (self.d + 2) + self.d * self.d)))
        for i0 in range(0, x.shape[0], rows):
            w = self.weights(x[i0 : i0 + rows], t)  # (b, n)
            mean = w @ pc  # (b, d)
            dev = pc[None, :, :] - mean[:, None, :]  # (b, n, d)
            cov = np.einsum("bn,bni,bnj->bij", w, dev, dev)
            out[i0 : i0 + rows] = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        return out

    def hessian(self, x, t: float) -> np.ndarray:
        """grad^2 log phat_t(x) = -I/sigma_t^2 + (alpha_t^2/sigma_t^4) Cov[X_0 | X_t = x]: (m, d, d)."""
        t = as_time(t)
        a, s2 = alpha(t), sigma2(t)
        return (a * a / (s2 * s2)) * self.posterior_cov(x, t) - np.eye(self.d)[None] / s2

    def nearest(self, x, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Indices (m, k) and Euclidean distances (m, k) of the k nearest points, nearest first.

        Exact: the first k points in the order of (||x - x_i|| computed as the square root of the float64 sum of
        squared differences, index), whatever the chunking; ``theory.neighbours.nearest_k`` (a KD-tree up to d = 8,
        above a float32 first pass with a proven rounding margin).
        """
        k = as_positive_int(k, "k")
        if k > self.n:
            raise ValueError(f"k: must be <= n = {self.n}, got {k}")
        x = as_points(x, "x", d=self.d)
        idx, sq = nearest_k(x, self.points.astype(np.float64), k, memory_budget=self.memory_budget)
        return idx, np.sqrt(sq)
