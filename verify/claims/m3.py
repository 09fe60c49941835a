"""M3 (Figure 4): samples from the same initial noise, original against pruned, with nearest training images.

Measured on the shared pruning experiment: sample j of every model of one original starts from the same
noise (per-sample seeds), so the original and the importance-pruned model (fine-tuned M steps) form pairs.

Rules (each at one-sided level alpha / 2, family-wise alpha = 0.05):

    same_noise_paired   the original is memorized more often than the pruned model from the same noise:
                        the paired difference (b - c) / n over all same-noise pairs pooled over the
                        originals (McNemar's difference of paired proportions), effect 5.24 points (Table 1's
                        importance drop); the exact one-sided McNemar p is shown
    similar_quality     "at similar quality": the pruned model's FD (classifier features, extrapolated) is not
                        more than 10% above the original's (non-inferiority: pass if the upper bound of the
                        relative increase is below 10%, fail if its lower bound is above 10%; this project's
                        margin, the paper's FID moves by -2.6%)

The figure shows the first samples of original 0: original, its nearest training image, pruned, its
nearest training image.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..registry import Context, Findings, decision, register
from ._pruning import (
    CONFIGS,
    DROP,
    FULL_COMMAND,
    TABLE1_SOURCE,
    PruningMeasurements,
    drop_rule,
    family_alpha,
    measure,
    paired_drop,
    provisional_note,
    stage_note,
    t_factor,
)

QUALITY_MARGIN = 0.10
STATISTICAL = 2

RULES = {
    "M3.same_noise_paired": "from the same initial noise the original is memorized more often than the importance-"
    "pruned model: paired difference over all same-noise pairs pooled over the originals > 0 "
    "at one-sided level 0.05 / 2; effect 5.24 points (Table 1's importance drop); fail if the "
    "upper bound is below it",
    "M3.similar_quality": "at similar quality: the relative FD increase (FD_pruned - FD_original) / FD_original in "
    "classifier features (extrapolated FD) is below 10% (this project's margin): pass if its "
    "one-sided upper bound at level 0.05 / 2 is below 10%, fail if its lower bound is above 10% "
    "(t over originals; one original: the extrapolation's standard errors)",
}


def _mcnemar(m: PruningMeasurements) -> tuple[int, int, float]:
    b = c = 0
    for k in range(m.seeds):
        o, p = m.pick("original", seed_index=k), m.pick("importance", seed_index=k)
        if o and p:
            fo, fp = o[0].flags(), p[0].flags()
            b, c = b + int(np.sum(fo & ~fp)), c + int(np.sum(~fo & fp))
    p_exact = float(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0
    return b, c, p_exact


def _quality(m: PruningMeasurements, alpha: float) -> tuple[str, str, dict | None]:
    th = []
    for k in range(m.seeds):
        o, p = m.pick("original", seed_index=k), m.pick("importance", seed_index=k)
        if not o or not p:
            return "inconclusive", "original or importance not measured", None
        fo = o[0].fd_inf_classifier if o[0].fd_inf_classifier is not None else o[0].fd_classifier
        fp = p[0].fd_inf_classifier if p[0].fd_inf_classifier is not None else p[0].fd_classifier
        th.append((fp - fo) / fo)
    th = np.array(th)
    if th.size >= 2:
        se = float(th.std(ddof=1) / math.sqrt(th.size)) * t_factor(th.size - 1, alpha)
        how = f"t over {th.size} originals"
    else:
        return (
            "inconclusive",
            f"relative FD increase {100 * th[0]:+.1f}% from one original: no error estimate between models",
            {"rule": "non-inferiority", "estimate": float(th[0]), "margin": QUALITY_MARGIN},
        )
    z = float(stats.norm.isf(alpha))
    lo, hi = float(th.mean() - z * se), float(th.mean() + z * se)
    outcome = "pass" if hi < QUALITY_MARGIN else "fail" if lo > QUALITY_MARGIN else "inconclusive"
    test = {
        "rule": "non-inferiority",
        "estimate": float(th.mean()),
        "se": se,
        "interval": [lo, hi],
        "alpha": alpha,
        "tolerance": QUALITY_MARGIN,
        "per_seed": th.tolist(),
    }
    return (
        outcome,
        (
            f"relative FD increase {100 * th.mean():+.1f}% +- {100 * se:.1f}% ({how}); one-sided bounds "
            f"[{100 * lo:+.1f}%, {100 * hi:+.1f}%] against the {100 * QUALITY_MARGIN:.0f}% margin"
        ),
        test,
    )


def decide(m: PruningMeasurements, cfg) -> list:
    a = family_alpha(cfg, STATISTICAL)
    outcome, detail, test = drop_rule(
        m, "original", "importance", DROP["importance"], a, TABLE1_SOURCE, "original - pruned, same-noise pairs"
    )
    b, c, p_exact = _mcnemar(m)
    if test is not None:
        test["mcnemar_exact_p"] = p_exact
    detail += (
        f"; only the original memorized in {b} pairs, only the pruned in {c} "
        f"(exact one-sided McNemar p = {p_exact:.3g})"
    )
    q = _quality(m, a)
    return [decision("M3.same_noise_paired", outcome, detail, test), decision("M3.similar_quality", *q)]


def report(ctx: Context, cfg, m: PruningMeasurements, f: Findings) -> tuple[str, str]:
    rows = []
    for k in range(m.seeds):
        o = m.pick("original", seed_index=k)
        for length in sorted({0, m.primary_length}):
            p = m.pick("importance", seed_index=k, length=length)
            if not o or not p:
                continue
            fo, fp = o[0].flags(), p[0].flags()
            rows.append(
                [
                    k,
                    "right after pruning" if length == 0 else f"after {length} fine-tuning steps",
                    int(fo.sum()),
                    int(fp.sum()),
                    int(np.sum(fo & fp)),
                    int(np.sum(fo & ~fp)),
                    int(np.sum(~fo & fp)),
                    int(fo.size),
                ]
            )
    f.table(
        "Same-noise pairs: original vs importance-pruned",
        [
            "original",
            "pruned model",
            "original memorized",
            "pruned memorized",
            "both",
            "only original",
            "only pruned",
            "pairs",
        ],
        rows,
        note="The rule uses the fine-tuned pruned model (Algorithm 1 ends with fine-tuning); the rows 'right after "
        "pruning' show the same pairs before any fine-tuning.",
    )
    d = paired_drop(m, "original", "importance")
    f.tolerance(
        "paired test",
        f"one-sided level {family_alpha(cfg, STATISTICAL):.4g}, effect {100 * DROP['importance']:.2f} points",
        "difference of paired proportions pooled over originals",
    )
    if m.figure is not None:
        _figure(ctx, f, m)
    note = provisional_note(m)
    if note:
        f.note(note)
    f.note(stage_note(m))
    if any(a.outcome != "pass" for a in f.assertions):
        f.note(f"Paper's scale: `{FULL_COMMAND}`.")
    f.add_seeds({"experiment": m.experiment_seed})
    b, c, p_exact = _mcnemar(m)
    headline = (
        f"same-noise pairs: only the original memorized in {b}, only the pruned in {c} of "
        f"{d['pairs'] if d else 0} (difference {100 * d['estimate']:.1f} +- {100 * d['se']:.1f} points; exact "
        f"McNemar p = {p_exact:.2g})"
        if d
        else "no pairs"
    )
    return (
        headline,
        "Paired comparison of the shared experiment's samples (same per-sample noises), pooled over originals.",
    )


def _figure(ctx, f, m: PruningMeasurements) -> None:
    d = m.figure
    n_show = len(d.original)
    with f.figure(ctx, "same_noise", n_show, (1.3 * n_show, 5.6)) as axes:
        fig = np.atleast_1d(axes)[0].figure
        fig.clf()
        grid = fig.subplots(4, n_show, squeeze=False)
        titles = ["original", "nearest training", f"pruned (eta {m.eta:g})", "nearest training"]
        for j in range(n_show):
            imgs = [d.original[j], d.original_nearest[j], d.pruned[j], d.pruned_nearest[j]]
            marks = [d.original_memorized[j], None, d.pruned_memorized[j], None]
            for i, (img, mark) in enumerate(zip(imgs, marks)):
                ax = grid[i, j]
                im = np.clip((np.transpose(np.asarray(img), (1, 2, 0)) + 1) / 2, 0, 1)
                ax.imshow(im[..., 0] if im.shape[2] == 1 else im, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if mark:
                    for side in ax.spines.values():
                        side.set_edgecolor("red")
                        side.set_linewidth(2)
                if j == 0:
                    ax.set_ylabel(titles[i], fontsize=7)
    f.note(
        f"Figure M3_same_noise (profile {ctx.profile}): columns share their initial noise; red frames mark "
        "samples the 1/3 rule calls memorized."
    )


register(
    "M3",
    title="Figure 4: from the same noise, the pruned model replicates training images less often",
    paper_ref="Figure 4 (Section 6)",
    statement="Samples from the same initial noise, original (top) against pruned (bottom), with their nearest "
    "training neighbours: the original replicates training images, the pruned model is more diverse at "
    "similar quality.",
    inferred="Figure 4 is qualitative: this project tests it on all same-noise pairs (not only the figure's), with "
    "the 1/3 nearest-neighbour rule as 'replicates', looks for Table 1's importance drop (5.24 points) as "
    "the paired difference, and reads 'similar quality' as an FD within 10% of the original's.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
