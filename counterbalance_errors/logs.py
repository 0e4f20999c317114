"""The app's log lines: the request's ids on every log record, and the fallback line.

While ErrorEnvelopeMiddleware handles a request, :data:`counterbalance_errors.context.current`
holds its context; :class:`RequestContextFilter` (logging) and :func:`add_request_context`
(structlog) copy its ``request_id`` and, once the error has one, its ``logging_hash`` onto each
record. The request id is the one the profile's request-id header carries and the stored row
keeps. ``docs/integrations.md`` shows the configuration.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from counterbalance_errors import context

if TYPE_CHECKING:
    from counterbalance_errors.capture import Record

logger = logging.getLogger("counterbalance_errors")

#: The ``extra`` key of a fallback line's record (a dict: the scrubbed record, as stored).
RECORD_KEY = "counterbalance_record"


def fallback(record: Record | None, reason: str, level: int = logging.ERROR) -> None:
    """Log an error that is not (or may not be) stored: a readable line on the
    ``counterbalance_errors`` logger, with ``logging_hash``, ``reason`` and the whole scrubbed
    record in ``extra`` (:data:`RECORD_KEY`), so a JSON formatter writes it as fields."""
    try:
        data = record.as_dict() if record is not None else {}
        logger.log(
            level,
            "Logged error %s (%s %s) not stored: %s",
            data.get("logging_hash", "-"),
            data.get("status", "-"),
            data.get("code", "-"),
            " ".join(reason.split()),  # one line (database errors carry line breaks)
            extra={
                "logging_hash": data.get("logging_hash"),
                "reason": reason,
                RECORD_KEY: data,
            },
        )
    except Exception:  # pragma: no cover - logging itself failed; nothing left to do
        logger.error("counterbalance_errors could not log an unstored error")


def _ids(request: Any = None) -> tuple[str | None, str | None]:
    """(request_id, logging_hash) of the request being handled, or of ``request``."""
    ctx = context.current_context()
    if ctx is None and request is not None:
        ctx = context.get(request)
    if ctx is None:
        return None, None
    return ctx.request_id, ctx.logging_hash


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``logging_hash`` (None outside a request or without a logged
    error) to every record it sees; values a record already has are kept.

    Installed on the ``django.request`` logger when the app is ready; add it to your handlers
    (``"()": "counterbalance_errors.logs.RequestContextFilter"``) to have the ids on every
    record of a request, in any formatter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id, logging_hash = _ids(getattr(record, "request", None))
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id
        if getattr(record, "logging_hash", None) is None:
            record.logging_hash = logging_hash
        return True


def add_request_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: ``request_id`` and ``logging_hash`` of the request being handled
    (keys the event already has are kept; nothing is added outside a request)."""
    request_id, logging_hash = _ids()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    if logging_hash is not None:
        event_dict.setdefault("logging_hash", logging_hash)
    return event_dict


def install_logging_filter() -> None:
    request_logger = logging.getLogger("django.request")
    if not any(isinstance(f, RequestContextFilter) for f in request_logger.filters):
        request_logger.addFilter(RequestContextFilter())
