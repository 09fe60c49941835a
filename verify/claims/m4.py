"""M4: the pruning-ratio sweep (the paper's appendix varies eta; its numbers are not available).

Measured on the shared pruning experiment: importance pruning at every eta of the sweep (eta = 0 is the
original), right after pruning and after the primary M fine-tuning steps; memorization and FD against
eta, as a table and a figure.

Rules (each at one-sided level alpha / 2): the memorization ratio falls with eta, as a weighted
least-squares slope over eta in {0} + sweep, the ratios pooled over the originals (weights 1 / var with
the binomial variance p (1 - p) / (K n) of each point):

    trend_after_finetune    -slope > 0 after M fine-tuning steps
    trend_before_finetune   -slope > 0 right after pruning

The appendix gives no numbers; the effect looked for is Table 1's importance drop spread over its ratio,
5.24 points / 0.2 = 26.2 points per unit eta (a straight line through the original and Table 1's point).
Fail if the one-sided upper bound of -slope is below it. The points share their noises, so the binomial
variances ignore a positive correlation between them: the slope's se is conservative.
"""

from __future__ import annotations

import numpy as np

from ..registry import Context, Findings, decision, register
from ..stats import directional_rule
from ._pruning import (
    CONFIGS,
    DROP,
    FULL_COMMAND,
    TABLE1_SOURCE,
    PruningMeasurements,
    family_alpha,
    measure,
    provisional_note,
    stage_note,
)

SLOPE_EFFECT = DROP["importance"] / 0.2  # 0.262 per unit eta
EFFECT_SOURCE = f"{TABLE1_SOURCE}: the importance drop (5.24 points) at eta = 0.2, as a slope through the original"
STATISTICAL = 2

RULES = {
    "M4.trend_after_finetune": "memorization falls with eta after the primary fine-tuning: minus the weighted least-"
    "squares slope of the memorization ratio against eta (eta = 0, the original, and every "
    "eta of the sweep; ratios pooled over the originals, binomial variances) > 0 at "
    "one-sided level 0.05 / 2; effect 26.2 points per unit eta (Table 1's 5.24 points at "
    "eta = 0.2); fail if the upper bound is below it",
    "M4.trend_before_finetune": "the same slope right after pruning (no fine-tuning), same level and effect",
}


def points(m: PruningMeasurements, length: int) -> list[tuple[float, float, float, int]]:
    """[(eta, pooled ratio, its binomial variance, models)] for eta = 0 and the sweep, importance pruning."""
    out = []
    orig = m.pick("original")
    if orig:
        k, n = sum(e.memorized for e in orig), sum(e.m for e in orig)
        out.append((0.0, k / n, max(k / n * (1 - k / n), 0.25 / n) / n, len(orig)))
    for eta in m.etas:
        ev = m.pick("importance", eta=eta, length=length)
        if ev:
            k, n = sum(e.memorized for e in ev), sum(e.m for e in ev)
            out.append((eta, k / n, max(k / n * (1 - k / n), 0.25 / n) / n, len(ev)))
    return out


def wls_slope(pts) -> tuple[float, float]:
    """(slope, its se) of ratio = a + b eta by weighted least squares with known variances."""
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    w = 1.0 / np.array([p[2] for p in pts])
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    b = float(np.sum(w * (x - xm) * y) / sxx)
    return b, float(np.sqrt(1.0 / sxx))


def _trend(m: PruningMeasurements, length: int, alpha: float) -> tuple[str, str, dict | None]:
    pts = points(m, length)
    if len(pts) < 3:
        return "inconclusive", f"only {len(pts)} etas measured", None
    b, se = wls_slope(pts)
    outcome, test = directional_rule(
        -b, se, SLOPE_EFFECT, alpha, effect_source=EFFECT_SOURCE, what="minus the slope of memorization against eta"
    )
    detail = (
        ", ".join(f"eta {e:g}: {100 * p:.1f}%" for e, p, _, _ in pts)
        + f"; slope {100 * b:.1f} +- {100 * se:.1f} points per unit eta; one-sided level {alpha:.4g}, power at "
        f"{100 * SLOPE_EFFECT:.1f} points per unit eta {test['power']:.2f}"
    )
    return outcome, detail, test


def decide(m: PruningMeasurements, cfg) -> list:
    a = family_alpha(cfg, STATISTICAL)
    return [
        decision("M4.trend_after_finetune", *_trend(m, m.primary_length, a)),
        decision("M4.trend_before_finetune", *_trend(m, 0, a)),
    ]


def _fd(m: PruningMeasurements, eta: float, length: int) -> tuple[float, float, int]:
    """(mean, se, K) of the classifier-feature FD (FD_inf where extrapolated) at one eta: averaged over the models of
    each original, then over the K originals; se = sd over originals / sqrt(K) (nan for one original), so it
    carries the sampling noise of the FD estimate and the model-to-model spread alike."""
    ev = m.pick("original") if eta == 0 else m.pick("importance", eta=eta, length=length)
    per: dict[int, list[float]] = {}
    for e in ev:
        per.setdefault(e.seed_index, []).append(
            e.fd_inf_classifier if e.fd_inf_classifier is not None else e.fd_classifier
        )
    vals = np.array([np.mean(v) for v in per.values()])
    se = float(np.std(vals, ddof=1) / np.sqrt(len(vals))) if len(vals) >= 2 else float("nan")
    return float(vals.mean()), se, len(vals)


def report(ctx: Context, cfg, m: PruningMeasurements, f: Findings) -> tuple[str, str]:
    rows = []
    for length in (0, m.primary_length):
        for eta, p, var, K in points(m, length):
            fd, fd_se, _ = _fd(m, eta, length)
            rows.append(
                [
                    length,
                    eta,
                    f"{100 * p:.1f}",
                    f"{100 * np.sqrt(var):.1f}",
                    K,
                    fd,
                    fd_se,
                    np.mean(
                        [
                            e.small_t_loss
                            for e in (m.pick("original") if eta == 0 else m.pick("importance", eta=eta, length=length))
                        ]
                    ),
                ]
            )
    f.table(
        "Importance pruning against eta (eta = 0: the original)",
        [
            "fine-tuning steps",
            "eta",
            "memorization %",
            "se (points)",
            "originals",
            "FD (clf)",
            "FD se (originals)",
            "small-t loss",
        ],
        rows,
    )
    with f.figure(ctx, "sweep", 2, (10, 4)) as ax:
        for length, style in ((0, "s--"), (m.primary_length, "o-")):
            pts = points(m, length)
            ax[0].errorbar(
                [p[0] for p in pts],
                [100 * p[1] for p in pts],
                yerr=[196 * np.sqrt(p[2]) for p in pts],
                fmt=style,
                label=f"after {length} fine-tuning steps",
            )
            fds = [_fd(m, p[0], length) for p in pts]
            ax[1].errorbar(
                [p[0] for p in pts],
                [v for v, _, _ in fds],
                yerr=[1.96 * se if se == se else 0.0 for _, se, _ in fds],
                fmt=style,
                label=f"after {length} steps",
            )
        ax[0].set(
            xlabel="eta (fraction of heads removed)",
            ylabel="memorization % (95% CI)",
            title="M4: memorization against eta",
        )
        ax[1].set(
            xlabel="eta",
            ylabel="FD (classifier features; 95% CI over originals)",
            title="quality cost",
        )
        ax[0].legend(fontsize=8)
        ax[1].legend(fontsize=8)
    note = provisional_note(m)
    if note:
        f.note(note)
    f.note(stage_note(m))
    if any(a.outcome != "pass" for a in f.assertions):
        f.note(f"Paper's scale: `{FULL_COMMAND}`.")
    f.add_seeds({"experiment": m.experiment_seed})
    after = points(m, m.primary_length)
    b, se = wls_slope(after) if len(after) >= 2 else (float("nan"), float("nan"))
    headline = (
        "importance pruning: memorization "
        + ", ".join(f"{100 * p:.0f}% at eta = {e:g}" for e, p, _, _ in after)
        + f" (slope {100 * b:.0f} +- {100 * se:.0f} points per unit eta after {m.primary_length} steps)"
    )
    return (
        headline,
        "Weighted least-squares slope of the pooled memorization ratio against eta, before and after fine-tuning.",
    )


register(
    "M4",
    title="Pruning-ratio sweep: memorization falls with eta",
    paper_ref="Appendix (pruning ratio)",
    statement="The paper's appendix varies the pruning ratio eta (its numbers are not available): more pruning, "
    "less memorization, at a cost in quality.",
    inferred="The appendix's numbers are not available: this project tests the trend as a slope, with Table 1's "
    "drop at eta = 0.2 as the slope looked for, before and after fine-tuning.",
    configs=CONFIGS,
    rules=RULES,
    measure=measure,
    decide=decide,
    report=report,
)
