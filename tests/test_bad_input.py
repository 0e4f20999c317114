"""Hostile input never costs a row or a hash, and a client's mistake is never a 5xx (issue 9).

Each test sends the request that reproduced a defect and checks what the client got and what
was stored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from counterbalance_errors.profiles import BUILTIN
from counterbalance_errors.scrubbing import FILTERED
from counterbalance_errors.testing import assert_error
from tests.support.envelopes import assert_envelope, logged_hash
from tests.support.errorlog_helpers import database_down, fallback_lines
from tests.support.records import header_hash, stored

pytestmark = pytest.mark.django_db

# Deeper than the json module's C scanner goes on every supported Python (3.11/3.12 stop near
# the recursion limit, 1,000; 3.13 parses 4,000 levels but not 20,000): 200 KB.
DEEP_JSON = "[" * 100_000 + "]" * 100_000
CARD = {"cc": "4111-CARD", "pin": "9999-PIN", "note": "visible-note"}


def row_of(response: Any) -> Any:
    row = stored(header_hash(response))
    assert row is not None, f"no row for {response.status_code} {response.content!r}"
    return row


# --- defect 1: sensitive_post_parameters in stored validation details -------------------------


def test_sensitive_post_parameters_hide_validation_messages(client: Client, caplog: Any) -> None:
    response = client.post("/bad-input/card/", CARD, content_type="application/json")
    assert_error(response, "InvalidArgument", status=400, logged=True)
    messages = {d["field"]: d["message"] for d in row_of(response).details}
    assert messages == {
        "cc": FILTERED,
        "pin": FILTERED,
        "note": '"visible-note" is not a valid choice.',
    }
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        client.post("/bad-input/card/", CARD, content_type="application/json")
    logged = caplog.text + json.dumps(fallback_lines(caplog), default=str)
    assert "4111-" not in logged  # the values: hex hashes and ids may hold "4111"
    assert "9999-" not in logged
    assert "visible-note" in logged


# --- defect 2: the same names inside captured locals -----------------------------------------


@pytest.mark.parametrize(
    ("path", "hidden"),
    [("/bad-input/card-crash/", ("cc", "pin")), ("/bad-input/all-sensitive-crash/", None)],
)
def test_sensitive_post_parameters_hide_locals(
    client: Client, settings: Any, debug: bool, path: str, hidden: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    response = client.post(path, CARD, content_type="application/json")
    assert response.status_code == 500
    row = row_of(response)
    text = json.dumps(row.frame_locals)
    assert "4111-" not in text  # the values: hex hashes and ids may hold "4111"
    assert "9999-" not in text
    variables = next(f["vars"] for f in row.frame_locals if "Crash" in f["frame"])
    if hidden:
        assert variables["data"] == "{'cc': [Filtered], 'note': 'visible-note', 'pin': [Filtered]}"
        assert variables["everything"] == variables["data"]
    else:  # every name of the body is sensitive
        assert variables["data"] == "{'cc': [Filtered], 'note': [Filtered], 'pin': [Filtered]}"


# --- defect 4: NUL bytes reach every database, escaped -----------------------------------------


def test_nul_in_query_path_header_and_body_is_stored_escaped(client: Client, debug: bool) -> None:
    response = client.post(
        "/bad-input/plain-json/a%00b/?q=a%00b",
        '{"crash": "a\\u0000b", "k\\u0000": ["\\u0000"]}',
        content_type="application/json",
        HTTP_USER_AGENT="agent\x00b",
    )
    assert response.status_code == 500
    row = row_of(response)
    assert row.path == "/bad-input/plain-json/a\\x00b/"
    assert row.query == {"q": "a\\x00b"}
    assert row.headers["User-Agent"] == "agent\\x00b"
    assert row.body == {"crash": "a\\x00b", "k\\x00": ["\\x00"]}


# --- defect 5: a lone surrogate keeps its hash and its row ----------------------------------


@pytest.mark.parametrize("profile", sorted(BUILTIN))
def test_lone_surrogate_keeps_the_hash(client: Client, settings: Any, profile: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    response = client.post(
        "/bad-input/colour/", '{"colour": "\\ud800"}', content_type="application/json"
    )
    assert response.status_code in (400, 422)
    body = assert_envelope(profile, response)
    if body is not None:
        assert "\\ud800" in response.content.decode()  # the client's input, escaped as JSON allows
    logging_hash = logged_hash(profile, response, body)
    assert logging_hash is not None
    row = stored(logging_hash)
    assert row is not None
    assert row.details[0]["message"] == '"\\ud800" is not a valid choice.'
    assert row.body == {"colour": "\\ud800"}


# --- defect 6: deep JSON is the client's mistake -------------------------------------------


@pytest.mark.parametrize("path", ["/drf/echo/", "/bad-input/plain-json/", "/bad-input/async-json/"])
def test_deep_json_is_a_bad_request(client: Client, debug: bool, path: str) -> None:
    response = client.post(path, DEEP_JSON, content_type="application/json")
    assert_error(response, "BadRequest", status=400, logged=True)
    row = row_of(response)
    assert (row.status, row.code, row.traceback) == (400, "BadRequest", "")


@pytest.mark.parametrize("profile", sorted(BUILTIN))
def test_deep_json_is_a_bad_request_under_every_profile(
    client: Client, settings: Any, profile: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    response = client.post("/drf/echo/", DEEP_JSON, content_type="application/json")
    assert response.status_code == 400
    assert_envelope(profile, response)
    assert stored(str(logged_hash(profile, response))) is not None


def test_a_recursion_error_of_the_application_is_still_a_server_error(client: Client) -> None:
    response = client.get("/bad-input/recursion/")
    assert_error(response, "InternalError", status=500, logged=True)


@pytest.mark.parametrize(
    ("path", "body", "stored_body"),
    [
        ("/bad-input/colour/", "-1e999", "-inf"),  # DRF's parsed data, a bare float
        ("/bad-input/plain-json/", '{"crash": [1e999, -1e999]}', {"crash": ["inf", "-inf"]}),
    ],
)
def test_infinite_numbers_are_stored_as_text(
    client: Client, path: str, body: str, stored_body: Any
) -> None:
    response = client.post(path, body, content_type="application/json")
    assert row_of(response).body == stored_body
