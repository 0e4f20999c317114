"""The DRF exception handler.

``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "counterbalance_errors.handlers.exception_handler"``
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import connections
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf_exceptions

from counterbalance_errors import capture, catalog, responses
from counterbalance_errors import context as request_context
from counterbalance_errors.exceptions import InvalidVersion
from counterbalance_errors.guard import guarded
from counterbalance_errors.renderers import EnvelopeJSONRenderer


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """Answer a 4xx raised in a DRF view with the envelope; return None for 5xx.

    It returns a plain ``HttpResponse``, so DRF's content negotiation cannot turn the error
    into an HTML page (``Accept: text/html``, ``?format=api``) and ``NotAcceptable`` is JSON
    too. It always marks the transaction for rollback (``ATOMIC_REQUESTS``), even for errors
    DRF's own handler leaves alone, such as Django's ``PermissionDenied`` or
    ``RequestDataTooBig``. 5xx errors are re-raised by DRF, so that Django logs them with
    their traceback and fires ``got_request_exception`` exactly once; the middleware or
    ``handler500`` then answers with the envelope.
    """
    request = context.get("request")
    error = catalog.from_exception(_refine(exc, request))
    if error.status >= 500:
        _prepare_reraise(request)
        if request is not None:  # DRF's parsed body, for the stored record
            capture.remember_drf_data(request, request_context.of(request))
        return None
    _set_rollback()
    # Raising here would turn the client's 4xx into a logged 500.
    with guarded("could not answer %s", error.code):
        if request is not None and isinstance(exc, SuspiciousOperation):
            # Django's own handling of a SuspiciousOperation, which answering it here skips.
            responses.replicate_django_logging(request_context.django_request(request), exc)
        return responses.error_response(request, error)
    return responses.last_resort(error.code, error.status)


def _refine(exc: Exception, request: Any) -> Exception:
    """Tell apart the DRF errors whose class alone is ambiguous, by how far ``initial()`` got.

    ``APIView.initial`` negotiates the renderer, then determines the version: an error raised
    before ``accepted_renderer`` is set comes from negotiation, one raised after it but before
    ``versioning_scheme`` is set comes from the versioning scheme.
    """
    if request is None or not isinstance(
        exc, (Http404, drf_exceptions.NotFound, drf_exceptions.NotAcceptable)
    ):
        return exc
    negotiated = getattr(request, "accepted_renderer", None) is not None
    if isinstance(exc, Http404) and not negotiated:
        # ``?format=xyz`` (or a ``.xyz`` suffix) no renderer offers: DRF raises Http404.
        return drf_exceptions.NotAcceptable()
    versioned = hasattr(request, "versioning_scheme")
    if (
        isinstance(exc, (drf_exceptions.NotFound, drf_exceptions.NotAcceptable))
        and negotiated
        and not versioned
    ):
        # URLPath/Namespace/Hostname/QueryParameter versioning raise NotFound,
        # AcceptHeaderVersioning raises NotAcceptable.
        return InvalidVersion()
    return exc


def _set_rollback() -> None:
    """DRF's ``set_rollback()``, looking only at the databases with ``ATOMIC_REQUESTS``, as
    Django's ``make_view_atomic`` does: DRF's fetches every initialised connection through
    its thread-critical local, a quarter of the work of a validation 400 (docs/performance.md).
    """
    for alias, settings_dict in connections.settings.items():
        if settings_dict["ATOMIC_REQUESTS"]:
            connection = connections[alias]
            if connection.in_atomic_block:
                connection.set_rollback(True)


def _prepare_reraise(request: Any) -> None:
    """Keep DRF's re-raise from failing before negotiation under ``DEBUG`` (error-paths D19).

    ``APIView.raise_uncaught_exception`` reads ``request.accepted_renderer`` when ``DEBUG`` is
    on; without one it raises ``AttributeError`` and the original exception is lost.
    """
    if request is None or not settings.DEBUG:
        return
    if getattr(request, "accepted_renderer", None) is None:
        request.accepted_renderer = EnvelopeJSONRenderer()
        request.accepted_media_type = EnvelopeJSONRenderer.media_type
