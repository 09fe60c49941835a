"""empirical.workers: sweep points shared among worker processes by claim files (issue 18's engine, not yet wired into
the claims). Real processes on one filesystem, as torchrun's workers are."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from memsep.empirical.sweep import record_key, run_sweep
from memsep.empirical.workers import claim_point, run_sweep_shared, worker

POINTS = [{"kind": "toy", "i": i} for i in range(8)]


def _slow_square(point: dict, log: str, delay: float) -> dict:
    with open(log, "a", encoding="utf-8") as fh:  # one line per computation, from any process
        fh.write(f"{point['i']}\n")
    time.sleep(delay)
    return {"square": point["i"] ** 2}


class _Fn:
    """A picklable fn(point) for spawned workers."""

    def __init__(self, log: Path, delay: float):
        self.log, self.delay = str(log), delay

    def __call__(self, point: dict) -> dict:
        return _slow_square(point, self.log, self.delay)


def _worker(rank: int, folder: str, log: str, delay: float, out: str) -> None:
    recs = run_sweep_shared(POINTS, _Fn(Path(log), delay), Path(folder), rank=rank, poll=0.05, timeout=60)
    Path(out).write_text(",".join(str(r["result"]["square"]) for r in recs), encoding="utf-8")


def _computed(log: Path) -> list[int]:
    return sorted(int(x) for x in log.read_text(encoding="utf-8").split()) if log.exists() else []


def test_two_workers_compute_each_point_once_and_return_what_one_process_does(tmp_path):
    ctx = mp.get_context("spawn")
    folder, log = tmp_path / "points", tmp_path / "calls.txt"
    procs = [
        ctx.Process(target=_worker, args=(r, str(folder), str(log), 0.2, str(tmp_path / f"out{r}"))) for r in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert _computed(log) == list(range(8))  # every point once, none twice
    alone = run_sweep(POINTS, _Fn(tmp_path / "alone.txt", 0.0), tmp_path / "alone")
    expected = ",".join(str(r["result"]["square"]) for r in alone)
    assert (tmp_path / "out0").read_text() == (tmp_path / "out1").read_text() == expected
    assert not list(folder.glob("*.claim"))  # claims are released


def test_a_dead_workers_points_are_finished_by_a_rerun_without_recomputing_the_rest(tmp_path):
    """A worker killed mid-sweep leaves finished records and one stale claim; a rerun (after the claim is stale)
    computes only what is missing."""
    ctx = mp.get_context("spawn")
    folder, log = tmp_path / "points", tmp_path / "calls.txt"
    p = ctx.Process(target=_worker, args=(0, str(folder), str(log), 0.5, str(tmp_path / "out0")))
    p.start()
    deadline = time.monotonic() + 60
    while len(list(folder.glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    p.kill()
    p.join(30)
    done = {f.stem for f in folder.glob("*.json")}
    assert 3 <= len(done) < 8
    before = _computed(log)
    recs = run_sweep_shared(POINTS, _Fn(log, 0.0), folder, rank=1, stale_after=0.5, poll=0.05, timeout=30)
    assert [r["result"]["square"] for r in recs] == [i * i for i in range(8)]
    after = _computed(log)
    redone = [i for i in after if after.count(i) > 1]
    assert len(after) - len(before) == 8 - len(done) and len(set(redone)) <= 1  # at most the killed point again
    assert all(r["reused"] == (record_key(pt) in done) for r, pt in zip(recs, POINTS))


def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path):
    claim = tmp_path / "k.claim"
    assert claim_point(claim, rank=0, stale_after=60) is True
    assert claim_point(claim, rank=1, stale_after=60) is False  # held by a live worker
    old = time.time() - 120
    os.utime(claim, (old, old))
    assert claim_point(claim, rank=1, stale_after=60) is True  # a dead worker's: taken over
    assert len(list(tmp_path.glob("k.claim.stale-*"))) == 1


def test_a_point_held_by_another_worker_is_waited_for_within_the_timeout(tmp_path):
    folder = tmp_path / "points"
    folder.mkdir()
    held = record_key(POINTS[0])
    assert claim_point(folder / f"{held}.claim", rank=7, stale_after=60)
    with pytest.raises(TimeoutError, match=f"{held}.claim"):
        run_sweep_shared(POINTS[:2], _Fn(tmp_path / "c.txt", 0.0), folder, rank=0, poll=0.05, timeout=0.3)
    assert _computed(tmp_path / "c.txt") == [1]  # it did the free point meanwhile


@pytest.mark.parametrize("env, match", [({"RANK": "x"}, "RANK"), ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK")])
def test_worker_identity_from_torchrun_environment(monkeypatch, env, match):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert worker() == (0, 1, 0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert worker() == (1, 4, 1)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=match):
        worker()


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="stale_after"):
        run_sweep_shared(POINTS, _Fn(tmp_path / "c.txt", 0.0), tmp_path, rank=0, stale_after=0)
    with pytest.raises(ValueError, match="poll"):
        run_sweep_shared(POINTS, _Fn(tmp_path / "c.txt", 0.0), tmp_path, rank=0, poll=-1)
