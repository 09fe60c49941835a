"""Duplicated training points and memorization (claim A4), one resumable point at a time.

A point = (mixture, distinct points, which of them are duplicated and how often, network, training,
sampler) resolved into a JSON dict for ``empirical.sweep.run_sweep``:

    P         = (1/K) sum_k N(mu_k, I_d), mu_k ~ N(0, mean_scale^2 I_d)      (empirical.mixture_diffusion)
    distinct  = y_1..y_n, n = n_distinct draws from P                        (n, d)
    rows      = every y_j written c_j times: for each group (factor f, count g) g of the points, chosen
                at random and disjoint between groups, have c_j = f, the others c_j = 1; shuffled
                                                                             (N, d), N = sum_j c_j
    model     = eps_theta (``empirical.diffusion``), DSM-trained on the rows
    output    = m samples (probability-flow ODE, per-sample seeds), and per distinct point j

                    copies_j = #{samples x : x memorized (1/3 rule) and NN1(x) = y_j}         (n,)

                with NN1 over the DISTINCT points (the rule of ``empirical.metrics``, which collapses
                the copies, so a sample near a duplicated point can be called memorized at all); and
                the same counts for m fresh draws from P_{t0} (the NULL: a perfect generalizer, whose
                copies do not depend on the multiplicities).

The model that reproduces the empirical law Phat = sum_j (c_j / N) delta_{y_j} exactly copies y_j with
probability c_j / N: a duplicated point f times as often as a single one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from memsep.theory import derive_seed

from .metrics import distinct_points, memorization, nearest_two
from .mixture_diffusion import MixtureDiffusionSetting, make_dataset, make_mixture, network_spec, train_and_sample

__all__ = ["duplicate_rows", "multiplicities", "copy_counts", "duplicates_point", "run_duplicates_point"]


def _check_groups(groups) -> list[tuple[int, int]]:
    """((factor, count), ...) as ints: factor >= 2, count >= 1, factors distinct."""
    try:
        out = [(f, g) for f, g in groups]
    except (TypeError, ValueError):
        raise ValueError(f"groups: must be a sequence of (factor, count) pairs, got {groups!r}") from None
    for f, g in out:
        for name, v, lo in (("factor", f, 2), ("count", g, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"groups: each {name} must be an int >= {lo}, got {v!r} in {groups!r}")
    if len({f for f, _ in out}) != len(out):
        raise ValueError(f"groups: factors must be distinct, got {groups!r}")
    return [(int(f), int(g)) for f, g in out]


def duplicate_rows(distinct, groups, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows (N, d), multiplicity (n,) int) from ``distinct`` (n, d): for each (factor f, count g) of ``groups``,
    g points chosen at random (disjoint between groups; generator ``seed``) are written f times, the others
    once; the N = sum_j c_j rows are shuffled. multiplicity[j] = c_j, aligned with ``distinct``."""
    x = np.asarray(distinct, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"distinct: must have shape (n, d) with n >= 2, got {x.shape}")
    if distinct_points(x).shape[0] != x.shape[0]:
        raise ValueError("distinct: rows must be distinct")
    gs = _check_groups(groups)
    n = x.shape[0]
    if sum(g for _, g in gs) > n:
        raise ValueError(f"groups: {sum(g for _, g in gs)} duplicated points requested of n = {n} distinct ones")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    mult = np.ones(n, dtype=np.int64)
    at = 0
    for f, g in gs:
        mult[order[at : at + g]] = f
        at += g
    rows = np.repeat(x, mult, axis=0)
    return rows[rng.permutation(rows.shape[0])], mult


def multiplicities(train) -> tuple[np.ndarray, np.ndarray]:
    """(distinct points (n, d) in order of first appearance, as ``empirical.metrics.distinct_points``; the number of
    rows of ``train`` (N, d) equal to each (n,) int)."""
    pts = distinct_points(train)
    x = np.asarray(train, dtype=np.float64)
    _, inv, cnt = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    _, first = np.unique(inv.reshape(-1), return_index=True)  # first row of each unique group
    order = np.argsort(first, kind="stable")  # unique groups by first appearance
    return pts, cnt[order].astype(np.int64)


def copy_counts(samples, train, *, ratio: float = 1.0 / 3.0) -> dict:
    """Per distinct training point, how many samples memorize it (module doc).

    samples (m, d), train (N, d) (duplicates allowed). Returns {"points": distinct points (n, d) (order of first
    appearance), "multiplicity": (n,) rows per point, "copies": (n,) int, "memorized": (m,) bool (the 1/3 rule of
    empirical.metrics.memorization), "nn1": (m,) index of each sample's nearest distinct point}; sum(copies) =
    sum(memorized)."""
    mem = memorization(samples, train, ratio=ratio)
    pts, mult = multiplicities(train)
    _, _, nn1 = nearest_two(samples, pts)
    copies = np.bincount(nn1[mem["memorized"]], minlength=pts.shape[0]).astype(np.int64)
    return {"points": pts, "multiplicity": mult, "copies": copies, "memorized": mem["memorized"], "nn1": nn1}


def duplicates_point(
    setting: MixtureDiffusionSetting,
    *,
    d: int,
    n_distinct: int,
    groups,
    network: str | int,
    rep: int = 0,
    seed: int = 0,
) -> dict:
    """The JSON point of one run. Replicate ``rep`` has its own mixture, distinct points, choice of duplicated
    points, training seed, sample seeds and null draws, all derived from (seed, rep, the sizes)."""
    net = network_spec(network)
    for name, v, lo in (("d", d, 1), ("n_distinct", n_distinct, 2), ("rep", rep, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name}: must be an int >= {lo}, got {v!r}")
    gs = _check_groups(groups)
    if sum(g for _, g in gs) >= n_distinct:
        raise ValueError(
            f"groups: need fewer than n_distinct = {n_distinct} duplicated points (some single points "
            f"to compare with), got {sum(g for _, g in gs)}"
        )
    tag = ",".join(f"{f}x{g}" for f, g in gs)
    train = setting.to_dict()["train"]
    train.update(seed=derive_seed(seed, "dup-train", d, n_distinct, tag, str(network), rep))
    return {
        "kind": "duplicates-memorization",
        "d": int(d),
        "K": setting.K,
        "mean_scale": setting.mean_scale,
        "mixture_seed": derive_seed(seed, "dup-mixture", d, rep),
        "n_distinct": int(n_distinct),
        "data_seed": derive_seed(seed, "dup-data", d, rep),
        "groups": [list(g) for g in gs],
        "dup_seed": derive_seed(seed, "dup-choice", d, n_distinct, tag, rep),
        "network": net,
        "train": train,
        "sampler": {
            "method": setting.method,
            "steps": setting.sample_steps,
            "n_samples": setting.n_samples,
            "seed": derive_seed(seed, "dup-sample", d, n_distinct, tag, rep),
        },
        "null_seed": derive_seed(seed, "dup-null", d, n_distinct, tag, rep),
        "plateau": dataclasses.asdict(setting.plateau.validate(setting.train)),
    }


def run_duplicates_point(point: dict, device: str = "cpu", progress: bool = False) -> dict:
    """Train, sample and count copies per distinct point (module doc); a JSON-ready dict whose lists are aligned
    with the distinct points in their order of first appearance among the rows."""
    mix = make_mixture(point["d"], point["K"], point["mean_scale"], point["mixture_seed"])
    distinct = make_dataset(mix, point["n_distinct"], point["n_distinct"], point["data_seed"])
    rows, _ = duplicate_rows(distinct, point["groups"], point["dup_seed"])
    res, xs, cfg, plateau = train_and_sample(rows, point, device, progress)
    sp = point["sampler"]
    got = copy_counts(xs, rows)
    fresh = mix.sample(sp["n_samples"], np.random.default_rng(point["null_seed"]), t=cfg.t0)  # perfect generator
    null = copy_counts(fresh, rows)
    return {
        "parameters": res.parameters,
        "train_seconds": res.seconds,
        "final_loss": res.losses[-1][1],
        "plateau": plateau,
        "rows": int(rows.shape[0]),
        "multiplicity": got["multiplicity"].tolist(),
        "copies": got["copies"].tolist(),
        "null_copies": null["copies"].tolist(),
        "m": int(xs.shape[0]),
        "memorized": int(got["memorized"].sum()),
        "null_memorized": int(null["memorized"].sum()),
        "device": str(res.ema_model.inp.weight.device),
    }
