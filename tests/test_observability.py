"""The trace id of a logged error: from a valid W3C ``traceparent`` header."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, RequestFactory

from counterbalance_errors import context, recorder
from counterbalance_errors.observability import annotate, trace_id_from_traceparent
from tests.errorlog_helpers import fallback_lines, hash_of

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
