"""5xx keep Django's own reporting (error-paths.md trap 13): ``got_request_exception`` fires
exactly once, ``django.request`` logs exactly one record with the traceback; the client gets
a fixed message (never the exception's text) and one logging_hash, equal in body and header."""

from __future__ import annotations

from typing import Any

import pytest

from counterbalance_errors import catalog
from counterbalance_errors.testing import assert_error

# (id, url, headers, code, exception class Django reports, how the case is multiplied)
# Errors a view raises are answered by process_exception, which replicates Django's report;
# those raised outside it (check_response, another middleware) go to handler500, and under
# DEBUG to technical_500_response, which logs on its own: only those run with DEBUG on too.
# ASGI runs where it takes another path (the async view, an async middleware chain).
HANDLER500 = [("wsgi", False), ("wsgi", True)]
ASGI_TOO = [("wsgi", False), ("asgi", False)]
ONCE = [("wsgi", False)]
SERVER_ERRORS: list[tuple[str, str, dict[str, str], str, type[BaseException], Any]] = [
    ("sync", "/plain/raise/unhandled/", {}, "InternalError", KeyError, ASGI_TOO),
    ("async", "/async/raise/unhandled/", {}, "InternalError", KeyError, ASGI_TOO),
    ("drf", "/drf/raise/unhandled/", {}, "InternalError", KeyError, ONCE),
    ("501", "/plain/raise/not-implemented/", {}, "NotImplemented", NotImplementedError, ONCE),
    ("drf-503", "/drf/raise/operational/", {}, "ServiceUnavailable", Exception, ONCE),
    ("returns-none", "/plain/returns-none/", {}, "InternalError", ValueError, HANDLER500),
    ("drf-returns-none", "/drf/returns-none/", {}, "InternalError", AssertionError, ONCE),
    ("drf-render", "/drf/unrenderable/", {}, "InternalError", TypeError, ONCE),
    ("mw-request", "/plain/success/", {"X-Boom": "request"}, "InternalError", KeyError, HANDLER500),
    ("mw-response", "/plain/success/", {"X-Boom": "response"}, "InternalError", KeyError, ONCE),
    ("mw-async", "/async/success/", {"X-Boom": "response"}, "InternalError", KeyError, ASGI_TOO),
    ("mw-drf", "/drf/success/", {"X-Boom": "request"}, "InternalError", KeyError, ONCE),
    ("mw-template", "/plain/template/", {"X-Boom": "template"}, "InternalError", KeyError, ONCE),
]
CASES = [
    pytest.param(
        transport, url, headers, code, reported, debug, id=f"{case}-{transport}-debug-{debug}"
    )
    for case, url, headers, code, reported, ways in SERVER_ERRORS
    for transport, debug in ways
]
LEAKS = ("secret", "hunter2", "password", "KeyError", "Traceback", "returned None")


def request_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.parametrize(("transport", "url", "headers", "code", "reported", "debug"), CASES)
def test_5xx_reported_once_logged_once_and_answered_safely(
    call: Any,
    settings: Any,
    transport: str,
    url: str,
    headers: dict[str, str],
    code: str,
    reported: type[BaseException],
    debug: bool,
    signals_sent: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.DEBUG = debug
    with caplog.at_level("INFO"):
        response = call(transport, "get", url, headers=headers)

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
    call: Any, url: str, signals_sent: list[dict[str, Any]]
) -> None:
    response = call("wsgi", "get", url)
    assert 400 <= response.status_code < 500
    assert signals_sent == []


def test_every_5xx_gets_its_own_hash(call: Any, transport: str) -> None:
    hashes = set()
    for _ in range(3):
        response = call(transport, "get", "/plain/raise/unhandled/")
        assert_error(response, "InternalError", logged=True)
        hashes.add(response["X-Counterbalance-Log-Hash"])
    assert len(hashes) == 3
