"""M3 (Figure 4): samples from the same initial noise, original against pruned, with nearest training images.

Measured on the shared pruning experiment: sample j of every model starts from the same noise
(per-sample seeds), so the original and the importance-pruned model form pairs. Check (paired,
McNemar's exact test): among pairs where exactly one of the two samples is memorized, the original
is the memorized one significantly more often (one-sided binomial test, level 0.01). The figure
shows the first samples: original, its nearest training image, pruned, its nearest training image.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from empirical.prune_experiment import load_data

from ..io import figure
from ..registry import Context, Findings, register
from ._pruning import CONFIGS, FULL_COMMAND, reuse_note, run_experiment

LEVEL = 0.01
SHOW = 10


@register("M3", title="Figure 4: from the same noise, the pruned model replicates training images less often",
          paper_ref="Figure 4 (Section 6)",
          statement="Samples from the same initial noise, original (top) against pruned (bottom), with their nearest "
                    "training neighbours: the original replicates training images, the pruned model is more diverse at "
                    "similar quality.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg = ctx.config
    f = Findings()
    res = run_experiment(ctx, cfg)
    rows, b_all, c_all = [], 0, 0
    for k in range(cfg.seeds):
        o = np.asarray(res[("original", k)]["result"]["memorized_mask"], dtype=bool)
        p = np.asarray(res[("importance", k, cfg.eta)]["result"]["memorized_mask"], dtype=bool)
        b, c = int((o & ~p).sum()), int((~o & p).sum())
        b_all, c_all = b_all + b, c_all + c
        p0 = np.asarray(res[("importance", k, cfg.eta)]["result"]["memorized_mask_before_finetune"], dtype=bool)
        rows.append([k, "after fine-tuning", int(o.sum()), int(p.sum()), int((o & p).sum()), b, c, len(o)])
        rows.append([k, "right after pruning", int(o.sum()), int(p0.sum()), int((o & p0).sum()), int((o & ~p0).sum()),
                     int((~o & p0).sum()), len(o)])
    pval = float(stats.binomtest(b_all, b_all + c_all, 0.5, alternative="greater").pvalue) if b_all + c_all else 1.0
    f.table("Same-noise pairs: original vs importance-pruned", ["seed", "pruned model", "original memorized",
                                                                 "pruned memorized", "both", "only original",
                                                                 "only pruned", "pairs"], rows,
            note="The check uses the fine-tuned pruned model (Algorithm 1 ends with fine-tuning); the rows 'right after "
                 "pruning' show the same pairs before any fine-tuning.")
    f.check("from the same noise, the original is memorized more often than the pruned model (McNemar)",
            pval < LEVEL, f"discordant pairs: only original {b_all}, only pruned {c_all}; one-sided exact p = "
                          f"{pval:.3g} (required < {LEVEL:g})")
    f.tolerance("McNemar level", LEVEL, "false-positive rate of the one-sided exact test (declaring a difference when the two models memorize equally often)")
    _figure(ctx, f, cfg, res)
    f.notes.append(reuse_note(res))
    if any(not a.passed for a in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    f.seeds.update({"experiment": ctx.shared_seed("pruning")})
    headline = f"same-noise pairs: only the original memorized in {b_all}, only the pruned in {c_all} (p = {pval:.2g})"
    return f.result(headline, "Paired comparison of the shared experiment's samples (same per-sample seeds).")


def _figure(ctx, f, cfg, res) -> None:
    s = cfg.setting
    o = res[("original", 0)]["result"]
    p = res[("importance", 0, cfg.eta)]["result"]
    data = load_data(s, int(res[("original", 0)]["point"]["seed"]))[0]
    n_show = min(SHOW, len(o["samples"]))
    path, rel = ctx.figure_path("same_noise")
    with figure(path, n_show, (1.3 * n_show, 5.6)) as axes:
        fig = np.atleast_1d(axes)[0].figure
        fig.clf()
        grid = fig.subplots(4, n_show, squeeze=False)
        titles = ["original", "nearest training", f"pruned (eta {cfg.eta:g})", "nearest training"]
        for j in range(n_show):
            imgs = [np.asarray(o["samples"][j]), data[o["nn1"][j]], np.asarray(p["samples"][j]), data[p["nn1"][j]]]
            marks = [o["memorized_mask"][j], None, p["memorized_mask"][j], None]
            for i, (img, mark) in enumerate(zip(imgs, marks)):
                ax = grid[i, j]
                im = np.clip((np.transpose(img, (1, 2, 0)) + 1) / 2, 0, 1)
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
