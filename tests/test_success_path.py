"""Success responses are never rewritten (SPEC §5): byte for byte what the same project
answers without counterbalance_errors, apart from the profile's per-response header; and the
success path does no database query, no hashing and no logging."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import connections
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from counterbalance_errors import responses

OURS = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"
NODE_HEADER = "X-Counterbalance-Compute-Node"
SUCCESS_REQUESTS = [
    ("get", "/drf/success/", {}),
    ("get", "/drf/success-function/", {"headers": {"Accept": "application/json"}}),
    ("options", "/drf/success/", {}),
    ("head", "/drf/success/", {}),
    ("get", "/plain/success/", {}),
    ("get", "/async/success/", {}),
    ("get", "/dj/streaming-success/", {}),
    ("post", "/plain/only-post/", {}),
    ("post", "/plain/form/", {"data": {"a": "1", "b": "2"}}),
    ("get", "/plain/template/", {}),
]
SUCCESS_IDS = [
    "drf",
    "drf-function",
    "drf-options",
    "drf-head",
    "plain",
    "async",
    "streaming",
    "view-class",
    "form",
    "template",
]


def without_the_app() -> Any:
    """The test project with every counterbalance_errors entry point removed."""
    return override_settings(
        MIDDLEWARE=[m for m in django_settings.MIDDLEWARE if m != OURS],
        ROOT_URLCONF="tests.urls_without_handlers",
        CSRF_FAILURE_VIEW="django.views.csrf.csrf_failure",
        REST_FRAMEWORK={
            **django_settings.REST_FRAMEWORK,
            "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
            "DEFAULT_RENDERER_CLASSES": [
                "rest_framework.renderers.JSONRenderer",
                "rest_framework.renderers.BrowsableAPIRenderer",
            ],
        },
    )


def call(transport: str, method: str, url: str, **kwargs: Any) -> Any:
    if transport == "asgi":
        return async_to_sync(getattr(AsyncClient(), method))(url, **kwargs)
    return getattr(Client(), method)(url, **kwargs)


def snapshot(response: Any) -> tuple[Any, ...]:
    """Everything a client receives: status line, headers in order, cookies, body."""
    body = b"".join(response.streaming_content) if response.streaming else bytes(response.content)
    headers = [(k, v) for k, v in response.items() if k != NODE_HEADER]
    return response.status_code, response.reason_phrase, headers, response.cookies.output(), body


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize(("method", "url", "kwargs"), SUCCESS_REQUESTS, ids=SUCCESS_IDS)
def test_success_is_byte_identical_to_the_project_without_the_app(
    transport: str, method: str, url: str, kwargs: dict[str, Any], debug: bool
) -> None:
    with_app = call(transport, method, url, **kwargs)
    with without_the_app():
        without_app = call(transport, method, url, **kwargs)
    assert with_app.status_code < 400
    assert with_app[NODE_HEADER]
    assert not without_app.has_header(NODE_HEADER)
    assert snapshot(with_app) == snapshot(without_app)


@pytest.fixture
def hashing_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and fail) every logging_hash generation; the middleware must not swallow it."""
    calls: list[str] = []
    real_token_hex = secrets.token_hex

    def new_logging_hash() -> str:
        calls.append("new_logging_hash")
        raise AssertionError("the success path generated a logging_hash")

    def token_hex(nbytes: int | None = None) -> str:
        calls.append("token_hex")
        return real_token_hex(nbytes)

    monkeypatch.setattr(responses, "new_logging_hash", new_logging_hash)
    monkeypatch.setattr(secrets, "token_hex", token_hex)
    return calls


@pytest.mark.django_db
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize(("method", "url", "kwargs"), SUCCESS_REQUESTS, ids=SUCCESS_IDS)
def test_success_path_does_no_query_no_hashing_no_logging(
    transport: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    hashing_calls: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    call(transport, method, url, **kwargs)  # warm-up: first-request imports and caches
    caplog.clear()
    with caplog.at_level("DEBUG"), CaptureQueriesContext(connections["default"]) as queries:
        response = call(transport, method, url, **kwargs)
    assert response.status_code < 400
    assert response[NODE_HEADER]
    assert list(queries) == []
    assert hashing_calls == []
    # asyncio logs its selector when async_to_sync starts a loop: the test harness, not us.
    logged = [(r.name, r.getMessage()) for r in caplog.records if r.name != "asyncio"]
    assert logged == []


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_the_hashing_probe_does_see_an_error(transport: str, hashing_calls: list[str]) -> None:
    """The fixture above is not vacuous: a logged error does generate a hash."""
    if transport == "asgi":
        async_to_sync(AsyncClient(raise_request_exception=False).get)("/plain/raise/bad-request/")
    else:
        Client(raise_request_exception=False).get("/plain/raise/bad-request/")
    assert "new_logging_hash" in hashing_calls
