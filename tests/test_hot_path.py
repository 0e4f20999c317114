"""The success path does no hashing, no database work, no logging, no JSON parsing and no
uncached settings lookup.

Not a timing test (``make bench`` measures, docs/performance.md reports): cProfile records
every function a success request calls, C functions included, so any hash (not only the
logging_hash), any JSON decoding and any step of building, rendering or storing an error shows
up here. Under ASGI the request runs on an event loop in this thread (``asyncio.run``), and
without the sync-only test middleware the envelope middleware runs on that loop too; sync views
run in a worker thread cProfile does not see, so queries and log records are captured as well.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext

from tests.settings import MIDDLEWARE
from tests.support.success import NODE_HEADER, SUCCESS_IDS, SUCCESS_REQUESTS

FORBIDDEN = {
    "hashing": (
        *("hashlib", "_hashlib", "hmac", "secrets", "token_hex", "uuid4", "urandom"),
        "counterbalance_errors/profiles/base.py:random_hex",
    ),
    "database": ("django/db/backends/", "django/db/models/sql/", "django/db/transaction"),
    "logging": ("logging/__init__.py:_log", "logging/__init__.py:handle"),
    "JSON parsing": ("json/decoder", "json/__init__.py:loads"),
    # Asking LazySettings for a name it has not cached: an absent COUNTERBALANCE_ERRORS
    # (these tests' settings have none) raised and caught an AttributeError per response.
    "uncached settings": ("django/conf/__init__.py:__getattr__",),
    "error machinery": (
        "counterbalance_errors/catalog.py:",
        "counterbalance_errors/scrubbing.py:",
        "counterbalance_errors/capture.py:snapshot",
        "counterbalance_errors/capture.py:build",
        "counterbalance_errors/recorder.py:submit",
        "counterbalance_errors/context.py:attach",
        "counterbalance_errors/context.py:remember",
        "counterbalance_errors/responses.py:prepare",
        "counterbalance_errors/responses.py:rewrite",
        "counterbalance_errors/responses.py:error_response",
        "counterbalance_errors/profiles/base.py:render",
        "counterbalance_errors/conf.py:logged_statuses",
    ),
}


@pytest.fixture
def transport(request: pytest.FixtureRequest, settings: Any) -> str:
    if request.param == "asgi":
        # A sync-only middleware makes every middleware above it run sync, in a worker thread.
        settings.MIDDLEWARE = [m for m in MIDDLEWARE if m != "tests.middleware.BoomMiddleware"]
    return str(request.param)


def send(transport: str, method: str, url: str, **kwargs: Any) -> Any:
    if transport == "asgi":
        return asyncio.run(asgi_request(method, url, **kwargs))
    return getattr(Client(raise_request_exception=False), method)(url, **kwargs)


async def asgi_request(method: str, url: str, **kwargs: Any) -> Any:
    try:
        return await getattr(AsyncClient(raise_request_exception=False), method)(url, **kwargs)
    finally:
        # asgiref's worker thread keeps its own connection open: the test database could
        # not be dropped (PostgreSQL) at the end of the session.
        await sync_to_async(connections.close_all)()


def profiled(transport: str, method: str, url: str, **kwargs: Any) -> tuple[Any, list[str]]:
    send(transport, method, url, **kwargs)  # warm: first-request imports and caches
    profiler = cProfile.Profile()
    profiler.enable()
    response = send(transport, method, url, **kwargs)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return response, [f"{filename}:{name}" for filename, _, name in stats]


def forbidden_calls(called: list[str]) -> dict[str, list[str]]:
    found = {
        what: [f for f in called if any(needle in f for needle in needles)]
        for what, needles in FORBIDDEN.items()
    }
    return {what: calls for what, calls in found.items() if calls}


@pytest.mark.django_db
@pytest.mark.parametrize("transport", ["wsgi", "asgi"], indirect=True)
@pytest.mark.parametrize(("method", "url", "kwargs"), SUCCESS_REQUESTS, ids=SUCCESS_IDS)
def test_success_path_does_none_of_the_error_work(
    transport: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level("DEBUG"),
        # asyncio logs its selector when a loop starts: the test harness, not us.
        caplog.at_level("INFO", logger="asyncio"),
        CaptureQueriesContext(connections["default"]) as queries,
    ):
        caplog.clear()
        response, called = profiled(transport, method, url, **kwargs)
    assert response.status_code < 400
    assert response[NODE_HEADER]  # the middleware did run
    assert forbidden_calls(called) == {}
    assert list(queries) == []
    assert [(r.name, r.getMessage()) for r in caplog.records] == []


# Under asyncio.run the error is stored from asgiref's worker thread, on its own connection:
# only a transactional test removes that row again.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", ["wsgi", "asgi"], indirect=True)
def test_the_probe_sees_the_error_work(transport: str) -> None:
    """Not vacuous: a logged error rewritten by the middleware shows the error machinery and
    its hash (and, under WSGI, where Django logs it in this thread, the logging)."""
    response, called = profiled(transport, "get", "/retry/plain/503/")
    assert response.status_code == 503
    expected = {"hashing", "error machinery"} | ({"logging"} if transport == "wsgi" else set())
    assert expected <= set(forbidden_calls(called))
