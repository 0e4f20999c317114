"""``001_f05afd4b2a34bcb7.txt`` (Green Stack "Responses and Errors"), section by section."""

from __future__ import annotations

import json
from typing import Any

import pytest

from counterbalance_errors.profiles import get_profile
from tests.support.documents import COUNTERBALANCE_DOCUMENTED as DOCUMENTED
from tests.support.documents import COUNTERBALANCE_ERROR_TABLE as ERROR_TABLE
from tests.support.documents import rows
from tests.support.profiletools import HASH, NODE, call, use_profile
from tests.support.rendering import render
from tests.views import RAISES

GREEN_HEADERS = (
    "X-Green-Stack-Compute-Node",
    "X-Green-Stack-Gateway-Node",
    "X-Green-Stack-Realm",
    "X-Green-Stack-Request-ID",
)


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "green_stack", GATEWAY_NODE="gw-3", REALM="eu-west")


def assert_error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) <= {"error", "trace"}
    assert set(body["error"]) <= {"code", "message", "details"}
    return body


def assert_green_headers(response: Any) -> None:
    assert response["X-Green-Stack-Compute-Node"] == NODE
    assert response["X-Green-Stack-Gateway-Node"] == "gw-3"
    assert response["X-Green-Stack-Realm"] == "eu-west"
    assert response["X-Green-Stack-Request-ID"]


@pytest.mark.parametrize(("status", "kind"), rows(ERROR_TABLE))
def test_error_response_codes(status: int, kind: str) -> None:
    response = render(kind)
    assert response.status_code == status
    assert_error(response)


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_only_the_listed_codes(kind: str) -> None:
    status = render(kind).status_code
    assert status in DOCUMENTED or status >= 500


def test_the_requested_endpoint_does_not_exist_is_a_400() -> None:
    response = call("wsgi", "GET", "/nowhere/")
    assert response.status_code == 400
    assert assert_error(response)["error"]["code"] == "EndpointNotFound"


@pytest.mark.django_db
def test_error_tracing() -> None:
    """``{"error": {...}, "trace": "034dd6..."}`` and ``X-Green-Stack-Error-Trace``."""
    response = call("wsgi", "GET", "/drf/raise/unhandled/")
    body = assert_error(response)
    assert list(body) == ["error", "trace"]
    assert HASH.match(body["trace"])
    assert response["X-Green-Stack-Error-Trace"] == body["trace"]
    assert not response.has_header("X-Counterbalance-Log-Hash")
    assert "logging_hash" not in body


def test_error_trace_header_only_on_errors_that_have_a_trace() -> None:
    response = call("wsgi", "GET", "/drf/raise/drf-permission/")
    assert "trace" not in assert_error(response)
    assert not response.has_header("X-Green-Stack-Error-Trace")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/drf/success/", 200),
        ("POST", "/profiles/accepted/", 202),
        ("DELETE", "/profiles/no-content/", 204),
        ("GET", "/plain/success/", 200),
        ("GET", "/async/success/", 200),
    ],
)
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_these_headers_are_included_in_all_responses(
    method: str, url: str, status: int, transport: str
) -> None:
    response = call(transport, method, url, content_type="application/json")
    assert response.status_code == status
    assert_green_headers(response)
    assert not response.has_header("X-Green-Stack-Error-Trace")


def test_204_no_content_has_a_null_body() -> None:
    response = call("wsgi", "DELETE", "/profiles/no-content/")
    assert response.status_code == 204
    assert response.content == b""


def test_gateway_node_and_realm_only_when_configured(settings: Any) -> None:
    use_profile(settings, "green_stack")
    response = call("wsgi", "GET", "/drf/success/")
    assert response["X-Green-Stack-Compute-Node"] == NODE
    assert response["X-Green-Stack-Request-ID"]
    assert not response.has_header("X-Green-Stack-Gateway-Node")
    assert not response.has_header("X-Green-Stack-Realm")


def test_request_id_differs_per_request_and_reuses_a_safe_gateway_id() -> None:
    first = call("wsgi", "GET", "/drf/success/")["X-Green-Stack-Request-ID"]
    second = call("wsgi", "GET", "/drf/success/")["X-Green-Stack-Request-ID"]
    assert first != second
    given = call("wsgi", "GET", "/drf/success/", HTTP_X_REQUEST_ID="gw-3:abc-123")
    assert given["X-Green-Stack-Request-ID"] == "gw-3:abc-123"


def test_timeouts_ten_seconds() -> None:
    """ "If Green Stack takes more than 10 seconds to process an API request ... an error"."""
    assert get_profile().budget() == 10.0


def test_edge_headers_are_not_invented() -> None:
    response = call("wsgi", "GET", "/drf/raise/unhandled/")
    assert not [name for name in response.headers if name.startswith("X-Green-Stack-Edge")]
