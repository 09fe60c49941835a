"""The convergence test that justifies the samplers' step counts (A5, A6: mixtures; M1-M4: the pruned DiTs).

A claim samples its models with a fixed solver and step count (``sampling.sample``: the first-order probability-flow
solver, "ode", 300 steps for the mixtures and 100 for the DiTs). This test asks whether fewer steps, or the
second-order solver (``empirical.heun``), would change what the claims measure. It trains the claims' own models
(the same settings and seeds as the claims' first replicate) and samples each one with every candidate
(solver, steps) and with a reference, Heun with 1,000 steps (2,000 score evaluations), all from the same per-sample
noise, so candidate and reference are paired sample by sample.

Metrics (those the claims decide on; m samples):
  - memorization ratio (``metrics.memorization``), every model;
  - mixtures: mean log p_data(x) under the true mixture (A6's quality metric);
  - DiTs: precision (k = 3) and the Frechet distance, in pixel and in classifier features (M2, M3). Recall is
    reported but not ruled: each sample's term depends on the whole generated set (its k-th neighbour radius), so a
    resampling interval is biased (repeated samples shrink the radii) and the paired per-sample form below does
    not exist.

Decision rule (fixed before the first run; 95% intervals):
  For a metric f, Delta = f(candidate) - f(reference) on the paired samples, with its interval CI_Delta; h_ref is
  the half-width of the interval the claims themselves would report for f at the reference (Wilson for a ratio,
  z se for a mean, the paired bootstrap's for the FD). The candidate AGREES on f iff CI_Delta lies inside
  [-h_ref, h_ref]: the sampler's error, with its uncertainty, is within the metric's own statistical uncertainty.
  A (solver, steps) is ACCEPTED iff it agrees on every ruled metric of every model; the step count CHOSEN for a
  solver is the smallest accepted count above which every candidate count is accepted too.
  Intervals: per-sample metrics (memorization, precision, log-likelihood) take the paired mean difference with
  its normal interval (sample sd / sqrt(m)); the FD takes the percentile interval of ``bootstrap`` paired
  resamples of the generated samples (the same indices for candidate and reference), and h_ref half the
  percentile interval of the reference's own FD over the same resamples. The rule is strict where a ratio is near
  0 or 1 (Wilson's half-width is then small: one flipped sample of 512 can exceed it), which errs towards more
  steps, never towards hiding a sampler's error.

Output: ``run_check(config, folder)`` returns a JSON-ready dict; the CLI (``memsep sampler-check``) writes it to
out/results/samplers/convergence.json with the environment (commit, code fingerprint) and REPORT.md renders it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from memsep.theory import derive_seed

from .diffusion import NoiseScore
from .heun import sample_with
from .image_metrics import PixelFeatures, _covered, _kth_radius, frechet_distance, precision_recall
from .metrics import memorization, unit_scale, wilson_interval
from .mixture_diffusion import MixtureDiffusionSetting
from .prune_experiment import PruneSetting
from .sampling import sample_seeds

__all__ = ["SamplerCheckConfig", "paired_mean", "paired_bootstrap", "agrees", "chosen", "run_check"]

LEVEL = 0.95
Z = float(stats.norm.isf((1 - LEVEL) / 2))


@dataclass(frozen=True)
class SamplerCheckConfig:
    """Which models, candidates and reference. ``mixture``: the mixture claims' setting (training, sample count);
    ``cells``: its (label, d, n, n_max, network) models, replicate 0 of the experiment seeded ``mixture_seed``;
    ``dit``: the pruning claims' setting whose first original (experiment seed ``dit_seed``) is checked (None: no
    DiT). ``verify.sampler_check`` maps a claims profile and run seed to these, with the claims' own seeds."""

    mixture: MixtureDiffusionSetting | None = None
    cells: tuple[tuple[str, int, int, int, str], ...] = ()
    dit: PruneSetting | None = None
    ode_steps: tuple[int, ...] = (25, 50, 100, 200, 300)
    heun_steps: tuple[int, ...] = (10, 25, 50, 100)
    reference_steps: int = 1000  # Heun
    bootstrap: int = 500
    mixture_seed: int = 0
    dit_seed: int = 0

    def to_dict(self) -> dict:
        return {
            "mixture": self.mixture.to_dict() if self.mixture is not None else None,
            "cells": [list(c) for c in self.cells],
            "dit": self.dit.to_dict() if self.dit is not None else None,
            "ode_steps": list(self.ode_steps),
            "heun_steps": list(self.heun_steps),
            "reference_steps": self.reference_steps,
            "bootstrap": self.bootstrap,
            "mixture_seed": self.mixture_seed,
            "dit_seed": self.dit_seed,
        }


# ---- statistics (pure functions) -------------------------------------------------------------------------------
def paired_mean(cand: np.ndarray, ref: np.ndarray) -> dict:
    """Delta = mean(cand) - mean(ref) of per-sample values (m,) paired by sample, its normal 95% interval, and the
    reference's own half-width z se(ref) (for 0/1 values: Wilson's, the claims' interval for a ratio)."""
    cand, ref = np.asarray(cand, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if cand.shape != ref.shape or cand.ndim != 1 or cand.size < 2:
        raise ValueError(f"cand, ref: must be paired 1-d arrays of m >= 2 values, got {cand.shape} and {ref.shape}")
    m = cand.size
    diff = cand - ref
    delta, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(m))
    if np.all((ref == 0) | (ref == 1)):
        lo, hi = wilson_interval(int(ref.sum()), m, LEVEL)
        h_ref = (hi - lo) / 2
    else:
        h_ref = Z * float(ref.std(ddof=1) / math.sqrt(m))
    return {
        "value": float(cand.mean()),
        "reference": float(ref.mean()),
        "delta": delta,
        "ci": [delta - Z * se, delta + Z * se],
        "margin": h_ref,
    }


def paired_bootstrap(stat, cand: np.ndarray, ref: np.ndarray, draws: int, seed: int) -> dict:
    """The same for a set statistic ``stat(samples) -> float`` (the FD): ``draws`` resamples of the sample indices,
    shared by candidate and reference; percentile intervals of Delta and of stat(ref)."""
    if cand.shape[0] != ref.shape[0]:
        raise ValueError(f"cand, ref: must pair the same samples, got {cand.shape[0]} and {ref.shape[0]}")
    rng = np.random.default_rng(seed)
    m = cand.shape[0]
    c0, r0 = stat(cand), stat(ref)
    ds, rs = np.empty(draws), np.empty(draws)
    for b in range(draws):
        idx = rng.integers(0, m, m)
        rs[b] = stat(ref[idx])
        ds[b] = stat(cand[idx]) - rs[b]
    q = [(1 - LEVEL) / 2, (1 + LEVEL) / 2]
    dlo, dhi = np.quantile(ds, q)
    rlo, rhi = np.quantile(rs, q)
    return {"value": c0, "reference": r0, "delta": c0 - r0, "ci": [float(dlo), float(dhi)], "margin": (rhi - rlo) / 2}


def agrees(metric: dict) -> bool:
    """The rule: CI_Delta inside [-h_ref, h_ref]."""
    lo, hi = metric["ci"]
    return bool(-metric["margin"] <= lo and hi <= metric["margin"])


def chosen(rows: list[dict], method: str) -> int | None:
    """The smallest accepted step count of ``method`` above which every candidate count is accepted (None: the
    largest candidate is not accepted)."""
    ok = sorted((r["steps"], r["accepted"]) for r in rows if r["method"] == method)
    best = None
    for steps, acc in reversed(ok):
        if not acc:
            break
        best = steps
    return best


# ---- the models and their samples --------------------------------------------------------------------------------
def _draw(score, shape, seeds, method: str, steps: int, t0: float, T: float, device) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    x = sample_with(method, score, shape, seeds=seeds, steps=steps, t0=t0, T=T, device=device)
    return x.double().numpy().reshape(len(seeds), -1), time.perf_counter() - t


def _candidates(cfg: SamplerCheckConfig) -> list[tuple[str, int]]:
    return [("ode", s) for s in cfg.ode_steps] + [("heun", s) for s in cfg.heun_steps]


def _compare(cfg: SamplerCheckConfig, draw, metrics, label: str, kind: str, in_use: dict, progress) -> dict:
    """Sample with the reference and every candidate (``draw(method, steps) -> (samples, seconds)``) and apply the
    rule with ``metrics(cand, ref) -> {name: metric}``."""
    progress(f"{label}: reference heun x {cfg.reference_steps}")
    ref, ref_s = draw("heun", cfg.reference_steps)
    rows = []
    for method, steps in _candidates(cfg):
        progress(f"{label}: {method} x {steps}")
        xs, secs = draw(method, steps)
        ms = metrics(xs, ref)
        for v in ms.values():
            if "margin" in v:
                v["agrees"] = agrees(v)
        rows.append(
            {
                "method": method,
                "steps": steps,
                "nfe": steps * (2 if method == "heun" else 1),
                "seconds": secs,
                "metrics": ms,
                "accepted": all(v["agrees"] for v in ms.values() if "agrees" in v),
            }
        )
    return {
        "label": label,
        "kind": kind,
        "in_use": in_use,
        "reference": {"method": "heun", "steps": cfg.reference_steps, "seconds": ref_s},
        "rows": rows,
    }


def _mixture_models(cfg: SamplerCheckConfig, device, progress) -> list[dict]:
    from .mixture_diffusion import diffusion_point, make_dataset, make_mixture, train_and_sample

    s = dataclasses.replace(cfg.mixture, likelihood=False)  # the likelihood is scored after sampling: not needed
    out = []
    for label, d, n, n_max, network in cfg.cells:
        point = diffusion_point(s, d=d, n=n, n_max=n_max, network=network, rep=0, seed=cfg.mixture_seed)
        mix = make_mixture(point["d"], point["K"], point["mean_scale"], point["mixture_seed"])
        data = make_dataset(mix, point["n"], point["n_max"], point["data_seed"])
        progress(f"{label}: training")
        res, _, tcfg, _ = train_and_sample(data, point, device)
        score = NoiseScore(res.ema_model)
        seeds = sample_seeds(point["sampler"]["seed"], point["sampler"]["n_samples"])

        def draw(method, steps, score=score, seeds=seeds, d=d, tcfg=tcfg):
            return _draw(score, (d,), seeds, method, steps, tcfg.t0, tcfg.T, device)

        def metrics(xs, ref, data=data, mix=mix):
            mc, mr = memorization(xs, data)["memorized"], memorization(ref, data)["memorized"]
            return {"memorization": paired_mean(mc, mr), "loglik": paired_mean(mix.logpdf(xs), mix.logpdf(ref))}

        rec = _compare(cfg, draw, metrics, label, "mixture", {"method": s.method, "steps": s.sample_steps}, progress)
        rec["model"] = {"d": d, "n": n, "network": network, "parameters": res.parameters, "claim": "A5, A6"}
        out.append(rec)
    return out


def _dit_model(cfg: SamplerCheckConfig, folder: Path, device, progress) -> dict:
    from .prune_experiment import _classifier, _original_model, load_data

    s = cfg.dit
    seed = cfg.dit_seed
    progress("DiT original: training (or its weights read back from the claims' folder)")
    model = _original_model(s, seed, Path(folder), device, False)  # the pruning claims' original, bit for bit
    data, _, ref_images, labels = load_data(s, seed)
    clf = _classifier(s, seed, ref_images, labels, folder)
    c = model.cfg
    shape = (c.channels, c.image_size, c.image_size)
    seeds = sample_seeds(derive_seed(seed, "samples"), s.n_samples)  # the claims' shared noise (stage_samples)
    flat_data = data.reshape(len(data), -1)
    feats = {"pixels": PixelFeatures(), "classifier": clf}
    real = {k: f(ref_images) for k, f in feats.items()}

    def draw(method, steps):
        return _draw(NoiseScore(model), shape, seeds, method, steps, s.train.t0, s.train.T, device)

    def metrics(xs, ref):
        mc, mr = memorization(xs, flat_data)["memorized"], memorization(ref, flat_data)["memorized"]
        out = {"memorization": paired_mean(mc, mr)}
        for name, f in feats.items():
            fc, fr = f(xs.reshape(-1, *shape)), f(ref.reshape(-1, *shape))
            (rr, gc, gr), _ = unit_scale(real[name], fc, fr)
            radii = _kth_radius(rr, 3)
            out[f"precision_{name}"] = paired_mean(_covered(gc, rr, radii), _covered(gr, rr, radii))
            out[f"fd_{name}"] = paired_bootstrap(
                lambda g, name=name: frechet_distance(real[name], g), fc, fr, cfg.bootstrap, derive_seed(seed, "fd")
            )
            out[f"recall_{name}"] = {
                "value": precision_recall(real[name], fc, k=3)[1],
                "reference": precision_recall(real[name], fr, k=3)[1],
            }
        return out

    rec = _compare(
        cfg, draw, metrics, "DiT original (first)", "dit", {"method": s.method, "steps": s.sample_steps}, progress
    )
    rec["model"] = {
        "preset": s.preset,
        "dataset": s.dataset,
        "n": s.n,
        "train_steps": s.train.steps,
        "claim": "M1-M4",
    }
    return rec


def run_check(cfg: SamplerCheckConfig, folder: Path, device: str = "cpu", progress=None) -> dict:
    """The convergence test of ``cfg`` (module doc); the DiT's weights and classifier go to ``folder``."""
    if cfg.mixture is None and cfg.dit is None:
        raise ValueError("cfg: needs a mixture setting, a DiT setting or both")
    if cfg.mixture is not None and not cfg.cells:
        raise ValueError("cfg.cells: a mixture setting needs at least one (label, d, n, n_max, network) cell")
    if cfg.reference_steps <= max((*cfg.ode_steps, *cfg.heun_steps), default=0):
        raise ValueError(f"cfg.reference_steps: must exceed every candidate's steps, got {cfg.reference_steps}")
    say = progress or (lambda msg: None)
    t = time.perf_counter()
    models = _mixture_models(cfg, device, say) if cfg.mixture is not None else []
    if cfg.dit is not None:
        models.append(_dit_model(cfg, Path(folder), device, say))
    every = [r for m in models for r in m["rows"]]
    merged = [
        {
            "method": meth,
            "steps": st,
            "accepted": all(r["accepted"] for r in every if (r["method"], r["steps"]) == (meth, st)),
        }
        for meth, st in _candidates(cfg)
    ]
    per_model = {m["label"]: {meth: chosen(m["rows"], meth) for meth in ("ode", "heun")} for m in models}
    return {
        "kind": "sampler-check",
        "config": cfg.to_dict(),
        "level": LEVEL,
        "models": models,
        "chosen": {
            "per_model": per_model,
            "mixtures": {
                meth: _max_or_none([per_model[m["label"]][meth] for m in models if m["kind"] == "mixture"])
                for meth in ("ode", "heun")
            },
            "dit": {meth: per_model[models[-1]["label"]][meth] for meth in ("ode", "heun")}
            if cfg.dit is not None
            else None,
            "all": {meth: chosen(merged, meth) for meth in ("ode", "heun")},
        },
        "seconds": time.perf_counter() - t,
    }


def _max_or_none(v: list) -> int | None:
    return None if not v or any(x is None for x in v) else max(v)
