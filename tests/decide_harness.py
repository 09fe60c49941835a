"""Negative and positive controls of the decision rules (issue 12): every claim's ``decide`` is run on synthetic
measurements built to be CONFIRMED, NOT CONFIRMED and INCONCLUSIVE, so a rule that cannot fail (or cannot pass,
or cannot abstain) is caught.

Each tests/test_decide_<group>.py defines ``SYNTHETIC = {claim_id: {verdict: builder}}`` (builder() -> the claim's
measurements dataclass) and calls ``parametrize_synthetic(SYNTHETIC)`` to get its test; tests/test_protocol.py
checks that the union of all SYNTHETIC tables covers every registered claim with all three verdicts.
"""

from __future__ import annotations

import pytest

from memsep.verify.registry import REGISTRY, claim_ids, verdict_of

VERDICTS3 = ("CONFIRMED", "NOT CONFIRMED", "INCONCLUSIVE")


def verdict_for(claim_id: str, m, profile: str = "quick") -> tuple[str, list]:
    """(verdict, decisions) of ``claim_id``'s rules on measurements ``m`` with the ``profile`` config."""
    claim_ids()
    claim = REGISTRY[claim_id]
    decisions = claim.decisions(m, claim.config(profile))
    return verdict_of(a.outcome for a in decisions), decisions


def parametrize_synthetic(synthetic: dict):
    """A test function checking every (claim, verdict, builder) of ``synthetic``."""
    cases = [
        pytest.param(cid, v, b, id=f"{cid}-{v.replace(' ', '_')}")
        for cid, table in synthetic.items()
        for v, b in table.items()
    ]

    @pytest.mark.parametrize("claim_id, expected, build", cases)
    def test_decide_on_synthetic_measurements(claim_id, expected, build):
        verdict, decisions = verdict_for(claim_id, build())
        assert verdict == expected, "\n".join(f"{a.key}: {a.outcome}: {a.detail}" for a in decisions)

    return test_decide_on_synthetic_measurements
