"""From a request and its error to a scrubbed :class:`Record`: the only reader of the request
for storage. Two phases:

* :func:`snapshot`, on the request thread, reads only what must be read while the request and
  the exception are alive, as bounded copies: the request line, query, headers and body (with
  ``sensitive_post_parameters`` applied), the user id, the exception's frames (without their
  source lines), the locals of the project's frames when ``CAPTURE_LOCALS`` is on (with
  ``sensitive_variables`` applied: Django's filter needs the live frames), the grouping parts,
  and the trace and Sentry ids;
* :meth:`Snapshot.build`, wherever the recorder runs it, formats and scrubs that copy into the
  :class:`Record` it writes. It never touches the request.

When an error gets its ``logging_hash`` (:func:`counterbalance_errors.context.attach`), nothing
is captured yet: the view may still be inside its ``ATOMIC_REQUESTS`` transaction, which is
about to roll back. The error is captured, and handed to :func:`recorder.submit`, once per hash
(:func:`record`), after that transaction:

* by ``ErrorEnvelopeMiddleware`` once the whole response is finished (the usual case: the
  request's context is ``deferred``);
* without the middleware, by the entry point that answers the error (the URLconf error views,
  the ``got_request_exception`` receiver, which Django calls after the view's transaction has
  exited, the WSGI/ASGI wrappers).

Nothing here raises into the request.
"""

from __future__ import annotations

import json
import reprlib
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connections
from django.http import HttpRequest, QueryDict, RawPostDataException
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.functional import empty
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Empty

from counterbalance_errors import conf, context, observability, recorder
from counterbalance_errors.context import NOT_PARSED, RequestContext
from counterbalance_errors.fingerprints import (
    fingerprint_of,
    fingerprint_parts,
    frame_name,
    is_in_app,
    qualified_name,
)
from counterbalance_errors.guard import guarded
from counterbalance_errors.logs import fallback
from counterbalance_errors.scrubbing import (
    FILTERED,
    MAX_ITEMS,
    MAX_STRING,
    TRUNCATED,
    Scrubber,
    storable,
    storable_text,
)

MAX_EXCEPTION_MESSAGE = 2000
MAX_TRACEBACK = 64_000
MAX_MESSAGE = 1000
MAX_LOCALS_FRAMES = 10
MAX_LOCALS_PER_FRAME = 30
MAX_PATH = 2000
MAX_HEADER_VALUE = 1000
#: Query pairs copied from the request (Django's DATA_UPLOAD_MAX_NUMBER_FIELDS is 1000).
MAX_QUERY_PAIRS = 1000

T = TypeVar("T")


class ReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, active with ``DEBUG`` on too, so ``sensitive_post_parameters`` and
    ``sensitive_variables`` always hold for stored errors."""

    cleansed_substitute = FILTERED

    def is_active(self, request: HttpRequest | None) -> bool:
        return True


@dataclass(slots=True)
class Record:
    """Everything stored about one logged error, already scrubbed."""

    logging_hash: str
    created: datetime
    status: int
    code: str
    fingerprint: str
    message: str = ""
    details: list[Any] = field(default_factory=list)
    exception_class: str = ""
    exception_message: str = ""
    traceback: str = ""
    frame_locals: list[Any] = field(default_factory=list)
    method: str = ""
    path: str = ""
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    user_id: str = ""
    compute_node: str = ""
    request_id: str = ""
    trace_id: str = ""
    sentry_event_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created"] = self.created.isoformat()
        return data


def _attempt(default: T, build: Callable[[], T]) -> T:
    """One part of a snapshot or record; a part that cannot be made is left out, never raised."""
    try:
        return build()
    except Exception:
        return default


def scrub_terms() -> tuple[str, ...]:
    """``SCRUB_KEYS`` and the names of Django's session and CSRF cookies and header."""
    names = ("SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "CSRF_HEADER_NAME")
    custom = [str(getattr(settings, name, "") or "") for name in names]
    return (*conf.get("SCRUB_KEYS"), *custom)


def sensitive_post_names(
    request: HttpRequest | None, drf_data: Any = NOT_PARSED
) -> tuple[str, ...]:
    """The names ``sensitive_post_parameters`` hides, as scrub keys of the whole record
    (validation details, captured locals); with no names given, every name of the parsed body.
    """
    sensitive = getattr(request, "sensitive_post_parameters", None)
    if not sensitive:
        return ()
    if sensitive != "__ALL__":
        return tuple(str(name) for name in sensitive)[:MAX_ITEMS]
    names: list[str] = []
    for parsed in (drf_data, request.__dict__.get("_post") if request is not None else None):
        if isinstance(parsed, (dict, MultiValueDict)):
            names.extend(str(key)[:200] for key in list(parsed)[:MAX_ITEMS])
    return tuple(names)


# --- the traceback and the locals ----------------------------------------------------------


def traceback_summary(exception: BaseException) -> traceback.TracebackException:
    """The exception chain's frames and messages, without source lines (read when formatting)."""
    return traceback.TracebackException.from_exception(
        exception, capture_locals=False, lookup_lines=False
    )


def format_traceback(
    exception: BaseException | traceback.TracebackException, scrubber: Scrubber
) -> str:
    """The traceback text with every exception message of the chain scrubbed and capped.

    Source lines are kept as they are; only messages (and notes) carry request data.
    """
    te = (
        exception
        if isinstance(exception, traceback.TracebackException)
        else traceback_summary(exception)
    )
    pending = [te]  # TracebackException already breaks cycles in the chain
    scrub_all = False
    while pending:
        current = pending.pop()
        message = getattr(current, "_str", None)
        if isinstance(message, str):
            current._str = scrubber.scrub_text(message, MAX_EXCEPTION_MESSAGE)  # type: ignore[attr-defined]
        else:  # pragma: no cover - a Python whose TracebackException has no _str
            scrub_all = True
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [scrubber.scrub_text(str(n), 500) for n in notes]
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
        pending.extend(getattr(current, "exceptions", None) or ())
    text = "".join(te.format())
    if scrub_all:  # pragma: no cover - see above
        text = scrubber.scrub_text(text, None)
    if len(text) > MAX_TRACEBACK:
        # The end (the frame that raised, the message) matters most.
        text = TRUNCATED + text[-MAX_TRACEBACK:]
    return text


_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200


def _safe_repr(value: Any) -> str:
    try:
        return _repr.repr(value)
    except Exception:
        return "<unrepresentable>"


_CONTAINERS = (dict, list, tuple, set, frozenset)


def local_text(value: Any, scrubber: Scrubber) -> str:
    """The bounded repr of a local, not scrubbed as text yet: a dict, list, tuple, set or
    MultiValueDict (a QueryDict) is scrubbed by key first and represented afterwards, a
    request without its query string (percent-encoded, ``password%3D…`` escapes the text
    scrubber; the query has its own column)."""
    http_request = getattr(value, "_request", value)  # a DRF Request wraps a Django one
    if isinstance(http_request, HttpRequest):
        method = str(http_request.method or "")[:16]
        return f"<{type(value).__name__}: {method} {http_request.path[:MAX_PATH]!r}>"
    if isinstance(value, MultiValueDict):
        scrubbed = scrubber.scrub(dict(value.lists()), max_depth=6, max_nodes=300)
        return f"<{type(value).__name__}: {_safe_repr(scrubbed)}>"
    if isinstance(value, _CONTAINERS):
        scrubbed = scrubber.scrub(value, max_depth=6, max_nodes=300)
        if isinstance(value, tuple) and isinstance(scrubbed, list):
            scrubbed = tuple(scrubbed)
        return _safe_repr(scrubbed)
    return _safe_repr(value)


def read_frame_locals(
    exception: BaseException, request: HttpRequest | None, scrubber: Scrubber
) -> list[dict[str, Any]]:
    """The locals of in-app frames as bounded text, ``sensitive_variables`` and sensitive
    names hidden (read while the frames are alive; :func:`scrub_frame_locals` finishes them)."""
    reporter = ReporterFilter()
    captured: list[dict[str, Any]] = []
    for frame, lineno in traceback.walk_tb(exception.__traceback__):
        if not is_in_app(frame):
            continue
        variables: dict[str, str] = {}
        for name, value in list(reporter.get_traceback_frame_variables(request, frame)):
            if len(variables) >= MAX_LOCALS_PER_FRAME:
                variables[TRUNCATED] = "more variables"
                break
            if value == FILTERED or scrubber.is_sensitive(name):
                variables[name] = FILTERED
            else:
                variables[name] = local_text(value, scrubber)
        captured.append({"frame": frame_name(frame), "line": lineno, "vars": variables})
    return captured[-MAX_LOCALS_FRAMES:]


def scrub_frame_locals(frames: list[dict[str, Any]], scrubber: Scrubber) -> list[dict[str, Any]]:
    return [
        {
            **frame,
            "vars": {
                name: value if value == FILTERED else scrubber.scrub_text(value, 400)
                for name, value in frame["vars"].items()
            },
        }
        for frame in frames
    ]


def frame_locals(
    exception: BaseException, request: HttpRequest | None, scrubber: Scrubber
) -> list[dict[str, Any]]:
    """Scrubbed reprs of the locals of in-app frames, honouring ``sensitive_variables``."""
    return scrub_frame_locals(read_frame_locals(exception, request, scrubber), scrubber)


# --- the request ---------------------------------------------------------------------------


def _user_id(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None:
        return ""
    if getattr(user, "_wrapped", None) is empty and any(
        c.in_atomic_block for c in connections.all(initialized_only=True)
    ):
        # Resolving it is a query, in a transaction that is not ours: a failure there would
        # break the caller's transaction. Outside transactions a failure only leaves it empty.
        return ""
    if not getattr(user, "is_authenticated", False):
        return ""
    return str(user.pk)[:255]


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _hide_post_parameters(data: Any, sensitive: Any) -> Any:
    """``sensitive_post_parameters`` applied to a JSON body's top-level keys."""
    if not sensitive or not isinstance(data, dict):
        return data
    if sensitive == "__ALL__":
        return dict.fromkeys(data, FILTERED)
    return {k: FILTERED if k in sensitive else v for k, v in data.items()}


@dataclass(slots=True)
class BodyCopy:
    """What was read of a request body; :meth:`value` makes it the stored value."""

    #: "none", "note" (``data`` is the note), "form" (pairs and files), "raw" (JSON bytes)
    #: or "parsed" (a DRF view's parsed data, already a scrubbed copy).
    kind: str
    data: Any = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    sensitive: Any = None

    def value(self, scrubber: Scrubber, limit: int) -> Any:
        if self.kind in ("none", "note"):
            return self.data
        if self.kind == "form":
            data: Any = scrubber.scrub_pairs(self.data)
            if self.files:
                data["[files]"] = {
                    name: {"name": scrubber.scrub_text(upload["name"], 200), "size": upload["size"]}
                    for name, upload in self.files.items()
                }
        elif self.kind == "raw":
            if not self.data:
                return None
            try:
                parsed = json.loads(self.data)
            except (ValueError, RecursionError):
                return "[not stored: not valid JSON]"
            data = scrubber.scrub(_hide_post_parameters(parsed, self.sensitive))
        else:
            data = self.data
        size = len(
            json.dumps(data, default=str, ensure_ascii=False).encode("utf-8", "backslashreplace")
        )
        if size > limit:
            return f"[not stored: over the {limit}-byte limit once parsed]"
        return data


def read_body(
    request: HttpRequest, scrubber: Scrubber, limit: int, drf_data: Any = NOT_PARSED
) -> BodyCopy:
    """A bounded copy of a JSON or form body no larger than ``limit`` bytes, else a note.

    Other content types are never stored: their bytes could not be scrubbed.
    """
    content_type = (request.content_type or "").lower()
    is_form = content_type in _FORM_TYPES
    if not (is_form or _is_json(content_type)) or limit == 0:
        return BodyCopy("none")
    length = _attempt(0, lambda: int(request.META.get("CONTENT_LENGTH") or 0))
    if length > limit:
        return BodyCopy("note", f"[not stored: {length} bytes, over the {limit}-byte limit]")
    sensitive = getattr(request, "sensitive_post_parameters", None)
    if isinstance(sensitive, (list, tuple, set, frozenset)):
        sensitive = frozenset(sensitive)
    if is_form:
        post: Any = ReporterFilter().get_post_parameters(request)
        files = {
            name: {"name": str(upload.name)[:201], "size": upload.size}
            for name, upload in request.FILES.items()
            if isinstance(upload, UploadedFile)
        }
        pairs = [(k, v) for k, values in post.lists() for v in values]
        return BodyCopy("form", pairs, files)
    if drf_data is not NOT_PARSED:
        # A live object the view may still hold: the scrubbed copy is the bounded copy.
        return BodyCopy("parsed", scrubber.scrub(_hide_post_parameters(drf_data, sensitive)))
    try:
        raw = request.body
    except RawPostDataException:
        return BodyCopy("note", "[not stored: the body was read as a stream]")
    if len(raw) > limit:
        return BodyCopy("note", f"[not stored: {len(raw)} bytes, over the {limit}-byte limit]")
    return BodyCopy("raw", bytes(raw), sensitive=sensitive)


def request_body(
    request: HttpRequest, scrubber: Scrubber, limit: int, drf_data: Any = NOT_PARSED
) -> Any:
    """The scrubbed body of a JSON or form request no larger than ``limit`` bytes, else a note."""
    return read_body(request, scrubber, limit, drf_data).value(scrubber, limit)


_VALIDATION_ERRORS = (DjangoValidationError, DRFValidationError)


def _details(details: list[dict[str, str]], scrubber: Scrubber, hide_all: bool) -> Any:
    """Validation details; a sensitive field's message may echo its value, so it is hidden
    (a field with a sensitive name in its path, every field under ``sensitive_post_parameters()``
    without names)."""
    for detail in details:
        path = str(detail["field"])
        if (
            hide_all
            or scrubber.is_sensitive(path)
            or any(map(scrubber.is_sensitive, path.split(".")))
        ):
            detail["message"] = FILTERED
    return scrubber.scrub(details)


def storable_record(record: Record) -> Record:
    """Every text of ``record`` as any database stores it: NUL and lone surrogates escaped
    (a client's ``%00`` or ``"\\ud800"`` must not cost the row)."""
    for item in fields(record):
        value = getattr(record, item.name)
        if isinstance(value, str):
            setattr(record, item.name, storable_text(value))
        elif isinstance(value, (dict, list, float)):  # the JSON columns (a body may be 1e999)
            setattr(record, item.name, storable(value))
    return record


# --- the two phases ------------------------------------------------------------------------


@dataclass(slots=True)
class Snapshot:
    """What :func:`snapshot` read on the request thread: plain, bounded values, not scrubbed
    yet (except what could only be scrubbed while it was read). :meth:`build` makes the
    :class:`Record`; it reads neither the request nor the exception."""

    logging_hash: str
    created: datetime
    status: int
    code: str
    exception_class: str = ""
    fingerprint_parts: tuple[str, ...] = ()
    message: str = ""
    details: list[dict[str, str]] = field(default_factory=list)
    exception_message: str = ""
    traceback: traceback.TracebackException | None = None
    frame_locals: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""
    path: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: BodyCopy | None = None
    user_id: str = ""
    request_id: str = ""
    trace_id: str = ""
    sentry_event_id: str = ""
    compute_node: str = ""
    # The settings in force on the request thread.
    scrub_terms: tuple[str, ...] = ()
    #: ``sensitive_post_parameters``: its names, and whether it named none (all are hidden).
    sensitive_names: tuple[str, ...] = ()
    all_sensitive: bool = False
    stored_headers: tuple[str, ...] = ()
    max_body_bytes: int = 0

    def bare(self) -> Record:
        """A minimal record (hash, time, status, code, exception class); never fails."""
        return Record(
            logging_hash=self.logging_hash,
            created=self.created,
            status=self.status,
            code=self.code,
            fingerprint="",
            exception_class=self.exception_class,
        )

    def build(self) -> Record:
        """The scrubbed record (never raises; a part that cannot be made stays empty)."""
        scrubber = _attempt(Scrubber(), self.scrubber)
        record = self.bare()
        record.fingerprint = _attempt("", lambda: fingerprint_of(self.fingerprint_parts))
        record.message = _attempt("", lambda: scrubber.scrub_text(self.message, MAX_MESSAGE))
        record.details = _attempt([], lambda: _details(self.details, scrubber, self.all_sensitive))
        record.compute_node = self.compute_node[:255]
        record.exception_message = _attempt(
            "", lambda: scrubber.scrub_text(self.exception_message, MAX_EXCEPTION_MESSAGE)
        )
        if self.traceback is not None:
            summary = self.traceback
            record.traceback = _attempt("", lambda: format_traceback(summary, scrubber))
        record.frame_locals = _attempt([], lambda: scrub_frame_locals(self.frame_locals, scrubber))
        record.method = self.method
        record.path = _attempt("", lambda: scrubber.scrub_text(self.path, MAX_PATH))
        record.query = _attempt({}, lambda: scrubber.scrub_pairs(self.query))
        record.headers = _attempt(
            {}, lambda: scrubber.scrub_headers(dict(self.headers), self.stored_headers)
        )
        if self.body is not None:
            body = self.body
            record.body = _attempt(
                "[not stored: unreadable]", lambda: body.value(scrubber, self.max_body_bytes)
            )
        record.user_id = self.user_id
        record.request_id = self.request_id[:255]
        record.trace_id = self.trace_id[:32]
        record.sentry_event_id = self.sentry_event_id[:32]
        return storable_record(record)

    def scrubber(self) -> Scrubber:
        return Scrubber(self.scrub_terms, self.sensitive_names)


def snapshot(request: HttpRequest | None, ctx: RequestContext) -> Snapshot:
    """Read what storing ``ctx``'s error needs while the request and the exception are alive.

    Bounded copies only; never raises (a part that cannot be read stays empty).
    """
    error = ctx.error
    if error is None or not ctx.logging_hash:
        raise ValueError("only an error with a logging_hash is captured")
    exception = error.exception
    snap = Snapshot(
        logging_hash=ctx.logging_hash,
        created=timezone.now(),
        status=error.status,
        code=error.code[:64],
        exception_class=qualified_name(type(exception))[:255] if exception is not None else "",
        request_id=_attempt("", lambda: ctx.request_id),
        trace_id=ctx.trace_id,
        sentry_event_id=ctx.sentry_event_id,
    )
    snap.scrub_terms = _attempt((), scrub_terms)
    snap.sensitive_names = _attempt((), lambda: sensitive_post_names(request, ctx.drf_data))
    snap.all_sensitive = getattr(request, "sensitive_post_parameters", None) == "__ALL__"
    snap.compute_node = _attempt("", conf.compute_node)
    # Messages are lazy translations: resolved here, in the request's language.
    snap.message = _attempt("", lambda: str(error.message)[: MAX_MESSAGE + 1])
    snap.details = _attempt([], lambda: [d.as_dict() for d in error.details])
    snap.fingerprint_parts = _attempt(
        (), lambda: fingerprint_parts(exception, error.status, error.code)
    )
    if exception is not None:
        if not isinstance(exception, _VALIDATION_ERRORS):
            # A validation error's text is the repr of its details, values and all; the
            # details are stored instead, scrubbed field by field.
            snap.exception_message = _attempt(
                "", lambda: str(exception)[: MAX_EXCEPTION_MESSAGE + 1]
            )
        if error.is_server_error and exception.__traceback__ is not None:
            snap.traceback = _attempt(None, lambda: traceback_summary(exception))
            if conf.get("CAPTURE_LOCALS"):
                scrubber = snap.scrubber()
                snap.frame_locals = _attempt(
                    [], lambda: read_frame_locals(exception, request, scrubber)
                )
    if request is not None:
        _read_request(snap, request, ctx)
    return snap


def _read_request(snap: Snapshot, request: HttpRequest, ctx: RequestContext) -> None:
    snap.method = _attempt("", lambda: str(request.method or "")[:16])
    snap.path = _attempt("", lambda: request.path[: MAX_PATH + 1])
    snap.query = _attempt(
        [],
        lambda: [
            (k, v[: MAX_STRING + 1] if isinstance(v, str) else v)
            for k, values in request.GET.lists()
            for v in values
        ][:MAX_QUERY_PAIRS],
    )
    snap.headers = _attempt(
        [],
        lambda: [
            (name, str(value)[: MAX_HEADER_VALUE + 1])
            for name, value in list(request.headers.items())[:MAX_ITEMS]
        ],
    )
    snap.stored_headers = _attempt((), lambda: tuple(conf.get("STORED_HEADERS")))
    snap.max_body_bytes = _attempt(0, lambda: int(conf.get("MAX_BODY_BYTES")))
    snap.body = _attempt(
        BodyCopy("note", "[not stored: unreadable]"),
        lambda: read_body(request, snap.scrubber(), snap.max_body_bytes, ctx.drf_data),
    )
    snap.user_id = _attempt("", lambda: _user_id(request))


# --- when to capture -----------------------------------------------------------------------


def remember_drf_data(request: Any, ctx: RequestContext) -> None:
    """Keep a DRF request's parsed body in the context (for JSON bodies)."""
    data = getattr(request, "_full_data", Empty)
    # Empty: never parsed. An empty QueryDict: DRF's placeholder after a parse error.
    if getattr(request, "_request", None) is None or data is Empty:
        return
    if isinstance(data, QueryDict) and not data:
        return
    ctx.drf_data = data


def record_unless_deferred(request: Any, ctx: RequestContext) -> None:
    """Capture now, unless the middleware will (the entry points without middleware)."""
    if not ctx.deferred:
        record(request, ctx)


def record(request: Any, ctx: RequestContext) -> None:
    """Capture ``ctx``'s error and submit it to the recorder, once per hash. Never raises.

    Sync only, like the ORM: async code calls it through ``sync_to_async`` (as
    :func:`arecord_deferred` and ``ErrorEnvelopeASGI`` do).
    """
    if ctx.error is None or not ctx.logging_hash or ctx.recorded == ctx.logging_hash:
        return
    ctx.recorded = ctx.logging_hash
    http_request = context.django_request(request) if request is not None else None
    if http_request is not None:
        _attempt(None, lambda: observability.annotate(ctx, http_request))
    with guarded("could not capture a logged error") as capturing:
        recorder.submit(snapshot(http_request, ctx))
    if capturing.failed:
        # The hash is in the response already: it must not be lost with the snapshot.
        error = ctx.error
        bare = Record(
            logging_hash=ctx.logging_hash,
            created=timezone.now(),
            status=error.status,
            code=error.code,
            fingerprint="",
            exception_class=qualified_name(type(error.exception)) if error.exception else "",
        )
        fallback(bare, "the error could not be captured")


def record_deferred(request: HttpRequest, ctx: RequestContext) -> None:
    """The middleware's end of a request: capture its error, and capture later ones at once
    (an error raised by a middleware above this one, which W002 warns about)."""
    ctx.deferred = False
    record(request, ctx)


async def arecord_deferred(request: HttpRequest, ctx: RequestContext) -> None:
    """:func:`record_deferred` from async code (reading ``request.user`` may be a query)."""
    from asgiref.sync import sync_to_async

    ctx.deferred = False
    if ctx.logging_hash and ctx.recorded != ctx.logging_hash:
        await sync_to_async(record, thread_sensitive=True)(request, ctx)
