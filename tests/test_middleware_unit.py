"""ErrorEnvelopeMiddleware called directly, with sync and async ``get_response``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import BadRequest, DisallowedHost, PermissionDenied, RequestDataTooBig
from django.db import IntegrityError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.test import AsyncRequestFactory, RequestFactory, SimpleTestCase
from django.views.debug import ExceptionReporter

from counterbalance_errors import catalog, context, responses
from counterbalance_errors import middleware as module
from counterbalance_errors.exceptions import ServiceUnavailable
from counterbalance_errors.middleware import ErrorEnvelopeMiddleware
from counterbalance_errors.testing import assert_error

NODE = "X-Counterbalance-Compute-Node"


def ok(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"ok": True})


async def aok(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"ok": True})


def not_found(request: HttpRequest) -> HttpResponseBase:
    return HttpResponse("<h1>Not Found</h1>", status=404)


async def anot_found(request: HttpRequest) -> HttpResponseBase:
    return HttpResponse("<h1>Not Found</h1>", status=404)


def boom(request: HttpRequest) -> HttpResponseBase:
    raise KeyError("secret")


async def aboom(request: HttpRequest) -> HttpResponseBase:
    raise KeyError("secret")


# --- sync and async modes ------------------------------------------------------------------


def test_sync_get_response_gives_a_sync_middleware() -> None:
    middleware = ErrorEnvelopeMiddleware(ok)
    assert not iscoroutinefunction(middleware)
    response = middleware(RequestFactory().get("/plain/success/"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"ok": True}
    assert response[NODE]


def test_async_get_response_gives_a_coroutine_function_middleware() -> None:
    middleware = ErrorEnvelopeMiddleware(aok)
    assert iscoroutinefunction(middleware)
    response = async_to_sync(middleware)(AsyncRequestFactory().get("/async/success/"))
    assert response.status_code == 200
    assert response[NODE]


@pytest.mark.parametrize(
    ("path", "code"), [("/plain/success/", "ResourceNotFound"), ("/nope/", "EndpointNotFound")]
)
def test_sync_error_response_is_rewritten(path: str, code: str) -> None:
    response = ErrorEnvelopeMiddleware(not_found)(RequestFactory().get(path))
    assert_error(response, code)
    assert response[NODE]


@pytest.mark.parametrize(
    ("path", "code"), [("/async/success/", "ResourceNotFound"), ("/nope/", "EndpointNotFound")]
)
def test_async_error_response_is_rewritten(path: str, code: str) -> None:
    middleware = ErrorEnvelopeMiddleware(anot_found)
    response = async_to_sync(middleware)(AsyncRequestFactory().get(path))
    assert_error(response, code)


def test_sync_exception_escaping_below_is_answered() -> None:
    response = ErrorEnvelopeMiddleware(boom)(RequestFactory().get("/plain/success/"))
    assert_error(response, "InternalError", status=500, logged=True)
    assert b"secret" not in response.content


def test_async_exception_escaping_below_is_answered() -> None:
    middleware = ErrorEnvelopeMiddleware(aboom)
    response = async_to_sync(middleware)(AsyncRequestFactory().get("/async/success/"))
    assert_error(response, "InternalError", status=500, logged=True)


class AsyncMiddlewareTests(SimpleTestCase):
    async def test_async_call_with_async_view(self) -> None:
        middleware = ErrorEnvelopeMiddleware(aok)
        response = await middleware(AsyncRequestFactory().get("/async/success/"))
        assert response.status_code == 200
        assert response[NODE]

    async def test_async_call_answers_an_escaped_exception(self) -> None:
        middleware = ErrorEnvelopeMiddleware(aboom)
        response = await middleware(AsyncRequestFactory().get("/async/success/"))
        assert_error(response, "InternalError", status=500)


# --- process_exception ---------------------------------------------------------------------


def test_process_exception_answers_4xx() -> None:
    request = RequestFactory().get("/plain/success/")
    middleware = ErrorEnvelopeMiddleware(ok)
    response = middleware.process_exception(request, Http404("No Secret matches"))
    assert response is not None
    assert_error(response, "ResourceNotFound", status=404, logged=False)
    assert responses.is_envelope(response)
    response = middleware.process_exception(request, PermissionDenied())
    assert response is not None
    assert_error(response, "NotAuthorized", status=403)


@pytest.mark.parametrize("exc", [KeyError("x"), NotImplementedError(), ServiceUnavailable()])
def test_process_exception_returns_none_for_5xx(exc: Exception) -> None:
    request = RequestFactory().get("/plain/success/")
    assert ErrorEnvelopeMiddleware(ok).process_exception(request, exc) is None
    # Django then fires got_request_exception, logs, calls handler500: the error and its hash
    # are remembered once, for all three.
    ctx = context.get(request)
    assert ctx is not None
    assert ctx.error is not None
    assert ctx.error.exception is exc
    assert ctx.django_answers
    assert context.remember(request, exc) is ctx
    assert ctx.logging_hash is not None


def test_process_exception_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(exc: BaseException) -> Any:
        raise RuntimeError("catalog broke")

    monkeypatch.setattr(catalog, "from_exception", broken)
    request = RequestFactory().get("/plain/success/")
    assert ErrorEnvelopeMiddleware(ok).process_exception(request, Http404()) is None


# --- never raising when its own work fails --------------------------------------------------


BROKEN_RESPONSE_HEADERS = "tests.support.profiles_broken.Broken_response_headers"


def test_failing_response_headers_let_the_original_success_through(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {
        "PROFILE": "tests.support.profiles_broken.Broken_response_headers"
    }
    response = ErrorEnvelopeMiddleware(ok)(RequestFactory().get("/plain/success/"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"ok": True}
    assert not response.has_header(NODE)


def test_failing_response_headers_still_envelope_errors(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {
        "PROFILE": "tests.support.profiles_broken.Broken_response_headers"
    }
    response = ErrorEnvelopeMiddleware(not_found)(RequestFactory().get("/nope/"))
    assert_error(response, "EndpointNotFound")


def test_failing_rewrite_lets_the_original_response_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("rewrite broke")

    monkeypatch.setattr(responses, "rewrite", broken)
    response = ErrorEnvelopeMiddleware(not_found)(RequestFactory().get("/nope/"))
    assert response.status_code == 404
    assert response.content == b"<h1>Not Found</h1>"


def test_failing_answer_to_an_escaped_exception_reraises_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Then Django's own layer around the middleware answers, as without the middleware."""

    def broken(*args: Any) -> None:
        raise RuntimeError("error_response broke")

    monkeypatch.setattr(responses, "error_response", broken)
    with pytest.raises(KeyError):
        ErrorEnvelopeMiddleware(boom)(RequestFactory().get("/plain/success/"))


def test_an_envelope_is_never_rewritten_again() -> None:
    def envelope(request: HttpRequest) -> HttpResponseBase:
        return responses.error_response(request, catalog.make("Conflict", "mine"))

    response = ErrorEnvelopeMiddleware(envelope)(RequestFactory().get("/plain/success/"))
    assert assert_error(response, "Conflict")["message"] == "mine"


# --- DEBUG technical pages -------------------------------------------------------------------


def run_middleware(view: Any, request: HttpRequest, mode: str) -> HttpResponseBase:
    """The middleware around a view returning ``view(request)``, sync or async."""
    if mode == "sync":
        return ErrorEnvelopeMiddleware(view)(request)  # type: ignore[no-any-return]

    async def async_view(request: HttpRequest) -> HttpResponseBase:
        return view(request)  # type: ignore[no-any-return]

    return async_to_sync(ErrorEnvelopeMiddleware(async_view))(request)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_envelope_made_without_the_request_gets_only_the_profile_headers(mode: str) -> None:
    def envelope(request: HttpRequest) -> HttpResponseBase:
        return responses.error_response(None, catalog.make("NotAuthorized", "not yours"))

    request = RequestFactory().get("/plain/success/")
    response = run_middleware(envelope, request, mode)
    assert assert_error(response, "NotAuthorized")["message"] == "not yours"
    assert response["X-Counterbalance-Compute-Node"]
    assert context.get(request) is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_debug_installs_a_remembering_exception_reporter(settings: Any, mode: str) -> None:
    settings.DEBUG = True
    request = RequestFactory().get("/plain/success/")
    run_middleware(ok, request, mode)
    reporter_class = request.exception_reporter_class  # type: ignore[attr-defined]
    assert issubclass(reporter_class, ExceptionReporter)
    exc = PermissionDenied("x")
    reporter_class(request, type(exc), exc, None)
    ctx = context.get(request)
    assert ctx is not None
    assert ctx.error is not None
    assert ctx.error.code == "NotAuthorized"


def test_no_reporter_without_debug() -> None:
    request = RequestFactory().get("/plain/success/")
    ErrorEnvelopeMiddleware(ok)(request)
    assert not hasattr(request, "exception_reporter_class")


# --- the pieces error_for_response is made of -----------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (None, None),
        (Http404(), 404),
        (PermissionDenied(), 403),
        (DisallowedHost(), 400),
        (BadRequest(), 400),
        (MultiPartParserError(), 400),
        (KeyError(), 500),
        (IntegrityError(), 500),
    ],
)
def test_django_status(exc: BaseException | None, status: int | None) -> None:
    assert module.django_status(exc) == status


@pytest.mark.django_db
def test_a_remembered_error_is_used_when_django_answered_it_with_its_own_status() -> None:
    request = RequestFactory().get("/plain/success/")
    context.remember(request, RequestDataTooBig())
    error = module.error_for_response(request, HttpResponse(status=400))
    assert error.code == "RequestTooLarge"
    # A response of another status is another error (e.g. a later middleware's).
    assert module.error_for_response(request, HttpResponse(status=403)).code == "NotAuthorized"


def test_a_400_for_a_disallowed_host_without_a_remembered_error(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["good.example"]
    request = RequestFactory().get("/plain/success/", headers={"Host": "evil.example"})
    assert module.error_for_response(request, HttpResponse(status=400)).code == "InvalidHeader"
    request = RequestFactory().get("/plain/success/", headers={"Host": "good.example"})
    assert module.error_for_response(request, HttpResponse(status=400)).code == "BadRequest"


def test_remembering_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    # A got_request_exception sender whose "request" takes no attributes: the context cannot
    # be attached, so nothing is remembered nor captured, and the receiver returns.
    request = object()
    with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
        try:
            raise KeyError("x")
        except KeyError:
            module.remember_uncaught_exception(None, request=request)  # type: ignore[arg-type]
            module.remember_uncaught_exception(None, request=None)
    assert [r.getMessage() for r in caplog.records] == [
        "counterbalance_errors could not remember KeyError('x')"
    ]
    assert context.get(request) is None


def test_streaming_error_with_content_length_is_rewritten() -> None:
    def streaming(request: HttpRequest) -> HttpResponseBase:
        response = StreamingHttpResponse(iter([b"abc"]), status=500)
        response["Content-Length"] = "3"
        return response

    response = ErrorEnvelopeMiddleware(streaming)(RequestFactory().get("/plain/success/"))
    assert not response.has_header("Content-Length")
    body = json.loads(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert body["error"]["code"] == "InternalError"
