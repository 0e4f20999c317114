"""The app's log lines: the fallback line of an unstored error, and the logging filter."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from counterbalance_errors.capture import Record

logger = logging.getLogger("counterbalance_errors")


def fallback(record: Record | None, reason: str, level: int = logging.ERROR) -> None:
    """One JSON line on the ``counterbalance_errors`` logger, with the hash and the record."""
    try:
        payload: dict[str, Any] = {"event": "counterbalance_errors.error", "reason": reason}
        if record is not None:
            payload.update(record.as_dict())
        line = json.dumps(payload, default=str, ensure_ascii=True)
        logging_hash = record.logging_hash if record is not None else None
        logger.log(level, "%s", line, extra={"logging_hash": logging_hash})
    except Exception:  # pragma: no cover - logging itself failed; nothing left to do
        logger.error("counterbalance_errors could not log an unstored error")


class LoggingHashFilter(logging.Filter):
    """Adds ``logging_hash`` to log records that carry a ``request`` (``django.request``).

    Installed on the ``django.request`` logger when the app is ready; add it to your own
    handlers too (``"()": "counterbalance_errors.logs.LoggingHashFilter"``) to see the
    hash in structlog, Sentry or JSON log output.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "logging_hash", None) is None:
            from counterbalance_errors.context import logging_hash_of as get_logging_hash

            request = getattr(record, "request", None)
            record.logging_hash = get_logging_hash(request) if request is not None else None
        return True


def install_logging_filter() -> None:
    request_logger = logging.getLogger("django.request")
    if not any(isinstance(f, LoggingHashFilter) for f in request_logger.filters):
        request_logger.addFilter(LoggingHashFilter())
