"""The background recorder: the real writer thread, its batches, bounds and shutdown.

The rest of the suite runs the default mode under Django's test environment (written on the
caller's thread); these tests turn the thread on (``RECORDER_THREAD_IN_TESTS``) and are
transactional, since the thread has its own connection.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from counterbalance_errors import recorder, signals
from counterbalance_errors.capture import Record
from counterbalance_errors.models import ErrorGroup, ErrorGroupHour, ErrorGroupUser, ErrorLog
from counterbalance_errors.testing import wait_for_recorder
from tests.errorlog_helpers import VENDOR, fallback_lines, hash_of, needs_server_database

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

    def build(self) -> Record:
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
            COUNTERBALANCE_ERRORS={{"RECORDER_LINGER": 5}},
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
