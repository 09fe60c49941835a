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
    not; the JSON lists the failed steps and the exit status is 1."""
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

    def fake_step(name, cmd, timeout, cwd):
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
    assert report["failed_steps"] == ["ci S2", "bench_dit", "bench_optimizer", "full slice: DiT-S/2 sample"]
    tr = next(s for s in report["steps"] if s["step"].startswith("torchrun"))
    assert tr["finished"] and tr["workers"] == 2
    assert report["steps"][0]["runs"][0]["verdict"] == "NOT CONFIRMED" and report["steps"][0]["finished"]
    # against the committed CPU run at the same size and seed: S1 has none here, A6 differs in the one flipped rule
    assert report["steps"][0]["cpu_reference"] is None
    a6 = report["steps"][2]
    assert a6["cpu_reference"] == "replicates/ci/seed-0/results/A6.json"
    assert list(a6["differs_from_cpu"]) == [flipped] and a6["differs_from_cpu"][flipped]["cpu"] == a6_rules[flipped]
