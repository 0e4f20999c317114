"""Building, scrubbing and storing logged errors: the only module that writes them.

When an error gets its ``logging_hash`` (:func:`counterbalance_errors.responses.attach`),
nothing is written yet: the view may still be inside its ``ATOMIC_REQUESTS`` transaction,
which is about to roll back. The row is written once that transaction is over:

* by ``ErrorEnvelopeMiddleware`` after the whole response is finished (the usual case; it
  marks the request with :func:`defer`);
* without the middleware, by the URLconf error views and the ``got_request_exception``
  receiver, which Django calls after the view's transaction has exited.

If the connection is still inside a transaction at that point (another middleware or the
caller wrapped the request in ``atomic()``), the row goes through ``ISOLATED_DATABASE`` when
one is configured, else into a savepoint, and a fallback log line keeps the record in case
the enclosing transaction rolls back. If storing fails for any reason (database down, a bug),
the record goes to the ``counterbalance_errors`` logger as one JSON line. Nothing here raises
into the request, and ``transaction.on_commit`` is never used: a rollback discards it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import reprlib
import sysconfig
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models import Case, DateTimeField, F, PositiveIntegerField, Value, When
from django.http import HttpRequest, QueryDict, RawPostDataException
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.functional import empty
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Empty

from counterbalance_errors import conf
from counterbalance_errors.profiles.base import request_id
from counterbalance_errors.scrubbing import FILTERED, TRUNCATED, Scrubber

if TYPE_CHECKING:
    from counterbalance_errors.catalog import ApiError
    from counterbalance_errors.responses import ErrorState

logger = logging.getLogger("counterbalance_errors")

#: Set on a request whose error ErrorEnvelopeMiddleware stores once the response is finished.
DEFERRED_ATTR = "counterbalance_errors_deferred"
#: The logging_hash already stored for a request (one row per hash).
STORED_ATTR = "counterbalance_errors_stored"
#: The parsed body a DRF view read (the raw body cannot be read again after DRF parsed it).
DRF_DATA_ATTR = "counterbalance_errors_drf_data"

#: Outcomes of :func:`store`.
STORED = "stored"
UNCOMMITTED = "uncommitted"
NOT_STORED = "not stored"

MAX_EXCEPTION_MESSAGE = 2000
MAX_TRACEBACK = 64_000
MAX_MESSAGE = 1000
MAX_LOCALS_FRAMES = 10
MAX_LOCALS_PER_FRAME = 30
_LIBRARY_ROOTS = ("counterbalance_errors",)

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


# --- fingerprints (pure) -------------------------------------------------------------------


def qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _library_paths() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {
        paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths
    }
    return tuple(sorted(found))


_LIBRARY_PATHS = _library_paths()


def frame_name(frame: FrameType) -> str:
    """``module:function`` (qualified), without a line number."""
    module = str(frame.f_globals.get("__name__", "?"))
    return f"{module}:{frame.f_code.co_qualname}"


def is_in_app(frame: FrameType) -> bool:
    """A frame of the project's code: not the standard library, site-packages or this app."""
    module = str(frame.f_globals.get("__name__", ""))
    if module.partition(".")[0] in _LIBRARY_ROOTS:
        return False
    return not frame.f_code.co_filename.startswith(_LIBRARY_PATHS)


def fingerprint(exception: BaseException | None, status: int, code: str) -> str:
    """The grouping key: exception class + in-app frames, or status + code without a traceback.

    No line numbers and no message, so a deploy that moves code or an error whose message
    carries an id does not start a new group. With no in-app frame, every frame counts.
    """
    tb = exception.__traceback__ if exception is not None else None
    if exception is None or tb is None:
        parts = ["status", str(status), code]
    else:
        frames = [frame for frame, _ in traceback.walk_tb(tb)]
        in_app = [frame for frame in frames if is_in_app(frame)] or frames
        parts = ["exception", qualified_name(type(exception)), *map(frame_name, in_app)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# --- building a record ---------------------------------------------------------------------


def _attempt(default: T, build: Callable[[], T]) -> T:
    """One part of a record; a part that cannot be built is left out, never raised."""
    try:
        return build()
    except Exception:
        return default


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _scrubber() -> Scrubber:
    names = ("SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "CSRF_HEADER_NAME")
    custom = [str(getattr(settings, name, "") or "") for name in names]
    return Scrubber([*conf.get("SCRUB_KEYS"), *custom])


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
    is scrubbed by key first and represented afterwards, any other value's repr as text."""
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


def _details(error: ApiError, scrubber: Scrubber) -> Any:
    """Validation details; a sensitive field's message may echo its value, so it is hidden."""
    details = [d.as_dict() for d in error.details]
    for detail in details:
        if scrubber.is_sensitive(detail["field"]):
            detail["message"] = FILTERED
    return scrubber.scrub(details)


def build(state: ErrorState, request: HttpRequest | None) -> Record:
    """The scrubbed record of ``state``'s error (never raises; missing parts stay empty)."""
    error: ApiError = state.error
    exception = error.exception
    scrubber = _attempt(Scrubber(), _scrubber)
    record = Record(
        logging_hash=str(state.logging_hash),
        created=timezone.now(),
        status=error.status,
        code=error.code[:64],
        fingerprint=_attempt("", lambda: fingerprint(exception, error.status, error.code)),
        message=_attempt("", lambda: scrubber.scrub_text(str(error.message), MAX_MESSAGE)),
        details=_attempt([], lambda: _details(error, scrubber)),
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
    """Build and write ``state``'s record; return :data:`STORED`, :data:`UNCOMMITTED` or
    :data:`NOT_STORED`. Never raises: what cannot be stored is logged as one JSON line."""
    if getattr(_local, "busy", False):
        # An error raised while storing another one (a signal, a DB wrapper): log only.
        fallback(_attempt(None, lambda: _bare_record(state)), "raised while storing an error")
        return NOT_STORED
    _local.busy = True
    record: Record | None = None
    try:
        record = build(state, request)
        return _write(record)
    except Exception as exc:
        fallback(record or _attempt(None, lambda: _bare_record(state)), _reason(exc))
        return NOT_STORED
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
    return _cap(f"{qualified_name(type(exc))}: {Scrubber().scrub_text(str(exc))}", 500)


def fallback(record: Record | None, reason: str, level: int = logging.ERROR) -> None:
    """One JSON line on the ``counterbalance_errors`` logger, with the hash and the record."""
    try:
        payload: dict[str, Any] = {"event": "counterbalance_errors.error", "reason": reason}
        if record is not None:
            payload.update(record.as_dict())
        line = json.dumps(payload, default=str, ensure_ascii=True)
        logging_hash = record.logging_hash if record is not None else None
        logger.log(level, "%s", line, extra={"logging_hash": logging_hash})
    except Exception:  # pragma: no cover - logging itself failed; nothing left to do
        logger.error("counterbalance_errors could not log an unstored error")


def _database_alias() -> str:
    from counterbalance_errors.models import ErrorLog

    return router.db_for_write(ErrorLog) or DEFAULT_DB_ALIAS


def isolated_alias(alias: str) -> str | None:
    """``ISOLATED_DATABASE`` when it can be used for ``alias``'s rows, else None."""
    isolated = conf.get("ISOLATED_DATABASE")
    if not isolated or isolated == alias or isolated not in connections.settings:
        return None
    if connections[isolated].vendor == "sqlite":
        # A second SQLite connection deadlocks on the first one's write lock
        # ("database is locked"); checks.py warns about this setting.
        return None
    return str(isolated)


def _write(record: Record) -> str:
    alias = _database_alias()
    connection = connections[alias]
    if connection.in_atomic_block:
        isolated = isolated_alias(alias)
        if isolated is not None and not connections[isolated].in_atomic_block:
            _insert(record, isolated)
            return STORED
        if connection.needs_rollback:
            fallback(record, "inside a transaction marked for rollback; not stored")
            return NOT_STORED
        _insert(record, alias)  # in a savepoint of the enclosing transaction
        fallback(
            record,
            "stored inside an enclosing transaction, which may still roll back",
            logging.WARNING,
        )
        return UNCOMMITTED
    _insert(record, alias)
    return STORED


def _insert(record: Record, alias: str) -> None:
    """Count the occurrence on its group and insert the row, in one short transaction.

    The count is one ``UPDATE ... SET occurrence_count = occurrence_count + 1``: exact under
    any concurrency. A missing group is created with a count of 0 by an insert that ignores
    conflicts, outside that transaction, so concurrent first occurrences neither fail nor
    hold locks that could deadlock (MariaDB); the UPDATE then counts each of them.
    """
    from counterbalance_errors.models import ErrorLog

    now = record.created
    limit = conf.get("FLOOD_LIMIT")
    cutoff = now - timedelta(seconds=conf.get("FLOOD_WINDOW"))
    for attempt in range(2):
        with transaction.atomic(using=alias):
            counted = _count(alias, record.fingerprint, now, cutoff)
            if counted is not None:
                group_id, in_window, group_traceback = counted
                full = limit is None or in_window <= limit
                row = _row(record, full)
                if row.get("traceback") == group_traceback:
                    row["traceback"] = ""  # the group's, stored once (and shown from there)
                ErrorLog.objects.using(alias).create(group_id=group_id, **row)
                return
        if attempt == 0:
            # Its own statement (or savepoint): a failure must not break a caller's transaction.
            with transaction.atomic(using=alias):
                _create_group(record, alias)
    raise RuntimeError("the error group disappeared while storing")  # purged meanwhile


def _create_group(record: Record, alias: str) -> None:
    """The group of a first occurrence, counted 0 (the UPDATE counts it); a no-op if it exists."""
    from counterbalance_errors.models import ErrorGroup

    now = record.created
    group = ErrorGroup(
        fingerprint=record.fingerprint,
        exception_class=record.exception_class,
        code=record.code,
        status=record.status,
        title=_cap(_title(record), 255),
        traceback=record.traceback,
        first_seen=now,
        last_seen=now,
        occurrence_count=0,
        window_start=now,
        window_count=0,
    )
    ErrorGroup.objects.using(alias).bulk_create([group], ignore_conflicts=True)


def _count(alias: str, fp: str, now: datetime, cutoff: datetime) -> tuple[int, int, str] | None:
    from counterbalance_errors.models import ErrorGroup

    groups = ErrorGroup.objects.using(alias).filter(fingerprint=fp)
    fresh = When(window_start__gt=cutoff, then=F("window_count") + 1)
    # MySQL/MariaDB assign left to right, each seeing the previous assignments: window_count
    # must be computed before window_start changes.
    updated = groups.update(
        occurrence_count=F("occurrence_count") + 1,
        window_count=Case(fresh, default=Value(1), output_field=PositiveIntegerField()),
        window_start=Case(
            When(window_start__gt=cutoff, then=F("window_start")),
            default=Value(now),
            output_field=DateTimeField(),
        ),
        last_seen=now,
    )
    if not updated:
        return None
    # The row is locked by the UPDATE until commit, so this reads this occurrence's count.
    return groups.select_for_update().values_list("pk", "window_count", "traceback").get()


def _title(record: Record) -> str:
    if record.exception_class:
        return f"{record.exception_class}: {record.exception_message}".strip(": ")
    return f"{record.status} {record.code}"


_COMPACT_FIELDS = frozenset(
    {
        "logging_hash",
        "created",
        "status",
        "code",
        "fingerprint",
        "message",
        "exception_class",
        "method",
        "path",
        "user_id",
        "compute_node",
        "request_id",
    }
)


def _row(record: Record, full: bool) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    if not full:
        values = {k: v for k, v in values.items() if k in _COMPACT_FIELDS}
    values["compact"] = not full
    return values


# --- retention -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Purged:
    """What :func:`purge` deleted (or, in a dry run, would delete)."""

    entries: int
    groups: int
    batches: int


def purge(
    cutoff: datetime,
    *,
    keep: int = 0,
    batch_size: int = 1000,
    commit: bool = False,
    database: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Purged:
    """Delete the entries created before ``cutoff`` (except the newest ``keep`` of each
    fingerprint), then the groups left empty and not seen since; count only unless ``commit``.

    Deletes by primary key in batches of ``batch_size``, each its own statement, so no lock is
    held for long. ``progress(count, batches)`` is called after each fingerprint's deletes.
    """
    from django.db.models import Exists, OuterRef

    from counterbalance_errors.models import ErrorGroup, ErrorLog

    alias = database or _database_alias()
    querysets = _deletable(alias, cutoff, keep)
    groups = ErrorGroup.objects.using(alias).filter(last_seen__lt=cutoff)
    empty_groups = groups.filter(~Exists(ErrorLog.objects.filter(group=OuterRef("pk"))))
    if not commit:
        entries = sum(queryset.count() for queryset in querysets)
        # Without `keep`, every entry of a group last seen before the cutoff goes.
        return Purged(entries, (empty_groups if keep else groups).count(), 0)
    deleted = batches = 0
    for queryset in querysets:
        count, runs = _delete_in_batches(queryset, batch_size)
        deleted += count
        batches += runs
        if runs and progress is not None:
            progress(count, runs)
    deleted_groups, _ = _delete_in_batches(empty_groups, batch_size)
    return Purged(deleted, deleted_groups, batches)


def _deletable(alias: str, cutoff: datetime, keep: int) -> list[Any]:
    """All old entries, or per fingerprint the old ones behind its newest ``keep``."""
    from django.db.models import Q

    from counterbalance_errors.models import ErrorLog

    old = ErrorLog.objects.using(alias).filter(created__lt=cutoff)
    if not keep:
        return [old]
    querysets = []
    fingerprints = old.order_by().values_list("fingerprint", flat=True).distinct()
    for fp in fingerprints.iterator():
        newest = (
            ErrorLog.objects.using(alias)
            .filter(fingerprint=fp)
            .order_by("-created", "-pk")
            .values_list("created", "pk")[keep - 1 : keep]
        )
        boundary = list(newest)
        if not boundary:
            continue  # fewer than `keep` entries: all kept
        created, pk = boundary[0]
        behind = Q(created__lt=created) | Q(created=created, pk__lt=pk)
        querysets.append(old.filter(behind, fingerprint=fp))
    return querysets


def _delete_in_batches(queryset: Any, batch_size: int) -> tuple[int, int]:
    """Delete ``queryset`` in primary-key batches; each DELETE repeats its conditions.

    An occurrence may arrive between selecting a batch and deleting it: an entry that no longer
    matches is kept, and a group is deleted by one plain DELETE (its conditions say it has no
    entries), never by Django's cascade, which would take a brand-new entry with it. If the
    entry is inserted while that DELETE runs, the foreign key refuses the DELETE instead.
    """
    from counterbalance_errors.models import ErrorGroup

    deleted = runs = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted, runs
        batch = queryset.filter(pk__in=pks)
        if queryset.model is ErrorGroup:
            deleted += batch._raw_delete(queryset.db)
        else:
            deleted += batch.delete()[0]
        runs += 1


# --- logging -------------------------------------------------------------------------------


class LoggingHashFilter(logging.Filter):
    """Adds ``logging_hash`` to log records that carry a ``request`` (``django.request``).

    Installed on the ``django.request`` logger when the app is ready; add it to your own
    handlers too (``"()": "counterbalance_errors.recording.LoggingHashFilter"``) to see the
    hash in structlog, Sentry or JSON log output.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "logging_hash", None) is None:
            from counterbalance_errors.responses import get_logging_hash

            request = getattr(record, "request", None)
            record.logging_hash = get_logging_hash(request) if request is not None else None
        return True


def install_logging_filter() -> None:
    request_logger = logging.getLogger("django.request")
    if not any(isinstance(f, LoggingHashFilter) for f in request_logger.filters):
        request_logger.addFilter(LoggingHashFilter())
