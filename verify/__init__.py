"""memsep.verify: the claim registry, the checks, Hypothesis strategies, the CLI and the report."""

from .registry import PROFILES, REGISTRY, CheckResult, Claim, Context, Findings, claim_ids, get_claims, register

__all__ = ["PROFILES", "REGISTRY", "CheckResult", "Claim", "Context", "Findings", "claim_ids", "get_claims",
           "register"]
