"""The triage desk on 200,000 entries in 2,000 groups (PostgreSQL): every statement of the
group list, a group page and each search uses an index, and none counts without a bound.

PostgreSQL only: the plans are read from ``EXPLAIN (FORMAT JSON)`` and the rows are made with
``generate_series``. Run it with::

    CB_DATABASE=postgres CB_TEST_DB_NAME=test_<you> .venv/bin/python -m pytest -m database -s \\
        tests/test_triage_database.py

``-s`` prints each page's statements with their execution time (``EXPLAIN ANALYZE``), the
figures quoted in docs/triage.md; the times are reported, not asserted (they depend on the
machine), the plans and statement counts are asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from counterbalance_errors.models import ErrorGroup, ErrorLog
from tests.support.errorlog_helpers import VENDOR
from tests.support.triage_data import staff

pytestmark = [
    pytest.mark.database,
    pytest.mark.skipif(VENDOR != "postgresql", reason="PostgreSQL plans (CB_DATABASE=postgres)"),
]

GROUPS = 2_000
ENTRIES = 200_000
ENTRY_TABLE = "counterbalance_errors_errorlog"
URL = "/admin/counterbalance_errors/"

_FILL = f"""
INSERT INTO counterbalance_errors_errorgroup
    (fingerprint, exception_class, code, status, title, first_seen, last_seen,
     occurrence_count, window_start, window_count, state, regressed_hash)
SELECT md5('fp' || g) || md5('fp2' || g), 'ValueError',
       (ARRAY['InternalError', 'Conflict', 'InvalidArgument'])[1 + g % 3],
       (ARRAY[500, 409, 400])[1 + g % 3], 'ValueError: kind ' || g,
       now() - interval '40 days', now() - g * interval '1 minute',
       {ENTRIES // GROUPS}, now(), 1,
       (ARRAY['unresolved', 'resolved', 'ignored'])[1 + g % 3], ''
FROM generate_series(1, {GROUPS}) AS g;

INSERT INTO counterbalance_errors_errorlog
    (logging_hash, group_id, created, status, code, message, exception_class,
     exception_message, traceback, method, path, user_id, compute_node, request_id,
     trace_id, sentry_event_id, compact)
SELECT substr(md5('h' || i) || md5('h2' || i), 1, 40), first.id + i % {GROUPS},
       now() - (i % 43200) * interval '1 minute', 500, 'InternalError',
       'An internal error occurred.', 'ValueError', 'boom ' || i,
       CASE WHEN i % 10 = 0 THEN 'Traceback (most recent call last):' || chr(10)
            || '  File "/srv/app/views.py", line 3, in view' || chr(10) || 'ValueError: boom'
            ELSE '' END,
       'GET', '/api/items/' || (i % 5000) || '/',
       CASE WHEN i % 3 = 0 THEN 'user-' || (i % 7000) ELSE '' END,
       'node-' || (i % 4), md5('r' || i),
       CASE WHEN i % 2 = 0 THEN md5('t' || i) ELSE '' END, '', i % 10 >= 5
FROM generate_series(1, {ENTRIES}) AS i,
     (SELECT min(id) AS id FROM counterbalance_errors_errorgroup) AS first;

INSERT INTO counterbalance_errors_errorgrouphour (group_id, hour, count)
SELECT g.id, date_trunc('hour', now()) - h * interval '1 hour', 1 + (g.id + h) % 7
FROM counterbalance_errors_errorgroup AS g, generate_series(0, 719, 7) AS h;

INSERT INTO counterbalance_errors_errorgroupuser (group_id, user_id)
SELECT g.id, 'user-' || u
FROM counterbalance_errors_errorgroup AS g, generate_series(1, 25) AS u;

ANALYZE;
"""

_TABLES = (
    "counterbalance_errors_errorgroupuser, counterbalance_errors_errorgrouphour, "
    "counterbalance_errors_errorlog, counterbalance_errors_errorgroup"
)


@pytest.fixture(scope="module")
def filled(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The rows, committed once for the module (and removed after it)."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY")
            cursor.execute(_FILL)
        yield
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY")


@pytest.fixture
def viewer(filled: None, django_user_model: Any) -> Client:
    return staff(django_user_model, "viewer", "view_errorlog", "view_errorgroup")


def _relations(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield plan["Node Type"], plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from _relations(child)


def analyse(queries: CaptureQueriesContext) -> list[tuple[float, list[tuple[str, str]], str]]:
    """Each statement on the entry or group tables: execution ms, plan nodes, SQL."""
    found = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            start = sql.lstrip("( ").upper()  # a UNION's parts are parenthesised
            if "counterbalance_errors_" not in sql or not start.startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            [result] = cursor.fetchone()
            explained = result if isinstance(result, list) else json.loads(result)
            found.append(
                (
                    explained[0]["Execution Time"],
                    list(_relations(explained[0]["Plan"])),
                    sql,
                )
            )
    return found


def check(name: str, queries: CaptureQueriesContext, most: int) -> None:
    """No sequential scan of the entries, no unbounded COUNT over them, at most ``most``
    statements on the app's tables; prints the times for docs/triage.md."""
    statements = analyse(queries)
    assert 0 < len(statements) <= most, [sql for _, _, sql in statements]
    total = 0.0
    for milliseconds, nodes, sql in statements:
        assert ("Seq Scan", ENTRY_TABLE) not in nodes, sql
        upper = sql.upper()
        if ENTRY_TABLE.upper() in upper and "COUNT(" in upper:
            assert "LIMIT" in upper, sql
        total += milliseconds
    print(f"\n{name}: {len(statements)} statements, {total:.1f} ms at the database")
    for milliseconds, _, sql in statements:
        print(f"  {milliseconds:7.2f} ms  {sql[:110]}")


def test_the_data_is_there_and_a_scan_would_be_seen(filled: None) -> None:
    assert ErrorLog.objects.count() == ENTRIES
    assert ErrorGroup.objects.count() == GROUPS
    with CaptureQueriesContext(connection) as queries:
        list(ErrorLog.objects.filter(exception_message="boom 7").values_list("pk"))
    [(_, nodes, _)] = analyse(queries)
    assert ("Seq Scan", ENTRY_TABLE) in nodes  # the check below can fail


def test_the_group_list(viewer: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{URL}errorgroup/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100
    check("group list", queries, most=12)


def test_a_group_page(viewer: Client) -> None:
    group = ErrorGroup.objects.order_by("-last_seen").first()
    assert group is not None
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{URL}errorgroup/{group.pk}/change/")
    assert response.status_code == 200
    assert len(response.context["triage"]["occurrences"]) == 10
    check("group page", queries, most=8)


def test_a_groups_entries(viewer: Client) -> None:
    group = ErrorGroup.objects.order_by("-last_seen").first()
    assert group is not None
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{URL}errorlog/", {"group__id__exact": group.pk})
    assert response.status_code == 200
    assert response.context["cl"].result_count == ENTRIES // GROUPS
    check("a group's entries", queries, most=10)


@pytest.mark.parametrize(
    ("name", "term", "found"),
    [
        ("search: path prefix", "/api/items/4242/", 40),
        ("search: request id", "md5:r77", 1),
        ("search: user id", "user:user-42", 10),
        ("search: trace id", "md5:t78", 1),
        ("search: no match", "nothing-of-that-name", 0),
    ],
)
def test_each_search(viewer: Client, name: str, term: str, found: int) -> None:
    if term.startswith("md5:"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT md5(%s)", [term[4:]])
            term = cursor.fetchone()[0]
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{URL}errorlog/", {"q": term})
    assert response.status_code == 200
    assert response.context["cl"].result_count == found
    check(name, queries, most=10)


def test_search_by_hash_goes_straight_to_the_entry(viewer: Client) -> None:
    entry = ErrorLog.objects.order_by("pk").only("pk", "logging_hash").first()
    assert entry is not None
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{URL}errorlog/", {"q": entry.logging_hash.upper()})
    assert response["Location"] == f"{URL}errorlog/{entry.pk}/change/"
    check("search: hash", queries, most=3)
