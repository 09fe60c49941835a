"""Run registered checks, write results/<id>.json per claim and then REPORT.md.

Each claim's results file is written as soon as its check ends (atomically), so an
interrupted run keeps every finished claim; ``memsep report`` rebuilds the report from
whatever results exist.

What is a verdict and what is not. A check that raises an ordinary exception gets an ERROR
record (the traceback is kept): that is a finding about the code. A check that cannot read an
input file (``empirical.fileio.BadFileError``: a corrupt checkpoint, a sweep point that is not
its record) or cannot write (``OSError``: a full disk, a folder that is not writable) says
nothing about the claim: no record is written, the claim's previous results file and figures
stay as they were, and the run stops with one line naming the claim and the file. Figures are
written to a staging folder and moved into ``figures/`` only after the results file is saved,
so a failure never leaves new figures beside old results.

Under torchrun (``torchrun --nproc_per_node=N -m memsep.verify run ...``) every worker runs the same claims; their
sweeps are shared point by point (``empirical.workers``: one worker computes a point, all read it), each worker
trains on its own device (LOCAL_RANK), and rank 0 alone writes results, figures, REPORT.md and summary.json once
every point is present. The results do not depend on the number of workers (tests/test_torchrun.py); the record's
``provenance.workers`` says how many there were.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from memsep.empirical.fileio import BadFileError, check_writable_dir, os_error_text

from .env import environment, run_stamp
from .io import atomic_write_json
from .registry import CheckResult, Claim, Context, get_claims
from .report import write_report

__all__ = [
    "run_claim",
    "run_claims",
    "resolved_config",
    "check_out_dir",
    "ClaimAborted",
    "replicate_dir",
    "choose_device",
    "run_replicates",
]

SCHEMA = 1


def _config_dict(cfg) -> dict:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def resolved_config(ids: list[str] | None, profile: str, seed: int, out: Path) -> dict:
    """What ``memsep run`` would do: claims, profile, seeds and each claim's config."""
    claims = get_claims(ids)
    return {
        "profile": profile,
        "seed": seed,
        "out": str(out),
        "claims": {
            c.id: {
                "claim_seed": Context(c.id, profile, seed, None, out).seed_for(c.id),
                "config": _config_dict(c.config(profile)),
            }
            for c in claims
        },
    }


def choose_device(device: str) -> str:
    """The --device choice as a device name: 'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU is
    an error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: must be auto, cpu or cuda, got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for but torch sees no GPU")
    if device == "cuda" and workers()[1] > 1:  # under torchrun each worker trains on its own GPU
        return f"cuda:{workers()[2] % torch.cuda.device_count()}"
    return device


class ClaimAborted(ValueError):
    """A claim could not be run for a reason outside the claim (an unreadable input file, a failed write):
    nothing was written for it. A ValueError, so the CLI prints its one line and exits 2."""

    def __init__(self, claim_id: str, exc: BaseException):
        self.claim_id = claim_id
        why = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
        super().__init__(
            f"[{claim_id}] {why}; nothing was written for {claim_id} (its previous results and "
            "figures, if any, are kept)"
        )


def workers() -> tuple[int, int, int]:
    """(rank, world size, local rank) of this process under torchrun, (0, 1, 0) alone (``empirical.workers``)."""
    from memsep.empirical.workers import worker

    return worker()


def check_out_dir(out: Path) -> None:
    """Before any work: out/, out/results and out/figures exist (or are created) and take a file, else ValueError."""
    check_writable_dir(out, "out")
    for sub in ("results", "figures"):
        check_writable_dir(Path(out) / sub, "out")
    for stale in Path(out, "figures").glob(".stage-*-*-*"):  # staging folders of runs that were killed
        pid = stale.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep_summary(log: list[dict]) -> dict:
    """How many sweep points this claim computed now and how many it read back, and from which runs."""
    back = [e for e in log if e["reused"]]
    sources = {}
    for e in back:
        k = (e.get("code"), e.get("git_commit"))
        src = sources.setdefault(
            k,
            {
                "code": e.get("code"),
                "git_commit": e.get("git_commit"),
                "points": 0,
                "first_utc": e.get("finished_utc"),
                "last_utc": e.get("finished_utc"),
            },
        )
        src["points"] += 1
        if e.get("finished_utc"):
            src["first_utc"] = min(filter(None, [src["first_utc"], e["finished_utc"]]))
            src["last_utc"] = max(filter(None, [src["last_utc"], e["finished_utc"]]))
    return {
        "computed": len(log) - len(back),
        "computed_seconds": sum(e.get("seconds", 0.0) for e in log if not e["reused"]),
        "read_back": len(back),
        "read_back_from": list(sources.values()),
    }


def run_claim(
    claim: Claim,
    profile: str,
    seed: int,
    out: Path,
    *,
    progress: bool = False,
    device: str = "cpu",
    data: str | None = None,
) -> dict:
    """Run one check and write out/results/<id>.json and its figures (module doc: ERROR records, and the
    failures that write nothing and raise ClaimAborted)."""
    out = Path(out)
    cfg = claim.config(profile)
    claim_seed = Context(claim.id, profile, seed, cfg, out).seed_for(claim.id)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".stage-{claim.id}-{os.getpid()}-", dir=figures))
    try:
        ctx = Context(
            claim.id,
            profile,
            claim_seed,
            cfg,
            out,
            progress,
            choose_device(device),
            run_seed=seed,
            data_path=data,
            figure_dir=stage,
        )
        t0 = time.perf_counter()
        error = None
        from memsep.empirical.sweep import sweep_log

        sweep_log(reset=True)
        try:
            result = claim.check(ctx)
            if not isinstance(result, CheckResult):
                raise TypeError(f"check of {claim.id} returned {type(result).__name__}, not CheckResult")
        except (OSError, BadFileError) as exc:
            raise ClaimAborted(claim.id, exc) from exc
        except Exception as exc:  # noqa: BLE001 - any failure of a check is reported, not hidden
            error = traceback.format_exc()
            result = CheckResult(verdict="ERROR", headline=f"check raised {type(exc).__name__}: {exc}", method="")
            for leftover in stage.iterdir():  # figures of a check that failed are not published
                leftover.unlink()
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
            "provenance": {
                **run_stamp(),
                "sweeps": _sweep_summary(sweep_log(reset=True)),
                "workers": workers()[1],
            },
            "error": error,
        }
        if workers()[0] != 0:  # under torchrun rank 0 alone writes; the others computed their share of the sweeps
            return record
        try:
            atomic_write_json(out / "results" / f"{claim.id}.json", record)
            for fig in sorted(stage.iterdir()):
                os.replace(fig, figures / fig.name)
        except OSError as exc:
            raise ClaimAborted(claim.id, exc) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return record


def run_claims(
    ids: list[str] | None,
    profile: str,
    seed: int,
    out: Path,
    *,
    progress: bool = True,
    device: str = "cpu",
    echo=print,
    data: str | None = None,
    report: bool = True,
) -> list[dict]:
    """Run the claims in paper order, then rebuild out/REPORT.md from all results present.

    The output folder is checked first (``check_out_dir``). A claim that aborts (ClaimAborted) stops the
    run: REPORT.md is rebuilt from the results present if that is possible, and the error is raised."""
    claims = get_claims(ids)
    check_out_dir(out)
    records = []
    start = time.perf_counter()
    for k, claim in enumerate(claims, 1):
        echo(
            f"[{claim.id}] claim {k} of {len(claims)}, {_clock(time.perf_counter() - start)} elapsed: {claim.title} "
            f"(profile {profile}) ..."
        )
        try:
            rec = run_claim(claim, profile, seed, out, progress=progress, device=device, data=data)
        except ClaimAborted:
            if records and report and workers()[0] == 0:
                try:
                    write_report(out)
                except (OSError, ValueError):
                    pass
            raise
        echo(f"[{claim.id}] {rec['result']['verdict']} in {rec['runtime_s']:.1f} s: {rec['result']['headline']}")
        records.append(rec)
    if report and workers()[0] == 0:
        path = write_report(out)
        echo(f"wrote {path}")
    from .registry import VERDICTS

    echo(
        f"{len(records)} claim(s) in {_clock(time.perf_counter() - start)}: "
        + ", ".join(f"{sum(r['result']['verdict'] == v for r in records)} {v}" for v in VERDICTS)
    )
    return records


def _clock(seconds: float) -> str:
    """h:mm:ss."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def replicate_dir(out: Path, profile: str, seed: int) -> Path:
    """Output folder of a replicate run: out/replicates/<profile>/seed-<seed> (its own results/ and figures/)."""
    return Path(out) / "replicates" / profile / f"seed-{seed}"


def run_replicates(
    ids: list[str] | None,
    profile: str,
    seeds: list[int],
    out: Path,
    *,
    progress: bool = True,
    device: str = "cpu",
    echo=print,
    data: str | None = None,
) -> list[dict]:
    """Run the claims once per run seed into replicate folders (``replicate_dir``), then rebuild out/REPORT.md,
    whose Replication section compares the verdicts across seeds."""
    check_out_dir(out)
    for s in seeds:
        check_out_dir(replicate_dir(out, profile, s))
    records = []
    for s in seeds:
        echo(f"== replicate: profile {profile}, run seed {s} -> {replicate_dir(out, profile, s)}")
        records += run_claims(
            ids,
            profile,
            s,
            replicate_dir(out, profile, s),
            progress=progress,
            device=device,
            echo=echo,
            data=data,
            report=False,
        )
    if (Path(out) / "results").is_dir() and workers()[0] == 0:
        path = write_report(out)
        echo(f"wrote {path}")
    return records
