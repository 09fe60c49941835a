"""M2 (Table 1): both prunings lower memorization; importance pruning keeps better quality than random.

Measured on the shared pruning experiment: the original DiT, importance pruning and random pruning at
eta (Table 1: 20%), each fine-tuned M steps, m samples each from the same per-sample seeds. Per
model: memorization ratio (1/3 rule over distinct training images, flattened) with its Wilson CI;
k-NN precision and recall (k = 3) and the Frechet distance (FD) against the whole data set, in pixel
space and in the features of a small classifier trained here on the data set's labels. These FDs
are NOT comparable to the paper's CIFAR-10 FIDs (Inception features, 50K samples).

Rules (one-sided tests at level alpha = 0.05, effects from Table 1; verify.claims._pruning):

    memorization    theta = p_original - p_arm, se from binomial counts (two_proportions; the random arm
                    counted over its n distinct noises, plus the spread between its head draws);
                    effect: the Table 1 drop, 5.24 points (importance) and 6.95 points (random)
    FD              theta = (mean FD_random - FD_importance) / mean FD_random, se from the random prunings'
                    spread (t-scaled); effect 12.1% = (17.14 - 15.07) / 17.14 (Table 1 FIDs)
    recall          theta = (recall_importance - mean recall_random) / mean recall_random, same se;
                    effect 33.3% = (0.12 - 0.09) / 0.09 (Table 1)

Why relative effects for FD and recall: our FD is computed in other feature spaces (a small classifier's
features, pixels) from a few hundred samples, so its units and level have nothing to do with the
paper's FID; a linear rescaling of the features multiplies every FD by the same factor, which the ratio
removes. Recall is unitless, but its level depends on k, the sample counts and the feature space (ours
about 0.3, the paper's about 0.1), so its relative change is the transferable number. Caveat: FD from
few samples carries an upward bias common to both models, which shrinks the relative difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..registry import Context, Findings, decision, register
from ..stats import directional_rule
from ._pruning import CONFIGS, DROP, FD_REL, FULL_COMMAND, RECALL_REL, TABLE1_FID, TABLE1_MEMORIZATION, \
    TABLE1_RECALL, TABLE1_SOURCE, PrunedModel, StageRun, by_seed, contrast_rule, drop_detail, mean_sd, \
    memorization_drop, models, pick, pooled, reuse_note, run_experiment, stage_run

RULES = {
    "M2.importance_lowers_memorization":
        "importance pruning at eta lowers memorization below the original's (after fine-tuning): theta = p_original - "
        "p_importance (ratios memorized by the 1/3 rule), se from binomial counts (two_proportions; with several "
        "original models at least their spread, t-scaled), one-sided level 0.05; effect looked for 5.24 points "
        "(Table 1: 73.82% -> 68.58%); fail if the one-sided 95% upper bound is below 5.24 points; else inconclusive",
    "M2.random_lowers_memorization":
        "random pruning at eta lowers memorization below the original's: theta = p_original - mean_r p_random,r, se "
        "from binomial counts with the R draws counted over their n shared noises, plus the spread between draws "
        "(s_draw^2 / R), one-sided level 0.05; effect looked for 6.95 points (Table 1: 73.82% -> 66.87%); fail if the "
        "one-sided 95% upper bound is below 6.95 points; else inconclusive",
    "M2.importance_better_fd":
        "importance pruning keeps a lower FD (classifier features) than random pruning: theta = (mean FD_random - "
        "FD_importance) / mean FD_random, se from the spread of the random prunings (s_R sqrt(1 + 1/R), t-scaled with "
        "R - 1 df; several originals: paired over them), one-sided level 0.05; effect looked for 12.1% (Table 1: FID "
        "17.14 random vs 15.07 importance, relative since our FD is not in FID units); fail if the one-sided 95% upper "
        "bound is below 12.1%; else inconclusive",
    "M2.importance_better_recall":
        "importance pruning keeps a higher recall (classifier features, k = 3) than random pruning: theta = "
        "(recall_importance - mean recall_random) / mean recall_random, se as for FD, one-sided level 0.05; effect "
        "looked for 33.3% (Table 1: recall 0.12 vs 0.09); fail if the one-sided 95% upper bound is below 33.3%; else "
        "inconclusive",
}

QUALITY = ["precision_classifier", "recall_classifier", "fd_classifier", "precision_pixels", "recall_pixels",
           "fd_pixels"]


@dataclass
class M2Measurements:
    eta: float
    models: list[PrunedModel] = field(default_factory=list)       # original, importance and random at eta
    stages: StageRun | None = None
    experiment_seed: int = 0


def measure(ctx: Context, cfg) -> M2Measurements:
    res = run_experiment(ctx, cfg)
    return M2Measurements(eta=cfg.eta, models=models(res), stages=stage_run(res),
                          experiment_seed=ctx.shared_seed("pruning"))


def arms(m) -> dict[str, list[PrunedModel]]:
    return {"original": pick(m.models, "original"), "importance": pick(m.models, "importance", m.eta),
            "random": pick(m.models, "random", m.eta)}


def memorization_rule(orig, arm, name: str, effect: float, alpha: float) -> tuple[str, str, dict]:
    est, se, parts = memorization_drop(orig, arm, alpha)
    outcome, test = directional_rule(est, se, effect, alpha, effect_source=TABLE1_SOURCE,
                                     what=f"p_original - p_{name} (memorization ratio, after fine-tuning)")
    detail = (f"drop {100 * est:.2f} +- {100 * se:.2f} points (z = {test['z']:.2f}); one-sided 95% upper bound "
              f"{100 * test['interval'][1]:.2f} against the paper's {100 * effect:.2f}; power there {test['power']:.2f}, "
              f"minimum detectable drop {100 * test['mde']:.2f} points; {drop_detail(parts, name)}")
    return outcome, detail, test


def _quality(m, key: str, sign: float):
    a = arms(m)
    imp, rnd = by_seed(a["importance"]), by_seed(a["random"])
    seeds = sorted(imp)
    return ([sign * getattr(imp[k][0], key) for k in seeds],
            [[sign * getattr(x, key) for x in rnd.get(k, [])] for k in seeds])


def quality_rule(m, cfg, key: str, lower_better: bool, effect: float, label: str, source: str) -> tuple:
    imp, rnd = _quality(m, key, 1.0 if lower_better else -1.0)
    outcome, test, how = contrast_rule(imp, rnd, effect=effect, alpha=cfg.alpha, source=source, relative=True,
                                       what=f"relative {label} advantage of importance over random pruning")
    a = arms(m)
    pix = key.replace("classifier", "pixels")
    i_mean = np.mean([getattr(x, key) for x in a["importance"]])
    r_mean, r_sd = mean_sd([getattr(x, key) for x in a["random"]])
    ip, (rp, rps) = np.mean([getattr(x, pix) for x in a["importance"]]), mean_sd([getattr(x, pix) for x in a["random"]])
    detail = (f"importance {i_mean:.4g} against random {r_mean:.4g} +- {r_sd:.2g} (sd of {len(a['random'])}; pixels: "
              f"{ip:.4g} against {rp:.4g} +- {rps:.2g})")
    if test:
        detail += (f"; relative advantage {test['estimate']:+.1%} +- {test['se']:.1%} (t-scaled, df {test['df']}); "
                   f"one-sided 95% upper bound {test['interval'][1]:+.1%} against the paper's {effect:.1%}; power there "
                   f"{test['power']:.2f}, minimum detectable {test['mde']:.1%}; {how}")
    else:
        detail += f"; {how}"
    return outcome, detail, test


FD_SOURCE = f"{TABLE1_SOURCE}: FID {TABLE1_FID['random']} random vs {TABLE1_FID['importance']} importance, relative"
RECALL_SOURCE = (f"{TABLE1_SOURCE}: recall {TABLE1_RECALL['importance']} importance vs {TABLE1_RECALL['random']} random, "
                 "relative")


def decide(m: M2Measurements, cfg) -> list:
    a = arms(m)
    out = []
    for name in ("importance", "random"):
        outcome, detail, test = memorization_rule(a["original"], a[name], name, DROP[name], cfg.alpha)
        out.append(decision(f"M2.{name}_lowers_memorization", outcome, detail, test))
    out.append(decision("M2.importance_better_fd",
                        *quality_rule(m, cfg, "fd_classifier", True, FD_REL, "FD", FD_SOURCE)))
    out.append(decision("M2.importance_better_recall",
                        *quality_rule(m, cfg, "recall_classifier", False, RECALL_REL, "recall", RECALL_SOURCE)))
    return out


def report(ctx: Context, cfg, m: M2Measurements, f: Findings) -> tuple[str, str]:
    a = arms(m)
    rows, st = [], {}
    for name, ms in a.items():
        pm = pooled(ms)
        st[name] = {"mem": pm, **{c: mean_sd([getattr(x, c) for x in ms]) for c in QUALITY}}
        if name == "original":
            before = "-"
        else:
            p0 = pooled(ms, before=True)
            before = f"{p0['ratio']:.1%} ({p0['ci'][0]:.1%} to {p0['ci'][1]:.1%})"
        rows.append([f"{name} pruning" if name != "original" else name, len(ms), f"{pm['ratio']:.1%}",
                     f"{pm['ci'][0]:.1%} to {pm['ci'][1]:.1%}", before,
                     *[f"{st[name][c][0]:.4g} +- {st[name][c][1]:.2g}" for c in QUALITY]])
    s = cfg.setting
    f.table(f"Table 1 at this scale ({s.preset}, n = {s.n} {s.dataset}, eta = {m.eta:g}, {s.n_samples} samples per "
            "model; mean +- sd over models)",
            ["model", "models", "memorization", "95% Wilson CI (pooled)", "right after pruning (before fine-tuning)",
             "precision (clf)", "recall (clf)", "FD (clf)", "precision (pixels)", "recall (pixels)", "FD (pixels)"], rows,
            note="clf: features of a small CNN trained here on the data set's labels (held-out accuracy "
                 f"{np.mean([x.classifier_accuracy for x in a['original']]):.3f}). FD values are NOT comparable "
                 "to the paper's CIFAR-10 FIDs.")
    f.table("The paper's Table 1 (the effects looked for)", ["model", "memorization (%)", "FID", "recall"],
            [["original", f"{TABLE1_MEMORIZATION['original'][0]} +- {TABLE1_MEMORIZATION['original'][1]}", "-", "-"],
             ["importance pruning", f"{TABLE1_MEMORIZATION['importance'][0]} +- {TABLE1_MEMORIZATION['importance'][1]}",
              TABLE1_FID["importance"], TABLE1_RECALL["importance"]],
             ["random pruning", f"{TABLE1_MEMORIZATION['random'][0]} +- {TABLE1_MEMORIZATION['random'][1]}",
              TABLE1_FID["random"], TABLE1_RECALL["random"]]],
            note=f"CIFAR-10, 5,000-image subset, eta = 0.2, mean +- sd over 5 runs. Effects: memorization drops "
                 f"{100 * DROP['importance']:.2f} and {100 * DROP['random']:.2f} points; importance FID "
                 f"{FD_REL:.1%} below random, recall {RECALL_REL:.1%} above.")
    f.tolerance("memorization", f"one-sided level {cfg.alpha:g}, Table 1 drops",
                "binomial counts (the random draws counted over their shared noises, plus their spread); covers "
                "sampling noise and the random head draw, not the spread between training runs of the original")
    f.tolerance("quality", f"one-sided level {cfg.alpha:g}, Table 1 relative differences",
                f"se from the spread of {cfg.random_reps} random prunings per original, t-scaled; with one importance "
                "model its own spread is assumed equal to one random pruning's")
    f.seeds.update({"experiment": m.experiment_seed, "seeds": cfg.seeds, "random_reps": cfg.random_reps})
    if m.stages:
        f.notes.append(reuse_note(m.stages))
    if any(x.outcome != "pass" for x in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    o, i, r = st["original"], st["importance"], st["random"]
    headline = (f"memorization {o['mem']['ratio']:.0%} original, {i['mem']['ratio']:.0%} importance, "
                f"{r['mem']['ratio']:.0%} random (eta = {m.eta:g}); FD (clf) {i['fd_classifier'][0]:.3g} vs "
                f"{r['fd_classifier'][0]:.3g}, recall {i['recall_classifier'][0]:.2f} vs {r['recall_classifier'][0]:.2f}")
    method = (f"empirical.prune_experiment: {s.preset} trained {s.train.steps} steps on n = {s.n} {s.dataset} images; "
              f"pruned at eta = {m.eta:g} and fine-tuned {s.finetune.steps} steps; {s.n_samples} {s.method.upper()} "
              f"samples ({s.sample_steps} steps) per model from shared seeds.")
    return headline, method


register("M2", title="Table 1: pruning lowers memorization; importance pruning keeps better FD and recall than random",
         paper_ref="Table 1 (Section 6)",
         statement="On a DiT trained on a 5,000-image CIFAR-10 subset, pruning 20% of the heads lowers memorization "
                   "(73.82 +- 1.12% -> 68.58 +- 0.77% importance, 66.87 +- 0.94% random, 5 runs); the importance-based "
                   "pruning keeps the best FID and recall (FID 15.07 vs 17.14 for random, recall 0.12 vs 0.09).",
         inferred="Memorization by the 1/3 nearest-neighbour rule on flattened images; FD and recall in a small "
                  "classifier's features (not Inception), compared as relative differences; the digits data set and a "
                  "small DiT below the full profile. The paper's differences are the effects looked for.",
         configs=CONFIGS, rules=RULES, measure=measure, decide=decide, report=report)
