"""Hypothesis example counts: each property test's full count in CI, a quarter of it in the inner loop.

tests/conftest.py registers two profiles: ``full`` (Hypothesis' own 100 examples a test, and each count
below as written) and ``fast`` (a quarter), the default. `.ci/run` runs the fast lane with
``--hypothesis-profile=full``, so every commit CI sees has been through the whole count.
"""

from __future__ import annotations

from hypothesis import settings

FULL = 100  # max_examples of the full profile: the scale the counts below are written in


def examples(full: int) -> int:
    """``full`` examples under the full profile, scaled down with the loaded one (never below 10)."""
    loaded = settings.default
    assert loaded is not None  # tests/conftest.py has loaded a profile
    return max(10, full * loaded.max_examples // FULL)
