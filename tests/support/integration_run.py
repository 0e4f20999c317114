"""Run one docs/integrations.md snippet in a fresh process and print what happened as JSON.

``python -m tests.support.integration_run <snippet> [sentry-first|ours-first]``: Sentry and
OpenTelemetry patch process-wide state (Django's handlers, the global tracer provider), so
tests/test_integrations.py runs them here, not in the suite's process.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def snippet(name: str) -> str:
    from tests.support.snippets import snippet as read

    return read(name)


def main(name: str, order: str = "ours-first") -> dict[str, Any]:
    import django
    from django.conf import settings

    events: list[dict[str, Any]] = []
    exporter = None
    if name == "sentry" and order == "sentry-first":
        run_sentry_snippet(events)  # before Django is set up: its receiver connects first
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    settings.ROOT_URLCONF = "tests.support.integrations"
    if name == "sentry" and order == "ours-first":
        run_sentry_snippet(events)
    if name == "opentelemetry":
        exporter = run_otel_snippet()
    from counterbalance_errors import testing
    from counterbalance_errors.models import ErrorLog

    client = Client(raise_request_exception=False)
    url = (
        "/integrations/capture-then-crash/" if name == "sentry" else "/integrations/log-then-crash/"
    )
    response = client.get(url, HTTP_TRACEPARENT="00-" + "ab" * 16 + "-" + "cd" * 8 + "-01")
    testing.wait_for_recorder()
    if name == "sentry":
        import sentry_sdk

        sentry_sdk.flush()
    row = ErrorLog.objects.get()
    return {
        "status": response.status_code,
        "logging_hash": testing.logging_hash(response),
        "row": {"sentry_event_id": row.sentry_event_id, "trace_id": row.trace_id},
        "events": [
            {
                "event_id": e.get("event_id"),
                "tags": e.get("tags", {}),
                "exception": e.get("exception"),
            }
            for e in events
        ],
        "spans": [
            {
                "name": span.name,
                "trace_id": format(span.context.trace_id, "032x"),
                "attributes": dict(span.attributes or {}),
            }
            for span in (exporter.get_finished_spans() if exporter else [])
        ],
    }


def run_sentry_snippet(events: list[dict[str, Any]]) -> None:
    import sentry_sdk
    from sentry_sdk.transport import Transport

    class Capture(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            events.extend(item.payload.json for item in envelope.items if item.type == "event")

    real_init = sentry_sdk.init
    sentry_sdk.init = lambda *args, **kwargs: real_init(*args, **kwargs, transport=Capture())  # type: ignore[assignment]
    try:
        exec(snippet("sentry"), {})
    finally:
        sentry_sdk.init = real_init


def run_otel_snippet() -> Any:
    """The snippet, then an in-memory exporter on the provider it set: returns the exporter."""
    exec(snippet("opentelemetry"), {})
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[attr-defined]
    return exporter


if __name__ == "__main__":
    result = main(*sys.argv[1:])
    print(json.dumps(result, default=str))
