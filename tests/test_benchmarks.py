"""benchmarks/gpu_check.py on a machine without CUDA: it runs, skips cleanly and says so (exit 0, one JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the check would really run")
def test_gpu_check_skips_cleanly_without_cuda(tmp_path):
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "g")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "g" / "gpu_check.json").read_text(encoding="utf-8"))
    assert report["cuda"] is False and report["steps"] == [] and "no CUDA device" in report["skipped"]
    assert "skipped" in p.stdout


def test_gpu_check_has_help():
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0 and "--claims" in p.stdout and "--timeout" in p.stdout


def test_gpu_check_bookkeeping_with_a_fake_device(tmp_path, monkeypatch):
    """With the steps faked: a NOT CONFIRMED claim (exit 1) counts as finished, an ERROR and a failed DiT step do
    not; the JSON lists the failed steps and the exit status is 1; a rule moved by another arithmetic is listed
    against the float32 run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "fake GPU")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # two GPUs: the torchrun step runs too
    cpu = json.loads((ROOT / "replicates" / "ci" / "seed-0" / "results" / "A6.json").read_text(encoding="utf-8"))
    a6_rules = {a["key"]: a["outcome"] for a in cpu["result"]["assertions"]}
    flipped = next(iter(a6_rules))
    verdicts = {"S1": ("NOT CONFIRMED", 1), "S2": ("ERROR", 1), "A6": (cpu["result"]["verdict"], 1)}
    rules = {"A6": {**a6_rules, flipped: "inconclusive" if a6_rules[flipped] != "inconclusive" else "pass"}}

    bf16_rules = {**rules["A6"], flipped: "fail" if rules["A6"][flipped] != "fail" else "pass"}

    def fake_step(name, cmd, timeout, cwd):
        if name.split()[0] in ("tf32", "bf16"):  # A6 under another arithmetic: tf32 as fp32, bf16 moves one rule
            p, c = name.split()
            assert cmd[1].endswith("precision_run.py") and cmd[2] == p and c == "A6"
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            r = rules["A6"] if p == "tf32" else bf16_rules
            (out / "summary.json").write_text(json.dumps({"runs": [{"claim": c, "verdict": "X", "rules": r}]}))
            return {"step": name, "returncode": 1}
        if name.startswith("ci "):
            c = name.split()[1]
            v, rc = verdicts[c]
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "summary.json").write_text(
                json.dumps({"runs": [{"claim": c, "verdict": v, "rules": rules.get(c, {})}]})
            )
            return {"step": name, "returncode": rc}
        if name.startswith("torchrun"):  # two workers wrote A6's results (rank 0), NOT CONFIRMED: exit 1
            assert "--nproc_per_node=2" in cmd
            out = Path(cmd[cmd.index("--out") + 1]) / "results"
            out.mkdir(parents=True, exist_ok=True)
            (out / "A6.json").write_text(json.dumps({**cpu, "provenance": {"workers": 2}}))
            return {"step": name, "returncode": 1}
        return {"step": name, "returncode": 0 if "train" in name else 3}

    monkeypatch.setattr(gc, "_step", fake_step)
    assert gc.main(["--out", str(tmp_path / "g"), "--claims", "S1,S2,A6"]) == 1
    report = json.loads((tmp_path / "g" / "gpu_check.json").read_text(encoding="utf-8"))
    assert report["gpu"] == "fake GPU"
    assert report["failed_steps"] == [
        "ci S2",
        "bench_dit",
        "bench_optimizer",
        "bench_dit precision",
        "full slice: DiT-S/2 sample",
    ]
    by_name = {s["step"]: s for s in report["steps"]}
    assert {"tf32 A6", "bf16 A6"} <= set(by_name) and "tf32 S1" not in by_name  # training claims only
    assert by_name["tf32 A6"]["finished"] and by_name["tf32 A6"]["differs_from_fp32"] == {}
    assert list(by_name["bf16 A6"]["differs_from_fp32"]) == [flipped]
    tr = next(s for s in report["steps"] if s["step"].startswith("torchrun"))
    assert tr["finished"] and tr["workers"] == 2
    assert report["steps"][0]["runs"][0]["verdict"] == "NOT CONFIRMED" and report["steps"][0]["finished"]
    # against the committed CPU run at the same size and seed: S1 has none here, A6 differs in the one flipped rule
    assert report["steps"][0]["cpu_reference"] is None
    a6 = report["steps"][2]
    assert a6["cpu_reference"] == "replicates/ci/seed-0/results/A6.json"
    assert list(a6["differs_from_cpu"]) == [flipped] and a6["differs_from_cpu"][flipped]["cpu"] == a6_rules[flipped]


def _load(name: str):
    import importlib.util

    sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import benchmarks/saved.py as `saved`
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_timing_table_splits_each_claims_time(tmp_path, capsys):
    """One row per claim in paper order: total, points computed / read back, the points' time and the rest."""
    tt = _load("timing_table")
    (tmp_path / "results").mkdir()
    env = {"git_commit": "0" * 40}
    for cid, runtime, sweeps in (
        ("A6", 100.0, {"computed": 3, "read_back": 1, "computed_seconds": 80.0}),
        ("S1", 5.0, {"computed": 0, "read_back": 0}),
    ):
        rec = {"claim": {"id": cid}, "profile": "quick", "runtime_s": runtime, "environment": env,
               "provenance": {"sweeps": sweeps}}  # fmt: skip
        (tmp_path / "results" / f"{cid}.json").write_text(json.dumps(rec))
    assert tt.main(["--out", str(tmp_path), "--save", str(tmp_path / "t.json")]) == 0
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["claim"] for r in rows] == ["S1", "A6"]
    assert rows[1]["points_s"] == 80.0 and rows[1]["rest_s"] == 20.0 and rows[0]["points_s"] is None
    out = capsys.readouterr().out
    assert "total 105 s" in out and "workers None" in out
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["total_s"] == 105.0 and saved["run"]["git_commit"] == "0" * 40

    # against a saved table: a ratio only where the profile is the same and neither run read points back
    then = {"rows": [{"claim": "S1", "profile": "quick", "runtime_s": 10.0, "points_read_back": 0},
                     {"claim": "A6", "profile": "standard", "runtime_s": 50.0, "points_read_back": 0}]}  # fmt: skip
    (tmp_path / "then.json").write_text(json.dumps(then))
    assert tt.main(["--out", str(tmp_path), "--against", str(tmp_path / "then.json")]) == 0
    out = capsys.readouterr().out
    assert "| S1 | quick | 5 | 0 | 0 | - | - | 10 | 0.50 |" in out and "| 50 | - |" in out
    assert "the 1 claims comparable" in out and "now / then 0.50" in out
    (tmp_path / "bad.json").write_text("{")
    assert tt.main(["--out", str(tmp_path), "--against", str(tmp_path / "bad.json")]) == 2
    assert "against" in capsys.readouterr().err


def test_saved_runs_print_the_ratio_to_the_last_one(tmp_path, monkeypatch):
    saved = _load("saved")
    monkeypatch.setattr(saved, "RESULTS", tmp_path)
    assert saved.load("x") is None and saved.versus(None, ("d", 32), "s", 1.0) == ""
    saved.save("x", {"rows": [{"d": 32, "s": 2.0}]})
    assert saved.versus(saved.load("x"), ("d", 32), "s", 1.0) == "  (last saved: 2, now/last 0.50)"
    assert saved.versus(saved.load("x"), ("d", 8), "s", 1.0) == ""


def test_bench_dit_precision_compares_with_fp32_and_refuses_bad_names(capsys):
    """bf16 autocast exists on the CPU: the run gives a row per arithmetic, float32's against itself unchanged;
    tf32 without CUDA and unknown names exit 2 with one line."""
    bd = _load("bench_dit")
    assert bd.main(["--presets", "dit-mini", "--precision", "fp32,bf16", "--steps", "2", "--batch", "8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "fp32:" in lines[0] and "1.00x fp32" in lines[0] and "bf16:" in lines[1]
    assert "forward max change 0.00e+00" in lines[0] and "forward max change 0.00e+00" not in lines[1]
    for bad in (["--precision", "tf32"], ["--precision", "fp64"]):
        assert bd.main(bad) == 2
        assert "precision" in capsys.readouterr().err


def test_precision_run_refuses_bad_arguments(capsys):
    pr = _load("precision_run")
    assert pr.main(["fp64", "list"]) == 2 and "precision" in capsys.readouterr().err
    assert pr.main(["bf16", "list"]) == 2 and "--out" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert pr.main(["tf32", "run", "--out", "x"]) == 2 and "CUDA" in capsys.readouterr().err
