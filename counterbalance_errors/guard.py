"""The one guard around the app's own work: what fails inside is logged, never raised.

Like Sentry's ``capture_internal_exceptions()``: the library's own failure must never break or
stall a response, so each step that could fail runs as ::

    with guarded("could not finish the response"):
        ...

and the code after the block is the fallback. ``BaseException`` subclasses that are not
``Exception`` (``KeyboardInterrupt``, ``SystemExit``, a cancelled task) pass through.
"""

from __future__ import annotations

import logging
from types import TracebackType

logger = logging.getLogger("counterbalance_errors")


class guarded:
    """Log (with its traceback) and swallow an ``Exception`` raised inside the block.

    ``message`` and ``args`` are the log message, as for :meth:`logging.Logger.error`; it is
    prefixed with ``counterbalance_errors`` unless it names its subject itself (starts with a
    capital). ``failed`` tells the code after the block whether it has to fall back.
    """

    __slots__ = ("args", "failed", "message")

    def __init__(self, message: str, *args: object) -> None:
        self.message = message
        self.args = args
        self.failed = False

    def __enter__(self) -> guarded:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        self.failed = True
        message = self.message
        if not message[:1].isupper():
            message = f"counterbalance_errors {message}"
        logger.error(message, *self.args, exc_info=exc)
        return True
