"""``cloudapi``: the CloudAPI "HTTP responses" document."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from django.http import HttpResponse, HttpResponseBase

from counterbalance_errors import conf
from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles.base import (
    Profile,
    RenderContext,
    header_value,
    message_with_details,
    string_header,
)

#: The document's own code table.
DOCUMENTED_CODES = (
    "BadRequest",
    "InternalError",
    "InUseError",
    "InvalidArgument",
    "InvalidCredentials",
    "InvalidHeader",
    "InvalidVersion",
    "MissingParameter",
    "NotAuthorized",
    "RequestThrottled",
    "RequestTooLarge",
    "RequestMoved",
    "ResourceNotFound",
    "UnknownError",
)


class CloudApiProfile(Profile):
    """``002_b0a0a10fb68d53b3.txt``: ``{"code", "message"}`` and the CloudAPI headers.

    Every response has ``Request-Id``, ``Response-Time`` (ms) and ``Api-Version`` (when set),
    each with its ``X-`` twin, and ``Content-MD5`` when there is a body. A logged error's
    ``Request-Id`` is its logging hash. Statuses are the canonical ones, except throttling
    (420 "Slow Down") and an invalid version (449 "Retry With"); a 4xx the document does not
    list (422) answers 400.
    """

    name = "cloudapi"
    document = "002_b0a0a10fb68d53b3.txt (CloudAPI: HTTP responses)"
    hash_header = "Request-Id"
    documented_statuses = frozenset({400, 401, 403, 404, 405, 406, 409, 413, 415, 420, 449})
    code_statuses = {"RequestThrottled": 420, "InvalidVersion": 449}
    # The document's names, whatever Python calls them (3.13 renamed 413 "Content Too Large").
    reason_phrases = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        406: "Not Acceptable",
        409: "Conflict",
        413: "Request Entity Too Large",
        415: "Unsupported Media Type",
        420: "Slow Down",
        449: "Retry With",
        503: "Service Unavailable",
    }
    schema_name = "CloudApiError"
    #: Canonical codes the document calls otherwise.
    code_names = {"EndpointNotFound": "ResourceNotFound"}

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        code = self.code_names.get(error.code, error.code) if conf.strict_statuses() else error.code
        return {"code": code, "message": message_with_details(error)}

    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        headers = super().error_headers(error, status, logging_hash)
        if logging_hash:
            headers["X-Request-Id"] = logging_hash
        return headers

    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        # A logged error's id is its hash; an id already set (by error_headers, or by the view
        # itself) is kept.
        rid = ctx.logging_hash or response.get("Request-Id") or ctx.request_id
        elapsed = str(ctx.response_time_ms())
        headers = {
            "Request-Id": header_value(rid),
            "X-Request-Id": header_value(rid),
            "Response-Time": elapsed,
            "X-Response-Time": elapsed,
        }
        version = conf.get("API_VERSION")
        if version:
            headers["Api-Version"] = headers["X-Api-Version"] = header_value(version)
        if isinstance(response, HttpResponse) and response.content:
            digest = hashlib.md5(response.content, usedforsecurity=False).digest()
            headers["Content-MD5"] = base64.b64encode(digest).decode("ascii")
        return headers

    def body_schema(self) -> dict[str, Any] | None:
        return {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "One of: " + ", ".join(DOCUMENTED_CODES) + ".",
                },
                "message": {"type": "string", "description": "Human readable string."},
            },
            "required": ["code", "message"],
            "additionalProperties": False,
        }

    def header_docs(self) -> dict[str, dict[str, Any]]:
        docs: dict[str, dict[str, Any]] = {}
        for prefix in ("", "X-"):
            docs[f"{prefix}Request-Id"] = string_header(
                "A unique id for this request (a logged error's logging hash); you should log this"
            )
            docs[f"{prefix}Response-Time"] = string_header(
                "How long the server took to process your request (ms)", "^[0-9]+$"
            )
            if conf.get("API_VERSION"):
                docs[f"{prefix}Api-Version"] = string_header(
                    "The exact version of the API server you spoke with"
                )
        docs["Content-MD5"] = string_header(
            "An MD5 checksum of the response (base64); present when there is content",
            "^[A-Za-z0-9+/]{22}==$",
            required=False,
        )
        return docs
