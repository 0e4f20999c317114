"""The background recorder: the real writer thread, its batches, bounds and shutdown.

The rest of the suite runs the default mode under Django's test environment (written on the
caller's thread); these tests turn the thread on (``RECORDER_THREAD_IN_TESTS``) and are
transactional, since the thread has its own connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from counterbalance_errors import capture, catalog, context, logs, recorder, signals
from counterbalance_errors.capture import Record
from counterbalance_errors.models import ErrorGroup, ErrorGroupHour, ErrorGroupUser, ErrorLog
from counterbalance_errors.testing import wait_for_recorder
from tests.support.errorlog_helpers import (
    VENDOR,
    database_down,
    fallback_lines,
    hash_of,
    needs_server_database,
)

pytestmark = pytest.mark.django_db(transaction=True)

FP = "a" * 64


@dataclass
class Item:
    """A pending record for :func:`recorder.submit`; ``fail`` makes its build raise."""

    record: Record
    fail: bool = False

    @property
    def logging_hash(self) -> str:
        return self.record.logging_hash

    def build(self, *, defer_traceback: bool = False) -> Record:
        if self.fail:
            raise ValueError("cannot format this one")
        return self.record

    def bare(self) -> Record:
        return Record(self.record.logging_hash, self.record.created, 500, "InternalError", "")


def item(fingerprint: str = FP, *, user_id: str = "", fail: bool = False) -> Item:
    record = Record(
        logging_hash=secrets.token_hex(20),
        created=timezone.now(),
        status=500,
        code="InternalError",
        fingerprint=fingerprint,
        exception_class="RuntimeError",
        method="GET",
        path="/boom/",
        user_id=user_id,
    )
    return Item(record, fail)


@pytest.fixture(autouse=True)
def thread_on(settings: Any) -> Iterator[None]:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_THREAD_IN_TESTS": True, "RECORDER_LINGER": 0.01}
    yield
    recorder.shutdown(10)
    recorder._writer = None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def idle_writer(clock: Clock | None = None) -> recorder.Writer:
    """This process's writer, without its threads: the test runs its steps."""
    writer = recorder.Writer(start=False, **({"clock": clock} if clock else {}))
    recorder._writer = writer
    return writer


def written_by() -> list[str]:
    names: list[str] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        names.append(threading.current_thread().name)

    signals.error_group_created.connect(receiver, weak=False, dispatch_uid="tests.written_by")
    return names


@pytest.fixture
def writers_thread() -> Iterator[list[str]]:
    names = written_by()
    yield names
    signals.error_group_created.disconnect(dispatch_uid="tests.written_by")


def test_a_response_is_stored_by_the_writer_thread(
    client: Client, writers_thread: list[str]
) -> None:
    response = client.get("/plain/raise/unhandled/")
    wait_for_recorder()
    row = ErrorLog.objects.get(logging_hash=hash_of(response))
    assert row.exception_class == "KeyError"
    assert writers_thread == ["counterbalance_errors-writer"]


def test_sync_mode_writes_on_the_calling_thread(
    client: Client, settings: Any, writers_thread: list[str]
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER": "sync", "RECORDER_THREAD_IN_TESTS": True}
    response = client.get("/plain/raise/unhandled/")
    assert ErrorLog.objects.filter(logging_hash=hash_of(response)).exists()  # no waiting
    assert writers_thread == [threading.current_thread().name]
    assert recorder._writer is None


def test_under_tests_the_default_mode_writes_on_the_calling_thread(
    client: Client, settings: Any, writers_thread: list[str]
) -> None:
    settings.COUNTERBALANCE_ERRORS = {}  # "background", RECORDER_THREAD_IN_TESTS off
    response = client.get("/plain/raise/unhandled/")
    assert ErrorLog.objects.filter(logging_hash=hash_of(response)).exists()
    assert writers_thread == [threading.current_thread().name]
    assert recorder._writer is None


def test_a_full_batch_is_taken_at_once(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_BATCH_SIZE": 2, "RECORDER_LINGER": 60}
    writer = idle_writer()
    items = [item() for _ in range(3)]
    for one in items:
        writer.put(one)
    batch = writer.take()  # no lingering: the batch is full
    assert batch is not None
    assert [i.item for i in batch.items] == items[:2]
    assert [i.item for i in writer.queue] == items[2:]


def test_one_batch_is_one_update_per_group_and_one_insert() -> None:
    writer = idle_writer()
    for fp in (FP, FP, FP, "b" * 64, FP):
        writer.put(item(fp))
    batch = writer.take()
    assert batch is not None
    with CaptureQueriesContext(connections["default"]) as queries:
        writer.store(batch, "default")
    sql = [q["sql"] for q in queries]
    updated = [s.split("SET")[0] for s in sql if s.startswith("UPDATE")]
    group_updates = [t for t in updated if "errorgroup" in t and "errorgrouphour" not in t]
    inserts = [s for s in sql if s.startswith("INSERT") and "errorlog" in s.split("(")[0]]
    assert len(group_updates) == 2
    assert len(inserts) == 1
    counts = dict(ErrorGroup.objects.values_list("fingerprint", "occurrence_count"))
    assert counts == {FP: 4, "b" * 64: 1}
    assert ErrorLog.objects.count() == 5


def test_counts_are_exact_across_threads() -> None:
    def submit_many() -> None:
        for n in range(25):
            recorder.submit(item(user_id=str(n % 5)))

    threads = [threading.Thread(target=submit_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for_recorder(30)
    group = ErrorGroup.objects.get()
    assert group.occurrence_count == ErrorLog.objects.count() == 200
    # One bucket, or two if the run crossed an hour.
    assert sum(ErrorGroupHour.objects.values_list("count", flat=True)) == 200
    assert ErrorGroupUser.objects.filter(group=group).count() == 5


def test_a_full_queue_sends_the_record_to_the_fallback_line(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_THREAD_IN_TESTS": True, "RECORDER_QUEUE_SIZE": 2}
    writer = idle_writer()
    items = [item() for _ in range(3)]
    before = recorder.stats().get("fallback_full", 0)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        for one in items:
            recorder.submit(one)
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == items[2].logging_hash
    assert "queue is full" in line["reason"]
    assert recorder.stats()["fallback_full"] == before + 1
    assert len(writer.queue) == 2


def test_a_record_submitted_while_the_writer_stops_is_an_exit_fallback_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = idle_writer()
    writer.shutdown(0)
    one = item()
    before = recorder.stats().get("fallback_shutdown", 0)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        recorder.submit(one)
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == one.logging_hash
    assert "exited" in line["reason"]
    assert recorder.stats()["fallback_shutdown"] == before + 1
    assert not writer.queue


def test_past_the_deadline_queued_and_taken_records_go_to_the_fallback_line_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    writer = idle_writer(clock)
    taken, queued = item(), item()
    writer.put(taken)
    batch = writer.take()  # the writer holds it, as when the database hangs
    assert batch is not None
    writer.put(queued)
    clock.now += 29
    assert writer.expire() == 0
    clock.now += 2  # past RECORDER_DEADLINE (30 s)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        assert writer.expire() == 2
        writer.store(batch, "default")  # the database answers again: rolled back, not stored
    lines = fallback_lines(caplog)
    assert sorted(line["logging_hash"] for line in lines) == sorted(
        [taken.logging_hash, queued.logging_hash]
    )
    assert all("RECORDER_DEADLINE" in line["reason"] for line in lines)
    assert not ErrorLog.objects.exists()


def test_a_batch_whose_commit_is_sent_is_never_abandoned() -> None:
    clock = Clock()
    writer = idle_writer(clock)
    writer.put(item())
    batch = writer.take()
    assert batch is not None

    def late_commit() -> None:
        writer._committing(batch)
        clock.now += 60
        assert writer.expire() == 0  # the COMMIT is on its way: the watchdog leaves it

    recorder.write_batch(batch.records, "default", late_commit)
    assert ErrorLog.objects.filter(logging_hash=batch.records[0].logging_hash).exists()


def test_a_build_that_raises_stores_the_bare_record() -> None:
    one = item(fail=True)
    recorder.submit(one)
    wait_for_recorder()
    row = ErrorLog.objects.get(logging_hash=one.logging_hash)
    assert (row.status, row.code, row.path) == (500, "InternalError", "")


def test_created_and_regressed_are_sent_once_per_group_and_event() -> None:
    events: list[tuple[str, str]] = []

    def created(sender: Any, group: ErrorGroup, logging_hash: str, **kwargs: Any) -> None:
        events.append(("created", logging_hash))

    def regressed(sender: Any, group: ErrorGroup, logging_hash: str, **kwargs: Any) -> None:
        events.append(("regressed", logging_hash))

    signals.error_group_created.connect(created, weak=False, dispatch_uid="t.created")
    signals.error_group_regressed.connect(regressed, weak=False, dispatch_uid="t.regressed")
    try:
        writer = idle_writer()
        first = [item(), item()]
        for one in first:
            writer.put(one)
        writer.store(writer.take(), "default")  # type: ignore[arg-type]
        ErrorGroup.objects.update(state=ErrorGroup.State.RESOLVED, resolved_at=timezone.now())
        again = [item(), item()]
        for one in again:
            writer.put(one)
        writer.store(writer.take(), "default")  # type: ignore[arg-type]
    finally:
        signals.error_group_created.disconnect(dispatch_uid="t.created")
        signals.error_group_regressed.disconnect(dispatch_uid="t.regressed")
    assert events == [("created", first[0].logging_hash), ("regressed", again[0].logging_hash)]
    group = ErrorGroup.objects.get()
    assert group.state == ErrorGroup.State.UNRESOLVED
    assert group.regressed_hash == again[0].logging_hash
    assert group.occurrence_count == 4


def test_interpreter_exit_flushes_the_queue(tmp_path: Path) -> None:
    database = tmp_path / "exit.sqlite3"
    script = textwrap.dedent(
        f"""
        import django, os
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "counterbalance_errors"],
            DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3",
                                    "NAME": {str(database)!r}}}}},
            USE_TZ=True,
            COUNTERBALANCE_ERRORS={{"RECORDER_LINGER": 600}},  # only the exit ends the linger
        )
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from counterbalance_errors import catalog, capture, context, recorder
        for _ in range(50):
            ctx = context.attach(None, catalog.make("InternalError"))
            recorder.submit(capture.snapshot(None, ctx))
        assert recorder.stats()["submitted"] == 50
        print(recorder.stats().get("stored", 0))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
    )
    assert done.stdout.strip() == "0"  # nothing written yet when the script ended
    import sqlite3

    with sqlite3.connect(database) as db:
        [(count,)] = db.execute("SELECT count(*) FROM counterbalance_errors_errorlog")
    assert count == 50


@needs_server_database
@pytest.mark.database
def test_the_writers_batch_transaction_carries_statement_and_lock_timeouts(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_STATEMENT_TIMEOUT": 2.5}
    connection = connections["default"]
    queries = {
        "postgresql": ["SHOW statement_timeout", "SHOW lock_timeout"],
        "mysql": [
            "SELECT @@session.max_statement_time",
            "SELECT @@session.innodb_lock_wait_timeout",
        ],
    }[VENDOR]
    recorder._thread.bounded = True  # as on the writer thread
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            recorder._limit_statements("default")
            values = []
            for query in queries:
                cursor.execute(query)
                values.append(str(cursor.fetchone()[0]))
    finally:
        recorder._thread.bounded = False
    expected = {"postgresql": ["2500ms", "2500ms"], "mysql": ["2.5", "2"]}[VENDOR]
    assert values == expected


# --- the edges of one batch -------------------------------------------------------------


def is_insert_into(table: str, sql: str) -> bool:
    return sql.startswith("INSERT") and sql.split("(")[0].strip(' `"').endswith(table)


def is_group_update(sql: str) -> bool:
    target = sql.split("SET")[0]
    return sql.startswith("UPDATE") and "errorgroup" in target and "errorgrouphour" not in target


def test_a_group_purged_before_it_is_counted_is_created_again() -> None:
    record = item().record
    purged: list[str] = []

    def purge_once(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_group_update(sql) and not purged:
            purged.append(sql)
            ErrorGroup.objects.filter(fingerprint=FP).delete()  # a purge, just before counting
        return execute(sql, params, many, context)

    with connections["default"].execute_wrapper(purge_once):
        recorder.write_batch([record], "default")
    assert len(purged) == 1
    group = ErrorGroup.objects.get()
    assert group.occurrence_count == 1
    assert ErrorLog.objects.get().group_id == group.pk
    assert list(ErrorGroupHour.objects.values_list("group_id", "count")) == [(group.pk, 1)]


# --- what a process remembers between batches ---------------------------------------------

AT = datetime(2026, 11, 22, 6, 26, tzinfo=UTC)
OTHER = "b" * 64


def at(fingerprint: str = FP, user_id: str = "") -> Record:
    """A record of a fixed time: every batch of a test falls in the same hour bucket."""
    record = item(fingerprint, user_id=user_id).record
    record.created = AT
    return record


def counts() -> dict[str, int]:
    return dict(ErrorGroup.objects.values_list("fingerprint", "occurrence_count"))


def hour_counts() -> dict[str, int]:
    return dict(ErrorGroupHour.objects.values_list("group__fingerprint", "count"))


def test_a_batch_of_remembered_rows_is_only_the_counting_transaction() -> None:
    recorder.write_batch([at(user_id="7")], "default")
    with CaptureQueriesContext(connections["default"]) as queries:
        recorder.write_batch([at(user_id="7"), at(user_id="7")], "default")
    sql = [q["sql"] for q in queries]
    assert not [s for s in sql if s.startswith("SELECT") and "fingerprint" in s]  # no look-up
    assert not [s for s in sql if is_insert_into("errorgrouphour", s)]
    assert not [s for s in sql if is_insert_into("errorgroupuser", s)]
    assert len([s for s in sql if is_group_update(s)]) == 1
    assert counts() == {FP: 3}
    assert hour_counts() == {FP: 3}
    assert list(ErrorGroupUser.objects.values_list("user_id", flat=True)) == ["7"]


def test_a_remembered_group_deleted_meanwhile_is_created_again_and_counted_once() -> None:
    recorder.write_batch([at(user_id="7")], "default")
    ErrorGroup.objects.all().delete()  # the admin's delete: its hours, users and entries go too
    recorder.write_batch([at(user_id="7"), at(user_id="7")], "default")
    assert counts() == {FP: 2}
    assert hour_counts() == {FP: 2}
    assert list(ErrorGroupUser.objects.values_list("user_id", flat=True)) == ["7"]
    assert ErrorLog.objects.filter(group__fingerprint=FP).count() == 2


def test_a_remembered_id_that_is_now_another_groups_is_not_counted_there() -> None:
    recorder.write_batch([at(OTHER)], "default")
    other = ErrorGroup.objects.get()
    recorder._known_of("default").remember(groups={FP: other.pk})  # as after an id was reused
    recorder.write_batch([at(FP)], "default")
    assert counts() == {FP: 1, OTHER: 1}
    assert ErrorGroup.objects.get(fingerprint=FP).pk != other.pk


def test_a_remembered_hour_bucket_that_is_gone_is_created_again() -> None:
    recorder.write_batch([at()], "default")
    ErrorGroupHour.objects.all().delete()
    recorder.write_batch([at(), at()], "default")
    assert counts() == {FP: 3}  # the attempt that met no bucket counted nothing
    assert hour_counts() == {FP: 2}


@pytest.mark.parametrize("callers", [False, True], ids=["own-transaction", "callers-transaction"])
def test_a_group_gone_at_its_update_undoes_the_counts_made_before_it(callers: bool) -> None:
    recorder.write_batch([at(FP), at(OTHER)], "default")  # FP's group has the lower id
    group_updates: list[str] = []

    def purge_other(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_group_update(sql):
            group_updates.append(sql)
            if len(group_updates) == 2:  # OTHER's, after FP's UPDATE and hour bucket
                ErrorGroup.objects.filter(fingerprint=OTHER).delete()
        return execute(sql, params, many, context)

    with contextlib.ExitStack() as stack:
        if callers:
            stack.enter_context(transaction.atomic())
        stack.enter_context(connections["default"].execute_wrapper(purge_other))
        recorder.write_batch([at(FP), at(OTHER)], "default")
    # The delete ran in the batch's transaction: rolled back with FP's first count, so both
    # groups are counted once by the second attempt (committing the first gave FP 3, OTHER 1).
    assert len(group_updates) == 4  # the second attempt counted both again
    assert counts() == {FP: 2, OTHER: 2}
    assert hour_counts() == {FP: 2, OTHER: 2}
    assert ErrorLog.objects.count() == 4


def test_rows_created_inside_a_callers_transaction_are_not_remembered() -> None:
    recorder.write_batch([at()], "default")  # the group and its hour, committed
    with contextlib.suppress(RuntimeError), transaction.atomic():
        recorder.write_batch([at(user_id="7")], "default")  # its user, in a savepoint
        raise RuntimeError("the caller's transaction rolls back")
    recorder.write_batch([at(user_id="7")], "default")
    assert counts() == {FP: 2}
    assert list(ErrorGroupUser.objects.values_list("user_id", flat=True)) == ["7"]


def test_past_its_limit_the_process_forgets_what_it_remembered() -> None:
    known = recorder._known_of("default")
    known.remember(users=[(0, str(n)) for n in range(recorder.KNOWN_LIMIT + 1)])
    recorder.write_batch([at()], "default")
    assert known.groups == {FP: ErrorGroup.objects.get().pk}
    assert len(known.hours) == 1
    assert not known.users


def raised() -> BaseException:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as exc:
        return exc
    raise AssertionError("did not fail")


def test_only_full_entries_and_fallback_lines_format_the_traceback(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 1}
    error = catalog.from_exception(raised())
    records = [recorder.build(capture.snapshot(None, context.attach(None, error))) for _ in "abc"]
    assert [(r.traceback, r.deferred is None) for r in records] == [("", False)] * 3
    recorder.write_batch(records[:2], "default")
    full, compact = ErrorLog.objects.order_by("compact")
    assert full.logging_hash == records[0].logging_hash
    assert full.traceback.endswith("ZeroDivisionError: division by zero\n")
    assert records[0].traceback == full.traceback
    assert (compact.traceback, records[1].traceback) == ("", "")
    assert records[1].deferred is not None  # never formatted
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        logs.fallback(records[2], "not stored")
    [line] = fallback_lines(caplog)
    assert line["traceback"] == full.traceback
    assert "deferred" not in line


def test_no_signal_for_a_group_purged_right_after_the_commit(
    writers_thread: list[str],
) -> None:
    def purge_after_commit() -> None:
        transaction.on_commit(lambda: ErrorGroup.objects.all().delete(), using="default")

    recorder.write_batch([item().record], "default", purge_after_commit)
    assert not ErrorGroup.objects.exists()
    assert writers_thread == []


def test_a_raising_receiver_is_logged_and_the_batch_stays_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def receiver(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    record = item().record
    signals.error_group_created.connect(receiver, weak=False, dispatch_uid="t.raising")
    try:
        with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
            recorder.write_batch([record], "default")
    finally:
        signals.error_group_created.disconnect(dispatch_uid="t.raising")
    [logged] = [r for r in caplog.records if r.name == "counterbalance_errors"]
    assert logged.getMessage() == "counterbalance_errors: a receiver of error_group_created raised"
    assert str(logged.exc_info[1]) == "receiver bug"  # type: ignore[index]
    assert ErrorLog.objects.filter(logging_hash=record.logging_hash).exists()


def test_the_database_lost_after_the_commit_only_skips_the_signals(
    caplog: pytest.LogCaptureFixture, writers_thread: list[str]
) -> None:
    record = item().record
    with contextlib.ExitStack() as down:

        def lose_the_database() -> None:
            transaction.on_commit(lambda: down.enter_context(database_down()), using="default")

        with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
            recorder.write_batch([record], "default", lose_the_database)
    [logged] = [r for r in caplog.records if r.name == "counterbalance_errors"]
    assert logged.getMessage() == "counterbalance_errors: sending the error group signals failed"
    assert writers_thread == []
    assert ErrorLog.objects.filter(logging_hash=record.logging_hash).exists()


# --- the writer's retries, deadline and lost COMMIT answers -------------------------------------


@contextlib.contextmanager
def watching_inserts(on_insert: Any = None) -> Iterator[list[str]]:
    """The ErrorLog INSERTs the default connection sends; ``on_insert`` runs just before each."""
    inserts: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_insert_into("errorlog", sql):
            inserts.append(sql)
            if on_insert is not None:
                on_insert(len(inserts))
        return execute(sql, params, many, context)

    with connections["default"].execute_wrapper(wrapper):
        yield inserts


def store_watched(
    writer: recorder.Writer, batch: recorder.Batch, caplog: pytest.LogCaptureFixture, on_insert: Any
) -> list[str]:
    """``writer.store(batch)`` on the default connection, its log captured; its INSERTs."""
    with (
        caplog.at_level(logging.WARNING, logger="counterbalance_errors"),
        watching_inserts(on_insert) as inserts,
    ):
        writer.store(batch, "default")
    return inserts


def taken(writer: recorder.Writer, one: Item) -> recorder.Batch:
    writer.put(one)
    batch = writer.take()
    assert batch is not None
    return batch


def test_a_failing_batch_is_retried_until_its_deadline_then_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    writer = idle_writer(clock)
    duplicate = item()
    recorder.write_batch([duplicate.record], "default")  # its hash is taken: INSERT fails
    batch = taken(writer, duplicate)
    before = recorder.stats()

    def twenty_seconds(n: int) -> None:
        clock.now += 20  # each attempt: 20 s; RECORDER_DEADLINE is 30 s

    inserts = store_watched(writer, batch, caplog, twenty_seconds)
    assert len(inserts) == 2
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == duplicate.logging_hash
    assert line["reason"].startswith("django.db.utils.IntegrityError: ")
    after = recorder.stats()
    assert after["fallback_error"] == before.get("fallback_error", 0) + 1
    assert after.get("stored", 0) == before.get("stored", 0)
    assert writer.batch is None
    assert ErrorGroup.objects.get().occurrence_count == 1


def test_a_lost_answer_to_a_commit_that_landed_is_counted_as_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = idle_writer(Clock())
    one = item()
    batch = taken(writer, one)
    before = recorder.stats().get("stored", 0)

    def lose_the_answer(n: int) -> None:
        def answer_lost() -> None:
            raise OperationalError("server closed the connection unexpectedly")

        transaction.on_commit(answer_lost, using="default")  # runs once COMMIT succeeded

    inserts = store_watched(writer, batch, caplog, lose_the_answer)
    assert len(inserts) == 1  # looked up, not written again
    assert fallback_lines(caplog) == []
    assert recorder.stats()["stored"] == before + 1
    assert (batch.settled, batch.unknown, writer.batch) == (True, False, None)
    assert ErrorLog.objects.filter(logging_hash=one.logging_hash).count() == 1


def test_a_commit_that_failed_is_looked_up_then_written_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = idle_writer(Clock())
    one = item()
    batch = taken(writer, one)

    def purge_the_group_once(n: int) -> None:
        if n == 1:
            # Its rows now point at no group: a deferred foreign key fails the COMMIT
            # (PostgreSQL, SQLite); MariaDB checks at once and refuses the DELETE.
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {ErrorGroup._meta.db_table} WHERE id = %s",
                    [ErrorGroup.objects.get().pk],
                )

    inserts = store_watched(writer, batch, caplog, purge_the_group_once)
    assert len(inserts) == 2
    assert fallback_lines(caplog) == []
    assert ErrorLog.objects.filter(logging_hash=one.logging_hash).count() == 1
    assert ErrorGroup.objects.get().occurrence_count == 1


@pytest.mark.parametrize("write_fails", [False, True], ids=["commit-next", "insert-fails"])
def test_a_batch_abandoned_by_the_watchdog_mid_write_is_rolled_back(
    caplog: pytest.LogCaptureFixture, write_fails: bool
) -> None:
    clock = Clock()
    writer = idle_writer(clock)
    one = item()
    if write_fails:
        recorder.write_batch([one.record], "default")  # its hash is taken: INSERT fails
    batch = taken(writer, one)

    def the_watchdog_gives_up(n: int) -> None:
        clock.now += 31
        assert writer.expire() == 1

    inserts = store_watched(writer, batch, caplog, the_watchdog_gives_up)
    assert len(inserts) == 1
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == one.logging_hash
    assert "RECORDER_DEADLINE" in line["reason"]
    assert ErrorLog.objects.count() == ErrorGroup.objects.get().occurrence_count == write_fails
    assert writer.batch is None


class Unprintable(Exception):
    def __str__(self) -> str:
        raise TypeError("no message")


def test_an_unprintable_failure_at_exit_still_reaches_the_fallback_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = idle_writer(Clock())
    one = item()
    batch = taken(writer, one)
    writer.stopping = True  # at exit a failed batch is not retried

    def unprintable(n: int) -> None:
        raise Unprintable

    store_watched(writer, batch, caplog, unprintable)
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == one.logging_hash
    assert line["reason"] == "tests.test_recorder_background.Unprintable: [unprintable]"
    assert writer.batch is None


@pytest.mark.parametrize("stopping", [False, True])
def test_a_lost_answer_that_cannot_be_looked_up(stopping: bool) -> None:
    writer = idle_writer(Clock())
    batch = taken(writer, item())
    batch.unknown = True  # what store sets when a COMMIT's answer was lost
    writer.stopping = stopping
    before = recorder.stats().get("unknown", 0)
    with database_down():
        settled = writer._check(batch, "default")
    # At exit its hash is only on the django.request line; else it is looked up again later.
    assert (settled, batch.settled, batch.unknown) == (stopping, stopping, True)
    assert recorder.stats().get("unknown", 0) == before + stopping


def test_exit_sends_a_batch_being_written_to_the_fallback_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = idle_writer()
    one = item()
    taken(writer, one)  # its COMMIT is not sent
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        writer.shutdown(0)
    [line] = fallback_lines(caplog)
    assert line["logging_hash"] == one.logging_hash
    assert line["reason"] == "the process exited before the recorder stored it"


def test_the_writers_connection_options_per_vendor() -> None:
    assert recorder._bounded_options("postgresql", 0.4) == {
        "connect_timeout": 1,
        "keepalives": 1,
        "keepalives_idle": 1,
        "keepalives_interval": 1,
        "keepalives_count": 3,
    }
    assert recorder._bounded_options("mysql", 2.6) == {
        "connect_timeout": 3,
        "read_timeout": 9,
        "write_timeout": 9,
    }
    assert recorder._bounded_options("sqlite", 2.6) == {"timeout": 2.6}
    assert recorder._bounded_options("oracle", 2.6) == {}


def test_a_writer_another_thread_made_meanwhile_is_kept() -> None:
    made = idle_writer()  # by the thread that took the lock first
    assert recorder._first_writer() is made
    assert recorder.writer() is made


def test_a_writer_left_by_the_parent_process_is_replaced() -> None:
    parents = idle_writer()
    parents.pid = -1  # as a child forked without the at-fork hook would find it
    mine = recorder.writer()
    assert mine is not parents
    assert mine.pid == os.getpid()


def test_a_forked_child_starts_with_no_writer_and_no_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("_writer", "_writer_lock", "_ledger", "_known"):
        monkeypatch.setattr(recorder, name, getattr(recorder, name))  # put back afterwards
    recorder._ledger = parents = recorder._Ledger()
    parents.add("submitted")  # still queued in the parent
    idle_writer()  # the parent's
    lock = recorder._writer_lock
    recorder._known_of("default").remember(groups={FP: 1})
    recorder._after_fork()  # what os.register_at_fork runs in the child
    assert recorder._writer is None
    assert recorder._known == {}
    assert recorder.stats() == {}
    assert recorder._writer_lock is not lock
    assert parents.counts == {"submitted": 1}


# --- waking the writer ---------------------------------------------------------------------------


class Spy:
    """Counts the calls of a condition's notify_all (then calls it)."""

    def __init__(self, condition: threading.Condition) -> None:
        self.calls = 0
        self.notify_all = condition.notify_all
        condition.notify_all = self  # type: ignore[method-assign]

    def __call__(self) -> None:
        self.calls += 1
        self.notify_all()


def test_a_record_wakes_nobody_until_the_batch_is_full(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_BATCH_SIZE": 3, "RECORDER_LINGER": 60}
    writer = idle_writer()
    queue_wakes, ledger_wakes = Spy(writer.lock), Spy(recorder._ledger.condition)
    before = recorder.stats().get("submitted", 0)
    writer.put(item())
    writer.put(item())
    assert (queue_wakes.calls, ledger_wakes.calls) == (0, 0)
    assert recorder.stats()["submitted"] == before + 2
    writer.put(item())  # a full batch: the writer takes it at once
    assert (queue_wakes.calls, ledger_wakes.calls) == (1, 0)


def test_without_linger_every_record_wakes_the_writer(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_LINGER": 0}
    writer = idle_writer()
    wakes = Spy(writer.lock)
    writer.put(item())
    assert wakes.calls == 1


def test_an_idle_writer_takes_a_record_nobody_woke_it_for(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_LINGER": 0.01, "RECORDER_BATCH_SIZE": 100}
    writer = idle_writer()
    batches: list[recorder.Batch | None] = []
    waiting = threading.Thread(target=lambda: batches.append(writer.take()))
    waiting.start()
    one = item()
    writer.put(one)  # no notify: the writer finds it on its own
    waiting.join(30)
    assert [i.item for i in batches[0].items] == [one]  # type: ignore[union-attr]


def test_flush_takes_the_queue_without_waiting_out_the_linger(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_THREAD_IN_TESTS": True, "RECORDER_LINGER": 600}
    first, second = item(), item()
    recorder.submit(first)
    assert recorder.flush(30)  # not 600 s
    recorder.submit(second)
    assert recorder.flush(30)
    stored = ErrorLog.objects.filter(logging_hash__in=[first.logging_hash, second.logging_hash])
    assert stored.count() == 2


def test_a_batch_counts_as_stored_once_the_writer_is_done_with_it() -> None:
    writer = idle_writer()
    batch = taken(writer, item())
    before = recorder.stats().get("stored", 0)
    seen: list[int] = []
    writer.store(batch, "default", lambda: seen.append(recorder.stats().get("stored", 0)))
    assert seen == [before]  # flush() would still be waiting while done() runs
    assert recorder.stats()["stored"] == before + 1


def test_a_request_thread_gives_way_to_a_writer_two_batches_behind(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"RECORDER_BATCH_SIZE": 2, "RECORDER_LINGER": 60}
    writer = idle_writer()
    given: list[int] = []
    monkeypatch.setattr(recorder, "_give_way", lambda: given.append(len(writer.queue)))
    for _ in range(4):
        writer.put(item())
    assert given == []  # at most one batch and a half waiting: the writer keeps up
    writer.put(item())  # two full batches were waiting: the writer is behind
    writer.put(item())
    assert given == [5, 6]
