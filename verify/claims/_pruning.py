"""The pruning experiment shared by M1-M4, and the statistics of their decisions.

Experiment: one original DiT per experiment seed, importance and random pruning at eta, and the eta
sweep; every stage a resumable sweep point (empirical.prune_experiment) under
results/sweeps/pruning/<profile>/stages, so whichever of M1-M4 runs first trains the models and the
others read them back. ``models`` turns the stage records into small ``PrunedModel`` measurements
(no samples, no masks).

Decisions (issue 12). Every comparison is a one-sided test (``verify.stats.directional_rule``) for
theta > 0 in the paper's direction at level ``PruningConfig.alpha`` (0.05), with the effect looked for
taken from the paper's Table 1 (CIFAR-10, 5,000-image subset, 20% of the heads pruned, 5 runs):

    memorization    original 73.82 +- 1.12 %, importance pruning 68.58 +- 0.77 %, random pruning 66.87 +- 0.94 %
                    -> drops of 5.24 (importance) and 6.95 (random) percentage points
    FID             importance 15.07, random 17.14  -> importance 12.1% lower, relative to random
    recall          importance 0.12,  random 0.09   -> importance 33.3% higher, relative to random

pass: significant at alpha; fail: the one-sided 1 - alpha upper bound lies below the effect (the data
exclude the paper's effect, which includes a significant effect the other way); else inconclusive.

Two kinds of standard error:

* ``memorization_drop``: a drop in memorization ratio between an arm and the original, from binomial
  counts (``two_proportions``). The R random prunings of one original reuse its n sample seeds, so their
  R n samples are not independent: the arm is counted over its n distinct noises (k = mean ratio x n),
  and the spread between random head draws is added: se^2 = se_binomial^2 + s_draw^2 / R (s_draw: the
  sd of the per-draw ratios; this counts the within-draw sampling noise twice, so it is conservative).
  With several original models (experiment seeds K >= 2) the se is at least sd(d_k) / sqrt(K) x
  t_{K-1} / z (d_k: the drop of seed k), which adds the spread between training runs.
* ``contrast``: a quality number (FD, recall, a loss) of the importance-pruned model against the random
  prunings, random minus importance. One original (K = 1): se = s_R sqrt(1 + 1/R) with s_R the sd of the
  R random prunings (a new draw against R draws: the importance model is assumed to vary as much as one
  random pruning; its own spread is not measured). K >= 2: paired over seeds, se = sd(d_k) / sqrt(K),
  which includes the importance models' own spread. Either way the se has few degrees of freedom
  (df = R - 1 or K - 1), so it is multiplied by t_{df, 1-alpha} / z_{1-alpha}: the z rule then passes
  exactly when the one-sided t test does, and its interval is the t interval (power and minimum
  detectable effect are the normal approximations at that se). R = 1 and K = 1: no error estimate, so
  the rule is inconclusive.

What none of them sees at K = 1: the spread between training runs of the original (the paper's +- over
5 runs). Each statistical rule has false-failure rate <= alpha (at the paper's effect) and
false-pass rate <= alpha (at no effect); a claim with r statistical rules is wrongly NOT CONFIRMED with
probability <= r alpha (Bonferroni bound) and wrongly CONFIRMED with probability <= alpha (all must pass).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from empirical.diffusion import DiffusionConfig
from empirical.prune_experiment import PruneSetting, original_point, pruned_point, run_stage
from empirical.sweep import run_sweep

from ..registry import Context
from ..stats import directional_rule, two_proportions

SWEEP_OWNER = "pruning"


@dataclass(frozen=True)
class PruningConfig:
    setting: PruneSetting = field(default_factory=PruneSetting)
    eta: float = 0.2                                   # Table 1's ratio
    seeds: int = 1                                     # original models (experiment seeds); the paper: 5 runs
    random_reps: int = 3                               # random prunings per original model
    etas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)     # M4 sweep (0 = the original itself)
    alpha: float = 0.05                                # one-sided level of every statistical rule of M1-M4


CONFIGS = {
    "ci": PruningConfig(setting=PruneSetting(preset="dit-mini", n=4,
                                             train=DiffusionConfig(steps=1500, batch=64, lr=2e-3, warmup=50,
                                                                   log_every=100),
                                             finetune=DiffusionConfig(steps=100, batch=64, lr=1e-4, warmup=0,
                                                                      log_every=50),
                                             importance_batches=4, importance_batch=32, n_samples=128,
                                             sample_steps=50, classifier_steps=150),
                        eta=0.25, random_reps=2, etas=(0.25, 0.5)),
    "quick": PruningConfig(),
    "full": PruningConfig(setting=PruneSetting(dataset="cifar10", data_path=None, n=5000, preset="DiT-S/2",
                                               train=DiffusionConfig(steps=400000, batch=128, lr=1e-4, warmup=1000,
                                                                     log_every=1000, grad_clip=1.0),
                                               finetune=DiffusionConfig(steps=20000, batch=128, lr=1e-4, warmup=0,
                                                                        log_every=500, grad_clip=1.0),
                                               importance_batches=100, importance_batch=128, n_samples=10000,
                                               sample_steps=250),
                          seeds=5, random_reps=5, etas=(0.1, 0.2, 0.3, 0.4, 0.5)),
}

FULL_COMMAND = ("memsep run --claims M1,M2,M3,M4 --profile full --device cuda --data /path/to/cifar-10-batches-py")

# ---- the paper's numbers (Table 1: CIFAR-10 5,000-image subset, eta = 0.2, mean +- sd over 5 runs) ----------
TABLE1_SOURCE = "paper Table 1, CIFAR-10, eta = 0.2, 5 runs"
TABLE1_MEMORIZATION = {"original": (73.82, 1.12), "importance": (68.58, 0.77), "random": (66.87, 0.94)}   # %
TABLE1_FID = {"importance": 15.07, "random": 17.14}
TABLE1_RECALL = {"importance": 0.12, "random": 0.09}
DROP = {arm: (TABLE1_MEMORIZATION["original"][0] - TABLE1_MEMORIZATION[arm][0]) / 100
        for arm in ("importance", "random")}                              # 0.0524 and 0.0695 (fractions)
FD_REL = (TABLE1_FID["random"] - TABLE1_FID["importance"]) / TABLE1_FID["random"]                  # 0.1208
RECALL_REL = (TABLE1_RECALL["importance"] - TABLE1_RECALL["random"]) / TABLE1_RECALL["random"]     # 0.3333


# ---- measurements ----------------------------------------------------------------------------------------
@dataclass
class PrunedModel:
    """One model of the experiment (the original: method "original", eta 0), its numbers only."""

    method: str                     # "original", "importance" or "random"
    seed_index: int                 # which original model (experiment seed k)
    eta: float
    draw: int                       # random draw r (0 otherwise)
    heads: list[int]                # heads per layer
    heads_removed: int
    parameters: int
    memorized: int                  # samples the 1/3 rule calls memorized, of m
    m: int
    small_t_loss: float             # DSM loss at small t on the training images (after fine-tuning)
    precision_classifier: float
    recall_classifier: float
    fd_classifier: float
    precision_pixels: float
    recall_pixels: float
    fd_pixels: float
    classifier_accuracy: float
    memorized_before_finetune: int | None = None       # right after pruning, same sample seeds
    small_t_loss_before_finetune: float | None = None

    @property
    def ratio(self) -> float:
        return self.memorized / self.m


@dataclass
class StageRun:
    """What run_experiment computed and read back (for the report's note)."""

    stages: int
    read_back: int
    stage_seconds: float
    train_seconds: float


def model_of(key: tuple, rec: dict) -> PrunedModel:
    r = rec["result"]
    method = key[0]
    return PrunedModel(method=method, seed_index=int(key[1]), eta=float(key[2]) if method != "original" else 0.0,
                       draw=int(key[3]) if method == "random" else 0, heads=[int(h) for h in r["heads"]],
                       heads_removed=int(r.get("heads_removed", 0)), parameters=int(r["parameters"]),
                       memorized=int(r["memorized"]), m=int(r["m"]), small_t_loss=float(r["small_t_loss"]),
                       **{k: float(r[k]) for k in ("precision_classifier", "recall_classifier", "fd_classifier",
                                                   "precision_pixels", "recall_pixels", "fd_pixels",
                                                   "classifier_accuracy")},
                       memorized_before_finetune=(int(r["memorized_before_finetune"])
                                                  if "memorized_before_finetune" in r else None),
                       small_t_loss_before_finetune=(float(r["small_t_loss_before_finetune"])
                                                     if "small_t_loss_before_finetune" in r else None))


def models(res: dict) -> list[PrunedModel]:
    return [model_of(k, v) for k, v in res.items()]


def stage_run(res: dict) -> StageRun:
    return StageRun(stages=len(res), read_back=int(sum(r["reused"] for r in res.values())),
                    stage_seconds=float(sum(r["seconds"] for r in res.values())),
                    train_seconds=float(sum(r["result"]["train_seconds"] for k, r in res.items() if k[0] == "original")))


def pick(ms: list[PrunedModel], method: str, eta: float | None = None) -> list[PrunedModel]:
    """The models of one arm (the original has eta 0), ordered by (seed, draw)."""
    out = [x for x in ms if x.method == method and (eta is None or method == "original" or abs(x.eta - eta) < 1e-12)]
    return sorted(out, key=lambda x: (x.seed_index, x.draw))


def by_seed(ms: list[PrunedModel]) -> dict[int, list[PrunedModel]]:
    out: dict[int, list[PrunedModel]] = defaultdict(list)
    for x in ms:
        out[x.seed_index].append(x)
    return dict(sorted(out.items()))


# ---- the experiment --------------------------------------------------------------------------------------
def run_experiment(ctx: Context, cfg: PruningConfig, *, sweep: bool = False) -> dict:
    """{("original", seed) | ("importance", seed, eta) | ("random", seed, eta, rep): record} (resumable)."""
    s = cfg.setting
    if s.dataset == "cifar10":
        if not (ctx.data_path or s.data_path):
            raise ValueError("data: this profile reads CIFAR-10 from a local cifar-10-batches-py folder; pass --data PATH")
        s = dataclasses.replace(s, data_path=ctx.data_path or s.data_path)
    base = ctx.shared_seed(SWEEP_OWNER)
    folder = ctx.sweep_dir("stages", owner=SWEEP_OWNER)
    jobs = []
    for k in range(cfg.seeds):
        seed = int(base + k) % 2**62
        jobs.append((("original", k), original_point(s, seed)))
        etas = sorted({cfg.eta, *cfg.etas}) if sweep else [cfg.eta]
        for eta in etas:
            jobs.append((("importance", k, eta), pruned_point(s, seed, "importance", eta)))
            for r in range(cfg.random_reps if eta == cfg.eta or not sweep else 1):
                jobs.append((("random", k, eta, r), pruned_point(s, seed, "random", eta, r)))
    out = {}
    for key, point in ctx.progress_bar(jobs, "pruning stages"):
        out[key] = run_sweep([point], lambda p: run_stage(p, folder, ctx.device, ctx.progress), folder)[0]
    return out


def reuse_note(run: StageRun) -> str:
    """How many stages this check computed and how many it read back, with the original's training time."""
    return (f"{run.stages} stages ({run.read_back} read back from results/sweeps/pruning/, computed once for M1-M4); "
            f"they took {run.stage_seconds:.0f} s when computed, of which {run.train_seconds:.0f} s training the "
            "original model(s). The runtime above counts only what this check computed.")


def mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def pooled(ms: list[PrunedModel], before: bool = False) -> dict:
    """Pooled memorization counts of some models: {"ratio", "ci" (95% Wilson), "k", "m"}."""
    from empirical.metrics import wilson_interval

    k = sum((x.memorized_before_finetune if before else x.memorized) for x in ms)
    m = sum(x.m for x in ms)
    return {"ratio": k / m, "ci": wilson_interval(k, m), "k": k, "m": m}


# ---- statistics ------------------------------------------------------------------------------------------
def t_factor(df: int, alpha: float) -> float:
    """t_{df, 1 - alpha} / z_{1 - alpha}: the se multiplier that turns the one-sided z rule into the t test."""
    return float(stats.t.isf(alpha, df) / stats.norm.isf(alpha))


def memorization_drop(orig: list[PrunedModel], arm: list[PrunedModel], alpha: float) -> tuple[float, float, dict]:
    """(drop p_original - p_arm, its se, the parts) for memorization ratios (module doc)."""
    o, a = by_seed(orig), by_seed(arm)
    if not o or set(o) != set(a):
        raise ValueError(f"orig, arm: need models of the same seeds, got {sorted(o)} and {sorted(a)}")
    po = {k: sum(x.memorized for x in v) / sum(x.m for x in v) for k, v in o.items()}
    pa = {k: float(np.mean([x.ratio for x in v])) for k, v in a.items()}
    k_o, m_o = sum(x.memorized for x in orig), sum(x.m for x in orig)
    m_a = sum(v[0].m for v in a.values())                            # distinct noises: n per original model
    k_a = sum(pa[k] * a[k][0].m for k in a)
    est, se_bin = two_proportions(k_o, m_o, min(k_a, m_a), m_a)
    within = [x.ratio - pa[k] for k, v in a.items() for x in v]
    df_w = sum(len(v) - 1 for v in a.values())
    s_draw = float(np.sqrt(np.sum(np.square(within)) / df_w)) if df_w > 0 else 0.0
    se_draw = s_draw * float(np.sqrt(sum(1 / len(v) for v in a.values()))) / len(a)
    se = float(np.hypot(se_bin, se_draw))
    parts = {"k_o": k_o, "m_o": m_o, "k_a": k_a, "m_a": m_a, "se_binomial": se_bin, "s_draw": s_draw,
             "se_draw": se_draw, "draws": len(arm), "seeds": len(a)}
    if len(a) >= 2:
        d = np.array([po[k] - pa[k] for k in a])
        se_seed = float(d.std(ddof=1) / np.sqrt(d.size)) * t_factor(d.size - 1, alpha)
        parts["se_seeds"] = se_seed
        se = max(se, se_seed)
    return float(est), se, parts


def drop_detail(parts: dict, what: str) -> str:
    s = (f"{parts['k_o']}/{parts['m_o']} original against {what} {parts['k_a']:.4g}/{parts['m_a']:.0f}")
    if parts["draws"] > parts["seeds"]:
        s += (f" (mean of {parts['draws']} draws counted over the {parts['m_a']:.0f} distinct noises; spread of the "
              f"draws s_draw = {parts['s_draw']:.3f}, adds {parts['se_draw']:.3f} to the binomial se "
              f"{parts['se_binomial']:.3f} in quadrature)")
    else:
        s += f" (binomial se {parts['se_binomial']:.3f})"
    if "se_seeds" in parts:
        s += f"; spread over {parts['seeds']} original models gives se {parts['se_seeds']:.3f} (t-scaled)"
    return s


def contrast(imp: list[float], rnd: list[list[float]], alpha: float) -> dict | None:
    """Random minus importance for a quality number, with its t-scaled se (module doc); None without a spread.
    ``imp[k]``: the importance model of seed k, ``rnd[k]``: the random prunings of seed k."""
    K = len(imp)
    if K != len(rnd) or K == 0 or any(len(r) == 0 for r in rnd):
        raise ValueError(f"imp, rnd: need one importance value and >= 1 random value per seed, got {imp}, {rnd}")
    if K >= 2:
        d = np.array([np.mean(r) - i for i, r in zip(imp, rnd)])
        est, se_raw, df = float(d.mean()), float(d.std(ddof=1) / np.sqrt(K)), K - 1
        how = (f"paired over {K} original models (sd of the per-model differences, which includes the importance "
               "models' own spread)")
    else:
        r = np.asarray(rnd[0], dtype=np.float64)
        if r.size < 2:
            return None
        est, df = float(r.mean() - imp[0]), r.size - 1
        se_raw = float(r.std(ddof=1) * np.sqrt(1 + 1 / r.size))
        how = (f"1 importance model against the spread of {r.size} random prunings: se = s_R sqrt(1 + 1/R), "
               "assuming the importance model varies as much as one random pruning (its own spread is not measured)")
    tf = t_factor(df, alpha)
    return {"estimate": est, "se": se_raw * tf, "se_unscaled": se_raw, "df": df, "t_factor": tf, "how": how}


def contrast_rule(imp: list[float], rnd: list[list[float]], *, effect: float, alpha: float, source: str, what: str,
                  relative: bool) -> tuple[str, dict | None, str]:
    """(outcome, test, how) of H1: random - importance > 0 (relative to the random prunings' mean when
    ``relative``), at one-sided level alpha with the paper's effect ``effect``."""
    c = contrast(imp, rnd, alpha)
    if c is None:
        return "inconclusive", None, "no error estimate: a single random pruning per original and a single original"
    scale = abs(float(np.mean([v for r in rnd for v in r]))) if relative else 1.0
    if not scale > 0:
        return "inconclusive", None, "the random prunings' mean is 0: no relative difference"
    outcome, test = directional_rule(c["estimate"] / scale, c["se"] / scale, effect, alpha, effect_source=source,
                                     what=what)
    test.update({"df": c["df"], "t_factor": c["t_factor"], "se_unscaled": c["se_unscaled"] / scale,
                 "reference": scale if relative else None})
    return outcome, test, c["how"]
