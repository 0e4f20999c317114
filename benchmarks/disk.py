"""Bytes on disk per repeated occurrence of one error, on PostgreSQL (docs/logged-errors.md).

    python -m benchmarks.disk [--count 20000] [--database cb_disk]

Creates the database (dropped again at the end unless ``--keep``) on 127.0.0.1:5432, migrates
it, sends ``--count`` identical logged 500s with a 2 KB JSON body through Django's test client
(the benchmark project, ``app`` variant, default settings: the background recorder, flood
control on), waits for the recorder, runs ``VACUUM`` and measures ``pg_total_relation_size``
(heap, indexes and TOAST) of every table of the app. Bytes per repeated occurrence =
(size after ``count`` occurrences - size after the first) / (``count`` - 1). It then checks
that every hash handed out resolves to a row, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

TABLES = (
    "counterbalance_errors_errorlog",
    "counterbalance_errors_errorgroup",
    "counterbalance_errors_errorgrouphour",
    "counterbalance_errors_errorgroupuser",
)


def _admin(database: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", user=os.environ.get("CB_PG_USER", "postgres"), dbname="postgres"
    ) as connection:
        connection.autocommit = True
        connection.execute(sql.format(name=database))


def _sizes() -> dict[str, int]:
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = int(cursor.fetchone()[0])
    return sizes


def _breakdown() -> dict[str, int]:
    """Bytes of every heap (with TOAST) and index of the app's tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) - pg_indexes_size(c.oid) "
            "FROM pg_class c WHERE c.relname = ANY(%s) "
            "UNION ALL SELECT i.indexname, pg_relation_size(i.indexname::regclass) "
            "FROM pg_indexes i WHERE i.tablename = ANY(%s)",
            [list(TABLES), list(TABLES)],
        )
        return {name: int(size) for name, size in cursor.fetchall()}


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is not None:
                cursor.execute(f"VACUUM {table}")


def _hot() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
            ["counterbalance_errors_errorgroup"],
        )
        row = cursor.fetchone()
    return {"updates": int(row[0]), "hot_updates": int(row[1])}


def _wait_for_recorder() -> None:
    from counterbalance_errors import recorder

    flush = getattr(recorder, "flush", None)  # absent before the background recorder
    if flush is not None and not flush(120):
        raise SystemExit("the recorder did not finish within 120 s")


def run(count: int, body_bytes: int) -> dict[str, Any]:
    import logging

    from django.core.management import call_command
    from django.test import Client

    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    call_command("migrate", verbosity=0)
    client = Client(raise_request_exception=False)
    body = json.dumps({"note": "x" * (body_bytes - 12)})
    hashes: list[str] = []

    def send(n: int) -> None:
        for _ in range(n):
            response = client.post("/plain/boom/", body, content_type="application/json")
            hashes.append(json.loads(response.content)["logging_hash"])

    started = time.perf_counter()
    send(1)
    _wait_for_recorder()
    time.sleep(1)  # let the stats collector see the first update
    _vacuum()
    first = _sizes()
    send(count - 1)
    _wait_for_recorder()
    elapsed = time.perf_counter() - started
    time.sleep(1)
    hot = _hot()
    _vacuum()
    after = _sizes()

    from counterbalance_errors.models import ErrorGroup, ErrorLog

    resolved = 0
    for i in range(0, len(hashes), 1000):
        resolved += ErrorLog.objects.filter(logging_hash__in=hashes[i : i + 1000]).count()
    group = ErrorGroup.objects.get()
    grown = sum(after.values()) - sum(first.values())
    return {
        "count": count,
        "body_bytes": len(body),
        "seconds": round(elapsed, 1),
        "bytes_after_first": first,
        "bytes_after_all": after,
        "bytes_per_repeated_occurrence": round(grown / (count - 1), 1),
        "full_entries": ErrorLog.objects.filter(compact=False).count(),
        "compact_entries": ErrorLog.objects.filter(compact=True).count(),
        "occurrence_count": group.occurrence_count,
        "hashes_resolved": resolved,
        "hashes_handed_out": len(hashes),
        "group_updates": hot,
        "breakdown_after_all": _breakdown(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--body-bytes", type=int, default=2048)
    parser.add_argument("--database", default="cb_disk")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args(argv)
    os.environ["CB_BENCH_DB"] = "postgres"
    os.environ["CB_BENCH_PG_NAME"] = args.database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    _admin(args.database, "DROP DATABASE IF EXISTS {name}")
    _admin(args.database, "CREATE DATABASE {name}")
    try:
        import django

        django.setup()
        result = run(args.count, args.body_bytes)
        from django.db import connections

        from counterbalance_errors import recorder

        getattr(recorder, "shutdown", lambda: None)()
        connections.close_all()
    finally:
        if not args.keep:
            _admin(args.database, "DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(json.dumps(result))
    return 0 if result["hashes_resolved"] == result["hashes_handed_out"] else 1


if __name__ == "__main__":
    sys.exit(main())
