"""From a request and its error to a scrubbed :class:`Record`: the only reader of the request
for storage.

When an error gets its ``logging_hash`` (:func:`counterbalance_errors.responses.attach`),
nothing is written yet: the view may still be inside its ``ATOMIC_REQUESTS`` transaction,
which is about to roll back. The row is written once that transaction is over:

* by ``ErrorEnvelopeMiddleware`` after the whole response is finished (the usual case; it
  marks the request with :func:`defer`);
* without the middleware, by the URLconf error views and the ``got_request_exception``
  receiver, which Django calls after the view's transaction has exited.

If storing fails for any reason (database down, a bug), the record goes to the
``counterbalance_errors`` logger as one line. Nothing here raises into the request.
"""

from __future__ import annotations

import json
import reprlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

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

from counterbalance_errors import conf, recorder
from counterbalance_errors.fingerprints import fingerprint, frame_name, is_in_app, qualified_name
from counterbalance_errors.logs import fallback
from counterbalance_errors.profiles.base import request_id
from counterbalance_errors.scrubbing import FILTERED, TRUNCATED, Scrubber, storable, storable_text

if TYPE_CHECKING:
    from counterbalance_errors.catalog import ApiError
    from counterbalance_errors.responses import ErrorState

#: Set on a request whose error ErrorEnvelopeMiddleware stores once the response is finished.
DEFERRED_ATTR = "counterbalance_errors_deferred"
#: The logging_hash already stored for a request (one row per hash).
STORED_ATTR = "counterbalance_errors_stored"
#: The parsed body a DRF view read (the raw body cannot be read again after DRF parsed it).
DRF_DATA_ATTR = "counterbalance_errors_drf_data"

MAX_EXCEPTION_MESSAGE = 2000
MAX_TRACEBACK = 64_000
MAX_MESSAGE = 1000
MAX_LOCALS_FRAMES = 10
MAX_LOCALS_PER_FRAME = 30

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

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created"] = self.created.isoformat()
        return data


# --- building a record ---------------------------------------------------------------------


def _attempt(default: T, build: Callable[[], T]) -> T:
    """One part of a record; a part that cannot be built is left out, never raised."""
    try:
        return build()
    except Exception:
        return default


def _scrubber(request: HttpRequest | None) -> Scrubber:
    names = ("SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "CSRF_HEADER_NAME")
    custom = [str(getattr(settings, name, "") or "") for name in names]
    return Scrubber([*conf.get("SCRUB_KEYS"), *custom], _sensitive_post_names(request))


def _sensitive_post_names(request: HttpRequest | None) -> tuple[str, ...]:
    """The names ``sensitive_post_parameters`` hides, as scrub keys of the whole record
    (validation details, captured locals). With no names given, every name of the parsed body.
    """
    sensitive = getattr(request, "sensitive_post_parameters", None)
    if not sensitive:
        return ()
    if sensitive != "__ALL__":
        return tuple(str(name) for name in sensitive)
    names: list[str] = []
    for parsed in (getattr(request, DRF_DATA_ATTR, None), request.__dict__.get("_post")):
        if isinstance(parsed, (dict, MultiValueDict)):
            names.extend(str(key) for key in list(parsed)[: 2 * MAX_LOCALS_PER_FRAME])
    return tuple(names)


def format_traceback(exception: BaseException, scrubber: Scrubber) -> str:
    """The traceback text with every exception message of the chain scrubbed and capped.

    Source lines are kept as they are; only messages (and notes) carry request data.
    """
    te = traceback.TracebackException.from_exception(exception, capture_locals=False)
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


def local_repr(value: Any, scrubber: Scrubber) -> str:
    """The repr of a local, scrubbed: a dict, list, tuple, set or MultiValueDict (a QueryDict)
    is scrubbed by key first and represented afterwards, a request without its query string
    (percent-encoded, ``password%3D…`` escapes the text scrubber; the query has its own
    column), any other value's repr as text."""
    http_request = getattr(value, "_request", value)  # a DRF Request wraps a Django one
    if isinstance(http_request, HttpRequest):
        method = str(http_request.method or "")[:16]
        return scrubber.scrub_text(f"<{type(value).__name__}: {method} {http_request.path!r}>", 400)
    if isinstance(value, MultiValueDict):
        scrubbed = scrubber.scrub(dict(value.lists()), max_depth=6, max_nodes=300)
        return scrubber.scrub_text(f"<{type(value).__name__}: {_safe_repr(scrubbed)}>", 400)
    if isinstance(value, _CONTAINERS):
        scrubbed = scrubber.scrub(value, max_depth=6, max_nodes=300)
        if isinstance(value, tuple) and isinstance(scrubbed, list):
            scrubbed = tuple(scrubbed)
        return scrubber.scrub_text(_safe_repr(scrubbed), 400)
    return scrubber.scrub_text(_safe_repr(value), 400)


def frame_locals(
    exception: BaseException, request: HttpRequest | None, scrubber: Scrubber
) -> list[dict[str, Any]]:
    """Scrubbed reprs of the locals of in-app frames, honouring ``sensitive_variables``."""
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
                variables[name] = local_repr(value, scrubber)
        captured.append({"frame": frame_name(frame), "line": lineno, "vars": variables})
    return captured[-MAX_LOCALS_FRAMES:]


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


def _hide_post_parameters(data: Any, request: HttpRequest) -> Any:
    """``sensitive_post_parameters`` applied to a JSON body's top-level keys."""
    sensitive = getattr(request, "sensitive_post_parameters", None)
    if not sensitive or not isinstance(data, dict):
        return data
    if sensitive == "__ALL__":
        return dict.fromkeys(data, FILTERED)
    return {k: FILTERED if k in sensitive else v for k, v in data.items()}


def request_body(request: HttpRequest, scrubber: Scrubber, limit: int) -> Any:
    """The scrubbed body of a JSON or form request no larger than ``limit`` bytes, else a note.

    Other content types are never stored: their bytes could not be scrubbed.
    """
    content_type = (request.content_type or "").lower()
    is_form = content_type in _FORM_TYPES
    if not (is_form or _is_json(content_type)):
        return None
    length = _attempt(0, lambda: int(request.META.get("CONTENT_LENGTH") or 0))
    if limit == 0:
        return None
    if length > limit:
        return f"[not stored: {length} bytes, over the {limit}-byte limit]"
    if is_form:
        post: Any = ReporterFilter().get_post_parameters(request)
        pairs = [(k, v) for k, values in post.lists() for v in values]
        data: Any = scrubber.scrub_pairs(pairs)
        files = {
            name: {"name": scrubber.scrub_text(str(upload.name), 200), "size": upload.size}
            for name, upload in request.FILES.items()
            if isinstance(upload, UploadedFile)
        }
        if files:
            data["[files]"] = files
    else:
        parsed = getattr(request, DRF_DATA_ATTR, empty)
        if parsed is empty:
            try:
                raw = request.body
            except RawPostDataException:
                return "[not stored: the body was read as a stream]"
            if len(raw) > limit:
                return f"[not stored: {len(raw)} bytes, over the {limit}-byte limit]"
            if not raw:
                return None
            try:
                parsed = json.loads(raw)
            except (ValueError, RecursionError):
                return "[not stored: not valid JSON]"
        data = scrubber.scrub(_hide_post_parameters(parsed, request))
    if len(json.dumps(data, default=str, ensure_ascii=False).encode()) > limit:
        return f"[not stored: over the {limit}-byte limit once parsed]"
    return data


_VALIDATION_ERRORS = (DjangoValidationError, DRFValidationError)


def _details(error: ApiError, scrubber: Scrubber, request: HttpRequest | None) -> Any:
    """Validation details; a sensitive field's message may echo its value, so it is hidden
    (a field whose path has a sensitive name, or any field under ``sensitive_post_parameters()``
    without names)."""
    hide_all = getattr(request, "sensitive_post_parameters", None) == "__ALL__"
    details = [d.as_dict() for d in error.details]
    for detail in details:
        field_path = str(detail["field"])
        if (
            hide_all
            or scrubber.is_sensitive(field_path)
            or any(map(scrubber.is_sensitive, field_path.split(".")))
        ):
            detail["message"] = FILTERED
    return scrubber.scrub(details)


def build(state: ErrorState, request: HttpRequest | None) -> Record:
    """The scrubbed record of ``state``'s error (never raises; missing parts stay empty)."""
    error: ApiError = state.error
    exception = error.exception
    scrubber = _attempt(Scrubber(), lambda: _scrubber(request))
    record = Record(
        logging_hash=str(state.logging_hash),
        created=timezone.now(),
        status=error.status,
        code=error.code[:64],
        fingerprint=_attempt("", lambda: fingerprint(exception, error.status, error.code)),
        message=_attempt("", lambda: scrubber.scrub_text(str(error.message), MAX_MESSAGE)),
        details=_attempt([], lambda: _details(error, scrubber, request)),
        compute_node=_attempt("", lambda: conf.compute_node()[:255]),
    )
    if exception is not None:
        record.exception_class = qualified_name(type(exception))[:255]
        if not isinstance(exception, _VALIDATION_ERRORS):
            # A validation error's text is the repr of its details, values and all; the
            # details are stored instead, scrubbed field by field.
            record.exception_message = _attempt(
                "", lambda: scrubber.scrub_text(str(exception), MAX_EXCEPTION_MESSAGE)
            )
        if error.is_server_error and exception.__traceback__ is not None:
            record.traceback = _attempt("", lambda: format_traceback(exception, scrubber))
            if conf.get("CAPTURE_LOCALS"):
                record.frame_locals = _attempt(
                    [], lambda: frame_locals(exception, request, scrubber)
                )
    if request is not None:
        record.method = _attempt("", lambda: str(request.method or "")[:16])
        record.path = _attempt("", lambda: scrubber.scrub_text(request.path, 2000))
        record.query = _attempt(
            {},
            lambda: scrubber.scrub_pairs(
                (k, v) for k, values in request.GET.lists() for v in values
            ),
        )
        record.headers = _attempt(
            {}, lambda: scrubber.scrub_headers(request.headers, conf.get("STORED_HEADERS"))
        )
        record.body = _attempt(
            "[not stored: unreadable]",
            lambda: request_body(request, scrubber, conf.get("MAX_BODY_BYTES")),
        )
        record.user_id = _attempt("", lambda: _user_id(request))
        # The same id the profile's headers carry, whichever of the two comes first.
        record.request_id = _attempt("", lambda: request_id(request)[:255])
    return _storable(record)


def _storable(record: Record) -> Record:
    """Every text of ``record`` as any database stores it: NUL and lone surrogates escaped
    (a client's ``%00`` or ``"\\ud800"`` must not cost the row)."""
    for item in fields(record):
        value = getattr(record, item.name)
        if isinstance(value, str):
            setattr(record, item.name, storable_text(value))
        elif isinstance(value, (dict, list)):
            setattr(record, item.name, storable(value))
    return record


# --- when to store -------------------------------------------------------------------------


def defer(request: HttpRequest) -> None:
    """Mark ``request`` as handled by the middleware, which stores its error at the end."""
    setattr(request, DEFERRED_ATTR, True)


def remember_drf_data(request: Any) -> None:
    """Keep a DRF request's parsed body on the Django request (for JSON bodies)."""
    http_request = getattr(request, "_request", None)
    data = getattr(request, "_full_data", Empty)
    # Empty: never parsed. An empty QueryDict: DRF's placeholder after a parse error.
    if http_request is None or data is Empty or (isinstance(data, QueryDict) and not data):
        return
    setattr(http_request, DRF_DATA_ATTR, data)


def store_unless_deferred(request: HttpRequest | None, state: ErrorState) -> None:
    """Store now, unless the middleware will (the entry points without middleware)."""
    if request is not None and getattr(request, DEFERRED_ATTR, False):
        return
    persist(request, state)


def persist(request: HttpRequest | None, state: ErrorState | None) -> None:
    """Store ``state``'s error once per hash. Never raises.

    Sync only, like the ORM: async code calls it through ``sync_to_async`` (as
    :func:`apersist_deferred` and ``ErrorEnvelopeASGI`` do). Called on an event loop, Django
    refuses the query and the record goes to the fallback log line.
    """
    if state is None or not state.logging_hash:
        return
    if request is not None:
        if getattr(request, STORED_ATTR, None) == state.logging_hash:
            return
        setattr(request, STORED_ATTR, state.logging_hash)
    store(state, request)


def persist_deferred(request: HttpRequest, state: ErrorState | None) -> None:
    """The middleware's end of a request: store its error, and store later ones at once
    (an error raised by a middleware above this one, which W002 warns about)."""
    setattr(request, DEFERRED_ATTR, False)
    persist(request, state)


async def apersist_deferred(request: HttpRequest, state: ErrorState | None) -> None:
    """:func:`persist_deferred` from async code (the ORM is sync-only)."""
    from asgiref.sync import sync_to_async

    setattr(request, DEFERRED_ATTR, False)
    if state is not None and state.logging_hash:
        await sync_to_async(persist, thread_sensitive=True)(request, state)


# --- storing -------------------------------------------------------------------------------

_local = threading.local()


def store(state: ErrorState, request: HttpRequest | None = None) -> str:
    """Build and write ``state``'s record; return the outcome of :func:`recorder.write`.

    Never raises: what cannot be stored is logged as one line."""
    if getattr(_local, "busy", False):
        # An error raised while storing another one (a signal, a DB wrapper): log only.
        fallback(_attempt(None, lambda: _bare_record(state)), "raised while storing an error")
        return recorder.NOT_STORED
    _local.busy = True
    record: Record | None = None
    try:
        record = build(state, request)
        return recorder.write(record)
    except Exception as exc:
        fallback(record or _attempt(None, lambda: _bare_record(state)), _reason(exc))
        return recorder.NOT_STORED
    finally:
        _local.busy = False


def _bare_record(state: ErrorState) -> Record:
    error = state.error
    return Record(
        logging_hash=str(state.logging_hash),
        created=timezone.now(),
        status=error.status,
        code=error.code,
        fingerprint="",
        exception_class=qualified_name(type(error.exception)) if error.exception else "",
    )


def _reason(exc: BaseException) -> str:
    return recorder.cap(f"{qualified_name(type(exc))}: {Scrubber().scrub_text(str(exc))}", 500)
