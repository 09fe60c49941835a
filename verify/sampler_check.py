"""``memsep sampler-check``: the samplers' convergence test (``empirical.sampler_check``) at the claims' sizes, its
file and its REPORT.md section.

    memsep sampler-check --profile quick            # about 15 min on 2 cores: A6's quick memorizer and generalizer,
                                                   # the pruning claims' quick original; writes the file below
    memsep sampler-check --profile ci               # the test-suite size (about a minute)

The record goes to out/results/samplers/convergence.json with the environment (git commit, code fingerprint), and
REPORT.md gets a "Sampler step counts" section from it: for every model, each candidate (solver, steps) against
the 1,000-step Heun reference, metric by metric, with the rule's outcome, the step counts the rule chooses, and
whether the step count the claims use now passes. The models are those of the claims' first replicate, trained
with the claims' own settings and seeds; the DiT's weights are read back from (or written to) the pruning claims'
sweep folder, so after ``memsep run`` the check trains only the mixtures.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from memsep.empirical.fileio import atomic_write_text, read_json

__all__ = ["PROFILES", "config", "check_path", "write_check", "load_check", "render_section"]

PROFILES = ("ci", "quick")


def config(profile: str):
    """The check's configuration at a claims profile: A6's setting and first and last n (its memorizer: the smaller
    n with the largest network; its generalizer: the larger n with the smallest network) and the pruning claims'
    setting (an ``empirical.sampler_check.SamplerCheckConfig``). Candidates: the first-order solver at 25-300 steps
    (the claims use 300 for the mixtures, 100 for the DiTs) and Heun at 10-100; reference Heun x 1,000 (x 200 at
    ci, where the check only exercises the code)."""
    from memsep.empirical.sampler_check import SamplerCheckConfig  # numerical code: `memsep report` does not load it

    from .claims._pruning import CONFIGS as PRUNING
    from .claims.a6 import CONFIGS as A6

    if profile not in PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
    a6 = A6[profile]
    small, large = a6.networks[0], a6.networks[-1]
    n_lo, n_hi = a6.ns[0], a6.ns[-1]
    cells = (
        (f"mixture memorizer (A6: d = {a6.d}, n = {n_lo}, {large})", a6.d, n_lo, n_hi, large),
        (f"mixture generalizer (A6: d = {a6.d}, n = {n_hi}, {small})", a6.d, n_hi, n_hi, small),
    )
    cfg = SamplerCheckConfig(mixture=a6.setting, cells=cells, dit=PRUNING[profile].setting)
    if profile == "ci":
        cfg = dataclasses.replace(cfg, ode_steps=(25, 50), heun_steps=(10, 25), reference_steps=200, bootstrap=100)
    return cfg


def check_path(out: Path) -> Path:
    return Path(out) / "results" / "samplers" / "convergence.json"


def write_check(profile: str, out: Path, device: str = "cpu", progress=None) -> Path:
    """Run the check at ``profile`` and write its record (atomically) under ``out``."""
    from memsep.empirical.provenance import environment
    from memsep.empirical.sampler_check import run_check

    from .claims._pruning import SWEEP_OWNER

    cfg = config(profile)
    folder = Path(out) / "results" / "sweeps" / SWEEP_OWNER / profile / "stages"  # the claims' originals
    rec = run_check(cfg, folder, device, progress)
    rec["profile"] = profile
    rec["command"] = f"memsep sampler-check --profile {profile}"
    rec["environment"] = environment()
    path = check_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return path


def load_check(out: Path) -> dict | None:
    """The record under ``out``, or None when there is none (a malformed file is a ValueError naming it)."""
    path = check_path(out)
    if not path.is_file():
        return None
    rec = read_json(path, "a memsep sampler-check file")
    if not isinstance(rec, dict) or rec.get("kind") != "sampler-check" or not isinstance(rec.get("models"), list):
        raise ValueError(f"{path}: is not a memsep sampler-check file (kind 'sampler-check' and models expected)")
    return rec


def _fmt(v: float) -> str:
    return f"{v:+.4f}" if abs(v) < 10 else f"{v:+.2f}"


def _cell(m: dict) -> str:
    if "agrees" not in m:
        return f"{m['value']:.3f} (ref {m['reference']:.3f})"
    lo, hi = m["ci"]
    return f"{_fmt(m['delta'])} [{_fmt(lo)}, {_fmt(hi)}] / {m['margin']:.4f} {'ok' if m['agrees'] else '**no**'}"


def render_section(rec: dict) -> list[str]:
    """REPORT.md lines of the check (see the module doc)."""
    cfg = rec["config"]
    env = rec["environment"]
    lines = [
        "## Sampler step counts (convergence test)",
        "",
        f"`{rec['command']}` at commit {str(env.get('git_commit'))[:12]}"
        + (" (uncommitted changes)" if env.get("git_dirty") else "")
        + f", {rec['seconds'] / 60:.1f} min. Every model is sampled by each candidate and by the reference, Heun "
        f"with {cfg['reference_steps']} steps, from the same per-sample noise (paired). A cell reads "
        "Delta = candidate - reference [its 95% interval] / the margin h_ref, the half-width of the reference's own "
        "95% interval; the candidate agrees on a metric (ok) iff the interval lies inside [-h_ref, h_ref], and a "
        "step count is accepted iff it agrees on every metric of every model. Recall is shown, not ruled (its "
        "per-sample terms depend on the whole sample set). The rule was fixed before the first run "
        "(`empirical/sampler_check.py`).",
        "",
    ]
    for m in rec["models"]:
        names = list(m["rows"][0]["metrics"])
        lines += [
            f"**{m['label']}** (claims {m['model']['claim']}; in use: {m['in_use']['method']} x "
            f"{m['in_use']['steps']} steps; reference {m['reference']['seconds']:.1f} s):",
            "",
        ]
        head = ["solver", "steps", "score evaluations", "seconds", *names, "accepted"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in m["rows"]:
            cells = [r["method"], str(r["steps"]), str(r["nfe"]), f"{r['seconds']:.1f}"]
            cells += [_cell(r["metrics"][k]) for k in names]
            cells.append("yes" if r["accepted"] else "**no**")
            lines.append("| " + " | ".join(cells) + " |")
        use = [r for r in m["rows"] if (r["method"], r["steps"]) == (m["in_use"]["method"], m["in_use"]["steps"])]
        ch = rec["chosen"]["per_model"][m["label"]]
        lines += [
            "",
            f"Chosen for this model: first-order {ch['ode'] if ch['ode'] is not None else 'none of the candidates'}, "
            f"Heun {ch['heun'] if ch['heun'] is not None else 'none of the candidates'}; the claims' "
            f"{m['in_use']['method']} x {m['in_use']['steps']}: "
            + (("accepted" if use[0]["accepted"] else "**not accepted**") if use else "not among the candidates")
            + ".",
            "",
        ]
    ch = rec["chosen"]
    for group, label in (("mixtures", "Mixture models (A5, A6)"), ("dit", "DiT (M1-M4)")):
        if ch.get(group):
            ode, heun = (ch[group][k] for k in ("ode", "heun"))
            lines.append(
                f"- {label}: first-order solver {f'{ode} steps' if ode else 'none of the candidates'}, Heun "
                f"{f'{heun} steps' if heun else 'none of the candidates'} (the largest of the models' chosen counts)."
            )
    lines.append("")
    return lines
