"""M1 (Algorithms 1 and 2): importance-based one-shot head pruning of a DiT.

Measured on the shared pruning experiment (verify.claims._pruning): K original DiTs (trained until
their loss plateaus: the criterion and the curves are shown), Algorithm 2's importances (gates xi_h,
|dL/dxi_h| accumulated over batches with t from Beta(0.8, 2) under the time map, normalised per layer),
Algorithm 1's physical removal of the k = floor(eta H) least important heads, and random pruning at
the same eta as the baseline.

Exact rules (integers and float64 rounding):

    surgery                 heads removed = k, heads left = H - k, parameters = P_0 - k hd (4D + 3)
                            (per head: the Q, K, V rows of width D and their 3 biases, and D output columns)
    importance_normalized   ||I_l||_2 = 1 for every layer l (within 1e-9), under every time map
    least_important_removed max_{h removed} I(h) <= min_{h kept} I(h)  (Algorithm 1 step 2; ties allowed)

Statistical rule (the method's rationale: the heads that matter least at small t are removed): right
after pruning, before fine-tuning, the DSM loss at small t on the training images, L, is lower under
importance pruning than under random pruning. Exact rank test against R random prunings per original
(``_pruning.rank_test``): r_k = #{random draws with a lower loss than importance}; under H0 the sum S of
the r_k is a sum of K discrete uniforms on {0..R}. Pass if P0(S <= s) < alpha; fail if P0(S >= s) <
alpha (importance pruning significantly WORSE than random draws); else inconclusive. The paper gives no
size: the power is stated at "the importance loss sits at the 5% quantile of the random losses".
"""

from __future__ import annotations

import math

import numpy as np

from ..registry import Context, Findings, decision, register
from ._pruning import CONFIGS, FULL_COMMAND, PruningMeasurements, measure, provisional_note, rank_test, stage_note

NORM_TOL = 1e-9
RANK_Q = 0.05

RULES = {
    "M1.surgery": "every pruned model (importance under every time map, random draws, every eta, every fine-tuning "
    "length) has exactly k = floor(eta H) heads removed, H - k heads left and P_0 - k hd (4D + 3) "
    "parameters (P_0: its original's; D: width, hd: head dimension); exact integer comparison",
    "M1.importance_normalized": "Algorithm 2 normalises the importances per layer: every layer's vector I(h) has "
    "Euclidean norm 1 within 1e-9 (float64 rounding), under every time map",
    "M1.least_important_removed": "Algorithm 1 removes the least important heads: every head removed by importance "
    "pruning has I(h) <= every kept head's I(h) (exact; ties allowed), under every map",
    "M1.rationale_small_t": "right after pruning (before fine-tuning), importance pruning (the setting's time map) "
    "leaves a lower small-t DSM loss on the training images than random pruning at the same "
    "eta: exact rank test against R random prunings per original, combined over the K "
    "originals (sum of ranks), one-sided level 0.05; fail if importance pruning is "
    "significantly worse than random (the other tail at 0.05); else inconclusive. Power stated "
    "at 'importance at the 5% quantile of the random losses' (the paper gives no size)",
}


def _surgery(m: PruningMeasurements) -> tuple[int, int, list[str]]:
    """(models checked, exact, failures) over every pruned evaluation."""
    orig = {e.seed_index: e for e in m.evals if e.arm == "original"}
    runs = {o.seed_index: o for o in m.originals}
    checked, bad = 0, []
    for e in m.evals:
        if e.arm not in ("importance", "random"):
            continue
        o, run = orig[e.seed_index], runs[e.seed_index]
        H, k = run.heads_total, math.floor(e.eta * run.heads_total)
        expect = o.parameters - k * run.head_dim * (4 * run.hidden + 3)
        checked += 1
        if not (e.heads_removed == k and sum(e.heads) == H - k and e.parameters == expect):
            bad.append(
                f"seed {e.seed_index} {e.arm} eta {e.eta:g} M {e.length}: removed {e.heads_removed} (expected "
                f"{k}), heads {sum(e.heads)} (expected {H - k}), parameters {e.parameters} (expected {expect})"
            )
    return checked, checked - len(bad), bad


def _least_important(scores: list[list[float]], removed: list[str]) -> tuple[bool, float, float]:
    rem = {tuple(int(v) for v in x.split(":")) for x in removed}
    r = [scores[l][h] for l, hs in enumerate(scores) for h in range(len(hs)) if (l, h) in rem]
    kept = [scores[l][h] for l, hs in enumerate(scores) for h in range(len(hs)) if (l, h) not in rem]
    hi, lo = (max(r) if r else -math.inf), (min(kept) if kept else math.inf)
    return hi <= lo, hi, lo


def _ranks(m: PruningMeasurements) -> list[int]:
    return [int(sum(v < rk.importance[m.time_map] for v in rk.random)) for rk in m.ranks if m.time_map in rk.importance]


def decide(m: PruningMeasurements, cfg) -> list:
    out = []
    checked, exact, bad = _surgery(m)
    out.append(
        decision(
            "M1.surgery",
            bool(checked) and not bad,
            f"{exact} of {checked} pruned models exact" + (f"; {'; '.join(bad[:3])}" if bad else ""),
        )
    )
    norms = [
        abs(float(np.linalg.norm(layer)) - 1.0)
        for rk in m.ranks
        for sc in rk.importance_scores.values()
        for layer in sc
        if np.linalg.norm(layer) > 0
    ]
    worst = max(norms, default=math.inf)
    out.append(
        decision(
            "M1.importance_normalized",
            bool(norms) and worst <= NORM_TOL,
            f"{len(norms)} layer norms over {len(m.ranks)} originals and {len(m.time_maps)} time maps, "
            f"largest |norm - 1| = {worst:.1e} (tolerance {NORM_TOL:g})",
        )
    )
    checks = [
        (rk.seed_index, tm, *_least_important(rk.importance_scores[tm], rk.removed[tm]))
        for rk in m.ranks
        for tm in rk.importance_scores
    ]
    ok = bool(checks) and all(c[2] for c in checks)
    worst_c = max(checks, key=lambda c: c[3] - c[4]) if checks else None
    out.append(
        decision(
            "M1.least_important_removed",
            ok,
            f"{sum(c[2] for c in checks)} of {len(checks)} (original, time map) pairs; tightest: seed "
            f"{worst_c[0]}, {worst_c[1]}: largest removed I(h) {worst_c[3]:.4g} <= smallest kept "
            f"{worst_c[4]:.4g}"
            if worst_c
            else "no importance scores",
        )
    )
    ranks = _ranks(m)
    if not ranks:
        out.append(decision("M1.rationale_small_t", "inconclusive", "no rank runs"))
        return out
    R = len(m.ranks[0].random)
    rt = rank_test(ranks, R, cfg.alpha, RANK_Q)
    outcome = "pass" if rt["p_low"] < cfg.alpha else "fail" if rt["p_high"] < cfg.alpha else "inconclusive"
    per = "; ".join(
        f"seed {rk.seed_index}: importance {rk.importance[m.time_map]:.4g}, rank {r} of {R} random "
        f"(median {np.median(rk.random):.4g})"
        for rk, r in zip(m.ranks, ranks)
    )
    detail = (
        f"{per}; sum of ranks S = {rt['S']} over {rt['K']} original(s): P0(S <= s) = {rt['p_low']:.3g}, "
        f"P0(S >= s) = {rt['p_high']:.3g}; level {cfg.alpha:g}; power at the 5% quantile {rt['power']:.2f}"
    )
    test = {
        "rule": "exact rank test",
        "estimate": float(np.mean(ranks) / R),
        "p": rt["p_low"],
        "alpha": cfg.alpha,
        "effect": RANK_Q,
        "effect_source": "this project's smallest effect of interest (importance at the 5% "
        "quantile of the random losses); the paper gives no number",
        "power": rt["power"],
        "ranks": ranks,
        "R": R,
    }
    out.append(decision("M1.rationale_small_t", outcome, detail, test))
    return out


def report(ctx: Context, cfg, m: PruningMeasurements, f: Findings) -> tuple[str, str]:
    s = cfg.setting
    rows = []
    for rk in m.ranks:
        r = np.asarray(rk.random)
        rows.append(
            [
                rk.seed_index,
                rk.original,
                *[rk.importance.get(tm) for tm in m.time_maps],
                len(r),
                float(r.min()),
                float(np.median(r)),
                float(r.max()),
                int(np.sum(r < rk.importance.get(m.time_map, np.inf))),
            ]
        )
    f.table(
        f"Small-t DSM loss right after pruning eta = {m.eta:g} (before fine-tuning)",
        [
            "original",
            "unpruned",
            *[f"importance ({tm})" for tm in m.time_maps],
            "random draws",
            "random min",
            "random median",
            "random max",
            f"random draws below importance ({m.time_map})",
        ],
        rows,
        note=f"Loss on the training images at t log-uniform on {s.small_t}, fixed draws. The rank test uses the "
        f"setting's time map ({m.time_map}); the other maps are shown for comparison (M2 has their outcomes).",
    )
    conv = [
        [
            o.seed_index,
            o.train_steps,
            o.losses[-1][1] if o.losses else None,
            o.plateau.get("from_step"),
            f"{100 * o.plateau.get('rate', float('nan')):.2f} +- {100 * o.plateau.get('rate_se', float('nan')):.2f}",
            "yes" if o.plateau.get("converged") else "no",
            o.train_seconds,
        ]
        for o in m.originals
    ]
    f.table(
        "Original models: training and the plateau criterion",
        [
            "original",
            "steps",
            "final loss (window mean)",
            "fit from step",
            "decrease, % per 1,000 steps",
            f"converged (< {100 * s.plateau_tol:g}%)",
            "seconds",
        ],
        conv,
        note=f"Criterion (pre-registered, empirical.prune_experiment.plateau): over the last "
        f"{100 * s.plateau_window:.0f}% of the steps the log training loss falls by less than "
        f"{100 * s.plateau_tol:g}% per 1,000 steps (least-squares slope of the logged window means). Learning "
        f"rate {s.train.lr:g}"
        + (f", cosine decay to {s.train.lr_final:g}" if s.train.lr_final else ", constant")
        + " after the warm-up.",
    )
    _curve(ctx, f, m)
    f.tolerance("importance norm", NORM_TOL, "float64 rounding of a normalised vector of <= 16 entries (~1e-16)")
    f.tolerance(
        "rank test level", cfg.alpha, "one-sided, exact (sum of uniform ranks); the only statistical rule of M1"
    )
    note = provisional_note(m)
    if note:
        f.note(note)
    f.note(stage_note(m))
    if any(a.outcome != "pass" for a in f.assertions):
        f.note(f"Paper's scale: `{FULL_COMMAND}`.")
    f.add_seeds({"experiment": m.experiment_seed, "originals": m.seeds})
    ranks = _ranks(m)
    R = len(m.ranks[0].random) if m.ranks else 0
    headline = (
        f"{s.preset} on {s.n} {s.dataset}, {m.seeds} original(s): importance pruning ({m.time_map} map) at eta = "
        f"{m.eta:g} leaves a small-t loss below {', '.join(str(r) for r in ranks)} of {R} random prunings; "
        f"surgery exact"
    )
    method = (
        f"empirical.prune_experiment: {s.preset} trained {s.train.steps} steps on n = {s.n} {s.dataset} images "
        f"per original; Algorithm 2 with {s.importance_batches} batches of {s.importance_batch}, time law "
        f"Beta(0.8, 2) under the {m.time_map} map (also {', '.join(m.time_maps[1:])}); physical head removal; "
        f"{R} random prunings per original as the reference."
    )
    return headline, method


def _curve(ctx, f, m: PruningMeasurements) -> None:
    if not m.originals:
        return
    with f.figure(ctx, "training", 1, (6.5, 4)) as ax:
        for o in m.originals:
            st = [v[0] for v in o.losses]
            ax.plot(
                st,
                [v[1] for v in o.losses],
                lw=1,
                label=f"original {o.seed_index} ({'plateau' if o.plateau.get('converged') else 'not converged'})",
            )
        ax.set(
            yscale="log",
            xlabel="training step",
            ylabel="DSM loss (window mean)",
            title="M1: the original models' training",
        )
        ax.legend(fontsize=8)


register(
    "M1",
    title="Importance-based head pruning (Algorithms 1-2): exact surgery, least-important heads at small t",
    paper_ref="Algorithms 1 and 2 (Section 6)",
    statement="Algorithm 1 prunes the floor(eta H) attention heads with the lowest importance I(h) = S(h) / "
    "sqrt(sum_{h' in layer} S(h')^2), S(h) = sum over batches of |dL/dxi_h| with t drawn from a law "
    "favouring small t (Beta(0.8, 2)), then fine-tunes; the rationale: heads that matter least at "
    "small t carry the memorizing capacity.",
    inferred="The map of Beta(0.8, 2) on [0, 1] onto diffusion time: the DiT code base's 1,000-step DDPM "
    "schedule (step floor(1000 u), t = -log alpha_bar), with the log and linear maps compared; the "
    "small-t range of the loss diagnostic [1e-3, 0.1]; physical head removal.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
