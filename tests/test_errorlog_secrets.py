"""Secrets never stored: marker secrets sent through every channel appear in no column of the
row or its group, in no admin page and in no fallback log line: what each channel keeps and how it
is masked. The marker matrix of test_secrets.py runs every channel with DEBUG on and off."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from counterbalance_errors.scrubbing import FILTERED
from tests.support.errorlog_helpers import VENDOR, database_down, dump, entry, fallback_lines
from tests.support.secrets import assert_absent, assert_not_in_admin, superuser_client

pytestmark = pytest.mark.django_db

MARK = "MRK7Q"  # every marker contains this, so one search finds any leak


def marker(channel: str) -> str:
    return f"{MARK}-{channel}-secret"


SECRET_HEADERS = {
    "HTTP_AUTHORIZATION": f"Bearer {marker('authorization')}",
    "HTTP_PROXY_AUTHORIZATION": f"Basic {marker('proxy-authorization')}",
    "HTTP_X_AUTH_TOKEN": marker("x-auth-token"),
    "HTTP_X_API_KEY": marker("x-api-key"),
    "HTTP_X_CSRFTOKEN": marker("x-csrftoken"),
    "HTTP_X_FORWARDED_FOR": f"203.0.113.7, {marker('x-forwarded-for')}",
    "HTTP_X_REAL_IP": marker("x-real-ip"),
    "HTTP_X_CUSTOM_THING": marker("custom-header"),
    "HTTP_REFERER": f"https://app.example/callback?access_token={marker('referer')}&page=1",
    "HTTP_USER_AGENT": f"agent password={marker('user-agent')}",
}
SECRET_QUERY = (
    f"?password={marker('q-password')}&access_token={marker('q-access-token')}"
    f"&api_key={marker('q-api-key')}&sessionid={marker('q-session')}&page=2"
)
SECRET_JSON = {
    "user_password": marker("user-password"),
    "nested": {"password": marker("nested-password"), "name": "visible-name"},
    "api_token": marker("api-token"),
    "items": [{"secret": marker("list-secret")}, {"Authorization": marker("list-auth")}],
    "note": f"password={marker('note')}",
}


def send_cookies(client: Client) -> None:
    client.cookies["sessionid"] = marker("cookie-sessionid")
    client.cookies["csrftoken"] = marker("cookie-csrftoken")
    client.cookies["theme"] = marker("cookie-theme")


def assert_no_marker(text: str) -> None:
    assert_absent(MARK, text)


@pytest.fixture
def admin_client_view(django_user_model: Any) -> Client:
    return superuser_client(django_user_model)


def assert_nowhere(response: Any, admin: Client) -> Any:
    row = entry(response)
    assert_no_marker(dump(row))
    assert_not_in_admin(admin, row, MARK)
    return row


@pytest.mark.parametrize("flavour", ["drf", "plain"])
def test_headers_cookies_and_query(client: Client, admin_client_view: Client, flavour: str) -> None:
    send_cookies(client)
    response = client.get(f"/{flavour}/raise/unhandled/{SECRET_QUERY}", **SECRET_HEADERS)
    row = assert_nowhere(response, admin_client_view)
    assert row.query["page"] == "2"
    assert row.query["password"] == FILTERED
    assert row.headers["Authorization"] == FILTERED
    assert row.headers["Cookie"] == FILTERED
    assert row.headers["X-Custom-Thing"] == FILTERED  # not allow-listed: name only
    assert row.headers["Referer"].endswith(f"access_token={FILTERED}&page=1")


@pytest.mark.parametrize(
    "path", ["/errorlog/read-then-fail/", "/errorlog/plain-json-fail/", "/drf/payload/"]
)
def test_json_bodies(client: Client, admin_client_view: Client, path: str) -> None:
    response = client.post(path, SECRET_JSON, content_type="application/json", **SECRET_HEADERS)
    row = assert_nowhere(response, admin_client_view)
    assert row.body["nested"]["name"] == "visible-name"


def test_json_body_sensitive_post_parameters(client: Client, admin_client_view: Client) -> None:
    # card_number is no built-in term: only the view's sensitive_post_parameters hides it.
    body = {**SECRET_JSON, "card_number": marker("card")}
    response = client.post("/errorlog/form-fail/", body, content_type="application/json")
    row = assert_nowhere(response, admin_client_view)
    assert row.body["card_number"] == FILTERED


def test_form_body_sensitive_post_parameters(client: Client, admin_client_view: Client) -> None:
    form = {
        "name": "visible-name",
        "password": marker("form-password"),
        "card_number": marker("form-card"),
        "pin": marker("form-pin"),
    }
    response = client.post("/errorlog/form-fail/", form)
    row = assert_nowhere(response, admin_client_view)
    assert row.body["name"] == "visible-name"
    assert row.body["card_number"] == FILTERED


def test_multipart_body_keeps_file_names_not_contents(
    client: Client, admin_client_view: Client
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = marker("file-content").encode()
    upload = SimpleUploadedFile("report.txt", content)
    response = client.post(
        "/errorlog/form-fail/", {"name": "n", "token": marker("multipart-token"), "doc": upload}
    )
    row = assert_nowhere(response, admin_client_view)
    assert row.body["[files]"] == {"doc": {"name": "report.txt", "size": len(content)}}


def test_sensitive_variables_and_locals(
    client: Client, admin_client_view: Client, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    response = client.get(
        "/errorlog/locals-fail/",
        HTTP_X_PIN=marker("local-pin"),
        HTTP_X_TOKEN=marker("local-token"),
    )
    row = assert_nowhere(response, admin_client_view)
    assert any("visible-local-value" in json.dumps(f) for f in row.frame_locals)


def test_container_locals(client: Client, admin_client_view: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    form = {"password": marker("form-password"), "page": "2"}
    response = client.post("/logged-fixes/container-locals-fail/", form)
    row = assert_nowhere(response, admin_client_view)
    variables = next(f["vars"] for f in row.frame_locals if "container_locals_fail" in f["frame"])
    assert variables["form"] == "<QueryDict: {'page': ['2'], 'password': [Filtered]}>"
    assert variables["payload"] == "{'api_key': [Filtered], 'name': 'visible-dict-name'}"
    assert variables["items"] == "[{'secret': [Filtered]}, 'visible-list-item']"
    assert variables["pair"] == "('token', '[Filtered]')"


def test_container_exception_messages(client: Client, admin_client_view: Client) -> None:
    response = client.post(
        "/logged-fixes/container-message-fail/", {"password": marker("form-in-message")}
    )
    row = assert_nowhere(response, admin_client_view)
    assert "'password': [Filtered]}>" in row.exception_message
    assert "'session': [Filtered], 'mode': 'visible-mode'}" in row.exception_message


@pytest.mark.skipif(VENDOR == "sqlite", reason="PostgreSQL's and MariaDB's error texts")
def test_values_in_database_errors_are_hidden(client: Client, admin_client_view: Client) -> None:
    response = client.get("/logged-fixes/failing-row/", {"secret": marker("failing-row")})
    row = assert_nowhere(response, admin_client_view)
    if VENDOR == "postgresql":
        assert response.status_code == 409
        assert f"Failing row contains {FILTERED}" in row.exception_message
        assert row.group.title.startswith("django.db.utils.IntegrityError: null value")
    else:
        assert f"Incorrect integer value: '{FILTERED}' for column" in row.exception_message


def test_exception_messages(client: Client, admin_client_view: Client) -> None:
    message = (
        f"login failed password={marker('msg-password')} "
        f"url=https://u:{marker('msg-url')}@db.example/x Bearer {marker('msg-bearer')}"
    )
    response = client.get("/errorlog/message-fail/", {"message": message})
    row = assert_nowhere(response, admin_client_view)
    assert "login failed password=[Filtered]" in row.exception_message
    assert "login failed password=[Filtered]" in row.group.traceback


def test_validation_messages_of_sensitive_fields(client: Client, admin_client_view: Client) -> None:
    response = client.get("/errorlog/validation-echo/", {"api_token": marker("validation")})
    row = assert_nowhere(response, admin_client_view)
    assert {d["field"]: d["message"] for d in row.details} == {
        "api_token": FILTERED,
        "name": "Bad.",
    }


def test_over_the_size_limit_no_body_is_stored(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"MAX_BODY_BYTES": 100}
    payload = {"comment": "x" * 200, "other": marker("big")}
    row = entry(client.post("/errorlog/plain-json-fail/", payload, content_type="application/json"))
    assert_no_marker(dump(row))
    assert row.body.startswith("[not stored:")


def test_bodies_of_other_content_types_are_never_stored(client: Client) -> None:
    row = entry(
        client.post(
            "/errorlog/plain-json-fail/", f"password={marker('text')}", content_type="text/plain"
        )
    )
    assert row.body is None
    assert_no_marker(dump(row))


def test_max_body_bytes_zero_stores_no_body(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"MAX_BODY_BYTES": 0}
    row = entry(
        client.post("/errorlog/plain-json-fail/", {"a": 1}, content_type="application/json")
    )
    assert row.body is None


def test_scrub_keys_setting(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"SCRUB_KEYS": ["iban"]}
    response = client.get(f"/plain/raise/unhandled/?IBAN={marker('iban')}&page=1")
    assert_no_marker(dump(entry(response)))


def test_custom_session_cookie_name(client: Client, settings: Any) -> None:
    client.get("/plain/raise/unhandled/")  # what a snapshot reads of the settings is kept...
    settings.SESSION_COOKIE_NAME = "appstate"  # ...until a setting changes
    response = client.get(f"/plain/raise/unhandled/?appstate={marker('custom-session')}")
    assert_no_marker(dump(entry(response)))


def test_fallback_log_line_is_scrubbed_too(client: Client, caplog: Any) -> None:
    send_cookies(client)
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        client.post(
            f"/errorlog/plain-json-fail/{SECRET_QUERY}",
            SECRET_JSON,
            content_type="application/json",
            **SECRET_HEADERS,
        )
    lines = fallback_lines(caplog)
    assert len(lines) == 1
    assert_no_marker(json.dumps(lines))
    assert_no_marker(caplog.text)
