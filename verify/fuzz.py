"""``memsep fuzz``: a Hypothesis hunt for counterexamples to one claim's property.

A claim module registers a :class:`FuzzSpec` with :func:`register_fuzz`:

    strategy           Hypothesis strategy of examples (small parameters and seeds, see verify.strategies)
    margin(example)    float; >= 0: the property holds, < 0: a counterexample; smaller is worse.
                       Normalised to the tolerance, e.g. margin = 1 - error / tolerance.
    describe(example)  JSON-ready dict that determines the example (parameters and seeds, no arrays);
                       it is recorded and is also the key under which margins are cached
    property           one line saying what is checked

Campaign (:func:`run_fuzz`). Examples run in chunks of ``CHUNK``; chunk c is a Hypothesis run
seeded with ``derive_seed(seed, "fuzz", claim, c)`` (``hypothesis.seed``), so with the same
database contents a campaign is reproducible. Each example reports ``hypothesis.target(-margin)``,
so Hypothesis's targeted phase climbs towards small margins. The campaign stops after ``examples``
distinct examples, when ``time_budget`` seconds are spent (examples not yet evaluated are then
skipped, so a chunk ends at once), at the first counterexample, or when a chunk brings no new
example (the strategy is exhausted). Margins are cached by ``describe(example)``: an example
replayed by Hypothesis costs nothing and always gives the same margin.

Example database: ``out/.hypothesis/fuzz/<claim>`` (DirectoryBasedExampleDatabase). Hypothesis
stores every failing example and the targeted Pareto front there and replays them first in the
next campaign, so an earlier counterexample is found again at once. Campaigns inside a claim's
check (``isolated=True``, used by ``memsep run``) use an empty in-memory database instead and write
no record, so a claim's results never depend on what a working directory's database holds.

Shrinking. A counterexample (margin < 0, or a margin that raised or is NaN, recorded as -inf) is
shrunk by Hypothesis, and the shrunk example is recorded. Without one, the worst example is
shrunk to the simplest example whose margin <= worst + slack, slack = ``SHRINK_SLACK`` x (largest
- smallest margin seen), i.e. within 5 % of the campaign's margin spread of the worst: first by
replaying the stored Pareto front (which holds the worst example) with that failure threshold
and letting Hypothesis shrink it, else by ``hypothesis.find(strategy, margin <= worst + slack)``
(which also targets -margin, with min(examples, ``FIND_EXAMPLES``) examples); if neither finds
one, the record says so. Examples evaluated while shrinking count as found (``shrink_examples``):
one worse than the campaign's worst becomes the worst and the shrink repeats against it.
Shrinking may use what is left of the time budget and at least ``SHRINK_TIME`` x budget more,
so a campaign takes at most about 1.25 x budget (plus one example).

The record goes to ``out/results/fuzz/<claim>.json`` (atomically); ``memsep report`` shows the
latest campaign per claim.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from random import Random
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, find, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, InMemoryExampleDatabase
from hypothesis.errors import NoSuchExample, Unsatisfiable
from hypothesis.strategies import SearchStrategy

from memsep.empirical.fileio import check_writable_dir
from memsep.theory import derive_seed

from .env import environment, run_stamp
from .io import atomic_write_json, to_jsonable
from .registry import REGISTRY, claim_order

__all__ = [
    "CHUNK",
    "SHRINK_SLACK",
    "SHRINK_TIME",
    "FIND_EXAMPLES",
    "FuzzSpec",
    "FUZZ_SPECS",
    "register_fuzz",
    "fuzzable_ids",
    "get_fuzz_spec",
    "run_fuzz",
    "identity_margin",
]

SCHEMA = 1
CHUNK = 25  # examples per Hypothesis run
SHRINK_SLACK = 0.05  # shrink target for the worst example: margin <= worst + SHRINK_SLACK * (max - min margin)
SHRINK_TIME = 0.25  # a shrink may run this fraction of the time budget past the budget
FIND_EXAMPLES = 1000  # cap on the replayed worst examples, and on hypothesis.find's examples (also <= examples)


@dataclass(frozen=True)
class FuzzSpec:
    strategy: SearchStrategy
    margin: Callable[[Any], float]
    describe: Callable[[Any], dict]
    property: str


FUZZ_SPECS: dict[str, FuzzSpec] = {}


def register_fuzz(claim_id: str, spec: FuzzSpec) -> FuzzSpec:
    """Make ``claim_id`` fuzzable with ``spec`` (one spec per claim)."""
    if claim_id in FUZZ_SPECS:
        raise ValueError(f"claim_id: {claim_id!r} has a fuzz spec already")
    if not isinstance(spec.strategy, SearchStrategy):
        raise ValueError(f"strategy: must be a Hypothesis strategy, got {type(spec.strategy).__name__}")
    FUZZ_SPECS[claim_id] = spec
    return spec


def fuzzable_ids() -> list[str]:
    """Claim ids with a fuzz spec, in paper order."""
    from . import claims  # noqa: F401  (importing registers the checks and their fuzz specs)

    return sorted(FUZZ_SPECS, key=claim_order)


def get_fuzz_spec(claim_id: str) -> FuzzSpec:
    """The spec of ``claim_id``; ValueError naming the fuzzable ids when there is none."""
    fuzzable = fuzzable_ids()
    if claim_id in FUZZ_SPECS:
        return FUZZ_SPECS[claim_id]
    if claim_id in REGISTRY:
        raise ValueError(f"claim: {claim_id} has no fuzz spec; fuzzable: {', '.join(fuzzable)}")
    raise ValueError(f"claim: unknown claim id {claim_id}; fuzzable: {', '.join(fuzzable)}")


class _SortedMemoryDatabase(InMemoryExampleDatabase):
    """Hypothesis' in-memory example database, replaying its entries in sorted order.

    The stock one keeps each key's entries in a set of bytes, whose iteration order follows Python's
    per-process hash seed (PYTHONHASHSEED): the chunks after the first then replay the stored Pareto
    front in a different order in every process, and a seeded campaign finds different examples.
    Sorted replay makes an isolated campaign a function of its seed alone."""

    def fetch(self, key: bytes):
        yield from sorted(self.data.get(key, ()))


class _Counterexample(Exception):
    def __init__(self, key: str, margin: float):
        super().__init__(f"margin {margin} < 0 at {key}")
        self.key, self.margin = key, margin


class _Margins:
    """margin(example), cached by describe(example), with a wall-clock deadline for new examples.

    A margin that raises or is NaN counts as -inf (a counterexample) and its error is kept.
    After ``deadline``, or once ``limit`` examples are cached, an example not seen before gets
    None (the caller skips it), while seen ones keep their margin, so Hypothesis can still
    replay its shrunk failure. The first counterexample lifts the limit and moves the deadline
    to at least ``grace`` seconds later, for shrinking.
    """

    def __init__(self, spec: FuzzSpec, deadline: float, grace: float, limit: int, on_new: Callable[[float], None]):
        self.spec, self.deadline, self.grace, self.limit, self.on_new = spec, deadline, grace, limit, on_new
        self.margin: dict[str, float] = {}
        self.example: dict[str, dict] = {}
        self.error: dict[str, str] = {}
        self.late = 0  # new examples refused after the deadline
        self.late_at_failure = None  # self.late when the first counterexample appeared

    def key(self, ex) -> tuple[str, dict]:
        desc = to_jsonable(self.spec.describe(ex))
        return json.dumps(desc, sort_keys=True), desc

    def __call__(self, ex) -> tuple[str, float | None]:
        key, desc = self.key(ex)
        if key in self.margin:
            return key, self.margin[key]
        if len(self.margin) >= self.limit:
            return key, None
        if time.monotonic() > self.deadline:
            self.late += 1
            return key, None
        try:
            m = float(self.spec.margin(ex))
            if math.isnan(m):
                self.error[key] = "margin is NaN"
                m = -math.inf
        except Exception as exc:  # noqa: BLE001 - a crash on a valid example is a counterexample, kept with its error
            self.error[key] = f"{type(exc).__name__}: {exc}"
            m = -math.inf
        self.margin[key], self.example[key] = m, desc
        if m < 0 and self.late_at_failure is None:
            self.late_at_failure = self.late
            self.limit = math.inf
            self.extend()
        self.on_new(m)
        return key, m

    def extend(self) -> None:
        """Allow new examples for ``grace`` more seconds (or until the deadline, if later)."""
        self.deadline = max(self.deadline, time.monotonic() + self.grace)

    def record(self, key: str | None) -> dict | None:
        if key is None:
            return None
        return {"example": self.example[key], "margin": self.margin[key], "error": self.error.get(key)}

    def worst(self) -> str | None:
        return min(self.margin, key=self.margin.get) if self.margin else None


def _settings(max_examples: int, **kw) -> settings:
    """Explicit settings on Hypothesis's default profile (not the profile a test suite loaded)."""
    return settings(
        settings.get_profile("default"),
        max_examples=max_examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
        **kw,
    )


_SEARCH = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
_REPLAY = (Phase.reuse, Phase.shrink)


def _hypothesis_run(
    spec: FuzzSpec, margins: _Margins, run_seed: int, max_examples: int, db, phases, fail_below: float = 0.0
) -> _Counterexample | None:
    """One seeded Hypothesis run of the property, failing on margin < fail_below; the shrunk failure or None.

    Every run (campaign chunks and the replay shrink) uses this same ``fuzz_property`` source,
    so Hypothesis files them all under the same key of the claim's database.
    """

    def fuzz_property(ex):
        key, m = margins(ex)
        if m is None:
            return  # out of time or examples: let the run end without evaluating more
        if math.isfinite(m):
            target(-m, label="-margin")
        if m < fail_below:
            raise _Counterexample(key, m)

    run = given(spec.strategy)(fuzz_property)
    run = hypothesis_seed(run_seed)(run)
    # Applied after @seed (which switches the database off for reproduction) on purpose: the
    # campaign is seeded AND replays/stores failures in the fuzz database.
    run = _settings(max_examples, database=db, phases=phases)(run)
    try:
        run()
    except _Counterexample as exc:
        return exc
    except Unsatisfiable:  # a replay with nothing stored
        pass
    return None


def _find(spec: FuzzSpec, margins: _Margins, threshold: float, examples: int, rng_seed: int) -> str | None:
    """hypothesis.find: the simplest example with margin <= threshold (its key), or None."""

    def close_to_worst(ex) -> bool:
        _, m = margins(ex)
        if m is None:  # out of time: unseen examples do not count
            return False
        if math.isfinite(m):
            target(-m, label="-margin")
        return m <= threshold

    try:
        ex = find(
            spec.strategy,
            close_to_worst,
            random=Random(rng_seed),
            settings=_settings(examples, database=None, phases=(Phase.generate, Phase.target, Phase.shrink)),
        )
    except NoSuchExample:
        return None
    return margins.key(ex)[0]


def _shrunk_worst(spec: FuzzSpec, margins: _Margins, db, examples: int, rng_seed: int) -> dict:
    """Record of the simplest example whose margin is within the slack of the worst (no counterexample).

    First a replay: the property, failing on margin <= threshold, with phases (reuse, shrink)
    replays the claim's stored Pareto front of -margin (which holds the campaign's worst
    example) and shrinks the first entry that fails. If none does, ``hypothesis.find`` searches
    from scratch. Either may meet an example worse than the campaign's worst; it then becomes
    the worst and the search repeats (at most three rounds).
    """
    margins.limit = math.inf
    margins.extend()
    late = margins.late
    for _ in range(3):
        base = margins.worst()
        finite = [m for m in margins.margin.values() if math.isfinite(m)]
        threshold = margins.margin[base] + SHRINK_SLACK * ((max(finite) - min(finite)) if finite else 0.0)
        goal = f"margin <= worst + {SHRINK_SLACK:g} x margin spread = {threshold:.6g}"
        hit = _hypothesis_run(
            spec, margins, rng_seed, FIND_EXAMPLES, db, _REPLAY, fail_below=math.nextafter(threshold, math.inf)
        )
        if hit is not None:
            key, method = hit.key, f"Hypothesis shrinking of the stored worst examples to {goal}"
        else:
            key, method = _find(spec, margins, threshold, examples, rng_seed), f"hypothesis.find({goal})"
        if margins.worst() == base:
            break
    cut = margins.late > late
    rec = margins.record(key) or {"example": None, "margin": None, "error": None}
    note = "" if key is not None else f"no example with {goal} found (replay and find with {examples} examples)"
    note += "; the search was cut short by the time budget" if cut else ""
    note += "; the search kept meeting worse examples" if margins.worst() != base else ""
    rec.update(method=method, found=key is not None, note=note.lstrip("; "))
    return rec


def run_fuzz(
    claim_id: str,
    examples: int = 200,
    seed: int = 0,
    time_budget: float = 600.0,
    out: Path = Path("."),
    progress: bool = True,
    *,
    isolated: bool = False,
) -> dict:
    """Run a campaign against ``claim_id``'s property; write and return out/results/fuzz/<claim>.json's record.

    isolated: for a campaign inside a claim's check (``memsep run``): an empty in-memory example database
    (nothing is replayed from, or stored in, any folder) and no record file, so the result is a function of
    the code, the settings and the seed alone, whatever ``.hypothesis/`` folders exist. Such a campaign
    should stop on its example count; its record says when the time budget cut it short."""
    spec = get_fuzz_spec(claim_id)
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples: must be an integer >= 1, got {examples!r}")
    if not (isinstance(seed, int) and seed >= 0):
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    if not (isinstance(time_budget, (int, float)) and math.isfinite(time_budget) and time_budget > 0):
        raise ValueError(f"time_budget: must be a finite number of seconds > 0, got {time_budget!r}")
    out = Path(out)
    db_dir = out / ".hypothesis" / "fuzz" / claim_id
    if isolated:
        with tempfile.TemporaryDirectory(prefix="memsep-hypothesis-") as home, _hypothesis_home(Path(home)):
            return _campaign(
                spec, claim_id, examples, seed, time_budget, out, progress, _SortedMemoryDatabase(), db_dir, isolated
            )
    check_writable_dir(out / "results" / "fuzz", "out")  # before any work: a bad --out is found at once
    check_writable_dir(db_dir, "out")
    with _hypothesis_home(out / ".hypothesis"):
        return _campaign(
            spec,
            claim_id,
            examples,
            seed,
            time_budget,
            out,
            progress,
            DirectoryBasedExampleDatabase(str(db_dir)),
            db_dir,
            isolated,
        )


@contextlib.contextmanager
def _hypothesis_home(path: Path):
    """Hypothesis' storage folder (where it caches the constants it collects from our source) set to ``path`` for
    one campaign, so that ``memsep fuzz --out DIR`` writes nothing into the working directory."""
    from hypothesis import configuration

    previous = configuration.storage_directory(intent_to_write=False).home_directory
    configuration.set_hypothesis_home_dir(str(path))
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(str(previous))


def _campaign(
    spec: FuzzSpec,
    claim_id: str,
    examples: int,
    seed: int,
    time_budget: float,
    out: Path,
    progress: bool,
    db,
    db_dir: Path,
    isolated: bool,
) -> dict:
    """The body of ``run_fuzz`` (arguments checked, database chosen, Hypothesis' storage folder set)."""

    from tqdm.auto import tqdm

    bar = tqdm(total=examples, desc=f"fuzz {claim_id}", unit="ex", disable=not progress, leave=False)
    best = [math.inf]

    def on_new(m: float) -> None:
        bar.update(1)
        if m < best[0]:
            best[0] = m
            bar.set_postfix_str(f"min margin {m:.4g}")

    t0 = time.monotonic()
    margins = _Margins(spec, t0 + time_budget, SHRINK_TIME * time_budget, examples, on_new)
    found, chunks, stop = None, 0, "examples"
    try:
        while len(margins.margin) < examples:
            if time.monotonic() >= t0 + time_budget:
                stop = "time budget"
                break
            before = len(margins.margin)
            found = _hypothesis_run(spec, margins, derive_seed(seed, "fuzz", claim_id, chunks), CHUNK, db, _SEARCH)
            chunks += 1
            if found is not None:
                stop = "counterexample"
                break
            if margins.late:
                stop = "time budget"
                break
            if len(margins.margin) == before:
                stop = "exhausted"
                break
        search_s = time.monotonic() - t0
        n_search = len(margins.margin)
        bar.close()
        margins.on_new = lambda m: None
        worst_key = margins.worst()
        if found is not None:
            shrunk = margins.record(found.key)
            shrunk.update(
                method="Hypothesis shrinking of the counterexample",
                found=True,
                note=""
                if margins.late == margins.late_at_failure
                else "shrinking was cut short by the time budget (the example may shrink further)",
            )
        elif worst_key is None:
            shrunk = {
                "example": None,
                "margin": None,
                "error": None,
                "method": "none",
                "found": False,
                "note": "no example was evaluated",
            }
        else:
            shrunk = _shrunk_worst(
                spec, margins, db, min(examples, FIND_EXAMPLES), derive_seed(seed, "shrink", claim_id)
            )
        worst_key = margins.worst()  # the shrink search may have met a worse example
        finite = [m for m in margins.margin.values() if math.isfinite(m)]
    finally:
        bar.close()
    elapsed = time.monotonic() - t0
    claim = REGISTRY.get(claim_id)
    min_margin = margins.margin[worst_key] if worst_key is not None else None
    record = {
        "schema": SCHEMA,
        "claim": claim.meta() if claim is not None else {"id": claim_id},
        "property": spec.property,
        "seed": seed,
        "examples_requested": examples,
        "examples_run": n_search,
        "shrink_examples": len(margins.margin) - n_search,
        "time_budget_s": float(time_budget),
        "search_s": search_s,
        "elapsed_s": elapsed,
        "stopped_on_time": stop == "time budget",
        "stop_reason": stop,
        "chunks": chunks,
        "chunk_size": CHUNK,
        "min_margin": min_margin,
        "max_margin": max(finite) if finite else None,
        "counterexample": min_margin is not None and min_margin < 0,
        "worst_example": margins.record(worst_key),
        "shrunk_example": shrunk,
        "errors": len(margins.error),
        "database": "in-memory (isolated)" if isolated else str(db_dir.relative_to(out)),
        "hypothesis_version": metadata.version("hypothesis"),
        "environment": environment(),
        "provenance": run_stamp(),
    }
    if not isolated:
        atomic_write_json(out / "results" / "fuzz" / f"{claim_id}.json", record)
    return json.loads(json.dumps(to_jsonable(record)))


def identity_margin(lhs, rhs, rtol: float) -> float:
    """Margin of LHS = RHS for two quadrature Estimates: 1 - |LHS - RHS| / (rtol |RHS| + both error estimates).

    < 0 when the two sides differ by more than the tolerance plus what the quadrature itself
    says it may be off by (claims S1, S2).
    """
    tol = rtol * abs(rhs.value) + lhs.error + rhs.error
    diff = abs(lhs.value - rhs.value)
    if tol == 0:
        return 1.0 if diff == 0 else -math.inf
    return 1.0 - diff / tol
