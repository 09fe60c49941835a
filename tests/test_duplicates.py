"""empirical.duplicates (claim A4's duplicates-and-memorization experiment): data with duplicated points, copies per
distinct point, the resumable sweep point, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from memsep.empirical.diffusion import DiffusionConfig
from memsep.empirical.duplicates import (
    copy_counts,
    duplicate_rows,
    duplicates_point,
    multiplicities,
    run_duplicates_point,
)
from memsep.empirical.metrics import memorization
from memsep.empirical.mixture_diffusion import MixtureDiffusionSetting
from memsep.empirical.sweep import run_sweep

TINY = MixtureDiffusionSetting(train=DiffusionConfig(steps=30, batch=16, log_every=10), n_samples=24, sample_steps=5)


def test_duplicate_rows_writes_each_group_its_factor_times():
    x = np.random.default_rng(0).normal(size=(20, 3))
    rows, mult = duplicate_rows(x, [(4, 3), (2, 5)], seed=1)
    assert rows.shape == (20 - 8 + 12 + 10, 3) and mult.shape == (20,)
    assert (mult == 4).sum() == 3 and (mult == 2).sum() == 5 and (mult == 1).sum() == 12
    for j in range(20):  # multiplicity = rows equal to point j
        assert np.all(rows == x[j], axis=1).sum() == mult[j]
    again, mult2 = duplicate_rows(x, [(4, 3), (2, 5)], seed=1)
    assert np.array_equal(again, rows) and np.array_equal(mult, mult2)  # seeded
    other, mult3 = duplicate_rows(x, [(4, 3), (2, 5)], seed=2)
    assert not np.array_equal(mult, mult3)


def test_multiplicities_follow_first_appearance():
    x = np.array([[2.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 5.0], [1.0, 1.0], [2.0, 0.0]])
    pts, mult = multiplicities(x)
    assert pts.tolist() == [[2.0, 0.0], [1.0, 1.0], [0.0, 5.0]] and mult.tolist() == [3, 2, 1]


def test_copy_counts_count_memorized_samples_per_distinct_point():
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    rows = np.concatenate([pts, pts[[0, 0]]])  # point 0 three times
    samples = np.array([[0.1, 0.0], [0.0, 0.2], [9.9, 0.1], [5.0, 5.0], [4.0, 0.0]])
    got = copy_counts(samples, rows)
    assert got["multiplicity"].tolist() == [3, 1, 1]
    assert got["memorized"].tolist() == [True, True, True, False, False]
    assert got["copies"].tolist() == [2, 1, 0]
    assert got["copies"].sum() == memorization(samples, rows)["count"]
    assert got["nn1"].tolist()[:3] == [0, 0, 1]


def test_bad_input_names_the_parameter():
    x = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match="distinct"):
        duplicate_rows(np.concatenate([x, x[:1]]), [(2, 1)], 0)
    with pytest.raises(ValueError, match="distinct"):
        duplicate_rows(x[0], [(2, 1)], 0)
    with pytest.raises(ValueError, match="groups"):
        duplicate_rows(x, [(1, 2)], 0)  # factor below 2
    with pytest.raises(ValueError, match="groups"):
        duplicate_rows(x, [(2, 0)], 0)  # no points
    with pytest.raises(ValueError, match="groups"):
        duplicate_rows(x, [(2, 4), (3, 3)], 0)  # more points than there are
    with pytest.raises(ValueError, match="groups"):
        duplicate_rows(x, [(2, 1), (2, 1)], 0)  # a factor twice
    with pytest.raises(ValueError, match="groups"):
        duplicate_rows(x, 5, 0)
    with pytest.raises(ValueError, match="samples"):
        copy_counts(np.full((2, 2), np.nan), x)
    with pytest.raises(ValueError, match="train"):
        copy_counts(x, np.zeros((3, 2)))  # one distinct point
    with pytest.raises(ValueError, match="network"):
        duplicates_point(TINY, d=2, n_distinct=8, groups=[(2, 2)], network=0)
    with pytest.raises(ValueError, match="n_distinct"):
        duplicates_point(TINY, d=2, n_distinct=1, groups=[(2, 2)], network="mlp-6k")
    with pytest.raises(ValueError, match=r"^d:"):
        duplicates_point(TINY, d=0, n_distinct=8, groups=[(2, 2)], network="mlp-6k")
    with pytest.raises(ValueError, match="groups"):
        duplicates_point(TINY, d=2, n_distinct=8, groups=[(2, 8)], network="mlp-6k")  # no single point left


def test_points_differ_by_replicate_and_run_resumably(tmp_path):
    p0 = duplicates_point(TINY, d=2, n_distinct=8, groups=[(3, 2)], network="mlp-6k", rep=0, seed=5)
    p1 = duplicates_point(TINY, d=2, n_distinct=8, groups=[(3, 2)], network="mlp-6k", rep=1, seed=5)
    for k in ("mixture_seed", "data_seed", "dup_seed", "null_seed"):
        assert p0[k] != p1[k], k
    assert p0["train"]["seed"] != p1["train"]["seed"] and p0["sampler"]["seed"] != p1["sampler"]["seed"]
    assert p0 == duplicates_point(TINY, d=2, n_distinct=8, groups=[(3, 2)], network="mlp-6k", rep=0, seed=5)
    first = run_sweep([p0], run_duplicates_point, tmp_path)[0]
    res = first["result"]
    assert not first["reused"] and res["rows"] == 8 + 2 * 2 and res["m"] == 24
    assert sorted(res["multiplicity"]) == [1] * 6 + [3] * 2
    assert sum(res["copies"]) == res["memorized"] and sum(res["null_copies"]) == res["null_memorized"]
    again = run_sweep([p0], lambda q: pytest.fail("recomputed a finished point"), tmp_path)[0]
    assert again["reused"] and again["result"] == res


def test_measure_rejects_a_bad_config(tmp_path):
    from memsep.verify.claims.a4 import A4Measurements, DupMemConfig, measure_memorization
    from memsep.verify.registry import Context

    ctx = Context("A4", "ci", 0, None, tmp_path)
    m = A4Measurements(n=8, t=0.1, eps=0.1, reps=1, d=2, exact_times=[])
    with pytest.raises(ValueError, match="reps"):
        measure_memorization(ctx, DupMemConfig(reps=0), m)
    with pytest.raises(ValueError, match="effect"):
        measure_memorization(ctx, DupMemConfig(effect=1.0), m)
