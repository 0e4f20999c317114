"""observability.py: the W3C trace id, the OpenTelemetry span attribute, the Sentry tag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from counterbalance_errors import context, observability
from counterbalance_errors.context import RequestContext

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
VALID = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (VALID, TRACE),
        (f" {VALID} ", TRACE),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", ""),  # lowercase hex only
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", ""),  # all-zero trace id
        (f"00-{TRACE}-{'0' * 16}-01", ""),  # all-zero parent id
        (f"01-{TRACE}-00f067aa0ba902b7-01", ""),  # unknown version
        (f"00-{TRACE}-00f067aa0ba902b7", ""),
        ("garbage", ""),
        ("", ""),
    ],
)
def test_trace_id_from_traceparent(header: str, trace_id: str) -> None:
    assert observability.trace_id_from_traceparent(header) == trace_id


def test_annotate_reads_a_valid_traceparent_without_a_span() -> None:
    ctx = RequestContext(logging_hash="a" * 40)

    observability.annotate(ctx, RequestFactory().get("/", HTTP_TRACEPARENT=VALID))

    assert ctx.trace_id == TRACE


def test_annotate_ignores_a_malformed_traceparent() -> None:
    ctx = RequestContext()

    observability.annotate(ctx, RequestFactory().get("/", HTTP_TRACEPARENT="00-zz-zz-01"))

    assert ctx.trace_id == ""


def test_annotate_prefers_the_active_span_and_tags_it() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = RequestContext(logging_hash="b" * 40)

    with provider.get_tracer(__name__).start_as_current_span("request") as span:
        observability.annotate(ctx, RequestFactory().get("/", HTTP_TRACEPARENT=VALID))

    [finished] = exporter.get_finished_spans()
    assert ctx.trace_id == format(span.get_span_context().trace_id, "032x") != TRACE
    assert finished.attributes == {"logging_hash": "b" * 40}


@pytest.fixture
def request_() -> HttpRequest:
    return RequestFactory().get("/")


@pytest.fixture
def current(request_: HttpRequest) -> Iterator[RequestContext]:
    ctx = context.of(request_)
    token = context.current.set(ctx)
    yield ctx
    context.current.reset(token)


def test_sentry_event_of_a_logged_error_is_tagged(current: RequestContext) -> None:
    current.logging_hash = "c" * 40

    event = observability.tag_sentry_event({"event_id": "e" * 32}, None)

    assert event["tags"] == {"logging_hash": "c" * 40}
    assert current.sentry_event_id == "e" * 32


def test_sentry_capture_before_the_hash_reserves_it(
    current: RequestContext, request_: HttpRequest
) -> None:
    exc = KeyError("boom")

    event = observability.tag_sentry_event(
        {"event_id": "f" * 32}, {"exc_info": (KeyError, exc, None)}
    )

    assert current.logging_hash is not None
    assert event["tags"]["logging_hash"] == current.logging_hash
    assert context.remember(request_, exc) is current
    assert current.logging_hash == event["tags"]["logging_hash"]  # the error keeps it


def test_sentry_capture_of_an_unlogged_error_is_not_tagged(current: RequestContext) -> None:
    from django.http import Http404

    exc = Http404()
    event = observability.tag_sentry_event(
        {"event_id": "1" * 32}, {"exc_info": (Http404, exc, None)}
    )

    assert "tags" not in event
    assert current.logging_hash is None


def test_sentry_event_outside_a_request_is_left_alone() -> None:
    assert observability.tag_sentry_event({"event_id": "2" * 32}, None) == {"event_id": "2" * 32}


def test_sentry_processor_is_installed_once() -> None:
    from sentry_sdk.scope import global_event_processors

    observability.install_sentry_processor()
    observability.install_sentry_processor()

    assert global_event_processors.count(observability.tag_sentry_event) == 1
