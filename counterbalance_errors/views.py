"""Root URLconf error handlers and the CSRF failure view.

In the root URLconf::

    handler400 = "counterbalance_errors.views.bad_request"
    handler403 = "counterbalance_errors.views.permission_denied"
    handler404 = "counterbalance_errors.views.page_not_found"
    handler500 = "counterbalance_errors.views.server_error"

and in settings: ``CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure"``.

They close the gaps the middleware cannot see by itself: URL resolver 404s, errors raised by
other middleware, CSRF rejections. Django requires them to be plain functions returning an
``HttpResponse``; they never raise.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import Resolver404

from counterbalance_errors import catalog, context, responses
from counterbalance_errors.guard import guarded

# Unlike Django's own handlers these are not decorated with ``requires_csrf_token``: it runs
# CsrfViewMiddleware.process_view again, which re-reads request.POST and raises the very
# BadRequest/RequestDataTooBig being answered (the handler would fail, then handler500 too).


def _answer(request: HttpRequest, exception: BaseException | None, fallback: str) -> HttpResponse:
    with guarded("could not answer %s", fallback):
        if exception is not None:
            error = catalog.from_exception(exception)
        else:
            error = catalog.make(fallback)
        return responses.error_response(request, error)
    return responses.last_resort(fallback)


def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """handler400: ``DisallowedHost`` → ``InvalidHeader``, ``RequestDataTooBig`` → 413, …"""
    return _answer(request, exception, "BadRequest")


def permission_denied(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """handler403: django-ratelimit's ``Ratelimited`` → ``RequestThrottled``."""
    return _answer(request, exception, "NotAuthorized")


def page_not_found(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """handler404: a URL that matches nothing → ``EndpointNotFound``."""
    if exception is None or isinstance(exception, Resolver404):
        if context.of(request).seen:
            # A bare 404 for now: middleware below ErrorEnvelopeMiddleware that act on 404s
            # (APPEND_SLASH, contrib.redirects, flatpages) must see one, not the profile's
            # status (400 for counterbalance). ErrorEnvelopeMiddleware envelopes what is left.
            return HttpResponseNotFound()
        return _answer(request, None, "EndpointNotFound")
    return _answer(request, exception, "ResourceNotFound")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error remembered for this request, else the exception being handled."""
    ctx = context.get(request)
    error = ctx.error if ctx is not None else None
    if error is not None and error.is_server_error:
        with guarded("could not answer %s", error.code):
            return responses.error_response(request, error)
        return responses.last_resort("InternalError")
    return _answer(request, sys.exc_info()[1], "InternalError")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: 403 ``CsrfFailed``, Django's reason in the message."""
    with guarded("could not answer CsrfFailed"):
        message = catalog.CATALOG["CsrfFailed"].message
        if reason:
            message = catalog.truncate(f"{message} {reason}", 200)
        return responses.error_response(request, catalog.make("CsrfFailed", message))
    return responses.last_resort("CsrfFailed")
