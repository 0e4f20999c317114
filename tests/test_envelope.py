"""Every kind of error comes out as the envelope of SPEC §3 and §5 (strict) through each hook.

Which code and status an exception maps to is a fact of the catalog (``test_catalog.py``); here
each kind goes once through the DRF exception handler and once through the middleware's
``process_exception``, and a small matrix covers view flavour x transport (the async view and
ASGI take other code paths: ``sync_to_async`` for ``process_exception``, ``__acall__``). DEBUG
is not multiplied in: ``process_exception`` answers before Django's technical pages run.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from counterbalance_errors.testing import assert_error, error_body
from tests.support.kinds import EXPECTED

LOGGED = {400, 409, 413, 415, 422} | set(range(500, 600))
LEAKS = ("secret", "hunter2", "Secret")


def assert_enveloped(response: Any, kind: str, signals_sent: list[Any]) -> None:
    code, canonical, strict = EXPECTED[kind]
    error = assert_error(response, code, status=strict, logged=canonical in LOGGED)
    assert response["Content-Type"] == "application/json"
    assert response["X-Counterbalance-Compute-Node"]
    assert not any(leak in error["message"] for leak in LEAKS), error
    # 5xx reach Django's own handling exactly once (Sentry, ADMINS mail); 4xx never do.
    assert len(signals_sent) == (1 if canonical >= 500 else 0)
    if code in {"RequestThrottled", "ServiceUnavailable"}:
        assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
@pytest.mark.parametrize("flavour", ["drf", "plain"], ids=["drf-handler", "process-exception"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_kind_is_enveloped(
    call: Any, kind: str, flavour: str, signals_sent: list[Any]
) -> None:
    assert_enveloped(call("wsgi", "get", f"/{flavour}/raise/{kind}/"), kind, signals_sent)


@pytest.mark.django_db
@pytest.mark.parametrize("flavour", ["drf", "plain", "async"])
@pytest.mark.parametrize("kind", ["http404", "too-big", "unhandled", "operational", "throttled"])
def test_each_view_flavour_over_each_transport(
    call: Any, transport: str, flavour: str, kind: str, signals_sent: list[Any]
) -> None:
    assert_enveloped(call(transport, "get", f"/{flavour}/raise/{kind}/"), kind, signals_sent)


@pytest.mark.parametrize("kind", ["method-not-allowed", "too-big", "throttled"])
def test_strict_off_answers_canonical_statuses(client: Client, settings: Any, kind: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    code, canonical, _ = EXPECTED[kind]
    assert_error(client.get(f"/drf/raise/{kind}/"), code, status=canonical)


def test_unknown_endpoint(call: Any, transport: str, debug: bool) -> None:
    # No view, no process_exception: handler404, or technical_404_response under DEBUG.
    response = call(transport, "get", "/no/such/endpoint/")
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
