"""``004_d15f4337de2c0e2c.txt`` ("Response status codes"), example by example.

"The body includes an object describing both the code and message": ``{code: 404, message:
'Example'}``. Errors: 400, 401, 404, 405, 406 ("Required fields are missing") and 503 (clients
back off exponentially, so it carries ``Retry-After``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.documents import rows
from tests.support.profiletools import HASH, call, use_profile
from tests.support.rendering import render
from tests.views import RAISES

# Each "Status: ..." example of the document → kinds of error it describes.
EXAMPLES = {
    400: ["parse-error", "drf-validation", "django-validation", "bad-request"],
    401: ["not-authenticated", "authentication-failed"],
    404: ["http404", "drf-not-found", "does-not-exist"],
    405: ["method-not-allowed"],
    406: ["drf-required"],
    503: ["operational", "interface", "service-unavailable", "throttled", "ratelimited"],
}
# "Other 4xx answer 400": the document lists no 403, 409, 413, 415 (nor a 406 for Accept).
OTHER_4XX = [
    "drf-permission",
    "account-locked",
    "conflict",
    "integrity",
    "in-use",
    "too-big",
    "unsupported-media-type",
    "not-acceptable",
    "drf-csrf",
]


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "numeric")


def assert_error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert list(body) == ["code", "message"]
    assert body["code"] == response.status_code
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


@pytest.mark.parametrize(("status", "kind"), rows(EXAMPLES))
def test_error_examples(status: int, kind: str) -> None:
    response = render(kind)
    assert response.status_code == status
    assert_error(response)
    if status == 503:
        assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("kind", OTHER_4XX)
def test_other_4xx_answer_400(kind: str) -> None:
    response = render(kind)
    assert response.status_code == 400
    assert assert_error(response)["code"] == 400


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_every_error_is_a_listed_status_or_5xx(kind: str) -> None:
    response = render(kind)
    assert response.status_code in {400, 401, 404, 405, 406} or response.status_code >= 500
    assert_error(response)


def test_400_invalid_json() -> None:
    """ "400 Bad Request: Invalid JSON (can't be parsed or has wrong types)"."""
    unparsable = call("wsgi", "POST", "/drf/echo/", data=b"{", content_type="application/json")
    assert unparsable.status_code == 400
    assert assert_error(unparsable)["message"].startswith("JSON parse error")
    wrong_type = call(
        "wsgi",
        "POST",
        "/drf/payload/",
        data=b'{"name": "a", "password": "long enough", "address": {"zipcode": "1"},'
        b' "items": [], "tags": ["x"]}',
        content_type="application/json",
    )
    assert wrong_type.status_code == 400
    assert "tags.0: A valid integer is required." in assert_error(wrong_type)["message"]


def test_404_endpoint_does_not_exist() -> None:
    """ "The resource, project, or endpoint being requested doesn't exist"."""
    response = call("wsgi", "GET", "/no/such/endpoint/")
    assert response.status_code == 404
    assert assert_error(response) == {
        "code": 404,
        "message": "The requested endpoint does not exist.",
    }


def test_405_invalid_http_method() -> None:
    """ "A GET, POST, DELETE, or PUT was sent to an endpoint that doesn't support that verb"."""
    for method, url in [("GET", "/plain/only-post/"), ("DELETE", "/drf/success/")]:
        response = call("wsgi", method, url)
        assert response.status_code == 405
        assert assert_error(response)["code"] == 405
        assert response["Allow"]


def test_406_required_fields_are_missing() -> None:
    response = call("wsgi", "POST", "/drf/payload/", data=b"{}", content_type="application/json")
    assert response.status_code == 406
    assert assert_error(response)["message"].startswith(
        "One or more required parameters are missing. name: This field is required."
    )


def test_503_has_retry_after_for_exponential_backoff() -> None:
    response = call("wsgi", "GET", "/drf/raise/service-unavailable/")
    assert response.status_code == 503
    assert response["Retry-After"] == "120"


@pytest.mark.django_db
def test_logging_hash_in_its_header_only() -> None:
    response = call("wsgi", "GET", "/plain/raise/unhandled/")
    assert assert_error(response) == {"code": 500, "message": "An internal error occurred."}
    assert HASH.match(response["X-Counterbalance-Log-Hash"])


def test_success_get_200_post_201_untouched() -> None:
    get = call("wsgi", "GET", "/drf/success/")
    assert (get.status_code, json.loads(get.content)) == (
        200,
        {"hello": "world", "items": [1, 2, 3]},
    )
    payload = (
        b'{"name":"ok","password":"long enough","address":{"zipcode":"1"},"items":[],"tags":[]}'
    )
    post = call("wsgi", "POST", "/drf/payload/", data=payload, content_type="application/json")
    assert (post.status_code, json.loads(post.content)) == (201, {"ok": True})


def test_strict_off_answers_canonical_statuses(settings: Any) -> None:
    use_profile(settings, "numeric", STRICT_STATUSES=False)
    for kind, status in [("drf-permission", 403), ("drf-required", 400), ("throttled", 429)]:
        response = call("wsgi", "GET", f"/drf/raise/{kind}/")
        assert response.status_code == status
        assert assert_error(response)["code"] == status
