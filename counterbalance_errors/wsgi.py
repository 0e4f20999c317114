"""A WSGI wrapper for the errors Django raises before any middleware runs.

In ``wsgi.py``::

    from django.core.wsgi import get_wsgi_application
    from counterbalance_errors.wsgi import ErrorEnvelopeWSGI

    application = ErrorEnvelopeWSGI(get_wsgi_application())

Django builds the request before the middleware chain exists, so a request it cannot even
parse (an RFC 2231 ``Content-Type`` with an unknown charset on Django 5.2, an over-long
``Content-Type`` on 6.x) escapes to the server, which answers with its own HTML or text 500.
The wrapper answers with the envelope instead: 400 ``BadRequest`` when the request cannot be
built, otherwise the catalog's error for whatever escaped.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse

from counterbalance_errors import catalog, responses

logger = logging.getLogger("counterbalance_errors")

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def request_cannot_be_built(build: Callable[[], object]) -> bool:
    try:
        build()
    except Exception:
        return True
    return False


def error_for_escaped(exc: BaseException, build: Callable[[], object]) -> catalog.ApiError:
    if request_cannot_be_built(build):
        return catalog.make("BadRequest", exception=exc)
    return catalog.from_exception(exc)


def envelope(error: catalog.ApiError) -> HttpResponse:
    """The envelope of ``error`` for a request Django never built (so no middleware ran)."""
    response = responses.error_response(None, error)
    response["Content-Length"] = str(len(response.content))
    return response


def envelope_for_escaped(exc: BaseException, build: Callable[[], object]) -> HttpResponse:
    """The envelope for an exception that escaped Django's handler."""
    logger.error("Error outside Django's request handling: %r", exc, exc_info=exc)
    return envelope(error_for_escaped(exc, build))


class ErrorEnvelopeWSGI:
    """Wrap a WSGI application so that nothing escapes it unenveloped."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self.application(environ, start_response)
        except Exception as exc:
            response = envelope_for_escaped(exc, lambda: WSGIRequest(environ))
            status = f"{response.status_code} {response.reason_phrase}"
            start_response(status, list(response.items()), sys.exc_info())
            return [response.content]
