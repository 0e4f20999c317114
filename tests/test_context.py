"""The request context: one object per request, the ContextVar, remember()."""

from __future__ import annotations

import os
import re
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from rest_framework.request import Request

from counterbalance_errors import catalog, context
from counterbalance_errors.exceptions import Conflict
from counterbalance_errors.middleware import ErrorEnvelopeMiddleware
from counterbalance_errors.profiles import base


def test_the_context_is_made_on_first_use_and_knows_the_middleware_saw_the_request() -> None:
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponseBase:
        before = context.get(request)
        current = context.current_context()
        seen.append((before, current, current.deferred if current else None))
        return HttpResponse("ok")

    request = RequestFactory().get("/plain/success/")
    ErrorEnvelopeMiddleware(view)(request)
    [(before, current, deferred)] = seen
    assert before is None  # nothing is made for a request that needs nothing
    assert current is request.counterbalance  # type: ignore[attr-defined]
    assert current.seen
    assert deferred  # captured by the middleware at the end, not at once
    assert current.started is not None
    assert current.error is None
    assert context.current_context() is None


def test_a_success_response_makes_no_context() -> None:
    request = RequestFactory().get("/plain/success/")
    response = ErrorEnvelopeMiddleware(lambda r: HttpResponse("ok"))(request)
    assert response["X-Counterbalance-Compute-Node"]
    assert context.get(request) is None


def test_a_context_made_after_the_middleware_is_not_deferred() -> None:
    request = RequestFactory().get("/plain/success/")
    ErrorEnvelopeMiddleware(lambda r: HttpResponse("ok"))(request)
    ctx = context.of(request)  # e.g. a middleware above ours fails afterwards
    assert not ctx.seen
    assert not ctx.deferred
    assert ctx.started is None


def test_current_is_reset_when_the_view_raises() -> None:
    def view(request: HttpRequest) -> HttpResponseBase:
        raise Conflict()

    response = ErrorEnvelopeMiddleware(view)(RequestFactory().get("/plain/success/"))
    assert response.status_code == 409
    assert context.current_context() is None


def test_the_async_middleware_sets_and_resets_current() -> None:
    seen: list[Any] = []

    async def view(request: HttpRequest) -> HttpResponseBase:
        seen.append(context.current_context())
        return HttpResponse("ok")

    request = RequestFactory().get("/plain/success/")
    async_to_sync(ErrorEnvelopeMiddleware(view))(request)
    assert seen == [context.get(request)]
    assert seen[0] is not None
    assert seen[0].seen
    assert context.current_context() is None


def test_a_drf_request_shares_the_django_requests_context() -> None:
    request = RequestFactory().get("/")
    assert context.of(Request(request)) is context.of(request)
    assert context.get(RequestFactory().get("/")) is None


def test_remembering_the_same_exception_twice_keeps_its_error_and_hash() -> None:
    request = RequestFactory().get("/")
    exc = KeyError("x")
    first = context.remember(request, exc)
    assert first is not None
    assert first.logging_hash is not None
    error = first.error
    again = context.remember(request, exc)
    assert again is first
    assert again.error is error
    assert again.logging_hash == first.logging_hash
    assert again.django_answers


def test_another_error_of_the_same_request_keeps_its_one_hash() -> None:
    request = RequestFactory().get("/")
    first = context.remember(request, KeyError("x"))
    assert first is not None
    logging_hash = first.logging_hash
    second = context.remember(request, ZeroDivisionError())
    assert second is first
    assert second.logging_hash == logging_hash
    assert second.error is not None
    assert isinstance(second.error.exception, ZeroDivisionError)


def test_an_error_that_is_not_logged_has_no_hash() -> None:
    ctx = context.attach(RequestFactory().get("/"), catalog.make("NotAuthorized"))
    assert ctx.logging_hash is None
    assert ctx.error is not None


def test_the_render_context_is_a_view_of_the_request_context() -> None:
    request = RequestFactory().get("/orders/", HTTP_X_REQUEST_ID="abc-1")
    ctx = context.attach(request, catalog.make("InternalError"))
    render_context = ctx.render_context()
    assert render_context.logging_hash == ctx.logging_hash
    assert render_context.path == "/orders/"
    assert render_context.request_id == ctx.request_id == "abc-1"


def test_a_new_request_id_is_made_once_per_request() -> None:
    ctx = context.of(RequestFactory().get("/"))
    assert len(ctx.request_id) == 32
    assert ctx.render_context().request_id == ctx.request_id
    assert context.of(RequestFactory().get("/")).request_id != ctx.request_id


def test_hashes_and_ids_come_from_a_pool_read_once_per_block(monkeypatch: Any) -> None:
    reads: list[int] = []

    def counted_urandom(n: int) -> bytes:
        reads.append(n)
        return real_urandom(n)

    real_urandom = os.urandom
    base._random_pools.clear()
    monkeypatch.setattr(os, "urandom", counted_urandom)
    per_block = base.RANDOM_BLOCK // 20
    hashes = [context.new_logging_hash() for _ in range(per_block + 1)]

    assert all(re.fullmatch("[0-9a-f]{40}", h) for h in hashes)
    assert len(set(hashes)) == len(hashes)
    assert reads == [per_block * 20, per_block * 20]  # the pool was refilled once
    request_id = context.of(RequestFactory().get("/")).request_id
    assert re.fullmatch("[0-9a-f]{32}", request_id)
    assert reads[-1] == base.RANDOM_BLOCK // 16 * 16  # ids have a pool of their own


def test_a_forked_process_never_hands_out_its_parents_values() -> None:
    context.new_logging_hash()  # the pool now holds values the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process, which exits at once
        os.write(write, context.new_logging_hash().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 40).decode()
    os.close(read)
    os.waitpid(pid, 0)

    assert len(child) == 40
    assert child != context.new_logging_hash()


def test_a_context_without_a_request_is_kept_by_nobody() -> None:
    assert context.of(None) is not context.of(None)
    assert context.logging_hash_of(None) is None
