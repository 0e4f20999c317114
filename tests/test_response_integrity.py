"""Rewriting an error response keeps everything other code put on it (SPEC §5, STYLE.md
"Middleware"): Allow, WWW-Authenticate, Retry-After, cookies, security and CORS headers; it
fixes what described the old body (Content-Length, Content-Encoding, ETag); streaming error
responses are rewritten too; header values and reason phrases stay printable ASCII."""

from __future__ import annotations

import gzip
import json
import re
import warnings
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from counterbalance_errors.profiles import BUILTIN
from counterbalance_errors.testing import assert_error

OURS = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Every kind of producer of an error response: handler404 (no URL), process_exception (4xx in
# a view), handler500, a 405 a view returned, the CSRF view, DisallowedHost in CommonMiddleware,
# an exception in another middleware, a view's own error response.
ERROR_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/no/such/url/", {}),
    ("get", "/plain/raise/http404/", {}),
    ("get", "/plain/raise/unhandled/", {}),
    ("get", "/plain/only-post/", {}),
    ("post", "/plain/form/", {"csrf": True}),
    ("get", "/plain/success/", {"headers": {"Host": "evil.example"}}),
    ("get", "/plain/success/", {"headers": {"X-Boom": "request"}}),
    ("get", "/plain/returns-error/", {}),
    ("get", "/drf/raise/drf-validation/", {}),
]
ERROR_IDS = [
    "no-url",
    "view-404",
    "view-500",
    "405",
    "csrf",
    "host",
    "middleware",
    "returned",
    "drf",
]


def body_of(response: Any) -> bytes:
    if response.streaming:
        if response.is_async:

            async def consume() -> bytes:
                return b"".join([chunk async for chunk in response.streaming_content])

            return async_to_sync(consume)()
        return b"".join(response.streaming_content)
    return bytes(response.content)


def with_middleware(settings: Any, *inner: str) -> None:
    """Ours first, then ``inner``, then the rest of the test settings' middleware."""
    rest = [m for m in django_settings.MIDDLEWARE if m != OURS]
    settings.MIDDLEWARE = [OURS, *inner, *rest]


# --- headers other code set ----------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 409, 503])
def test_view_headers_and_cookies_survive_the_rewrite(call: Any, status: int) -> None:
    response = call("wsgi", "get", f"/dj/error-with-headers/?status={status}")
    body = json.loads(body_of(response))
    assert body["error"]["code"] in {"InvalidCredentials", "Conflict", "ServiceUnavailable"}
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert response["Retry-After"] == "17"
    assert response["Allow"] == "GET, HEAD"
    assert response.cookies["view_cookie"].value == "v1"
    assert response.cookies["view_cookie"]["httponly"] is True
    assert not response.has_header("ETag")  # it described the old body
    assert int(response["Content-Length"]) == len(response.content)
    for name, value in SECURITY_HEADERS.items():
        assert response[name] == value


@pytest.mark.parametrize(("method", "url", "kwargs"), ERROR_REQUESTS, ids=ERROR_IDS)
def test_security_and_cors_headers_survive_on_every_error_path(
    call: Any, method: str, url: str, kwargs: dict[str, Any], debug: bool, settings: Any
) -> None:
    # DEBUG: the technical pages (no URL, Host, another middleware) are rewritten in place.
    with_middleware(settings, "tests.support.middleware_headers.CorsLikeMiddleware")
    response = call("wsgi", method, url, **kwargs)
    assert response.status_code >= 400
    assert json.loads(response.content)["error"]["code"]
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert response["Access-Control-Expose-Headers"] == "X-Counterbalance-Log-Hash"
    assert "Origin" in response["Vary"]
    assert response.cookies["mw_cookie"].value == "m1"
    for name, value in SECURITY_HEADERS.items():
        assert response[name] == value
    if response.has_header("Content-Length"):  # CommonMiddleware sets it when it runs
        assert int(response["Content-Length"]) == len(response.content)


def test_allow_is_kept_on_a_rewritten_405(call: Any, transport: str) -> None:
    response = call(transport, "put", "/plain/only-post/")
    assert_error(response, "MethodNotAllowed", status=400)
    assert response["Allow"] == "POST, OPTIONS"


# --- the body headers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/dj/error-with-headers/", "/dj/streaming-error/", "/plain/raise/unhandled/"]
)
def test_gzipped_error_response_is_rewritten_uncompressed(
    call: Any, transport: str, url: str, settings: Any
) -> None:
    with_middleware(settings, "django.middleware.gzip.GZipMiddleware")
    response = call(transport, "get", url, headers={"Accept-Encoding": "gzip"})
    assert not response.has_header("Content-Encoding")
    body = json.loads(body_of(response))
    assert body["error"]["code"] in {"Conflict", "ServiceUnavailable", "InternalError"}
    if not response.streaming:
        assert int(response["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_gzipped_success_is_left_compressed(call: Any, transport: str, settings: Any) -> None:
    with_middleware(settings, "django.middleware.gzip.GZipMiddleware")
    response = call(transport, "get", "/dj/streaming-success/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(body_of(response)) == b"<h1>partial error page</h1>"


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize("url", ["/dj/streaming-error/", "/dj/async-streaming-error/"])
def test_streaming_error_responses_are_rewritten(call: Any, transport: str, url: str) -> None:
    response = call(transport, "get", url)
    # Django warns when a server must consume a sync iterator asynchronously (or the other
    # way round): the rewritten body is of the same kind as the view's.
    assert response.is_async is url.startswith("/dj/async")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = body_of(response)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "ServiceUnavailable"
    assert b"partial" not in body
    assert not response.has_header("Content-Length")


# --- header values and reason phrases -----------------------------------------------------

PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


def assert_printable_headers(response: Any) -> None:
    for name, value in response.items():
        assert PRINTABLE_ASCII.match(name), name
        assert PRINTABLE_ASCII.match(value), (name, value)
    assert PRINTABLE_ASCII.match(response.reason_phrase), response.reason_phrase


@pytest.mark.parametrize(
    "url", ["/plain/success/", "/drf/success/", "/no/such/url/", "/plain/raise/unhandled/"]
)
def test_compute_node_with_crlf_and_unicode_is_sanitised(
    call: Any, url: str, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-1\r\nSet-Cookie: evil=1\x00é☃"}
    response = call("wsgi", "get", url)
    node = response["X-Counterbalance-Compute-Node"]
    assert "\r" not in node
    assert "\n" not in node
    assert node.startswith("node-1")
    assert "evil" not in str(response.cookies)
    assert_printable_headers(response)


def test_a_reason_phrase_with_crlf_is_replaced(call: Any) -> None:
    response = call("wsgi", "get", "/dj/reason-with-crlf/")
    if django.VERSION >= (6,):
        # Django 6 refuses the reason phrase in the view (BadHeaderError): J19, a 500.
        assert_error(response, "InternalError", status=500)
        assert response.reason_phrase == "Internal Server Error"
    else:
        # Django 5.2 accepts it (response splitting under wsgiref); the rewrite replaces it.
        assert_error(response, "Conflict", status=409)
        assert response.reason_phrase == "Conflict"


# Each profile on every error producer over WSGI; ASGI (headers from the scope) for one.
INPUT_CASES = [
    pytest.param("wsgi", profile, *request, id=f"wsgi-{profile}-{request_id}")
    for profile in sorted(BUILTIN)
    for request, request_id in zip(ERROR_REQUESTS, ERROR_IDS, strict=True)
] + [
    pytest.param("asgi", "cloudapi", *request, id=f"asgi-cloudapi-{request_id}")
    for request, request_id in zip(ERROR_REQUESTS, ERROR_IDS, strict=True)
]


@pytest.mark.parametrize(("transport", "profile", "method", "url", "kwargs"), INPUT_CASES)
def test_client_input_never_reaches_headers_or_reason_phrases(
    call: Any,
    transport: str,
    profile: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    settings: Any,
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    kwargs = dict(kwargs)
    headers = {
        "X-Request-Id": "abc\r\nX-Evil: 1",
        "Accept-Language": "de\r\nX-Evil: 1",
        "User-Agent": "ünïcode\r\n",
        **kwargs.pop("headers", {}),
    }
    response = call(
        transport, method, f"{url}?q=%0D%0AX-Evil:%201%C3%A9", headers=headers, **kwargs
    )
    assert response.status_code >= 400
    assert not response.has_header("X-Evil")
    assert_printable_headers(response)


# --- a response a middleware returns ---------------------------------------------------------
# A 500 that a middleware returns is a 500, even when the request had a 4xx before it.


@pytest.mark.django_db
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
    call: Any, settings: Any, url: str
) -> None:
    with_middleware(settings, "tests.support.middleware_replace.ReplaceWith500Middleware")
    response = call("wsgi", "get", url, headers={"X-Replace": "500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalError"
