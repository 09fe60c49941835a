"""M4: the pruning-ratio sweep (the paper's appendix varies eta; its numbers are not available).

Measured on the shared pruning experiment: importance and random pruning at each eta of the sweep
(eta = 0 is the original), each fine-tuned M steps; memorization (Wilson CI) and FD (classifier
features and pixels) against eta, as a table and a figure. Check: at the largest eta, importance
pruning memorizes less than the original (disjoint 95% Wilson intervals); the trend in between and
the FD cost are reported.
"""

from __future__ import annotations

from ..io import figure
from ..registry import Context, Findings, register
from ._pruning import CONFIGS, FULL_COMMAND, reuse_note, run_experiment
from .m2 import pooled


@register("M4", title="Pruning-ratio sweep: memorization and FD against eta",
          paper_ref="Appendix (pruning ratio)",
          statement="Varying the pruning ratio eta trades memorization against sample quality.",
          configs=CONFIGS)
def check(ctx: Context):
    cfg = ctx.config
    f = Findings()
    res = run_experiment(ctx, cfg, sweep=True)
    etas = sorted({cfg.eta, *cfg.etas})
    curve = {"importance": {0.0: [res[("original", k)]["result"] for k in range(cfg.seeds)]},
             "random": {0.0: [res[("original", k)]["result"] for k in range(cfg.seeds)]}}
    for eta in etas:
        curve["importance"][eta] = [res[("importance", k, eta)]["result"] for k in range(cfg.seeds)]
        curve["random"][eta] = [res[("random", k, eta, r)]["result"] for k in range(cfg.seeds)
                                for r in range(cfg.random_reps if eta == cfg.eta else 1)]
    rows = []
    for method, by_eta in curve.items():
        for eta, rs in by_eta.items():
            pm = pooled(rs)
            rows.append([method, eta, rs[0]["heads_removed"] if eta else 0, pm["ratio"],
                         f"{pm['ci'][0]:.3f} to {pm['ci'][1]:.3f}", sum(r["fd_classifier"] for r in rs) / len(rs),
                         sum(r["fd_pixels"] for r in rs) / len(rs), sum(r["recall_classifier"] for r in rs) / len(rs),
                         sum(r["small_t_loss"] for r in rs) / len(rs)])
    f.table("Memorization and quality against the pruning ratio", ["method", "eta", "heads removed", "memorization",
                                                                   "95% Wilson CI", "FD (clf)", "FD (pixels)",
                                                                   "recall (clf)", "small-t loss"], rows)
    top = max(etas)
    o, p = pooled(curve["importance"][0.0]), pooled(curve["importance"][top])
    f.check(f"importance pruning at the largest ratio (eta = {top:g}) memorizes less than the original",
            p["ci"][1] < o["ci"][0], f"{p['ratio']:.1%} (CI {p['ci'][0]:.1%} to {p['ci'][1]:.1%}) against "
                                     f"{o['ratio']:.1%} (CI {o['ci'][0]:.1%} to {o['ci'][1]:.1%})")
    f.tolerance("memorization", "disjoint 95% Wilson intervals", "a difference test of level < 1%")
    path, rel = ctx.figure_path("sweep")
    with figure(path, 2, (10, 4)) as axes:
        for method, c in (("importance", "C0"), ("random", "C3")):
            xs = sorted(curve[method])
            ms = [pooled(curve[method][e]) for e in xs]
            axes[0].errorbar(xs, [m["ratio"] for m in ms], yerr=[[m["ratio"] - m["ci"][0] for m in ms],
                                                                 [m["ci"][1] - m["ratio"] for m in ms]],
                             fmt="o-", color=c, label=f"{method} pruning", capsize=2)
            axes[1].plot(xs, [sum(r["fd_classifier"] for r in curve[method][e]) / len(curve[method][e]) for e in xs],
                         "o-", color=c, label=f"{method} pruning")
        axes[0].set(xlabel="pruning ratio eta", ylabel="memorization ratio", title="memorization (95% Wilson CI)")
        axes[1].set(xlabel="pruning ratio eta", ylabel="FD (classifier features)", title="sample quality (lower is better)")
        axes[0].legend(fontsize=8)
    f.figures.append(rel)
    f.notes.append(reuse_note(res))
    if any(not a.passed for a in f.assertions):
        f.notes.append(f"Paper's scale: `{FULL_COMMAND}`.")
    f.seeds.update({"experiment": ctx.shared_seed("pruning")})
    headline = (f"importance pruning: memorization {o['ratio']:.0%} at eta = 0 -> "
                + ", ".join(f"{pooled(curve['importance'][e])['ratio']:.0%} at {e:g}" for e in etas))
    return f.result(headline, "Sweep of the shared pruning experiment over eta (importance and random pruning).")
