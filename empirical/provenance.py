"""Provenance: the environment a run happened in and the code that ran, recorded with every results file.

environment()        package versions (every dependency that computes numbers), Python, platform, CPUs,
                     device, memsep's version, the git commit and whether the tree was dirty, and
                     the fingerprint of the code
code_fingerprint()   SHA-256 (16 hex digits) over the sources of theory/, empirical/ and verify/: it
                     changes with any change of the code that computes results, committed or not;
                     resumable sweeps key their points with it, so a changed code never reuses a point
run_stamp()          when (UTC) and by which command line a run was made
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "code_fingerprint", "package_versions", "run_stamp", "memsep_version", "ROOT"]

_PACKAGES = ("numpy", "scipy", "sympy", "torch", "hypothesis", "matplotlib", "tqdm", "scikit-learn")
# The packages whose versions can change a computed number: part of a sweep point's key.
NUMERIC_PACKAGES = ("numpy", "scipy", "torch", "scikit-learn")
ROOT = Path(__file__).resolve().parent.parent
_CODE_DIRS = ("theory", "empirical", "verify")


def memsep_version() -> str:
    try:
        return metadata.version("memsep")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def package_versions(names=_PACKAGES) -> dict:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """16 hex digits of SHA-256 over (path, bytes) of every .py file under theory/, empirical/ and verify/."""
    h = hashlib.sha256()
    for d in _CODE_DIRS:
        for p in sorted((ROOT / d).rglob("*.py")):
            h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def run_stamp() -> dict:
    """{"finished_utc": ISO time, "command": the command line}."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if prog == "__main__.py":  # python -m memsep.verify ...
        prog = "python -m memsep.verify"
    return {
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([prog, *sys.argv[1:]]) if sys.argv else "",
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str | None:
    """The CPU's model name (Linux: /proc/cpuinfo's first "model name"; elsewhere platform.processor()), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def _device() -> dict:
    try:
        import torch
    except ImportError:
        return {"torch": None, "cuda": False}
    info = {"cuda": bool(torch.cuda.is_available()), "torch_threads": torch.get_num_threads()}
    # the instruction set torch's CPU kernels dispatch on (e.g. AVX2, AVX512): results of the same code and seeds
    # can differ in the last bits between CPUs that dispatch differently (README, "Training is reproducible on
    # one machine, not across machines")
    get_cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    info["cpu_capability"] = get_cap() if get_cap is not None else None
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def environment() -> dict:
    """Package versions, Python, platform, CPU count, device, memsep's version, git commit (with a dirty flag)
    and the code fingerprint."""
    versions = package_versions()
    root = ROOT
    commit = _git(["rev-parse", "HEAD"], root)
    # Dirty = tracked sources changed; the runs' own outputs (results/, figures/, replicates/, REPORT.md,
    # summary.json) do not count, so a run into a clone whose committed results it replaces is not "dirty".
    status = _git(
        [
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)results",
            ":(exclude)figures",
            ":(exclude)replicates",
            ":(exclude)REPORT.md",
            ":(exclude)summary.json",
        ],
        root,
    )
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "packages": versions,
        "device": _device(),
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "memsep": memsep_version(),
        "code": code_fingerprint(),
    }
