"""M3 (Figure 4): samples from the same initial noise, original against pruned, with nearest training images.

Measured on the shared pruning experiment: sample j of every model starts from the same noise
(per-sample seeds), so the original and the importance-pruned model form n pairs. With b pairs where
only the original's sample is memorized and c where only the pruned model's is:

    theta = p_original - p_pruned = (b - c) / n,    se = sqrt((b + c) / n - theta^2) / sqrt(n)

(``verify.stats.paired_proportions``: the difference behind McNemar's test). Rule: one-sided test of
theta > 0 at level 0.05 (``directional_rule``), effect looked for 5.24 points (Table 1's importance
drop, 73.82% -> 68.58%); the exact one-sided binomial (McNemar) p of b among b + c is shown beside
it. With several original models the se is at least the spread of their per-model differences.
The figure shows the first samples: original, its nearest training image, pruned, its nearest
training image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..io import figure
from ..registry import Context, Findings, decision, register
from ..stats import directional_rule, paired_proportions
from ._pruning import CONFIGS, DROP, FULL_COMMAND, TABLE1_SOURCE, StageRun, reuse_note, run_experiment, stage_run, \
    t_factor

SHOW = 10
FIGURE_NUMBERS = 20000          # at most this many pixel values kept for the figure (4 images per column)

RULES = {
    "M3.same_noise_paired":
        "from the same initial noise, the original's sample is memorized more often than the importance-pruned "
        "model's (after fine-tuning): theta = (b - c) / n (b: pairs where only the original's sample is memorized, c: "
        "only the pruned model's, n pairs), se = sqrt((b + c)/n - theta^2) / sqrt(n) (paired_proportions; with several "
        "original models at least their spread, t-scaled), one-sided level 0.05; effect looked for 5.24 points "
        "(Table 1's importance drop, 73.82% -> 68.58%); fail if the one-sided 95% upper bound is below 5.24 points; "
        "else inconclusive. The exact one-sided McNemar (binomial) p is shown",
}


@dataclass
class PairCounts:
    seed_index: int
    n: int                         # pairs (samples per model)
    original: int                  # original memorized
    pruned: int                    # pruned memorized (after fine-tuning)
    both: int
    only_original: int             # b
    only_pruned: int               # c
    pruned_before: int             # the same, right after pruning (before fine-tuning)
    both_before: int
    only_original_before: int
    only_pruned_before: int


@dataclass
class FigureData:
    """The first columns of Figure 4 at this scale (images (C, H, W), values in [-1, 1])."""

    original: list
    original_nearest: list
    pruned: list
    pruned_nearest: list
    original_memorized: list[bool]
    pruned_memorized: list[bool]


@dataclass
class M3Measurements:
    eta: float
    pairs: list[PairCounts] = field(default_factory=list)
    figure: FigureData | None = None
    stages: StageRun | None = None
    experiment_seed: int = 0


def measure(ctx: Context, cfg) -> M3Measurements:
    res = run_experiment(ctx, cfg)
    pairs = []
    for k in range(cfg.seeds):
        o = np.asarray(res[("original", k)]["result"]["memorized_mask"], dtype=bool)
        pr = res[("importance", k, cfg.eta)]["result"]
        p = np.asarray(pr["memorized_mask"], dtype=bool)
        p0 = np.asarray(pr["memorized_mask_before_finetune"], dtype=bool)
        pairs.append(PairCounts(k, int(o.size), int(o.sum()), int(p.sum()), int((o & p).sum()), int((o & ~p).sum()),
                                int((~o & p).sum()), int(p0.sum()), int((o & p0).sum()), int((o & ~p0).sum()),
                                int((~o & p0).sum())))
    return M3Measurements(eta=cfg.eta, pairs=pairs, figure=_figure_data(cfg, res), stages=stage_run(res),
                          experiment_seed=ctx.shared_seed("pruning"))


def _figure_data(cfg, res) -> FigureData | None:
    """Samples of seed 0 for the figure, or None when the stage kept none (more than 512 samples per model)."""
    from empirical.metrics import distinct_points
    from empirical.prune_experiment import load_data

    o, p = res[("original", 0)]["result"], res[("importance", 0, cfg.eta)]["result"]
    if not o.get("samples") or not p.get("samples"):
        return None
    data = load_data(cfg.setting, int(res[("original", 0)]["point"]["seed"]))[0]
    pts = distinct_points(data.reshape(len(data), -1)).reshape((-1,) + data.shape[1:])   # what nn1 indexes
    size = int(np.prod(pts.shape[1:]))
    n_show = min(SHOW, len(o["samples"]), FIGURE_NUMBERS // (4 * size))
    if n_show < 1:
        return None
    r = lambda a: np.round(np.asarray(a, dtype=np.float64), 3).tolist()    # noqa: E731
    return FigureData(original=[r(o["samples"][j]) for j in range(n_show)],
                      original_nearest=[r(pts[o["nn1"][j]]) for j in range(n_show)],
                      pruned=[r(p["samples"][j]) for j in range(n_show)],
                      pruned_nearest=[r(pts[p["nn1"][j]]) for j in range(n_show)],
                      original_memorized=[bool(v) for v in o["memorized_mask"][:n_show]],
                      pruned_memorized=[bool(v) for v in p["memorized_mask"][:n_show]])


def paired_test(pairs: list[PairCounts], alpha: float) -> tuple[str, dict, dict]:
    """(outcome, test, counts) of the paired rule (module doc)."""
    b, c, n = (sum(x.only_original for x in pairs), sum(x.only_pruned for x in pairs), sum(x.n for x in pairs))
    est, se = paired_proportions(b, c, n)
    counts = {"b": b, "c": c, "n": n, "se_pairs": se}
    if len(pairs) >= 2:
        d = np.array([(x.only_original - x.only_pruned) / x.n for x in pairs])
        counts["se_seeds"] = float(d.std(ddof=1) / np.sqrt(d.size)) * t_factor(d.size - 1, alpha)
        se = max(se, counts["se_seeds"])
    outcome, test = directional_rule(est, se, DROP["importance"], alpha, effect_source=TABLE1_SOURCE,
                                     what="p_original - p_pruned on same-noise pairs (after fine-tuning)")
    p = float(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0
    test["mcnemar_exact_p"] = p
    counts["p"] = p
    return outcome, test, counts


def decide(m: M3Measurements, cfg) -> list:
    if not m.pairs:
        return [decision("M3.same_noise_paired", "inconclusive", "no pairs were measured")]
    outcome, test, c = paired_test(m.pairs, cfg.alpha)
    detail = (f"{c['n']} pairs: only the original memorized {c['b']}, only the pruned {c['c']}; difference "
              f"{100 * test['estimate']:.2f} +- {100 * test['se']:.2f} points (z = {test['z']:.2f}); one-sided 95% upper "
              f"bound {100 * test['interval'][1]:.2f} against the paper's {100 * test['effect']:.2f}; power there "
              f"{test['power']:.2f}, minimum detectable {100 * test['mde']:.2f} points; exact one-sided McNemar p = "
              f"{c['p']:.3g}")
    if "se_seeds" in c:
        detail += f"; spread over {len(m.pairs)} original models gives se {100 * c['se_seeds']:.2f} points (t-scaled)"
    return [decision("M3.same_noise_paired", outcome, detail, test)]


def report(ctx: Context, cfg, m: M3Measurements, f: Findings) -> tuple[str, str]:
    rows = []
    for x in m.pairs:
        rows.append([x.seed_index, "after fine-tuning", x.original, x.pruned, x.both, x.only_original, x.only_pruned,
                     x.n])
        rows.append([x.seed_index, "right after pruning", x.original, x.pruned_before, x.both_before,
                     x.only_original_before, x.only_pruned_before, x.n])
    f.table("Same-noise pairs: original vs importance-pruned", ["seed", "pruned model", "original memorized",
                                                                 "pruned memorized", "both", "only original",
                                                                 "only pruned", "pairs"], rows,
            note="The rule uses the fine-tuned pruned model (Algorithm 1 ends with fine-tuning); the rows 'right after "
                 "pruning' show the same pairs before any fine-tuning.")
    f.tolerance("paired test", f"one-sided level {cfg.alpha:g}, effect {100 * DROP['importance']:.2f} points",
                "McNemar's difference of paired proportions (z); covers sampling noise, not the spread between "
                "training runs of the original")
    if m.figure is not None:
        _figure(ctx, f, m)
    else:
        f.notes.append("No figure: the stages keep samples only up to 512 per model, or the images are too large to "
                       "keep in the results file.")
    if m.stages:
        f.notes.append(reuse_note(m.stages))
    if any(a.outcome != "pass" for a in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    f.seeds.update({"experiment": m.experiment_seed})
    b, c = sum(x.only_original for x in m.pairs), sum(x.only_pruned for x in m.pairs)
    test = f.assertions[0].test or {}
    headline = (f"same-noise pairs: only the original memorized in {b}, only the pruned in {c} "
                f"(exact McNemar p = {test.get('mcnemar_exact_p', float('nan')):.2g})")
    return headline, "Paired comparison of the shared experiment's samples (same per-sample seeds)."


def _figure(ctx, f, m: M3Measurements) -> None:
    d = m.figure
    n_show = len(d.original)
    path, rel = ctx.figure_path("same_noise")
    with figure(path, n_show, (1.3 * n_show, 5.6)) as axes:
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
    f.figures.append(rel)
    f.notes.append(f"Figure M3_same_noise (profile {ctx.profile}): columns share their initial noise; red frames mark "
                   "samples the 1/3 rule calls memorized.")


register("M3", title="Figure 4: from the same noise, the pruned model replicates training images less often",
         paper_ref="Figure 4 (Section 6)",
         statement="Samples from the same initial noise, original (top) against pruned (bottom), with their nearest "
                   "training neighbours: the original replicates training images, the pruned model is more diverse at "
                   "similar quality.",
         inferred="Figure 4 is qualitative: this project tests it on all same-noise pairs (not only the figure's), with "
                  "the 1/3 nearest-neighbour rule as 'replicates', and looks for Table 1's importance drop (5.24 "
                  "points) as the paired difference.",
         configs=CONFIGS, rules=RULES, measure=measure, decide=decide, report=report)
