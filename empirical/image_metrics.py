"""Sample-quality metrics of the pruning experiments (M2-M4): precision, recall and Frechet distance.

Precision and recall (Kynkaanniemi et al. 2019), in a feature space, with k-NN manifolds (k a parameter,
3 by default; record it with the result, the values depend on it):
    radius_R(r) = distance from real feature r to its k-th nearest OTHER real feature
    precision   = fraction of generated g with ||g - r|| <= radius_R(r) for some real r
    recall      = fraction of real r with ||r - g|| <= radius_G(g) for some generated g

Frechet distance between Gaussians fitted to two feature sets (FID when the features are
Inception-v3's pool features; here also raw pixels and a small classifier trained on the data set's
labels, so the values are NOT comparable to the paper's CIFAR-10 FIDs):
    FD = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})
computed with symmetric eigendecompositions (float64), so it is real and >= 0 up to rounding.

FD with the finite-sample bias removed (``frechet_distance_extrapolated``; Chong & Forsyth 2020,
"Effectively Unbiased FID"). With real features R (M, f) and N generated features G (N, f), the
plug-in FD_N = FD(R, G) is biased upward: E ||mean(G) - mu_R||^2 = ||mu_G - mu_R||^2 + tr(Sigma_G) / N
exactly, and the trace term expands the same way, so E FD_N = FD_inf + c / N + O(1 / N^2) (plus a
term of order 1 / M from the real set, which a fixed real set adds to every FD_N alike: FD_inf is
the limit against THIS real set). FD is computed at sizes n_j = max(2, round(phi_j N)) for the
fractions phi_j (distinct sizes, at least two), on ``reps`` random subsets of G without replacement
at each n_j < N (one point, G itself, at n_j = N); then, over all P points (x_i = 1 / n_i, y_i = FD_i):
    c      = sum (x_i - xbar)(y_i - ybar) / sum (x_i - xbar)^2        (ordinary least squares)
    FD_inf = ybar - c xbar
    s^2    = sum (y_i - FD_inf - c x_i)^2 / (P - 2)
    se     = s sqrt(1 / P + xbar^2 / sum (x_i - xbar)^2)                (NaN when P <= 2)
The se comes from the fit's residuals ("ols-residuals"): it measures how much the extrapolation
depends on which subsets were drawn, GIVEN the generated set. It is not the sampling error of FD_inf
over generated sets (the subsets overlap and share G); for that compare models by seeds or by
``bootstrap_difference``. The 1 / N law is the large-N regime (Chong & Forsyth fit N from 5,000 to
50,000 for f = 2048): subsets much smaller than f are dominated by higher-order terms, so the smallest
n_j should stay well above f; FD_inf may come out negative when they do not.

Paired bootstrap of a difference (``bootstrap_difference``). Two models sampled with the same per-
sample seeds give rows a_i, b_i that belong together. For b = 1..B, draw indices I_b (m of them, with
replacement, from ``default_rng(derive_seed(seed, "bootstrap"))``) and compute
    D_b = metric(R, A[I_b]) - metric(R, B[I_b])          (the SAME indices for both: paired)
    estimate = metric(R, A) - metric(R, B),   se = sd(D_1..D_B) (ddof 1),
    interval = the (1 - level) / 2 and (1 + level) / 2 quantiles of D_1..D_B  (percentile interval)
The real features R are held fixed (a shared reference set). Caveats: a resample repeats rows, and
k-NN metrics see a repeat as a neighbour at distance 0 (radii shrink, recall drops), and FD's bias grows
as a resample has about 0.63 m distinct rows; in a difference of two models with the same m much of
this cancels, but the interval of a k-NN metric is approximate.

Feature extractors map (m, C, H, W) images in [-1, 1] to (m, f) float64:
    PixelFeatures()                    flattened pixels
    train_classifier(x, y, seed)       a small CNN trained here on the labels; ``ClassifierFeatures``
                                       returns its penultimate layer (128 features)
    cached_classifier(x, y, folder)    the same, trained once per (dataset, data, seed, steps, holdout,
                                       data digest) and kept in ``folder`` (see below)
    TorchScriptFeatures(path)          a user-supplied TorchScript feature network (e.g. the
                                       Inception-v3 file of the standard FID code); nothing is downloaded

TorchScriptFeatures feeds images the way the standard FID Inception network (``inception-2015-12-05.pt``
as StyleGAN2-ADA's metrics call it: ``detector(images, return_features=True)`` on uint8 NCHW) expects:
    1. u = clip(round((x + 1) * 127.5), 0, 255)      (StyleGAN2-ADA: uint8(clamp(x * 127.5 + 128)), the same
                                                       numbers but at exact halves, which it rounds up)
    2. C = 1: the channel is repeated to 3 (C must be 1 or 3)
    3. when ``size`` is set and (H, W) != (size, size): bilinear resize of u to (size, size)
       (torch ``interpolate``, align_corners=False, no antialiasing), then rounded and clipped to
       0..255 again (the network's input is uint8)
    4. uint8 (b, 3, size, size) batches -> net(u, return_features=True) -> (b, f), as float64
``size=None`` skips step 3, for a network that resizes its input itself (StyleGAN2-ADA feeds the
Inception file its images at their own size and lets it resize); with size = 299 such an internal
resize becomes the identity, and the features differ from that pipeline only by the second rounding
when its internal resize is this same bilinear one (check your file; else pass size=None).

Classifier cache (``cached_classifier``). The file is ``folder/classifier-<dataset>-<hash>.pt``, the hash
of its key {format, dataset, data, seed, steps, holdout, sha256 of the images and labels}; it holds
{format, key, config, accuracy, state} and is written with ``fileio.save_torch`` (atomic) and read
only with ``fileio.load_torch`` (weights only). On reading, the key must equal the one asked for, the
config the one the data imply, and the state dict the network's names, shapes and dtypes with finite
values; anything else is a BadFileError naming the file (the command refuses with one line; delete the
file to retrain). A cache file is never replaced: it is refused, not rebuilt, since it may be someone
else's and the folder is shared by runs.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from memsep.theory import derive_seed
from memsep.theory.neighbours import nearest_k

from .metrics import unit_scale

__all__ = [
    "precision_recall",
    "frechet_distance",
    "frechet_from_stats",
    "frechet_distance_extrapolated",
    "ExtrapolatedFD",
    "subset_sizes",
    "bootstrap_difference",
    "BootstrapDifference",
    "PixelFeatures",
    "ClassifierFeatures",
    "train_classifier",
    "cached_classifier",
    "classifier_key",
    "save_classifier",
    "load_classifier",
    "TorchScriptFeatures",
]


def _features(a, name: str) -> np.ndarray:
    x = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name}: must have shape (m, f) with m >= 2, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: must be finite")
    return x


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    """(m,) distance from each row of x to its k-th nearest other row (exact: ``theory.neighbours``)."""
    return np.sqrt(nearest_k(x, x, k, exclude_self=True)[1][:, k - 1])


def _covered(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(q,) bool: query within radius of some centre."""
    cq = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(queries.shape[0], dtype=bool)
    for s in range(0, queries.shape[0], chunk):
        q = queries[s : s + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * q @ centres.T + cq[None, :]
        out[s : s + chunk] = np.any(d2 <= radii[None, :] ** 2 * (1 + 1e-12) + 1e-12, axis=1)
    return out


def precision_recall(real, generated, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of ``generated`` against ``real`` features (module doc)."""
    r, g = _features(real, "real"), _features(generated, "generated")
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"real, generated: feature sizes differ ({r.shape[1]} vs {g.shape[1]})")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < min(r.shape[0], g.shape[0]):
        raise ValueError(f"k: must be an int in [1, min(m_real, m_generated) - 1], got {k!r}")
    (r, g), _ = unit_scale(r, g)  # scale-free: exact power-of-two rescaling, no overflow of distances
    precision = float(_covered(g, r, _kth_radius(r, k)).mean())
    recall = float(_covered(r, g, _kth_radius(g, k)).mean())
    return precision, recall


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    """FD between N(mu1, s1) and N(mu2, s2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    r1 = _sqrt_psd(s1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * cross)


def frechet_distance(real, generated) -> float:
    """FD between Gaussians fitted to two feature sets (mean and unbiased covariance)."""
    a, b = _features(real, "real"), _features(generated, "generated")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real, generated: feature sizes differ ({a.shape[1]} vs {b.shape[1]})")
    (a, b), k = unit_scale(a, b)  # FD scales as 4^k: computed in scaled units, then scaled back
    fd = frechet_from_stats(
        a.mean(0),
        np.cov(a, rowvar=False).reshape(a.shape[1], a.shape[1]),
        b.mean(0),
        np.cov(b, rowvar=False).reshape(b.shape[1], b.shape[1]),
    )
    with np.errstate(over="ignore"):
        fd = float(np.ldexp(fd, 2 * k))
    if not math.isfinite(fd):
        raise ValueError(f"real, generated: the Frechet distance overflows float64 (features of magnitude about 2^{k})")
    return fd


class _RealStats:
    """Mean, covariance and covariance square root of a fixed real set, so FD against many subsets of a
    generated set costs one (f, f) eigendecomposition each (same arithmetic as ``frechet_from_stats``)."""

    def __init__(self, r: np.ndarray):
        f = r.shape[1]
        self.mu, self.s = r.mean(0), np.cov(r, rowvar=False).reshape(f, f)
        self.root, self.tr = _sqrt_psd(self.s), float(np.trace(self.s))

    def fd(self, g: np.ndarray) -> float:
        f = g.shape[1]
        mu, s = g.mean(0), np.cov(g, rowvar=False).reshape(f, f)
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(self.root @ s @ self.root), 0, None)).sum()
        return float(((self.mu - mu) ** 2).sum() + self.tr + np.trace(s) - 2.0 * cross)


def subset_sizes(n: int, fractions=(1.0, 0.5, 0.25)) -> tuple[int, ...]:
    """The distinct subset sizes max(2, round(phi n)) of ``frechet_distance_extrapolated``, largest first."""
    fr = [float(v) for v in fractions]
    if not fr or not all(0 < v <= 1 for v in fr):
        raise ValueError(f"fractions: must be numbers in (0, 1], got {tuple(fractions)!r}")
    return tuple(sorted({max(2, int(round(v * n))) for v in fr}, reverse=True))


@dataclass(frozen=True)
class ExtrapolatedFD:
    """FD extrapolated to infinitely many generated samples (module doc).

    fd_inf   the intercept of FD against 1 / N (the bias-free FD against this real set)
    se       standard error of fd_inf from the least-squares residuals (se_method "ols-residuals")
    slope    c in FD(N) = fd_inf + c / N
    fd_n     the FD of the whole generated set (N = n)
    n        number of generated samples; m_real the real set's size
    sizes, values   the P fitted points (subset size, FD), in the order computed
    reps     random subsets per size below n"""

    fd_inf: float
    se: float
    slope: float
    fd_n: float
    n: int
    m_real: int
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    reps: int
    se_method: str = "ols-residuals"

    def as_dict(self) -> dict:
        return asdict(self)


def _ols_intercept(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(intercept, slope, se of the intercept) of y = a + c x by least squares (module doc)."""
    p, xbar, ybar = x.size, x.mean(), y.mean()
    sxx = float(((x - xbar) ** 2).sum())
    c = float(((x - xbar) * (y - ybar)).sum() / sxx)
    a = float(ybar - c * xbar)
    if p <= 2:
        return a, c, math.nan
    s2 = float(((y - a - c * x) ** 2).sum() / (p - 2))
    return a, c, math.sqrt(s2 * (1.0 / p + xbar**2 / sxx))


def frechet_distance_extrapolated(
    real, generated, *, fractions=(1.0, 0.5, 0.25), reps: int = 5, seed: int = 0
) -> ExtrapolatedFD:
    """FD with the 1 / N bias of the generated set's size removed by extrapolation (module doc).

    real (M, f), generated (N, f), float64. Subsets are drawn without replacement with
    ``default_rng(derive_seed(seed, "fd-subset", n_j, r))`` (the points do not depend on the order
    of ``fractions``). ``fd_n`` equals ``frechet_distance(real, generated)``."""
    a, b = _features(real, "real"), _features(generated, "generated")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real, generated: feature sizes differ ({a.shape[1]} vs {b.shape[1]})")
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps: must be an int >= 1, got {reps!r}")
    n = b.shape[0]
    sizes = subset_sizes(n, fractions)
    if len(sizes) < 2:
        raise ValueError(
            f"generated: {n} samples give only the subset size {sizes[0]} for fractions "
            f"{tuple(fractions)}; the extrapolation needs two distinct sizes >= 2"
        )
    (a, b), k = unit_scale(a, b)
    stats = _RealStats(a)
    pts_n, pts_fd = [], []
    for nj in sizes:
        for r in range(1 if nj == n else reps):
            idx = (
                np.arange(n)
                if nj == n
                else np.random.default_rng(derive_seed(seed, "fd-subset", nj, r)).choice(n, size=nj, replace=False)
            )
            pts_n.append(nj)
            pts_fd.append(stats.fd(b[idx]))
    x, y = 1.0 / np.asarray(pts_n, dtype=np.float64), np.asarray(pts_fd)
    fd_inf, slope, se = _ols_intercept(x, y)
    with np.errstate(over="ignore"):
        scale = lambda v: float(np.ldexp(v, 2 * k))  # noqa: E731  FD scales as 4^k
        out = ExtrapolatedFD(
            fd_inf=scale(fd_inf),
            se=scale(se),
            slope=scale(slope),
            fd_n=scale(y[0]),
            n=n,
            m_real=a.shape[0],
            sizes=tuple(pts_n),
            values=tuple(scale(v) for v in y),
            reps=reps,
        )
    if not all(math.isfinite(v) for v in (out.fd_inf, out.slope, out.fd_n, *out.values)):
        raise ValueError(f"real, generated: the Frechet distance overflows float64 (features of magnitude about 2^{k})")
    return out


@dataclass(frozen=True)
class BootstrapDifference:
    """metric(real, A) - metric(real, B) with its paired-bootstrap se and percentile interval (module doc)."""

    estimate: float
    se: float
    lo: float
    hi: float
    level: float
    reps: int
    m: int

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_difference(
    metric, real_features, gen_a, gen_b, *, reps: int = 200, seed: int = 0, level: float = 0.95
) -> BootstrapDifference:
    """Paired bootstrap over generated samples of metric(real, gen_a) - metric(real, gen_b) (module doc).

    metric(real (M, f), generated (m', f)) -> float, e.g. ``frechet_distance`` or
    ``lambda r, g: precision_recall(r, g, k=3)[0]``. gen_a and gen_b: (m, f), row i of both made from
    the same sample seed. Deterministic given ``seed``."""
    r = _features(real_features, "real_features")
    ga, gb = _features(gen_a, "gen_a"), _features(gen_b, "gen_b")
    if ga.shape != gb.shape:
        raise ValueError(f"gen_a, gen_b: must have the same shape (paired samples), got {ga.shape} and {gb.shape}")
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 2:
        raise ValueError(f"reps: must be an int >= 2, got {reps!r}")
    if not 0 < level < 1:
        raise ValueError(f"level: must be in (0, 1), got {level!r}")
    m = ga.shape[0]
    est = float(metric(r, ga)) - float(metric(r, gb))
    rng = np.random.default_rng(derive_seed(seed, "bootstrap"))
    d = np.empty(reps)
    for i in range(reps):
        idx = rng.integers(0, m, size=m)
        d[i] = float(metric(r, ga[idx])) - float(metric(r, gb[idx]))
    if not (math.isfinite(est) and np.all(np.isfinite(d))):
        raise ValueError("metric: returned a non-finite value on the samples or on a bootstrap resample")
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapDifference(
        estimate=est, se=float(d.std(ddof=1)), lo=float(lo), hi=float(hi), level=float(level), reps=reps, m=m
    )


class PixelFeatures:
    name = "pixels"

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images, dtype=np.float64)
        return x.reshape(x.shape[0], -1)


class _SmallCNN(nn.Module):
    def __init__(self, channels: int, size: int, classes: int, width: int = 32, features: int = 128):
        super().__init__()
        self.config = {"channels": channels, "size": size, "classes": classes, "width": width, "features": features}
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * width * size * size, features),
            nn.ReLU(),
        )
        self.head = nn.Linear(features, classes)

    def forward(self, x):
        return self.head(self.body(x))


class ClassifierFeatures:
    """Penultimate-layer features of a classifier from ``train_classifier``; ``accuracy`` on its held-out split."""

    def __init__(self, net: _SmallCNN, accuracy: float):
        self.net, self.accuracy, self.name = net.eval(), accuracy, "classifier"

    def __call__(self, images) -> np.ndarray:
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        with torch.no_grad():
            return torch.cat([self.net.body(x[i : i + 1024]) for i in range(0, x.shape[0], 1024)]).double().numpy()


def train_classifier(images, labels, *, seed: int = 0, steps: int = 600, holdout: float = 0.2) -> ClassifierFeatures:
    """Train the small CNN on (1 - holdout) of the labelled images (Adam, batch 128); accuracy on the rest."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if x.ndim != 4 or y.shape != (x.shape[0],):
        raise ValueError(f"images, labels: need (m, C, H, W) and (m,), got {tuple(x.shape)} and {tuple(y.shape)}")
    gen = torch.Generator().manual_seed(derive_seed(seed, "classifier"))
    perm = torch.randperm(x.shape[0], generator=gen)
    n_test = int(round(holdout * x.shape[0]))
    test, train = perm[:n_test], perm[n_test:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "classifier-init"))
        net = _SmallCNN(x.shape[1], x.shape[2], int(y.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = train[torch.randint(0, train.numel(), (128,), generator=gen)]
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(x[test]).argmax(1) == y[test]).float().mean()) if n_test else math.nan
    return ClassifierFeatures(net, acc)


CLASSIFIER_FORMAT = "memsep-classifier/1"
_WHAT = "a memsep feature-classifier cache"


def _classifier_config(images, labels) -> dict:
    x, y = np.asarray(images), np.asarray(labels)
    return {
        "channels": int(x.shape[1]),
        "size": int(x.shape[2]),
        "classes": int(y.max()) + 1,
        "width": 32,
        "features": 128,
    }


def classifier_key(
    images, labels, *, dataset: str, data: str | None, seed: int, steps: int, holdout: float = 0.2
) -> dict:
    """What determines a trained classifier: the settings and a sha256 of the (float32 images, int64 labels)."""
    x = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
    y = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
    h = hashlib.sha256(repr((x.shape, y.shape)).encode())
    h.update(x.tobytes())
    h.update(y.tobytes())
    return {
        "format": CLASSIFIER_FORMAT,
        "dataset": str(dataset),
        "data": None if data is None else str(data),
        "seed": int(seed),
        "steps": int(steps),
        "holdout": float(holdout),
        "digest": h.hexdigest(),
    }


def save_classifier(path, clf: ClassifierFeatures, key: dict) -> None:
    """Write a trained classifier (state dict, config, held-out accuracy, key) atomically."""
    from .fileio import save_torch

    save_torch(
        path,
        {
            "format": CLASSIFIER_FORMAT,
            "key": dict(key),
            "config": dict(clf.net.config),
            "accuracy": float(clf.accuracy),
            "state": {k: v.detach().cpu().clone() for k, v in clf.net.state_dict().items()},
        },
    )


def load_classifier(path, key: dict, config: dict) -> ClassifierFeatures:
    """The classifier in ``path`` if it is exactly the one ``key`` and ``config`` describe; else BadFileError."""
    from .fileio import BadFileError, load_torch, require_keys

    path = Path(path)
    obj = require_keys(path, load_torch(path, _WHAT), ("format", "key", "config", "accuracy", "state"), _WHAT)
    if obj["format"] != CLASSIFIER_FORMAT:
        raise BadFileError(path, f"is not {_WHAT} (format {obj['format']!r}, expected {CLASSIFIER_FORMAT!r})")
    if obj["key"] != key:
        diff = sorted(
            k
            for k in set(key) | set(obj["key"] if isinstance(obj["key"], dict) else {})
            if not isinstance(obj["key"], dict) or obj["key"].get(k) != key.get(k)
        )
        raise BadFileError(path, f"was made for other settings ({', '.join(diff)}); delete it to retrain")
    if obj["config"] != config:
        raise BadFileError(
            path, f"holds a classifier of config {obj['config']!r}, expected {config!r}; delete it to retrain"
        )
    acc = obj["accuracy"]
    if isinstance(acc, bool) or not isinstance(acc, float) or not (math.isnan(acc) or 0 <= acc <= 1):
        raise BadFileError(path, f"is not {_WHAT} (accuracy must be a float in [0, 1], got {acc!r})")
    net = _SmallCNN(**config)
    want, state = net.state_dict(), obj["state"]
    if not isinstance(state, dict) or set(state) != set(want):
        raise BadFileError(path, f"is not {_WHAT} (its state dict does not name the network's parameters)")
    for name, t in want.items():
        v = state[name]
        if not isinstance(v, torch.Tensor) or v.shape != t.shape or v.dtype != t.dtype:
            got = f"{tuple(v.shape)} {v.dtype}" if isinstance(v, torch.Tensor) else type(v).__name__
            raise BadFileError(path, f"is not {_WHAT} ({name}: expected {tuple(t.shape)} {t.dtype}, got {got})")
        if not torch.isfinite(v).all():
            raise BadFileError(path, f"is not {_WHAT} ({name} holds non-finite values)")
    net.load_state_dict(state)
    return ClassifierFeatures(net, acc)


def cached_classifier(
    images,
    labels,
    folder,
    *,
    dataset: str,
    data: str | None = None,
    seed: int = 0,
    steps: int = 600,
    holdout: float = 0.2,
) -> tuple[ClassifierFeatures, Path, bool]:
    """(classifier, its cache file, whether it was read from the cache): ``train_classifier`` once per key.

    The file is read back (weights only, checked) when it exists, else trained and written (module doc)."""
    key = classifier_key(images, labels, dataset=dataset, data=data, seed=seed, steps=steps, holdout=holdout)
    tag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(folder) / f"classifier-{''.join(c if c.isalnum() else '_' for c in dataset)}-{tag}.pt"
    config = _classifier_config(images, labels)
    if path.exists():
        return load_classifier(path, key, config), path, True
    clf = train_classifier(images, labels, seed=seed, steps=steps, holdout=holdout)
    save_classifier(path, clf, key)
    return clf, path, False


class TorchScriptFeatures:
    """A user-supplied TorchScript feature network, fed like the standard FID Inception network (module doc).

    path             a local TorchScript file (a program: give only files you trust)
    size             side of the square input the network expects (299 for Inception-v3); None: no resize
    return_features  call ``net(u, return_features=True)`` (the FID Inception file's signature), else ``net(u)``
    batch            images per call"""

    def __init__(self, path, *, size: int | None = 299, return_features: bool = True, batch: int = 64):
        path = Path(path)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"size: must be a positive int or None, got {size!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch: must be a positive int, got {batch!r}")
        if not path.is_file():
            raise ValueError(f"features: weights file {path} does not exist (nothing is downloaded)")
        try:  # a TorchScript file is a program the user chose to run (the feature network), not data
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError, OSError) as exc:
            from .fileio import BadFileError, reason

            raise BadFileError(path, f"is not a TorchScript feature network ({reason(exc)})") from None
        self.path, self.size, self.return_features, self.batch = path, size, return_features, batch
        self.name = f"torchscript:{path.name}"

    def prepare(self, images) -> torch.Tensor:
        """(m, C, H, W) images in [-1, 1] (C = 1 or 3) -> uint8 (m, 3, size, size) in 0..255 (module doc, steps 1-3)."""
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"images: need (m, 1 or 3, H, W), got {tuple(x.shape)}")
        u = torch.clamp(torch.round((x + 1.0) * 127.5), 0.0, 255.0)
        if u.shape[1] == 1:
            u = u.repeat(1, 3, 1, 1)
        if self.size is not None and tuple(u.shape[2:]) != (self.size, self.size):
            u = nn.functional.interpolate(
                u, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False
            )
            u = torch.clamp(torch.round(u), 0.0, 255.0)
        return u.to(torch.uint8)

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images)
        out = []
        with torch.no_grad():
            for i in range(0, x.shape[0], self.batch):
                u = self.prepare(x[i : i + self.batch])
                try:
                    f = self.net(u, return_features=True) if self.return_features else self.net(u)
                except (RuntimeError, torch.jit.Error) as exc:  # jit.Error: its last line says what failed
                    from .fileio import reason

                    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
                    why = reason(RuntimeError(lines[-1])) if lines else type(exc).__name__
                    raise ValueError(
                        f"features: the TorchScript network {self.path} failed on a uint8 batch of "
                        f"shape {tuple(u.shape)} ({why})"
                    ) from None
                out.append(f.reshape(u.shape[0], -1).double())
        return torch.cat(out).numpy()
