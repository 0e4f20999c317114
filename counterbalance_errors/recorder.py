"""Writing logged errors: the only ORM writer of ``ErrorLog`` and ``ErrorGroup``.

:func:`submit` hands over one pending record (an object with ``logging_hash``, ``build()`` and
``bare()``). In the default ``"background"`` mode it goes into a bounded per-process queue and
the request thread returns at once; a writer thread builds the records (format + scrub) and
stores them in batches on its own connection, so always outside the request's transaction.
In ``"sync"`` mode (and under Django's test environment, see ``docs/logged-errors.md``) the
record is written on the calling thread, with the rules below.

The rules of a write on the caller's connection: if the connection is still inside a
transaction (another middleware or the caller wrapped the request in ``atomic()``), the row goes
through ``ISOLATED_DATABASE`` when one is configured, else into a savepoint, and a fallback log
line keeps the record in case the enclosing transaction rolls back. ``transaction.on_commit`` is
never used: a rollback discards it.

Every hash submitted ends in exactly one place: a stored row or a fallback line
(:func:`stats`), except an item whose COMMIT was on the wire when the process ended (its hash is
still on the ``django.request`` line).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from django.core import mail
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from counterbalance_errors import conf
from counterbalance_errors.guard import guarded
from counterbalance_errors.logs import fallback

if TYPE_CHECKING:
    from counterbalance_errors.capture import Record
    from counterbalance_errors.models import ErrorGroup

logger = logging.getLogger("counterbalance_errors")

#: Outcomes of :func:`write`.
STORED = "stored"
UNCOMMITTED = "uncommitted"
NOT_STORED = "not stored"


class Pending(Protocol):
    """What :func:`submit` takes: read on the request thread, built on the writer's."""

    @property
    def logging_hash(self) -> str: ...

    def build(self, *, defer_traceback: bool = False) -> Record:
        """The formatted, scrubbed record (may raise: then :meth:`bare` is stored); with
        ``defer_traceback``, its traceback may be left to ``Record.complete()``."""
        ...

    def bare(self) -> Record:
        """A minimal record (hash, time, status, code, exception class); never raises."""
        ...


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
    # PostgreSQL and MariaDB only (SQLite is refused above): tests/
    # test_recording_transactions.py::test_isolated_database_commits_despite_an_outer_rollback
    return str(isolated)  # pragma: no cover - see above


def reason_of(exc: BaseException) -> str:
    """A scrubbed one-line reason for a fallback line."""
    from counterbalance_errors.fingerprints import qualified_name
    from counterbalance_errors.scrubbing import Scrubber

    try:
        message = str(exc)
    except Exception:  # its __str__ raised: the record must still reach its fallback line
        message = "[unprintable]"
    return cap(f"{qualified_name(type(exc))}: {Scrubber().scrub_text(message)}", 500)


# --- the accounting every mode shares -------------------------------------------------------


class _Ledger:
    """Counts of hashes handed over and where each ended; :func:`flush` waits on it."""

    def __init__(self) -> None:
        #: The condition's own lock: taken directly (a C call) where nobody is to be woken.
        self.mutex = threading.Lock()
        self.condition = threading.Condition(self.mutex)
        self.counts: Counter[str] = Counter()

    def add(self, what: str, n: int = 1) -> None:
        """Count a settlement (stored, fallback, unknown) and wake :func:`flush`'s waiters."""
        with self.condition:
            self.counts[what] += n
            self.condition.notify_all()

    def submitted(self) -> None:
        """Count a hash handed over; nobody waits for that, so nobody is woken."""
        with self.mutex:
            self.counts["submitted"] += 1

    def settled(self) -> bool:
        c = self.counts
        return c["submitted"] <= c["stored"] + c["fallback"] + c["unknown"]

    def wait(self, timeout: float | None) -> bool:
        with self.condition:
            return self.condition.wait_for(self.settled, timeout)


_ledger = _Ledger()


def stats() -> dict[str, int]:
    """This process's counts: ``submitted``, ``stored``, ``fallback`` (by reason:
    ``fallback_full``, ``fallback_deadline``, ``fallback_error``, ``fallback_shutdown``) and
    ``unknown`` (a COMMIT in flight at exit). submitted = stored + fallback + unknown + queued."""
    with _ledger.condition:
        return dict(_ledger.counts)


def _fallback(records: Iterable[Record], reason: str, kind: str) -> None:
    n = 0
    for record in records:
        fallback(record, reason)
        n += 1
    if n:
        _ledger.add(f"fallback_{kind}", n)
        _ledger.add("fallback", n)


def build(item: Pending) -> Record:
    """``item.build()``, or its bare record when building fails (never raises). The traceback
    is deferred: only a full entry (:func:`_row`) or a fallback line formats it."""
    try:
        record = item.build(defer_traceback=True)
    except Exception:
        logger.warning("counterbalance_errors: building a logged error failed", exc_info=True)
        record = item.bare()
    if not record.fingerprint:  # a bare record: grouped by status and code
        from counterbalance_errors.fingerprints import fingerprint

        record.fingerprint = fingerprint(None, record.status, record.code)
    return record


# --- submitting -------------------------------------------------------------------------------


def in_test_environment() -> bool:
    """Django's test environment is set up (its runner, pytest-django): ``mail.outbox``."""
    return hasattr(mail, "outbox")


def writes_on_caller() -> bool:
    """Whether :func:`submit` writes on the calling thread (sync mode, or tests)."""
    values = conf.effective().values
    if values["RECORDER"] == "sync":
        return True
    return in_test_environment() and not values["RECORDER_THREAD_IN_TESTS"]


def submit(item: Pending) -> None:
    """Store ``item`` (now or in the background); never raises, never waits on the database
    in background mode (a full queue sends the record to the fallback line)."""
    try:
        if writes_on_caller():
            _ledger.submitted()
            _write_on_caller(item)
        else:
            writer().put(item)
    except Exception as exc:  # pragma: no cover - a bug; the hash must still be logged
        try:
            _fallback([item.bare()], reason_of(exc), "error")
        except Exception:
            logger.exception("counterbalance_errors: a logged error was lost")


#: Set while this thread writes on the caller's behalf (re-entry means an error was raised by
#: the storing itself: a signal receiver, a database wrapper).
_caller = threading.local()


def _write_on_caller(item: Pending) -> None:
    if getattr(_caller, "busy", False):
        _fallback([item.bare()], "raised while storing an error", "error")
        return
    _caller.busy = True
    try:
        _write_built(build(item))
    finally:
        _caller.busy = False


def _write_built(record: Record) -> None:
    try:
        outcome = write(record)
    except Exception as exc:
        _fallback([record], reason_of(exc), "error")
        return
    if outcome == NOT_STORED:
        _ledger.add("fallback_error")
        _ledger.add("fallback")
    else:
        _ledger.add("stored")


def flush(timeout: float | None = None) -> bool:
    """Wait until everything submitted so far (in this process) is stored or in a fallback
    line; False if ``timeout`` seconds passed first."""
    current = _writer
    if current is not None and current.pid == os.getpid():
        current.wake()
    return _ledger.wait(timeout)


# --- writing on the caller's connection (sync mode, tests) ---------------------------------


def write(record: Record) -> str:
    """Store ``record``; return :data:`STORED`, :data:`UNCOMMITTED` or :data:`NOT_STORED`."""
    alias = database_alias()
    connection = connections[alias]
    if connection.in_atomic_block:
        isolated = isolated_alias(alias)
        # PostgreSQL and MariaDB only (isolated_alias refuses SQLite): tests/
        # test_recording_transactions.py::test_isolated_database_commits_despite_an_outer_rollback
        if isolated is not None and not connections[isolated].in_atomic_block:  # pragma: no cover
            write_batch([record], isolated)
            return STORED
        if connection.needs_rollback:
            fallback(record, "inside a transaction marked for rollback; not stored")
            return NOT_STORED
        write_batch([record], alias)  # in a savepoint of the enclosing transaction
        fallback(
            record,
            "stored inside an enclosing transaction, which may still roll back",
            logging.WARNING,
        )
        return UNCOMMITTED
    write_batch([record], alias)
    return STORED


# --- one batch ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Event:
    signal: str
    group_id: int
    logging_hash: str


@dataclass(slots=True)
class Batch:
    """Items taken by the writer. Under the writer's lock: ``committing`` is set just before
    the COMMIT is sent; ``unknown`` after a COMMIT whose answer was lost (the rows are looked
    up before anything else); ``settled`` once each hash is counted as stored, fallback or
    unknown (by the writer, the watchdog or at exit; the writer then rolls back)."""

    items: list[_Item]
    taken: float
    records: list[Record] = field(default_factory=list)
    committing: bool = False
    unknown: bool = False
    settled: bool = False

    def as_records(self) -> list[Record]:
        """The built records, or bare ones while they are still being built."""
        return self.records or [i.item.bare() for i in self.items]


class Abandoned(Exception):
    """The batch went to the fallback line while the database hung: roll it back."""


def write_batch(
    records: list[Record],
    alias: str,
    before_commit: Callable[[], None] | None = None,
) -> None:
    """Store ``records`` on ``alias`` in one transaction: one UPDATE per group, hour buckets
    and users per group, one multi-row INSERT of the entries. Signals are sent after it.

    Outside a caller's transaction, the process remembers the groups, hour buckets and users
    it has seen committed (:class:`_Known`), so a batch of known ones is only the counting
    transaction. A remembered row that is gone (purged, deleted in the admin) matches no row
    in its UPDATE: the batch is rolled back, everything remembered is forgotten and the batch
    is written again from a fresh look-up, so no count is lost.

    ``before_commit`` runs last inside the transaction (the writer marks the batch as
    committing there; raising rolls everything back).
    """
    events: list[_Event] = []
    # Inside a caller's transaction what is created may still be rolled back: remember nothing.
    known = None if connections[alias].in_atomic_block else _known_of(alias)
    # One attempt may be spent on remembered rows that are gone, two on purges meanwhile.
    for _attempt in range(3):
        groups = _groups(records, alias, known)
        if groups is not None:
            _prepare(records, groups, alias, known)
            with transaction.atomic(using=alias):
                _limit_statements(alias)
                if _count_and_insert(records, groups, alias, events):
                    if before_commit is not None:
                        before_commit()
                    break
                # Roll back what was counted before the missing row was met.
                transaction.set_rollback(True, using=alias)
            events.clear()
            if known is not None:
                known.forget()
    else:
        raise RuntimeError("the error group disappeared while storing")  # purged meanwhile
    try:
        _send(events, alias)
    except Exception:  # the batch is committed: a signal's failure must not undo that
        logger.exception("counterbalance_errors: sending the error group signals failed")


#: How many groups, hour buckets and users a process remembers per database at most; past it,
#: it forgets them all and looks them up again.
KNOWN_LIMIT = 10_000


class _Known:
    """The groups (fingerprint → id), hour buckets and users this process saw committed on one
    database. Shared by the threads that write (the writer, or request threads in sync mode)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.groups: dict[str, int] = {}
        self.hours: set[tuple[int, datetime]] = set()
        self.users: set[tuple[int, str]] = set()

    def group_ids(self, fingerprints: Iterable[str]) -> dict[str, int] | None:
        """The remembered id of every fingerprint, or None if one is not remembered."""
        with self.lock:
            try:
                return {fp: self.groups[fp] for fp in fingerprints}
            except KeyError:
                return None

    def unknown(
        self, hours: set[tuple[int, datetime]], users: set[tuple[int, str]]
    ) -> tuple[set[tuple[int, datetime]], set[tuple[int, str]]]:
        with self.lock:
            return hours - self.hours, users - self.users

    def remember(
        self,
        groups: dict[str, int] | None = None,
        hours: Iterable[tuple[int, datetime]] = (),
        users: Iterable[tuple[int, str]] = (),
    ) -> None:
        with self.lock:
            if len(self.groups) + len(self.hours) + len(self.users) > KNOWN_LIMIT:
                self.groups, self.hours, self.users = {}, set(), set()
            self.groups.update(groups or {})
            self.hours.update(hours)
            self.users.update(users)

    def forget(self) -> None:
        with self.lock:
            self.groups, self.hours, self.users = {}, set(), set()


_known: dict[str, _Known] = {}


def _known_of(alias: str) -> _Known:
    return _known.setdefault(alias, _Known())


def _groups(records: list[Record], alias: str, known: _Known | None) -> dict[str, int] | None:
    """Every fingerprint's group id; missing groups are created first with a count of 0, by an
    insert that ignores conflicts, outside the counting transaction (so concurrent first
    occurrences neither fail nor hold locks that could deadlock on MariaDB)."""
    from counterbalance_errors.models import ErrorGroup

    wanted = {r.fingerprint: r for r in records}
    if known is not None and (remembered := known.group_ids(wanted)) is not None:
        return remembered
    ids = _group_ids(alias, wanted)
    missing = [r for fp, r in wanted.items() if fp not in ids]
    if missing:
        with transaction.atomic(using=alias):  # a savepoint inside a caller's transaction
            ErrorGroup.objects.using(alias).bulk_create(
                [_new_group(r) for r in missing], ignore_conflicts=True
            )
        ids = _group_ids(alias, wanted)
    if len(ids) != len(wanted):
        return None
    if known is not None:
        known.remember(groups=ids)
    return ids


def _group_ids(alias: str, fingerprints: Iterable[str]) -> dict[str, int]:
    from counterbalance_errors.models import ErrorGroup

    rows = ErrorGroup.objects.using(alias).filter(fingerprint__in=list(fingerprints))
    return dict(rows.values_list("fingerprint", "pk"))


def _new_group(record: Record) -> ErrorGroup:
    from counterbalance_errors.models import ErrorGroup

    return ErrorGroup(
        fingerprint=record.fingerprint,
        exception_class=record.exception_class,
        code=record.code,
        status=record.status,
        title=cap(_title(record), 255),
        first_seen=record.created,
        last_seen=record.created,
        occurrence_count=0,
        window_start=record.created,
        window_count=0,
    )


def hour_of(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _prepare(
    records: list[Record], groups: dict[str, int], alias: str, known: _Known | None
) -> None:
    """Hour buckets (count 0) and users, by inserts that ignore conflicts, before counting;
    those this process remembers are skipped."""
    from counterbalance_errors.models import ErrorGroupHour, ErrorGroupUser

    hours = {(groups[r.fingerprint], hour_of(r.created)) for r in records}
    users = {(groups[r.fingerprint], r.user_id) for r in records if r.user_id}
    if known is not None:
        hours, users = known.unknown(hours, users)
    if not (hours or users):
        return
    with transaction.atomic(using=alias):
        ErrorGroupHour.objects.using(alias).bulk_create(
            [ErrorGroupHour(group_id=g, hour=h, count=0) for g, h in sorted(hours)],
            ignore_conflicts=True,
        )
        ErrorGroupUser.objects.using(alias).bulk_create(
            [ErrorGroupUser(group_id=g, user_id=u) for g, u in sorted(users)],
            ignore_conflicts=True,
        )
    if known is not None:
        known.remember(hours=hours, users=users)


def _limit_statements(alias: str) -> None:
    """The writer's statement and lock timeouts, in each batch transaction, in one statement:
    PostgreSQL ``statement_timeout`` and ``lock_timeout`` (as ``SET LOCAL`` sets them);
    MariaDB ``max_statement_time`` and ``innodb_lock_wait_timeout`` (MySQL:
    ``max_execution_time``, SELECTs only). SQLite has its busy timeout from the connection
    options (:func:`_bounded_options`)."""
    connection = connections[alias]
    # The caller's connection (sync mode, tests) keeps today's rules. PostgreSQL and MariaDB
    # only: tests/test_recorder_background.py::
    # test_the_writers_batch_transaction_carries_statement_and_lock_timeouts
    if getattr(_thread, "bounded", False) and connection.vendor in ("postgresql", "mysql"):
        _set_timeouts(connection, conf.get("RECORDER_STATEMENT_TIMEOUT"))  # pragma: no cover


def _set_timeouts(connection: Any, seconds: float) -> None:  # pragma: no cover - see above
    ms = int(seconds * 1000)
    if connection.vendor == "postgresql":
        # One statement for both; is_local (true): until the transaction ends, as SET LOCAL.
        statements = [
            f"SELECT set_config('statement_timeout', '{ms}', true),"
            f" set_config('lock_timeout', '{ms}', true)"
        ]
    else:
        limit = (
            f"max_statement_time = {seconds:g}"
            if getattr(connection, "mysql_is_mariadb", False)
            else f"max_execution_time = {ms}"
        )
        statements = [f"SET SESSION {limit}, innodb_lock_wait_timeout = {max(1, round(seconds))}"]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _count_and_insert(
    records: list[Record], groups: dict[str, int], alias: str, events: list[_Event]
) -> bool:
    """In the batch transaction: count each group once, then insert every entry."""
    from counterbalance_errors.models import ErrorGroup, ErrorLog

    by_group: dict[int, list[Record]] = {}
    for record in records:
        by_group.setdefault(groups[record.fingerprint], []).append(record)
    limit = conf.get("FLOOD_LIMIT")
    window = timedelta(seconds=conf.get("FLOOD_WINDOW"))
    rows: list[ErrorLog] = []
    for group_id in sorted(by_group):  # one lock order in every process: no deadlock
        mine = by_group[group_id]
        n = len(mine)
        now = max(r.created for r in mine)
        counted = _count_group(alias, group_id, mine[0].fingerprint, n, now, now - window)
        if counted is None:
            return False
        count, in_window, state = counted
        first = min(mine, key=lambda r: r.created).logging_hash
        if count == n:  # counted from 0 by this batch: it created the group
            events.append(_Event("created", group_id, first))
        if state == ErrorGroup.State.RESOLVED:
            ErrorGroup.objects.using(alias).filter(pk=group_id).update(
                state=ErrorGroup.State.UNRESOLVED, regressed_at=now, regressed_hash=first
            )
            events.append(_Event("regressed", group_id, first))
        hours = Counter(hour_of(r.created) for r in mine)
        for hour, c in sorted(hours.items()):
            if not _count_hour(alias, group_id, hour, c):
                return False
        before = in_window - n  # full records already kept in this window
        for k, record in enumerate(mine, start=1):
            full = limit is None or before + k <= limit
            rows.append(ErrorLog(group_id=group_id, **_row(record, full)))
    ErrorLog.objects.using(alias).bulk_create(rows)
    return True


def _columns_of(model: Any, connection: Any, *names: str) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(name).column) for name in names]


#: The ErrorGroup columns :func:`_count_group` names.
_COUNTED = (
    "id",
    "fingerprint",
    "occurrence_count",
    "window_count",
    "window_start",
    "last_seen",
    "state",
)


def _count_group(
    alias: str, group_id: int, fingerprint: str, n: int, now: datetime, cutoff: datetime
) -> tuple[int, int, str] | None:
    """One UPDATE of a group's counters, its flood window restarted at ``now`` if it began
    before ``cutoff``; then its occurrence count, window count and state, or None if the row
    is gone (or its id is now another fingerprint's: a remembered id is never trusted alone).
    Raw SQL: the ORM's UPDATE has no RETURNING, and compiling it was a good part of the
    writer's work per batch."""
    from counterbalance_errors.models import ErrorGroup

    connection = connections[alias]
    table = connection.ops.quote_name(ErrorGroup._meta.db_table)
    pk, key, count, in_window, start, last, state = _columns_of(ErrorGroup, connection, *_COUNTED)
    adapt = connection.ops.adapt_datetimefield_value
    # MySQL/MariaDB assign left to right, each seeing the previous assignments:
    # window_count must be computed before window_start changes.
    update = (
        f"UPDATE {table} SET {count} = {count} + %s,"
        f" {in_window} = CASE WHEN {start} > %s THEN {in_window} + %s ELSE %s END,"
        f" {start} = CASE WHEN {start} > %s THEN {start} ELSE %s END,"
        f" {last} = %s WHERE {pk} = %s AND {key} = %s"
    )
    params = [n, adapt(cutoff), n, n, adapt(cutoff), adapt(now), adapt(now), group_id, fingerprint]
    counts = f"{count}, {in_window}, {state}"
    with connection.cursor() as cursor:
        # PostgreSQL and SQLite 3.35+ return the counts; MySQL/MariaDB have no UPDATE ...
        # RETURNING (make test-mariadb runs that branch).
        if connection.vendor != "mysql" and connection.features.can_return_columns_from_insert:
            cursor.execute(f"{update} RETURNING {counts}", params)
            row = cursor.fetchone()
        else:  # pragma: no cover - see above
            cursor.execute(update, params)
            row = None
            if cursor.rowcount:
                # The row is locked by the UPDATE until commit: these are this batch's numbers.
                cursor.execute(f"SELECT {counts} FROM {table} WHERE {pk} = %s", [group_id])
                row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]))


def _count_hour(alias: str, group_id: int, hour: datetime, n: int) -> bool:
    """Add ``n`` to a group's hour bucket; False if the bucket is gone."""
    from counterbalance_errors.models import ErrorGroupHour

    connection = connections[alias]
    table = connection.ops.quote_name(ErrorGroupHour._meta.db_table)
    group, at, count = _columns_of(ErrorGroupHour, connection, "group", "hour", "count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {count} = {count} + %s WHERE {group} = %s AND {at} = %s",
            [n, group_id, connection.ops.adapt_datetimefield_value(hour)],
        )
        return bool(cursor.rowcount)


def _send(events: list[_Event], alias: str) -> None:
    """The group signals, after the batch is committed; a failing receiver is logged."""
    if not events:
        return
    from counterbalance_errors import signals
    from counterbalance_errors.models import ErrorGroup

    by_id = ErrorGroup.objects.using(alias).in_bulk({e.group_id for e in events})
    for event in events:
        group = by_id.get(event.group_id)
        if group is None:
            continue
        signal = (
            signals.error_group_created
            if event.signal == "created"
            else signals.error_group_regressed
        )
        for _receiver, result in signal.send_robust(
            sender=ErrorGroup, group=group, logging_hash=event.logging_hash
        ):
            if isinstance(result, Exception):
                logger.error(
                    "counterbalance_errors: a receiver of error_group_%s raised",
                    event.signal,
                    exc_info=result,
                )


def _title(record: Record) -> str:
    if record.exception_class:
        return f"{record.exception_class}: {record.exception_message}".strip(": ")
    return f"{record.status} {record.code}"


#: What a compact entry keeps: what tells this occurrence apart (its group holds the rest;
#: its request and trace ids are left out, which keeps it out of their indexes: 100 bytes).
_COMPACT_FIELDS = frozenset(
    {
        "logging_hash",
        "created",
        "status",
        "method",
        "path",
        "user_id",
        "compute_node",
    }
)
_JSON_FIELDS = frozenset({"details", "frame_locals", "query", "headers", "body"})


def _columns() -> frozenset[str]:
    from counterbalance_errors.models import ErrorLog

    return frozenset(f.name for f in ErrorLog._meta.concrete_fields) - {"id", "group", "compact"}


def _row(record: Record, full: bool) -> dict[str, Any]:
    if full:
        record.complete()  # the traceback is made for full entries only
    values = {name: getattr(record, name) for name in _columns() if hasattr(record, name)}
    if not full:
        values = {k: v for k, v in values.items() if k in _COMPACT_FIELDS}
    elif values.get("body") is None:
        values.pop("body", None)
    for name in _JSON_FIELDS & values.keys():
        if values[name] in ({}, [], None):
            values[name] = None  # SQL NULL, not the JSON '{}' or '[]'
    values["compact"] = not full
    return values


# --- the background writer ----------------------------------------------------------------------

_thread = threading.local()


@dataclass(slots=True)
class _Item:
    item: Pending
    queued: float


#: The fallback line's reason for a record the process did not store before it exited.
_EXITED = "the process exited before the recorder stored it"

#: Releases the interpreter once, so that a thread waiting for it (the writer, back from the
#: database) takes it now rather than after the switch interval (5 ms). On Linux a zero sleep
#: lasts the timer slack (about 70 µs), long enough for the waiting thread to take it first.
_give_way = functools.partial(time.sleep, 0)


class Writer:
    """One per process: a bounded queue, the writer thread and its watchdog.

    The watchdog hands to the fallback line the items queued longer than
    ``RECORDER_DEADLINE`` seconds, and the taken batch too while its COMMIT has not been sent
    (the writer then rolls it back): a frozen database server cannot enforce its own timeouts,
    and nothing ends up both stored and in a fallback line.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.pid = os.getpid()
        self.clock = clock
        #: The condition's own lock, taken directly (a C call) by request threads.
        self.mutex = threading.Lock()
        self.lock = threading.Condition(self.mutex)
        self.queue: deque[_Item] = deque()
        self.batch: Batch | None = None
        self.stopping = False
        #: :meth:`wake` asked for the queue to be taken at once (until it is empty).
        self.flushing = False
        self.threads: list[threading.Thread] = []
        if start:
            for target, name in ((self.run, "writer"), (self.watch, "watchdog")):
                thread = threading.Thread(
                    target=target, name=f"counterbalance_errors-{name}", daemon=True
                )
                thread.start()
                self.threads.append(thread)

    # -- request threads --

    def put(self, item: Pending) -> None:
        """Queue ``item``, or send it to the fallback line if the queue is full; never waits
        on the database (at most it pauses to give way, below). The writer is woken only by a
        full batch (or with ``RECORDER_LINGER`` 0): otherwise it takes the queue on its own, so
        a request does not hand it the interpreter in the middle of its work.

        When two full batches were already waiting, the writer is behind: each of its database
        round trips gives up the interpreter, and a request thread that never does I/O (the
        test client in a loop) would keep it for the whole switch interval every time, until
        the queue overflows. The request thread then gives way once (``time.sleep(0)``), after
        queueing its record (docs/logged-errors.md, "When the writer falls behind")."""
        _ledger.submitted()
        values = conf.effective().values
        batch = values["RECORDER_BATCH_SIZE"]
        with self.mutex:
            queued, stopping = len(self.queue), self.stopping
            full = queued >= values["RECORDER_QUEUE_SIZE"]
            if not (full or stopping):
                self.queue.append(_Item(item, self.clock()))
                if queued + 1 >= batch or not values["RECORDER_LINGER"]:
                    self.lock.notify_all()
        if stopping:
            _fallback([item.bare()], _EXITED, "shutdown")
        elif full:
            _fallback([item.bare()], "the recorder's queue is full; not stored", "full")
        elif queued >= 2 * batch:
            _give_way()

    def wake(self) -> None:
        """Make the writer take what is queued now, without lingering (:func:`flush`)."""
        with self.lock:
            self.flushing = True
            self.lock.notify_all()

    # -- the writer thread --

    def take(self) -> Batch | None:
        """The next batch: up to RECORDER_BATCH_SIZE items, once RECORDER_LINGER has passed
        since the first was queued, the batch is full, or :meth:`wake` asked; None when
        stopping with nothing left. An idle writer looks at the queue every RECORDER_LINGER
        (nobody wakes it for a single record)."""
        size = conf.get("RECORDER_BATCH_SIZE")
        linger = conf.get("RECORDER_LINGER")
        with self.lock:
            end: float | None = None
            while True:
                if not self.queue:
                    if self.stopping:
                        return None
                    end, self.flushing = None, False
                    self.lock.wait(linger or None)
                    continue
                if len(self.queue) >= size or self.stopping or self.flushing:
                    break
                if end is None:
                    waited = self.clock() - self.queue[0].queued
                    end = time.monotonic() + max(0.0, linger - waited)
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            items = [self.queue.popleft() for _ in range(min(size, len(self.queue)))]
            if not self.queue:
                self.flushing = False
            # The deadline counts from the oldest record's submission, queued or taken.
            batch = self.batch = Batch(items, items[0].queued)
        # Built outside the lock: format + scrub run here, on the writer thread.
        records = [build(i.item) for i in items]
        with self.lock:
            batch.records = records
        return batch

    def run(self) -> None:
        _thread.bounded = True
        alias = database_alias()
        _bound_connection(alias)
        while True:
            batch = self.take()
            if batch is None:
                self._close(alias)
                return
            # store() ends every failure in a fallback line; the guard only keeps a bug (or a
            # backend that raises while closing) from ending the writer thread.
            with guarded("counterbalance_errors: the recorder could not store a batch"):
                # As after a request: CONN_MAX_AGE decides whether the connection stays.
                self.store(batch, alias, connections[alias].close_if_unusable_or_obsolete)

    def store(self, batch: Batch, alias: str, done: Callable[[], None] | None = None) -> None:
        """Write ``batch``; while the database is down retry until its deadline, then send it
        to the fallback line. A COMMIT whose answer was lost is checked before a retry.

        ``done`` runs once the batch is written, before it is counted as stored: the writer's
        work for a batch is over when :func:`flush` returns."""
        pause = 0.1
        stored = 0
        while not self._check(batch, alias):
            try:
                write_batch(batch.records, alias, lambda: self._committing(batch))
            except Abandoned:
                break
            except Exception as exc:
                self._close(alias)
                give_up: list[Record] = []
                with self.lock:
                    if batch.settled:
                        break
                    if batch.committing:
                        batch.committing, batch.unknown = False, True
                    elif self.stopping or self.clock() - batch.taken > conf.get(
                        "RECORDER_DEADLINE"
                    ):
                        batch.settled = True
                        give_up = batch.records
                if give_up:
                    _fallback(give_up, reason_of(exc), "error")
                    break
                with self.lock:
                    self.lock.wait(pause)
                pause = min(pause * 2, 2.0)
            else:
                with self.lock:
                    batch.settled = True
                stored = len(batch.records)
                break
        try:
            if done is not None:
                done()
        finally:
            with self.lock:
                self.batch = None
                if self.stopping:  # the watchdog ends once the last batch is done
                    self.lock.notify_all()
            if stored:
                _ledger.add("stored", stored)

    def _check(self, batch: Batch, alias: str) -> bool:
        """After a lost COMMIT answer: count what was stored, keep the rest; True if settled."""
        if batch.settled:
            return True
        if not batch.unknown:
            return False
        from counterbalance_errors.models import ErrorLog

        try:
            hashes = [r.logging_hash for r in batch.records]
            rows = ErrorLog.objects.using(alias).filter(logging_hash__in=hashes)
            stored = set(rows.values_list("logging_hash", flat=True))
        except Exception:
            self._close(alias)
            with self.lock:
                if self.stopping:  # cannot know: its hashes are on the django.request lines
                    batch.settled = True
                    _ledger.add("unknown", len(batch.records))
                    return True
                self.lock.wait(0.5)
            return False
        _ledger.add("stored", len(stored))
        with self.lock:
            batch.unknown = False
            batch.records = [r for r in batch.records if r.logging_hash not in stored]
            if not batch.records:
                batch.settled = True
        return batch.settled

    def _committing(self, batch: Batch) -> None:
        with self.lock:
            if batch.settled:
                raise Abandoned
            batch.committing = True

    def _close(self, alias: str) -> None:
        connections[alias].close()  # a failed batch: the next attempt reconnects

    # -- the watchdog --

    def watch(self) -> None:
        while True:
            deadline = conf.get("RECORDER_DEADLINE")
            with self.lock:
                if self.stopping and not self.queue and self.batch is None:
                    return
                self.lock.wait(min(1.0, deadline / 4))
            self.expire()

    def expire(self) -> int:
        """Send what waited longer than RECORDER_DEADLINE to the fallback line; return how
        many. Only items the writer has not taken, or a taken batch whose COMMIT is not sent."""
        deadline = conf.get("RECORDER_DEADLINE")
        now = self.clock()
        late: list[Pending] = []
        abandoned: list[Record] = []
        with self.lock:
            while self.queue and now - self.queue[0].queued > deadline:
                late.append(self.queue.popleft().item)
            batch = self.batch
            if (
                batch is not None
                and not (batch.committing or batch.unknown or batch.settled)
                and now - batch.taken > deadline
            ):
                batch.settled = True
                abandoned = batch.as_records()
        reason = f"not stored within RECORDER_DEADLINE ({deadline} s): the database is slow or down"
        _fallback(abandoned, reason, "deadline")
        _fallback((build(item) for item in late), reason, "deadline")
        return len(late) + len(abandoned)

    # -- shutdown --

    def shutdown(self, timeout: float) -> None:
        """Flush for up to ``timeout`` seconds, then send what is left to the fallback line."""
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))
        late: list[Pending] = []
        abandoned: list[Record] = []
        with self.lock:
            while self.queue:
                late.append(self.queue.popleft().item)
            batch = self.batch
            if batch is not None and not batch.settled:
                batch.settled = True
                if batch.committing or batch.unknown:
                    _ledger.add("unknown", len(batch.items))
                else:
                    abandoned = batch.as_records()
        _fallback(abandoned, _EXITED, "shutdown")
        _fallback((build(item) for item in late), _EXITED, "shutdown")


def _bound_connection(alias: str) -> None:
    """The writer thread's own connection: connect, statement and lock timeouts, keepalive.

    Django's connections are per thread: this changes only the writer's copy of the settings.
    """
    connection = connections[alias]
    seconds = conf.get("RECORDER_STATEMENT_TIMEOUT")
    options = dict(connection.settings_dict.get("OPTIONS") or {})
    options.update(_bounded_options(connection.vendor, seconds))
    connection.settings_dict = {**connection.settings_dict, "OPTIONS": options}


def _bounded_options(vendor: str, seconds: float) -> dict[str, Any]:
    whole = max(1, round(seconds))
    if vendor == "postgresql":
        # connect_timeout: a connect to a hung server gives up; keepalives: a dead peer is
        # noticed. Statement and lock timeouts: in each batch (_limit_statements).
        return {
            "connect_timeout": whole,
            "keepalives": 1,
            "keepalives_idle": whole,
            "keepalives_interval": whole,
            "keepalives_count": 3,
        }
    if vendor == "mysql":
        return {
            "connect_timeout": whole,
            # Client-side socket timeouts: they also hold for a frozen server.
            "read_timeout": whole * 3,
            "write_timeout": whole * 3,
        }
    if vendor == "sqlite":
        return {"timeout": seconds}
    return {}


_writer: Writer | None = None
_writer_lock = threading.Lock()
#: This process's id, as :func:`_after_fork` keeps it (``os.getpid()`` is a system call).
_pid = os.getpid()


def writer() -> Writer:
    """This process's writer, created on first use (again in a forked child)."""
    current = _writer
    if current is not None and current.pid == _pid:
        return current
    return _first_writer()


def _first_writer() -> Writer:
    """The writer :func:`writer` found missing, unless another thread made it meanwhile."""
    global _writer
    with _writer_lock:
        if _writer is None or _writer.pid != os.getpid():
            _writer = Writer()
        return _writer


def _after_fork() -> None:
    """A forked child (gunicorn --preload) starts with no writer: the parent's threads are
    gone and its lock may be held; the next submit creates one."""
    global _writer, _writer_lock, _ledger, _known, _pid
    _pid = os.getpid()
    _writer = None
    _known = {}  # its lock may be held
    _writer_lock = threading.Lock()
    _ledger = _Ledger()  # the parent's counts (and its queued records) are not the child's


def shutdown(timeout: float | None = None) -> None:
    """Flush this process's queue (``RECORDER_SHUTDOWN_TIMEOUT`` seconds at most)."""
    current = _writer
    if current is None or current.pid != os.getpid():
        return
    seconds = conf.get("RECORDER_SHUTDOWN_TIMEOUT") if timeout is None else timeout
    try:
        current.shutdown(seconds)
    except Exception:  # pragma: no cover - at exit, nothing else to do
        logger.exception("counterbalance_errors: flushing the recorder at exit failed")


os.register_at_fork(after_in_child=_after_fork)
atexit.register(shutdown)
