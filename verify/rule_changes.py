"""Decision rules changed after results were seen: the log REPORT.md shows in its "Rule changes" section.

Pre-registration (CLAIMS.md, generated from the claims' RULES) fixes each rule before the experiment.
When a rule or a setting that decides a verdict is changed AFTER a result was seen, the change is
recorded here with the date, the old rule, the new rule, what was seen that prompted it, and the
verdict under each, so a reader can judge the change. Entries are never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RuleChange", "RULE_CHANGES"]


@dataclass(frozen=True)
class RuleChange:
    date: str  # YYYY-MM-DD, when the change was made
    claim: str
    keys: tuple  # rule keys it concerns (as of today)
    old: str  # the rule before
    new: str  # the rule after
    seen: str  # the result that was seen before the change
    verdict_old: str  # the claim's verdict under the old rule, on that result
    verdict_new: str  # ... and under the new rule
    commit: str = ""  # where the change was made
    why: str = ""  # the argument for the change (and where it is written in the code)


_PROTOCOL = "2026-12-01"  # issue 12: the verdict protocol (measure / decide / report, three outcomes, power)
_SEEN_QUICK = "the committed quick-profile results of 2026-11-30 (run seed 0)"

RULE_CHANGES: tuple[RuleChange, ...] = (
    RuleChange(
        date="2026-11-30",
        claim="S3",
        keys=("S3.omega_floor", "S3.omega_nondecreasing_in_d"),
        commit="b51ff5a",
        old="Theorem 4.3's regime with c6 = 1/4: sigma_t <= d^(-1/4), i.e. t1 = 0.69 at d = 4, 0.19 at d = 32.",
        new="c6 = 1/2: sigma_t <= d^(-1/2), i.e. t1 = 0.29 at d = 4, 0.032 at d = 32 (RegimeConstants.c6).",
        seen="the fuzz campaign over the c6 = 1/4 regime found R = E_D[Loss-Gap_t] / (d / sigma_t^2 + tr Sigma) = "
        "0.003 at d = 10, n = 10^4, t = t1.",
        verdict_old="then: no threshold existed (the check only reported the smallest R). Under today's rules the "
        "c6 = 1/4 corners (computed at quick and shown in S3's section: R = 0.0110 / 0.0073 / 0.0055 / "
        "0.0038 / 0.0027 / 0.0020 at d = 4..9) give NOT CONFIRMED on both S3.omega_floor (every corner "
        "significantly below 0.02) and S3.omega_nondecreasing_in_d (slope -2.09 +- 0.10).",
        verdict_new="the c6 = 1/2 regime is what S3 decides on (see its section for today's verdict).",
        why="the theorem's constant needs the softmax weights to concentrate on the generating sample: the ratio "
        "rho = alpha_t^2 lambda_min(Sigma) d / (sigma_t^2 log n) must be of order one; with c4 = 1, c6 = 1/2, "
        "c7 = 1/4 rho >= 0.75 over the whole regime (d >= 4), with c6 = 1/4 rho went down to 0.25. Asymptotically "
        "(d -> infinity, fixed constants) rho ~ d^(2 c6) grows either way, so both choices are inside the "
        "paper's O(.) conditions; the change picks the finite-d part of the regime where the asymptotics apply, "
        "and the c6 = 1/4 window d = 4..9 has not reached them. Written in theory/bounds.py (RegimeConstants).",
    ),
    RuleChange(
        date="2026-11-30",
        claim="A3",
        keys=("A3.time_conditioned",),
        commit="45690a9",
        old="time-conditioned networks over [t0, T]: the empirical target's error grows with n by a factor at least "
        "2 x the true target's growth factor.",
        new="a W*-style threshold: some width fits the true score to eps at every n, but not the empirical score "
        "at the largest n (the growth factors are still reported).",
        seen="quick run: growth factors x3.1 (empirical) against x2.7 (true): the true target's errors were near "
        "zero (0.006 -> 0.017), so their ratio measured noise, not difficulty.",
        verdict_old="NOT CONFIRMED (that sub-check failed; the other A3 sub-checks passed).",
        verdict_new="CONFIRMED (width 256 fits the true score to <= 0.0093 at every n; the empirical score stays at "
        "0.76 at n = 64).",
        why="a ratio of two near-zero errors is dominated by their noise; the threshold form is the statement of "
        "Theorem 5.1 (a size that suffices for the true score at every n does not suffice for the empirical "
        "score). Written in verify/claims/a3.py.",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="(all)",
        keys=(),
        old="two outcomes: a claim was NOT CONFIRMED as soon as any sub-check did not pass, including statistical "
        "comparisons that were merely not significant, and point comparisons without an error rate.",
        new="three outcomes per rule (pass / fail / inconclusive) and four verdicts: fail needs the data to exclude "
        "the paper's effect (or a significant effect the other way); not significant without that is "
        "inconclusive; every comparison is a test with a stated level, effect, power and minimum detectable "
        "effect (verify/stats.py, CLAIMS.md).",
        seen=f"{_SEEN_QUICK}: 12 CONFIRMED, 3 NOT CONFIRMED (A6, M2, M3); the M2 / M3 tests had about 7% / 21% power "
        "at the paper's Table 1 effect.",
        verdict_old="12 CONFIRMED, 3 NOT CONFIRMED.",
        verdict_new="per claim in the entries below, on the same numbers; today's verdicts are in the summary.",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="S2",
        keys=("S2.not_reverse", "S2.monte_carlo"),
        old="'times cover [1e-3, T]' (read the configuration only: it could not fail on data); Monte Carlo: no case "
        "significantly non-zero.",
        new="S2.not_reverse: Loss-Gap_t differs significantly from the reverse divergence Fisher(P_t, Phat_t) in some "
        "case (the proposition's point that the law is the empirical one), fails if they agree within 10% "
        "everywhere; S2.monte_carlo also asks equivalence within 5% in at least one case per d.",
        seen=f"{_SEEN_QUICK}: S2 CONFIRMED; Loss-Gap and the reverse divergence differ by up to 4 orders of magnitude "
        "at small t.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED (ci and quick)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="S3",
        keys=(
            "S3.decreasing_in_t",
            "S3.grows_with_variance",
            "S3.grows_with_d",
            "S3.not_vanishing_in_n",
            "S3.shrinks_with_n_low_d",
            "S3.omega_floor",
            "S3.omega_nondecreasing_in_d",
        ),
        old="direction steps failed when not significant; the Omega bound was the smallest R of a 200-example "
        "campaign over both component families (committed: 0.14; a fresh clone: 0.38).",
        new="a direction step fails only when the data exclude half the predicted log-change; S3.omega_floor: every "
        "Gaussian configuration (the regime's enumerated corners and the campaign) has R > 0.02; "
        "S3.omega_nondecreasing_in_d (new): the corners' smallest R does not decrease with d (log-log slope). "
        "Uniform boxes, outside Assumption 4.2, are reported apart.",
        seen=f"{_SEEN_QUICK}: S3 CONFIRMED with smallest R 0.14; the explicit corner gives about 0.057 to 0.065.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED expected (corners R = 0.057 .. 0.073 at d = 4..9, slope "
        "0.28 +- 0.04); today's verdict is in S3's section.",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="S4",
        keys=("S4.slope_close_to_d",),
        old="per d, the point |slope / d - 1| <= 0.1 (with a crude quadrature error term, 1.47 at d = 16).",
        new="an equivalence interval: slope / d - 1 +- (z se + the measured quadrature error) inside +-0.1 passes, "
        "outside fails.",
        seen=f"{_SEEN_QUICK}: slope / d = 1.001 / 0.998 / 0.999.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="S5",
        keys=("S5.decreasing_in_t", "S5.far_from_zero"),
        old="a non-significant step failed; 'lower 95% bound of gap / B_t >= 0.1' as a point check.",
        new="a step fails only when the data exclude half the predicted fall; far from zero is a one-sided margin "
        "test against 0.1.",
        seen=f"{_SEEN_QUICK}: 42/42 steps significant, R >= 0.82.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A1",
        keys=("A1.mixture_hessian", "A1.empirical_hessian", "A1.score"),
        old="autograd comparisons failed at any relative error above 1e-8.",
        new="they fail only above 1e-8 plus the measured float64 rounding limit of the comparison at that point, and "
        "are inconclusive in between.",
        seen=f"{_SEEN_QUICK}: worst errors 8e-13 to 4e-12.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A2",
        keys=("A2.lower_bound", "A2.upper_bound", "A2.exponent", "A2.true_bounded", "A2.contrast"),
        old="bounds over a 100-example campaign; exponent: the point |mean + 4| <= 0.2; true score bounded: a fitted "
        "log-log slope within +-0.1 (a Gaussian and a mixture with unequal covariances).",
        new="bounds over the campaign AND enumerated corners (exact C_t on two-point sets), a shortfall inconclusive "
        "where C_t is unknown; exponent: equivalence to -4 within 0.2 (t-interval over data sets); true score: "
        "below a t-free bound from Lemma C.1 for a shared-covariance mixture, and the empirical score above 100x "
        "that bound.",
        seen=f"{_SEEN_QUICK}: the true-score slope was -0.093 against the 0.1 tolerance (a constant still approaching "
        "its limit); with unequal covariances the mixture Hessian is unbounded in x at every t.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A3",
        keys=(
            "A3.empirical_slope",
            "A3.slopes_differ",
            "A3.true_bounded",
            "A3.sigma_sensitivity",
            "A3.time_conditioned",
        ),
        old="bootstrap CIs (at most 10 distinct resamples with 3 replicates) and point thresholds: slope CI above 0 "
        "with the point slope in [0.5, 1.5]; slope CIs disjoint.",
        new="one-sided t-tests over replicates (alpha = 0.05 per rule) with the same thresholds, a range boundary as a "
        "failure condition; the bootstrap CIs are reported.",
        seen=f"{_SEEN_QUICK}: slopes 0.92 (empirical) and 0.27 (true); every sub-check passed.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED (on the same fits)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A4",
        keys=("A4.width_tracks_distinct",),
        old="bootstrap CI of r below 0.5.",
        new="one-sided t-test of r < 0.5 over replicates (Bonferroni over m).",
        seen=f"{_SEEN_QUICK}: r = -0.12 and -0.05.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A5",
        keys=(
            "A5.smallest_not_memorizing",
            "A5.intermediate_generalizes",
            "A5.memorization_rises",
            "A5.largest_memorizes",
        ),
        old="'not memorizing beyond chance' meant Wilson intervals overlapping the null rate's; rises / memorizes: "
        "disjoint Wilson intervals.",
        new="not memorizing: non-inferiority, the excess over the null rate is below 5 points (one-sided); rises / "
        "memorizes: one-sided Agresti-Caffo tests with a 5-point effect.",
        seen=f"{_SEEN_QUICK}: width 8 memorized 11.1% against a null rate of 11.3%, but 512 samples bound the excess "
        "only below +5.6 points (minimum detectable effect 7.5).",
        verdict_old="CONFIRMED",
        verdict_new="INCONCLUSIVE on A5.intermediate_generalizes (the other rules pass)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="A6",
        keys=(
            "A6.a_rises_with_size",
            "A6.a_falls_with_n",
            "A6.a_falls_with_d",
            "A6.b_weight_decay_helps_both",
            "A6.b_strong_decay_hurts_at_large_n",
        ),
        old="disjoint Wilson intervals; fewer than 2 n where the largest network memorizes was a FAIL.",
        new="one-sided Agresti-Caffo tests (5-point effect) and likelihood z-tests (1-nat effect); too few informative "
        "n is INCONCLUSIVE.",
        seen=f"{_SEEN_QUICK}: the weight-decay sub-check failed (wd 0.03: memorization 43% -> 34%, log-likelihood "
        "-5.7 nats).",
        verdict_old="NOT CONFIRMED (A6.b_weight_decay_helps_both)",
        verdict_new="NOT CONFIRMED on the same key (the documented disagreement); the other rules pass",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="M1",
        keys=("M1.rationale_small_t", "M1.least_important_removed"),
        old="importance pruning's small-t loss below the mean of the random prunings' (a point comparison).",
        new="a one-sided t-test of log L_random - log L_importance with effect log 2, the random prunings' spread as "
        "the error; M1.least_important_removed (new, exact).",
        seen=f"{_SEEN_QUICK}: importance 17.19 against random 17.13, 20.53, 45.09 (one outlier decides the mean).",
        verdict_old="CONFIRMED",
        verdict_new="INCONCLUSIVE (0.38 +- 1.06, power 0.16)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="M2",
        keys=(
            "M2.importance_lowers_memorization",
            "M2.random_lowers_memorization",
            "M2.importance_better_fd",
            "M2.importance_better_recall",
        ),
        old="memorization: disjoint 95% Wilson intervals (about 7% power at Table 1's 5.24-point drop); FD and recall: "
        "point comparisons with the random prunings' mean.",
        new="one-sided tests at level 0.05 with Table 1's effects (5.24 / 6.95 points; FD -12.1%, recall +33% in "
        "relative terms), the random arm counted over its shared noises plus the draws' spread.",
        seen=f"{_SEEN_QUICK}: 67.6% original, 64.8% importance, 66.3% random; FD 482 vs 519 +- 29; recall 0.314 vs "
        "0.326.",
        verdict_old="NOT CONFIRMED",
        verdict_new="INCONCLUSIVE (every rule: power 0.28 to 0.36)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="M3",
        keys=("M3.same_noise_paired",),
        old="McNemar's exact one-sided test at level 0.01 (about 21% power at the paper's effect).",
        new="the paired difference (b - c) / n, one-sided at level 0.05 with Table 1's 5.24-point effect (the exact "
        "McNemar p is reported).",
        seen=f"{_SEEN_QUICK}: only original 36, only pruned 29 of 256 pairs (p = 0.23).",
        verdict_old="NOT CONFIRMED",
        verdict_new="INCONCLUSIVE (upper bound 7.9 points, power 0.51)",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="M4",
        keys=("M4.trend_after_finetune",),
        old="disjoint Wilson intervals (at the largest eta).",
        new="a one-sided test at level 0.05 with the 5.24-point "
        "effect (at the largest eta; replaced again by the slope rules on 2026-12-01, issue 13, below).",
        seen=f"{_SEEN_QUICK}: 67.6% -> 28.1% at eta = 0.5.",
        verdict_old="CONFIRMED",
        verdict_new="CONFIRMED",
    ),
    RuleChange(
        date=_PROTOCOL,
        claim="M1-M4",
        keys=(
            "M1.rationale_small_t",
            "M2.importance_lowers_memorization",
            "M2.random_lowers_memorization",
            "M2.importance_vs_control",
            "M2.random_vs_control",
            "M2.importance_better_fd",
            "M2.importance_better_recall",
            "M3.same_noise_paired",
            "M3.similar_quality",
            "M4.trend_after_finetune",
            "M4.trend_before_finetune",
        ),
        old="(issue 12) one original model trained 6,000 steps at a constant learning rate, 256 samples, no control "
        "arm; memorization compared unpaired (M2) or paired (M3) at level 0.05; M1's rationale a t-test against 3 "
        "random prunings; M4 one end point; Algorithm 2's time on the log map.",
        new="(issue 13) the standard profile decides: 3 originals trained 12,000 steps with a cosine decay to 1e-4 "
        "and a stated plateau criterion; a control arm (the same fine-tuning, nothing pruned) and the comparisons "
        "with it (M2.importance_vs_control, M2.random_vs_control, new); memorization differences paired over "
        "same-noise samples pooled over the originals, each claim's rules at alpha / r (Bonferroni); quality with "
        "the FD extrapolated in 1 / m, compared over originals; M1 an exact rank test against 39 random prunings; "
        "M3.similar_quality (new: FD within 10% of the original's); M4 a slope over eta before and after "
        "fine-tuning; Algorithm 2's time on the DDPM step index (the DiT code base's schedule), log and linear "
        "compared.",
        seen=f"{_SEEN_QUICK} under the issue-12 rules: M1, M2, M3 INCONCLUSIVE (power 0.16 to 0.59 at the paper's "
        "effects), M4 CONFIRMED; the original was still improving (training loss 1.81 at step 4,250, 1.56 at "
        "6,000).",
        verdict_old="M1 INCONCLUSIVE, M2 INCONCLUSIVE, M3 INCONCLUSIVE, M4 CONFIRMED (quick, one original).",
        verdict_new="decided on the new experiment: see the M1-M4 sections (profile standard) and the quick replicate.",
        why="issue 13: the old experiment could not carry a verdict (power, no control for fine-tuning, one original); "
        "the time map follows the code base the paper's DiTs come from. The rules were written before the new "
        "experiment ran.",
    ),
    RuleChange(
        date="2026-12-01",
        claim="A4-A6",
        keys=(
            "A4.duplicates_memorized_more",
            "A5.intermediate_generalizes",
            "A6.b_weight_decay_helps_both",
            "A6.b_weight_decay_helps_both_samples",
            "A6.b_strong_decay_hurts_at_large_n",
            "A6.b_strong_decay_hurts_at_large_n_samples",
        ),
        old="(issue 12) A4 checked the score identity and the width W* only; A5's generalizing stage asked an "
        "intermediate width to fit better than the smallest (mean log p_data(x_gen)) without memorizing beyond the "
        "null rate; A6's weight-decay rules read the likelihood as mean log p_data(x_gen) only; one training seed "
        "per A6 cell, likelihood se from the samples only.",
        new="(issue 14) A4.duplicates_memorized_more (new): duplicated points are copied more often per point than "
        "single ones (log rate ratio, effect 2); A5.intermediate_generalizes: some intermediate width fits like the "
        "truth (the model's held-out ELBO within 0.5 nat of log P_t0) and memorizes at the null rate, with widths "
        "12, 24 and 32 added to quick; A6.b_weight_decay_helps_both and A6.b_strong_decay_hurts_at_large_n now read "
        "the likelihood as the model's own likelihood of held-out draws (the ELBO), and the old readings continue "
        "as *_samples; 2 training seeds per A6 cell in quick, likelihood se the larger of the between-seed and the "
        "within-model se.",
        seen=f"{_SEEN_QUICK.replace('2026-11-30', '2026-12-01')} (commit 068a6ea): A4 CONFIRMED, A5 INCONCLUSIVE "
        "(width 8 memorized 11.1% against a null rate of 11.3%), A6 NOT CONFIRMED (the samples-reading weight-decay "
        "rule). While building the new experiment (before the rules were written): pilot duplicate ratios of about 14 "
        "at factor 8 (A4, used to choose the network); held-out ELBOs of single A6 quick-size models at d = 32, "
        "n = 64 (mlp-24k -449, mlp-400k -339 without and -372 with weight decay 0.03; truth -47.5) and one run of "
        "A5 / A6 at the ci size with the new rules (A5.intermediate_generalizes fail: deficit 3.3 nats at width "
        "16; A6.b_weight_decay_helps_both inconclusive, A6.b_strong_decay_hurts_at_large_n fail: strong decay "
        "raised the held-out ELBO at n = 64).",
        verdict_old="A4 CONFIRMED, A5 INCONCLUSIVE, A6 NOT CONFIRMED (quick, commit 068a6ea).",
        verdict_new="decided on the new measurements: see the A4-A6 sections.",
        why="issue 14: A4 claimed more than it measured; A5's stage needs a width that fits like fresh draws; the "
        "model's likelihood of held-out data is what diffusion papers report as likelihood, and the only one "
        "memorization lowers. The ODE likelihood is reported as a cross-check (its forward paths diverge on "
        "trained networks, empirical/likelihood.py).",
    ),
    RuleChange(
        date="2026-12-02",
        claim="A5-A6",
        keys=(
            "A5.memorization_rises",
            "A5.smallest_not_memorizing",
            "A5.intermediate_generalizes",
            "A5.largest_memorizes",
            "A6.a_rises_with_size",
            "A6.a_falls_with_n",
            "A6.a_falls_with_d",
            "A6.b_weight_decay_helps_both",
            "A6.b_weight_decay_helps_both_samples",
        ),
        old="memorization counts pooled over the replicates and compared by the Agresti-Caffo z-test with the binomial "
        "se of the pooled counts (the spread between replicates shown per cell, not used).",
        new="the same test with each arm's se the larger of its binomial se and the between-replicate se of its rate "
        "(sd of the replicates' rates / sqrt(R)); with one replicate nothing changes.",
        seen="the committed quick results (A5 at cb2535c, run seeds 0-2; A6 at 685a7ac) and the ci replicates of A6.",
        verdict_old="A5: INCONCLUSIVE (seeds 0, 1), NOT CONFIRMED (seed 2); A6: NOT CONFIRMED (quick; ci seeds 0-2).",
        verdict_new="the same verdicts and the same outcome of every rule, re-decided on the same stored model results "
        "with the new se (A6's ci profile has one replicate per cell, so its tests are unchanged).",
        why="issue 14 asks for intervals that include the between-seed spread: the replicates differ in mixture, data "
        "set and training seed, so pooled counts understate the variance when models differ. Arms are treated as "
        "independent, which is conservative where cells share a replicate's data. Written in "
        "verify/claims/_mixtures.py.",
    ),
)
