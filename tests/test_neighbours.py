"""Exact nearest neighbours with a float32 first pass (theory.neighbours): equal, bit for bit, to a brute-force
loop over all pairs in the order (R_ij, j), R the float64 difference form; the same answer from either first pass;
the same neighbours and memorization decisions as the matrix form the claims use today; and a mutation check that
the rounding margin is what makes the float32 pass exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memsep.theory.neighbours as nb
from memsep.empirical.metrics import memorization
from memsep.empirical.metrics import nearest_two as nearest_two_matrix
from memsep.empirical.mixture_diffusion import make_dataset, make_mixture
from memsep.theory import EmpiricalDistribution


def brute(x: np.ndarray, p: np.ndarray, k: int, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The definition: every pair's sum of squared differences in float64, ordered by (value, index)."""
    diff = x[:, None, :] - p[None, :, :]
    R = np.einsum("mnd,mnd->mn", diff, diff)
    if exclude_self:
        np.fill_diagonal(R, np.inf)
    idx = np.array([np.lexsort((np.arange(p.shape[0]), r))[:k] for r in R])
    return idx, np.take_along_axis(R, idx, 1)


@st.composite
def clouds(draw):
    """Queries and points with what breaks a float32 search: far from the origin, tiny or huge scales, duplicated
    points and near ties (points within 1e-9 relative of a query)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    m, n, d = draw(st.integers(1, 12)), draw(st.integers(3, 40)), draw(st.integers(1, 9))
    scale = 10.0 ** draw(st.floats(-30, 30))
    offset = draw(st.sampled_from([0.0, 1.0, 1e4, -1e6])) * scale
    x = offset + scale * rng.normal(size=(m, d))
    p = offset + scale * rng.normal(size=(n, d))
    near = draw(st.integers(0, min(m, n)))
    p[:near] = x[:near] + scale * 1e-9 * rng.normal(size=(near, d))
    dup = draw(st.integers(0, n // 3))
    if dup:
        p[n - dup :] = p[:dup]
    return x, p


@settings(max_examples=150, deadline=None)
@given(clouds(), st.integers(1, 3), st.sampled_from(["matrix-float32", "matrix-float64", "kdtree"]), st.integers(1, 5))
def test_equals_the_brute_force_bit_for_bit(cloud, k, how, chunk):
    x, p = cloud
    method, _, first_pass = how.partition("-")
    want_i, want_sq = brute(x, p, k)
    got_i, got_sq = nb.nearest_k(x, p, k, method=method, first_pass=first_pass or "float32", chunk=chunk)
    assert np.array_equal(got_i, want_i)
    assert np.array_equal(got_sq, want_sq)


@settings(max_examples=60, deadline=None)
@given(clouds(), st.integers(1, 2), st.sampled_from(["matrix", "kdtree"]))
def test_exclude_self_gives_the_nearest_other_rows(cloud, k, method):
    _, p = cloud
    want_i, want_sq = brute(p, p, k, exclude_self=True)
    got_i, got_sq = nb.nearest_k(p, p, k, method=method, exclude_self=True, chunk=4)
    assert np.array_equal(got_i, want_i) and np.array_equal(got_sq, want_sq)
    assert not np.any(got_i == np.arange(p.shape[0])[:, None])


def test_blocks_with_many_near_ties_are_split_and_stay_exact():
    """All points equal but one: every point is a candidate of every query, over the pair budget, so the query
    block is split down to single queries; the answer is the lowest indices."""
    p = np.zeros((300, 4))
    p[7] = 1.0
    x = np.full((6, 4), 1e-3)
    i, sq = nb.nearest_k(x, p, 2, method="matrix", memory_budget=2048)
    assert np.array_equal(i, np.tile([0, 1], (6, 1)))
    assert np.array_equal(sq, brute(x, p, 2)[1])


@pytest.mark.parametrize("d", [3, 32, 64])
def test_the_claims_paths_give_the_brute_force_on_mixture_data(d):
    """On the claims' kind of data (K = 8 mixture samples at t = 1e-3, some near-copies, against n training points)
    every path the claims use (empirical.metrics.nearest_two, memorization, EmpiricalDistribution.nearest) gives
    the brute force's neighbours and decisions."""
    mix = make_mixture(d, 8, 2.0, 0)
    pts = make_dataset(mix, 600, 600, 1)
    xs = np.concatenate([mix.sample(300, np.random.default_rng(2), t=1e-3), pts[:40] + 1e-3])
    want_i, want_sq = brute(xs, pts, 2)
    d1, d2, i1 = nearest_two_matrix(xs, pts)
    assert np.array_equal(i1, want_i[:, 0]) and np.array_equal(d1, want_sq[:, 0]) and np.array_equal(d2, want_sq[:, 1])
    mem = memorization(xs, pts)
    assert np.array_equal(mem["memorized"], want_sq[:, 0] <= (1.0 / 3.0) ** 2 * want_sq[:, 1])  # the rule as written
    idx, dist = EmpiricalDistribution(pts).nearest(xs, 2)
    assert np.array_equal(idx, want_i) and np.array_equal(dist, np.sqrt(want_sq))


def test_the_margin_is_what_makes_the_float32_pass_exact(monkeypatch):
    """Mutation check: 300 queries among 50 points within 1e-7 of each other (float32 cannot order them) plus one
    far point that puts the centre away from them. With the margin, every answer is the brute force's; with the
    margin set to zero most are wrong."""
    rng = np.random.default_rng(1)
    base = np.array([[1.0, 0.5], [-1.0, -0.5]])
    p = np.concatenate([base[:1] + 1e-7 * rng.normal(size=(50, 2)), base[1:]])
    x = base[:1] + 1e-7 * rng.normal(size=(300, 2))
    want = brute(x, p, 2)[0]
    assert np.array_equal(nb.nearest_k(x, p, 2, method="matrix")[0], want)
    monkeypatch.setattr(nb, "_SAFETY", 0.0)
    wrong = int(np.any(nb.nearest_k(x, p, 2, method="matrix")[0] != want, axis=1).sum())
    assert wrong > 100, wrong


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"k": 0}, "k"),
        ({"k": 6}, "k"),
        ({"first_pass": "float16"}, "first_pass"),
        ({"method": "faiss"}, "method"),
        ({"chunk": 0}, "chunk"),
        ({"memory_budget": 0}, "memory_budget"),
        ({"exclude_self": 1}, "exclude_self"),
        ({"exclude_self": True}, "exclude_self"),
        ({"queries": np.ones((2, 4))}, "dimensions"),
        ({"queries": np.array([[np.nan, 0, 0]])}, "queries"),
        ({"points": np.ones((5, 3)) * np.inf}, "points"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, needle):
    args = {"queries": np.zeros((2, 3)), "points": np.arange(15.0).reshape(5, 3), **kwargs}
    with pytest.raises(ValueError, match=needle):
        nb.nearest_k(args.pop("queries"), args.pop("points"), **args)


def test_overflow_is_an_error_not_an_inf():
    with pytest.raises(ValueError, match="overflow"):
        nb.nearest_k(np.array([[1e200]]), np.array([[-1e200], [1e200]]), 2)


def test_exclude_self_gives_image_metrics_radii():
    """The k-th nearest other row (exclude_self) is the radius of precision / recall (image_metrics._kth_radius),
    to that function's rounding, on features with duplicated rows: its expanded form ||x||^2 - 2 x.y + ||y||^2
    gives a duplicate's radius as sqrt(rounding) (up to 8.4e-8 here, |x| about 4) where the exact answer is 0."""
    from memsep.empirical.image_metrics import _kth_radius

    rng = np.random.default_rng(4)
    f = rng.normal(size=(200, 16))
    f[150:] = f[:50]
    for k in (1, 3):
        got = np.sqrt(nb.nearest_k(f, f, k, exclude_self=True)[1][:, k - 1])
        assert np.allclose(got, _kth_radius(f, k), rtol=1e-9, atol=1e-6)
    assert np.all(nb.nearest_k(f, f, 1, exclude_self=True)[1][150:, 0] == 0.0)  # duplicates: exactly 0
