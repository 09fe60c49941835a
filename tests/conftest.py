"""Test configuration: Hypothesis profiles and shared fixtures.

Hypothesis profiles (chosen by the HYPOTHESIS_PROFILE environment variable, default "ci"):
  ci    25 examples, derandomized (the same examples every run, so CI is reproducible), no deadline
  dev   200 examples, random
  fuzz  5000 examples, random (long campaigns; `memsep fuzz` runs its own, see verify/fuzz.py)
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def temporary_claims():
    """``add(claim_id, check, configs=None)`` registers a throw-away claim (configs: one per profile, by default
    {"profile_size": i}); all are removed from the registry afterwards."""
    from memsep.verify.registry import PROFILES, REGISTRY, claim_ids, register

    claim_ids()  # make sure the real claims are registered first
    added = []

    def add(claim_id, check, configs=None):
        register(
            claim_id,
            title=f"temporary {claim_id}",
            paper_ref="test",
            statement="test claim",
            configs=configs or {p: {"profile_size": i} for i, p in enumerate(PROFILES)},
        )(check)
        added.append(claim_id)
        return REGISTRY[claim_id]

    yield add
    for claim_id in added:
        REGISTRY.pop(claim_id, None)


@pytest.fixture
def rng():
    """A fresh seeded generator per test (no global RNG)."""
    return np.random.default_rng(1234)
