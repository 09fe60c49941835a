"""The claim registry: one claim id -> one check function -> one results file -> one report section.

A claim module registers its check with :func:`register`, giving the claim's id (as in
the README's claim table), title, paper reference, statement and a config preset per profile
(``ci`` for the test suite, ``quick`` for ``memsep run``, ``full`` for the reference scale).
The check receives a :class:`Context` and returns a :class:`CheckResult` built with
:class:`Findings`; the runner adds runtime and environment and writes ``results/<id>.json``.

Verdicts: CONFIRMED (every assertion passed), NOT CONFIRMED (some assertion failed: the
numbers are kept and shown), ERROR (the check raised; the traceback is kept).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from theory import derive_seed

__all__ = ["PROFILES", "VERDICTS", "Claim", "Context", "Table", "Assertion", "Tolerance", "CheckResult",
           "Findings", "register", "REGISTRY", "get_claims", "claim_ids"]

PROFILES = ("ci", "quick", "full")
VERDICTS = ("CONFIRMED", "NOT CONFIRMED", "ERROR")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Assertion:
    name: str
    passed: bool
    detail: str


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
    device: str = "cpu"              # torch device for training ("cpu" or "cuda"), resolved by the runner
    run_seed: int | None = None      # the run's seed (--seed); claims sharing an experiment derive from it
    data_path: str | None = None     # --data: local folder of a user-supplied data set (CIFAR-10)
    figure_dir: Path | None = None   # where figure files are written (None: out_dir/figures); the runner
                                     # stages them and moves them into figures/ once results/<id>.json is saved

    def shared_seed(self, owner: str) -> int:
        """Seed of an experiment shared by several claims (A3 and A4): the same for each of them in one run."""
        return derive_seed(self.seed if self.run_seed is None else self.run_seed, "shared", owner)

    def seed_for(self, *key) -> int:
        """Seed of item ``key`` (independent of how many items exist or their order)."""
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

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.assertions.append(Assertion(name, bool(passed), detail))
        return bool(passed)

    def table(self, title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> None:
        self.tables.append(Table(title, list(columns), [list(r) for r in rows], note))

    def tolerance(self, name: str, value, source: str) -> None:
        self.tolerances.append(Tolerance(name, str(value), source))

    def result(self, headline: str, method: str) -> CheckResult:
        if not self.assertions:
            raise RuntimeError("a check must make at least one assertion")
        verdict = "CONFIRMED" if all(a.passed for a in self.assertions) else "NOT CONFIRMED"
        return CheckResult(verdict=verdict, headline=headline, method=method, tables=self.tables,
                           assertions=self.assertions, tolerances=self.tolerances, figures=self.figures,
                           seeds=self.seeds, notes=self.notes)


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    paper_ref: str
    statement: str
    check: Callable[[Context], CheckResult]
    configs: dict[str, Any]

    def config(self, profile: str):
        if profile not in PROFILES:
            raise ValueError(f"profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
        return self.configs[profile]

    def meta(self) -> dict:
        return {"id": self.id, "title": self.title, "paper_ref": self.paper_ref, "statement": self.statement}


REGISTRY: dict[str, Claim] = {}


def register(claim_id: str, *, title: str, paper_ref: str, statement: str, configs: dict[str, Any]):
    """Decorator registering ``check(ctx) -> CheckResult`` as the check of ``claim_id``."""
    missing = [p for p in PROFILES if p not in configs]
    if missing:
        raise ValueError(f"configs: must define profiles {PROFILES}, missing {missing}")

    def deco(fn):
        if claim_id in REGISTRY:
            raise ValueError(f"claim_id: {claim_id!r} is registered twice")
        REGISTRY[claim_id] = Claim(claim_id, title, paper_ref, statement, fn, dict(configs))
        return fn

    return deco


def _order(claim_id: str) -> tuple:
    group = {"S": 0, "A": 1, "M": 2}.get(claim_id[:1], 3)
    return (group, int(claim_id[1:]) if claim_id[1:].isdigit() else 0, claim_id)


def claim_ids() -> list[str]:
    """Registered claim ids in paper order (S*, A*, M*)."""
    from . import claims  # noqa: F401  (importing registers the checks)

    return sorted(REGISTRY, key=_order)


def get_claims(ids: list[str] | None = None) -> list[Claim]:
    """Claims by id (all when None); an unknown id raises ValueError naming the known ones."""
    known = claim_ids()
    if ids is None:
        return [REGISTRY[i] for i in known]
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(f"claims: unknown claim id(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [REGISTRY[i] for i in sorted(dict.fromkeys(ids), key=_order)]
