"""What the logged-error rows store: the storm runs and the "was it stored?" check.

Runs inside a worker (``benchmarks/worker.py``) of the ``app`` variant.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.worker import Worker

#: (kind, flood control on, label) of every storm row.
STORMS: list[tuple[str, bool, str]] = [
    ("identical", True, "identical errors, flood control on (default)"),
    ("identical", False, "identical errors, flood control off"),
    ("distinct", True, "distinct errors"),
]


def flood_settings(flood: bool) -> dict[str, Any]:
    """COUNTERBALANCE_ERRORS keys for a storm with flood control on (defaults) or off."""
    return {} if flood else {"FLOOD_LIMIT": None}


def hash_of(sample: dict[str, Any]) -> str:
    return str(json.loads(sample["body"])["logging_hash"])


def stored(logging_hash: str) -> dict[str, Any]:
    from counterbalance_errors import recorder
    from counterbalance_errors.models import ErrorLog

    recorder.flush(30)  # the background recorder writes after the response

    return {"stored": ErrorLog.objects.filter(logging_hash=logging_hash).exists()}


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


def commit_floor(n: int) -> dict[str, Any]:
    """Seconds for one committed single-row INSERT on this database: the disk's share."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS cb_bench_probe (x integer)")
    started = time.perf_counter()
    for _ in range(n):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO cb_bench_probe (x) VALUES (1)")
    return {"seconds": (time.perf_counter() - started) / n}


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


def storm(worker: Worker, kind: str, n: int, settings: dict[str, Any]) -> dict[str, Any]:
    """``n`` logged 500s through the whole stack: one error repeated, or ``n`` distinct ones."""
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    from benchmarks.worker import _environ_factory

    _flush()
    before = _physical_bytes()
    if kind == "identical":
        make = _environ_factory("GET", "/storm/0/", None)
        environs = [make] * n
    else:
        environs = [_environ_factory("GET", f"/storm/{i + 1}/", None) for i in range(n)]
    merged = {**getattr(django_settings, "COUNTERBALANCE_ERRORS", {}), **settings}
    with override_settings(COUNTERBALANCE_ERRORS=merged):
        gc.collect()
        started = time.perf_counter()
        for make_environ in environs:
            worker._request(make_environ())
        from counterbalance_errors import recorder

        recorder.flush(120)  # storage included: the background recorder's batches too
        seconds = time.perf_counter() - started
    if not worker.last_status.startswith("500"):
        raise RuntimeError(f"the storm's errors answered {worker.last_status}, not 500")
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
