"""Sample-quality metrics of the pruning experiments (M2-M4): precision, recall and Frechet distance.

Precision and recall (Kynkaanniemi et al. 2019), in a feature space, with k-NN manifolds (k = 3):
    radius_R(r) = distance from real feature r to its k-th nearest OTHER real feature
    precision   = fraction of generated g with ||g - r|| <= radius_R(r) for some real r
    recall      = fraction of real r with ||r - g|| <= radius_G(g) for some generated g

Frechet distance between Gaussians fitted to two feature sets (FID when the features are
Inception-v3's pool features; here also raw pixels and a small classifier trained on the data set's
labels, so the values are NOT comparable to the paper's CIFAR-10 FIDs):
    FD = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})
computed with symmetric eigendecompositions (float64), so it is real and >= 0 up to rounding.

Feature extractors map (m, C, H, W) images in [-1, 1] to (m, f) float64:
    PixelFeatures()                    flattened pixels
    train_classifier(x, y, seed)       a small CNN trained here on the labels; ``ClassifierFeatures``
                                       returns its penultimate layer (128 features)
    TorchScriptFeatures(path)          a user-supplied TorchScript feature network (e.g. the
                                       Inception-v3 file of the standard FID code); nothing is downloaded
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from theory import derive_seed

from .metrics import unit_scale


__all__ = ["precision_recall", "frechet_distance", "frechet_from_stats", "PixelFeatures", "ClassifierFeatures",
           "train_classifier", "TorchScriptFeatures"]


def _features(a, name: str) -> np.ndarray:
    x = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name}: must have shape (m, f) with m >= 2, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: must be finite")
    return x


def _kth_radius(x: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """(m,) distance from each row of x to its k-th nearest other row."""
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty(x.shape[0])
    for s in range(0, x.shape[0], chunk):
        d2 = sq[s:s + chunk, None] - 2.0 * x[s:s + chunk] @ x.T + sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        out[s:s + chunk] = np.sqrt(np.partition(d2, k, axis=1)[:, k])          # index 0 is the point itself
    return out


def _covered(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(q,) bool: query within radius of some centre."""
    cq = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(queries.shape[0], dtype=bool)
    for s in range(0, queries.shape[0], chunk):
        q = queries[s:s + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * q @ centres.T + cq[None, :]
        out[s:s + chunk] = np.any(d2 <= radii[None, :] ** 2 * (1 + 1e-12) + 1e-12, axis=1)
    return out


def precision_recall(real, generated, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of ``generated`` against ``real`` features (module doc)."""
    r, g = _features(real, "real"), _features(generated, "generated")
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"real, generated: feature sizes differ ({r.shape[1]} vs {g.shape[1]})")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < min(r.shape[0], g.shape[0]):
        raise ValueError(f"k: must be an int in [1, min(m_real, m_generated) - 1], got {k!r}")
    (r, g), _ = unit_scale(r, g)            # scale-free: exact power-of-two rescaling, no overflow of distances
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
    (a, b), k = unit_scale(a, b)            # FD scales as 4^k: computed in scaled units, then scaled back
    fd = frechet_from_stats(a.mean(0), np.cov(a, rowvar=False).reshape(a.shape[1], a.shape[1]),
                            b.mean(0), np.cov(b, rowvar=False).reshape(b.shape[1], b.shape[1]))
    with np.errstate(over="ignore"):
        fd = float(np.ldexp(fd, 2 * k))
    if not math.isfinite(fd):
        raise ValueError(f"real, generated: the Frechet distance overflows float64 (features of magnitude about 2^{k})")
    return fd


class PixelFeatures:
    name = "pixels"

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images, dtype=np.float64)
        return x.reshape(x.shape[0], -1)


class _SmallCNN(nn.Module):
    def __init__(self, channels: int, size: int, classes: int, width: int = 32, features: int = 128):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(2 * width * size * size, features), nn.ReLU())
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
            return torch.cat([self.net.body(x[i:i + 1024]) for i in range(0, x.shape[0], 1024)]).double().numpy()


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


class TorchScriptFeatures:
    """A user-supplied TorchScript feature network (images in [-1, 1] -> (m, f)); ``path`` must exist locally."""

    def __init__(self, path):
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"features: weights file {path} does not exist (nothing is downloaded)")
        try:    # a TorchScript file is a program the user chose to run (the feature network), not data
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError, OSError) as exc:
            from .fileio import BadFileError, reason

            raise BadFileError(path, f"is not a TorchScript feature network ({reason(exc)})") from None
        self.name = f"torchscript:{path.name}"

    def __call__(self, images) -> np.ndarray:
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        with torch.no_grad():
            return torch.cat([self.net(x[i:i + 256]).reshape(min(256, x.shape[0] - i), -1)
                              for i in range(0, x.shape[0], 256)]).double().numpy()
