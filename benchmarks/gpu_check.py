"""Check a GPU machine in one command: every claim at the ci size on CUDA, the DiT benchmark, and a short
full-size slice; one JSON of what passed and how fast.

    python benchmarks/gpu_check.py [--out gpu_check] [--claims S1,...] [--timeout 600]

Steps (each a subprocess, so one failure does not stop the others; each with its wall time):

  1. ``memsep run --profile ci --device cuda --claims C`` for every registered claim C (one call each):
     its verdict and rule outcomes (from ``<out>/ci/summary.json``). A claim passes this check when it
     finishes without ERROR; a NOT CONFIRMED verdict is a result, not a failure of the machine: the JSON
     keeps every rule's outcome and, where the repository holds the CPU run at the same size and seed
     (replicates/ci/seed-0/), the rules whose outcome differs from it ("differs_from_cpu").
  2. ``benchmarks/bench_dit.py --device cuda``: DiT training steps/s and peak memory per preset.
  3. ``benchmarks/bench_optimizer.py --device cuda``: AdamW's kernels on the GPU (the CPU default is fused).
  4. with two GPUs or more: A6 at the ci size under ``torchrun`` with one worker per GPU (up to 4), its sweep shared.
  5. other arithmetics (``--precisions``, default tf32,bf16): the training claims (A3-A6, M1-M4) at the ci size
     again under each (``benchmarks/precision_run.py``, a folder each), with the rules whose outcome differs from
     step 1's float32 run on the same GPU ("differs_from_fp32"), and ``bench_dit.py --precision``: speed and
     numeric change per arithmetic. An arithmetic is adopted for a claim only where its rules do not move.
  6. a full-size slice: ``memsep dit train`` of DiT-S/2 (the paper's network) on 64 digits for 200
     steps, then ``dit sample`` of 16 images: that the paper-scale model trains and samples on this GPU.

Without a CUDA device nothing runs: the JSON says why ("skipped") and the exit status is 0, so the
script can sit in a CPU test suite (tests/test_benchmarks.py). Exit status 1 if a step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING_CLAIMS = ("A3", "A4", "A5", "A6", "M1", "M2", "M3", "M4")  # the claims whose arithmetic is torch's


def _step(name: str, cmd: list[str], timeout: float, cwd: Path) -> dict:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        rc, tail = p.returncode, (p.stdout + p.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = None, f"timed out after {timeout:g} s"
    return {
        "step": name,
        "command": " ".join(cmd),
        "returncode": rc,
        "seconds": round(time.perf_counter() - t0, 2),
        "tail": tail,
    }


def _against_cpu(claim: str, runs: list[dict]) -> dict:
    """The GPU run's rule outcomes against the committed CPU run at the same size and seed
    (replicates/ci/seed-0/results/<claim>.json, where the repository has one): the rules whose outcome differs."""
    ref = ROOT / "replicates" / "ci" / "seed-0" / "results" / f"{claim}.json"
    if not ref.is_file() or not runs:
        return {"cpu_reference": None}
    cpu = {
        a["key"]: a.get("outcome")
        for a in json.loads(ref.read_text(encoding="utf-8"))["result"]["assertions"]
        if a.get("key")
    }
    gpu = runs[0].get("rules", {})
    return {
        "cpu_reference": str(ref.relative_to(ROOT)),
        "differs_from_cpu": {
            k: {"cpu": cpu.get(k), "gpu": gpu.get(k)} for k in sorted(set(cpu) | set(gpu)) if cpu.get(k) != gpu.get(k)
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("gpu_check"), help="folder for the runs and gpu_check.json")
    ap.add_argument("--claims", default=None, help="comma-separated claim ids (default: every registered claim)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per step (default 600)")
    ap.add_argument(
        "--precisions",
        default="tf32,bf16",
        help="arithmetics to rerun the training claims under (comma-separated; '' for none; default tf32,bf16)",
    )
    args = ap.parse_args(argv)
    import torch

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "steps": []}
    if not torch.cuda.is_available():
        report["skipped"] = "no CUDA device (torch.cuda.is_available() is False): nothing was run"
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"gpu_check: skipped, no CUDA device; wrote {out / 'gpu_check.json'}")
        return 0
    report["gpu"] = torch.cuda.get_device_name(0)
    from memsep.verify.registry import claim_ids

    claims = args.claims.split(",") if args.claims else claim_ids()
    py = sys.executable
    for c in claims:
        s = _step(
            f"ci {c}",
            [
                py,
                "-m",
                "memsep.verify",
                "run",
                "--claims",
                c,
                "--profile",
                "ci",
                "--device",
                "cuda",
                "--out",
                str(out / "ci"),
                "--no-progress",
            ],
            args.timeout,
            ROOT,
        )
        summary = out / "ci" / "summary.json"  # rewritten by each call: read it now
        runs = json.loads(summary.read_text(encoding="utf-8")).get("runs", []) if summary.is_file() else []
        s["runs"] = [r for r in runs if r.get("claim") == c]
        s.update(_against_cpu(c, s["runs"]))
        s["finished"] = (
            s["returncode"] in (0, 1) and bool(s["runs"]) and all(r["verdict"] != "ERROR" for r in s["runs"])
        )
        summary.unlink(missing_ok=True)
        report["steps"].append(s)
    report["steps"].append(
        _step(
            "bench_dit",
            [py, str(ROOT / "benchmarks" / "bench_dit.py"), "--device", "cuda", "--json", str(out / "bench_dit.json")],
            args.timeout,
            ROOT,
        )
    )
    report["steps"].append(
        _step(
            "bench_optimizer",
            [py, str(ROOT / "benchmarks" / "bench_optimizer.py"), "--device", "cuda", "--presets", "mlp-400k,dit-tiny"],
            args.timeout,
            ROOT,
        )
    )
    if torch.cuda.device_count() >= 2:  # the sweep shared by torchrun workers, one GPU each (README)
        n = min(torch.cuda.device_count(), 4)
        s = _step(
            f"torchrun: A6 ci on {n} GPUs",
            [py, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", "-m", "memsep.verify",
             "run", "--claims", "A6", "--profile", "ci", "--device", "cuda", "--out", str(out / "torchrun"),
             "--no-progress"],
            args.timeout,
            ROOT,
        )  # fmt: skip
        res = out / "torchrun" / "results" / "A6.json"
        rec = json.loads(res.read_text(encoding="utf-8")) if res.is_file() else None
        s["workers"] = rec["provenance"].get("workers") if rec else None
        s["finished"] = s["returncode"] in (0, 1) and rec is not None and rec["result"]["verdict"] != "ERROR"
        report["steps"].append(s)
    fp32_rules = {s["step"].split()[1]: (s["runs"][0].get("rules", {}) if s["runs"] else None)
                  for s in report["steps"] if s["step"].startswith("ci ")}  # fmt: skip
    precisions = [p for p in args.precisions.split(",") if p]
    for p in precisions:
        for c in [c for c in claims if c in TRAINING_CLAIMS]:
            s = _step(
                f"{p} {c}",
                [py, str(ROOT / "benchmarks" / "precision_run.py"), p, "run", "--claims", c, "--profile", "ci",
                 "--device", "cuda", "--out", str(out / f"ci-{p}"), "--no-progress"],
                args.timeout,
                ROOT,
            )  # fmt: skip
            summary = out / f"ci-{p}" / "summary.json"
            runs = json.loads(summary.read_text(encoding="utf-8")).get("runs", []) if summary.is_file() else []
            s["runs"] = [r for r in runs if r.get("claim") == c]
            s["finished"] = (
                s["returncode"] in (0, 1) and bool(s["runs"]) and all(r["verdict"] != "ERROR" for r in s["runs"])
            )
            mine, ref = (s["runs"][0].get("rules", {}) if s["runs"] else {}), fp32_rules.get(c) or {}
            s["differs_from_fp32"] = {
                k: {"fp32": ref.get(k), p: mine.get(k)}
                for k in sorted(set(ref) | set(mine))
                if ref.get(k) != mine.get(k)
            }
            summary.unlink(missing_ok=True)
            report["steps"].append(s)
    if precisions:
        report["steps"].append(
            _step(
                "bench_dit precision",
                [
                    py,
                    str(ROOT / "benchmarks" / "bench_dit.py"),
                    "--device",
                    "cuda",
                    "--presets",
                    "dit-tiny,DiT-S/2",
                    "--precision",
                    ",".join(["fp32", *precisions]),
                    "--json",
                    str(out / "bench_dit_precision.json"),
                ],
                args.timeout,
                ROOT,
            )  # fmt: skip
        )
    run = out / "dit-s2"
    report["steps"].append(
        _step(
            "full slice: DiT-S/2 train",
            [
                py,
                "-m",
                "memsep.verify",
                "dit",
                "train",
                "--run",
                str(run),
                "--preset",
                "DiT-S/2",
                "--n",
                "64",
                "--steps",
                "200",
                "--device",
                "cuda",
                "--overwrite",
                "--no-progress",
            ],
            args.timeout,
            ROOT,
        )
    )
    report["steps"].append(
        _step(
            "full slice: DiT-S/2 sample",
            [
                py,
                "-m",
                "memsep.verify",
                "dit",
                "sample",
                "--run",
                str(run),
                "--samples",
                "16",
                "--device",
                "cuda",
                "--overwrite",
                "--no-progress",
            ],
            args.timeout,
            ROOT,
        )
    )
    # a ci claim fails this check only by not finishing (an ERROR verdict, exit 2, a timeout); a NOT CONFIRMED
    # verdict (exit 1) is a result, compared with the CPU's by reading "runs"
    bad = [s["step"] for s in report["steps"] if not (s["finished"] if "finished" in s else s["returncode"] == 0)]
    report["failed_steps"] = bad
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(
        f"gpu_check: {len(report['steps']) - len(bad)} of {len(report['steps'])} steps ran; wrote "
        f"{out / 'gpu_check.json'}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
