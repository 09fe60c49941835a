"""Shared machinery of A5 and A6 (Figures 2 and 3): memorization counts and mean log-likelihoods of
diffusion models trained on Gaussian mixtures, compared by one-sided tests with stated error rates
(``verify.stats.directional_rule``).

Memorization. A model memorizes k of its m samples (the 1/3 rule of ``empirical.metrics``). Two rates
are compared by their difference with the Agresti-Caffo adjustment (one success and one failure added
to each arm, Agresti & Caffo 2000):

    p~_i = (k_i + 1) / (m_i + 2),   theta_hat = p~_1 - p~_2,
    se = sqrt(p~_1 (1 - p~_1) / (m_1 + 2) + p~_2 (1 - p~_2) / (m_2 + 2))     (verify.stats.two_proportions)

so that a 0 / m count (common here: no sample memorized, and the null rate is 0 in d = 32) does not
give se = 0 and a spuriously exact test. The samples of different models at one (d, n) share their
per-sample noise and the null draws are independent of them; the unpaired se ignores the pairing,
which makes it conservative (larger than the paired one) when the paired outcomes correlate positively.

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

from dataclasses import dataclass

import numpy as np

from empirical.metrics import wilson_interval

from ..stats import directional_rule, two_proportions

__all__ = ["MEM_EFFECT", "MEM_EFFECT_SOURCE", "LOGLIK_EFFECT", "LOGLIK_EFFECT_SOURCE", "Test", "rises", "near_null",
           "loglik_gain", "all_of", "any_of", "combine", "pooled_counts", "null_counts", "fmt_rate", "tests_table"]

# Smallest effects of interest (the paper gives no number for Figures 2 and 3).
MEM_EFFECT = 0.05
MEM_EFFECT_SOURCE = ("smallest effect of interest (Figures 2-3 give no number): 5 percentage points of memorization, "
                     "the size of the paper's own Table 1 effect (73.8% -> 68.6%)")
LOGLIK_EFFECT = 1.0
LOGLIK_EFFECT_SOURCE = ("smallest effect of interest (Figures 2-3 give no number): 1 nat per sample in mean "
                        "log p_data(x_gen), samples e times more or less likely under the true law; well above the "
                        "standard error of a fitted model's mean (0.03-2 nats) and far below the gap between failing "
                        "and fitted networks (tens to hundreds of nats)")


@dataclass
class Test:
    """One test inside a rule: what it compares, its outcome and the directional_rule record."""

    label: str
    outcome: str
    test: dict


def _ac(k1: int, m1: int, k2: int, m2: int) -> tuple[float, float]:
    """Agresti-Caffo difference (p~1 - p~2, se) of two binomial counts (module doc)."""
    return two_proportions(int(k1) + 1, int(m1) + 2, int(k2) + 1, int(m2) + 2)


def rises(label: str, a: tuple[int, int], b: tuple[int, int], alpha: float, what: str = "") -> Test:
    """H1: memorization rate a = (k, m) exceeds b's; effect MEM_EFFECT (module doc)."""
    est, se = _ac(*a, *b)
    out, test = directional_rule(est, se, MEM_EFFECT, alpha, effect_source=MEM_EFFECT_SOURCE,
                                 what=what or f"memorization difference (Agresti-Caffo): {label}")
    return Test(label, out, test)


def near_null(label: str, a: tuple[int, int], null: tuple[int, int], alpha: float) -> Test:
    """H1: memorization rate a is less than MEM_EFFECT above the null rate (non-inferiority, module doc)."""
    est, se = _ac(*a, *null)
    out, test = directional_rule(MEM_EFFECT - est, se, MEM_EFFECT, alpha, effect_source=MEM_EFFECT_SOURCE,
                                 what=f"margin left: {MEM_EFFECT:g} minus (memorization - null rate) "
                                      f"(Agresti-Caffo; {label})")
    return Test(label, out, test)


def loglik_gain(label: str, a: tuple[float, float], b: tuple[float, float], alpha: float) -> Test:
    """H1: mean log-likelihood a = (mean, se) exceeds b's; effect LOGLIK_EFFECT nats (module doc)."""
    est, se = a[0] - b[0], float(np.hypot(a[1], b[1]))
    out, test = directional_rule(est, se, LOGLIK_EFFECT, alpha, effect_source=LOGLIK_EFFECT_SOURCE,
                                 what=f"mean log-likelihood difference (nats): {label}")
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


def fmt_rate(k: int, m: int) -> str:
    lo, hi = wilson_interval(k, m)
    return f"{k / m:.3f} ({k}/{m}, 95% Wilson {lo:.3f} to {hi:.3f})"


def tests_table(f, title: str, rule_tests: dict[str, list[Test]]) -> None:
    """Every single test behind the rules, one row each, on Findings ``f``."""
    rows = [[key, t.label, t.test["what"], t.test["estimate"], t.test["se"], t.test["z"], t.test["alpha"],
             t.test["power"], t.outcome] for key, ts in rule_tests.items() for t in ts]
    f.table(title, ["rule", "comparison", "quantity", "estimate", "se", "z", "level (one-sided)", "power at effect",
                    "outcome"], rows,
            note=f"Directional one-sided z-tests (verify.stats.directional_rule). Effects looked for: {MEM_EFFECT:g} in "
                 f"memorization ({MEM_EFFECT_SOURCE}); {LOGLIK_EFFECT:g} nat in mean log-likelihood. A 'margin left' "
                 "row is the non-inferiority test against the null rate (pass: excess below 5 points shown; fail: "
                 "significantly above the null rate). A 'memorization decrease' row (A5's consecutive steps) fails "
                 "the rule only when the decrease is significant. A 'gate' row (A6) opens a trend test (outcome "
                 "'tested') only where the model memorizes significantly beyond the null rate. Levels are Bonferroni "
                 "shares of the rule's false-failure rate.")
