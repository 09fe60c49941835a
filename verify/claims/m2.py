"""M2 (Table 1): both prunings lower memorization; importance pruning keeps better quality than random.

Measured on the shared pruning experiment: the original DiT, importance pruning and random pruning at
eta (Table 1: 20%), each fine-tuned M steps, m samples each from the same per-sample seeds. Per
model: memorization ratio (1/3 rule over distinct training images, flattened) with its Wilson CI;
k-NN precision and recall (k = 3) and the Frechet distance (FD) against the whole data set, in pixel
space and in the features of a small classifier trained here on the data set's labels. These FDs
are NOT comparable to the paper's CIFAR-10 FIDs (Inception features, 50K samples).

Checks: memorization of each pruned model below the original's (disjoint 95% Wilson intervals,
counts pooled over seeds and random repetitions); importance pruning has a lower classifier-feature
FD and a higher classifier-feature recall than random pruning (against the mean over random
prunings; their sd is shown).
"""

from __future__ import annotations

import numpy as np

from empirical.metrics import wilson_interval

from ..registry import Context, Findings, register
from ._pruning import CONFIGS, FULL_COMMAND, mean_sd, reuse_note, run_experiment


def pooled(results: list[dict]) -> dict:
    k, m = sum(r["memorized"] for r in results), sum(r["m"] for r in results)
    return {"ratio": k / m, "ci": wilson_interval(k, m), "k": k, "m": m}


def groups(res: dict, cfg, eta: float) -> dict[str, list[dict]]:
    return {"original": [res[("original", k)]["result"] for k in range(cfg.seeds)],
            "importance pruning": [res[("importance", k, eta)]["result"] for k in range(cfg.seeds)],
            "random pruning": [res[("random", k, eta, r)]["result"] for k in range(cfg.seeds)
                               for r in range(cfg.random_reps)]}


@register("M2", title="Table 1: pruning lowers memorization; importance pruning keeps better FD and recall than random",
          paper_ref="Table 1 (Section 6)",
          statement="On a DiT trained on a 5,000-image CIFAR-10 subset, pruning 20% of the heads lowers memorization "
                    "(73.8% -> 68.6% importance, 66.9% random); the importance-based pruning keeps the best FID and "
                    "recall (FID 15.07 vs 17.14 for random, recall 0.12 vs 0.09).",
          configs=CONFIGS)
def check(ctx: Context):
    cfg = ctx.config
    f = Findings()
    res = run_experiment(ctx, cfg)
    g = groups(res, cfg, cfg.eta)
    cols = ["precision_classifier", "recall_classifier", "fd_classifier", "precision_pixels", "recall_pixels",
            "fd_pixels"]
    rows = []
    stats = {}
    for name, rs in g.items():
        pm = pooled(rs)
        stats[name] = {"mem": pm, **{c: mean_sd([r[c] for r in rs]) for c in cols}}
        if name == "original":
            before = "-"
        else:
            k0, m0 = sum(r["memorized_before_finetune"] for r in rs), sum(r["m"] for r in rs)
            lo, hi = wilson_interval(k0, m0)
            before = f"{k0 / m0:.1%} ({lo:.1%} to {hi:.1%})"
        rows.append([name, len(rs), f"{pm['ratio']:.1%}", f"{pm['ci'][0]:.1%} to {pm['ci'][1]:.1%}", before,
                     *[f"{stats[name][c][0]:.4g} +- {stats[name][c][1]:.2g}" for c in cols]])
    s = cfg.setting
    f.table(f"Table 1 at this scale ({s.preset}, n = {s.n} {s.dataset}, eta = {cfg.eta:g}, {s.n_samples} samples per "
            "model; mean +- sd over models)",
            ["model", "models", "memorization", "95% Wilson CI (pooled)", "right after pruning (before fine-tuning)",
             "precision (clf)", "recall (clf)",
             "FD (clf)", "precision (pixels)", "recall (pixels)", "FD (pixels)"], rows,
            note="clf: features of a small CNN trained here on the data set's labels (held-out accuracy "
                 f"{np.mean([r['classifier_accuracy'] for r in g['original']]):.3f}). FD values are NOT comparable "
                 "to the paper's CIFAR-10 FIDs.")
    o = stats["original"]["mem"]
    for name in ("importance pruning", "random pruning"):
        p = stats[name]["mem"]
        f.check(f"{name} lowers memorization", p["ci"][1] < o["ci"][0],
                f"{p['ratio']:.1%} (CI {p['ci'][0]:.1%} to {p['ci'][1]:.1%}) against the original's {o['ratio']:.1%} "
                f"(CI {o['ci'][0]:.1%} to {o['ci'][1]:.1%})")
    i, r = stats["importance pruning"], stats["random pruning"]
    f.check("importance pruning has a lower FD (classifier features) than random pruning",
            i["fd_classifier"][0] < r["fd_classifier"][0],
            f"{i['fd_classifier'][0]:.4g} against {r['fd_classifier'][0]:.4g} +- {r['fd_classifier'][1]:.2g}; pixels: "
            f"{i['fd_pixels'][0]:.4g} against {r['fd_pixels'][0]:.4g} +- {r['fd_pixels'][1]:.2g}")
    f.check("importance pruning has a higher recall (classifier features) than random pruning",
            i["recall_classifier"][0] > r["recall_classifier"][0],
            f"{i['recall_classifier'][0]:.3f} against {r['recall_classifier'][0]:.3f} +- "
            f"{r['recall_classifier'][1]:.2g}; pixels: {i['recall_pixels'][0]:.3f} against "
            f"{r['recall_pixels'][0]:.3f} +- {r['recall_pixels'][1]:.2g}")
    f.tolerance("memorization", "disjoint 95% Wilson intervals (pooled counts)",
                "a difference test of level < 1%; covers sampling noise, not the spread between training runs")
    f.tolerance("quality", "point comparison with the mean over random prunings",
                f"as the paper's Table 1 (means); {cfg.random_reps} random prunings per original, sd shown")
    f.seeds.update({"experiment": ctx.shared_seed("pruning"), "seeds": cfg.seeds, "random_reps": cfg.random_reps})
    f.notes.append(reuse_note(res))
    if any(not a.passed for a in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    headline = (f"memorization {o['ratio']:.0%} original, {i['mem']['ratio']:.0%} importance, {r['mem']['ratio']:.0%} "
                f"random (eta = {cfg.eta:g}); FD (clf) {i['fd_classifier'][0]:.3g} vs {r['fd_classifier'][0]:.3g}, "
                f"recall {i['recall_classifier'][0]:.2f} vs {r['recall_classifier'][0]:.2f}")
    method = (f"empirical.prune_experiment: {s.preset} trained {s.train.steps} steps on n = {s.n} {s.dataset} images; "
              f"pruned at eta = {cfg.eta:g} and fine-tuned {s.finetune.steps} steps; {s.n_samples} {s.method.upper()} "
              f"samples ({s.sample_steps} steps) per model from shared seeds.")
    return f.result(headline, method)
