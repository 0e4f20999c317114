"""The one object that holds what the app knows about a request: ``request.counterbalance``.

It is created on first use: a request that ends without an error (or a log line) never has
one, so the success path costs no context at all (docs/performance.md). While
ErrorEnvelopeMiddleware handles a request, :data:`current` holds that request and its start
time, so a context created then knows the middleware saw the request. It carries the start time,
whether the middleware saw the request, the request's error and its ``logging_hash``, the
request id, the parsed body a DRF view read, which hash was already captured, and the trace
and Sentry ids. Profiles never see it, nor the request: they get a
:class:`~counterbalance_errors.profiles.RenderContext` made from it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from counterbalance_errors import catalog, conf
from counterbalance_errors.catalog import ApiError
from counterbalance_errors.guard import guarded
from counterbalance_errors.profiles.base import RenderContext, random_hex

#: The request attribute holding the :class:`RequestContext`.
ATTR = "counterbalance"
#: The incoming header whose value may become the request id.
INCOMING_REQUEST_ID = "HTTP_X_REQUEST_ID"
# An incoming request id is reused only when it is this tame: no spaces, no separators an
# HTTP parser or a log line could trip on.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

#: ``drf_data`` of a request whose body no DRF view parsed.
NOT_PARSED: Any = object()


@dataclass(slots=True, eq=False)
class RequestContext:
    """Everything the app knows about one request (a mutable, per-request object)."""

    #: ``time.perf_counter()`` when ErrorEnvelopeMiddleware saw the request (None: it did not).
    started: float | None = None
    #: The middleware saw this request (the URLconf handlers and the ASGI wrapper ask).
    seen: bool = False
    #: The middleware captures the error once the response is finished (outside the view's
    #: transaction); False: whoever answers the error captures it at once.
    deferred: bool = False
    #: The request's error, if any (the one its client is told about).
    error: ApiError | None = None
    #: The error's logging_hash, when its status is logged.
    logging_hash: str | None = None
    #: Django answers the error itself (its technical page, handler500): the response then
    #: has Django's status for the exception, not the error's.
    django_answers: bool = False
    #: The parsed body a DRF view read (the raw body cannot be read again after DRF parsed it).
    drf_data: Any = NOT_PARSED
    #: The logging_hash already captured for this request (one record per hash).
    recorded: str | None = None
    #: The W3C trace id of the request (``observability.annotate``), "" when unknown.
    trace_id: str = ""
    #: The id of the Sentry event captured for the error, "" when none.
    sentry_event_id: str = ""
    #: The request's path (None: no request).
    path: str | None = None
    #: The incoming ``X-Request-Id`` header, "" when absent.
    incoming_request_id: str = ""
    _request_id: str | None = field(default=None, repr=False)

    @property
    def request_id(self) -> str:
        """The request id, computed once: the incoming ``X-Request-Id`` when it is safe
        (``[A-Za-z0-9][A-Za-z0-9._:-]{0,127}``), else 32 random hex characters."""
        if self._request_id is None:
            incoming = self.incoming_request_id
            safe = incoming and _SAFE_REQUEST_ID.fullmatch(incoming)
            self._request_id = incoming if safe else random_hex(16)  # as new_request_id()
        return self._request_id

    def get_request_id(self) -> str:
        return self.request_id

    def render_context(self) -> RenderContext:
        """What a profile may know of this request, as it is now."""
        return RenderContext(
            logging_hash=self.logging_hash,
            path=self.path,
            started=self.started,
            request_id_of=self.get_request_id,
        )


#: The request ErrorEnvelopeMiddleware is handling in this thread or task, with the
#: ``time.perf_counter()`` of its start; None outside one.
current: ContextVar[tuple[HttpRequest, float] | None] = ContextVar(
    "counterbalance_errors", default=None
)


def current_context() -> RequestContext | None:
    """The context of the request ErrorEnvelopeMiddleware is handling in this thread or task
    (created on first use), else None."""
    handling = current.get()
    return None if handling is None else of(handling[0])


def django_request(request: Any) -> HttpRequest:
    """The Django request behind a DRF ``Request`` (or the request itself)."""
    return getattr(request, "_request", request)  # type: ignore[no-any-return]


def get(request: Any) -> RequestContext | None:
    """The context of ``request`` (a Django or DRF request), None if it has none yet."""
    found = getattr(getattr(request, "_request", request), ATTR, None)
    return found if isinstance(found, RequestContext) else None


def of(request: Any) -> RequestContext:
    """The context of ``request`` (a Django or DRF request, or None), created on first use.

    Without a request (the WSGI wrapper's envelope) it is a new context nobody keeps.
    """
    if request is None:
        return RequestContext()
    http_request = getattr(request, "_request", request)  # a DRF Request wraps it
    found = getattr(http_request, ATTR, None)
    if isinstance(found, RequestContext):
        return found
    meta = getattr(http_request, "META", None) or {}
    created = RequestContext(
        path=getattr(http_request, "path", None),
        incoming_request_id=meta.get(INCOMING_REQUEST_ID, ""),
    )
    handling = current.get()
    if handling is not None and handling[0] is http_request:
        # ErrorEnvelopeMiddleware is handling it: it captures the error once the response is
        # finished (outside the view's transaction) and adds the profile's headers.
        created.seen = created.deferred = True
        created.started = handling[1]
    setattr(http_request, ATTR, created)
    return created


def logging_hash_of(request: Any) -> str | None:
    """The logging_hash given to this request's client, if its error was logged."""
    ctx = get(request) if request is not None else None
    return ctx.logging_hash if ctx is not None else None


def new_logging_hash() -> str:
    """40 lowercase hex characters, 160 random bits (SPEC §4)."""
    return random_hex(20)


def attach(request: Any, error: ApiError) -> RequestContext:
    """Make ``error`` the request's error, giving it a hash when its status is logged.

    One request has one hash: a second error (say, handler500 after the signal) reuses it.
    """
    ctx = of(request)
    if error.status in conf.effective().logged:  # conf.logged_statuses(), inlined
        ctx.logging_hash = ctx.logging_hash or new_logging_hash()
    else:
        ctx.logging_hash = None
    ctx.error = error
    ctx.django_answers = False
    return ctx


def remember(request: Any, exc: Exception) -> RequestContext | None:
    """Make ``exc`` the request's error, answered by Django itself (handler500, its technical
    page); never raises.

    Idempotent: the same exception remembered again (the ``got_request_exception`` receiver
    and an error tracker's event processor, in either order) keeps its error and its one hash.
    """
    with guarded("could not remember %r", exc):
        ctx = get(request)
        if ctx is not None and ctx.error is not None and ctx.error.exception is exc:
            return ctx
        return remember_error(request, catalog.from_exception(exc))
    return None


def remember_error(request: Any, error: ApiError) -> RequestContext:
    """Make ``error`` (of an exception) the request's error, answered by Django itself."""
    ctx = attach(request, error)
    ctx.django_answers = True
    return ctx
