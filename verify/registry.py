"""The claim registry: one claim id -> measure / decide / report -> one results file -> one report section.

A claim module registers itself with :func:`register`, giving the claim's id (as in the README's
claim table), title, paper reference, the paper's statement, what this project infers where the
paper is silent, a config preset per profile (``ci`` for the test suite, ``quick`` for ``memsep
run``, ``full`` for the reference scale), its decision RULES (stable key -> the rule in words,
written before the experiment: the pre-registration, see CLAIMS.md) and three functions:

    measure(ctx, cfg) -> M            the experiment: a dataclass of numbers (saved in the results file)
    decide(m, cfg) -> [Decision]      the rules only: one Decision per rule key, nothing else
    report(ctx, cfg, m, f) -> (headline, method)   tables, figures and notes on the Findings ``f``

so the pass/fail logic can be read in one place and tested on synthetic measurements.

Outcomes of one rule: pass; fail (the data contradict the paper: for a statistical rule, a
significant effect the other way, or a confidence interval that excludes the paper's effect);
inconclusive (the data cannot tell, e.g. not significant at a power below 0.8). Verdict of a claim:
NOT CONFIRMED if any rule fails, else INCONCLUSIVE if any is inconclusive, else CONFIRMED; ERROR when
the check raised (the traceback is kept). A statistical rule records the effect it looks for (the
paper's number where there is one), its false-failure rate, its power at that effect and its minimum
detectable effect (``Decision.test``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PROFILES",
    "VERDICTS",
    "OUTCOMES",
    "Claim",
    "Context",
    "Table",
    "Assertion",
    "Decision",
    "decision",
    "Tolerance",
    "CheckResult",
    "Findings",
    "register",
    "REGISTRY",
    "get_claims",
    "claim_ids",
    "claim_order",
    "verdict_of",
]

PROFILES = ("ci", "quick", "standard", "full")
# Every claim defines ci, quick and full; "standard" (between quick and full: the committed, decisive size of the
# claims that need one, at most 2 hours on 2 cores) falls back to quick where a claim does not define it.
REQUIRED_PROFILES = ("ci", "quick", "full")
VERDICTS = ("CONFIRMED", "NOT CONFIRMED", "INCONCLUSIVE", "ERROR")
OUTCOMES = ("pass", "fail", "inconclusive")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Assertion:
    """One decision: a rule applied to the measurements. ``name`` is the rule in words, ``key`` its stable id
    (``<claim>.<rule>``: known disagreements and rule changes refer to it), ``outcome`` one of OUTCOMES
    (``passed`` is outcome == "pass"), ``test`` the statistics of a statistical rule (effect looked for and its
    source, level, power at that effect, minimum detectable effect, estimate and interval)."""

    name: str
    passed: bool
    detail: str
    key: str = ""
    outcome: str = ""
    test: dict | None = None

    def __post_init__(self):
        if not self.outcome:
            self.outcome = "pass" if self.passed else "fail"
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: must be one of {OUTCOMES}, got {self.outcome!r}")
        self.passed = self.outcome == "pass"


Decision = Assertion


def decision(key: str, outcome, detail: str, test: dict | None = None) -> Assertion:
    """A Decision for rule ``key`` (its words are filled in from the claim's RULES): ``outcome`` is one of
    OUTCOMES, or a bool for an exact rule (True: pass, False: fail)."""
    if isinstance(outcome, (bool, np.bool_)):
        outcome = "pass" if outcome else "fail"
    return Assertion(name="", passed=outcome == "pass", detail=detail, key=key, outcome=outcome, test=test)


def verdict_of(outcomes) -> str:
    """NOT CONFIRMED if any rule failed, else INCONCLUSIVE if any could not tell, else CONFIRMED."""
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("outcomes: a verdict needs at least one decision")
    if "fail" in outcomes:
        return "NOT CONFIRMED"
    return "INCONCLUSIVE" if "inconclusive" in outcomes else "CONFIRMED"


@dataclass
class Tolerance:
    name: str
    value: str
    source: str


@dataclass
class CheckResult:
    verdict: str
    headline: str
    method: str
    tables: list[Table] = field(default_factory=list)
    assertions: list[Assertion] = field(default_factory=list)
    tolerances: list[Tolerance] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    seeds: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    measurements: dict | None = None  # what measure() returned (JSON values), when the claim splits its check

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Context:
    """What a check is given: profile, its seed, its config preset and where figures go."""

    claim_id: str
    profile: str
    seed: int
    config: Any
    out_dir: Path
    progress: bool = False
    device: str = "cpu"  # torch device for training ("cpu" or "cuda"), resolved by the runner
    run_seed: int | None = None  # the run's seed (--seed); claims sharing an experiment derive from it
    data_path: str | None = None  # --data: local folder of a user-supplied data set (CIFAR-10)
    figure_dir: Path | None = None  # where figure files are written (None: out_dir/figures); the runner
    # stages them and moves them into figures/ once results/<id>.json is saved

    def shared_seed(self, owner: str) -> int:
        """Seed of an experiment shared by several claims (A3 and A4): the same for each of them in one run."""
        from memsep.theory.estimate import derive_seed  # here, not at the top: `memsep report` needs no scipy

        return derive_seed(self.seed if self.run_seed is None else self.run_seed, "shared", owner)

    def seed_for(self, *key) -> int:
        """Seed of item ``key`` (independent of how many items exist or their order)."""
        from memsep.theory.estimate import derive_seed

        return derive_seed(self.seed, *key)

    def progress_bar(self, iterable, desc: str, total: int | None = None):
        """tqdm over ``iterable`` when progress is on (memsep run), else the iterable itself."""
        if not self.progress:
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=f"{self.claim_id} {desc}", total=total, leave=False)

    def sweep_dir(self, name: str, owner: str | None = None) -> Path:
        """Folder of per-point results of a resumable sweep: out/results/sweeps/<owner>/<profile>/<name>.

        ``owner`` defaults to this claim; claims that share fits (A3 and A4) name a common owner,
        which is safe because a point's file name is the hash of everything that determines it.
        """
        return self.out_dir / "results" / "sweeps" / (owner or self.claim_id) / self.profile / name

    def figure_path(self, name: str) -> tuple[Path, str]:
        """(path to write, path relative to out_dir as the report links it) for figure ``<claim>_<name>.png``."""
        fname = f"{self.claim_id}_{name}.png"
        folder = self.figure_dir if self.figure_dir is not None else self.out_dir / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / fname, f"figures/{fname}"


class Findings:
    """Accumulates tables, assertions and tolerances; the verdict follows from the assertions."""

    def __init__(self):
        self.tables: list[Table] = []
        self.assertions: list[Assertion] = []
        self.tolerances: list[Tolerance] = []
        self.figures: list[str] = []
        self.notes: list[str] = []
        self.seeds: dict[str, Any] = {}

    def check(self, name: str, passed: bool, detail: str, key: str = "") -> bool:
        self.assertions.append(Assertion(name, bool(passed), detail, key=key))
        return bool(passed)

    def table(self, title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> None:
        self.tables.append(Table(title, list(columns), [list(r) for r in rows], note))

    def tolerance(self, name: str, value, source: str) -> None:
        self.tolerances.append(Tolerance(name, str(value), source))

    def note(self, text: str) -> None:
        """A paragraph under the claim's tables in REPORT.md."""
        self.notes.append(text)

    def add_seeds(self, seeds: dict[str, Any]) -> None:
        """Record seeds (name -> seed or a dict of them) in the results file."""
        self.seeds.update(seeds)

    def figure_file(self, ctx: Context, name: str) -> Path:
        """Register figure ``<claim>_<name>.png`` (REPORT.md links it) and return the path to write it to."""
        path, rel = ctx.figure_path(name)
        self.figures.append(rel)
        return path

    def figure(self, ctx: Context, name: str, ncols: int, size: tuple[float, float]):
        """``with f.figure(ctx, "width", 3, (15, 4.3)) as ax:`` draw one row of ``ncols`` axes; the figure is
        registered, saved atomically and closed on exit (``verify.io.figure``)."""
        from .io import figure

        return figure(self.figure_file(ctx, name), ncols, size)

    def result(self, headline: str, method: str) -> CheckResult:
        if not self.assertions:
            raise RuntimeError("a check must make at least one assertion")
        verdict = verdict_of(a.outcome for a in self.assertions)
        return CheckResult(
            verdict=verdict,
            headline=headline,
            method=method,
            tables=self.tables,
            assertions=self.assertions,
            tolerances=self.tolerances,
            figures=self.figures,
            seeds=self.seeds,
            notes=self.notes,
        )


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    paper_ref: str
    statement: str
    check: Callable[[Context], CheckResult]
    configs: dict[str, Any]
    inferred: str = ""  # what this project decides where the paper is silent
    rules: dict[str, str] = field(default_factory=dict)  # rule key -> the rule in words (pre-registered)
    measure: Callable | None = None
    decide: Callable | None = None
    report: Callable | None = None

    def config(self, profile: str):
        if profile not in PROFILES:
            raise ValueError(f"profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
        if profile not in self.configs and profile == "standard":
            return self.configs["quick"]
        return self.configs[profile]

    def meta(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "paper_ref": self.paper_ref,
            "statement": self.statement,
            **({"inferred": self.inferred} if self.inferred else {}),
        }

    def decisions(self, m, cfg) -> list[Assertion]:
        """decide(m, cfg) with every rule's words filled in; exactly one decision per rule key, in RULES order."""
        out = list(self.decide(m, cfg))
        keys = [a.key for a in out]
        if sorted(keys) != sorted(self.rules) or len(set(keys)) != len(keys):
            raise RuntimeError(f"decide of {self.id} returned rule keys {keys}, its RULES are {list(self.rules)}")
        for a in out:
            a.name = a.name or self.rules[a.key]
        order = list(self.rules)
        return sorted(out, key=lambda a: order.index(a.key))


def _run_split(claim: Claim, ctx: Context) -> CheckResult:
    """The check of a measure / decide / report claim."""
    from memsep.empirical.fileio import to_jsonable

    cfg = ctx.config
    m = claim.measure(ctx, cfg)
    f = Findings()
    f.assertions = claim.decisions(m, cfg)
    headline, method = claim.report(ctx, cfg, m, f)
    res = f.result(headline, method)
    res.measurements = to_jsonable(dataclasses.asdict(m) if dataclasses.is_dataclass(m) else m)
    return res


REGISTRY: dict[str, Claim] = {}


def register(
    claim_id: str,
    *,
    title: str,
    paper_ref: str,
    statement: str,
    configs: dict[str, Any],
    inferred: str = "",
    rules: dict[str, str] | None = None,
    measure: Callable | None = None,
    decide: Callable | None = None,
    report: Callable | None = None,
):
    """Register a claim. With ``measure``, ``decide``, ``report`` and ``rules`` it is registered at once (and
    returned); without them this is a decorator registering ``check(ctx) -> CheckResult`` (older claims)."""
    missing = [p for p in REQUIRED_PROFILES if p not in configs]
    if missing:
        raise ValueError(f"configs: must define profiles {REQUIRED_PROFILES}, missing {missing}")
    split = (measure, decide, report)
    if any(fn is not None for fn in split):
        if any(fn is None for fn in split) or not rules:
            raise ValueError("measure, decide, report, rules: give all four, or none (then decorate a check)")
        bad = [k for k in rules if not k.startswith(f"{claim_id}.")]
        if bad:
            raise ValueError(f"rules: keys must start with '{claim_id}.', got {bad}")
        if claim_id in REGISTRY:
            raise ValueError(f"claim_id: {claim_id!r} is registered twice")
        holder: dict = {}
        claim = Claim(
            claim_id,
            title,
            paper_ref,
            statement,
            lambda ctx: _run_split(holder["claim"], ctx),
            dict(configs),
            inferred,
            dict(rules),
            measure,
            decide,
            report,
        )
        holder["claim"] = claim
        REGISTRY[claim_id] = claim
        return claim

    def deco(fn):
        if claim_id in REGISTRY:
            raise ValueError(f"claim_id: {claim_id!r} is registered twice")
        REGISTRY[claim_id] = Claim(
            claim_id, title, paper_ref, statement, fn, dict(configs), inferred, dict(rules or {})
        )
        return fn

    return deco


def claim_order(claim_id: str) -> tuple:
    """Sort key of a claim id in paper order: S1-S5, A1-A6, M1-M4 (numerically within a group)."""
    group = {"S": 0, "A": 1, "M": 2}.get(claim_id[:1], 3)
    return (group, int(claim_id[1:]) if claim_id[1:].isdigit() else 0, claim_id)


def claim_ids() -> list[str]:
    """Registered claim ids in paper order (S*, A*, M*)."""
    from . import claims  # noqa: F401  (importing registers the checks)

    return sorted(REGISTRY, key=claim_order)


def get_claims(ids: list[str] | None = None) -> list[Claim]:
    """Claims by id (all when None); an unknown id raises ValueError naming the known ones."""
    known = claim_ids()
    if ids is None:
        return [REGISTRY[i] for i in known]
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(f"claims: unknown claim id(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [REGISTRY[i] for i in sorted(dict.fromkeys(ids), key=claim_order)]
