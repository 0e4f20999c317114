"""``000_a390d41408d3e217.txt`` (Counterbalance "Responses & Errors"), table by table.

The document's error table lists 400, 401, 403, 404, 409 and 5xx; its logging example is
``{"error": {...}, "logging_hash": "..."}`` plus ``X-Counterbalance-Log-Hash``; its one
additional header is ``X-Counterbalance-Compute-Node``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.documents import COUNTERBALANCE_DOCUMENTED as DOCUMENTED
from tests.support.documents import COUNTERBALANCE_ERROR_TABLE as ERROR_TABLE
from tests.support.documents import rows
from tests.support.profiletools import HASH, NODE, call, use_profile
from tests.support.rendering import render
from tests.views import RAISES


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "counterbalance")


def assert_envelope(response: Any) -> dict[str, Any]:
    # "The returned content will always be identified with a Content-Type header."
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) <= {"error", "logging_hash"}
    assert set(body["error"]) <= {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str)
    return body


@pytest.mark.parametrize(("status", "kind"), rows(ERROR_TABLE))
def test_every_row_of_the_error_table(status: int, kind: str) -> None:
    response = render(kind)
    assert response.status_code == status
    assert_envelope(response)


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_only_documented_statuses_are_answered(kind: str) -> None:
    status = render(kind).status_code
    assert status in DOCUMENTED or status >= 500


def test_the_requested_endpoint_does_not_exist_is_a_400() -> None:
    response = call("wsgi", "GET", "/no/such/endpoint/")
    assert response.status_code == 400
    assert assert_envelope(response)["error"]["code"] == "EndpointNotFound"


def test_forbidden_when_the_tenant_account_is_locked() -> None:
    response = call("wsgi", "GET", "/drf/raise/account-locked/")
    assert response.status_code == 403
    assert assert_envelope(response)["error"]["code"] == "AccountLocked"


def test_400_body_says_why_the_error_occurred() -> None:
    response = call(
        "wsgi",
        "POST",
        "/drf/payload/",
        data=b'{"name": "toolong"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    error = assert_envelope(response)["error"]
    assert {"field": "name", "code": "max_length"}.items() <= error["details"][0].items()


@pytest.mark.django_db
def test_error_logging_example() -> None:
    """``{"error": {...}, "logging_hash": "034dd6..."}`` and ``X-Counterbalance-Log-Hash``."""
    response = call("wsgi", "GET", "/plain/raise/unhandled/")
    body = assert_envelope(response)
    assert list(body) == ["error", "logging_hash"]
    assert HASH.match(body["logging_hash"])
    assert response["X-Counterbalance-Log-Hash"] == body["logging_hash"]


def test_not_logged_errors_carry_no_hash() -> None:
    response = call("wsgi", "GET", "/drf/raise/drf-not-found/")
    assert "logging_hash" not in assert_envelope(response)
    assert not response.has_header("X-Counterbalance-Log-Hash")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/drf/success/", b"", 200),
        ("POST", "/profiles/accepted/", b"{}", 202),
        ("DELETE", "/profiles/no-content/", b"", 204),
    ],
)
def test_success_responses_are_untouched(method: str, url: str, body: bytes, status: int) -> None:
    response = call("wsgi", method, url, data=body, content_type="application/json")
    assert response.status_code == status
    assert response["X-Counterbalance-Compute-Node"] == NODE
    assert not response.has_header("X-Counterbalance-Log-Hash")


def test_created_201() -> None:
    payload = {
        "name": "ok",
        "password": "long enough",
        "address": {"zipcode": "123"},
        "items": [{"name": "a", "email": "a@example.com"}],
        "tags": [1],
    }
    response = call(
        "wsgi", "POST", "/drf/payload/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201
    assert json.loads(response.content) == {"ok": True}
    assert response["X-Counterbalance-Compute-Node"] == NODE
