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

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404
from django.views.decorators.csrf import requires_csrf_token

from counterbalance_errors import catalog, responses


def _answer(request: HttpRequest, exception: BaseException | None, fallback: str) -> HttpResponse:
    error = catalog.from_exception(exception) if exception is not None else catalog.make(fallback)
    return responses.error_response(request, error)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """handler400: ``DisallowedHost`` → ``InvalidHeader``, ``RequestDataTooBig`` → 413, …"""
    return _answer(request, exception, "BadRequest")


@requires_csrf_token
def permission_denied(
    request: HttpRequest, exception: BaseException | None = None
) -> HttpResponse:
    """handler403: django-ratelimit's ``Ratelimited`` → ``RequestThrottled``."""
    return _answer(request, exception, "NotAuthorized")


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """handler404: a URL that matches nothing → ``EndpointNotFound``."""
    if exception is None or isinstance(exception, Resolver404):
        return _answer(request, None, "EndpointNotFound")
    return _answer(request, exception, "ResourceNotFound")


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error remembered for this request, else the exception being handled."""
    state = responses.get_state(request)
    if state is not None and state.error.is_server_error:
        return responses.error_response(request, state.error)
    return _answer(request, sys.exc_info()[1], "InternalError")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: 403 ``CsrfFailed``, Django's reason in the message."""
    message = catalog.CATALOG["CsrfFailed"].message
    if reason:
        message = catalog.truncate(f"{message} {reason}", 200)
    return responses.error_response(request, catalog.make("CsrfFailed", message))
