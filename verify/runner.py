"""Run registered checks, write results/<id>.json per claim and then REPORT.md.

Each claim's results file is written as soon as its check ends (atomically), so an
interrupted run keeps every finished claim; ``memsep report`` rebuilds the report from
whatever results exist.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from pathlib import Path

from .env import environment
from .io import atomic_write_json
from .registry import CheckResult, Claim, Context, get_claims
from .report import write_report

__all__ = ["run_claim", "run_claims", "resolved_config"]

SCHEMA = 1


def _config_dict(cfg) -> dict:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def resolved_config(ids: list[str] | None, profile: str, seed: int, out: Path) -> dict:
    """What ``memsep run`` would do: claims, profile, seeds and each claim's config."""
    claims = get_claims(ids)
    return {"profile": profile, "seed": seed, "out": str(out),
            "claims": {c.id: {"claim_seed": Context(c.id, profile, seed, None, out).seed_for(c.id),
                              "config": _config_dict(c.config(profile))} for c in claims}}


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU is an error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: must be auto, cpu or cuda, got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for but torch sees no GPU")
    return device


def run_claim(claim: Claim, profile: str, seed: int, out: Path, *, progress: bool = False,
              device: str = "cpu", data: str | None = None) -> dict:
    """Run one check (exceptions become an ERROR verdict) and write out/results/<id>.json."""
    out = Path(out)
    cfg = claim.config(profile)
    claim_seed = Context(claim.id, profile, seed, cfg, out).seed_for(claim.id)
    ctx = Context(claim.id, profile, claim_seed, cfg, out, progress, resolve_device(device), run_seed=seed,
                  data_path=data)
    t0 = time.perf_counter()
    error = None
    try:
        result = claim.check(ctx)
        if not isinstance(result, CheckResult):
            raise TypeError(f"check of {claim.id} returned {type(result).__name__}, not CheckResult")
    except Exception as exc:  # noqa: BLE001 - any failure of a check is reported, not hidden
        error = traceback.format_exc()
        result = CheckResult(verdict="ERROR", headline=f"check raised {type(exc).__name__}: {exc}", method="")
    record = {
        "schema": SCHEMA,
        "claim": claim.meta(),
        "profile": profile,
        "seed": seed,
        "claim_seed": claim_seed,
        "config": _config_dict(cfg),
        "result": result.to_dict(),
        "runtime_s": time.perf_counter() - t0,
        "device": ctx.device,
        "environment": environment(),
        "error": error,
    }
    atomic_write_json(out / "results" / f"{claim.id}.json", record)
    return record


def run_claims(ids: list[str] | None, profile: str, seed: int, out: Path, *, progress: bool = True,
               device: str = "cpu", echo=print, data: str | None = None) -> list[dict]:
    """Run the claims in paper order, then rebuild out/REPORT.md from all results present."""
    records = []
    for claim in get_claims(ids):
        echo(f"[{claim.id}] {claim.title} (profile {profile}) ...")
        rec = run_claim(claim, profile, seed, out, progress=progress, device=device, data=data)
        echo(f"[{claim.id}] {rec['result']['verdict']} in {rec['runtime_s']:.1f} s: {rec['result']['headline']}")
        records.append(rec)
    path = write_report(out)
    echo(f"wrote {path}")
    return records
