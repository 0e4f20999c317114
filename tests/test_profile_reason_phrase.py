"""``003_eef0400e425f9fcf.txt`` ("Responses", errors without a body), row by row.

"An unsuccessful response DOES NOT HAVE body. An ASCII error message truncated to 512 symbols
passed as EB-REASON-PHRASE header and truncated to 128 symbols passed as Reason Phrase."
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from counterbalance_errors.profiles import ascii_text
from tests.support.documents import rows
from tests.support.profiletools import HASH, call, use_profile, wsgi
from tests.support.rendering import render
from tests.views import RAISES

# The status table's error rows → kinds of error that the row describes.
ERROR_ROWS = {
    400: ["parse-error", "bad-request", "disallowed-host", "too-big"],
    401: ["not-authenticated", "authentication-failed"],
    403: ["drf-permission", "account-locked"],
    404: ["http404", "drf-not-found", "does-not-exist"],
    422: ["drf-validation", "drf-required", "django-validation"],
    500: ["unhandled"],
    501: ["not-implemented", "not-implemented-yet"],
    503: ["operational", "service-unavailable"],
}
DOCUMENTED = {400, 401, 403, 404, 422, 500, 501, 503}


@pytest.fixture(autouse=True)
def _profile(settings: Any) -> None:
    use_profile(settings, "reason_phrase")


def assert_no_body(response: Any) -> str:
    assert response.content == b""
    assert not response.has_header("Content-Type")
    phrase = response["EB-REASON-PHRASE"]
    assert phrase.isascii()
    assert phrase.isprintable()
    assert len(phrase) <= 512
    assert response.reason_phrase == phrase[:128]
    return str(phrase)


@pytest.mark.parametrize(("status", "kind"), rows(ERROR_ROWS))
def test_status_codes(status: int, kind: str) -> None:
    response = render(kind)
    assert response.status_code == status
    assert assert_no_body(response)


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_every_error_answers_a_listed_status_without_a_body(kind: str) -> None:
    response = render(kind)
    assert response.status_code in DOCUMENTED | {504}
    assert_no_body(response)


def test_unprocessable_entity_for_semantic_errors() -> None:
    response = call(
        "wsgi",
        "POST",
        "/drf/payload/",
        data=b'{"name": "toolong"}',
        content_type="application/json",
    )
    assert response.status_code == 422
    phrase = assert_no_body(response)
    assert phrase.startswith("One or more arguments are invalid. name: Ensure this field")


def test_malformed_syntax_is_400() -> None:
    response = call("wsgi", "POST", "/drf/echo/", data=b"{oops", content_type="application/json")
    assert response.status_code == 400
    assert assert_no_body(response).startswith("JSON parse error")


def test_phrases_are_ascii_without_control_characters_and_truncated() -> None:
    response = call("wsgi", "GET", "/profiles/unsafe-message/")
    assert response.status_code == 403
    phrase = assert_no_body(response)
    assert phrase.startswith("Zugriff verweigert fur Bucher X-Evil: 1 xxx")
    # The catalog caps developer messages at 512 characters with "…", which becomes "...".
    assert phrase.endswith("xxx...")
    assert len(phrase) == 511
    assert len(response.reason_phrase) == 128
    assert "\r" not in response.reason_phrase
    assert "\n" not in response.reason_phrase


def test_reason_phrase_in_the_wsgi_status_line_cannot_split_the_response() -> None:
    """Django 5.2 does not check reason phrases; runserver would send a CR/LF as is (J19)."""
    status, headers, body = wsgi("/profiles/unsafe-message/")
    assert status.startswith("403 Zugriff verweigert fur Bucher X-Evil: 1 xxx")
    assert len(status) == len("403 ") + 128
    assert status.isascii()
    assert status.isprintable()
    assert body == b""
    assert "X-Evil" not in headers


@pytest.mark.django_db
def test_logging_hash_in_its_header() -> None:
    response = call("wsgi", "GET", "/plain/raise/unhandled/")
    assert response.status_code == 500
    assert HASH.match(response["X-Counterbalance-Log-Hash"])
    assert_no_body(response)


def test_throttling_is_a_client_error_with_retry_after() -> None:
    response = call("wsgi", "GET", "/drf/raise/throttled/")
    assert response.status_code == 400
    assert response["Retry-After"] == "12"
    assert assert_no_body(response) == "Too many requests; retry later."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/drf/success/", 200), ("POST", "/profiles/accepted/", 202)],
)
def test_successful_responses_keep_their_body(method: str, url: str, status: int) -> None:
    response = call("wsgi", method, url, content_type="application/json")
    assert response.status_code == status
    assert json.loads(response.content)
    assert not response.has_header("EB-REASON-PHRASE")


def test_created_201_keeps_its_body() -> None:
    payload = (
        b'{"name":"ok","password":"long enough","address":{"zipcode":"1"},"items":[],"tags":[]}'
    )
    response = call("wsgi", "POST", "/drf/payload/", data=payload, content_type="application/json")
    assert (response.status_code, json.loads(response.content)) == (201, {"ok": True})


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Café\tcrème\r\nbrûlée", 128, "Cafe creme brulee"),
        ("a\x00b\x1bc\x7fd", 128, "abcd"),
        ("日本語 only", 128, "only"),
        ("x" * 600, 512, "x" * 512),
        ("truncated…", 128, "truncated..."),
        ("  padded  ", 4, "padd"),
    ],
)
def test_ascii_text(text: str, limit: int, expected: str) -> None:
    assert ascii_text(text, limit) == expected


@pytest.mark.django_db
def test_a_returned_error_without_a_content_type_stays_without_one() -> None:
    # A view's own 409 without a Content-Type, rewritten: no body, so still no Content-Type.
    response = call("wsgi", "GET", "/dj/error-without-content-type/")
    assert response.status_code == 400  # 409 is not in the document's table
    assert_no_body(response)
