"""``counterbalance``: the Counterbalance "Responses & Errors" document (the default)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpResponseBase

from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles.base import (
    ERROR_OBJECT_SCHEMA,
    HASH_PATTERN,
    Profile,
    RenderContext,
    compute_node_header,
    error_object,
    string_header,
)


class CounterbalanceProfile(Profile):
    """``000_a390d41408d3e217.txt``: documented statuses only, hash in body and header.

    400, 401, 403, 404, 409 and 5xx. Undocumented 4xx answer 400 with their specific code; an
    unknown endpoint "is a 400" in that document; throttling answers 503 with ``Retry-After``.
    """

    name = "counterbalance"
    document = "000_a390d41408d3e217.txt (Counterbalance: Responses & Errors)"
    documented_statuses = frozenset({400, 401, 403, 404, 409})
    code_statuses = {"EndpointNotFound": 400, "RequestThrottled": 503}
    schema_name = "CounterbalanceError"
    reads_render_context = False  # only the logging_hash, which a reused answer lacks
    node_header: ClassVar[str] = "X-Counterbalance-Compute-Node"
    #: Body key of the logging hash.
    hash_key: ClassVar[str] = "logging_hash"

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        body: dict[str, Any] = {"error": error_object(error)}
        if logging_hash:
            body[self.hash_key] = logging_hash
        return body

    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        return {self.node_header: compute_node_header()}

    def static_response_headers(self) -> dict[str, str] | None:
        if type(self).response_headers is not CounterbalanceProfile.response_headers:
            return None  # a subclass computes its own per response
        return {self.node_header: compute_node_header()}

    def body_schema(self) -> dict[str, Any] | None:
        return {
            "type": "object",
            "properties": {
                "error": ERROR_OBJECT_SCHEMA,
                self.hash_key: {
                    "type": "string",
                    "pattern": HASH_PATTERN,
                    "description": "Present for logged errors; quote it to support.",
                },
            },
            "required": ["error"],
            "additionalProperties": False,
        }

    def header_docs(self) -> dict[str, dict[str, Any]]:
        return {self.node_header: string_header("The API container that processed this request")}
