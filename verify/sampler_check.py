"""``memsep sampler-check``: the samplers' convergence test (``empirical.sampler_check``) at the claims' sizes, its
file and its REPORT.md section.

    memsep sampler-check --profile quick            # 50 min on one thread: A6's quick memorizer and generalizer,
                                                   # the pruning claims' quick original; writes the file below
    memsep sampler-check --profile ci               # the test-suite size (about a minute)

The record goes to out/results/samplers/convergence.json with the environment (git commit, code fingerprint), and
REPORT.md gets a "Sampler step counts" section from it: for every model, each candidate (solver, steps) against the
1,000-step Heun reference, metric by metric, with the rule's outcome, the step counts the rule chooses, and whether
the step count the claims use now passes (rendered by ``verify.report``: rendering is not part of the check's
computation, so changing it leaves the committed record current). The models are those of the claims' first
replicate, trained with the claims' own settings and seeds; the DiT's weights are read back from (or written to) the
pruning claims' sweep folder, so after ``memsep run`` the check trains only the mixtures.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from memsep.empirical.fileio import atomic_write_text

__all__ = ["PROFILES", "config", "check_path", "write_check"]

PROFILES = ("ci", "quick")


def config(profile: str, run_seed: int = 0):
    """The check's configuration at a claims profile: A6's setting and first and last n (its memorizer: the smaller
    n with the largest network; its generalizer: the larger n with the smallest network) and the pruning claims'
    setting (an ``empirical.sampler_check.SamplerCheckConfig``). Candidates: the first-order solver at 25-300 steps
    (the claims use 300 for the mixtures, 100 for the DiTs) and Heun at 10-100; reference Heun x 1,000 (x 200 at
    ci, where the check only exercises the code). Seeds: those ``memsep run --seed run_seed`` gives the claims
    (A6's claim seed; the pruning claims' shared experiment seed), so the models are the claims' own: A6's
    replicate 0 of those cells and the pruning claims' first original, bit for bit."""
    from memsep.empirical.sampler_check import SamplerCheckConfig  # numerical code: `memsep report` does not load it

    from .claims._pruning import CONFIGS as PRUNING
    from .claims._pruning import SWEEP_OWNER
    from .claims.a6 import CONFIGS as A6
    from .registry import Context

    if profile not in PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
    a6 = A6[profile]
    small, large = a6.networks[0], a6.networks[-1]
    n_lo, n_hi = a6.ns[0], a6.ns[-1]
    cells = (
        (f"mixture memorizer (A6: d = {a6.d}, n = {n_lo}, {large})", a6.d, n_lo, n_hi, large),
        (f"mixture generalizer (A6: d = {a6.d}, n = {n_hi}, {small})", a6.d, n_hi, n_hi, small),
    )
    a6_seed = Context("A6", profile, run_seed, a6, Path(".")).seed_for("A6")  # as verify.runner.run_claim
    dit_seed = Context("M1", profile, run_seed, None, Path("."), run_seed=run_seed).shared_seed(SWEEP_OWNER)
    cfg = SamplerCheckConfig(
        mixture=a6.setting,
        cells=cells,
        dit=PRUNING[profile].setting,
        mixture_seed=a6_seed,
        dit_seed=dit_seed,
    )
    if profile == "ci":
        cfg = dataclasses.replace(cfg, ode_steps=(25, 50), heun_steps=(10, 25), reference_steps=200, bootstrap=100)
    return cfg


def check_path(out: Path) -> Path:
    """out/results/samplers/convergence.json (where ``verify.report.load_check`` reads it)."""
    return Path(out) / "results" / "samplers" / "convergence.json"


def write_check(profile: str, out: Path, device: str = "cpu", progress=None, run_seed: int = 0) -> Path:
    """Run the check at ``profile`` (the claims' models of run seed ``run_seed``) and write its record
    (atomically) under ``out``."""
    from memsep.empirical.provenance import environment
    from memsep.empirical.sampler_check import run_check

    from .claims._pruning import SWEEP_OWNER

    cfg = config(profile, run_seed)
    folder = Path(out) / "results" / "sweeps" / SWEEP_OWNER / profile / "stages"  # the claims' originals
    rec = run_check(cfg, folder, device, progress)
    rec["profile"] = profile
    rec["run_seed"] = run_seed
    rec["command"] = f"memsep sampler-check --profile {profile}" + (f" --seed {run_seed}" if run_seed else "")
    rec["environment"] = environment()
    path = check_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return path
