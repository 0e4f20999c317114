"""``problem_details``: RFC 9457 Problem Details for HTTP APIs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles.base import (
    FIELD_ERROR_SCHEMA,
    HASH_PATTERN,
    Profile,
    RenderContext,
)


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemDetailsProfile(Profile):
    """RFC 9457: ``application/problem+json`` with canonical statuses.

    ``type`` is ``about:blank`` (the status says what kind of problem it is), so ``title`` is
    the status phrase; ``detail`` is the message, ``instance`` the request path. Extension
    members: ``code`` (the stable code), ``errors`` (validation details) and ``logging_hash``
    (logged errors; also in ``X-Counterbalance-Log-Hash``). Override :meth:`problem_type` to
    give each code a URI of your own.
    """

    name = "problem_details"
    document = "RFC 9457 (Problem Details for HTTP APIs)"
    content_type = "application/problem+json"
    schema_name = "ProblemDetails"

    def problem_type(self, error: ApiError) -> str:
        return "about:blank"

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        body: dict[str, Any] = {
            "type": self.problem_type(error),
            "title": status_phrase(status),
            "status": status,
            "detail": str(error.message),
        }
        if ctx.path is not None:
            body["instance"] = ctx.path
        body["code"] = error.code
        if error.details:
            body["errors"] = [d.as_dict() for d in error.details]
        if logging_hash:
            body["logging_hash"] = logging_hash
        return body

    def body_schema(self) -> dict[str, Any] | None:
        return {
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "A URI reference (RFC 9457)."},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "code": {"type": "string", "description": "Stable error code."},
                "errors": {"type": "array", "items": FIELD_ERROR_SCHEMA},
                "logging_hash": {"type": "string", "pattern": HASH_PATTERN},
            },
            "required": ["type", "title", "status", "detail", "code"],
        }
