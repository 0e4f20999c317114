"""``ErrorEnvelopeMiddleware``: the safety net that sees every response.

Put it FIRST in ``MIDDLEWARE``. It

* answers exceptions raised by views with the envelope (``process_exception``), except 5xx,
  which it leaves to Django so that ``got_request_exception`` fires once and ``django.request``
  logs the traceback; ``handler500`` (or, under ``DEBUG``, the rewrite below) envelopes them;
* rewrites, in place, every error response that is not an envelope yet (URL resolver 404s,
  405s returned by views, errors from other middleware, technical pages), keeping the error
  of the exception behind it: under ``DEBUG`` a per-request exception reporter remembers the
  exception Django's technical page shows;
* answers an exception that escaped Django's own error handling below it;
* adds the profile's headers to every response.

It never raises: if its own work fails, the response passes through unchanged.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    SuspiciousOperation,
)
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.urls import resolve
from django.utils.log import log_response
from django.views.debug import ExceptionReporter, get_exception_reporter_class

from counterbalance_errors import budget, capture, catalog, conf, context, responses
from counterbalance_errors.guard import guarded
from counterbalance_errors.profiles import get_profile, success_headers

logger = logging.getLogger("counterbalance_errors")

#: Key ErrorEnvelopeASGI looks for in the ASGI scope (see counterbalance_errors.asgi).
SEEN_KEY = "counterbalance_errors.seen"

_LOOKED_UP, _ATTR, _perf_counter = conf.LOOKED_UP, context.ATTR, time.perf_counter
_set_current, _reset_current = context.current.set, context.current.reset

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class ErrorEnvelopeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        # One frame, locals and module globals for a success: what a request runs once is
        # cold in the CPU's caches, and each call and module costs more than its
        # instructions (docs/performance.md, "Seventh pass").
        attributes = request.__dict__
        if "scope" in attributes:  # a sync chain under ASGI, for ErrorEnvelopeASGI
            request.scope[SEEN_KEY] = True  # type: ignore[attr-defined]
        # settings.DEBUG, from Django's cache of looked-up settings when it is there.
        debug = _LOOKED_UP.get("DEBUG")
        if debug or (debug is None and settings.DEBUG):
            _remember_in_technical_pages(request)
        # The request context is created on first use (context.of): a success response
        # needs none (docs/performance.md).
        token = _set_current((request, _perf_counter()))
        try:
            try:
                response = self.get_response(request)
            except Exception as exc:
                response = self.escaped(request, exc)
            if response.status_code < 400 and _ATTR not in attributes:  # type: ignore[union-attr]
                prepared = success_headers()  # finish_success(), inlined
                if prepared is None:
                    return self.finish_success(request, response)  # type: ignore[arg-type]
                response.headers._store.update(prepared)  # type: ignore[union-attr]
                return response
            response = self.finish(request, response)  # type: ignore[arg-type]
            ctx = attributes.get(_ATTR)
            if ctx is not None and ctx.logging_hash:
                capture.record_deferred(request, ctx)
            elif ctx is not None:
                ctx.deferred = False  # a later error (a middleware above) is captured at once
        finally:
            _reset_current(token)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if "scope" in request.__dict__:
            request.scope[SEEN_KEY] = True  # type: ignore[attr-defined]  # for ErrorEnvelopeASGI
        # settings.DEBUG, from Django's cache of looked-up settings when it is there.
        debug = conf.LOOKED_UP.get("DEBUG")
        if debug or (debug is None and settings.DEBUG):
            _remember_in_technical_pages(request)
        token = context.current.set((request, time.perf_counter()))
        try:
            try:
                # The time budget can only be enforced here (docs/profiles.md, "Time budgets").
                response = await budget.within_budget(self.get_response, request)  # type: ignore[arg-type]
            except Exception as exc:
                response = self.escaped(request, exc)
            if response.status_code < 400 and context.ATTR not in request.__dict__:
                return self.finish_success(request, response)
            response = self.finish(request, response)
            ctx = request.__dict__.get(context.ATTR)
            if ctx is not None and ctx.logging_hash:
                await capture.arecord_deferred(request, ctx)
            elif ctx is not None:
                ctx.deferred = False  # a later error (a middleware above) is captured at once
        finally:
            context.current.reset(token)
        return response

    def finish_success(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """The profile's headers on a response that needs nothing else: its constant headers
        (one dict update), or its per-response ones."""
        prepared = success_headers()
        if prepared is not None:
            # Django's own header store, with values ResponseHeaders validated once.
            response.headers._store.update(prepared)
        else:
            responses.add_response_headers(get_profile(), context.of(request), response)
        return response

    def escaped(self, request: HttpRequest, exc: Exception) -> HttpResponseBase:
        """Answer an exception that escaped Django's own error handling below us.

        Every layer converts exceptions to responses, so one only gets here when that
        conversion failed itself: e.g. under DEBUG, the technical 500 page reads
        ``request.GET`` again and raises ``TooManyFieldsSent`` (J8). The request's own error,
        when one was remembered, is the one the client is told about and Django's log gets.
        """
        try:
            ctx = context.get(request)
            error = ctx.error if ctx is not None else None
            if error is None:
                error = catalog.from_exception(exc)
            response = responses.error_response(request, error)
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,
                request=request,
                exception=error.exception or exc,
            )
        except Exception:
            logger.exception("counterbalance_errors could not answer %r", exc)
            raise exc from None
        return response

    def finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Envelope an error response that is not one yet, add the profile's headers."""
        if response.status_code >= 400 and not getattr(response, responses.ENVELOPE_ATTR, False):
            with guarded("could not finish the response"):
                responses.rewrite(request, response, error_for_response(request, response))
        return self.finish_success(request, response)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        with guarded("could not handle %r", exception):
            error = catalog.from_exception(exception)
            if error.status >= 500:
                # Django logs it, fires the signal, then calls handler500; the signal's
                # receiver finds this error (and its hash) remembered.
                context.remember_error(request, error)
                return None
            responses.replicate_django_logging(request, exception)
            return responses.error_response(request, error)
        return None


@functools.lru_cache(maxsize=8)
def _remembering_reporter(base: type[ExceptionReporter]) -> type[ExceptionReporter]:
    class RememberingReporter(base):  # type: ignore[valid-type,misc]
        """Remembers the exception a DEBUG technical page shows as the request's error."""

        def __init__(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
            super().__init__(request, *args, **kwargs)
            if request is not None and isinstance(self.exc_value, Exception):
                context.remember(request, self.exc_value)

    return RememberingReporter


def _remember_in_technical_pages(request: HttpRequest) -> None:
    """Under DEBUG, Django answers a 4xx exception raised outside a view (another middleware,
    ``process_view``) with its technical page and calls no hook but the exception reporter;
    ``request.exception_reporter_class`` is the documented per-request way to provide one.
    """
    request.exception_reporter_class = _remembering_reporter(get_exception_reporter_class(request))


def error_for_response(request: HttpRequest, response: HttpResponseBase) -> catalog.ApiError:
    """The canonical error behind an error response that is not an envelope yet."""
    ctx = context.get(request)
    if (
        ctx is not None
        and (error := ctx.error) is not None
        and (
            response.status_code == error.status
            or (ctx.django_answers and response.status_code == django_status(error.exception))
        )
    ):
        # The error remembered from the exception (the got_request_exception receiver, or the
        # DEBUG exception reporter) that Django answered with its own page. An error we
        # answered ourselves does not explain another status a middleware returned later.
        return error
    headers = {}
    if response.has_header("Allow"):
        headers["Allow"] = response["Allow"]
    if response.has_header("WWW-Authenticate"):
        headers["WWW-Authenticate"] = response["WWW-Authenticate"]
    status = response.status_code
    if status == 404 and not _endpoint_exists(request):
        return catalog.make("EndpointNotFound", headers=headers)
    if status == 400 and _host_is_disallowed(request):
        # Under DEBUG, Django's technical page answers DisallowedHost without handler400.
        return catalog.make("InvalidHeader")
    return catalog.from_status(status, headers=headers)


def django_status(exc: BaseException | None) -> int | None:
    """The status Django's own ``response_for_exception`` answers ``exc`` with."""
    if exc is None:
        return None
    if isinstance(exc, Http404):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (SuspiciousOperation, BadRequest, MultiPartParserError)):
        return 400
    return 500


def _endpoint_exists(request: HttpRequest) -> bool:
    """Whether a URL pattern matches the path (a 404 from elsewhere is not a missing endpoint)."""
    if getattr(request, "resolver_match", None) is not None:
        return True
    try:
        resolve(request.path_info, getattr(request, "urlconf", None))
    except Http404:
        return False
    return True


def _host_is_disallowed(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return True
    return False


def remember_uncaught_exception(sender: Any, request: HttpRequest | None = None, **_: Any) -> None:
    """``got_request_exception`` receiver: keep the 5xx's exception and give it its hash.

    It runs before Django calls handler500 and logs the error, so the envelope, the log record
    and the stored row all see the same error and hash, with ``DEBUG`` on or off. Without the
    middleware the error is captured here: Django sends the signal after the view's
    transaction is over.
    """
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, Exception):
        ctx = context.remember(request, exc)
        if ctx is not None:
            capture.record_unless_deferred(request, ctx)


def connect_signals() -> None:
    got_request_exception.connect(
        remember_uncaught_exception, dispatch_uid="counterbalance_errors.remember"
    )
