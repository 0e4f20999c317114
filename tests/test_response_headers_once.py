"""A profile's per-response headers are computed once per response (cloudapi hashes the body
for them), on every path that builds an error response under the middleware."""

from __future__ import annotations

import cProfile
import pstats
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def calls_of(function: str, client: Client, url: str) -> tuple[Any, int]:
    profiler = cProfile.Profile()
    profiler.enable()
    response = client.get(url)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    count = sum(
        calls
        for (filename, _, name), (_, calls, *_) in stats.items()
        if filename.endswith(function.split(":")[0]) and name == function.split(":")[1]
    )
    return response, count


@pytest.mark.parametrize(
    "url",
    [
        "/drf/raise/drf-not-found/",  # the DRF exception handler
        "/plain/raise/http404/",  # process_exception
        "/plain/raise/unhandled/",  # handler500
        "/drf/raise/unhandled/",  # handler500 after DRF re-raised
        "/no/such/endpoint/",  # the rewrite in finish()
        "/drf/success/",
    ],
)
def test_cloudapi_headers_and_md5_once_per_response(
    client: Client, settings: Any, debug: bool, url: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "cloudapi"}
    client.get(url)  # warm-up
    response, headers = calls_of("profiles/cloudapi.py:response_headers", client, url)
    assert headers == 1
    assert "Content-MD5" in response
