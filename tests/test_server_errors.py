"""5xx keep Django's own reporting (error-paths.md trap 13): ``got_request_exception`` fires
exactly once, ``django.request`` logs exactly one record with the traceback; the client gets
a fixed message (never the exception's text) and one logging_hash, equal in body and header."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from counterbalance_errors import catalog
from counterbalance_errors.testing import assert_error

# (url, headers, code, exception class Django reports)
SERVER_ERRORS: list[tuple[str, dict[str, str], str, type[BaseException]]] = [
    ("/plain/raise/unhandled/", {}, "InternalError", KeyError),
    ("/async/raise/unhandled/", {}, "InternalError", KeyError),
    ("/drf/raise/unhandled/", {}, "InternalError", KeyError),
    ("/plain/raise/not-implemented/", {}, "NotImplemented", NotImplementedError),
    ("/drf/raise/operational/", {}, "ServiceUnavailable", Exception),
    ("/plain/returns-none/", {}, "InternalError", ValueError),
    ("/drf/returns-none/", {}, "InternalError", AssertionError),
    ("/drf/unrenderable/", {}, "InternalError", TypeError),
    ("/plain/success/", {"X-Boom": "request"}, "InternalError", KeyError),
    ("/plain/success/", {"X-Boom": "response"}, "InternalError", KeyError),
    ("/async/success/", {"X-Boom": "response"}, "InternalError", KeyError),
    ("/drf/success/", {"X-Boom": "request"}, "InternalError", KeyError),
    ("/plain/template/", {"X-Boom": "template"}, "InternalError", KeyError),
]
SERVER_ERROR_IDS = [
    "sync",
    "async",
    "drf",
    "501",
    "drf-503",
    "returns-none",
    "drf-returns-none",
    "drf-render",
    "mw-request",
    "mw-response",
    "mw-async",
    "mw-drf",
    "mw-template",
]
LEAKS = ("secret", "hunter2", "password", "KeyError", "Traceback", "returned None")


def call(transport: str, url: str, headers: dict[str, str]) -> Any:
    if transport == "asgi":
        client: Any = AsyncClient(raise_request_exception=False)
        return async_to_sync(client.get)(url, headers=headers)
    return Client(raise_request_exception=False).get(url, headers=headers)


def request_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize(
    ("url", "headers", "code", "reported"), SERVER_ERRORS, ids=SERVER_ERROR_IDS
)
def test_5xx_reported_once_logged_once_and_answered_safely(
    transport: str,
    url: str,
    headers: dict[str, str],
    code: str,
    reported: type[BaseException],
    debug: bool,
    signals_sent: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO"):
        response = call(transport, url, headers)

    error = assert_error(response, code, logged=True)  # hash: 40 hex, body == header
    assert response.status_code >= 500
    assert error["message"] == str(catalog.CATALOG[code].message)
    text = response.content.decode()
    assert not any(leak in text for leak in LEAKS), text

    assert len(signals_sent) == 1
    assert signals_sent[0]["request"] is not None

    records = request_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelname == "ERROR"
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], reported)
    # Under DEBUG, Django logs its technical page's 500 before the middleware rewrites it.
    assert records[0].status_code == (500 if debug else response.status_code)


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize(
    "url",
    [
        "/plain/raise/http404/",
        "/plain/raise/django-permission/",
        "/plain/raise/bad-request/",
        "/drf/raise/drf-validation/",
        "/no/such/url/",
        "/plain/only-post/",
    ],
)
def test_4xx_never_fire_got_request_exception(
    transport: str, url: str, debug: bool, signals_sent: list[dict[str, Any]]
) -> None:
    response = call(transport, url, {})
    assert 400 <= response.status_code < 500
    assert signals_sent == []


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_every_5xx_gets_its_own_hash(transport: str) -> None:
    hashes = set()
    for _ in range(3):
        response = call(transport, "/plain/raise/unhandled/", {})
        assert_error(response, "InternalError", logged=True)
        hashes.add(response["X-Counterbalance-Log-Hash"])
    assert len(hashes) == 3


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_debug_page_crash_is_logged_once(
    transport: str,
    settings: Any,
    signals_sent: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """J8 under DEBUG: Django's technical page raises while answering; the middleware answers
    and logs the one django.request record Django could not write."""
    settings.DEBUG = True
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{i}=1" for i in range(20))
    with caplog.at_level("INFO"):
        response = call(transport, f"/plain/raise/unhandled/?{query}", {})
    assert response["Content-Type"] == "application/json"
    assert response.status_code in (400, 500)
    assert len(signals_sent) == 1
    records = request_records(caplog)
    assert len(records) == 1
    assert records[0].exc_info is not None
