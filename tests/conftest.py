"""Test configuration: Hypothesis profiles and shared fixtures.

Hypothesis profiles (chosen by the HYPOTHESIS_PROFILE environment variable, default "ci"):
  ci    25 examples, derandomized (the same examples every run, so CI is reproducible), no deadline
  dev   200 examples, random
  fuzz  5000 examples, random (long campaigns; see `memsep fuzz` in a later issue)
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    """A fresh seeded generator per test (no global RNG)."""
    return np.random.default_rng(1234)
