"""``problem_details``: RFC 9457 Problem Details for HTTP APIs."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from counterbalance_errors import conf
from counterbalance_errors.catalog import CATALOG, ApiError, make
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

    ``type`` is the URI of the error's code when ``PROBLEM_TYPE_URI`` is set (a template with
    ``{code}``), else ``about:blank`` (the status says what kind of problem it is); ``title`` is
    the status phrase, ``detail`` the message, ``instance`` the request path. Extension
    members: ``code`` (the stable code), ``errors`` (validation details) and ``logging_hash``
    (logged errors; also in ``X-Counterbalance-Log-Hash``). Override :meth:`problem_type` for
    another scheme.
    """

    name = "problem_details"
    document = "RFC 9457 (Problem Details for HTTP APIs)"
    content_type = "application/problem+json"
    schema_name = "ProblemDetails"
    hash_key = "logging_hash"

    def problem_type(self, error: ApiError) -> str:
        template = conf.get("PROBLEM_TYPE_URI")
        return "about:blank" if template is None else str(template).replace("{code}", error.code)

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
            body[self.hash_key] = logging_hash
        return body

    def body_schema(self) -> dict[str, Any] | None:
        return {
            "type": "object",
            "properties": {
                "type": self._type_schema(),
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

    def error_fields(
        self, body: Any, headers: Mapping[str, str]
    ) -> tuple[str | None, str, list[Any]]:
        return body["code"], str(body["detail"]), list(body.get("errors", []))

    def _type_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "string",
            "format": "uri-reference",
            "description": "A URI reference that identifies the problem type (RFC 9457).",
        }
        if conf.get("PROBLEM_TYPE_URI") is not None:
            # One type per catalog code (PROBLEM_TYPE_URI).
            schema["enum"] = sorted({self.problem_type(make(code)) for code in CATALOG})
        return schema
