"""``memsep run`` under torchrun (README "Running the full profile"): a claim's sweep shared by two workers gives
the results one process gives, and a worker killed mid-sweep leaves a run that a rerun finishes without
recomputing the points already finished.

A6 at the ci size: its models are one list of sweep points (``empirical.sweep.run_sweep``), which the workers
share point by point through claim files (``empirical.workers``); rank 0 writes. The workers coordinate through
the filesystem, so no process group is needed (torchrun's ``--standalone`` rendezvous only starts them). Compared
with the single-process run: the whole results file except what says when, how long, where and by whom a number
was computed (timings, environment, provenance, the records' "reused" flags).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLAIM = "A6"
NOT_COMPARED = {"runtime_s", "seconds", "finished_utc", "environment", "provenance", "reused"}
NOT_COMPARED_COLUMNS = {"train+sample s", "read back", "seconds"}  # wall times, and who computed a point


def _strip(x):
    if isinstance(x, dict):
        if {"columns", "rows"} <= set(x):  # a table: drop the timing columns
            keep = [i for i, c in enumerate(x["columns"]) if c not in NOT_COMPARED_COLUMNS]
            x = {**x, "columns": [x["columns"][i] for i in keep], "rows": [[r[i] for i in keep] for r in x["rows"]]}
        return {k: _strip(v) for k, v in x.items() if k not in NOT_COMPARED}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def _command(out: Path, nproc: int | None, claim: str = CLAIM) -> list[str]:
    run = ["run", "--claims", claim, "--profile", "ci", "--out", str(out), "--no-progress"]
    if nproc is None:
        return [sys.executable, "-m", "memsep.verify", *run]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "memsep.verify", *run]  # fmt: skip


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _points(out: Path) -> Path:
    return out / "results" / "sweeps" / CLAIM / "ci" / "points"


def _results(out: Path) -> dict:
    return json.loads((out / "results" / f"{CLAIM}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    proc = subprocess.run(_command(out, None), env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.returncode, _results(out)


def test_two_workers_give_the_results_of_one_process(single, tmp_path):
    status, one = single
    proc = subprocess.run(_command(tmp_path, 2), env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == status, proc.stdout[-3000:] + proc.stderr[-3000:]
    two = _results(tmp_path)
    assert _strip(two) == _strip(one)
    assert two["provenance"]["workers"] == 2 and one["provenance"]["workers"] == 1
    sweeps = two["provenance"]["sweeps"]
    # rank 0 computed some points and read the other worker's back: the sweep was shared, each point computed once
    assert sweeps["computed"] >= 1 and sweeps["read_back"] >= 1, sweeps
    records = sorted(_points(tmp_path).glob("*.json"))
    assert len(records) == sweeps["computed"] + sweeps["read_back"]
    assert not list(_points(tmp_path).glob("*.claim")), "a finished sweep leaves no claim files"
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "REPORT.md").is_file()


def test_a_killed_worker_leaves_a_run_that_a_rerun_finishes_without_recomputing(single, tmp_path):
    _, one = single
    proc = subprocess.Popen(_command(tmp_path, 2), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    victim = None
    try:
        deadline = time.monotonic() + 600
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            folder = _points(tmp_path)
            done = list(folder.glob("*.json")) if folder.is_dir() else []
            for claim in folder.glob("*.claim") if done else []:
                try:
                    holder = json.loads(claim.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if holder.get("rank") == 1:
                    victim = int(holder["pid"])
                    break
            time.sleep(0.2)
        assert victim is not None, "worker 1 never held a point while another was finished"
        os.kill(victim, signal.SIGKILL)  # mid-sweep: it holds a point it has not finished
        assert proc.wait(timeout=120) != 0  # torchrun stops the group when a worker dies
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not (tmp_path / "results" / f"{CLAIM}.json").exists()
    finished = {p.name: p.stat().st_mtime_ns for p in _points(tmp_path).glob("*.json")}
    assert finished and list(_points(tmp_path).glob("*.claim")), "the kill left finished points and held claims"

    rerun = subprocess.run(_command(tmp_path, 2), env=_env(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode in (0, 1), rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert {p: _points(tmp_path).joinpath(p).stat().st_mtime_ns for p in finished} == finished, (
        "a point finished before the kill was computed again"
    )
    again = _results(tmp_path)
    assert _strip(again) == _strip(one)
    assert again["provenance"]["sweeps"]["read_back"] >= len(finished)
    assert not list(_points(tmp_path).glob("*.claim"))


def test_only_the_claims_with_sweeps_are_shared():
    from memsep.verify.cli import sharing_claims

    # the theory claims and A1/A2 compute nothing a sweep holds: under torchrun rank 0 alone runs them
    assert sharing_claims() == ["A3", "A4", "A5", "A6", "M1", "M2", "M3", "M4"]
    assert sharing_claims(["S1", "M2", "A6"]) == ["A6", "M2"]  # paper order, as the runner runs them
    assert sharing_claims(["S4"]) == []


@pytest.mark.parametrize("command", ["run", "replicate"])
def test_a_worker_other_than_rank_0_skips_the_claims_that_share_nothing(command, monkeypatch, tmp_path):
    """Rank 1 of 2 given only S4 runs nothing and writes nothing (rank 0 computes S4 whole)."""
    from memsep.verify import cli, runner

    calls = []
    monkeypatch.setattr(runner, "run_claims", lambda *a, **k: calls.append(a) or [])
    monkeypatch.setattr(runner, "run_replicates", lambda *a, **k: calls.append(a) or [])
    for k, v in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(k, v)
    seeds = ["--seed", "0"] if command == "run" else ["--seeds", "1"]
    argv = [command, "--claims", "S4", "--profile", "ci", *seeds, "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    assert calls == [] and list(tmp_path.iterdir()) == []
    argv[2] = "S4,A4"  # with a sharing claim, rank 1 runs that one alone
    assert cli.main(argv) == 0
    assert [a[0] for a in calls] == [["A4"]]
    calls.clear()
    argv[2] = "S1,A3,A6,M1"  # the sharing claims one at a time, last first: M1's originals start at once
    assert cli.main(argv) == 0
    assert [a[0] for a in calls] == [["M1"], ["A6"], ["A3"]]


def test_a_claim_that_shares_nothing_under_two_workers_gives_the_results_of_one_process(tmp_path):
    def run(out, nproc):
        proc = subprocess.run(_command(out, nproc, "S4"), env=_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads((out / "results" / "S4.json").read_text(encoding="utf-8"))

    one, two = run(tmp_path / "one", None), run(tmp_path / "two", 2)
    assert _strip(two) == _strip(one) and two["result"]["verdict"] == "CONFIRMED"
    assert two["provenance"]["workers"] == 2


def _pruning_stages(out: Path) -> Path:
    return out / "results" / "sweeps" / "pruning" / "ci" / "stages"


def _without_timings(r: dict) -> dict:
    """M1's results minus what says when and how long: _strip, every "*_seconds" entry (the originals'
    train_seconds) and the note on the stages' time."""

    def drop_seconds(x):
        if isinstance(x, dict):
            return {k: drop_seconds(v) for k, v in x.items() if not k.endswith("_seconds")}
        return [drop_seconds(v) for v in x] if isinstance(x, list) else x

    r = drop_seconds(_strip(r))
    r["result"]["notes"] = [n for n in r["result"]["notes"] if "when computed" not in n]
    return r


@pytest.mark.slow
def test_two_workers_share_the_pruning_stages_and_give_the_results_of_one_process(tmp_path):
    """M1 at the ci size (the stages of M1-M4): two workers give one process's results, each stage computed once."""
    env = _env()
    outs = {}
    for nproc in (None, 2):
        out = tmp_path / f"n{nproc}"
        cmd = [arg if arg != CLAIM else "M1" for arg in _command(out, nproc)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
        outs[nproc] = json.loads((out / "results" / "M1.json").read_text(encoding="utf-8"))
    one, two = outs[None], outs[2]
    assert _without_timings(two) == _without_timings(one)
    assert two["provenance"]["workers"] == 2
    # the two phases (originals, then the other stages) are shared sweeps: rank 0 reads back what rank 1 computed
    assert two["provenance"]["sweeps"]["read_back"] >= 1, two["provenance"]["sweeps"]
    stages = sorted(_pruning_stages(tmp_path / "n2").glob("*.json"))
    assert len(stages) == len(sorted(_pruning_stages(tmp_path / "nNone").glob("*.json")))
    assert not list(_pruning_stages(tmp_path / "n2").glob("*.claim"))
