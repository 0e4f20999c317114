"""From a canonical error to an HTTP response, for one request.

Every entry point (middleware, DRF handler, renderer, URLconf views, WSGI/ASGI wrappers) ends
here, so the logging_hash, the body, the headers and the request context always agree. The
answer reads top to bottom: the canonical error becomes the request's error in its context
(:func:`prepare`), which is captured for storage, then the profile renders it from a render
context (:func:`render`, pure), then the response is built or rewritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.http.cookie import SimpleCookie
from django.http.response import ResponseHeaders
from django.utils.translation import get_language

from counterbalance_errors import capture, conf, context
from counterbalance_errors.catalog import CATALOG, ApiError, CatalogMessage
from counterbalance_errors.context import RequestContext
from counterbalance_errors.guard import guarded
from counterbalance_errors.profiles import (
    CounterbalanceProfile,
    Profile,
    RenderContext,
    Rendered,
    get_profile,
)

logger = logging.getLogger("counterbalance_errors")

#: Attribute on a response that is already an envelope (never rewritten again).
ENVELOPE_ATTR = "counterbalance_envelope"

# Headers that describe the old body and would corrupt the new one.
_BODY_HEADERS = ("Content-Encoding", "Content-MD5", "ETag", "Content-Disposition", "Content-Range")


def prepare(request: Any, error: ApiError) -> RequestContext:
    """Make ``error`` the request's error and capture it, now or at the end of the request.

    The middleware captures once the response is finished, outside the view's transaction;
    without it (the URLconf views, the DRF handler outside the middleware), it is captured now.
    """
    ctx = context.attach(request, error)
    if ctx.logging_hash is not None:  # only a logged error is captured
        capture.remember_drf_data(request, ctx)
        capture.record_unless_deferred(request, ctx)
    return ctx


def render(error: ApiError, ctx: RequestContext) -> tuple[Profile, Rendered]:
    """Render ``error`` with the active profile, or the default one if that profile fails.

    A user's profile that raises must not turn an error into a crash of the error handling.
    Rendering reads and writes nothing but its result.
    """
    profile = get_profile()
    with guarded("Profile %r could not render %s", type(profile).__name__, error.code):
        return profile, rendered_by(profile, error, ctx)
    fallback = CounterbalanceProfile()
    return fallback, fallback.render(error, ctx.render_context())


#: Answers of unlogged errors kept per settings object, at most (then they are forgotten).
RENDERED_CACHE_SIZE = 256


#: The render context of an unlogged error for a profile that declares it reads none.
_UNREAD = RenderContext()


def rendered_by(profile: Profile, error: ApiError, ctx: RequestContext) -> Rendered:
    """``profile.render(error, ...)``. When the profile's own class declares
    ``reads_render_context = False`` (its answer of an unlogged error then depends on the
    error, the language and the settings alone), an unlogged error is rendered without a
    render context, and the answer of one without details is reused for an equal error: an
    unlogged 4xx, the common error, skips rendering (docs/performance.md)."""
    if ctx.logging_hash is not None or type(profile).__dict__.get("reads_render_context", True):
        return profile.render(error, ctx.render_context())
    message = error.message
    if error.details or not isinstance(message, (str, CatalogMessage)):
        return profile.render(error, _UNREAD)
    key = (
        type(profile),
        error.status,
        error.code,
        message,
        None if isinstance(message, str) else get_language(),
        tuple(error.headers.items()),
        error.retry_after,
    )
    cache: dict[Any, Rendered] = conf.effective().derived.setdefault("rendered", {})
    rendered = cache.get(key)
    if rendered is None:
        rendered = profile.render(error, _UNREAD)
        if len(cache) >= RENDERED_CACHE_SIZE:
            cache.clear()
        cache[key] = rendered
    return rendered


def add_response_headers(profile: Profile, ctx: RequestContext, response: HttpResponseBase) -> None:
    """Add the headers ``profile`` puts on every response; a failing profile adds none."""
    with guarded("Profile %r could not give its response headers", type(profile).__name__):
        headers = profile.response_headers(ctx.render_context(), response)
        for name, value in headers.items():
            response[name] = value


def error_response(request: Any, error: ApiError) -> HttpResponse:
    """A new response for ``error`` (used where no response exists yet).

    Under ErrorEnvelopeMiddleware the profile's per-response headers are left to its
    ``finish()``, so they are computed once (cloudapi hashes the body for them).
    """
    ctx = prepare(request, error)
    profile = get_profile()
    response: HttpResponse | None = None
    # A header value Django refuses (BadHeaderError) fails in the response, not in render().
    with guarded("Profile %r could not answer %s", type(profile).__name__, error.code):
        response = _new_response(rendered_by(profile, error, ctx))
    if response is None:
        profile = CounterbalanceProfile()
        response = _new_response(profile.render(error, ctx.render_context()))
    if not ctx.seen:
        add_response_headers(profile, ctx, response)
    return response


#: Per content type, a blank envelope built by Django's own constructor, which every new
#: envelope copies: the constructor checks the status and the constant ``Content-Type`` again on
#: each call, the larger part of answering an error (docs/performance.md). Profiles declare a
#: constant content type; :data:`BLANKS_SIZE` bounds one that varies.
_blanks: dict[str | None, HttpResponse] = {}
BLANKS_SIZE = 16


def _new_response(rendered: Rendered) -> HttpResponse:
    blank = _blanks.get(rendered.content_type)
    if blank is None:
        blank = HttpResponse(content_type=rendered.content_type)
        if rendered.content_type is None:
            del blank["Content-Type"]
        setattr(blank, ENVELOPE_ATTR, True)
        if len(_blanks) >= BLANKS_SIZE:
            _blanks.clear()
        _blanks[rendered.content_type] = blank
    response = HttpResponse.__new__(HttpResponse)
    state = response.__dict__
    state.update(blank.__dict__)
    # What a response changes is its own: its headers (``ResponseHeaders.copy()`` would share
    # them), cookies, resource closers and body.
    headers = state["headers"] = ResponseHeaders.__new__(ResponseHeaders)
    headers._store = blank.headers._store.copy()
    state["cookies"] = SimpleCookie()
    state["_resource_closers"] = []
    content, status = rendered.content, rendered.status
    state["_container"] = [content if type(content) is bytes else response.make_bytes(content)]
    if type(status) is not int or not 100 <= status <= 599:
        HttpResponseBase(status=status)  # raises what Django's constructor raises for it
    apply(response, rendered, content_type=False)  # the blank has it
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
    _, rendered = render(error, prepare(request, error))
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


def apply(response: HttpResponseBase, rendered: Rendered, *, content_type: bool = True) -> None:
    """Set the status, reason, content type (unless the response has it already) and headers
    of ``rendered`` on ``response``."""
    response.status_code = rendered.status
    if rendered.reason is not None or response._reason_phrase is not None:  # type: ignore[attr-defined]
        # None restores the standard phrase for the (possibly new) status.
        response.reason_phrase = rendered.reason  # type: ignore[assignment]
    if content_type and rendered.content_type is not None:
        response["Content-Type"] = rendered.content_type
    for name, value in rendered.headers.items():
        if name == "Retry-After" and response.has_header(name):
            continue  # the view's own (or another middleware's) answer knows better
        response[name] = value
    setattr(response, ENVELOPE_ATTR, True)


def is_envelope(response: HttpResponseBase) -> bool:
    return getattr(response, ENVELOPE_ATTR, False) is True
