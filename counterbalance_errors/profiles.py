"""Profiles: how each documented API convention renders a canonical error.

A profile is the only place where conventions differ: status rules, body shape, content type,
header names, where the ``logging_hash`` goes and reason phrases. Pick one with
``COUNTERBALANCE_ERRORS["PROFILE"]`` (a built-in name or the dotted path of a subclass).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from counterbalance_errors import conf
from counterbalance_errors.catalog import ApiError

HASH_HEADER = "X-Counterbalance-Log-Hash"

_UNSAFE_HEADER_CHARS = re.compile(r"[^\x20-\x7e]")


def header_value(value: object, limit: int = 512) -> str:
    """A header-safe value: printable ASCII only (no CR/LF, no control or non-ASCII bytes)."""
    return _UNSAFE_HEADER_CHARS.sub("", str(value))[:limit].strip()


@dataclass(frozen=True, slots=True)
class Rendered:
    """An error as a profile answers it: everything a response needs."""

    status: int
    content: bytes
    content_type: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None


class Profile:
    """Base profile: canonical statuses, a JSON body, the hash in a header.

    Override the small methods below; :meth:`render` puts them together.
    """

    name: ClassVar[str] = ""
    #: Content type of error bodies.
    content_type: ClassVar[str] = "application/json"
    #: Header that carries the logging_hash of logged errors (None: no header).
    hash_header: ClassVar[str | None] = HASH_HEADER
    #: 4xx statuses the profile's document lists; None means every canonical status.
    documented_statuses: ClassVar[frozenset[int] | None] = None
    #: Status used for an undocumented 4xx when strict.
    fallback_status: ClassVar[int] = 400

    def status(self, error: ApiError) -> int:
        """The status to answer with (SPEC §5 status rules)."""
        if self.documented_statuses is None or not conf.strict_statuses():
            return error.status
        if error.status >= 500 or error.status in self.documented_statuses:
            return error.status
        return self.fallback_status

    def reason(self, error: ApiError, status: int) -> str | None:
        """The HTTP reason phrase; None keeps the standard one."""
        return None

    def body(self, error: ApiError, status: int, logging_hash: str | None) -> Any:
        """The JSON-serialisable error body, or None for no body."""
        raise NotImplementedError

    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        headers = {name: header_value(value) for name, value in error.headers.items()}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        if logging_hash and self.hash_header:
            headers[self.hash_header] = logging_hash
        return headers

    def response_headers(
        self, request: HttpRequest | None, response: HttpResponseBase
    ) -> dict[str, str]:
        """Headers added to every response, success or error."""
        return {}

    def render(self, error: ApiError, logging_hash: str | None) -> Rendered:
        status = self.status(error)
        body = self.body(error, status, logging_hash)
        content = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        reason = self.reason(error, status)
        return Rendered(
            status=status,
            content=content,
            content_type=None if body is None else self.content_type,
            headers=self.error_headers(error, status, logging_hash),
            reason=None if reason is None else header_value(reason, 128),
        )


def error_object(error: ApiError) -> dict[str, Any]:
    """``{"code", "message", "details"?}``: the inner error object several documents share."""
    inner: dict[str, Any] = {"code": error.code, "message": str(error.message)}
    if error.details:
        inner["details"] = [d.as_dict() for d in error.details]
    return inner


class CounterbalanceProfile(Profile):
    """``000_a390d41408d3e217.txt``: documented statuses only, hash in body and header."""

    name = "counterbalance"
    documented_statuses = frozenset({400, 401, 403, 404, 409})
    node_header: ClassVar[str] = "X-Counterbalance-Compute-Node"

    def status(self, error: ApiError) -> int:
        if conf.strict_statuses():
            # The document: an unknown endpoint "is a 400"; throttling answers 503.
            if error.code == "EndpointNotFound":
                return 400
            if error.code == "RequestThrottled":
                return 503
        return super().status(error)

    def body(self, error: ApiError, status: int, logging_hash: str | None) -> Any:
        body: dict[str, Any] = {"error": error_object(error)}
        if logging_hash:
            body["logging_hash"] = logging_hash
        return body

    def response_headers(
        self, request: HttpRequest | None, response: HttpResponseBase
    ) -> dict[str, str]:
        return {self.node_header: header_value(conf.compute_node())}


BUILTIN: dict[str, type[Profile]] = {
    CounterbalanceProfile.name: CounterbalanceProfile,
}


@functools.lru_cache(maxsize=8)
def _load(name: str) -> Profile:
    cls = BUILTIN.get(name) or import_string(name)
    if not (isinstance(cls, type) and issubclass(cls, Profile)):
        raise TypeError(f"{name} is not a counterbalance_errors Profile subclass")
    return cls()


def get_profile() -> Profile:
    """The active profile; the default one when the setting cannot be loaded (see checks)."""
    try:
        return _load(conf.profile_name())
    except (ImportError, TypeError, ValueError):
        return _load(conf.DEFAULTS["PROFILE"])
