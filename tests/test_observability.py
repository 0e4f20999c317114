"""observability.py: the W3C trace id (traceparent, OpenTelemetry), the span attribute, the
Sentry tag."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from django.http import HttpRequest
from django.test import Client, RequestFactory
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from counterbalance_errors import context, observability, recorder
from counterbalance_errors.context import RequestContext
from counterbalance_errors.observability import annotate, trace_id_from_traceparent
from tests.support.errorlog_helpers import fallback_lines, hash_of

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
VALID = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "value",
    [
        VALID,
        f"00-{TRACE_ID}-00f067aa0ba902b7-00",
        f" 00-{TRACE_ID}-00f067aa0ba902b7-01\t",
    ],
)
def test_a_valid_traceparent_gives_its_trace_id(value: str) -> None:
    assert trace_id_from_traceparent(value) == TRACE_ID


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"01-{TRACE_ID}-00f067aa0ba902b7-01",  # another version
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
        f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # uppercase
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01",  # short trace id
        f"00-{TRACE_ID}-00f067aa0ba902b-01",  # short parent id
        f"00-{TRACE_ID}-00f067aa0ba902b7-1",  # one-digit flags
        f"00-{TRACE_ID}-00f067aa0ba902b7-0g",  # not hex
        f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",  # version 00 has four fields
        f"00_{TRACE_ID}_00f067aa0ba902b7_01",
        f"00-{TRACE_ID}-00f067aa0ba902b7-01\r\nX: y",
    ],
)
def test_a_malformed_traceparent_gives_no_trace_id(value: str) -> None:
    assert trace_id_from_traceparent(value) == ""


def test_annotate_sets_the_trace_id_and_keeps_one_already_set() -> None:
    request = RequestFactory().get("/", HTTP_TRACEPARENT=VALID)
    ctx = context.of(request)
    annotate(ctx, request)
    assert ctx.trace_id == TRACE_ID
    ctx.trace_id = "a" * 32
    annotate(ctx, request)
    assert ctx.trace_id == "a" * 32
    bare = context.of(RequestFactory().get("/"))
    annotate(bare, RequestFactory().get("/"))
    assert bare.trace_id == ""


@pytest.mark.django_db
def test_the_record_of_a_logged_error_carries_the_trace_id(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(records: object, alias: str, before_commit: object = None) -> None:
        raise RuntimeError("not stored")

    monkeypatch.setattr(recorder, "write_batch", broken)  # the record lands in the fallback line
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get("/plain/raise/unhandled/", HTTP_TRACEPARENT=VALID)
    [line] = [line for line in fallback_lines(caplog) if line["logging_hash"] == hash_of(response)]
    assert line["trace_id"] == TRACE_ID
    assert line["sentry_event_id"] == ""


def test_annotate_prefers_the_active_span_and_tags_it() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = RequestContext(logging_hash="b" * 40)

    with provider.get_tracer(__name__).start_as_current_span("request") as span:
        observability.annotate(ctx, RequestFactory().get("/", HTTP_TRACE_IDPARENT=VALID))

    [finished] = exporter.get_finished_spans()
    assert ctx.trace_id == format(span.get_span_context().trace_id, "032x") != TRACE_ID
    assert finished.attributes == {"logging_hash": "b" * 40}


def test_without_opentelemetry_the_traceparent_header_gives_the_trace_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider()
    ctx = RequestContext(logging_hash="b" * 40)
    with provider.get_tracer(__name__).start_as_current_span("request"):
        monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import raises ImportError
        observability._otel_trace.cache_clear()
        try:
            observability.annotate(ctx, RequestFactory().get("/", HTTP_TRACEPARENT=VALID))
        finally:
            observability._otel_trace.cache_clear()
    assert ctx.trace_id == TRACE_ID


@pytest.fixture
def request_() -> HttpRequest:
    return RequestFactory().get("/")


@pytest.fixture
def current(request_: HttpRequest) -> Iterator[RequestContext]:
    ctx = context.of(request_)
    token = context.current.set((request_, 0.0))
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


def test_without_sentry_sdk_no_processor_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentry_sdk import scope

    monkeypatch.setattr(scope, "global_event_processors", [])
    monkeypatch.setitem(sys.modules, "sentry_sdk.scope", None)  # import raises ImportError

    observability.install_sentry_processor()

    assert scope.global_event_processors == []
