"""Shared machinery of A5 and A6 (Figures 2 and 3): memorization counts and mean log-likelihoods of
diffusion models trained on Gaussian mixtures, compared by one-sided tests with stated error rates
(``verify.stats.directional_rule``).

Memorization. A model memorizes k of its m samples (the 1/3 rule of ``empirical.metrics``). Two rates
are compared by their difference with the Agresti-Caffo adjustment (one success and one failure added
to each arm, Agresti & Caffo 2000):

    p~_i = (k_i + 1) / (m_i + 2),   theta_hat = p~_1 - p~_2,
    se = sqrt(p~_1 (1 - p~_1) / (m_1 + 2) + p~_2 (1 - p~_2) / (m_2 + 2))     (two_proportions on the adjusted counts)

so that a 0 / m count (common here: no sample memorized, and the null rate is 0 in d = 32) does not
give se = 0 and a spuriously exact test. A cell's count is pooled over its R replicates (each with its own
mixture, data set, training and sampler seeds), so its rate varies between replicates more than a binomial
count does when the replicates differ; each arm's se is therefore the larger of the binomial one above and
the between-replicate standard error of the mean rate,

    se_i = max( sqrt(p~_i (1 - p~_i) / (m_i + 2)),  sd(p_i1, ..., p_iR) / sqrt(R) )      (``Rate``, R >= 2)

and the difference's se is sqrt(se_1^2 + se_2^2); with one replicate it is the binomial se alone. The
same max rule gives the se of a mean log-likelihood over replicates (``rep_mean``). The samples of
different models at one (d, n) share their per-sample noise (and, within a replicate, the data set) and
the null draws are independent of them; the unpaired se ignores the pairing, which makes it conservative
(larger than the paired one) when the paired outcomes correlate positively.

Three rules are built on it:

  * ``rises``: theta = p_1 - p_2 > 0 with the smallest effect of interest MEM_EFFECT (directional rule:
    pass = significant, fail = the one-sided upper bound excludes MEM_EFFECT);
  * ``near_null``: "does not memorize beyond chance", a non-inferiority test against the NULL rate p_0
    (m fresh draws from P_t0 scored by the same rule: what a perfect generalizer shows). The claim is
    theta = p - p_0 < MEM_EFFECT; the directional rule is applied to MEM_EFFECT - theta_hat with effect
    MEM_EFFECT, so
        pass  <=>  theta_hat + z_a se <= MEM_EFFECT   (the excess over the null is shown below 5 points),
        fail  <=>  theta_hat - z_a se > 0, and no pass  (memorization significantly above the null rate),
    so a wrong fail has probability <= alpha when theta <= 0 (memorization at the null rate or below),
    a wrong pass probability <= alpha when theta >= MEM_EFFECT, and the power is the chance of a pass
    when theta = 0;
  * ``loglik_gain``: theta = mean log p(x_a) - mean log p(x_b) > 0 with the smallest effect LOGLIK_EFFECT,
    se = sqrt(se_a^2 + se_b^2) from the standard errors of the means over the samples.

A rule made of several tests combines them by ``all_of`` (fail if any fails, pass if all pass) or
``any_of`` (pass if any passes, fail if all fail) and divides its false-failure rate alpha between
its tests (Bonferroni), so each rule wrongly fails with probability at most alpha.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from memsep.empirical.metrics import wilson_interval

from ..stats import directional_rule

__all__ = [
    "MEM_EFFECT",
    "MEM_EFFECT_SOURCE",
    "LOGLIK_EFFECT",
    "LOGLIK_EFFECT_SOURCE",
    "Test",
    "Rate",
    "between_se",
    "rises",
    "near_null",
    "loglik_gain",
    "all_of",
    "any_of",
    "combine",
    "pooled_counts",
    "null_counts",
    "pooled_rate",
    "null_rate",
    "rep_mean",
    "nanmean",
    "plateau_summary",
    "fmt_plateau",
    "thin_curve",
    "loss_refs",
    "progress",
    "grid_figure",
    "loss_figure",
    "fmt_rate",
    "tests_table",
]

# Smallest effects of interest (the paper gives no number for Figures 2 and 3).
MEM_EFFECT = 0.05
MEM_EFFECT_SOURCE = (
    "smallest effect of interest (Figures 2-3 give no number): 5 percentage points of memorization, "
    "the size of the paper's own Table 1 effect (73.8% -> 68.6%)"
)
LOGLIK_EFFECT = 1.0
LOGLIK_EFFECT_SOURCE = (
    "smallest effect of interest (Figures 2-3 give no number): 1 nat per sample in mean "
    "log p_data(x_gen), samples e times more or less likely under the true law; well above the "
    "standard error of a fitted model's mean (0.03-2 nats) and far below the gap between failing "
    "and fitted networks (tens to hundreds of nats)"
)


@dataclass
class Test:
    """One test inside a rule: what it compares, its outcome and the directional_rule record."""

    label: str
    outcome: str
    test: dict


class Rate(NamedTuple):
    """A memorization count pooled over replicates: k of m samples, and the between-replicate se of the mean rate
    (0 with one replicate)."""

    k: int
    m: int
    between_se: float = 0.0


def between_se(values) -> float:
    """sd(values, ddof 1) / sqrt(R): the between-replicate standard error of a mean over R >= 2 replicates; 0 for
    fewer."""
    v = np.asarray(list(values), dtype=float)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def _arm(r) -> tuple[float, float]:
    """(p~, se) of one arm: Agresti-Caffo adjusted rate, se the larger of binomial and between-replicate."""
    r = Rate(*r)
    if r.m < 1 or not 0 <= r.k <= r.m:
        raise ValueError(f"k, m: need 0 <= k <= m and m >= 1, got {r.k}/{r.m}")
    p = (r.k + 1) / (r.m + 2)
    return p, max(float(np.sqrt(p * (1 - p) / (r.m + 2))), float(r.between_se))


def _ac(a, b) -> tuple[float, float]:
    """Agresti-Caffo difference (p~1 - p~2, se) of two pooled counts, each (k, m) or a Rate (module doc)."""
    (p1, s1), (p2, s2) = _arm(a), _arm(b)
    return p1 - p2, float(np.hypot(s1, s2))


def rises(label: str, a, b, alpha: float, what: str = "") -> Test:
    """H1: memorization rate a ((k, m) or a Rate) exceeds b's; effect MEM_EFFECT (module doc)."""
    est, se = _ac(a, b)
    out, test = directional_rule(
        est,
        se,
        MEM_EFFECT,
        alpha,
        effect_source=MEM_EFFECT_SOURCE,
        what=what or f"memorization difference (Agresti-Caffo): {label}",
    )
    return Test(label, out, test)


def near_null(label: str, a, null, alpha: float) -> Test:
    """H1: memorization rate a is less than MEM_EFFECT above the null rate (non-inferiority, module doc)."""
    est, se = _ac(a, null)
    out, test = directional_rule(
        MEM_EFFECT - est,
        se,
        MEM_EFFECT,
        alpha,
        effect_source=MEM_EFFECT_SOURCE,
        what=f"margin left: {MEM_EFFECT:g} minus (memorization - null rate) (Agresti-Caffo; {label})",
    )
    return Test(label, out, test)


def loglik_gain(label: str, a: tuple[float, float], b: tuple[float, float], alpha: float) -> Test:
    """H1: mean log-likelihood a = (mean, se) exceeds b's; effect LOGLIK_EFFECT nats (module doc)."""
    est, se = a[0] - b[0], float(np.hypot(a[1], b[1]))
    out, test = directional_rule(
        est,
        se,
        LOGLIK_EFFECT,
        alpha,
        effect_source=LOGLIK_EFFECT_SOURCE,
        what=f"mean log-likelihood difference (nats): {label}",
    )
    return Test(label, out, test)


def all_of(outcomes) -> str:
    """fail if any fails; pass if there is at least one and all pass; else inconclusive."""
    outcomes = list(outcomes)
    if "fail" in outcomes:
        return "fail"
    return "pass" if outcomes and all(o == "pass" for o in outcomes) else "inconclusive"


def any_of(outcomes) -> str:
    """pass if any passes; fail if there is at least one and all fail; else inconclusive."""
    outcomes = list(outcomes)
    if "pass" in outcomes:
        return "pass"
    return "fail" if outcomes and all(o == "fail" for o in outcomes) else "inconclusive"


def combine(outcome: str, tests: list[Test]) -> dict | None:
    """The test record shown with a rule: the first test whose outcome is the rule's (else the first test)."""
    for t in tests:
        if t.outcome == outcome:
            return t.test
    return tests[0].test if tests else None


def pooled_counts(results: list[dict]) -> tuple[int, int]:
    """(memorized, m) of a cell's models pooled over replicates (run_point results)."""
    return int(sum(r["memorized"] for r in results)), int(sum(r["m"] for r in results))


def null_counts(results: list[dict]) -> tuple[int, int]:
    """(memorized, m) of the null draws pooled over replicates: run_point keeps the null's ratio over m fresh draws
    (as many as samples), so the count is ratio x m exactly."""
    return int(sum(round(r["null_memorization"] * r["m"]) for r in results)), int(sum(r["m"] for r in results))


def pooled_rate(results: list[dict]) -> Rate:
    """A cell's memorization (run_point results of its replicates): pooled count and between-replicate se."""
    return Rate(*pooled_counts(results), between_se(r["memorization"] for r in results))


def null_rate(results: list[dict]) -> Rate:
    """The null draws' memorization of a cell's replicates: pooled count and between-replicate se."""
    return Rate(*null_counts(results), between_se(r["null_memorization"] for r in results))


def rep_mean(values: list[float], ses: list[float | None]) -> tuple[float, float]:
    """(mean over replicates, se): se = max(between-replicate se, within se sqrt(sum se_r^2) / R) (module doc)."""
    v = np.asarray(values, dtype=float)
    within = float(np.sqrt(np.sum([(x or 0.0) ** 2 for x in ses])) / v.size)
    return float(v.mean()), max(within, between_se(v))


def nanmean(values) -> float | None:
    """Mean of the values that are not None; None if there are none."""
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def plateau_summary(results: list[dict]) -> dict:
    """The DSM-loss convergence of a cell's replicates (empirical.mixture_diffusion.plateau_record): how many
    plateaued, each one's last relative decrease delta, its steps and how it stopped ("plateau", "cap" or
    "fixed")."""
    recs = [r.get("plateau") or {} for r in results]
    return {
        "replicates": len(recs),
        "reached": int(sum(bool(x.get("reached")) for x in recs)),
        "delta": [x.get("delta") for x in recs],
        "steps": [x.get("steps") for x in recs],
        "stopped": [x.get("stopped") for x in recs],
        "round": recs[0].get("round") if recs else None,
        "tol": recs[0].get("tol") if recs else None,
    }


def fmt_plateau(p: dict) -> str:
    """'2/2 (delta 0.4%, 0.7%; 12000, 14000 steps)' for a table cell."""
    if not p or not p.get("replicates"):
        return ""
    deltas = ", ".join("n/a" if d is None else f"{100 * d:.1f}%" for d in p["delta"])
    steps = ", ".join(str(x) for x in p["steps"])
    return f"{p['reached']}/{p['replicates']} (delta {deltas}; {steps} steps)"


def thin_curve(losses: list, max_points: int = 100) -> list[list[float]]:
    """A loss curve [(step, window mean)] with at most ``max_points`` points: consecutive windows merged in equal
    groups (the mean of their losses, at the group's last step), so that results stay small for long runs."""
    c = np.asarray(losses, dtype=float).reshape(-1, 2)
    g = max(1, -(-c.shape[0] // max_points))  # windows per point, rounded up
    return [[float(c[i : i + g, 0][-1]), float(c[i : i + g, 1].mean())] for i in range(0, c.shape[0], g)]


def loss_refs(results: list[dict]) -> list[tuple[float, float] | None]:
    """(L_true, L_emp) of each replicate (empirical.mixture_diffusion.loss_references), None where not measured."""
    out = []
    for r in results:
        ref = r.get("loss_references")
        out.append((ref["true"]["mean"], ref["empirical"]["mean"]) if ref else None)
    return out


def progress(loss: float, ref: tuple[float, float] | None) -> float | None:
    """u = (L_true - L) / (L_true - L_emp): 0 at the true score's DSM loss on the training rows (a perfect
    generalizer), 1 at the empirical score's (the memorizer, the minimum over all functions); None without refs."""
    if ref is None or not ref[0] > ref[1]:
        return None
    return (ref[0] - loss) / (ref[0] - ref[1])


@contextlib.contextmanager
def grid_figure(path, nrows: int, ncols: int, size: tuple[float, float]):
    """``with grid_figure(path, 2, 2, (12, 9)) as axes:`` an nrows x ncols grid (axes: a 2-D array), saved atomically
    (verify.io.save_figure) and closed on exit; font sizes readable at the width REPORT.md shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import save_figure

    with plt.rc_context({"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 9}):
        fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
        try:
            yield axes
            fig.tight_layout()
            save_figure(fig, path)
        finally:
            plt.close(fig)


def loss_figure(path, panels: list[tuple[str, list[tuple]]]) -> None:
    """The DSM training curves, one panel per (title, lines); a line is (label, curves of the replicates (each
    [(step, window mean loss)]), their (L_true, L_emp) references (``loss_refs``), colour, line style); every
    replicate is drawn, the label once; the references' means as thin horizontal lines in the line's colour
    (dotted: L_true, the generalizer's loss; dash-dot: L_emp, the memorizer's)."""
    with grid_figure(path, 1, len(panels), (6.2 * len(panels), 5.0)) as axes:
        for ax, (title, lines) in zip(axes[0], panels):
            for label, curves, refs, color, ls in lines:
                for i, c in enumerate(curves):
                    if c:
                        st, lo = np.asarray(c, dtype=float).T
                        ax.plot(st, lo, ls, color=color, lw=1.2, label=label if i == 0 else None)
                known = [r for r in refs if r is not None]
                if known:
                    lt, le = np.mean(known, axis=0)
                    ax.axhline(lt, color=color, ls=":", lw=0.7, alpha=0.7)
                    ax.axhline(le, color=color, ls="-.", lw=0.7, alpha=0.7)
            ax.set_yscale("log")
            ax.set_xlabel("optimiser step")
            ax.set_ylabel(r"DSM loss $\mathbb{E}\,\|\epsilon_\theta(x_t, t) - z\|^2$ (window mean)")
            ax.set_title(
                title + "\n" + r"dotted: true score's loss $L_{true}$; dash-dot: empirical optimum $L_{emp}$",
                fontsize=10,
            )
            ax.legend(ncol=2)
            ax.grid(alpha=0.3)


def fmt_rate(k: int, m: int) -> str:
    lo, hi = wilson_interval(k, m)
    return f"{k / m:.3f} ({k}/{m}, 95% Wilson {lo:.3f} to {hi:.3f})"


def tests_table(f, title: str, rule_tests: dict[str, list[Test]]) -> None:
    """Every single test behind the rules, one row each, on Findings ``f``."""
    rows = [
        [
            key,
            t.label,
            t.test["what"],
            t.test["estimate"],
            t.test["se"],
            t.test["z"],
            t.test["alpha"],
            t.test["power"],
            t.outcome,
        ]
        for key, ts in rule_tests.items()
        for t in ts
    ]
    f.table(
        title,
        ["rule", "comparison", "quantity", "estimate", "se", "z", "level (one-sided)", "power at effect", "outcome"],
        rows,
        note=f"Directional one-sided z-tests (verify.stats.directional_rule). Effects looked for: {MEM_EFFECT:g} in "
        f"memorization ({MEM_EFFECT_SOURCE}); {LOGLIK_EFFECT:g} nat in mean log-likelihood. A 'margin left' "
        "row is the non-inferiority test against the null rate (pass: excess below 5 points shown; fail: "
        "significantly above the null rate). A 'memorization decrease' row (A5's consecutive steps) fails "
        "the rule only when the decrease is significant. A 'gate' row (A6) opens a trend test (outcome "
        "'tested') only where the model memorizes significantly beyond the null rate. Levels are Bonferroni "
        "shares of the rule's false-failure rate.",
    )
