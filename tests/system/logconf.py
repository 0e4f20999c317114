"""A logging handler writing one JSON object per line, for the system tests to parse.

Each line is one ``write()`` on a file opened with ``O_APPEND``, so the lines of several
gunicorn workers sharing the file never interleave.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

#: Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JSONLinesHandler(logging.Handler):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            line: dict[str, Any] = {
                "logger": record.name,
                "level": record.levelname,
                "message": record.getMessage(),
                "pid": record.process,
                "extra": extra,
            }
            os.write(self.fd, (json.dumps(line, default=str) + "\n").encode())
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        super().close()
