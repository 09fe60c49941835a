"""Precision/recall, Frechet distance and feature extractors of the pruning experiments (M2-M4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from memsep.empirical.datasets import load_digits
from memsep.empirical.image_metrics import (
    PixelFeatures,
    TorchScriptFeatures,
    bootstrap_difference,
    cached_classifier,
    frechet_distance,
    frechet_distance_extrapolated,
    frechet_from_stats,
    precision_recall,
    subset_sizes,
    train_classifier,
)


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
    assert clf.accuracy > 0.9  # 8x8 digits: a small CNN reaches > 95% in a few hundred steps
    f = clf(x[:50])
    assert f.shape == (50, 128) and np.all(np.isfinite(f))
    with pytest.raises(ValueError, match="does not exist"):
        TorchScriptFeatures("/nonexistent/inception.pt")


# ---- FD extrapolated in 1/N (Chong & Forsyth 2020) -----------------------------------------------------------------


def _gaussian_case(f=8):
    """A real set large enough that its own O(1/M) bias is negligible, and the generating law's true FD."""
    real = np.random.default_rng(0).standard_normal((20000, f))
    mu, sd = np.full(f, 0.3), np.linspace(0.7, 1.3, f)
    # against the REAL SET's own mean and covariance: FD_inf is the limit against this reference set
    true = frechet_from_stats(real.mean(0), np.cov(real, rowvar=False), mu, np.diag(sd**2))
    return real, mu, sd, true


def test_frechet_extrapolated_removes_the_finite_sample_bias():
    """Over T = 60 generated sets of N = 200 (f = 8): the mean plug-in FD_N sits above the truth by about
    tr(Sigma_G) / N = 0.04 + the trace-sqrt term (measured: about 6 of its standard errors), while the mean
    FD_inf is within 4 standard errors of the truth. A deterministic (seeded) test; under a fresh seed the
    FD_inf check fails with probability about 6e-5 (|z| > 4) and the bias check (z > 3) about 1e-3 at the
    measured 6-standard-error bias."""
    real, mu, sd, true = _gaussian_case()
    fd_n, fd_inf, se = [], [], []
    for trial in range(60):
        g = mu + sd * np.random.default_rng(100 + trial).standard_normal((200, 8))
        r = frechet_distance_extrapolated(real, g, seed=trial)
        fd_n.append(r.fd_n)
        fd_inf.append(r.fd_inf)
        se.append(r.se)
    fd_n, fd_inf = np.array(fd_n), np.array(fd_inf)
    sem = lambda v: v.std(ddof=1) / np.sqrt(v.size)  # noqa: E731
    assert (fd_n.mean() - true) / sem(fd_n) > 3
    assert abs(fd_inf.mean() - true) / sem(fd_inf) < 4
    # the residual-based se is of the order of the spread of fd_inf over generated sets here (not a promise:
    # it is conditional on the generated set; module doc)
    assert 0.3 < np.mean(se) / fd_inf.std(ddof=1) < 3


def test_frechet_extrapolated_points_fit_and_determinism():
    from scipy import stats

    real, mu, sd, _ = _gaussian_case(4)
    g = mu[:4] + sd[:4] * np.random.default_rng(7).standard_normal((120, 4))
    r = frechet_distance_extrapolated(real, g, fractions=(1.0, 0.5, 0.25), reps=3, seed=1)
    assert r.fd_n == pytest.approx(frechet_distance(real, g), rel=1e-12, abs=1e-12)
    assert r.sizes == (120, 60, 60, 60, 30, 30, 30) and r.n == 120 and r.m_real == 20000 and r.reps == 3
    assert r.values[0] == r.fd_n and r.se_method == "ols-residuals"
    # the fit is ordinary least squares of FD on 1/N; its se is the textbook intercept se
    lr = stats.linregress(1.0 / np.array(r.sizes), np.array(r.values))
    assert r.fd_inf == pytest.approx(lr.intercept, rel=1e-10) and r.slope == pytest.approx(lr.slope, rel=1e-10)
    assert r.se == pytest.approx(lr.intercept_stderr, rel=1e-10)
    # seeded and deterministic; the order of the fractions does not change the points drawn
    assert frechet_distance_extrapolated(real, g, fractions=(0.25, 1.0, 0.5), reps=3, seed=1) == r
    assert frechet_distance_extrapolated(real, g, reps=3, seed=2) != r
    d = r.as_dict()
    assert set(d) >= {"fd_inf", "se", "slope", "fd_n", "sizes", "values"}
    # scale: FD scales as the square of the features
    r2 = frechet_distance_extrapolated(real * 8, g * 8, reps=3, seed=1)
    assert r2.fd_inf == pytest.approx(64 * r.fd_inf, rel=1e-9) and r2.se == pytest.approx(64 * r.se, rel=1e-9)


def test_frechet_extrapolated_refusals():
    x = np.random.default_rng(0).standard_normal((50, 3))
    assert subset_sizes(6) == (6, 3, 2) and subset_sizes(3) == (3, 2) and subset_sizes(2) == (2,)
    with pytest.raises(ValueError, match="two distinct sizes"):
        frechet_distance_extrapolated(x, x[:2])
    with pytest.raises(ValueError, match="fractions"):
        frechet_distance_extrapolated(x, x, fractions=(1.0, 1.5))
    with pytest.raises(ValueError, match="reps"):
        frechet_distance_extrapolated(x, x, reps=0)
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance_extrapolated(x, x[:, :2])
    # fewer than 3 points in all (reps = 1, two sizes): the fit is exact and has no residual se
    r = frechet_distance_extrapolated(x, x, fractions=(1.0, 0.5), reps=1)
    assert len(r.sizes) == 2 and np.isnan(r.se)


# ---- paired bootstrap of a difference ------------------------------------------------------------------------------


def _mean0(real, gen):
    return float(gen[:, 0].mean())


def test_bootstrap_difference_coverage_on_means():
    """Difference of the means of paired Gaussians (known answer -0.5), m = 60, B = 200, T = 200 trials:
    the 95% percentile interval's coverage is measured at 0.94 (the percentile bootstrap under-covers a
    little at small m). Accepting 176..198 covered (0.88..0.99), a fresh seed fails with probability
    <= 0.4% for a true coverage anywhere in 0.93..0.95 (binomial tails: 0.36% / 0.04% / 0.04% at 0.93 /
    0.94 / 0.95). The se must match the analytic sd(a - b) / sqrt(m) within 15% on average, and the
    pairing must matter (an unpaired se would be sqrt(2) sd / sqrt(m), about twice as large here)."""
    real = np.zeros((5, 2))
    covered, ses, exact = 0, [], []
    for trial in range(200):
        rng = np.random.default_rng(trial)
        a = rng.standard_normal((60, 2))
        b = 0.8 * a + 0.6 * rng.standard_normal((60, 2)) + 0.5
        res = bootstrap_difference(_mean0, real, a, b, reps=200, seed=trial)
        assert res.estimate == pytest.approx(a[:, 0].mean() - b[:, 0].mean(), abs=1e-12)
        assert res.lo <= res.hi and res.level == 0.95 and res.reps == 200 and res.m == 60
        covered += res.lo <= -0.5 <= res.hi
        ses.append(res.se)
        exact.append((a[:, 0] - b[:, 0]).std(ddof=1) / np.sqrt(60))
    assert 176 <= covered <= 198
    assert np.mean(ses) == pytest.approx(np.mean(exact), rel=0.15)
    assert np.mean(ses) < 0.6 * np.sqrt(2 / 60)


def test_bootstrap_difference_with_image_metrics_and_refusals():
    rng = np.random.default_rng(3)
    real = rng.standard_normal((300, 3))
    a = rng.standard_normal((80, 3))
    b = a + 0.1 * rng.standard_normal((80, 3)) + np.array([1.0, 0, 0])
    fd = bootstrap_difference(frechet_distance, real, a, b, reps=50, seed=0)
    assert fd.estimate < 0 and fd.hi < 0  # a is clearly closer to the real law than b
    assert fd == bootstrap_difference(frechet_distance, real, a, b, reps=50, seed=0)
    assert fd != bootstrap_difference(frechet_distance, real, a, b, reps=50, seed=1)
    prec = bootstrap_difference(lambda r, g: precision_recall(r, g, k=3)[0], real, a, b, reps=20, seed=0)
    assert -1 <= prec.lo <= prec.hi <= 1 and set(prec.as_dict()) == {"estimate", "se", "lo", "hi", "level", "reps", "m"}
    with pytest.raises(ValueError, match="same shape"):
        bootstrap_difference(_mean0, real, a, b[:-1])
    with pytest.raises(ValueError, match="level"):
        bootstrap_difference(_mean0, real, a, b, level=1.0)
    with pytest.raises(ValueError, match="reps"):
        bootstrap_difference(_mean0, real, a, b, reps=1)
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_difference(lambda r, g: float("nan"), real, a, b, reps=5)


def test_precision_recall_depends_on_k_monotonically():
    """Larger k, larger k-NN radii: precision and recall cannot decrease (so k must be recorded with them)."""
    rng = np.random.default_rng(4)
    real, gen = rng.standard_normal((200, 3)), 0.7 * rng.standard_normal((150, 3)) + 0.5
    pr = [precision_recall(real, gen, k=k) for k in (1, 3, 5, 10)]
    assert all(p0 <= p1 and r0 <= r1 for (p0, r0), (p1, r1) in zip(pr, pr[1:]))
    assert pr[0] != pr[-1]


# ---- TorchScript features fed like the FID Inception network ------------------------------------------------------


class _StandIn(torch.nn.Module):
    """What the FID Inception TorchScript receives from StyleGAN2-ADA's metrics: uint8 NCHW, 3 channels, 0..255,
    at its input size; ``return_features=True``. Features: mean, min, max and the (0, 0, 0) pixel."""

    def __init__(self, size: int = 299):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert return_features, "expected return_features=True"
        assert x.dtype == torch.uint8, "expected uint8 images"
        assert x.dim() == 4 and x.shape[1] == 3, "expected (b, 3, H, W)"
        assert x.shape[2] == self.size and x.shape[3] == self.size, "expected the network's input size"
        f = x.float()
        return torch.stack([f.mean((1, 2, 3)), f.amin((1, 2, 3)), f.amax((1, 2, 3)), f[:, 0, 0, 0]], 1)


def _scripted(tmp_path, size: int = 299):
    path = tmp_path / f"standin{size}.pt"
    torch.jit.script(_StandIn(size)).save(str(path))
    return path


def test_torchscript_features_feed_uint8_three_channels_at_299(tmp_path):
    feats = TorchScriptFeatures(_scripted(tmp_path))
    assert feats.size == 299 and feats.name == "torchscript:standin299.pt"
    # constant images: -1 -> 0, +1 -> 255, 0 -> round(127.5) = 128 (StyleGAN2-ADA: uint8(0 * 127.5 + 128)),
    # out of range clipped, one channel repeated to three
    levels = np.array([-1.0, 1.0, 0.0, 2.5, -3.0, 0.5])
    x = np.broadcast_to(levels[:, None, None, None], (6, 1, 8, 8)).astype(np.float32)
    f = feats(x)
    want = np.array([0, 255, 128, 255, 0, 191])  # 0.5: round(1.5 * 127.5 = 191.25) = 191
    assert f.dtype == np.float64 and f.shape == (6, 4)
    np.testing.assert_array_equal(f[:, 1], want)
    np.testing.assert_array_equal(f[:, 2], want)
    # three channels, in batches smaller than m, resized bilinearly: a left/right split keeps its halves
    x3 = -np.ones((5, 3, 8, 8), np.float32)
    x3[:, :, :, 4:] = 1.0
    small = TorchScriptFeatures(_scripted(tmp_path), batch=2)
    g = small(x3)
    assert g.shape == (5, 4) and np.all(g[:, 1] == 0) and np.all(g[:, 2] == 255) and np.all(g[:, 3] == 0)
    assert np.all(np.abs(g[:, 0] - 127.5) < 2)
    u = small.prepare(x3[:1])
    assert u.dtype == torch.uint8 and tuple(u.shape) == (1, 3, 299, 299)
    # another input size, and no resize when the images already have it
    np.testing.assert_array_equal(TorchScriptFeatures(_scripted(tmp_path, 8), size=8)(x)[:, 1], want)
    np.testing.assert_array_equal(TorchScriptFeatures(_scripted(tmp_path, 8), size=None)(x)[:, 1], want)


def test_torchscript_features_refusals(tmp_path):
    from memsep.empirical.fileio import BadFileError

    with pytest.raises(ValueError, match="does not exist"):
        TorchScriptFeatures(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"PK\x03\x04 not a TorchScript archive")
    with pytest.raises(BadFileError, match="is not a TorchScript feature network"):
        TorchScriptFeatures(bad)
    # no resize for a network that needs 299: its own assertion comes back as one clear ValueError line
    with pytest.raises(ValueError, match="failed on a uint8 batch of shape \\(2, 3, 8, 8\\).*input size") as exc:
        TorchScriptFeatures(_scripted(tmp_path), size=None)(np.zeros((2, 1, 8, 8)))
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="need \\(m, 1 or 3, H, W\\)"):
        TorchScriptFeatures(_scripted(tmp_path))(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match="size"):
        TorchScriptFeatures(_scripted(tmp_path), size=0)


# ---- the classifier, trained once and cached -----------------------------------------------------------------------


def test_cached_classifier_trains_once_and_reads_back(tmp_path, monkeypatch):
    import memsep.empirical.image_metrics as im

    x, y = load_digits()
    folder = tmp_path / ".memsep-cache"
    clf, path, cached = cached_classifier(x, y, folder, dataset="digits", seed=0, steps=5)
    assert not cached and path.parent == folder and path.name.startswith("classifier-digits-") and path.is_file()

    def no_training(*a, **k):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(im, "train_classifier", no_training)
    again, path2, cached = cached_classifier(x, y, folder, dataset="digits", seed=0, steps=5)
    assert cached and path2 == path and again.accuracy == clf.accuracy
    np.testing.assert_array_equal(again(x[:20]), clf(x[:20]))
    # another seed, step count or data set is another file (and would train)
    with pytest.raises(AssertionError, match="trained again"):
        cached_classifier(x, y, folder, dataset="digits", seed=1, steps=5)
    with pytest.raises(AssertionError, match="trained again"):
        cached_classifier(x[:-1], y[:-1], folder, dataset="digits", seed=0, steps=5)


def _cache_file(tmp_path):
    x, y = load_digits()
    _, path, _ = cached_classifier(x, y, tmp_path, dataset="digits", seed=0, steps=2)
    return x, y, path


def test_cached_classifier_refuses_a_bad_file(tmp_path):
    """A cache file that is not exactly the classifier asked for is refused (BadFileError naming it), never
    silently replaced; a pickle naming other globals is refused without running it."""
    import os
    import pickle

    from memsep.empirical.fileio import BadFileError

    x, y, path = _cache_file(tmp_path)
    good = torch.load(path, weights_only=True)

    def refused(obj_or_bytes, *needles):
        if isinstance(obj_or_bytes, bytes):
            path.write_bytes(obj_or_bytes)
        else:
            torch.save(obj_or_bytes, path)
        before = path.read_bytes()
        with pytest.raises(BadFileError) as exc:
            cached_classifier(x, y, tmp_path, dataset="digits", seed=0, steps=2)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)
        for n in needles:
            assert n in str(exc.value)
        assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1  # not replaced, nothing added

    refused(b"garbage", "is not a memsep feature-classifier cache")
    refused({"format": "memsep-classifier/1"}, "missing key, config")
    refused({**good, "key": {**good["key"], "steps": 3}}, "other settings (steps)")
    refused({**good, "config": {**good["config"], "features": 64}}, "config")
    state = dict(good["state"])
    state["head.weight"] = torch.zeros(3, 128)
    refused({**good, "state": state}, "head.weight: expected (10, 128)")
    state = dict(good["state"])
    del state["head.bias"]
    refused({**good, "state": state}, "does not name the network's parameters")
    state = dict(good["state"])
    state["head.bias"] = torch.full((10,), float("nan"))
    refused({**good, "state": state}, "non-finite")
    refused({**good, "accuracy": 2.0}, "accuracy")

    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    refused(pickle.dumps({**good, "state": Payload()}), "refused")
    assert not marker.exists()
