"""Two-phase capture: snapshot() reads on the request thread, Snapshot.build() never does."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.http import QueryDict
from django.test import Client, RequestFactory
from django.utils import translation

from counterbalance_errors import capture, catalog, context
from counterbalance_errors.scrubbing import FILTERED
from tests.support.errorlog_helpers import fallback_lines, hash_of


def failing(order: dict[str, Any]) -> BaseException:
    try:
        order["total"] = order["missing"]
    except KeyError as exc:
        return exc
    raise AssertionError("did not fail")


def snapshot_of_a_500(request: Any, exc: BaseException) -> capture.Snapshot:
    ctx = context.attach(request, catalog.from_exception(exc))
    return capture.snapshot(request, ctx)


def test_build_reads_neither_the_request_nor_the_exception(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    request = RequestFactory().post(
        "/orders/?page=2&token=abc",
        {"quantity": 3, "password": "hunter2"},
        content_type="application/json",
        HTTP_USER_AGENT="curl/8",
    )
    order = {"id": 7}
    exc = failing(order)
    snap = snapshot_of_a_500(request, exc)
    # Everything changes or disappears before the record is built.
    order["id"] = 8
    exc.__traceback__ = None
    request.GET = QueryDict("page=3")
    request.META.clear()
    request._body = b'{"quantity": 4}'  # type: ignore[attr-defined]
    request.path = "/elsewhere/"
    record = snap.build()
    assert record.query == {"page": "2", "token": FILTERED}
    assert record.headers["User-Agent"] == "curl/8"
    assert record.body == {"quantity": 3, "password": FILTERED}
    assert record.path == "/orders/"
    assert record.method == "POST"
    assert record.exception_class == "KeyError"
    assert 'order["total"] = order["missing"]' in record.traceback  # source read at build
    [frame] = [f for f in record.frame_locals if f["frame"].endswith(":failing")]
    assert frame["vars"]["order"] == "{'id': 7}"


def test_messages_are_resolved_in_the_language_of_the_request() -> None:
    request = RequestFactory().get("/")
    with translation.override("de"):
        snap = snapshot_of_a_500(request, failing({}))
    assert snap.build().message == "Ein interner Fehler ist aufgetreten."


def test_bare_is_the_minimal_record() -> None:
    snap = snapshot_of_a_500(RequestFactory().get("/orders/"), failing({}))
    bare = snap.bare()
    assert (bare.logging_hash, bare.status, bare.code) == (snap.logging_hash, 500, "InternalError")
    assert bare.exception_class == "KeyError"
    assert (bare.fingerprint, bare.traceback, bare.path) == ("", "", "")


def test_the_snapshot_carries_the_request_id_and_the_trace_ids() -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1")
    ctx = context.attach(request, catalog.make("InternalError"))
    ctx.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    ctx.sentry_event_id = "e" * 32
    record = capture.snapshot(request, ctx).build()
    assert (record.request_id, record.trace_id, record.sentry_event_id) == (
        "req-1",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "e" * 32,
    )


def test_only_an_error_with_a_logging_hash_is_snapshotted() -> None:
    request = RequestFactory().get("/")
    unlogged = context.attach(request, catalog.make("ResourceNotFound"))
    with pytest.raises(ValueError, match="only an error with a logging_hash"):
        capture.snapshot(request, unlogged)
    with pytest.raises(ValueError, match="only an error with a logging_hash"):
        capture.snapshot(None, context.RequestContext())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"), [("/plain/raise/unhandled/", 500), ("/drf/raise/drf-validation/", 400)]
)
def test_a_capture_that_fails_keeps_the_status_and_logs_the_hash(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    url: str,
    status: int,
) -> None:
    def broken(request: object, ctx: object) -> None:
        raise RuntimeError("a bug in capturing")

    monkeypatch.setattr(capture, "snapshot", broken)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get(url)

    assert response.status_code == status
    [line] = [line for line in fallback_lines(caplog) if line["logging_hash"] == hash_of(response)]
    assert line["reason"] == "the error could not be captured"
    assert line["status"] == status
