"""Where the logging_hash meets the team's other tools: W3C trace context, OpenTelemetry, Sentry.

* :func:`annotate` (on the request thread, before a logged error is captured): the request's
  W3C trace id — the active OpenTelemetry span's when opentelemetry is installed and a span is
  active, else a valid incoming ``traceparent`` header's — and, on that span, the attribute
  ``logging_hash``.
* :func:`install_sentry_processor` (when the app is ready, if sentry-sdk is installed): every
  Sentry event captured while a request with a logged error is handled gets the tag
  ``logging_hash``, and the request keeps the event id (``ErrorLog.sentry_event_id``). When
  Sentry captures before the error has its hash (its ``got_request_exception`` receiver runs
  before ours), the processor reserves the hash the error then takes, so the order of receivers
  and of ``sentry_sdk.init()`` does not matter. A capture whose exception's status is logged,
  made in a request that then answers without a logged error, keeps a tag no response carried.

Neither library is a dependency: without them this module does nothing.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.http import HttpRequest

from counterbalance_errors import catalog, conf, context
from counterbalance_errors.context import RequestContext
from counterbalance_errors.guard import guarded

#: ``version-traceid-parentid-flags`` (W3C Trace Context, version 00).
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16
#: The span attribute and Sentry tag that carry the hash.
HASH_KEY = "logging_hash"


def trace_id_from_traceparent(value: str) -> str:
    """The trace id of a valid ``traceparent`` header value, else ""."""
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_PARENT:
        return ""
    return match.group(1)


@functools.cache
def _otel_trace() -> Any:
    """``opentelemetry.trace``, or None when it is not installed (looked for once: a failed
    import is not cached by Python and searches the whole path again)."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def _active_span() -> Any:
    """The active, valid OpenTelemetry span, or None (also when opentelemetry is absent)."""
    trace = _otel_trace()
    if trace is None:
        return None
    span = trace.get_current_span()
    return span if span.get_span_context().is_valid else None


def annotate(ctx: RequestContext, request: HttpRequest) -> None:
    """Set ``ctx.trace_id`` (unless already set) and put the hash on the active span; never
    raises."""
    with guarded("could not read the trace context"):
        span = _active_span()
        if span is not None and ctx.logging_hash and span.is_recording():
            span.set_attribute(HASH_KEY, ctx.logging_hash)
        if ctx.trace_id:
            return
        if span is not None:
            ctx.trace_id = format(span.get_span_context().trace_id, "032x")
        else:
            header = str(request.META.get("HTTP_TRACEPARENT", ""))
            ctx.trace_id = trace_id_from_traceparent(header)


def tag_sentry_event(event: Any, hint: dict[str, Any] | None) -> Any:
    """Sentry event processor: tag events of a request with a logged error with its hash."""
    with guarded("could not tag a Sentry event"):
        ctx = context.current_context()
        if ctx is None:
            return event
        exc_info = (hint or {}).get("exc_info")
        exception = exc_info[1] if exc_info else None
        # Sentry's got_request_exception receiver (or a capture_exception in the view) ran
        # before the error got its hash: reserve it now; the request's logged error takes the
        # reserved hash (context.attach keeps a hash the request already has).
        if (
            ctx.logging_hash is None
            and isinstance(exception, BaseException)
            and catalog.from_exception(exception).status in conf.logged_statuses()
        ):
            ctx.logging_hash = context.new_logging_hash()
        if ctx.logging_hash:
            event.setdefault("tags", {})[HASH_KEY] = ctx.logging_hash
            ctx.sentry_event_id = str(event.get("event_id") or "")[:32]
    return event


def install_sentry_processor() -> None:
    """Register :func:`tag_sentry_event` once, if sentry-sdk is installed."""
    try:
        from sentry_sdk.scope import add_global_event_processor, global_event_processors
    except ImportError:
        return
    if tag_sentry_event not in global_event_processors:
        add_global_event_processor(tag_sentry_event)
