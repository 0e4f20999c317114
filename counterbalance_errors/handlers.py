"""The DRF exception handler.

``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "counterbalance_errors.handlers.exception_handler"``
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import set_rollback

from counterbalance_errors import catalog, responses
from counterbalance_errors.exceptions import InvalidVersion


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """Answer a 4xx raised in a DRF view with the envelope; return None for 5xx.

    It returns a plain ``HttpResponse``, so DRF's content negotiation cannot turn the error
    into an HTML page (``Accept: text/html``, ``?format=api``) and ``NotAcceptable`` is JSON
    too. It always marks the transaction for rollback (``ATOMIC_REQUESTS``), even for errors
    DRF's own handler leaves alone. 5xx errors are re-raised by DRF, so that Django logs them
    with their traceback and fires ``got_request_exception`` exactly once; the middleware or
    ``handler500`` then answers with the envelope.
    """
    error = catalog.from_exception(_invalid_version(exc, context) or exc)
    if error.is_server_error:
        return None
    set_rollback()
    request = context.get("request")
    return responses.error_response(request, error)


def _invalid_version(exc: Exception, context: dict[str, Any]) -> Exception | None:
    """DRF's versioning schemes raise NotFound/NotAcceptable with their own message."""
    if not isinstance(exc, (drf_exceptions.NotFound, drf_exceptions.NotAcceptable)):
        return None
    versioning_class = getattr(context.get("view"), "versioning_class", None)
    message = getattr(versioning_class, "invalid_version_message", None)
    if message is not None and str(exc.detail) == str(message):
        return InvalidVersion()
    return None
