"""``ErrorEnvelopeMiddleware``: the safety net that sees every response.

Put it FIRST in ``MIDDLEWARE``. It

* answers exceptions raised by views with the envelope (``process_exception``), except 5xx,
  which it leaves to Django so that ``got_request_exception`` fires once and ``django.request``
  logs the traceback; ``handler500`` (or, under ``DEBUG``, the rewrite below) envelopes them;
* rewrites, in place, every error response that is not an envelope yet (URL resolver 404s
  under ``DEBUG``, 405s returned by views, errors from other middleware, technical pages);
* adds the profile's headers to every response.

It never raises: if its own work fails, the response passes through unchanged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponseBase

from counterbalance_errors import budget, catalog, responses
from counterbalance_errors.profiles import get_profile

logger = logging.getLogger("counterbalance_errors")

#: Key ErrorEnvelopeASGI looks for in the ASGI scope (see counterbalance_errors.asgi).
SEEN_KEY = "counterbalance_errors.seen"

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
        _mark_seen(request)
        budget.start(request)
        response = self.get_response(request)
        return self.finish(request, response)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        _mark_seen(request)
        budget.start(request)
        # The time budget can only be enforced here (docs/profiles.md, "Time budgets").
        response = await budget.within_budget(self.get_response, request)  # type: ignore[arg-type]
        return self.finish(request, response)

    def finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Envelope an error response that is not one yet, add the profile's headers."""
        try:
            if response.status_code >= 400 and not responses.is_envelope(response):
                responses.rewrite(request, response, error_for_response(request, response))
            for name, value in get_profile().response_headers(request, response).items():
                response[name] = value
        except Exception:
            logger.exception("counterbalance_errors could not finish the response")
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        try:
            error = catalog.from_exception(exception)
            if error.is_server_error:
                return None  # Django logs it, fires the signal, then calls handler500.
            _replicate_django_logging(request, exception)
            return responses.error_response(request, error)
        except Exception:
            logger.exception("counterbalance_errors could not handle %r", exception)
            return None


def _mark_seen(request: HttpRequest) -> None:
    """Tell ErrorEnvelopeASGI that this request reached the middleware chain."""
    scope = getattr(request, "scope", None)
    if scope is not None:
        scope[SEEN_KEY] = True


def error_for_response(request: HttpRequest, response: HttpResponseBase) -> catalog.ApiError:
    """The canonical error behind an error response that is not an envelope yet."""
    state = responses.get_state(request)
    if state is not None and (
        state.error.status == response.status_code
        or (response.status_code == 500 and state.error.is_server_error)
    ):
        # The error remembered from the exception (e.g. the got_request_exception receiver
        # under DEBUG, where Django's technical page answered instead of handler500).
        return state.error
    headers = {}
    if response.has_header("Allow"):
        headers["Allow"] = response["Allow"]
    if response.has_header("WWW-Authenticate"):
        headers["WWW-Authenticate"] = response["WWW-Authenticate"]
    status = response.status_code
    if status == 404 and getattr(request, "resolver_match", None) is None:
        return catalog.make("EndpointNotFound", headers=headers)
    if status == 400 and _host_is_disallowed(request):
        # Under DEBUG, Django's technical page answers DisallowedHost without handler400.
        return catalog.make("InvalidHeader")
    return catalog.from_status(status, headers=headers)


def _host_is_disallowed(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return True
    return False


def _replicate_django_logging(request: HttpRequest, exception: Exception) -> None:
    """What ``response_for_exception`` would have done for a 4xx we answer ourselves."""
    if isinstance(exception, SuspiciousOperation):
        if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
            # The body cannot be read again; later readers must see an empty POST.
            request._mark_post_parse_error()  # type: ignore[attr-defined]
        security_logger = logging.getLogger(f"django.security.{exception.__class__.__name__}")
        security_logger.error(
            str(exception), exc_info=exception, extra={"status_code": 400, "request": request}
        )


def remember_uncaught_exception(sender: Any, request: HttpRequest | None = None, **_: Any) -> None:
    """``got_request_exception`` receiver: keep the 5xx's exception and give it its hash.

    It runs before Django calls handler500 and logs the error, so the envelope, the log record
    and the stored row all see the same error and hash, with ``DEBUG`` on or off.
    """
    exc = sys.exc_info()[1]
    if request is None or exc is None:
        return
    try:
        responses.attach(request, catalog.from_exception(exc))
    except Exception:
        logger.exception("counterbalance_errors could not remember %r", exc)


def connect_signals() -> None:
    got_request_exception.connect(
        remember_uncaught_exception, dispatch_uid="counterbalance_errors.remember"
    )
