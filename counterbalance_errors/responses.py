"""From a canonical error to an HTTP response, for one request.

Every entry point (middleware, DRF handler, renderer, URLconf views, WSGI/ASGI wrappers) ends
here, so the logging_hash, the body, the headers and the request state always agree.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from counterbalance_errors import capture, conf
from counterbalance_errors.catalog import CATALOG, ApiError
from counterbalance_errors.profiles import CounterbalanceProfile, Profile, Rendered, get_profile

logger = logging.getLogger("counterbalance_errors")

#: Attribute on the request holding the :class:`ErrorState` of its error, if any.
STATE_ATTR = "counterbalance_error"
#: Attribute on a response that is already an envelope (never rewritten again).
ENVELOPE_ATTR = "counterbalance_envelope"
#: Attribute on a request that went through ErrorEnvelopeMiddleware.
SEEN_ATTR = "counterbalance_seen"

# Headers that describe the old body and would corrupt the new one.
_BODY_HEADERS = ("Content-Encoding", "Content-MD5", "ETag", "Content-Disposition", "Content-Range")


@dataclass(slots=True)
class ErrorState:
    """The error of one request: what the client was told, and what is to be recorded."""

    error: ApiError
    logging_hash: str | None
    #: Django answers this error itself (its technical page, handler500): the response then
    #: has Django's status for the exception, not the error's.
    django_answers: bool = False


def django_request(request: Any) -> HttpRequest:
    """The Django request behind a DRF ``Request`` (or the request itself)."""
    return getattr(request, "_request", request)  # type: ignore[no-any-return]


def get_state(request: Any) -> ErrorState | None:
    return getattr(django_request(request), STATE_ATTR, None)


def get_logging_hash(request: Any) -> str | None:
    """The logging_hash given to this request's client, if its error was logged."""
    state = get_state(request)
    return state.logging_hash if state else None


def new_logging_hash() -> str:
    """40 lowercase hex characters, 160 random bits (SPEC §4)."""
    return secrets.token_hex(20)


def attach(request: Any, error: ApiError) -> ErrorState:
    """Record ``error`` as this request's error, giving it a hash when its status is logged.

    One request has one hash: a second error (say, handler500 after the signal) reuses it.
    """
    http_request = django_request(request) if request is not None else None
    previous = get_state(http_request) if http_request is not None else None
    logging_hash = None
    if error.status in conf.logged_statuses():
        logging_hash = (previous.logging_hash if previous else None) or new_logging_hash()
    state = ErrorState(error=error, logging_hash=logging_hash)
    if http_request is not None:
        setattr(http_request, STATE_ATTR, state)
    return state


def render(request: Any, error: ApiError) -> tuple[Profile, Rendered]:
    """Render ``error`` with the active profile, or the default one if that profile fails.

    A user's profile that raises must not turn an error into a crash of the error handling.
    """
    state = attach(request, error)
    profile = get_profile()
    http_request = django_request(request) if request is not None else None
    capture.remember_drf_data(request)
    capture.store_unless_deferred(http_request, state)
    try:
        return profile, profile.render(error, state.logging_hash, http_request)
    except Exception:
        logger.exception("Profile %r could not render %s", type(profile).__name__, error.code)
    fallback = CounterbalanceProfile()
    return fallback, fallback.render(error, state.logging_hash, http_request)


def add_response_headers(profile: Profile, request: Any, response: HttpResponseBase) -> None:
    """Add the headers ``profile`` puts on every response; a failing profile adds none."""
    try:
        headers = profile.response_headers(django_request(request), response)
    except Exception:
        logger.exception("Profile %r could not give its response headers", type(profile).__name__)
        return
    for name, value in headers.items():
        response[name] = value


def error_response(request: Any, error: ApiError) -> HttpResponse:
    """A new response for ``error`` (used where no response exists yet).

    Under ErrorEnvelopeMiddleware the profile's per-response headers are left to its
    ``finish()``, so they are computed once (cloudapi hashes the body for them).
    """
    profile, rendered = render(request, error)
    try:
        response = _new_response(rendered)
    except Exception:
        # A header value Django refuses (BadHeaderError) fails here, outside render().
        logger.exception("Profile %r gave an unusable response", type(profile).__name__)
        http_request = django_request(request) if request is not None else None
        profile = CounterbalanceProfile()
        response = _new_response(profile.render(error, get_logging_hash(request), http_request))
    if request is None or not getattr(django_request(request), SEEN_ATTR, False):
        add_response_headers(profile, request, response)
    return response


def _new_response(rendered: Rendered) -> HttpResponse:
    response = HttpResponse(rendered.content, status=rendered.status)
    apply(response, rendered)
    if rendered.content_type is None:
        del response["Content-Type"]
    return response


def last_resort(code: str, status: int | None = None) -> HttpResponse:
    """A minimal envelope that depends on nothing that could have failed.

    For entry points whose own work failed: a client still gets a JSON error with the
    right status instead of a 500 (or an unenveloped page).
    """
    entry = CATALOG.get(code)
    body = {"error": {"code": code, "message": str(entry.message) if entry else ""}}
    return HttpResponse(
        json.dumps(body),
        status=status or (entry.status if entry else 500),
        content_type="application/json",
    )


def replicate_django_logging(request: HttpRequest, exception: BaseException) -> None:
    """What Django's ``response_for_exception`` does for a 4xx that we answer ourselves.

    The middleware's ``process_exception`` and the DRF handler both answer such errors
    before Django sees them.
    """
    if isinstance(exception, SuspiciousOperation):
        if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
            # The body cannot be read again; later readers must see an empty POST.
            request._mark_post_parse_error()  # type: ignore[attr-defined]
        security_logger = logging.getLogger(f"django.security.{exception.__class__.__name__}")
        security_logger.error(
            str(exception), exc_info=exception, extra={"status_code": 400, "request": request}
        )


def rewrite(request: Any, response: HttpResponseBase, error: ApiError) -> None:
    """Turn ``response`` into the envelope of ``error`` in place.

    Keeps every header other middleware set (``Allow``, ``WWW-Authenticate``, cookies, CORS,
    security headers) and fixes the ones that describe the body.
    """
    _, rendered = render(request, error)
    for name in _BODY_HEADERS:
        if response.has_header(name):
            del response[name]
    if isinstance(response, StreamingHttpResponse):
        # Keep the response async when it was: Django warns when an ASGI server has to
        # consume a synchronous iterator.
        response.streaming_content = (
            _async_body(rendered.content) if response.is_async else [rendered.content]
        )
        if response.has_header("Content-Length"):
            del response["Content-Length"]
    elif isinstance(response, HttpResponse):
        response.content = rendered.content
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(rendered.content))
    if rendered.content_type is None:
        if response.has_header("Content-Type"):
            del response["Content-Type"]
    else:
        response["Content-Type"] = rendered.content_type
    response.status_code = rendered.status
    apply(response, rendered)


async def _async_body(content: bytes) -> AsyncIterator[bytes]:
    yield content


def apply(response: HttpResponseBase, rendered: Rendered) -> None:
    """Set the status, reason, content type and headers of ``rendered`` on ``response``."""
    response.status_code = rendered.status
    # None restores the standard phrase for the (possibly new) status.
    response.reason_phrase = rendered.reason  # type: ignore[assignment]
    if rendered.content_type is not None:
        response["Content-Type"] = rendered.content_type
    for name, value in rendered.headers.items():
        if name == "Retry-After" and response.has_header(name):
            continue  # the view's own (or another middleware's) answer knows better
        response[name] = value
    setattr(response, ENVELOPE_ATTR, True)


def is_envelope(response: HttpResponseBase) -> bool:
    return getattr(response, ENVELOPE_ATTR, False) is True
