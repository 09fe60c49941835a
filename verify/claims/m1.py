"""M1 (Algorithms 1 and 2): importance-based one-shot head pruning of a DiT.

Measured on the shared pruning experiment (verify.claims._pruning): the original DiT trained until it
memorizes; Algorithm 2's importances (gates xi_h, |dL/dxi_h| accumulated over batches with t from
Beta(0.8, 2) on log time, normalised per layer); Algorithm 1 removes the floor(eta H) least
important heads physically; random pruning at the same eta is the baseline.

Checks: exact surgery (head count floor(eta H), parameter count original - k hd (4D + 3), per-layer
importance norms 1) and the rationale of the method: right after pruning, before fine-tuning, the
DSM loss at small t on the training images rises less under importance pruning than under random
pruning (against the mean of the random prunings; every value is shown).
"""

from __future__ import annotations

import math

import numpy as np

from ..registry import Context, Findings, register
from ._pruning import CONFIGS, FULL_COMMAND, mean_sd, reuse_note, run_experiment


@register("M1", title="Importance-based head pruning (Algorithms 1-2): exact surgery, least-important heads at small t",
          paper_ref="Algorithms 1 and 2 (Section 6)",
          statement="ImportanceScore attaches a gate xi_h = 1 to every head, accumulates |dL/dxi_h| over DSM batches with "
                    "t from a law favouring small t (Beta(0.8, 2)), normalises per layer; pruning removes the "
                    "floor(eta H) least important heads and fine-tunes. Rationale: the heads that matter least at small "
                    "t carry the memorizing capacity.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg = ctx.config
    f = Findings()
    res = run_experiment(ctx, cfg)
    rows, surgery_ok, rationale = [], [], []
    for k in range(cfg.seeds):
        orig = res[("original", k)]["result"]
        imp = res[("importance", k, cfg.eta)]["result"]
        rnd = [res[("random", k, cfg.eta, r)]["result"] for r in range(cfg.random_reps)]
        H = sum(orig["heads"])
        D, hd = _dims(cfg)
        want_k = math.floor(cfg.eta * H)
        for name, r in [("importance", imp)] + [(f"random {i}", x) for i, x in enumerate(rnd)]:
            ok = (r["heads_removed"] == want_k and sum(r["heads"]) == H - want_k
                  and r["parameters"] == orig["parameters"] - want_k * hd * (4 * D + 3))
            surgery_ok.append(ok)
            rows.append([k, name, r["heads_removed"], H, ", ".join(map(str, r["heads"])), r["parameters"],
                         r["small_t_loss_before_finetune"], r["small_t_loss"], ok])
        norms = [float(np.linalg.norm(v)) for v in imp["importance"]]
        surgery_ok.append(all(abs(v - 1) < 1e-9 for v in norms))
        r_mean, r_sd = mean_sd([x["small_t_loss_before_finetune"] for x in rnd])
        rationale.append((k, imp["small_t_loss_before_finetune"], r_mean, r_sd, orig["small_t_loss"]))
        f.table(f"Importances (seed {k}): I(h) per layer", ["layer", "I(h) per head", "removed heads"],
                [[l, ", ".join(f"{v:.3f}" for v in vals), ", ".join(map(str, imp["removed"].get(str(l), [])))]
                 for l, vals in enumerate(imp["importance"])])
    f.table(f"Pruned models at eta = {cfg.eta:g}", ["seed", "method", "heads removed", "of H", "heads per layer",
                                                     "parameters", "small-t DSM loss after pruning",
                                                     "after fine-tuning", "surgery exact"], rows,
            note=f"Small-t loss: mean DSM noise-prediction loss on the training images with t log-uniform on "
                 f"{cfg.setting.small_t}, fixed draws. The original's: "
                 + ", ".join(f"{x[4]:.4g}" for x in rationale))
    f.check("surgery is exact: floor(eta H) heads removed, parameter count and per-layer importance norms",
            all(surgery_ok), f"{sum(surgery_ok)} of {len(surgery_ok)} exact")
    f.check("importance pruning raises the small-t loss less than random pruning (before fine-tuning)",
            all(i < m for _, i, m, _, _ in rationale),
            "; ".join(f"seed {k}: importance {i:.4g} vs random {m:.4g} +- {sd:.2g} (original {o:.4g})"
                      for k, i, m, sd, o in rationale))
    f.tolerance("rationale", "importance < mean of the random prunings",
                f"a point comparison per original model ({cfg.random_reps} random prunings; their sd is shown)")
    f.seeds.update({"experiment": ctx.shared_seed("pruning"), "seeds": cfg.seeds, "random_reps": cfg.random_reps})
    f.notes.append(reuse_note(res))
    if any(not a.passed for a in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    s = cfg.setting
    headline = (f"{s.preset} on {s.n} {s.dataset}: importance pruning at eta = {cfg.eta:g} raises the small-t loss to "
                f"{rationale[0][1]:.4g} vs {rationale[0][2]:.4g} for random pruning (original {rationale[0][4]:.4g})")
    method = (f"empirical.pruning on the shared experiment: {s.importance_batches} importance batches of "
              f"{s.importance_batch}, time law Beta(0.8, 2) on {s.time_map} time; physical head removal; "
              f"{s.finetune.steps} fine-tuning steps.")
    return f.result(headline, method)


def _dims(cfg) -> tuple[int, int]:
    from empirical.dit import DIT_PRESETS

    p = DIT_PRESETS[cfg.setting.preset]
    return p.hidden, p.head_dim
