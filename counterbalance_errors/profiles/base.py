"""The :class:`Profile` base class and the helpers every profile shares.

A profile turns a canonical :class:`~counterbalance_errors.catalog.ApiError` into what one
published convention says an error looks like (status, reason phrase, body, content type,
headers), adds that convention's headers to every response, and describes its error body for
the OpenAPI schema. It is the only place where conventions differ.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from django.http import HttpResponseBase

from counterbalance_errors import conf
from counterbalance_errors.catalog import ApiError, truncate

#: The default header that carries the logging_hash of logged errors.
HASH_HEADER = "X-Counterbalance-Log-Hash"

_UNSAFE_HEADER_CHARS = re.compile(r"[^\x20-\x7e]")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
HASH_PATTERN = "^[0-9a-f]{40}$"


#: ``json.dumps(body, ensure_ascii=False, separators=(",", ":"))`` as a list of chunks.
#: ``JSONEncoder.encode`` builds a new C encoder (and a dict of markers) on every call; the error
#: bodies are trees we build, so one C encoder without the circular check serves all of them
#: (docs/performance.md). Without the C accelerator, the pure-Python encoder.
_json_chunks: Callable[[Any, int], list[str]] = (
    c_make_encoder(
        None, json.JSONEncoder().default, encode_basestring, None, ":", ",", False, False, True
    )
    if c_make_encoder is not None
    else lambda body, _: [json.dumps(body, ensure_ascii=False, separators=(",", ":"))]
)

#: orjson's ``dumps``, which writes the same compact UTF-8 JSON as :data:`_json_chunks` in about
#: a seventh of the time: encoding was a fifth of answering a validation 400
#: (docs/performance.md). A dependency on CPython (pyproject.toml); None where it is not
#: installed (PyPy), and the standard library's encoder does the work.
_fast_dumps: Callable[[Any], bytes] | None
try:
    from orjson import dumps as _fast_dumps
except ImportError:  # pragma: no cover - PyPy, or installed without its dependencies
    _fast_dumps = None


def header_value(value: object, limit: int = 512) -> str:
    """A header-safe value: printable ASCII only (no CR/LF, no control or non-ASCII bytes)."""
    return _UNSAFE_HEADER_CHARS.sub("", str(value))[:limit].strip()


@functools.lru_cache(maxsize=8)
def _node_header_value(node: str) -> str:
    return header_value(node)


def compute_node_header() -> str:
    """The compute node as a header value, sanitised once per configured name: it goes on
    every response, success included (docs/performance.md)."""
    return _node_header_value(conf.compute_node())


def ascii_text(value: object, limit: int) -> str:
    """``value`` as printable ASCII of at most ``limit`` characters.

    Accented letters lose their accents (NFKD), other non-ASCII characters are dropped, tabs
    and line breaks become spaces and other control characters are removed, so the result is
    safe as a header value and as an HTTP reason phrase (Django 5.2 does not check the latter).
    """
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = _CONTROL_CHARS.sub("", _LINE_BREAKS.sub(" ", text))
    return text.strip()[:limit].rstrip()


def message_with_details(error: ApiError) -> str:
    """The message, followed by each validation problem, for bodies without a details list."""
    message = str(error.message)
    if error.details:
        problems = "; ".join(f"{d.field}: {d.message}" for d in error.details)
        message = f"{message} {problems}"
    return truncate(message)


def error_object(error: ApiError) -> dict[str, Any]:
    """``{"code", "message", "details"?}``: the inner error object several documents share."""
    inner: dict[str, Any] = {"code": error.code, "message": str(error.message)}
    if error.details:
        inner["details"] = [
            {"field": name, "code": code, "message": message}
            for name, code, message in error.details
        ]
    return inner


#: Bytes :func:`random_hex` reads from the operating system at a time.
RANDOM_BLOCK = 4096
_random_pools: defaultdict[int, list[str]] = defaultdict(list)


def random_hex(nbytes: int) -> str:
    """``os.urandom(nbytes).hex()``, handed out from a per-process pool read RANDOM_BLOCK bytes
    at a time: the same randomness, one system call per about 200 logging hashes.

    ``os.urandom`` releases the GIL: a request thread that calls it while the recorder's
    writer is runnable waits for the interpreter to come back (docs/performance.md). A forked
    process starts with an empty pool, so no two processes hand out the same value.
    """
    pool = _random_pools[nbytes]
    while True:
        try:
            return pool.pop()
        except IndexError:  # another thread may empty the refilled pool first: try again
            text = os.urandom(RANDOM_BLOCK // nbytes * nbytes).hex()
            step = 2 * nbytes
            pool.extend([text[i : i + step] for i in range(0, len(text), step)])


os.register_at_fork(after_in_child=_random_pools.clear)


def new_request_id() -> str:
    """A new request id: 32 random hex characters (128 random bits, as a UUID4's hex)."""
    return random_hex(16)


class RenderContext(NamedTuple):
    """What a profile knows about the request it answers, never the request itself.

    ``request_id`` is computed on first use (and then the same for the whole request), so the
    success response of a profile that sends no request id computes none. A named tuple: one
    is made per rendered error, and a tuple costs a fraction of a frozen dataclass to make.
    """

    #: The logging_hash of the request's error, when it is logged.
    logging_hash: str | None = None
    #: The request's path (None: no request, e.g. the WSGI wrapper's envelope).
    path: str | None = None
    #: ``time.perf_counter()`` when ErrorEnvelopeMiddleware saw the request (None: it did not).
    started: float | None = None
    #: Gives the request id; the request's context passes its own, computed once.
    request_id_of: Callable[[], str] = new_request_id

    @property
    def request_id(self) -> str:
        """The request id: an incoming safe ``X-Request-Id``, else 32 random hex characters."""
        return self.request_id_of()

    def response_time_ms(self) -> int:
        """Milliseconds since the middleware saw the request (0 when it did not)."""
        if self.started is None:
            return 0
        return max(0, round((time.perf_counter() - self.started) * 1000))


class Rendered(NamedTuple):
    """An error as a profile answers it: everything a response needs (a named tuple, like
    :class:`RenderContext`)."""

    status: int
    content: bytes
    content_type: str | None
    headers: Mapping[str, str] = MappingProxyType({})
    reason: str | None = None


#: OpenAPI schemas shared by the profiles' error bodies.
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One validation problem.",
    "properties": {
        "field": {"type": "string", "description": "Dotted path, e.g. `items.0.email`."},
        "code": {"type": "string", "description": "DRF's error code, e.g. `required`."},
        "message": {"type": "string"},
    },
    "required": ["field", "code", "message"],
    "additionalProperties": False,
}
ERROR_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Stable error code, e.g. `ResourceNotFound`."},
        "message": {"type": "string", "description": "Client-safe, translated message."},
        "details": {"type": "array", "items": FIELD_ERROR_SCHEMA},
    },
    "required": ["code", "message"],
    "additionalProperties": False,
}


def string_header(
    description: str, pattern: str | None = None, *, required: bool = True
) -> dict[str, Any]:
    """An OpenAPI header object for a string header."""
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"description": description, "required": required, "schema": schema}


class Profile:
    """Base profile: canonical statuses, a JSON body, the hash in a header.

    Subclasses set the class attributes and override :meth:`body` (and, where their document
    says so, :meth:`status`, :meth:`reason`, :meth:`error_headers`, :meth:`response_headers`);
    :meth:`render` puts them together. ``docs/profiles.md`` shows a complete one.
    """

    name: ClassVar[str] = ""
    #: The published document the profile follows.
    document: ClassVar[str] = ""
    #: Content type of error bodies.
    content_type: ClassVar[str] = "application/json"
    #: Header that carries the logging_hash of logged errors (None: no header).
    hash_header: ClassVar[str | None] = HASH_HEADER
    #: Key of the logging_hash in the error body (None: the body does not carry it).
    hash_key: ClassVar[str | None] = None
    #: Further error headers browser code needs to read (W013 asks CORS to expose them, with
    #: the hash header and ``Retry-After``).
    browser_headers: ClassVar[tuple[str, ...]] = ()
    #: 4xx statuses the profile's document lists; None means every canonical status.
    documented_statuses: ClassVar[frozenset[int] | None] = None
    #: Status used for an undocumented 4xx when strict.
    fallback_status: ClassVar[int] = 400
    #: code → status the document assigns to it (strict mode only).
    code_statuses: ClassVar[Mapping[str, int]] = {}
    #: Reason phrases for statuses Python does not know (e.g. 420).
    reason_phrases: ClassVar[Mapping[int, str]] = {}
    #: Default request time budget in seconds (``TIME_BUDGET`` overrides it); None: none.
    time_budget: ClassVar[float | None] = None
    #: Name of the error body's schema component in OpenAPI.
    schema_name: ClassVar[str] = "Error"
    #: Whether :meth:`render` of an error without a logging_hash reads the render context
    #: (path, request id, start time). A class that declares it False in its own body (it is
    #: not inherited: a subclass that overrides a method declares it again) has its answers
    #: of unlogged errors without details reused per language and settings.
    reads_render_context: ClassVar[bool] = True

    # --- rendering an error ------------------------------------------------------------------

    def status(self, error: ApiError) -> int:
        """The status to answer with (SPEC §5 status rules); canonical unless strict."""
        if not conf.effective().values["STRICT_STATUSES"]:  # conf.strict_statuses(), inlined
            return error.status
        if error.code in self.code_statuses:
            return self.code_statuses[error.code]
        if self.documented_statuses is None:
            return error.status
        if error.status >= 500 or error.status in self.documented_statuses:
            return error.status
        return self.fallback_status

    def reason(self, error: ApiError, status: int) -> str | None:
        """The HTTP reason phrase; None keeps the standard one."""
        return self.reason_phrases.get(status)

    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        """The JSON-serialisable error body, or None for no body."""
        return {"error": error_object(error)}

    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        """Headers of an error response: the error's own, ``Retry-After``, the hash."""
        headers = (
            {name: header_value(value) for name, value in error.headers.items()}
            if error.headers
            else {}
        )
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        if logging_hash and self.hash_header:
            headers[self.hash_header] = logging_hash
        return headers

    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        """Headers added to every response, success or error. Keep it cheap: it runs on all."""
        return {}

    def static_response_headers(self) -> Mapping[str, str] | None:
        """:meth:`response_headers` when they depend on the settings alone, else None.

        The middleware then sets them on a success response without building a render context
        (docs/performance.md). None, the default: ``response_headers()`` on every response.
        """
        return None

    def encode(self, body: Any) -> bytes:
        if _fast_dumps is not None:
            try:
                return _fast_dumps(body)
            except TypeError:  # orjson.JSONEncodeError: what orjson refuses, see below
                pass
        # The standard library's encoder takes what orjson refuses: a lone surrogate (a
        # client's "\ud800" echoed in a message) becomes that same JSON escape again instead of
        # failing to encode (SPEC §4: any input keeps its hash), an integer beyond 64 bits, a
        # key that is not a string (a custom profile's body).
        return "".join(_json_chunks(body, 0)).encode("utf-8", "backslashreplace")

    def render(self, error: ApiError, ctx: RenderContext) -> Rendered:
        """``error`` as this profile answers it (pure: it reads nothing but its arguments)."""
        status = self.status(error)
        body = self.body(error, status, ctx.logging_hash, ctx)
        reason = self.reason(error, status)
        return Rendered(
            status=status,
            content=b"" if body is None else self.encode(body),
            content_type=None if body is None else self.content_type,
            headers=self.error_headers(error, status, ctx.logging_hash),
            reason=None if reason is None else ascii_text(reason, 128),
        )

    # --- time budget ---------------------------------------------------------------------------

    def budget(self) -> float | None:
        """Seconds a request may take (``TIME_BUDGET``, else the profile's); None: no limit."""
        configured = conf.get("TIME_BUDGET")
        seconds = self.time_budget if configured is None else configured
        return float(seconds) if seconds else None

    # --- OpenAPI -------------------------------------------------------------------------------

    def body_schema(self) -> dict[str, Any] | None:
        """OpenAPI 3 schema of the error body (None: errors have no body)."""
        return {
            "type": "object",
            "properties": {"error": ERROR_OBJECT_SCHEMA},
            "required": ["error"],
            "additionalProperties": False,
        }

    def header_docs(self) -> dict[str, dict[str, Any]]:
        """OpenAPI header objects for the headers :meth:`response_headers` adds."""
        return {}

    def error_header_docs(self) -> dict[str, dict[str, Any]]:
        """OpenAPI header objects for headers every error response carries."""
        return {}

    # --- reading an error back (counterbalance_errors.testing) ----------------------------

    def shown_code(self, code: str) -> str | None:
        """The code a response of catalog ``code`` shows (None: the document shows none)."""
        return code

    def error_fields(
        self, body: Any, headers: Mapping[str, str]
    ) -> tuple[str | None, str, list[Any]]:
        """(code, message, details) of an error body of this profile; raise ``ValueError``
        when ``body`` is not one."""
        inner = body["error"] if isinstance(body, dict) else None
        if not isinstance(inner, dict) or not isinstance(inner.get("code"), str):
            raise ValueError("not a {'error': {'code', 'message'}} body")
        return inner["code"], str(inner.get("message", "")), list(inner.get("details", []))

    def read_error(self, status: int, headers: Mapping[str, str], content: bytes) -> ErrorReading:
        """What an error response of this profile says, read back from the wire.

        Raises ``AssertionError`` when it is not this profile's error, or when its body and
        header disagree on the logging_hash.
        """
        body = None
        if content:
            assert self.content_type in headers.get("Content-Type", ""), (
                f"{self.name or type(self).__name__}: not an error body: "
                f"{headers.get('Content-Type')!r}"
            )
            body = json.loads(content)
        try:
            code, message, details = self.error_fields(body, headers)
        except (KeyError, TypeError, ValueError) as exc:
            raise AssertionError(f"not a {self.name or type(self).__name__} error: {body}") from exc
        in_header = headers.get(self.hash_header) if self.hash_header else None
        in_body = body.get(self.hash_key) if self.hash_key and body else None
        if in_header and self.hash_key:
            assert in_body == in_header, f"hash: body {in_body!r}, header {in_header!r}"
        logging_hash = in_body or in_header
        if logging_hash is not None and not re.fullmatch(HASH_PATTERN[1:-1], logging_hash):
            logging_hash = None  # e.g. cloudapi's Request-Id of an error that is not logged
        return ErrorReading(status, code, message, details, logging_hash)


@dataclass(frozen=True, slots=True)
class ErrorReading:
    """An error response read back by its profile (:meth:`Profile.read_error`)."""

    status: int
    #: The code the response shows (None: the profile's document shows none).
    code: str | None
    message: str
    details: list[Any]
    logging_hash: str | None
