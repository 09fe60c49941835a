"""The pruning experiment shared by M1-M4 (controlled, powered, replicated), and its statistics.

Experiment (``empirical.prune_experiment``), per original model k = 0..K-1 (experiment seeds: training
data subset, initialisation, batches and sample noise all derive from the seed; this is what varies
between the paper's "runs"):

    original      trained by DSM; its loss curve and the plateau statistic say whether it converged
    control       the original fine-tuned with the arms' fine-tuning (same steps, learning rate, batches),
                  nothing pruned: separates "pruning lowers memorization" from "fine-tuning changes it"
    importance    Algorithm 2 under the setting's time map (default "ddpm"), floor(eta H) heads removed, fine-tuned
    random        R random draws of as many heads, each fine-tuned the same way
    time maps     importance pruning under the other maps ("log", "linear"), fine-tuned (M2's time-map table)
    lengths       control, importance and random draw 0 evaluated after every fine-tuning length M in
                  ``lengths`` (one run, EMA snapshots) on the first ``length_seeds`` originals (the M figure)
    etas          importance pruning at each eta of the M4 sweep
    rank          ``rank_draws`` random prunings' small-t loss right after pruning (M1's reference distribution)

Every model of one original is sampled from the same per-sample noises, so models form same-noise pairs.

Decisions. Each claim's statistical rules are one-sided (``verify.stats.directional_rule``) at level
alpha / r, with r the claim's number of statistical rules (Bonferroni: the claim's family-wise error
rate is at most alpha = 0.05), and look for the paper's effect (Table 1, CIFAR-10, eta = 0.2, 5 runs):

    memorization    original 73.82 +- 1.12 %, importance pruning 68.58 +- 0.77 %, random pruning 66.87 +- 0.94 %
                    -> drops of 5.24 (importance) and 6.95 (random) percentage points
    FID             original 15.47, importance 15.07, random 17.14 -> importance 12.1% lower than random
    recall          original 0.08, importance 0.12, random 0.09 -> importance 33.3% higher than random

Memorization differences are PAIRED (``paired_drop``): for same-noise sample j of original k, d_kj =
m_a(kj) - m_b(kj) with m in {0, 1} (the 1/3 rule), and for the random arm the mean over its R draws;
the estimate is the mean of d over all K n pairs and its standard error sd(d) / sqrt(K n) (pairs pooled
over the originals: a fixed-effect test of these K models; the spread between originals is reported
beside it). Quality differences (FD, recall) are compared over originals (a paired t over the K
per-original differences, K >= 2), or, with one original, against the spread of the R random draws.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from memsep.empirical.diffusion import DiffusionConfig
from memsep.empirical.prune_experiment import PruneSetting, arm_point, original_point, rank_point, run_stage
from memsep.empirical.sweep import run_sweep

from ..registry import Context
from ..stats import POWER_TARGET, directional_rule

SWEEP_OWNER = "pruning"


@dataclass(frozen=True)
class PruningConfig:
    setting: PruneSetting = field(default_factory=PruneSetting)
    eta: float = 0.2  # Table 1's ratio
    seeds: int = 1  # original models (experiment seeds); the paper: 5 runs
    random_reps: int = 3  # random prunings fine-tuned per original (the M2 arm)
    rank_draws: int = 39  # random prunings in M1's reference (exact rank test)
    etas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)  # M4 sweep (0 = the original itself)
    lengths: tuple[int, ...] = (0, 100, 500, 1000)  # fine-tuning lengths M of the length figure
    length_seeds: int = 1  # originals that get the length sweep
    time_maps: tuple[str, ...] = ("ddpm", "log", "linear")  # Algorithm 2's time maps compared (setting's first)
    alpha: float = 0.05  # family-wise level of each claim's statistical rules


_CI_SETTING = PruneSetting(
    preset="dit-mini",
    n=4,
    train=DiffusionConfig(steps=1500, batch=64, lr=2e-3, warmup=50, log_every=100),
    finetune=DiffusionConfig(steps=100, batch=64, lr=1e-4, warmup=0, log_every=50),
    importance_batches=4,
    importance_batch=32,
    n_samples=128,
    sample_steps=50,
    classifier_steps=150,
)
CONFIGS = {
    "ci": PruningConfig(
        setting=_CI_SETTING, eta=0.25, random_reps=2, rank_draws=39, etas=(0.25, 0.5), lengths=(0, 50, 100)
    ),
    # 7 fine-tuned arms (control, importance, 2 random prunings, the log time map, eta 0.1 and 0.5) instead of the
    # defaults' 10 (issue 17: the quick profile under 45 min on 2 cores); the standard profile decides
    "quick": PruningConfig(lengths=(0, 100, 500), random_reps=2, time_maps=("ddpm", "log"), etas=(0.1, 0.2, 0.5)),
    # the committed, decisive profile: 3 originals trained to a plateau, 384 shared-noise samples each
    "standard": PruningConfig(
        setting=dataclasses.replace(
            PruneSetting(),
            n_samples=384,
            train=DiffusionConfig(steps=12000, batch=128, lr=1e-3, warmup=200, log_every=250, lr_final=1e-4),
        ),
        seeds=3,
        lengths=(0, 100, 500, 2000),
        length_seeds=1,
    ),
    "full": PruningConfig(
        setting=PruneSetting(
            dataset="cifar10",
            data_path=None,
            n=5000,
            preset="DiT-S/2",
            train=DiffusionConfig(steps=400000, batch=128, lr=1e-4, warmup=1000, log_every=1000, grad_clip=1.0),
            finetune=DiffusionConfig(steps=20000, batch=128, lr=1e-4, warmup=0, log_every=500, grad_clip=1.0),
            importance_batches=100,
            importance_batch=128,
            n_samples=10000,
            method="ode",  # unchanged: the samplers' convergence test has not been run at this size (CIFAR-10, DiT-S/2)
            sample_steps=250,
        ),
        seeds=5,
        random_reps=5,
        rank_draws=39,
        etas=(0.1, 0.2, 0.3, 0.4, 0.5),
        lengths=(0, 2000, 20000, 50000),
    ),
}

FULL_COMMAND = "memsep run --claims M1,M2,M3,M4 --profile full --device cuda --data /path/to/cifar-10-batches-py"

# ---- the paper's numbers (Table 1: CIFAR-10 5,000-image subset, eta = 0.2, mean +- sd over 5 runs) ----------
TABLE1_SOURCE = "paper Table 1, CIFAR-10, eta = 0.2, 5 runs"
TABLE1 = {
    "original": {
        "precision": (0.39, 0.01),
        "recall": (0.08, 0.01),
        "memorization": (73.82, 1.12),
        "fid": (15.47, 0.28),
    },
    "importance": {
        "precision": (0.33, 0.02),
        "recall": (0.12, 0.01),
        "memorization": (68.58, 0.77),
        "fid": (15.07, 0.33),
    },
    "random": {"precision": (0.30, 0.02), "recall": (0.09, 0.01), "memorization": (66.87, 0.94), "fid": (17.14, 0.25)},
}
DROP = {
    arm: (TABLE1["original"]["memorization"][0] - TABLE1[arm]["memorization"][0]) / 100
    for arm in ("importance", "random")
}  # 0.0524 and 0.0695 (fractions)
FD_REL = (TABLE1["random"]["fid"][0] - TABLE1["importance"]["fid"][0]) / TABLE1["random"]["fid"][0]  # 0.1208
RECALL_REL = (TABLE1["importance"]["recall"][0] - TABLE1["random"]["recall"][0]) / TABLE1["random"]["recall"][0]


# ---- measurements ----------------------------------------------------------------------------------------
@dataclass
class ModelEval:
    """One model at one fine-tuning length: its numbers and its per-sample memorization mask ("0"/"1" per
    shared-noise sample)."""

    seed_index: int  # which original (experiment seed k)
    arm: str  # "original", "control", "importance" or "random"
    eta: float
    time_map: str | None  # importance only
    draw: int  # random draw r (0 otherwise)
    length: int  # fine-tuning steps M (0: right after pruning; the original: 0)
    heads: list[int]
    heads_removed: int
    parameters: int
    memorized: int
    m: int
    mask: str
    small_t_loss: float
    precision_classifier: float
    recall_classifier: float
    fd_classifier: float
    fd_inf_classifier: float | None
    precision_pixels: float
    recall_pixels: float
    fd_pixels: float
    fd_inf_pixels: float | None
    classifier_accuracy: float

    @property
    def ratio(self) -> float:
        return self.memorized / self.m

    def flags(self) -> np.ndarray:
        return np.frombuffer(self.mask.encode(), dtype=np.uint8) == ord("1")


@dataclass
class OriginalRun:
    seed_index: int
    seed: int
    train_steps: int
    train_seconds: float
    losses: list  # [(step, window mean)]
    plateau: dict  # empirical.prune_experiment.plateau
    heads_total: int
    head_dim: int
    hidden: int


@dataclass
class RankRun:
    """M1's reference for one original: small-t losses right after pruning (no fine-tuning)."""

    seed_index: int
    original: float
    random: list[float]  # rank_draws random prunings
    importance: dict  # time map -> small-t loss
    removed: dict  # time map -> sorted ["layer:head", ...]
    importance_scores: dict  # time map -> per-layer lists


@dataclass
class FigureData:
    """The first same-noise samples of original 0 and its importance-pruned model (Figure 4)."""

    original: list
    original_nearest: list
    original_memorized: list
    pruned: list
    pruned_nearest: list
    pruned_memorized: list


@dataclass
class PruningMeasurements:
    """Everything M1-M4 decide on (the same measurements for the four claims; each uses its part)."""

    eta: float
    etas: list[float]
    primary_length: int
    lengths: list[int]
    time_map: str
    time_maps: list[str]
    n_samples: int
    seeds: int
    random_reps: int
    experiment_seed: int
    originals: list[OriginalRun] = field(default_factory=list)
    evals: list[ModelEval] = field(default_factory=list)
    ranks: list[RankRun] = field(default_factory=list)
    figure: FigureData | None = None
    stages: dict = field(default_factory=dict)  # {"stages", "read_back", "seconds"}

    def pick(
        self,
        arm: str,
        *,
        eta: float | None = None,
        time_map: str | None = None,
        length: int | None = None,
        seed_index: int | None = None,
        draw: int | None = None,
    ) -> list[ModelEval]:
        """The evaluations of one arm (defaults: the primary eta, time map and length), by (seed, draw)."""
        eta = self.eta if eta is None else eta
        tm = self.time_map if time_map is None else time_map
        length = self.primary_length if length is None else length
        out = [
            e
            for e in self.evals
            if e.arm == arm
            and (arm in ("original", "control") or abs(e.eta - eta) < 1e-9)
            and (arm != "importance" or e.time_map == tm)
            and (arm == "original" or e.length == length)
            and (seed_index is None or e.seed_index == seed_index)
            and (draw is None or e.draw == draw)
        ]
        return sorted(out, key=lambda e: (e.seed_index, e.draw))


# ---- the experiment --------------------------------------------------------------------------------------
def _jobs(s: PruneSetting, cfg: PruningConfig, base_seed: int) -> list[tuple[str, int, dict]]:
    jobs = []
    primary = (s.finetune.steps,)
    for k in range(cfg.seeds):
        seed = int(base_seed + k) % 2**62
        lens = tuple(cfg.lengths) if k < cfg.length_seeds else primary
        jobs.append(("original", k, original_point(s, seed)))
        jobs.append(("rank", k, rank_point(s, seed, cfg.eta, cfg.rank_draws, tuple(cfg.time_maps))))
        jobs.append(("arm", k, arm_point(s, seed, "control", 0.0, lengths=lens)))
        jobs.append(("arm", k, arm_point(s, seed, "importance", cfg.eta, lengths=lens, keep_samples=(k == 0))))
        for r in range(cfg.random_reps):
            jobs.append(("arm", k, arm_point(s, seed, "random", cfg.eta, draw=r, lengths=lens if r == 0 else primary)))
        for tm in cfg.time_maps:
            if tm != s.time_map:
                jobs.append(("arm", k, arm_point(s, seed, "importance", cfg.eta, time_map=tm, lengths=primary)))
        for eta in cfg.etas:
            if abs(eta - cfg.eta) > 1e-12:
                jobs.append(("arm", k, arm_point(s, seed, "importance", eta, lengths=primary)))
    return jobs


def _eval(rec: dict, k: int, arm: str, eta: float, time_map, draw: int, length: int, removed: int) -> ModelEval:
    g = rec.get
    return ModelEval(
        seed_index=k,
        arm=arm,
        eta=eta,
        time_map=time_map,
        draw=draw,
        length=length,
        heads=[int(h) for h in rec["heads"]],
        heads_removed=removed,
        parameters=int(rec["parameters"]),
        memorized=int(rec["memorized"]),
        m=int(rec["m"]),
        mask=rec["mask"],
        small_t_loss=float(rec["small_t_loss"]),
        precision_classifier=float(rec["precision_classifier"]),
        recall_classifier=float(rec["recall_classifier"]),
        fd_classifier=float(rec["fd_classifier"]),
        fd_inf_classifier=g("fd_inf_classifier"),
        precision_pixels=float(rec["precision_pixels"]),
        recall_pixels=float(rec["recall_pixels"]),
        fd_pixels=float(rec["fd_pixels"]),
        fd_inf_pixels=g("fd_inf_pixels"),
        classifier_accuracy=float(rec["classifier_accuracy"]),
    )


def measure(ctx: Context, cfg: PruningConfig) -> PruningMeasurements:
    """Run (or resume) the shared experiment and collect its numbers."""
    s = cfg.setting
    if s.dataset == "cifar10":
        if not (ctx.data_path or s.data_path):
            raise ValueError(
                "data: this profile reads CIFAR-10 from a local cifar-10-batches-py folder; pass --data PATH"
            )
        s = dataclasses.replace(s, data_path=ctx.data_path or s.data_path)
    base = ctx.shared_seed(SWEEP_OWNER)
    folder = ctx.sweep_dir("stages", owner=SWEEP_OWNER)
    m = PruningMeasurements(
        eta=cfg.eta,
        etas=sorted({cfg.eta, *cfg.etas}),
        primary_length=s.finetune.steps,
        lengths=sorted({*cfg.lengths, s.finetune.steps}),
        time_map=s.time_map,
        time_maps=[s.time_map] + [t for t in cfg.time_maps if t != s.time_map],
        n_samples=s.n_samples,
        seeds=cfg.seeds,
        random_reps=cfg.random_reps,
        experiment_seed=base,
    )
    jobs = _jobs(s, cfg, base)
    # Two phases: the originals, then every other stage (each needs only its own original's weights). Under
    # torchrun each phase is one shared sweep, so W workers train W originals side by side and then share the
    # stages; in one process only the order of computation changes, and every stage is a function of its point.
    by_index: dict[int, dict] = {}
    for phase in (
        [i for i, job in enumerate(jobs) if job[0] == "original"],
        [i for i, job in enumerate(jobs) if job[0] != "original"],
    ):
        records = run_sweep(
            [jobs[i][2] for i in phase],
            lambda p: run_stage(p, folder, ctx.device, ctx.progress),
            folder,
            desc="pruning stages",
            progress=bool(ctx.progress),
        )
        by_index.update(zip(phase, records))
    recs = [(kind, k, point, by_index[i]) for i, (kind, k, point) in enumerate(jobs)]
    n_stages, n_back, seconds, orig_samples = 0, 0, 0.0, None
    for kind, k, point, rec in recs:
        n_stages, n_back, seconds = n_stages + 1, n_back + bool(rec["reused"]), seconds + float(rec["seconds"])
        try:
            orig_samples = _collect(m, s, kind, k, point, rec["result"], orig_samples)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            from memsep.empirical.fileio import BadFileError
            from memsep.empirical.sweep import record_key

            raise BadFileError(
                folder / f"{record_key(point)}.json",
                f"is not a complete pruning stage record ({type(exc).__name__}: {exc}); delete it to "
                "recompute the stage",
            ) from None
    m.stages = {"stages": n_stages, "read_back": n_back, "seconds": seconds}
    return m


def _collect(m: PruningMeasurements, s: PruneSetting, kind: str, k: int, point: dict, r: dict, orig_samples):
    """Add one stage record's numbers to m; returns the original 0's evaluation (for the figure)."""
    if kind == "original":
        from memsep.empirical.dit import DIT_PRESETS

        pre = DIT_PRESETS[s.preset]
        m.originals.append(
            OriginalRun(
                k,
                int(point["seed"]),
                s.train.steps,
                float(r["train_seconds"]),
                [list(v) for v in r["losses"]],
                r["plateau"],
                sum(pre.heads),
                pre.head_dim,
                pre.hidden,
            )
        )
        m.evals.append(_eval(r["eval"], k, "original", 0.0, None, 0, 0, 0))
        if k == 0 and r["eval"].get("samples") is not None:
            orig_samples = r["eval"]
    elif kind == "rank":
        m.ranks.append(
            RankRun(
                k,
                float(r["original_small_t_loss"]),
                [float(v) for v in r["random_small_t_loss"]],
                {tm: float(v["small_t_loss"]) for tm, v in r["importance"].items()},
                {
                    tm: sorted(f"{l}:{h}" for l, hs in v["removed"].items() for h in hs)
                    for tm, v in r["importance"].items()
                },
                {tm: v["importance"] for tm, v in r["importance"].items()},
            )
        )
    else:
        for length, ev in r["evals"].items():
            m.evals.append(
                _eval(
                    ev,
                    k,
                    point["arm"],
                    point["eta"],
                    point["time_map"],
                    point["draw"],
                    int(length),
                    int(r["heads_removed"]),
                )
            )
            if point["keep_samples"] and ev.get("samples") is not None and orig_samples is not None:
                m.figure = _figure_data(orig_samples, ev, s, int(point["seed"]))
    return orig_samples


def _figure_data(orig: dict, pruned: dict, s: PruneSetting, seed: int, show: int = 10) -> FigureData | None:
    """The first ``show`` same-noise samples of the original and its importance-pruned model, with the nearest
    distinct training image of each (the 1/3 rule's NN1), as nested lists (small images only)."""
    from memsep.empirical.metrics import distinct_points
    from memsep.empirical.prune_experiment import load_data

    if np.asarray(orig["samples"][0]).size > 4096:
        return None
    data = load_data(s, seed)[0]
    shape = data.shape[1:]
    pts = distinct_points(data.reshape(len(data), -1))
    n = min(show, len(orig["samples"]), len(pruned["samples"]))

    def nearest(rec):
        return [np.round(pts[rec["nn1"][j]].reshape(shape), 4).tolist() for j in range(n)]

    return FigureData(
        original=[orig["samples"][j] for j in range(n)],
        original_nearest=nearest(orig),
        original_memorized=[orig["mask"][j] == "1" for j in range(n)],
        pruned=[pruned["samples"][j] for j in range(n)],
        pruned_nearest=nearest(pruned),
        pruned_memorized=[pruned["mask"][j] == "1" for j in range(n)],
    )


# ---- statistics ------------------------------------------------------------------------------------------
def family_alpha(cfg: PruningConfig, rules: int) -> float:
    """alpha / r: Bonferroni over a claim's r statistical rules."""
    return cfg.alpha / max(1, rules)


def paired_drop(
    m: PruningMeasurements,
    a: str,
    b: str,
    *,
    eta: float | None = None,
    time_map: str | None = None,
    length: int | None = None,
) -> dict | None:
    """Paired memorization difference p_a - p_b over same-noise samples pooled over the originals (module doc).
    Arms "original", "control", "importance", "random" (mean over draws per sample). None when an arm is missing."""
    d_all, per_seed = [], []
    for k in range(m.seeds):
        sides = []
        for arm in (a, b):
            ev = m.pick(arm, eta=eta, time_map=time_map, length=length, seed_index=k)
            if not ev:
                return None
            sides.append(np.mean([e.flags() for e in ev], axis=0))  # (n,) fraction memorized per noise
        d = sides[0] - sides[1]
        d_all.append(d)
        per_seed.append(float(d.mean()))
    d = np.concatenate(d_all)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else float("nan")
    disc = float(np.mean(np.abs(d) > 0))
    between = float(np.std(per_seed, ddof=1) / math.sqrt(len(per_seed))) if len(per_seed) > 1 else float("nan")
    return {
        "estimate": float(d.mean()),
        "se": se,
        "pairs": int(d.size),
        "per_seed": per_seed,
        "between_seed_se": between,
        "discordant": disc,
        "p_a": float(np.mean([e.ratio for e in m.pick(a, eta=eta, time_map=time_map, length=length)])),
        "p_b": float(np.mean([e.ratio for e in m.pick(b, eta=eta, time_map=time_map, length=length)])),
    }


def drop_rule(
    m: PruningMeasurements, a: str, b: str, effect: float, alpha: float, source: str, what: str, **kw
) -> tuple[str, str, dict | None]:
    """(outcome, detail, test) of H1: p_a - p_b > 0 with the paper's effect, paired over same-noise samples."""
    d = paired_drop(m, a, b, **kw)
    if d is None or not math.isfinite(d["se"]):
        return "inconclusive", f"{a} or {b} was not measured", None
    outcome, test = directional_rule(d["estimate"], d["se"], effect, alpha, effect_source=source, what=what)
    test.update(
        {
            "pairs": d["pairs"],
            "discordant": d["discordant"],
            "per_seed": d["per_seed"],
            "between_seed_se": d["between_seed_se"],
        }
    )
    per = ", ".join(f"{100 * v:+.1f}" for v in d["per_seed"])
    detail = (
        f"{a} {100 * d['p_a']:.1f}% against {b} {100 * d['p_b']:.1f}%: paired difference "
        f"{100 * d['estimate']:.2f} +- {100 * d['se']:.2f} points over {d['pairs']} same-noise pairs "
        f"({100 * d['discordant']:.0f}% discordant); one-sided level {alpha:.4g}: upper bound "
        f"{100 * test['interval'][1]:.2f} against the effect {100 * effect:.2f}; power there {test['power']:.2f}, "
        f"minimum detectable {100 * test['mde']:.2f} points; per original: {per}"
    )
    if len(d["per_seed"]) > 1:
        detail += f" (spread between originals: se {100 * d['between_seed_se']:.2f} points)"
    return outcome, detail, test


def t_factor(df: int, alpha: float) -> float:
    """t_{df, 1 - alpha} / z_{1 - alpha}: the se multiplier that turns the one-sided z rule into the t test."""
    return float(stats.t.isf(alpha, df) / stats.norm.isf(alpha))


def quality_rule(
    m: PruningMeasurements, metric: str, *, lower_is_better: bool, effect: float, alpha: float, source: str, what: str
) -> tuple[str, str, dict | None]:
    """Importance against random pruning for a quality number, relative to random's: theta = (R - I) / R for a
    lower-is-better metric, (I - R) / R otherwise. K >= 2 originals: one-sided t over the K per-original theta_k.
    K = 1: theta against the spread of the R random draws, se = s_R sqrt(1 + 1/R) / R_mean (t with R - 1 df; the
    importance model is assumed to vary like one random draw)."""
    thetas, how = [], ""
    for k in range(m.seeds):
        imp = m.pick("importance", seed_index=k)
        rnd = m.pick("random", seed_index=k)
        if not imp or not rnd:
            return "inconclusive", "importance or random pruning was not measured", None
        i_v = float(getattr(imp[0], metric))
        r_v = np.array([float(getattr(e, metric)) for e in rnd])
        ref = float(r_v.mean())
        if not ref:
            return "inconclusive", "the random prunings' mean is 0", None
        thetas.append(((ref - i_v) if lower_is_better else (i_v - ref)) / abs(ref))
        r_spread = r_v
    if m.seeds >= 2:
        th = np.array(thetas)
        est, se_raw, df = float(th.mean()), float(th.std(ddof=1) / math.sqrt(th.size)), th.size - 1
        how = f"paired over {th.size} originals (t, {df} df)"
    else:
        if r_spread.size < 2:
            return "inconclusive", "one original and one random draw: no error estimate", None
        est = thetas[0]
        se_raw = float(r_spread.std(ddof=1) * math.sqrt(1 + 1 / r_spread.size) / abs(r_spread.mean()))
        df = r_spread.size - 1
        how = (
            f"1 original: against the spread of {r_spread.size} random draws (t, {df} df; the importance model is "
            "assumed to vary like one draw)"
        )
    tf = t_factor(df, alpha)
    outcome, test = directional_rule(est, se_raw * tf, effect, alpha, effect_source=source, what=what)
    test.update({"df": df, "t_factor": tf, "per_seed": thetas})
    detail = (
        f"{what}: {100 * est:+.1f}% +- {100 * se_raw * tf:.1f}% (t-scaled), {how}; one-sided level {alpha:.4g}, "
        f"upper bound {100 * test['interval'][1]:+.1f}% against the effect {100 * effect:.1f}%, power there "
        f"{test['power']:.2f}"
    )
    return outcome, detail, test


def rank_test(ranks: list[int], draws: int, alpha: float, q: float = 0.05) -> dict:
    """Exact rank test of 'importance pruning's loss is below the random prunings'', combined over originals.

    r_k = number of the R = ``draws`` random losses below the importance loss of original k (0..R); under H0
    (exchangeable) r_k is uniform on {0..R} and S = sum_k r_k has the K-fold convolution of that law. Pass
    side: P0(S <= s); the other side: P0(S >= s). Power at the smallest effect of interest "the importance
    loss sits at quantile q of the random losses" (then r_k ~ Binomial(R, q), S ~ Binomial(K R, q)):
    P1(S <= c) with c the largest s where P0(S <= s) <= alpha."""
    K = len(ranks)
    pmf = np.ones(1)
    unit = np.full(draws + 1, 1.0 / (draws + 1))
    for _ in range(K):
        pmf = np.convolve(pmf, unit)
    cdf = np.cumsum(pmf)
    s = int(sum(ranks))
    p_low, p_high = float(cdf[s]), float(1.0 - (cdf[s - 1] if s > 0 else 0.0))
    ok = np.nonzero(cdf <= alpha)[0]
    c = int(ok.max()) if ok.size else -1
    power = float(stats.binom.cdf(c, K * draws, q)) if c >= 0 else 0.0
    return {"S": s, "p_low": p_low, "p_high": p_high, "critical": c, "power": power, "q": q, "K": K, "R": draws}


def mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else 0.0)


def stage_note(m: PruningMeasurements) -> str:
    st = m.stages or {}
    train = sum(o.train_seconds for o in m.originals)
    return (
        f"{st.get('stages', 0)} stages ({st.get('read_back', 0)} read back from results/sweeps/pruning/, computed "
        f"once for M1-M4); they took {st.get('seconds', 0):.0f} s when computed, of which {train:.0f} s training "
        f"the {len(m.originals)} original model(s). The runtime above counts only what this check computed."
    )


def provisional_note(m: PruningMeasurements) -> str | None:
    """Why a verdict at this size is provisional, if it is (few originals, unconverged originals)."""
    why = []
    if m.seeds < 3:
        why.append(f"{m.seeds} original model(s) (a verdict needs at least 3: the between-original spread)")
    bad = [o.seed_index for o in m.originals if not o.plateau.get("converged")]
    if bad:
        why.append(f"original(s) {bad} had not reached the loss plateau")
    return (
        (
            "Provisional: " + "; ".join(why) + ". The decisive profile is `standard` "
            "(`memsep run --claims M1,M2,M3,M4 --profile standard`)."
        )
        if why
        else None
    )


def power_of(test: dict | None) -> float:
    return float(test.get("power", float("nan"))) if test else float("nan")


__all__ = [
    "PruningConfig",
    "CONFIGS",
    "PruningMeasurements",
    "ModelEval",
    "measure",
    "paired_drop",
    "drop_rule",
    "quality_rule",
    "rank_test",
    "family_alpha",
    "DROP",
    "FD_REL",
    "RECALL_REL",
    "TABLE1",
    "TABLE1_SOURCE",
    "POWER_TARGET",
    "FULL_COMMAND",
    "mean_sd",
    "stage_note",
    "provisional_note",
]
