"""``problem_details``: RFC 9457 Problem Details, with canonical statuses."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from counterbalance_errors.catalog import CATALOG
from tests.support.kinds import EXPECTED
from tests.support.profiletools import HASH, call, use_profile
from tests.support.rendering import render


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "problem_details")


def assert_problem(response: Any, path: str | None) -> dict[str, Any]:
    """A problem object; ``path`` is the request's (None: rendered without a request)."""
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert set(body) <= {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "code",
        "errors",
        "logging_hash",
    }
    assert body["type"] == "about:blank"
    # RFC 9457 §4.2.1: with about:blank, the title is the status phrase.
    assert body["title"] == HTTPStatus(response.status_code).phrase
    assert body["status"] == response.status_code
    assert body.get("instance") == path
    assert body["code"] in CATALOG
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_error_is_a_problem_with_its_canonical_status(kind: str) -> None:
    code, canonical, _ = EXPECTED[kind]
    response = render(kind)
    assert response.status_code == canonical
    body = assert_problem(response, None)
    assert body["code"] == code
    if canonical in {400, 409, 413, 415} or canonical >= 500:
        assert HASH.match(body["logging_hash"])
        assert response["X-Counterbalance-Log-Hash"] == body["logging_hash"]
    else:
        assert "logging_hash" not in body
        assert not response.has_header("X-Counterbalance-Log-Hash")


def test_validation_errors_extension() -> None:
    response = call(
        "wsgi",
        "POST",
        "/drf/payload/",
        data=b'{"name": "toolong", "items": [{"name": "a", "email": "bad"}]}',
        content_type="application/json",
    )
    assert response.status_code == 400
    body = assert_problem(response, "/drf/payload/")
    assert body["code"] == "InvalidArgument"
    assert body["detail"] == "One or more arguments are invalid."
    fields = {e["field"]: e["code"] for e in body["errors"]}
    assert fields["name"] == "max_length"
    assert fields["items.0.email"] == "invalid"
    assert fields["tags"] == "required"


def test_unknown_endpoint_and_throttle() -> None:
    missing = call("wsgi", "GET", "/nowhere/")
    assert missing.status_code == 404
    assert assert_problem(missing, "/nowhere/")["code"] == "EndpointNotFound"
    throttled = call("wsgi", "GET", "/drf/throttled/")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "8"
    assert assert_problem(throttled, "/drf/throttled/")["code"] == "RequestThrottled"


def test_success_is_untouched() -> None:
    response = call("wsgi", "GET", "/drf/success/")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"hello": "world", "items": [1, 2, 3]}


def test_problem_type_can_be_overridden(settings: Any) -> None:
    use_profile(settings, "tests.support.profiles.TypedProblems")
    body = json.loads(call("wsgi", "GET", "/drf/raise/drf-not-found/").content)
    assert body["type"] == "https://errors.example.com/ResourceNotFound"


def test_status_member_of_an_unknown_status_has_a_title() -> None:
    from counterbalance_errors.profiles.problem_details import status_phrase

    assert status_phrase(599) == "Error"
