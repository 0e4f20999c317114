"""A database router that sends ErrorLog's writes to the ``errors`` alias (tests/test_checks.py:
ISOLATED_DATABASE is compared with ErrorLog's database)."""

from __future__ import annotations

from typing import Any


class ErrorLogRouter:
    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "errors" if model._meta.label == "counterbalance_errors.ErrorLog" else None
