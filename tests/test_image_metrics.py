"""Precision/recall, Frechet distance and feature extractors of the pruning experiments (M2-M4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from empirical.datasets import load_digits
from empirical.image_metrics import (PixelFeatures, TorchScriptFeatures, frechet_distance, frechet_from_stats,
                                     precision_recall, train_classifier)


def test_frechet_closed_forms():
    rng = np.random.default_rng(0)
    # commuting (diagonal) covariances: FD = ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    want = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert abs(frechet_from_stats(mu1, np.diag(a), mu2, np.diag(b)) - want) < 1e-12
    # general SPD: against the textbook formula with scipy's sqrtm of S1 S2
    m1, m2 = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(6), m2 @ m2.T + 0.1 * np.eye(6)
    ref = np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert abs(frechet_from_stats(np.zeros(6), s1, np.zeros(6), s2) - ref) < 1e-9 * max(1.0, ref)


def test_frechet_and_precision_recall_on_samples():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 4))
    assert abs(frechet_distance(x, x)) < 1e-9
    assert precision_recall(x, x) == (1.0, 1.0)
    far = x + 100.0
    assert precision_recall(x, far) == (0.0, 0.0)
    # generated = half the real support: high precision, recall about one half
    half = x[x[:, 0] > 0]
    p, r = precision_recall(x, half)
    assert p == 1.0 and 0.35 < r < 0.75
    with pytest.raises(ValueError, match="k: must be an int"):
        precision_recall(x[:3], x[:3], k=3)
    with pytest.raises(ValueError, match="generated: must be finite"):
        precision_recall(x, np.full((5, 4), np.nan))


def test_feature_extractors():
    x, y = load_digits()
    pix = PixelFeatures()(x[:10])
    assert pix.shape == (10, 64)
    clf = train_classifier(x, y, seed=0, steps=300)
    assert clf.accuracy > 0.9                       # 8x8 digits: a small CNN reaches > 95% in a few hundred steps
    f = clf(x[:50])
    assert f.shape == (50, 128) and np.all(np.isfinite(f))
    with pytest.raises(ValueError, match="does not exist"):
        TorchScriptFeatures("/nonexistent/inception.pt")
