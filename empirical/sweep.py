"""Resumable sweeps: one JSON file per finished point, so a killed run loses nothing.

    results = run_sweep(points, fn, folder)

``points`` is a list of JSON-ready dicts that fully determine a computation (sizes, seeds,
training settings); ``fn(point) -> dict`` does it. Each finished point is written atomically
to ``folder/<key>.json`` with its point, result, wall seconds, when it finished and the code and
environment that computed it; a rerun reads the files whose point matches and computes only the
missing ones. The key (``record_key``) hashes the canonical JSON of the point TOGETHER with the
code fingerprint (``empirical.provenance.code_fingerprint``) and the versions of the numerical
packages, so a changed setting, a changed line of code or another numpy/torch never reuses a
stale result: reading back is for resuming an interrupted run of the same code. A file at a
point's name that is not that point's record is reported (BadFileError) rather than recomputed
over.

Every point run_sweep handles is logged (``sweep_log``): the runner reports per claim how many
points were computed and how many read back, and from which code and run.

Under torchrun (WORLD_SIZE > 1) ``run_sweep`` shares the points among the workers by claim files
(``empirical.workers``): each point is computed by one worker, and every worker returns all records, equal to what
one process computes (only who computed a point, and so its "reused" flag, differs).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from .fileio import BadFileError, atomic_write_json, read_json, require_keys

__all__ = ["point_key", "record_key", "run_sweep", "run_sweep_local", "sweep_log", "shared_run"]

_LOG: list[dict] = []


def point_key(point: dict) -> str:
    """16 hex digits of SHA-1 over the canonical JSON of ``point``."""
    text = json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def record_key(point: dict) -> str:
    """The file name (without suffix) of ``point``'s record: point_key of (point, code fingerprint, versions)."""
    from .provenance import NUMERIC_PACKAGES, code_fingerprint, package_versions

    return point_key({"point": point, "code": code_fingerprint(), "packages": package_versions(NUMERIC_PACKAGES)})


def sweep_log(reset: bool = False) -> list[dict]:
    """The points run_sweep handled since the last reset: {"folder", "key", "reused", "finished_utc", "code",
    "git_commit", "seconds" (the point's wall time when it was computed)} each; ``reset`` empties the log after
    reading it."""
    out = list(_LOG)
    if reset:
        _LOG.clear()
    return out


def _load(path: Path, point: dict) -> dict | None:
    """The finished record of ``point`` at ``path``; None when there is none yet. A file that is there but is
    not this point's record (corrupt, edited, from elsewhere) is a BadFileError: it is reported, not silently
    recomputed over."""
    if not path.exists():
        return None
    what = "a memsep sweep point record"
    rec = require_keys(path, read_json(path, what), ("point", "result"), what)
    if rec["point"] != json.loads(json.dumps(point)):
        raise BadFileError(path, "holds another point than its name says (delete it to recompute this point)")
    if not isinstance(rec["result"], dict) or not isinstance(rec.get("seconds", 0.0), (int, float)):
        raise BadFileError(path, f"is not {what} (result must be an object; delete it to recompute this point)")
    return rec


def shared_run() -> bool:
    """Whether this process is one of several torchrun workers (WORLD_SIZE > 1): sweeps are then shared."""
    import os

    return os.environ.get("WORLD_SIZE", "1").strip() not in ("", "0", "1")


def run_sweep(
    points: list[dict], fn: Callable[[dict], dict], folder: Path, *, desc: str = "sweep", progress: bool = False
) -> list[dict]:
    """Run ``fn`` on every point not already finished in ``folder``; return all records in order.

    Each record: {"point", "result", "seconds", "reused"}; "reused" is True for points read back. Under torchrun
    the points are shared among the workers (module doc; ``empirical.workers.run_sweep_shared``).
    """
    if shared_run():
        from .workers import run_sweep_shared

        return run_sweep_shared(points, fn, folder)
    return run_sweep_local(points, fn, folder, desc=desc, progress=progress)


def run_sweep_local(
    points: list[dict], fn: Callable[[dict], dict], folder: Path, *, desc: str = "sweep", progress: bool = False
) -> list[dict]:
    """``run_sweep`` in this process alone: every point not already finished in ``folder`` is computed here."""
    from .provenance import environment, run_stamp

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = None
    records = []
    iterator = points
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(points, desc=desc, leave=False)
    for point in iterator:
        key = record_key(point)
        path = folder / f"{key}.json"
        rec = _load(path, point)
        if rec is None:
            t0 = time.perf_counter()
            result = fn(point)
            env = env or {
                k: v
                for k, v in environment().items()
                if k in ("packages", "device", "git_commit", "git_dirty", "code", "memsep")
            }
            rec = {
                "point": point,
                "result": result,
                "seconds": time.perf_counter() - t0,
                "finished_utc": run_stamp()["finished_utc"],
                "environment": env,
            }
            atomic_write_json(path, rec)
            rec = json.loads(path.read_text(encoding="utf-8"))  # the same JSON values a rerun reads back
            rec["reused"] = False
        else:
            rec["reused"] = True
        e = rec.get("environment") if isinstance(rec.get("environment"), dict) else {}
        _LOG.append(
            {
                "folder": str(folder),
                "key": key,
                "reused": rec["reused"],
                "finished_utc": rec.get("finished_utc"),
                "code": e.get("code"),
                "git_commit": e.get("git_commit"),
                "seconds": float(rec.get("seconds", 0.0)),
            }
        )
        records.append(rec)
    return records
