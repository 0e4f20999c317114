"""A 500 that a middleware returns is a 500, even when the request had a 4xx before it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.settings import MIDDLEWARE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/drf/raise/drf-validation/",
        "/drf/raise/drf-not-found/",
        "/plain/raise/http404/",
        "/plain/raise/integrity/",
        "/plain/raise/drf-permission/",
    ],
)
def test_a_returned_500_is_not_answered_with_the_earlier_4xx(
    client: Client, settings: Any, debug: bool, url: str
) -> None:
    settings.MIDDLEWARE = [MIDDLEWARE[0], "tests.middleware_replace.ReplaceWith500Middleware"]
    settings.MIDDLEWARE += MIDDLEWARE[1:]
    response = client.get(url, headers={"X-Replace": "500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalError"
