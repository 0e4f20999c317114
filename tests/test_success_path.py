"""Success responses are never rewritten (SPEC §5): byte for byte what the same project
answers without counterbalance_errors, apart from the profile's per-response header.
tests/test_hot_path.py checks that the success path does no error work (hashing, queries,
logging)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import AsyncClient, Client, override_settings

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
