"""``reason_phrase``: the "Responses" document whose errors have no body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles.base import (
    Profile,
    RenderContext,
    ascii_text,
    message_with_details,
    string_header,
)

#: Header that carries the message (the document's name for it).
PHRASE_HEADER = "EB-REASON-PHRASE"
PHRASE_HEADER_LIMIT = 512
REASON_LIMIT = 128


class ReasonPhraseProfile(Profile):
    """``003_eef0400e425f9fcf.txt``: no body; the message is the reason phrase.

    "An unsuccessful response DOES NOT HAVE body. An ASCII error message truncated to 512
    symbols passed as EB-REASON-PHRASE header and truncated to 128 symbols passed as Reason
    Phrase." Validation errors answer 422, the other 4xx the document does not list answer 400;
    the logging hash is in ``X-Counterbalance-Log-Hash``. ASGI servers (and HTTP/2) do not send
    reason phrases: there the header is the only place the message reaches the client.
    """

    name = "reason_phrase"
    document = "003_eef0400e425f9fcf.txt (v2 REST: Responses)"
    documented_statuses = frozenset({400, 401, 403, 404, 422})
    code_statuses = {"InvalidArgument": 422, "MissingParameter": 422}
    schema_name = "ReasonPhraseError"
    reads_render_context = False  # only the logging_hash, which a reused answer lacks
    browser_headers = (PHRASE_HEADER,)

    def reason(self, error: ApiError, status: int) -> str | None:
        return ascii_text(message_with_details(error), REASON_LIMIT) or None

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        return None

    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        headers = super().error_headers(error, status, logging_hash)
        headers[PHRASE_HEADER] = ascii_text(message_with_details(error), PHRASE_HEADER_LIMIT)
        return headers

    def shown_code(self, code: str) -> str | None:
        return None  # no body

    def error_fields(
        self, body: Any, headers: Mapping[str, str]
    ) -> tuple[str | None, str, list[Any]]:
        if body is not None:
            raise ValueError("an error has no body")
        return None, headers[PHRASE_HEADER], []

    def body_schema(self) -> dict[str, Any] | None:
        return None

    def error_header_docs(self) -> dict[str, dict[str, Any]]:
        return {
            PHRASE_HEADER: string_header(
                "ASCII error message, at most 512 characters (the reason phrase has the first 128)",
                "^[\\x20-\\x7e]{0,512}$",
            )
        }
