"""Success responses are never rewritten (SPEC §5): byte for byte what the same project
answers without counterbalance_errors, apart from the profile's per-response header.
tests/test_hot_path.py checks that the success path does no error work (hashing, queries,
logging)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from tests.support.settings_variants import without_the_app
from tests.support.success import NODE_HEADER, SUCCESS_IDS, SUCCESS_REQUESTS


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
