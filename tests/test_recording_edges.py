"""recording.py and scrubbing.py at their limits: caps, odd bodies, async chains, faults."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, RequestFactory

from counterbalance_errors import capture, catalog, context, fingerprints, logs, recorder
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.scrubbing import FILTERED, MAX_DEPTH, MAX_ITEMS, TRUNCATED, Scrubber
from tests.drf_compat import DRF_317
from tests.errorlog_helpers import entry, fallback_lines

pytestmark = pytest.mark.django_db

MIDDLEWARE = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"


def caught(function: Any) -> BaseException:
    try:
        function()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


# --- tracebacks and locals -----------------------------------------------------------------


def test_frames_of_this_app_are_not_in_app() -> None:
    exc = caught(lambda: catalog.make("NoSuchCode"))
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    assert "counterbalance_errors.catalog:make" in map(fingerprints.frame_name, frames)
    in_app = [fingerprints.frame_name(f) for f in frames if fingerprints.is_in_app(f)]
    assert in_app == [
        "tests.test_recording_edges:caught",
        "tests.test_recording_edges:test_frames_of_this_app_are_not_in_app.<locals>.<lambda>",
    ]


def test_notes_and_chained_messages_are_scrubbed() -> None:
    inner, outer, note = "inner-secret", "outer-secret", "note-secret"

    def fail() -> None:
        try:
            raise KeyError(f"cause token={inner}")
        except KeyError as cause:
            error = ValueError(f"outer password={outer}")
            error.add_note(f"note api_key={note}")
            raise error from cause

    text = capture.format_traceback(caught(fail), Scrubber())
    for secret in ("inner-secret", "outer-secret", "note-secret"):
        assert secret not in text
    assert "The above exception was the direct cause" in text
    assert f"note api_key={FILTERED}" in text


def test_a_huge_traceback_keeps_its_end() -> None:
    def fail(depth: int) -> None:
        try:
            if depth:
                fail(depth - 1)
            raise ValueError("x" * 1500)
        except ValueError as inner:
            raise ValueError(f"level {depth} " + "y" * 1500) from inner

    text = capture.format_traceback(caught(lambda: fail(60)), Scrubber())
    assert text.startswith(TRUNCATED)
    assert len(text) <= capture.MAX_TRACEBACK + len(TRUNCATED)
    assert text.rstrip().endswith("y" * 100)


def test_locals_are_capped_and_unrepresentable_values_survive() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    # reprlib survives a failing __repr__ itself, but not a class posing as a dict.
    posing = type("dict", (), {"__len__": lambda self: 1 // 0})

    def fail() -> None:
        hostile = Hostile()
        pose = posing()
        v0 = v1 = v2 = v3 = v4 = v5 = v6 = v7 = v8 = v9 = 0  # noqa: F841
        w0 = w1 = w2 = w3 = w4 = w5 = w6 = w7 = w8 = w9 = 0  # noqa: F841
        x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = x8 = x9 = 0  # noqa: F841
        raise RuntimeError(hostile, pose)

    frames = capture.frame_locals(caught(fail), None, Scrubber())
    variables = frames[-1]["vars"]
    assert variables["hostile"].startswith("<Hostile instance at")
    assert variables["pose"] == "<unrepresentable>"
    assert variables[TRUNCATED] == "more variables"
    assert len(variables) == capture.MAX_LOCALS_PER_FRAME + 1


# --- bodies --------------------------------------------------------------------------------


def test_all_post_parameters_sensitive(client: Client) -> None:
    row = entry(
        client.post(
            "/errorlog/all-sensitive-fail/",
            {"name": "n", "note": "x"},
            content_type="application/json",
        )
    )
    assert row.body == {"name": FILTERED, "note": FILTERED}
    form = entry(client.post("/errorlog/all-sensitive-fail/", {"name": "n"}))
    assert form.body == {"name": FILTERED}


def test_a_body_read_as_a_stream(client: Client) -> None:
    row = entry(client.post("/errorlog/stream-fail/", {"a": 1}, content_type="application/json"))
    assert row.body == "[not stored: the body was read as a stream]"


def test_an_empty_json_body() -> None:
    request = RequestFactory().post("/x/", b"{}", content_type="application/json")
    request._body = b""  # type: ignore[attr-defined]
    assert capture.request_body(request, Scrubber(), 100) is None


def test_a_body_that_grows_past_the_limit_when_scrubbed(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"MAX_BODY_BYTES": 100}
    payload = {f"token{i}": "" for i in range(6)}
    assert len(json.dumps(payload)) <= 100
    row = entry(client.post("/errorlog/plain-json-fail/", payload, content_type="application/json"))
    assert row.body == "[not stored: over the 100-byte limit once parsed]"


def test_a_body_longer_than_its_content_length() -> None:
    # Under ASGI the body is read whole, whatever Content-Length claims.
    request = RequestFactory().post("/x/", b"{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "2"
    request._body = b'{"a": "' + b"z" * 50 + b'"}'  # type: ignore[attr-defined]
    assert capture.request_body(request, Scrubber(), 20) == (
        "[not stored: 59 bytes, over the 20-byte limit]"
    )


def test_a_request_without_user_or_session() -> None:
    request = RequestFactory().get("/x/?page=1")
    ctx = context.attach(request, catalog.make("InternalError"))
    record = capture.snapshot(request, ctx).build()
    assert record.user_id == ""
    assert record.query == {"page": "1"}


# --- paths ---------------------------------------------------------------------------------


def test_an_all_async_middleware_chain_stores_from_the_event_loop(settings: Any) -> None:
    settings.MIDDLEWARE = [MIDDLEWARE]  # every middleware async-capable: __acall__ runs
    client = AsyncClient(raise_request_exception=False)
    response = async_to_sync(client.get)("/async/raise/unhandled/?page=5")
    row = entry(response)
    assert row.query == {"page": "5"}
    assert async_to_sync(client.get)("/async/success/").status_code == 200
    assert ErrorLog.objects.count() == 1


def test_the_group_vanishing_between_statements_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Each lookup misses the group: a purge deletes it right after it is created.
    monkeypatch.setattr(recorder, "_group_ids", lambda alias, fingerprints: {})
    ctx = context.attach(None, catalog.make("InternalError"))
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        recorder.submit(capture.snapshot(None, ctx))
    assert not ErrorLog.objects.exists()
    [line] = fallback_lines(caplog)
    assert line["reason"] == "RuntimeError: the error group disappeared while storing"


def test_fallback_without_a_record(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        logs.fallback(None, "nothing to say")
    assert fallback_lines(caplog) == [
        {"event": "counterbalance_errors.error", "reason": "nothing to say"}
    ]


def test_the_logging_filter_keeps_a_hash_already_there() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.logging_hash = "given"
    record.request = RequestFactory().get("/")
    logs.LoggingHashFilter().filter(record)
    assert record.logging_hash == "given"


# --- scrubbing limits ----------------------------------------------------------------------


def test_deep_and_wide_mappings_are_cut() -> None:
    deep: dict[str, Any] = {"leaf": "password=x"}
    for _ in range(MAX_DEPTH + 5):
        deep = {"level": deep}
    wide = {f"k{i}": i for i in range(MAX_ITEMS + 10)}
    scrubbed = Scrubber().scrub({"deep": deep, "wide": wide})
    assert TRUNCATED in json.dumps(scrubbed["deep"])
    assert "password=x" not in json.dumps(scrubbed)
    assert scrubbed["wide"][TRUNCATED] == "10 more"
    assert len(scrubbed["wide"]) == MAX_ITEMS + 1


def test_many_query_parameters_are_cut() -> None:
    pairs = [(f"p{i}", "v") for i in range(MAX_ITEMS + 10)]
    scrubbed = Scrubber().scrub_pairs(pairs)
    assert scrubbed[TRUNCATED] is True
    assert len(scrubbed) == MAX_ITEMS + 1


def test_a_body_drf_failed_to_parse(client: Client) -> None:
    response = client.post("/drf/echo/", b'{"broken', content_type="application/json")
    # DRF's placeholder (an empty QueryDict) is not taken for the body. DRF 3.16 streams the
    # body into its parser, so nothing is left to store.
    expected = (
        "[not stored: not valid JSON]" if DRF_317 else "[not stored: the body was read as a stream]"
    )
    assert entry(response).body == expected
