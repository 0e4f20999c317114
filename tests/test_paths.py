"""Every kind of error, raised in a DRF view, a plain view and an async view, over WSGI and
ASGI, with DEBUG off and on: the status, code and envelope of SPEC §3 and §5 (strict)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.signals import got_request_exception
from django.test import AsyncClient, Client

from counterbalance_errors.testing import assert_error, error_body

# kind → (code, canonical status, counterbalance strict status)
EXPECTED: dict[str, tuple[str, int, int]] = {
    "parse-error": ("BadRequest", 400, 400),
    "bad-request": ("BadRequest", 400, 400),
    "suspicious": ("BadRequest", 400, 400),
    "multipart": ("BadRequest", 400, 400),
    "drf-validation": ("InvalidArgument", 400, 400),
    "drf-required": ("MissingParameter", 400, 400),
    "django-validation": ("InvalidArgument", 400, 400),
    "disallowed-host": ("InvalidHeader", 400, 400),
    "invalid-version": ("InvalidVersion", 400, 400),
    "not-authenticated": ("InvalidCredentials", 401, 401),
    "authentication-failed": ("InvalidCredentials", 401, 401),
    "drf-permission": ("NotAuthorized", 403, 403),
    "django-permission": ("NotAuthorized", 403, 403),
    "account-locked": ("AccountLocked", 403, 403),
    "drf-csrf": ("CsrfFailed", 403, 403),
    "http404": ("ResourceNotFound", 404, 404),
    "drf-not-found": ("ResourceNotFound", 404, 404),
    "does-not-exist": ("ResourceNotFound", 404, 404),
    "method-not-allowed": ("MethodNotAllowed", 405, 400),
    "not-acceptable": ("NotAcceptable", 406, 400),
    "integrity": ("Conflict", 409, 409),
    "conflict": ("Conflict", 409, 409),
    "protected": ("InUseError", 409, 409),
    "restricted": ("InUseError", 409, 409),
    "in-use": ("InUseError", 409, 409),
    "too-big": ("RequestTooLarge", 413, 400),
    "too-many-fields": ("RequestTooLarge", 413, 400),
    "too-many-files": ("RequestTooLarge", 413, 400),
    "unsupported-media-type": ("UnsupportedMediaType", 415, 400),
    "throttled": ("RequestThrottled", 429, 503),
    "ratelimited": ("RequestThrottled", 429, 503),
    "unhandled": ("InternalError", 500, 500),
    "drf-apiexception": ("InternalError", 500, 500),
    "not-implemented": ("NotImplemented", 501, 501),
    "not-implemented-yet": ("NotImplemented", 501, 501),
    "operational": ("ServiceUnavailable", 503, 503),
    "interface": ("ServiceUnavailable", 503, 503),
    "service-unavailable": ("ServiceUnavailable", 503, 503),
    "timeout": ("RequestTimeout", 504, 504),
}
LOGGED = {400, 409, 413, 415, 422} | set(range(500, 600))
LEAKS = ("secret", "hunter2", "Secret")


def get(transport: str, url: str, **extra: Any) -> Any:
    if transport == "asgi":
        return async_to_sync(AsyncClient(raise_request_exception=False).get)(url, **extra)
    return Client(raise_request_exception=False).get(url, **extra)


@pytest.fixture
def signals_sent() -> Any:
    sent: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    got_request_exception.connect(receiver)
    yield sent
    got_request_exception.disconnect(receiver)


@pytest.mark.django_db
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize("flavour", ["drf", "plain", "async"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_kind_is_enveloped(
    kind: str, flavour: str, transport: str, debug: bool, signals_sent: list[Any]
) -> None:
    code, canonical, strict = EXPECTED[kind]
    response = get(transport, f"/{flavour}/raise/{kind}/")

    error = assert_error(response, code, status=strict, logged=canonical in LOGGED)
    assert response["Content-Type"] == "application/json"
    assert response["X-Counterbalance-Compute-Node"]
    assert not any(leak in error["message"] for leak in LEAKS), error
    # 5xx reach Django's own handling exactly once (Sentry, ADMINS mail); 4xx never do.
    assert len(signals_sent) == (1 if canonical >= 500 else 0)
    if code == "RequestThrottled":
        assert int(response["Retry-After"]) >= 1
    if code == "ServiceUnavailable":
        assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("kind", ["method-not-allowed", "too-big", "throttled"])
def test_strict_off_answers_canonical_statuses(client: Client, settings: Any, kind: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    code, canonical, _ = EXPECTED[kind]
    assert_error(client.get(f"/drf/raise/{kind}/"), code, status=canonical)


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_unknown_endpoint(transport: str, debug: bool) -> None:
    response = get(transport, "/no/such/endpoint/")
    # "the requested endpoint does not exist" is a 400 in the Counterbalance document.
    assert_error(response, "EndpointNotFound", status=400, logged=False)


def test_unknown_endpoint_canonical_is_404(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    assert_error(client.get("/nope/"), "EndpointNotFound", status=404)


def test_logged_statuses_setting(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"LOGGED_STATUSES": [404]}
    assert_error(client.get("/drf/raise/http404/"), "ResourceNotFound", logged=True)
    assert_error(client.get("/drf/raise/drf-validation/"), "InvalidArgument", logged=False)


def test_hash_is_unique_per_error(client: Client) -> None:
    hashes = {error_body(client.get("/plain/raise/unhandled/"))["logging_hash"] for _ in range(5)}
    assert len(hashes) == 5


def test_5xx_logged_with_traceback_on_django_request(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="django.request"):
        client.get("/plain/raise/unhandled/")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is KeyError


def test_suspicious_operation_logged_on_django_security(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        client.get("/plain/raise/suspicious/")
    assert any(r.name == "django.security.SuspiciousOperation" for r in caplog.records)
