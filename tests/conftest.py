"""Shared test settings: hypothesis profiles (quick by default, `fuzz-quick` for the run CI adds
over the layout-wide properties, `fuzz` for the long runs)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# 50 examples a property keep the suite within its five minutes on two cores (the round trips of
# every layout and edition are a third of it); CI runs those again with 150 (`.ci/run`).
settings.register_profile(
    "default", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz-quick", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
