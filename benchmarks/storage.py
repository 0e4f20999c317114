"""The error storms: what 10,000 logged 500s store (rows, bytes, tracebacks) and how long.

    python -m benchmarks.storage [--db postgres|sqlite] [--errors 10000]   (make bench-storm)

Not a timing comparison (``make bench`` has those): it counts what reaches the database.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Any

#: (kind, flood control on, label) of every storm row.
STORMS: list[tuple[str, bool, str]] = [
    ("identical", True, "identical errors, flood control on (default)"),
    ("identical", False, "identical errors, flood control off"),
    ("distinct", True, "distinct errors"),
]


def flood_settings(flood: bool) -> dict[str, Any]:
    """COUNTERBALANCE_ERRORS keys for a storm with flood control on (defaults) or off."""
    return {} if flood else {"FLOOD_LIMIT": None}


def _models() -> list[Any]:
    from django.apps import apps

    return list(apps.get_app_config("counterbalance_errors").get_models())


def _flush() -> None:
    from django.core.management.color import no_style
    from django.db import connection

    tables = [model._meta.db_table for model in _models()]
    statements = connection.ops.sql_flush(
        no_style(), tables, reset_sequences=True, allow_cascade=True
    )
    connection.ops.execute_sql_flush(statements)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")


def _logical_bytes() -> int:
    """Bytes of every stored value (the data, without page or index overhead)."""
    from django.db import connection

    total = 0
    with connection.cursor() as cursor:
        for model in _models():
            table = connection.ops.quote_name(model._meta.db_table)
            for field in model._meta.concrete_fields:
                column = connection.ops.quote_name(field.column)
                if connection.vendor == "postgresql":
                    expression = f"octet_length(CAST({column} AS text))"
                else:
                    expression = f"length(CAST({column} AS BLOB))"
                cursor.execute(f"SELECT COALESCE(SUM({expression}), 0) FROM {table}")
                total += int(cursor.fetchone()[0])
    return total


def _tracebacks() -> tuple[int, int]:
    """(stored tracebacks, their bytes) over every table that has a traceback column."""
    from django.db.models import Sum
    from django.db.models.functions import Length

    count = total = 0
    for model in _models():
        if "traceback" not in {field.name for field in model._meta.concrete_fields}:
            continue
        stored = model._default_manager.exclude(traceback="")
        count += stored.count()
        total += stored.aggregate(n=Sum(Length("traceback")))["n"] or 0
    return count, total


def _physical_bytes() -> int | None:
    """Bytes on disk of the app's tables and their indexes."""
    from django.db import connection

    tables = [model._meta.db_table for model in _models()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return sum(_pg_size(cursor, table) for table in tables)
        if connection.vendor == "sqlite":
            with contextlib.suppress(Exception):
                placeholders = ", ".join(["%s"] * len(tables))
                cursor.execute(
                    "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ("
                    f"SELECT name FROM sqlite_master WHERE tbl_name IN ({placeholders}))",
                    tables,
                )
                return int(cursor.fetchone()[0])
    return None


def _pg_size(cursor: Any, table: str) -> int:
    cursor.execute("SELECT pg_total_relation_size(%s)", [table])
    return int(cursor.fetchone()[0])


def storm(application: Any, kind: str, n: int, settings: dict[str, Any]) -> dict[str, Any]:
    """``n`` logged 500s through the whole stack: one error repeated, or ``n`` distinct ones."""
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    from benchmarks.micro import environ_factory, flush_recorder, request

    _flush()
    before = _physical_bytes()
    if kind == "identical":
        make = environ_factory("GET", "/storm/0/", None)
        environs = [make] * n
    else:
        environs = [environ_factory("GET", f"/storm/{i + 1}/", None) for i in range(n)]
    merged = {**getattr(django_settings, "COUNTERBALANCE_ERRORS", {}), **settings}
    with override_settings(COUNTERBALANCE_ERRORS=merged):
        gc.collect()
        started = time.perf_counter()
        statuses = {request(application, make_environ)[0] for make_environ in environs}
        flush_recorder(120)  # storage included: a background recorder's batches too
        seconds = time.perf_counter() - started
    if statuses != {500}:
        raise RuntimeError(f"the storm's errors answered {statuses}, not 500")
    after = _physical_bytes()
    tracebacks, traceback_bytes = _tracebacks()
    return {
        "errors": n,
        "seconds": seconds,
        "rows": {model.__name__: model._default_manager.count() for model in _models()},
        "logical_bytes": _logical_bytes(),
        "physical_bytes": None if before is None or after is None else after - before,
        "tracebacks": tracebacks,
        "traceback_bytes": traceback_bytes,
    }


def _row(label: str, answer: dict[str, Any]) -> list[str]:
    per = answer["errors"]
    rows = ", ".join(f"{name} {count:,}" for name, count in sorted(answer["rows"].items()))
    physical = answer["physical_bytes"]
    return [
        label,
        f"{per:,}",
        f"{answer['seconds'] / per * 1e3:.2f} ms",
        rows,
        f"{answer['logical_bytes'] / per:,.0f}",
        "n/a" if physical is None else f"{physical / per:,.0f}",
        f"{answer['tracebacks']:,} ({answer['traceback_bytes'] / per:,.0f})",
    ]


def main() -> None:
    import argparse
    import tempfile
    from pathlib import Path

    from benchmarks import micro, run

    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--errors", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cb-storm-") as tmp:
        env = run.environment(Path(tmp))
        with run.databases(env, args.db == "postgres"):
            application = micro.configure(
                "app", args.db, env["CB_BENCH_SQLITE_PATH"], env["CB_BENCH_PG_NAME"]
            )
            body = [
                _row(
                    f"{label}, {args.db}",
                    storm(application, kind, args.errors, flood_settings(flood)),
                )
                for kind, flood, label in STORMS
            ]
            from django.db import connections

            connections.close_all()
    header = ["error storm", "errors", "time/error", "rows stored", "bytes/error"]
    header += ["on disk/error", "tracebacks stored (bytes/error)"]
    print(run.table(header, body))


if __name__ == "__main__":
    main()
