"""The Gaussian-mixture diffusion experiment of Figures 2 and 3 (claims A5, A6), one point at a time.

A point = (mixture, data set, network, training, sampler) fully resolved into a JSON dict, so that
``empirical.sweep.run_sweep`` can store and resume it:

    P      = (1/K) sum_k N(mu_k, I_d),  mu_k ~ N(0, mean_scale^2 I_d)   (seed mixture_seed; Figure 3: scale 2)
    data   = the first n of n_max draws from P (seed data_seed): data sets of one replicate are nested in n
    model  = eps_theta of ``empirical.diffusion`` (preset or width), DSM-trained (``DiffusionConfig``)
    output = m samples (sampler ``method``, per-sample seeds) -> memorization ratio with its Wilson CI
             over distinct training points, mean log p(x_gen) under P with its se; and two references
             computed on the same data: the NULL rate (m fresh draws from P_{t0}, i.e. a perfect
             generalizer, scored by the same rule) and the mean log-likelihood of those fresh draws; the
             mean log-likelihood of the memorized and of the novel samples separately;
             and (``likelihood``) the MODEL's log-likelihood, at t0, of ``ll_points`` held-out draws from
             P_t0 and of the training points (the distinct rows, at most ``ll_points``): the variational
             bound of the reverse SDE (``empirical.likelihood.elbo``, ``elbo_nodes`` nodes, Hutchinson
             trace) and the probability-flow ODE (``ode_loglik``, ``ode_steps`` Heun steps, Hutchinson
             trace), beside the closed-form log P_t0 of the same points. The train-minus-held-out gap of a
             likelihood is the memorization signature (0 for the true law). The ODE's forward paths from
             held-out points leave the region the network was trained on and diverge (likelihood.py), so
             its per-point values are heavy-tailed: medians and the share of paths ending outside the
             prior's 1 - 1e-6 ball are recorded beside its means.

In low dimension the null rate is far from 0 (measured: 9.4% at d = 2, n = 64), so a model's
memorization is always read against it.

Where a loss sits (``loss_references``). On the training rows the DSM loss of the TRUE score (what a
perfect generalizer would reach) and of the EMPIRICAL score (its minimum over all functions, S1: the
memorizer) bracket every network's:

    L_true = E_t E_{x_0 ~ Phat} E_Z || sigma_t grad log P_t(X_t) + Z ||^2,
    L_emp  = the same with grad log Phat_t,                       L_emp <= L(theta) for every theta,

both estimated on one stratified draw (t at the midpoints of equal bins of the time law, rows and Z at
random, the same draws for both). The PROGRESS u = (L_true - L) / (L_true - L_emp) is 0 at the
generalizer's loss and 1 at the memorizer's; measured at d = 32, n = 64 (K = 8): L_true 22.7 and L_emp
0.30, so losses of a few nats already sit far on the memorizing side.

Convergence (``PlateauRule``). The DSM loss is logged as window means of the mini-batch losses; a ROUND is
``round`` consecutive optimiser steps and L_k the mean logged loss of round k. The plateau statistic after
round k >= 2 is the relative decrease

    delta_k = (L_{k-1} - L_k) / L_{k-1},

and the loss has PLATEAUED when delta_k < tol. With ``until`` set, a point is trained round by round (one
run, resumed from its checkpoint: with a constant learning rate after warm-up the steps do not depend on
the run's length, so the model after S steps is exactly that of a single run of S steps) until it has
plateaued or reaches ``train.steps``, the cap; without it the point trains ``train.steps`` steps and the
same statistic is recorded as a diagnostic (with rounds of half the run where two rounds do not fit).
Every result carries the round means, delta and how training stopped ("plateau", "cap" or "fixed").
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from memsep.theory import GaussianMixture, derive_seed

from .diffusion import DiffusionConfig, DiffusionResult, NoiseScore, load_checkpoint, train_diffusion
from .fileio import save_torch
from .likelihood import differentiable_noise_score, elbo, ode_loglik
from .metrics import mean_loglik, memorization
from .sampling import sample, sample_seeds

__all__ = [
    "PlateauRule",
    "MixtureDiffusionSetting",
    "make_mixture",
    "make_dataset",
    "network_spec",
    "diffusion_point",
    "run_point",
    "loss_references",
    "plateau_record",
    "train_until_plateau",
    "train_and_sample",
    "model_likelihood",
]


@dataclass(frozen=True)
class PlateauRule:
    """When the DSM loss counts as converged (module doc): relative decrease between the mean losses of two
    consecutive rounds of ``round`` steps below ``tol``; ``until``: train round by round until then (cap
    ``train.steps``), else train ``train.steps`` and only record the statistic."""

    round: int = 2000
    tol: float = 0.01
    until: bool = False

    def validate(self, cfg: DiffusionConfig) -> PlateauRule:
        if isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 1:
            raise ValueError(f"round: must be a positive int, got {self.round!r}")
        if self.until and self.round % cfg.log_every:
            raise ValueError(f"round: must be a multiple of log_every = {cfg.log_every}, got {self.round}")
        if not (0 < self.tol < 1 and math.isfinite(self.tol)):
            raise ValueError(f"tol: must be in (0, 1), got {self.tol}")
        if self.until and cfg.lr_final is not None:
            raise ValueError(
                "lr_final: must be None to train until a plateau (a decaying rate depends on the run's length)"
            )
        if self.until and cfg.steps < 2 * self.round:
            raise ValueError(f"steps: the cap must allow two rounds of {self.round} steps, got {cfg.steps}")
        return self


@dataclass(frozen=True)
class MixtureDiffusionSetting:
    """Everything but the swept quantities (d, n, network, weight decay, replicate)."""

    K: int = 8
    mean_scale: float = 2.0
    train: DiffusionConfig = field(default_factory=DiffusionConfig)
    method: str = "ode"  # sampler: "ode" (probability flow) or "sde"
    sample_steps: int = 300
    n_samples: int = 512
    save_samples: bool = False  # keep the samples in the result (for scatter plots)
    likelihood: bool = True  # the model's likelihood of held-out draws and training points (module doc)
    ll_points: int = 256  # held-out draws scored (and at most this many training points)
    elbo_nodes: int = 64  # log-spaced times of the variational bound's t-integral
    ode_steps: int = 100  # Heun steps of the probability-flow likelihood
    plateau: PlateauRule = field(default_factory=PlateauRule)  # convergence statistic (and rule, if ``until``)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["train"].pop("device")
        return out


def make_mixture(d: int, K: int, mean_scale: float, seed: int) -> GaussianMixture:
    """P = (1/K) sum_k N(mu_k, I_d), mu_k ~ N(0, mean_scale^2 I_d) from ``seed``."""
    for name, v in (("d", d), ("K", K)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}: must be a positive int, got {v!r}")
    if not mean_scale > 0:
        raise ValueError(f"mean_scale: must be > 0, got {mean_scale}")
    mu = mean_scale * np.random.default_rng(seed).standard_normal((K, d))
    return GaussianMixture.isotropic(np.full(K, 1.0 / K), mu, 1.0)


def make_dataset(mixture: GaussianMixture, n: int, n_max: int, seed: int) -> np.ndarray:
    """(n, d): the first n of n_max draws from ``mixture`` (nested across n for one seed)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: must be an int >= 2, got {n!r}")
    if n > n_max:
        raise ValueError(f"n: must be <= n_max = {n_max}, got {n}")
    return mixture.sample(n_max, np.random.default_rng(seed))[:n]


def network_spec(network: str | int) -> dict:
    """The point's "network" entry: {"preset": name} or {"width": W} (depth 3)."""
    if isinstance(network, str):
        return {"preset": network}
    if isinstance(network, (int, np.integer)) and not isinstance(network, bool) and network >= 1:
        return {"width": int(network)}
    raise ValueError(f"network: must be a preset name or a positive width, got {network!r}")


def diffusion_point(
    setting: MixtureDiffusionSetting,
    *,
    d: int,
    n: int,
    n_max: int,
    network: str | int,
    weight_decay: float = 0.0,
    rep: int = 0,
    seed: int = 0,
) -> dict:
    """The JSON point of one run. ``network``: a preset name or a width (depth 3). The mixture and the data
    depend on (seed, d, rep) only, so every network, n and weight decay of a replicate sees the same
    mixture and nested data sets; the sampler's per-sample seeds depend on (d, n, rep) only, so models
    compared at one (d, n) start from the same noise (paired); the training seed adds the network and
    weight decay."""
    net = network_spec(network)
    setting.plateau.validate(setting.train)
    train = setting.to_dict()["train"]
    wd = f"wd={float(weight_decay)!r}"  # a string key: derive_seed would truncate a float
    train.update(weight_decay=float(weight_decay), seed=derive_seed(seed, "train", d, n, str(network), wd, rep))
    return {
        "kind": "mixture-diffusion",
        "d": int(d),
        "K": setting.K,
        "mean_scale": setting.mean_scale,
        "mixture_seed": derive_seed(seed, "mixture", d, rep),
        "n": int(n),
        "n_max": int(n_max),
        "data_seed": derive_seed(seed, "data", d, rep),
        "network": net,
        "train": train,
        "sampler": {
            "method": setting.method,
            "steps": setting.sample_steps,
            "n_samples": setting.n_samples,
            "seed": derive_seed(seed, "sample", d, n, rep),
        },  # same noise for every model: paired
        "null_seed": derive_seed(seed, "null", d, n, rep),
        "save_samples": setting.save_samples,
        "plateau": dataclasses.asdict(setting.plateau),
        **(
            {
                "likelihood": {
                    "points": setting.ll_points,
                    "elbo_nodes": setting.elbo_nodes,
                    "ode_steps": setting.ode_steps,
                    "seed": derive_seed(seed, "heldout", d, n, rep),
                }
            }
            if setting.likelihood
            else {}
        ),
    }


def loss_references(
    mixture: GaussianMixture,
    data: np.ndarray,
    cfg: DiffusionConfig,
    seed: int,
    *,
    nodes: int = 128,
    per_node: int = 128,
) -> dict:
    """{"true", "empirical"}: the DSM noise-prediction loss of the true and of the empirical score on ``data`` (n, d),
    each {"mean", "se"} over ``nodes`` x ``per_node`` stratified draws (module doc), with cfg's time law on
    [cfg.t0, cfg.T]; float64."""
    from memsep.theory import EmpiricalDistribution

    x = np.asarray(data, dtype=np.float64)
    emp = EmpiricalDistribution(x)
    rng = np.random.default_rng(seed)
    u = (np.arange(nodes) + 0.5) / nodes  # bin midpoints of the time law
    ts = (
        np.exp(np.log(cfg.t0) + u * (np.log(cfg.T) - np.log(cfg.t0)))
        if cfg.time_law == "loguniform"
        else cfg.t0 + u * (cfg.T - cfg.t0)
    )
    per = {"true": np.empty((nodes, per_node)), "empirical": np.empty((nodes, per_node))}
    for i, t in enumerate(ts):
        x0 = x[rng.integers(0, x.shape[0], per_node)]  # (per_node, d)
        z = rng.standard_normal(x0.shape)
        a, sig = math.exp(-t / 2), math.sqrt(-math.expm1(-t))
        xt = a * x0 + sig * z
        per["true"][i] = ((sig * mixture.score(xt, t) + z) ** 2).sum(1)
        per["empirical"][i] = ((sig * emp.score(xt, t) + z) ** 2).sum(1)
    # stratified mean: the node means are independent, so se^2 = mean over nodes of var_i / per_node, / nodes
    return {
        k: {"mean": float(v.mean()), "se": float(np.sqrt(v.var(axis=1, ddof=1).mean() / v.size))}
        for k, v in per.items()
    }


def plateau_record(losses: list, round_steps: int, tol: float) -> dict:
    """The convergence statistic of a loss curve [(step, window mean)] (module doc): the mean of each complete round
    of ``round_steps`` steps, delta of the last two (None with fewer than two rounds) and whether delta < tol."""
    rounds: dict[int, list[float]] = {}
    for step, value in losses:
        rounds.setdefault((int(step) - 1) // round_steps, []).append(float(value))
    last = int(losses[-1][0]) if losses else 0
    means = [float(np.mean(rounds[k])) for k in sorted(rounds) if (k + 1) * round_steps <= last]
    delta = (means[-2] - means[-1]) / means[-2] if len(means) >= 2 else None
    return {
        "round": round_steps,
        "tol": tol,
        "steps": last,
        "round_means": means,
        "delta": delta,
        "reached": delta is not None and delta < tol,
    }


def train_until_plateau(
    data,
    cfg: DiffusionConfig,
    rule: PlateauRule,
    *,
    preset: str | None = None,
    width: int | None = None,
    progress: bool = False,
) -> tuple[DiffusionResult, dict]:
    """DSM training of ``train_diffusion`` in rounds of ``rule.round`` steps until the loss has plateaued or
    ``cfg.steps`` (the cap) is reached (module doc); (result, plateau_record with "stopped": "plateau" or "cap").

    One run in a temporary checkpoint, extended by a round at a time: the checkpoint's recorded length is raised
    and the run resumed, which gives exactly the steps of a single run of the final length because the learning
    rate is constant after warm-up (``PlateauRule.validate`` requires lr_final None) and the batch stream does not
    depend on the length."""
    rule.validate(cfg)
    with tempfile.TemporaryDirectory(prefix="memsep-plateau-") as tmp:
        ckpt = Path(tmp) / "train.pt"
        steps = min(2 * rule.round, cfg.steps)
        while True:
            run = dataclasses.replace(cfg, steps=steps)
            res = train_diffusion(
                data,
                run,
                preset=preset,
                width=width,
                progress=progress,
                checkpoint=ckpt,
                checkpoint_every=rule.round,
                resume=True,
            )
            rec = plateau_record(res.losses, rule.round, rule.tol)
            if rec["reached"] or steps >= cfg.steps:
                rec["stopped"] = "plateau" if rec["reached"] else "cap"
                return res, rec
            steps = min(steps + rule.round, cfg.steps)
            st = load_checkpoint(ckpt, "cpu")
            st["config"] = dataclasses.replace(cfg, steps=steps).to_dict()
            save_torch(ckpt, st)


def train_and_sample(
    data: np.ndarray, point: dict, device: str = "cpu", progress: bool = False
) -> tuple[DiffusionResult, np.ndarray, DiffusionConfig, dict]:
    """Train the point's network on ``data`` (its "train" config; until a plateau if its "plateau" rule says so) and
    draw its samples (its "sampler": method, steps, per-sample seeds); (result, samples (m, d) float64, config,
    plateau record)."""
    cfg = DiffusionConfig(**point["train"], device=device)
    net = point["network"]
    rule = PlateauRule(**point["plateau"]) if point.get("plateau") else None
    if rule is not None and rule.until:
        res, rec = train_until_plateau(
            data, cfg, rule, preset=net.get("preset"), width=net.get("width"), progress=progress
        )
    else:
        res = train_diffusion(data, cfg, preset=net.get("preset"), width=net.get("width"), progress=progress)
        r = rule or PlateauRule()
        half = max(cfg.log_every, cfg.steps // 2 // cfg.log_every * cfg.log_every)  # two rounds fit a short run
        rec = {**plateau_record(res.losses, min(r.round, half), r.tol), "stopped": "fixed"}
    sp = point["sampler"]
    xs = (
        sample(
            NoiseScore(res.ema_model),
            (data.shape[1],),
            seeds=sample_seeds(sp["seed"], sp["n_samples"]),
            method=sp["method"],
            steps=sp["steps"],
            t0=cfg.t0,
            T=cfg.T,
            device=res.ema_model.inp.weight.device,
            dtype=torch.float32,
        )
        .double()
        .numpy()
    )
    return res, xs, cfg, rec


def run_point(point: dict, device: str = "cpu", progress: bool = False) -> dict:
    """Train, sample and score one point (see the module doc); a JSON-ready dict."""
    mix = make_mixture(point["d"], point["K"], point["mean_scale"], point["mixture_seed"])
    data = make_dataset(mix, point["n"], point["n_max"], point["data_seed"])
    res, xs, cfg, plateau = train_and_sample(data, point, device, progress)
    sp = point["sampler"]
    mem = memorization(xs, data)
    ll, ll_se = mean_loglik(xs, mix)
    lp = mix.logpdf(xs)  # (m,): split by the rule
    split = {
        f"loglik_{name}": (float(lp[mask].mean()) if mask.any() else None)
        for name, mask in (("memorized", mem["memorized"]), ("novel", ~mem["memorized"]))
    }
    fresh = mix.sample(sp["n_samples"], np.random.default_rng(point["null_seed"]), t=cfg.t0)  # perfect generator
    null = memorization(fresh, data)
    ll_ref, ll_ref_se = mean_loglik(fresh, mix)
    out = {
        "parameters": res.parameters,
        "train_seconds": res.seconds,
        "losses": res.losses,
        "final_loss": res.losses[-1][1],
        "plateau": plateau,
        "memorization": mem["ratio"],
        "memorized": mem["count"],
        "m": mem["m"],
        "ci": list(mem["ci"]),
        "n_distinct": mem["n_distinct"],
        "distance_ratio_quantiles": [float(q) for q in np.quantile(mem["distance_ratio"], [0.1, 0.5, 0.9])],
        "loglik": ll,
        "loglik_se": ll_se,
        "null_memorization": null["ratio"],
        "null_ci": list(null["ci"]),
        "loglik_fresh": ll_ref,
        "loglik_fresh_se": ll_ref_se,
        **split,
        "device": str(res.ema_model.inp.weight.device),
    }
    if point.get("likelihood"):
        out["likelihood"] = model_likelihood(res.ema_model, mix, data, point["likelihood"], cfg.t0, cfg.T)
    out["loss_references"] = loss_references(mix, data, cfg, derive_seed(point["data_seed"], "loss-references"))
    if point["save_samples"]:
        out["samples"] = xs.tolist()
        out["memorized_mask"] = mem["memorized"].tolist()
        out["data"] = data.tolist()
    return out


def _mean_se(v: np.ndarray) -> dict:
    return {
        "mean": float(v.mean()),
        "se": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None,
        "median": float(np.median(v)),
    }


def model_likelihood(model, mixture: GaussianMixture, data: np.ndarray, spec: dict, t0: float, T: float) -> dict:
    """The model's log-likelihood at t0 of held-out draws from P_t0 and of the distinct training points (module
    doc): for each set, {"truth", "elbo", "ode"} as {"mean", "se", "median"}, the ODE's share of diverged paths, and
    the train-minus-held-out gaps (difference of means, se from the two independent sets)."""
    from .metrics import distinct_points

    rng = np.random.default_rng(spec["seed"])
    held = mixture.sample(spec["points"], rng, t=t0)
    train = distinct_points(data)[: spec["points"]]
    score = differentiable_noise_score(model)
    d = data.shape[1]
    r2 = float(stats.chi2.isf(1e-6, d))  # |x_T|^2 beyond this: a path that left the prior
    out = {"t0": t0, "points": {"heldout": int(held.shape[0]), "train": int(train.shape[0])}}
    for name, x in (("heldout", held), ("train", train)):
        e = elbo(score, x, t0=t0, T=T, nodes=spec["elbo_nodes"], seed=derive_seed(spec["seed"], "elbo", name))
        try:
            o, xT = ode_loglik(
                score,
                x,
                t0=t0,
                T=T,
                steps=spec["ode_steps"],
                trace="hutchinson",
                seed=derive_seed(spec["seed"], "ode", name),
                return_end=True,
            )
            ode, diverged = _mean_se(o), float(np.mean((xT**2).sum(1) > r2))
        except FloatingPointError:  # a path overflowed: every statistic would be -inf
            ode, diverged = None, 1.0
        out[name] = {
            "truth": _mean_se(mixture.logpdf(x, t0)),
            "elbo": _mean_se(e),
            "ode": ode,
            "ode_diverged": diverged,
        }
    for est in ("truth", "elbo", "ode"):
        if out["train"][est] is None or out["heldout"][est] is None:
            out[f"gap_{est}"] = None
            continue
        a, b = out["train"][est], out["heldout"][est]
        se = np.hypot(a["se"] or 0.0, b["se"] or 0.0)
        out[f"gap_{est}"] = {"estimate": a["mean"] - b["mean"], "se": float(se)}
    return out
