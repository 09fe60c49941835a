"""Resumable sweeps: one JSON file per finished point, so a killed run loses nothing.

    results = run_sweep(points, fn, folder)

``points`` is a list of JSON-ready dicts that fully determine a computation (sizes, seeds,
training settings); ``fn(point) -> dict`` does it. Each finished point is written atomically
to ``folder/<key>.json`` with its point, result, wall seconds and the package versions; a rerun
reads the files whose point matches and computes only the missing ones. The key is a hash of
the canonical JSON of the point, so changing any setting makes a new point instead of reusing
a stale result. A file at a point's name that is not that point's record is reported
(BadFileError) rather than recomputed over.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

from .fileio import BadFileError, atomic_write_json, read_json, require_keys

__all__ = ["point_key", "run_sweep"]


def point_key(point: dict) -> str:
    """16 hex digits of SHA-1 over the canonical JSON of ``point``."""
    text = json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


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


def run_sweep(points: list[dict], fn: Callable[[dict], dict], folder: Path, *, desc: str = "sweep",
              progress: bool = False) -> list[dict]:
    """Run ``fn`` on every point not already finished in ``folder``; return all records in order.

    Each record: {"point", "result", "seconds", "reused"}; "reused" is True for points read back.
    """
    from verify.env import environment

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = None
    records = []
    iterator = points
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(points, desc=desc, leave=False)
    for point in iterator:
        path = folder / f"{point_key(point)}.json"
        rec = _load(path, point)
        if rec is not None:
            rec["reused"] = True
            records.append(rec)
            continue
        t0 = time.perf_counter()
        result = fn(point)
        env = env or {k: v for k, v in environment().items() if k in ("packages", "device", "git_commit")}
        rec = {"point": point, "result": result, "seconds": time.perf_counter() - t0, "environment": env}
        atomic_write_json(path, rec)
        rec = json.loads(path.read_text(encoding="utf-8"))      # the same JSON values a rerun reads back
        rec["reused"] = False
        records.append(rec)
    return records
