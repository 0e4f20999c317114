"""Many threads raising the same error at once, against the real PostgreSQL or MariaDB server:
the occurrence count is exact, every occurrence has its row, and flood control keeps exactly
FLOOD_LIMIT full records. (SQLite serialises writers; these tests need a server.)"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from counterbalance_errors.models import ErrorGroup, ErrorLog
from tests.support.errorlog_helpers import hash_of, needs_server_database

pytestmark = [needs_server_database, pytest.mark.django_db(transaction=True)]

THREADS = 16


def hammer(path: str, threads: int = THREADS) -> list[str]:
    """``threads`` clients request ``path`` at the same instant; their logging hashes."""
    barrier = threading.Barrier(threads)
    hashes: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            response = client.get(path)
            with lock:
                hashes.append(hash_of(response))
        except BaseException as exc:  # reported in the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures, failures
    assert len(hashes) == threads
    return hashes


def test_concurrent_first_occurrences_count_exactly(caplog: pytest.LogCaptureFixture) -> None:
    hashes = hammer("/plain/raise/unhandled/")
    group = ErrorGroup.objects.get()
    assert group.occurrence_count == THREADS
    assert set(ErrorLog.objects.values_list("logging_hash", flat=True)) == set(hashes)
    assert ErrorLog.objects.filter(group=group).count() == THREADS
    # Nothing fell back to the log: no deadlock, no lost write.
    assert not [r for r in caplog.records if r.name == "counterbalance_errors"]


def test_concurrent_occurrences_of_an_existing_group(client: Client) -> None:
    client.get("/drf/raise/unhandled/")
    hammer("/drf/raise/unhandled/")
    hammer("/drf/raise/unhandled/")
    assert ErrorGroup.objects.get().occurrence_count == 2 * THREADS + 1
    assert ErrorLog.objects.count() == 2 * THREADS + 1


def test_concurrent_flood_keeps_exactly_the_limit(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 5, "FLOOD_WINDOW": 3600}
    hashes = hammer("/plain/raise/unhandled/")
    assert ErrorGroup.objects.get().occurrence_count == THREADS
    assert ErrorLog.objects.filter(compact=False).count() == 5
    assert ErrorLog.objects.filter(compact=True).count() == THREADS - 5
    # Every hash, compact or not, resolves to the group.
    assert ErrorLog.objects.filter(logging_hash__in=hashes, group__isnull=False).count() == THREADS
