"""The marker-secret matrix (issue 9): one planted marker per channel, DEBUG on and off.

No marker may reach any column of the row or its group, the admin's pages, the output of
``manage.py errorlog``, or (with the database down) the fallback log line.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from tests.support.errorlog_helpers import VENDOR, database_down, dump, fallback_lines
from tests.support.records import fallback_hashes, header_hash, stored
from tests.support.secrets import assert_absent, assert_not_in_admin, superuser_client

pytestmark = pytest.mark.django_db

MARK = "MRK9Z"  # in every marker: one search finds any leak


def marker(channel: str) -> str:
    return f"{MARK}-{channel}"


Send = Callable[[Client], Any]
JSON = "application/json"


def _json(path: str, data: Any) -> Send:
    return lambda client: client.post(path, data, content_type=JSON)


def _cookies(client: Client) -> Any:
    client.cookies["sessionid"] = marker("cookie-session")
    client.cookies["csrftoken"] = marker("cookie-csrf")
    client.cookies["theme"] = marker("cookie-custom")
    return client.get("/plain/raise/unhandled/")


def _multipart(client: Client) -> Any:
    upload = SimpleUploadedFile("report.txt", marker("file-content").encode())
    return client.post(
        "/errorlog/form-fail/", {"token": marker("multipart-token"), "name": "n", "doc": upload}
    )


CHANNELS: dict[str, Send] = {
    "headers": lambda client: client.get(
        "/drf/raise/unhandled/",
        HTTP_AUTHORIZATION=f"Bearer {marker('authorization')}",
        HTTP_X_API_KEY=marker("x-api-key"),
        HTTP_X_CUSTOM_THING=marker("custom-header"),
        HTTP_REFERER=f"https://app.example/cb?access_token={marker('referer')}",
        HTTP_USER_AGENT=f"agent password={marker('user-agent')}",
    ),
    "cookies": _cookies,
    "query": lambda client: client.get(
        "/plain/raise/unhandled/",
        {"password": marker("q-password"), "access_token": marker("q-token")},
    ),
    "json-top-level": _json("/errorlog/plain-json-fail/", {"password": marker("json-top")}),
    "json-nested": _json(
        "/errorlog/read-then-fail/", {"profile": {"api_token": marker("json-nested")}}
    ),
    "json-in-lists": _json("/drf/payload/", {"items": [{"secret": [marker("json-list")]}]}),
    "token-under-a-harmless-name": _json(
        "/errorlog/plain-json-fail/",
        {"x": f"sk_live_{MARK}0123456789", "items": [f"AKIA{MARK}ABCDEFGHIJK"]},
    ),
    "form": lambda client: client.post("/errorlog/form-fail/", {"password": marker("form")}),
    "multipart": _multipart,
    "raw-body": lambda client: client.post(
        "/errorlog/plain-json-fail/", f"password={marker('raw')}", content_type="text/plain"
    ),
    "exception-message": lambda client: client.get(
        "/errorlog/message-fail/", {"message": f"login failed password={marker('message')}"}
    ),
    "validation-message": lambda client: client.get(
        "/errorlog/validation-echo/", {"api_token": marker("validation")}
    ),
    "sensitive-post-parameters-plain": lambda client: client.post(
        "/errorlog/form-fail/", {"card_number": marker("form-card"), "pin": marker("form-pin")}
    ),
    "sensitive-post-parameters-drf": _json(
        "/bad-input/card/", {"cc": marker("drf-card"), "pin": marker("drf-pin")}
    ),
    "sensitive-variables-locals": lambda client: client.get(
        "/errorlog/locals-fail/", HTTP_X_PIN=marker("local-pin"), HTTP_X_TOKEN=marker("local-tok")
    ),
    "sensitive-post-parameters-locals": _json(
        "/bad-input/card-crash/", {"cc": marker("locals-card"), "pin": marker("locals-pin")}
    ),
}

# The database's own error text, with the value where each server quotes it.
DATABASE_SHAPES = {
    "postgresql": ["unique", "functional-unique", "failing-row", "input-syntax", "literal"],
    "mysql": ["unique", "incorrect-value"],
}.get(VENDOR, [])
# Values that broke the old scrubber: parentheses, a line break, the quote before " for ".
DATABASE_VALUES = {
    "unique": f"(x)' for y{marker('db-key')}",
    "functional-unique": f"{marker('db-index')}@x.io",
    "failing-row": f"(a)\n{marker('db-row')}",
    "input-syntax": marker("db-syntax"),
    "literal": marker("db-literal"),
    "incorrect-value": f"x' for {marker('db-value')}",
}


@pytest.fixture
def admin(django_user_model: Any) -> Client:
    return superuser_client(django_user_model)


def assert_no_marker(text: str, where: str) -> None:
    assert_absent(MARK, text, where)


def assert_nowhere(
    client: Client, admin: Client, send: Send, caplog: Any, *, readers: bool = True
) -> None:
    """No marker in the stored row, the fallback line and (``readers``) the admin's pages and
    ``manage.py errorlog``, which only show what the row holds."""
    logging_hash = header_hash(send(client))
    row = stored(logging_hash)
    assert row is not None
    assert_no_marker(dump(row), "row or group")
    if readers:
        assert_not_in_admin(admin, row, MARK)
        for options in ({}, {"json": True}):
            output = io.StringIO()
            call_command("errorlog", logging_hash, stdout=output, **options)
            assert_no_marker(output.getvalue(), f"manage.py errorlog {options}")
    caplog.clear()
    with database_down(), caplog.at_level(logging.DEBUG, logger="counterbalance_errors"):
        down_hash = header_hash(send(client))
    assert down_hash in fallback_hashes(caplog)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("counterbalance_errors")]
    lines = json.dumps(fallback_lines(caplog), default=str)
    assert_no_marker("\n".join([*ours, lines]), "fallback line")


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_no_marker_is_stored(
    client: Client, admin: Client, settings: Any, caplog: Any, debug: bool, channel: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    # The readers show the row: checked once per channel, where it is stored with DEBUG off.
    assert_nowhere(client, admin, CHANNELS[channel], caplog, readers=not debug)


@pytest.mark.skipif(not DATABASE_SHAPES, reason="PostgreSQL's and MariaDB's error texts")
@pytest.mark.parametrize("shape", DATABASE_SHAPES or ["none"])
def test_no_marker_from_database_error_messages(
    client: Client, admin: Client, caplog: Any, debug: bool, shape: str
) -> None:
    def send(client: Client) -> Any:
        return client.get(
            f"/bad-input/database-error/{shape}/", HTTP_X_VALUE=DATABASE_VALUES[shape]
        )

    assert_nowhere(client, admin, send, caplog)
