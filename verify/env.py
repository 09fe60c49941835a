"""The environment a run happened in, recorded with every results file."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["environment"]

_PACKAGES = ("numpy", "scipy", "sympy", "torch", "hypothesis", "matplotlib", "tqdm")


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _device() -> dict:
    try:
        import torch
    except ImportError:
        return {"torch": None, "cuda": False}
    info = {"cuda": bool(torch.cuda.is_available()), "torch_threads": torch.get_num_threads()}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def environment() -> dict:
    """Package versions, Python, platform, CPU count, device and git commit (with a dirty flag)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    root = Path(__file__).resolve().parent.parent
    commit = _git(["rev-parse", "HEAD"], root)
    # Dirty = tracked sources changed; the run's own outputs (results/, figures/, REPORT.md) do not count.
    status = _git(["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results",
                   ":(exclude)figures", ":(exclude)REPORT.md"], root)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "device": _device(),
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
    }
