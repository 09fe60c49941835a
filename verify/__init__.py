"""memsep.verify: the claim registry, the checks, Hypothesis strategies, the CLI and the report.

The registry's names are imported on first use (PEP 562): ``memsep --help``, ``--version`` and ``list`` import
this package but not the numerical code behind the registry (numpy, scipy, torch).
"""

import importlib

_LAZY = {
    "PROFILES": "registry",
    "REGISTRY": "registry",
    "CheckResult": "registry",
    "Claim": "registry",
    "Context": "registry",
    "Findings": "registry",
    "claim_ids": "registry",
    "get_claims": "registry",
    "register": "registry",
}

__all__ = ["PROFILES", "REGISTRY", "CheckResult", "Claim", "Context", "Findings", "claim_ids", "get_claims", "register"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
