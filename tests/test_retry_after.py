"""A 429 or 503 a view *returns* says when to retry, as a raised one does (SPEC §3, §5)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from counterbalance_errors.catalog import (
    DEFAULT_THROTTLE_RETRY_AFTER,
    DEFAULT_UNAVAILABLE_RETRY_AFTER,
)
from counterbalance_errors.profiles import BUILTIN

pytestmark = pytest.mark.django_db

DEFAULTS = {429: DEFAULT_THROTTLE_RETRY_AFTER, 503: DEFAULT_UNAVAILABLE_RETRY_AFTER}


# Every profile (their error_headers differ) on a plain view; the DRF renderer's path and a
# view's own Retry-After once each.
CASES = [
    pytest.param(profile, status, "plain", None, id=f"{profile}-{status}-plain-default")
    for profile in sorted(BUILTIN)
    for status in (429, 503)
] + [
    pytest.param("counterbalance", status, kind, own, id=f"{status}-{kind}-{own}")
    for status in (429, 503)
    for kind, own in (("drf", None), ("drf", "7"), ("plain", "7"))
]


@pytest.mark.parametrize(("profile", "status", "kind", "own"), CASES)
def test_returned_429_and_503_get_a_retry_after(
    client: Client, settings: Any, profile: str, status: int, kind: str, own: str | None
) -> None:
    """The default when the response has none; the view's own one is kept."""
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    response = client.get(f"/retry/{kind}/{status}/", {"retry_after": own} if own else {})
    assert response.status_code >= 400
    assert response["Retry-After"] == (own or str(DEFAULTS[status]))
