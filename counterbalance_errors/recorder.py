"""Writing logged errors: the only ORM writer of ``ErrorLog`` and ``ErrorGroup``.

:func:`write` stores one scrubbed :class:`~counterbalance_errors.capture.Record`. If the
connection is still inside a transaction (another middleware or the caller wrapped the request
in ``atomic()``), the row goes through ``ISOLATED_DATABASE`` when one is configured, else into
a savepoint, and a fallback log line keeps the record in case the enclosing transaction rolls
back. ``transaction.on_commit`` is never used: a rollback discards it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models import Case, DateTimeField, F, PositiveIntegerField, Value, When

from counterbalance_errors import conf
from counterbalance_errors.logs import fallback

if TYPE_CHECKING:
    from counterbalance_errors.capture import Record


class Pending(Protocol):
    """What :func:`submit` takes: a captured error not built into a record yet."""

    logging_hash: str

    def build(self) -> Record: ...

    def bare(self) -> Record: ...


#: Outcomes of :func:`write`.
STORED = "stored"
UNCOMMITTED = "uncommitted"
NOT_STORED = "not stored"


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked as truncated."""
    from counterbalance_errors.scrubbing import TRUNCATED

    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def database_alias() -> str:
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


def write(record: Record) -> str:
    """Store ``record``; return :data:`STORED`, :data:`UNCOMMITTED` or :data:`NOT_STORED`."""
    alias = database_alias()
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


_submitting = threading.local()


def submit(item: Pending) -> None:
    """Store ``item.build()`` now, on this thread; never raises.

    A stand-in with today's synchronous behaviour until the background recorder replaces it.
    What cannot be stored is logged as one line (the built record, else ``item.bare()``).
    """
    from counterbalance_errors.fingerprints import qualified_name
    from counterbalance_errors.scrubbing import Scrubber

    if getattr(_submitting, "busy", False):
        # An error raised while storing another one (a signal, a DB wrapper): log only.
        fallback(item.bare(), "raised while storing an error")
        return
    _submitting.busy = True
    record: Record | None = None
    try:
        record = item.build()
        write(record)
    except Exception as exc:
        reason = f"{qualified_name(type(exc))}: {Scrubber().scrub_text(str(exc))}"
        fallback(record or item.bare(), cap(reason, 500))
    finally:
        _submitting.busy = False


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
        title=cap(_title(record), 255),
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
    # Not columns yet (the i8-recorder branch adds them to ErrorLog).
    del values["trace_id"], values["sentry_event_id"]
    if not full:
        values = {k: v for k, v in values.items() if k in _COMPACT_FIELDS}
    values["compact"] = not full
    return values
