"""logs.py: the request's ids on log records, and the fallback line's shape."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from counterbalance_errors import context, logs
from counterbalance_errors.capture import Record


def record(**extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"msg": "hello", **extra})
    return made


def test_filter_adds_the_ids_of_the_current_request() -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-7")
    context.of(request).logging_hash = "a" * 40
    token = context.current.set((request, 0.0))
    try:
        made = record()
        assert logs.RequestContextFilter().filter(made) is True
    finally:
        context.current.reset(token)

    assert (made.request_id, made.logging_hash) == ("req-7", "a" * 40)


def test_filter_outside_a_request_adds_none_and_keeps_given_values() -> None:
    plain, given = record(), record(request_id="mine", logging_hash="b" * 40)

    logs.RequestContextFilter().filter(plain)
    logs.RequestContextFilter().filter(given)

    assert (plain.request_id, plain.logging_hash) == (None, None)
    assert (given.request_id, given.logging_hash) == ("mine", "b" * 40)


def test_structlog_processor_adds_nothing_outside_a_request() -> None:
    assert logs.add_request_context(None, "info", {"event": "x"}) == {"event": "x"}


def test_structlog_processor_adds_the_hash_once_there_is_one() -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="r-1")
    context.of(request).logging_hash = "c" * 40
    token = context.current.set((request, 0.0))
    try:
        event = logs.add_request_context(None, "info", {"event": "x", "request_id": "kept"})
    finally:
        context.current.reset(token)

    assert event == {"event": "x", "request_id": "kept", "logging_hash": "c" * 40}


def test_fallback_is_a_readable_line_with_the_record_in_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = Record(
        logging_hash="d" * 40,
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        status=500,
        code="InternalError",
        fingerprint="f" * 64,
    )
    with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
        logs.fallback(stored, "database unavailable")

    [line] = caplog.records
    assert line.getMessage() == (
        f"Logged error {'d' * 40} (500 InternalError) not stored: database unavailable"
    )
    assert line.logging_hash == "d" * 40  # type: ignore[attr-defined]
    assert line.reason == "database unavailable"  # type: ignore[attr-defined]
    assert getattr(line, logs.RECORD_KEY) == stored.as_dict()
