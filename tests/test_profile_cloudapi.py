"""``002_b0a0a10fb68d53b3.txt`` (CloudAPI "HTTP responses"), table by table."""

from __future__ import annotations

import cProfile
import json
import pstats
from typing import Any

import pytest
from django.test import Client

from counterbalance_errors.profiles.cloudapi import DOCUMENTED_CODES
from tests.support.profiletools import HASH, call, content_md5, use_profile, wsgi
from tests.support.rendering import render

API_VERSION = "9.1.0"

# ||**Response**||**Code**||**Description**|| → (status, reason phrase, a kind of that row)
STATUS_TABLE = [
    (400, "Bad Request", "parse-error"),
    (401, "Unauthorized", "not-authenticated"),
    (403, "Forbidden", "drf-permission"),
    (404, "Not Found", "drf-not-found"),
    (405, "Method Not Allowed", "method-not-allowed"),
    (406, "Not Acceptable", "not-acceptable"),
    (409, "Conflict", "conflict"),
    (413, "Request Entity Too Large", "too-big"),
    (415, "Unsupported Media Type", "unsupported-media-type"),
    (420, "Slow Down", "throttled"),
    (449, "Retry With", "invalid-version"),
    (503, "Service Unavailable", "service-unavailable"),
]

# ||**Code**||**Description**|| → (a kind that produces it, its status)
CODE_TABLE = {
    "BadRequest": ("parse-error", 400),
    "InternalError": ("unhandled", 500),
    "InUseError": ("protected", 409),
    "InvalidArgument": ("drf-validation", 400),
    "InvalidCredentials": ("authentication-failed", 401),
    "InvalidHeader": ("disallowed-host", 400),
    "InvalidVersion": ("invalid-version", 449),
    "MissingParameter": ("drf-required", 400),
    "NotAuthorized": ("django-permission", 403),
    "RequestThrottled": ("ratelimited", 420),
    "RequestTooLarge": ("too-many-fields", 413),
    "ResourceNotFound": ("does-not-exist", 404),
}


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "cloudapi", API_VERSION=API_VERSION)


def assert_cloudapi_headers(response: Any) -> None:
    """Api-Version, Request-Id, Response-Time and their X- twins, on every response."""
    assert response["Api-Version"] == response["X-Api-Version"] == API_VERSION
    assert response["Request-Id"]
    assert response["Request-Id"] == response["X-Request-Id"]
    assert response["Response-Time"].isdigit()
    assert response["Response-Time"] == response["X-Response-Time"]
    if response.content:
        assert response["Content-MD5"] == content_md5(response.content)
        assert response["Content-Type"] == "application/json"
    else:
        assert not response.has_header("Content-MD5")


def assert_body(response: Any) -> dict[str, Any]:
    body = json.loads(response.content)
    assert list(body) == ["code", "message"]
    assert isinstance(body["message"], str)
    return body


def assert_error(response: Any) -> dict[str, Any]:
    body = assert_body(response)
    assert_cloudapi_headers(response)
    return body


@pytest.mark.parametrize(("status", "reason", "kind"), STATUS_TABLE)
def test_http_status_codes(status: int, reason: str, kind: str) -> None:
    response = render(kind)
    assert response.status_code == status
    assert response.reason_phrase == reason
    assert_body(response)


@pytest.mark.parametrize("code", sorted(CODE_TABLE))
def test_error_codes(code: str) -> None:
    kind, status = CODE_TABLE[code]
    response = render(kind)
    assert response.status_code == status
    assert assert_body(response)["code"] == code


def test_code_table_is_the_documents() -> None:
    assert set(CODE_TABLE) | {"RequestMoved", "UnknownError"} == set(DOCUMENTED_CODES)


def test_request_moved_is_a_redirect_left_alone() -> None:
    """``RequestMoved`` is "HTTP Redirect": a redirect stays one, only the headers are added."""
    response = call("wsgi", "GET", "/profiles/moved/")
    assert response.status_code == 302
    assert response["Location"] == "/drf/success/"
    assert response.content == b""
    assert_cloudapi_headers(response)


def test_unknown_endpoint_is_resource_not_found() -> None:
    response = call("wsgi", "GET", "/no/such/thing/")
    assert response.status_code == 404
    assert assert_error(response) == {
        "code": "ResourceNotFound",
        "message": "The requested endpoint does not exist.",
    }


def test_real_405_and_415() -> None:
    assert assert_error(call("wsgi", "GET", "/plain/only-post/"))["code"] == "MethodNotAllowed"
    response = call("wsgi", "POST", "/drf/echo/", data=b"a,b", content_type="text/csv")
    assert response.status_code == 415
    assert assert_error(response)["code"] == "UnsupportedMediaType"


@pytest.mark.django_db
def test_request_id_of_a_logged_error_is_its_logging_hash() -> None:
    response = call("wsgi", "GET", "/drf/raise/unhandled/", HTTP_X_REQUEST_ID="client-id-1")
    assert HASH.match(response["Request-Id"])
    assert response["X-Request-Id"] == response["Request-Id"]
    assert "logging_hash" not in json.loads(response.content)


def test_request_id_of_other_responses() -> None:
    mine = call("wsgi", "GET", "/drf/success/", HTTP_X_REQUEST_ID="client-id-1")
    assert mine["Request-Id"] == "client-id-1"
    not_logged = call("wsgi", "GET", "/drf/raise/drf-not-found/", HTTP_X_REQUEST_ID="abc.42")
    assert not_logged["Request-Id"] == "abc.42"
    unsafe = call("wsgi", "GET", "/drf/success/", HTTP_X_REQUEST_ID="a b\r\nSet-Cookie: x=1")
    assert unsafe["Request-Id"] != "a b\r\nSet-Cookie: x=1"
    assert len(unsafe["Request-Id"]) == 32
    assert call("wsgi", "GET", "/drf/success/")["Request-Id"] != unsafe["Request-Id"]


def test_a_view_that_sets_its_own_request_id_keeps_it() -> None:
    response = call("wsgi", "GET", "/profiles/own-request-id/")
    assert response["Request-Id"] == response["X-Request-Id"] == "view-chose-this"


@pytest.mark.parametrize("url", ["/drf/success/", "/plain/success/", "/async/success/"])
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_all_responses_have_the_headers(url: str, transport: str) -> None:
    response = call(transport, "GET", url)
    assert response.status_code == 200
    assert_cloudapi_headers(response)


def test_response_time_is_milliseconds() -> None:
    response = call("asgi", "GET", "/profiles/slow-async/?s=0.05")
    assert 50 <= int(response["Response-Time"]) < 5000


def test_no_content_no_md5() -> None:
    response = call("wsgi", "DELETE", "/profiles/no-content/")
    assert response.status_code == 204
    assert_cloudapi_headers(response)


def test_api_version_omitted_when_not_configured(settings: Any) -> None:
    use_profile(settings, "cloudapi")
    response = call("wsgi", "GET", "/drf/success/")
    assert not response.has_header("Api-Version")
    assert not response.has_header("X-Api-Version")


def test_api_version_is_header_safe(settings: Any) -> None:
    use_profile(settings, "cloudapi", API_VERSION="7.3.0\r\nX-Evil: 1 é")
    assert call("wsgi", "GET", "/drf/success/")["Api-Version"] == "7.3.0X-Evil: 1"


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/drf/raise/throttled/", "420 Slow Down"),
        ("/plain/raise/invalid-version/", "449 Retry With"),
    ],
)
def test_reason_phrase_in_the_wsgi_status_line(path: str, line: str) -> None:
    status, headers, body = wsgi(path)
    assert status == line
    assert headers["Content-MD5"] == content_md5(body)


def test_strict_off_answers_canonical_statuses(settings: Any) -> None:
    use_profile(settings, "cloudapi", STRICT_STATUSES=False, API_VERSION=API_VERSION)
    throttled = call("wsgi", "GET", "/drf/raise/throttled/")
    assert (throttled.status_code, throttled.reason_phrase) == (429, "Too Many Requests")
    assert call("wsgi", "GET", "/drf/raise/invalid-version/").status_code == 400
    assert assert_error(call("wsgi", "GET", "/nope/"))["code"] == "EndpointNotFound"


# --- per-response headers are computed once ------------------------------------------------
# cloudapi hashes the body for them, so they are computed once per response, on every path that
# builds an error response under the middleware.


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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "debug"),
    [
        ("/drf/raise/drf-not-found/", False),  # the DRF exception handler
        ("/plain/raise/http404/", False),  # process_exception
        ("/plain/raise/unhandled/", False),  # process_exception, a 5xx
        ("/drf/raise/unhandled/", False),  # DRF re-raises, process_exception answers
        ("/drf/raise/unhandled/", True),  # ... after the handler prepared DRF's re-raise
        ("/no/such/endpoint/", False),  # handler404
        ("/no/such/endpoint/", True),  # the rewrite of Django's technical 404 in finish()
        ("/drf/success/", False),
    ],
    indirect=["debug"],
)
def test_cloudapi_headers_and_md5_once_per_response(
    client: Client, settings: Any, debug: bool, url: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "cloudapi"}
    client.get(url)  # warm-up
    response, headers = calls_of("profiles/cloudapi.py:response_headers", client, url)
    assert headers == 1
    assert "Content-MD5" in response
