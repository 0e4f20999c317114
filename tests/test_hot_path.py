"""The success path does no hashing, no database work, no logging and no JSON parsing.

Not a timing test (``make bench`` measures, docs/performance.md reports): cProfile records
every function a success request calls, C functions included, so any hash (not only the
logging_hash that tests/test_success_path.py probes), any JSON decoding and any step of
building, rendering or storing an error shows up here.
"""

from __future__ import annotations

import cProfile
import pstats

import pytest
from django.test import Client

FORBIDDEN = {
    "hashing": ("hashlib", "_hashlib", "hmac", "secrets", "token_hex", "uuid4", "urandom"),
    "database": ("django/db/backends/", "django/db/models/sql/", "django/db/transaction"),
    "logging": ("logging/__init__.py:_log", "logging/__init__.py:handle"),
    "JSON parsing": ("json/decoder", "json/__init__.py:loads"),
    "error machinery": (
        "counterbalance_errors/catalog.py:",
        "counterbalance_errors/scrubbing.py:",
        "counterbalance_errors/recording.py:build",
        "counterbalance_errors/recording.py:store",
        "counterbalance_errors/responses.py:attach",
        "counterbalance_errors/responses.py:rewrite",
        "counterbalance_errors/responses.py:error_response",
        "counterbalance_errors/profiles/base.py:render",
        "counterbalance_errors/conf.py:logged_statuses",
    ),
}


def called_functions(client: Client, path: str) -> list[str]:
    client.get(path)  # warm: first-request imports and caches are not the hot path
    profiler = cProfile.Profile()
    profiler.enable()
    response = client.get(path, HTTP_ACCEPT="application/json")
    profiler.disable()
    assert response.status_code == 200
    assert "X-Counterbalance-Compute-Node" in response  # the middleware did run
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return [f"{filename}:{name}" for filename, _, name in stats]


@pytest.mark.parametrize("path", ["/drf/success/", "/plain/success/"])
def test_success_path_does_none_of_the_error_work(client: Client, path: str) -> None:
    called = called_functions(client, path)
    for what, needles in FORBIDDEN.items():
        found = [f for f in called if any(needle in f for needle in needles)]
        assert found == [], f"the success path does {what}: {found}"
