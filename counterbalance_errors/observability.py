"""Where a logged error leads: the trace it belongs to.

:func:`annotate` runs on the request thread before an error is captured: it sets the request
context's ``trace_id`` from a valid incoming W3C ``traceparent`` header (a trace id already
set, e.g. by an OpenTelemetry integration, is kept).
"""

from __future__ import annotations

import re

from django.http import HttpRequest

from counterbalance_errors.context import RequestContext

#: W3C Trace Context, version 00: ``00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_ZERO_TRACE_ID = "0" * 32
_ZERO_PARENT_ID = "0" * 16


def trace_id_from_traceparent(value: str) -> str:
    """The trace id of a valid version-00 ``traceparent`` header value, else ""."""
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None or match[1] == _ZERO_TRACE_ID or match[2] == _ZERO_PARENT_ID:
        return ""
    return match[1]


def annotate(ctx: RequestContext, request: HttpRequest) -> None:
    """Give ``ctx`` the trace id of ``request``'s ``traceparent`` header, unless it has one."""
    if not ctx.trace_id:
        ctx.trace_id = trace_id_from_traceparent(str(request.META.get("HTTP_TRACEPARENT", "")))
