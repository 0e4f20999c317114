"""docs/integrations.md: every snippet runs, with the real library, and does what the page says."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from typing import Any

import pytest
import structlog
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from counterbalance_errors import testing
from counterbalance_errors.models import ErrorLog
from tests.support.client import call
from tests.support.snippets import snippet, snippets

TRACEPARENT_TRACE_ID = "ab" * 16


def test_every_snippet_is_tested() -> None:
    tested = {"sentry", "opentelemetry", "logging", "structlog", "cors", "spectacular", "pytest"}
    assert set(snippets()) == tested


def run_isolated(name: str, *args: str) -> dict[str, Any]:
    """Sentry and OpenTelemetry patch process-wide state: their snippets run in a new process."""
    # Always SQLite in memory: the script migrates its own database.
    env = {**os.environ, "CB_DATABASE": "sqlite"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.integration_run", name, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("order", ["ours-first", "sentry-first"])
def test_sentry_events_carry_the_logging_hash(order: str) -> None:
    result = run_isolated("sentry", order)

    assert result["status"] == 500
    logging_hash = result["logging_hash"]
    # The view captured a handled ValueError, then crashed: Django's integration reports the
    # crash once. Both events belong to the logged error's request and carry its hash.
    assert len(result["events"]) == 2
    assert [event["tags"].get("logging_hash") for event in result["events"]] == [logging_hash] * 2
    crash = result["events"][-1]
    assert crash["exception"]["values"][-1]["type"] == "KeyError"
    assert result["row"]["sentry_event_id"] == crash["event_id"]


def test_opentelemetry_trace_id_and_span_attribute() -> None:
    result = run_isolated("opentelemetry")

    [span] = [span for span in result["spans"] if span["attributes"].get("logging_hash")]
    assert span["attributes"]["logging_hash"] == result["logging_hash"]
    # The active span's trace id wins; the incoming traceparent is its parent here (the
    # instrumentation continues the incoming trace).
    assert result["row"]["trace_id"] == span["trace_id"] == TRACEPARENT_TRACE_ID


@pytest.fixture
def logging_snippet(settings: Any) -> Any:
    """The page's LOGGING, applied, with its console handler writing to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    namespace: dict[str, Any] = {}
    exec(snippet("logging"), namespace)
    config = namespace["LOGGING"]
    stream = io.StringIO()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    settings.ROOT_URLCONF = "tests.support.integrations"
    yield stream
    for handler in root.handlers[:]:
        if handler not in saved[0]:
            root.removeHandler(handler)
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])


@pytest.mark.django_db
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_json_log_lines_carry_the_request_ids(logging_snippet: io.StringIO, transport: str) -> None:
    ok = call(
        transport, "GET", "/integrations/log-and-succeed/", headers={"X-Request-Id": "req-ok-1"}
    )
    crash = call(
        transport, "GET", "/integrations/log-then-crash/", headers={"X-Request-Id": "req-crash-1"}
    )
    testing.wait_for_recorder()

    lines = [json.loads(line) for line in logging_snippet.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    assert ok.status_code == 200
    assert by_message["all good"]["request_id"] == "req-ok-1"
    assert by_message["all good"]["logging_hash"] is None
    # Before the crash the error has no hash yet; Django's own error line has it.
    assert by_message["about to fail"]["request_id"] == "req-crash-1"
    [django_line] = [line for line in lines if line["name"] == "django.request"]
    logging_hash = testing.logging_hash(crash)
    assert django_line["logging_hash"] == logging_hash
    assert django_line["request_id"] == "req-crash-1"
    assert ErrorLog.objects.get(logging_hash=logging_hash).request_id == "req-crash-1"


@pytest.mark.django_db
def test_structlog_events_carry_the_request_id(settings: Any) -> None:
    exec(snippet("structlog"), {})
    out = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    settings.ROOT_URLCONF = "tests.support.integrations"
    try:
        response = Client().get("/integrations/structlog/", HTTP_X_REQUEST_ID="req-structlog")
    finally:
        structlog.reset_defaults()

    [event] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert response.status_code == 200
    assert event == {"event": "in the view", "level": "warning", "request_id": "req-structlog"}


def test_cors_snippet_exposes_the_hash_header(settings: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(snippet("cors"), namespace)
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "corsheaders"]
    settings.MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", *settings.MIDDLEWARE]
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.CORS_EXPOSE_HEADERS = namespace["CORS_EXPOSE_HEADERS"]
    from django.core.checks import run_checks

    ids = {message.id for message in run_checks(databases=[])}
    response = Client().post("/plain/raise/conflict/", HTTP_ORIGIN="https://app.example.com")

    assert not {"counterbalance_errors.W002", "counterbalance_errors.W013"} & ids
    exposed = {
        name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
    }
    assert {"x-counterbalance-log-hash", "retry-after"} <= exposed
    assert response.has_header("X-Counterbalance-Log-Hash")


def test_spectacular_snippet_documents_the_errors(settings: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(snippet("spectacular"), namespace)
    settings.REST_FRAMEWORK = namespace["REST_FRAMEWORK"]

    schema = SchemaGenerator(urlconf="tests.openapi_urls").get_schema(request=None, public=True)

    responses = schema["paths"]["/o/widgets/{id}/"]["get"]["responses"]
    assert "404" in responses
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CounterbalanceError"
    }


# The page's pytest example, collected as a test of this module.
exec(snippet("pytest"), globals())


@pytest.mark.django_db
def test_admin_links_an_entry_to_its_trace_and_sentry_event(
    admin_client: Client, settings: Any
) -> None:
    response = Client(raise_request_exception=False).get(
        "/plain/raise/unhandled/", HTTP_TRACEPARENT=f"00-{TRACEPARENT_TRACE_ID}-{'cd' * 8}-01"
    )
    row = ErrorLog.objects.get(logging_hash=testing.logging_hash(response))
    ErrorLog.objects.filter(pk=row.pk).update(sentry_event_id="e" * 32)
    page = f"/admin/counterbalance_errors/errorlog/{row.pk}/change/"

    plain = admin_client.get(page).content.decode()
    settings.COUNTERBALANCE_ERRORS = {
        "TRACE_URL": "https://traces.example.com/trace/{trace_id}?a=1&b=2",
        "SENTRY_EVENT_URL": "https://sentry.example.com/events/{event_id}/",
    }
    linked = admin_client.get(page).content.decode()

    assert row.trace_id == TRACEPARENT_TRACE_ID
    assert "traces.example.com" not in plain
    assert "e" * 32 in plain
    assert f'href="https://traces.example.com/trace/{TRACEPARENT_TRACE_ID}?a=1&amp;b=2"' in linked
    assert f'href="https://sentry.example.com/events/{"e" * 32}/"' in linked
