"""Sweep points spread over torchrun workers: claim files next to the points' records, nothing else.

    records = run_sweep_shared(points, fn, folder)        # under torchrun: every rank calls it with the same points

A sweep's points are independent (``empirical.sweep``: one record file per finished point). Under
``torchrun --nproc_per_node=N`` (or several nodes sharing a filesystem) every worker walks the same
list; before computing a point it CLAIMS it by creating ``<key>.claim`` exclusively (``O_CREAT |
O_EXCL``: one creator wins, also on NFS v3 and later), writing who holds it (host, pid, rank, time).
A point that has a record is read back; a point another worker holds is left to it; a claim older
than ``stale_after`` seconds whose point still has no record belongs to a dead worker and is taken
over (the stale file is renamed away, which only one worker can do, and the point claimed afresh).
When a worker has nothing left to claim it waits until every point has a record, then reads all
records back in order, so every rank returns the same list, equal to what one process computes
(each point's computation depends only on the point: its seeds are in it).

Claims are never refreshed, so ``stale_after`` must exceed the longest point's wall time (default
6 hours); a finished point's claim file is removed with the record in place. A claim whose holder was a process
of this host that has exited (a torchrun group torn down when one worker died) is stale at once, so a rerun on
the same machine takes its points over without waiting. The worker's device is
its ``LOCAL_RANK`` (``worker()``); torch.distributed is not needed: the filesystem coordinates.

``empirical.sweep.run_sweep`` calls this whenever WORLD_SIZE > 1, so every claim's sweeps are shared under
``torchrun ... -m memsep.verify run``; the runner lets rank 0 alone write results, figures and the report.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from .sweep import record_key, run_sweep_local

__all__ = ["worker", "claim_point", "run_sweep_shared"]


def worker() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); (0, 1, 0) alone."""
    values = []
    for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)):
        text = os.environ.get(name, str(default))
        try:
            values.append(int(text))
        except ValueError:
            raise ValueError(f"{name}: must be an integer (set by torchrun), got {text!r}") from None
    rank, world, local = values
    if not (world >= 1 and 0 <= rank < world and local >= 0):
        raise ValueError(f"RANK, WORLD_SIZE, LOCAL_RANK: need 0 <= RANK < WORLD_SIZE, got {rank}, {world}, {local}")
    return rank, world, local


def _holder_dead(claim: Path) -> bool:
    """Whether the claim names a process on this host that no longer exists (a worker killed with its torchrun
    group): such a claim is stale at once, whatever its age. A claim from another host, or one that cannot be
    read (being written), is judged by its age alone."""
    try:
        holder = json.loads(claim.read_text(encoding="utf-8"))
        host, pid = holder["host"], int(holder["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def claim_point(claim: Path, *, rank: int, stale_after: float) -> bool:
    """Try to claim a point: True if this worker now holds ``claim``; False if another live worker does. A claim
    file older than ``stale_after`` seconds, or held by a process of this host that has exited, is a dead
    worker's: renamed away (one worker can) and claimed afresh."""
    claim = Path(claim)
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                age = time.time() - claim.stat().st_mtime
            except FileNotFoundError:
                continue  # released in between: try again
            if age <= stale_after and not _holder_dead(claim):
                return False
            try:
                os.rename(claim, claim.with_name(f"{claim.name}.stale-{os.getpid()}-{time.time_ns()}"))
            except FileNotFoundError:
                return False  # another worker took it over first
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "rank": rank, "time": time.time()}, fh)
        return True
    return False


def run_sweep_shared(
    points: list[dict],
    fn: Callable[[dict], dict],
    folder: Path,
    *,
    rank: int | None = None,
    stale_after: float = 6 * 3600.0,
    poll: float = 5.0,
    timeout: float | None = None,
) -> list[dict]:
    """``run_sweep`` with the points shared among workers by claim files (module doc); every worker returns all
    records, in order. ``rank`` defaults to torchrun's; ``timeout`` (seconds; None: no limit) bounds the wait for
    the other workers' points, after which a TimeoutError names what is still missing."""
    for name, v in (("stale_after", stale_after), ("poll", poll)):
        if not v > 0:
            raise ValueError(f"{name}: must be > 0 seconds, got {v}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rank = worker()[0] if rank is None else rank
    keys = [record_key(p) for p in points]
    mine: dict[str, dict] = {}  # records this worker computed (logged as computed)

    def take(point: dict, key: str) -> None:
        """Compute a point this worker holds the claim of, then release the claim."""
        claim = folder / f"{key}.claim"
        try:
            if not (folder / f"{key}.json").exists():  # finished by the claim's previous holder after all
                mine[key] = run_sweep_local([point], fn, folder)[0]
        finally:
            claim.unlink(missing_ok=True)

    for point, key in zip(points, keys):
        if not (folder / f"{key}.json").exists() and claim_point(
            folder / f"{key}.claim", rank=rank, stale_after=stale_after
        ):
            take(point, key)
    start = time.monotonic()
    while True:
        missing = [(p, k) for p, k in zip(points, keys) if not (folder / f"{k}.json").exists()]
        if not missing:
            break
        for point, key in missing:  # a dead worker's stale claims: take them over
            if claim_point(folder / f"{key}.claim", rank=rank, stale_after=stale_after):
                take(point, key)
        if all((folder / f"{k}.json").exists() for _, k in missing):
            break
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(
                f"folder: {len(missing)} point(s) still held by other workers after {timeout:g} s "
                f"(first: {missing[0][1]}.claim)"
            )
        time.sleep(poll)

    def not_recomputed(point):
        raise RuntimeError(f"point {record_key(point)} has no record after all workers finished")

    # the others' points are read back (and logged so, with the code that computed them); ours as computed
    return [mine[k] if k in mine else run_sweep_local([p], not_recomputed, folder)[0] for p, k in zip(points, keys)]
