"""``numeric``: the "Response status codes" document with numeric codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles.base import Profile, RenderContext, message_with_details


class NumericProfile(Profile):
    """``004_d15f4337de2c0e2c.txt``: ``{"code": 404, "message": "..."}``.

    Statuses 400, 401, 404, 405, 406 (its 406 means "Required fields are missing") and 503
    with ``Retry-After`` (clients back off exponentially). Other 4xx answer 400 (so a
    ``NotAcceptable`` is a 400 here, not a 406); throttling answers 503, the document's
    "retry later" status. 5xx keep their status.
    """

    name = "numeric"
    document = "004_d15f4337de2c0e2c.txt (Response status codes)"
    documented_statuses = frozenset({400, 401, 404, 405, 406})
    code_statuses = {
        "MissingParameter": 406,
        "NotAcceptable": 400,
        "RequestThrottled": 503,
    }
    schema_name = "NumericError"
    reads_render_context = False  # only the logging_hash, which a reused answer lacks

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        return {"code": status, "message": message_with_details(error)}

    def shown_code(self, code: str) -> str | None:
        return None  # the body's code is the status

    def error_fields(
        self, body: Any, headers: Mapping[str, str]
    ) -> tuple[str | None, str, list[Any]]:
        if not isinstance(body["code"], int):
            raise TypeError("code is not a status")
        return None, str(body["message"]), []

    def body_schema(self) -> dict[str, Any] | None:
        return {
            "type": "object",
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status code."},
                "message": {"type": "string"},
            },
            "required": ["code", "message"],
            "additionalProperties": False,
        }
