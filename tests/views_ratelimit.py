"""Views behind counterbalance_errors.ratelimit, for tests/test_ratelimit.py (under ``/rl/``)."""

from __future__ import annotations

urlpatterns: list[object] = []
