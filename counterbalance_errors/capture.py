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

import itertools
import json
import linecache
import reprlib
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from types import CodeType, TracebackType
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.db import connections
from django.http import HttpRequest, QueryDict, RawPostDataException
from django.http.request import HttpHeaders
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.functional import SimpleLazyObject, empty
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Empty

from counterbalance_errors import conf, context, observability, recorder
from counterbalance_errors.context import NOT_PARSED, RequestContext
from counterbalance_errors.fingerprints import (
    fingerprint_of,
    frame_name,
    frames_parts,
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
    #: Makes :attr:`traceback` when it is first needed (:meth:`complete`): the recorder stores
    #: it on full entries only, so a compact entry's is never formatted.
    deferred: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def complete(self) -> Record:
        """This record, its traceback made if it was deferred (never raises)."""
        make = self.deferred
        if make is not None:
            # Made before it is marked done: a thread reading the record meanwhile (the
            # watchdog logging it) makes the same text itself, never finds it missing.
            self.traceback = make()
            self.deferred = None
        return self

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self.complete())
        del data["deferred"]
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
    """The exception chain's frames and messages, without source lines (read when formatting).

    The slow way, on the request thread: only for what :func:`copy_chain` cannot copy."""
    return traceback.TracebackException.from_exception(
        exception, capture_locals=False, lookup_lines=False
    )


class FrameRef(NamedTuple):
    """One frame of a traceback, as references that keep no frame alive: its code object, its
    line number and last instruction (for the positions of Python's caret lines), and what
    ``linecache`` and the grouping key need of its module's globals."""

    code: CodeType
    lineno: int | None
    lasti: int
    module: Any
    loader: Any
    spec: Any

    def module_globals(self) -> dict[str, Any]:
        if self.module is None:
            return {}
        return {"__name__": self.module, "__loader__": self.loader, "__spec__": self.spec}


def frame_refs(tb: TracebackType | None) -> tuple[FrameRef, ...]:
    refs = []
    while tb is not None:
        frame = tb.tb_frame
        g = frame.f_globals
        refs.append(
            FrameRef(
                frame.f_code,
                tb.tb_lineno,
                tb.tb_lasti,
                g.get("__name__"),
                g.get("__loader__"),
                g.get("__spec__"),
            )
        )
        tb = tb.tb_next
    return tuple(refs)


@dataclass(slots=True)
class ExceptionCopy:
    """One exception of a chain as plain values: its type as ``traceback`` prints it, its
    message (None: its ``str()`` failed), frames and notes, and how the next (older) exception
    of the chain is linked to it (``"cause"``, ``"context"`` or ``""`` for the last one)."""

    type_name: str
    message: str | None
    frames: tuple[FrameRef, ...]
    notes: tuple[Any, ...] | None
    link: str = ""


#: Exceptions ``traceback`` formats in ways :func:`format_chain` does not: exception groups,
#: syntax errors and (3.12+) the names it suggests ("Did you mean …?"), read from live frames.
_FORMATTED_APART: tuple[type[BaseException], ...] = (
    (SyntaxError, BaseExceptionGroup)
    if sys.version_info < (3, 12)
    else (SyntaxError, BaseExceptionGroup, NameError, AttributeError, ImportError)
)


def _type_name(cls: type) -> str:
    """The exception's type as ``traceback`` prints it."""
    name = cls.__qualname__
    module = cls.__module__
    if module in ("__main__", "builtins"):
        return name
    return f"{module if isinstance(module, str) else '<unknown>'}.{name}"


def copy_chain(
    exception: BaseException, top_frames: tuple[FrameRef, ...] | None = None
) -> tuple[ExceptionCopy, ...] | None:
    """The chain ``traceback.format_exception`` shows (newest first), as cheap references;
    None when it needs ``TracebackException`` (:data:`_FORMATTED_APART`, odd notes,
    ``sys.tracebacklimit``)."""
    if getattr(sys, "tracebacklimit", None) is not None:
        return None
    chain: list[ExceptionCopy] = []
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None:
        if isinstance(current, _FORMATTED_APART):
            return None
        seen.add(id(current))
        notes = getattr(current, "__notes__", None)
        if notes is not None:
            if not isinstance(notes, (list, tuple)):
                return None
            notes = tuple(notes)
        message = _message(current)
        frames = (
            top_frames
            if current is exception and top_frames is not None
            else frame_refs(current.__traceback__)
        )
        copy = ExceptionCopy(_type_name(type(current)), message, frames, notes)
        chain.append(copy)
        # As format_exception (compact): the cause, else the context unless suppressed;
        # an exception already shown ends the chain.
        cause, context_ = current.__cause__, current.__context__
        if cause is not None and id(cause) not in seen:
            copy.link, current = "cause", cause
        elif context_ is not None and not current.__suppress_context__ and id(context_) not in seen:
            copy.link, current = "context", context_
        else:
            current = None
    return tuple(chain)


def _position(ref: FrameRef) -> tuple[Any, Any, Any, Any]:
    """(lineno, end_lineno, colno, end_colno) of the frame's instruction, as ``traceback``
    reads them."""
    positions: tuple[Any, Any, Any, Any] = (None, None, None, None)
    if ref.lasti >= 0:
        positions = next(itertools.islice(ref.code.co_positions(), ref.lasti // 2, None))
    if positions[0] is None:
        return (ref.lineno, *positions[1:])
    return positions


def _stack(frames: tuple[FrameRef, ...]) -> traceback.StackSummary:
    summaries = []
    files = set()
    for ref in frames:
        filename = ref.code.co_filename
        linecache.lazycache(filename, ref.module_globals())
        lineno, end_lineno, colno, end_colno = _position(ref)
        summaries.append(
            traceback.FrameSummary(
                filename,
                lineno,
                ref.code.co_name,
                lookup_line=False,
                end_lineno=end_lineno,
                colno=colno,
                end_colno=end_colno,
            )
        )
        files.add(filename)
    for filename in files:
        linecache.checkcache(filename)
    return traceback.StackSummary.from_list(summaries)


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_chain(chain: tuple[ExceptionCopy, ...], scrubber: Scrubber) -> str:
    """The text ``traceback.format_exception`` gives for the copied chain, source lines read
    now, every message and note scrubbed and capped."""
    parts: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        copy = chain[index]
        if copy.frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(_stack(copy.frames).format())
        message = (
            "<exception str() failed>"
            if copy.message is None
            else scrubber.scrub_text(copy.message, MAX_EXCEPTION_MESSAGE)
        )
        parts.append(f"{copy.type_name}: {message}\n" if message else f"{copy.type_name}\n")
        for note in copy.notes or ():
            try:
                text = scrubber.scrub_text(str(note), 500)
            except Exception:
                text = "<note str() failed>"
            parts.extend(f"{line}\n" for line in text.split("\n"))
        if index:
            parts.append(_CAUSE if chain[index - 1].link == "cause" else _CONTEXT)
    return _cap_traceback("".join(parts))


def _cap_traceback(text: str) -> str:
    if len(text) > MAX_TRACEBACK:
        # The end (the frame that raised, the message) matters most.
        return TRUNCATED + text[-MAX_TRACEBACK:]
    return text


def format_traceback(
    exception: BaseException | traceback.TracebackException, scrubber: Scrubber
) -> str:
    """The traceback text with every exception message of the chain scrubbed and capped.

    Source lines are kept as they are; only messages (and notes) carry request data.
    """
    if isinstance(exception, BaseException):
        chain = copy_chain(exception)
        if chain is not None:
            return format_chain(chain, scrubber)
        exception = traceback_summary(exception)
    te = exception
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
    return _cap_traceback(text)


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


#: The lazy ``request.user`` of ``django.contrib.auth.middleware.AuthenticationMiddleware``.
_AUTH_MIDDLEWARE_USER = (
    "django.contrib.auth.middleware",
    "AuthenticationMiddleware.process_request.<locals>.<lambda>",
)


def _provably_anonymous(request: HttpRequest, user: Any) -> bool:
    """The lazy user of AuthenticationMiddleware, not resolved yet, on a request whose session
    cannot name a user: no session cookie, and a session without a key that nobody changed
    (resolving it would read that empty session and give AnonymousUser)."""
    if type(user) is not SimpleLazyObject or user._wrapped is not empty:
        return False
    setup = user.__dict__.get("_setupfunc")
    made_by = (getattr(setup, "__module__", None), getattr(setup, "__qualname__", None))
    if made_by != _AUTH_MIDDLEWARE_USER or "_cached_user" in request.__dict__:
        return False
    session = request.__dict__.get("session")
    return (
        isinstance(session, SessionBase)
        and session.session_key is None
        and not session.modified
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def _user_id(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or _provably_anonymous(request, user):
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
    request: HttpRequest,
    scrubber: Scrubber | Callable[[], Scrubber],
    limit: int,
    drf_data: Any = NOT_PARSED,
) -> BodyCopy:
    """A bounded copy of a JSON or form body no larger than ``limit`` bytes, else a note.

    Other content types are never stored: their bytes could not be scrubbed. ``scrubber`` may
    be a function that makes one (only a DRF view's parsed body needs it here).
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
        scrub = scrubber if isinstance(scrubber, Scrubber) else scrubber()
        return BodyCopy("parsed", scrub.scrub(_hide_post_parameters(drf_data, sensitive)))
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
class QueryCopy:
    """A request's query as it arrived (``QUERY_STRING`` and how the request decodes it), or
    its pairs when ``request.GET`` was already made (or is not Django's): :meth:`pairs`."""

    #: "wsgi", "asgi" (``raw`` is the query string) or "pairs" (``raw`` is the pairs).
    kind: str
    raw: Any
    encoding: str | None = None

    def pairs(self) -> list[tuple[str, Any]]:
        """The pairs ``request.GET`` gives, each value cut as a snapshot cuts it."""
        if self.kind == "wsgi":  # as WSGIRequest.GET
            query = QueryDict(str(self.raw).encode("iso-8859-1"), encoding=self.encoding)
        elif self.kind == "asgi":  # as ASGIRequest.GET
            query = QueryDict(self.raw)
        else:
            return list(self.raw)
        return _query_pairs(query)


def _query_pairs(query: MultiValueDict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (k, v[: MAX_STRING + 1] if isinstance(v, str) else v)
        for k, values in query.lists()
        for v in values
    ][:MAX_QUERY_PAIRS]


def copy_query(request: HttpRequest) -> QueryCopy:
    """The query string itself when ``request.GET`` was not made yet (parsed by
    :meth:`QueryCopy.pairs` later), else a bounded copy of its pairs."""
    if "GET" not in request.__dict__:
        parse = getattr(type(request), "GET", None)
        if parse is WSGIRequest.GET:
            raw = request.META.get("QUERY_STRING", "")
            return QueryCopy("wsgi", raw, request.encoding)
        if parse is ASGIRequest.GET:
            return QueryCopy("asgi", request.META["QUERY_STRING"])
    return QueryCopy("pairs", _query_pairs(request.GET))


_UNPREFIXED_HEADERS = frozenset(HttpHeaders.UNPREFIXED_HEADERS)


def copy_headers(meta: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``request.META`` that ``request.headers`` is made of."""
    return {k: v for k, v in meta.items() if k[:5] == "HTTP_" or k in _UNPREFIXED_HEADERS}


def header_pairs(meta_headers: dict[str, Any]) -> list[tuple[str, str]]:
    """``request.headers`` of :func:`copy_headers`'s copy, bounded as a snapshot bounds it."""
    return [
        (name, str(value)[: MAX_HEADER_VALUE + 1])
        for name, value in list(HttpHeaders(meta_headers).items())[:MAX_ITEMS]
    ]


@dataclass(slots=True)
class Snapshot:
    """What :func:`snapshot` read on the request thread: references and bounded copies, not
    scrubbed yet (except what could only be scrubbed while it was read). :meth:`build` makes
    the :class:`Record` (parses, formats, groups and scrubs); it reads neither the request nor
    the exception, nor any frame."""

    logging_hash: str
    created: datetime
    status: int
    code: str
    #: The exception's qualified class name (stored cut at 255 characters).
    exception_class: str = ""
    #: The frames of the exception's traceback (its grouping key is made of them).
    frames: tuple[FrameRef, ...] = ()
    message: str = ""
    details: list[dict[str, str]] = field(default_factory=list)
    exception_message: str = ""
    #: A 5xx's exception chain: copied, or (exception groups, syntax errors…) summarised.
    chain: tuple[ExceptionCopy, ...] | None = None
    traceback: traceback.TracebackException | None = None
    frame_locals: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""
    path: str = ""
    query: QueryCopy | None = None
    #: The ``request.META`` entries of its headers.
    headers: dict[str, Any] = field(default_factory=dict)
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
            exception_class=self.exception_class[:255],
        )

    def fingerprint_parts(self) -> tuple[str, ...]:
        frames = ((ref.module, ref.code) for ref in self.frames)
        return frames_parts(self.exception_class, frames, self.status, self.code)

    def build(self, *, defer_traceback: bool = False) -> Record:
        """The scrubbed record (never raises; a part that cannot be made stays empty). With
        ``defer_traceback``, the traceback is formatted when :meth:`Record.complete` asks."""
        scrubber = _attempt(Scrubber(), self.scrubber)
        record = self.bare()
        record.fingerprint = _attempt("", lambda: fingerprint_of(self.fingerprint_parts()))
        record.message = _attempt("", lambda: scrubber.scrub_text(self.message, MAX_MESSAGE))
        record.details = _attempt([], lambda: _details(self.details, scrubber, self.all_sensitive))
        record.compute_node = self.compute_node[:255]
        record.exception_message = _attempt(
            "", lambda: scrubber.scrub_text(self.exception_message, MAX_EXCEPTION_MESSAGE)
        )
        if self.chain is not None:
            chain = self.chain
            record.deferred = lambda: storable_text(
                _attempt("", lambda: format_chain(chain, scrubber))
            )
        elif self.traceback is not None:
            summary = self.traceback
            record.deferred = lambda: storable_text(
                _attempt("", lambda: format_traceback(summary, scrubber))
            )
        record.frame_locals = _attempt([], lambda: scrub_frame_locals(self.frame_locals, scrubber))
        record.method = self.method
        record.path = _attempt("", lambda: scrubber.scrub_text(self.path, MAX_PATH))
        if self.query is not None:
            query = self.query
            record.query = _attempt({}, lambda: scrubber.scrub_pairs(query.pairs()))
        record.headers = _attempt(
            {},
            lambda: scrubber.scrub_headers(dict(header_pairs(self.headers)), self.stored_headers),
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
        storable_record(record)
        return record if defer_traceback else record.complete()

    def scrubber(self) -> Scrubber:
        return Scrubber(self.scrub_terms, self.sensitive_names)


def _message(exception: BaseException) -> str | None:
    """The exception's text as far as it is ever stored (None: its ``str()`` failed)."""
    try:
        return str(exception)[: MAX_EXCEPTION_MESSAGE + 1]
    except Exception:
        return None


class _SnapshotSettings(NamedTuple):
    scrub_terms: tuple[str, ...]
    stored_headers: tuple[str, ...]
    max_body_bytes: int
    compute_node: str
    capture_locals: bool


def _snapshot_settings() -> _SnapshotSettings:
    """What a snapshot reads of the settings, made once per settings object (``conf``
    forgets it whenever a setting changes)."""
    derived = conf.effective().derived
    try:
        return derived["snapshot"]  # type: ignore[no-any-return]
    except KeyError:
        made = derived["snapshot"] = _SnapshotSettings(
            scrub_terms=_attempt((), scrub_terms),
            stored_headers=_attempt((), lambda: tuple(conf.get("STORED_HEADERS"))),
            max_body_bytes=_attempt(0, lambda: int(conf.get("MAX_BODY_BYTES"))),
            compute_node=_attempt("", conf.compute_node),
            capture_locals=bool(conf.get("CAPTURE_LOCALS")),
        )
        return made


def snapshot(request: HttpRequest | None, ctx: RequestContext) -> Snapshot:
    """Read what storing ``ctx``'s error needs while the request and the exception are alive.

    References and bounded copies only (everything that can be derived later is, by
    :meth:`Snapshot.build`); never raises (a part that cannot be read stays empty).
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
        exception_class=qualified_name(type(exception)) if exception is not None else "",
        request_id=_attempt("", lambda: ctx.request_id),
        trace_id=ctx.trace_id,
        sentry_event_id=ctx.sentry_event_id,
    )
    settings_now = _snapshot_settings()
    snap.scrub_terms = settings_now.scrub_terms
    snap.sensitive_names = _attempt((), lambda: sensitive_post_names(request, ctx.drf_data))
    snap.all_sensitive = getattr(request, "sensitive_post_parameters", None) == "__ALL__"
    snap.compute_node = settings_now.compute_node
    # Messages are lazy translations: resolved here, in the request's language.
    snap.message = _attempt("", lambda: str(error.message)[: MAX_MESSAGE + 1])
    snap.details = _attempt([], lambda: [d.as_dict() for d in error.details])
    if exception is not None:
        locals_too = settings_now.capture_locals
        _read_exception(snap, exception, error.is_server_error, request, locals_too)
    if request is not None:
        snap.stored_headers = settings_now.stored_headers
        snap.max_body_bytes = settings_now.max_body_bytes
        _read_request(snap, request, ctx)
    return snap


def _read_exception(
    snap: Snapshot,
    exception: BaseException,
    server_error: bool,
    request: HttpRequest | None,
    locals_too: bool,
) -> None:
    tb = exception.__traceback__
    snap.frames = _attempt((), lambda: frame_refs(tb))
    message = _message(exception)
    if not isinstance(exception, _VALIDATION_ERRORS):
        # A validation error's text is the repr of its details, values and all; the
        # details are stored instead, scrubbed field by field.
        snap.exception_message = message or ""
    if server_error and tb is not None:
        snap.chain = _attempt(None, lambda: copy_chain(exception, snap.frames or None))
        if snap.chain is None:
            snap.traceback = _attempt(None, lambda: traceback_summary(exception))
        if locals_too:
            scrubber = snap.scrubber()
            snap.frame_locals = _attempt(
                [], lambda: read_frame_locals(exception, request, scrubber)
            )


def _read_request(snap: Snapshot, request: HttpRequest, ctx: RequestContext) -> None:
    snap.method = _attempt("", lambda: str(request.method or "")[:16])
    snap.path = _attempt("", lambda: request.path[: MAX_PATH + 1])
    snap.query = _attempt(None, lambda: copy_query(request))
    snap.headers = _attempt({}, lambda: copy_headers(request.META))
    snap.body = _attempt(
        BodyCopy("note", "[not stored: unreadable]"),
        lambda: read_body(request, snap.scrubber, snap.max_body_bytes, ctx.drf_data),
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
